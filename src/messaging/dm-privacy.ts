import type { EntityManager } from '@mikro-orm/postgresql';
import { DirectMessagesNotAllowed, UserBlocked } from '../domain/errors';

/** How a sender stands with the recipient of a 1:1 DM. */
export interface DirectMessagePair {
  /** Either user blocks the other. */
  blocked: boolean;
  /** Friends, or a shared server where the recipient allows DMs from members. */
  allowed: boolean;
}

/**
 * Discord's DM privacy default, read in one statement: may `senderId` reach `recipientId` in a 1:1 DM?
 * The caller holds both users' relationship locks in shared mode, so an unfriend or a block (which
 * take them exclusively) is ordered before or after this read, never between it and the commit.
 * The shared-server fact locks the two membership rows it relies on FOR SHARE: a concurrent leave,
 * kick, ban (deletes) or a turning-off of the recipient's setting (update) waits for this transaction,
 * and one that committed first is re-checked and no longer counts. Friends skip that part (CASE
 * evaluates in order), so a DM between friends locks no membership row.
 */
export async function directMessagePair(
  tx: EntityManager,
  senderId: string,
  recipientId: string,
): Promise<DirectMessagePair> {
  const [row] = await tx.execute<DirectMessagePair[]>(
    `select coalesce(r."aBlocksB" or r."bBlocksA", false) as blocked,
            case when coalesce(r.status = 'FRIENDS', false) then true
                 else exists (select 1 from "ServerMember" mine
                                join "ServerMember" theirs on theirs."serverId" = mine."serverId"
                               where mine."userId" = ?::bigint and theirs."userId" = ?::bigint
                                 and theirs."allowDirectMessages"
                               limit 1 for share of mine, theirs)
            end as allowed
       from (select least(?::bigint, ?::bigint) as low, greatest(?::bigint, ?::bigint) as high) pair
       left join "Relationship" r on r."userAId" = pair.low and r."userBId" = pair.high`,
    [senderId, recipientId, senderId, recipientId, senderId, recipientId],
  );
  return row;
}

/**
 * A block keeps its own UserBlocked (checked first, as before this rule): the blocked user learns
 * nothing new from it, since a block already refused DMs with that code. Every other refusal is the
 * one DirectMessagesNotAllowed, whichever fact was missing.
 */
export function assertMayDirectMessage(pair: DirectMessagePair): void {
  if (pair.blocked) throw new UserBlocked();
  if (!pair.allowed) throw new DirectMessagesNotAllowed();
}
