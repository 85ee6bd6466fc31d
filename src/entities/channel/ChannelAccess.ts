import type { EntityManager } from '@mikro-orm/postgresql';
import { NotAMember, NotARecipient, NotATextChannel, NotAVoiceChannel, NotFound } from '../../domain/errors';
import { idArg } from '../../domain/identity/ids';
import {
  assertPermittedUnlessTimedOut,
  DM_PERMISSIONS,
  type PermissionName,
  PermissionFlags,
} from '../../domain/permissions';
import { type JsonRow, type MemberFacts, memberFactsSql, sqlFor } from '../server/access-sql';
import { serverAccessFrom, type ServerAccess } from '../server/ServerAccess';
import { mergeRow } from '../../db/rows';
import { Channel } from './Channel';
import { PermissionOverwrite } from './PermissionOverwrite';

/**
 * What one user may do in one channel of any kind: a server channel (roles and overwrites), a thread
 * (its parent's overwrites, the thread rules), or a DM / group DM (recipients only, the fixed DM set).
 * Read in one statement inside the operation's transaction; message, reaction and thread operations ask it
 * before they act.
 */
export class ChannelAccess {
  constructor(
    readonly channel: Channel,
    readonly userId: string,
    readonly permissions: bigint,
    /** The member's server access; null in DMs. */
    readonly server: ServerAccess | null,
    /** A thread's parent channel (with its overwrites); null otherwise. */
    readonly parent: Channel | null,
    readonly threadMember: boolean,
    /** A DM's or group DM's recipients (events go to them by name); empty elsewhere. */
    readonly recipientIds: readonly string[] = [],
    /** The acting user's premium type (message length limits). */
    readonly premiumType: string | null = null,
  ) {}

  has(permission: PermissionName): boolean {
    return (this.permissions & PermissionFlags[permission]) !== 0n;
  }

  /** Throws MissingPermission naming every permission lacking (MemberTimedOut when the timeout took them). */
  require(permissions: PermissionName | readonly PermissionName[]): void {
    const names = typeof permissions === 'string' ? [permissions] : permissions;
    assertPermittedUnlessTimedOut(
      this.permissions,
      names.reduce((bits, name) => bits | PermissionFlags[name], 0n),
      this.server?.timeout ?? null,
      { channelId: this.channel.id },
    );
  }

  /**
   * Refuses, while the actor's server timeout runs, an action no permission gates (a DM has none);
   * `action` names what it stands for.
   */
  requireNotTimedOut(action: PermissionName | readonly PermissionName[], details: Record<string, unknown> = {}): void {
    this.server?.requireNotTimedOut([...(typeof action === 'string' ? [action] : action)], {
      channelId: this.channel.id,
      ...details,
    });
  }

  /** The channel whose settings (slowmode excepted) govern it: the parent of a thread, else itself. */
  get governing(): Channel {
    return this.parent ?? this.channel;
  }
}

export interface LoadChannelAccessOptions {
  /** Refuse channels that hold no messages (categories, forums): NotATextChannel. */
  textOnly?: boolean;
  /** Refuse all but server voice and stage channels: NotAVoiceChannel. */
  voiceOnly?: boolean;
}

interface ChannelFacts extends MemberFacts {
  channel: JsonRow;
  overwrites: JsonRow[];
  parent: JsonRow | null;
  parentOverwrites: JsonRow[];
  recipientIds: string[];
  threadMember: boolean;
  premiumType: string | null;
}

/**
 * Everything an operation in a channel checks, in one statement: the channel and its overwrites, a
 * thread's parent and the parent's overwrites, a DM's recipients, thread membership, the actor's
 * membership (server, member, roles, @everyone) and the actor's premium type. Subqueries that do not
 * apply to the channel's kind find nothing and cost an index probe.
 */
const channelFactsSql = (tx: EntityManager) =>
  sqlFor(
    tx,
    'channel-facts',
    (json) => `
  with k as (select ?::bigint as cid, ?::bigint as uid),
       ch as (select c.* from "Channel" c, k where c."id" = k.cid),
       par as (select p.* from "Channel" p join ch on p."id" = ch."parentId")
  select ${json('Channel', 'ch')} as "channel",
         (select coalesce(json_agg(${json('PermissionOverwrite', 'o')}), '[]') from "PermissionOverwrite" o
           where o."channelId" = ch."id") as "overwrites",
         (select ${json('Channel', 'par')} from par) as "parent",
         (select coalesce(json_agg(${json('PermissionOverwrite', 'o')}), '[]') from "PermissionOverwrite" o join par
           on o."channelId" = par."id") as "parentOverwrites",
         array(select r."userId"::text from "ChannelRecipient" r where r."channelId" = ch."id"
           order by r."userId") as "recipientIds",
         exists(select 1 from "ThreadMember" t where t."threadId" = ch."id" and t."userId" = k.uid) as "threadMember",
         (select u."premiumType" from "User" u where u."id" = k.uid) as "premiumType",
         ${memberFactsSql(json, 'ch."serverId"', 'k.uid')}
    from ch, k`,
  );

function channelWithOverwrites(em: EntityManager, row: JsonRow, overwrites: JsonRow[]): Channel {
  const channel = mergeRow(em, Channel, row);
  channel.overwrites.hydrate(overwrites.map((o) => mergeRow(em, PermissionOverwrite, o)));
  return channel;
}

/**
 * Loads a channel and the user's permissions in it, in one statement. NotFound when the channel does
 * not exist; NotAMember (server channels) or NotARecipient (DMs) when the user is not in it. A channel
 * the user cannot view is still returned: callers require VIEW_CHANNEL themselves, so the refusal names it.
 */
export async function loadChannelAccess(
  tx: EntityManager,
  channelArg: unknown,
  userArg: unknown,
  options: LoadChannelAccessOptions = {},
): Promise<ChannelAccess> {
  const channelId = idArg(channelArg, 'channel');
  const userId = idArg(userArg, 'user');
  const [facts] = await tx.execute<ChannelFacts[]>(channelFactsSql(tx), [channelId, userId]);
  if (!facts) throw new NotFound('Channel', channelId);
  // The server comes first: the channel's and the member's references to it then resolve to it.
  const server = facts.server && facts.member ? serverAccessFrom(tx, String(facts.channel.serverId), facts) : null;
  const channel = channelWithOverwrites(tx, facts.channel, facts.overwrites);
  if (options.textOnly && !channel.holdsMessages) throw new NotATextChannel(channelId, channel.type);
  if (options.voiceOnly && (!channel.isVoice || !channel.server)) throw new NotAVoiceChannel(channelId, channel.type);
  const premiumType = facts.premiumType;

  if (channel.isPrivate) {
    if (!facts.recipientIds.includes(userId)) throw new NotARecipient(channelId);
    return new ChannelAccess(channel, userId, DM_PERMISSIONS, null, null, false, facts.recipientIds, premiumType);
  }

  if (!server) throw new NotAMember(String(facts.channel.serverId));
  if (!channel.isThread)
    return new ChannelAccess(channel, userId, server.permissions(channel), server, null, false, [], premiumType);

  if (!facts.parent) throw new NotFound('Channel', channelId);
  const parent = channelWithOverwrites(tx, facts.parent, facts.parentOverwrites);
  const permissions = server.permissions(channel, { overwritesFrom: parent, member: facts.threadMember });
  return new ChannelAccess(channel, userId, permissions, server, parent, facts.threadMember, [], premiumType);
}
