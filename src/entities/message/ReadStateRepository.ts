import { EntityRepository } from '@mikro-orm/postgresql';
import { NotFound } from '../../domain/errors';
import { idArg, type IdArg } from '../../domain/identity/ids';
import { transact } from '../../db/unit-of-work';
import { loadChannelAccess } from '../channel/ChannelAccess';
import type { ReadState } from './ReadState';

/** Read states: acks, and unread and mention counts. */
export class ReadStateRepository extends EntityRepository<ReadState> {
  /**
   * Marks `channel` read up to `messageId` (a message of that channel) for `user`, and recounts the
   * mentions of them after it. The recount runs after the row lock is taken, so a concurrent send
   * that raised the count either committed first (and is counted) or raises it afterwards.
   */
  async ack(user: IdArg, channel: IdArg, messageId: IdArg): Promise<void> {
    const userId = idArg(user, 'user');
    const channelId = idArg(channel, 'channel');
    const ackId = idArg(messageId, 'messageId');
    await transact(this.em, async (tx) => {
      const access = await loadChannelAccess(tx, channelId, userId, { textOnly: true });
      access.require('VIEW_CHANNEL');
      const exists = await tx.execute('select 1 from "Message" where "id" = ? and "channelId" = ?', [ackId, channelId]);
      if (exists.length === 0) throw new NotFound('Message', ackId);
      await tx.execute(
        `insert into "ReadState" ("userId", "channelId") values (?, ?) on conflict do nothing`,
        [userId, channelId],
      );
      await tx.execute('select 1 from "ReadState" where "userId" = ? and "channelId" = ? for update', [userId, channelId]);
      const roleIds = access.server ? access.server.roles.map((r) => r.id) : [];
      await tx.execute(
        `update "ReadState" set "lastReadMessageId" = ?::bigint, "mentionCount" = (
           select count(*) from "Message" m
            where m."channelId" = ? and m."id" > ?::bigint and m."authorId" <> ?
              and (${access.channel.isPrivate ? 'true' : `? = any(m."mentionUserIds") or m."mentionEveryone" or m."mentionRoleIds" && array[?]::bigint[]`}))
         where "userId" = ? and "channelId" = ?`,
        access.channel.isPrivate
          ? [ackId, channelId, ackId, userId, userId, channelId]
          : [ackId, channelId, ackId, userId, userId, roleIds.length ? roleIds : ['0'], userId, channelId],
      );
    });
  }
}
