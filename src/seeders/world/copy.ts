import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Client } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';

/** A value as COPY's text format spells it. */
export type Cell = string | number | boolean | null | Date | readonly string[] | object;

/** The columns the seeders write, per table, in COPY order (generated columns left out). */
export const COLUMNS = {
  User: ['id', 'username', 'discriminator', 'displayName', 'bio', 'pronouns', 'premiumType', 'createdAt', 'updatedAt'],
  UserPresence: ['userId', 'status', 'lastSeenAt', 'updatedAt'],
  Relationship: ['userAId', 'userBId', 'status', 'requesterId', 'aBlocksB', 'bBlocksA', 'since', 'updatedAt'],
  Server: ['id', 'name', 'description', 'ownerId', 'premiumTier', 'memberCount', 'createdAt'],
  Role: ['id', 'serverId', 'name', 'permissions', 'position', 'color', 'hoist', 'mentionable', 'createdAt'],
  ServerMember: ['serverId', 'userId', 'nickname', 'joinedAt'],
  ServerMemberRole: ['serverId', 'userId', 'roleId'],
  Channel: [
    'id',
    'serverId',
    'type',
    'name',
    'topic',
    'position',
    'parentId',
    'rateLimitPerUser',
    'bitrate',
    'userLimit',
    'createdAt',
    'ownerId',
    'dmKey',
    'autoArchiveDuration',
  ],
  PermissionOverwrite: ['channelId', 'targetId', 'type', 'allow', 'deny'],
  Invite: ['code', 'serverId', 'channelId', 'inviterId', 'maxAge', 'maxUses', 'createdAt'],
  Emoji: ['id', 'serverId', 'name', 'animated', 'creatorId', 'createdAt'],
  Sticker: ['id', 'serverId', 'name', 'description', 'tags', 'formatType', 'creatorId', 'createdAt'],
  AuditLogEntry: ['id', 'serverId', 'actorId', 'actionType', 'targetId', 'changes', 'reason', 'createdAt'],
  ChannelRecipient: ['channelId', 'userId', 'addedAt'],
  VoiceState: ['userId', 'channelId', 'serverId', 'sessionId', 'selfMute', 'selfDeaf', 'joinedAt', 'lastHeartbeatAt'],
  VoiceSession: ['id', 'userId', 'channelId', 'serverId', 'startedAt', 'endedAt', 'durationSeconds'],
  Message: [
    'id',
    'channelId',
    'serverId',
    'authorId',
    'type',
    'content',
    'editedAt',
    'replyToId',
    'mentionUserIds',
    'attachmentCount',
    'embedCount',
    'hasLink',
  ],
  MessageAttachment: ['id', 'messageId', 'filename', 'size', 'contentType', 'url', 'width', 'height'],
  MessageEmbed: ['id', 'messageId', 'title', 'description', 'url', 'color'],
  Reaction: ['messageId', 'emojiKey', 'userId', 'emojiName', 'createdAt'],
} as const satisfies Record<string, readonly string[]>;

export type TableName = keyof typeof COLUMNS;

function escape(text: string): string {
  return text.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'));
}

function cell(value: Cell): string {
  if (value === null) return '\\N';
  if (typeof value === 'string') return escape(value);
  if (typeof value === 'number') return String(value);
  if (typeof value === 'boolean') return value ? 't' : 'f';
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return `{${value.join(',')}}`;
  return escape(JSON.stringify(value));
}

export const copyLine = (row: readonly Cell[]) => row.map(cell).join('\t') + '\n';

/** Streams rows into one table with COPY ... FROM STDIN (text format), on the caller's transaction. */
export async function copyRows(client: Client, table: TableName, rows: Iterable<readonly Cell[]>): Promise<number> {
  let count = 0;
  function* lines() {
    let batch = '';
    for (const row of rows) {
      batch += copyLine(row);
      count++;
      if (batch.length > 1 << 16) {
        yield batch;
        batch = '';
      }
    }
    if (batch) yield batch;
  }
  const columns = COLUMNS[table].map((c) => `"${c}"`).join(', ');
  await pipeline(Readable.from(lines()), client.query(copyFrom(`copy "${table}" (${columns}) from stdin`)));
  return count;
}
