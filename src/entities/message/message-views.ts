import type { Embed } from '../../domain/messages';
import { snowflakeTimestamp } from '../../domain/snowflake';
import type { MessageType } from './Message';
import type { ReadSql } from './read-access';

/** A message as history, search and mentions return it: plain data, ready to serialize. */
export interface MessageView {
  id: string;
  channelId: string;
  serverId: string | null;
  author: MessageAuthorView;
  type: MessageType;
  content: string;
  /** From the snowflake. */
  createdAt: Date;
  editedAt: Date | null;
  pinned: boolean;
  replyToId: string | null;
  mentionEveryone: boolean;
  /** Mentioned user ids. */
  mentions: string[];
  mentionRoleIds: string[];
  attachments: AttachmentView[];
  embeds: Embed[];
  /** Per emoji, in first-reaction order; `me` when the viewer reacted with it. */
  reactions: ReactionView[];
  /** The thread started from this message (its id is the message's id), if any. */
  thread: ThreadSummaryView | null;
}

export interface MessageAuthorView {
  id: string;
  username: string;
  discriminator: string;
  displayName: string | null;
  avatar: string | null;
}

export interface AttachmentView {
  id: string;
  filename: string;
  size: number;
  contentType: string;
  url: string;
  width: number | null;
  height: number | null;
}

export interface ReactionView {
  emoji: { id: string | null; name: string; animated: boolean };
  count: number;
  me: boolean;
}

export interface ThreadSummaryView {
  id: string;
  name: string | null;
  type: string;
  messageCount: number;
  memberCount: number;
  archived: boolean;
  locked: boolean;
  lastMessageId: string | null;
}

/**
 * The columns every message read selects: the message, its author (joined) and the thread started
 * from it (joined on the shared id). `m`, `u` and `t` are the aliases the queries use.
 */
export const MESSAGE_COLUMNS = `m.id::text as id, m."channelId"::text as "channelId", m."serverId"::text as "serverId",
       m.type, m.content, m."editedAt", m.pinned, m."replyToId"::text as "replyToId", m."mentionEveryone",
       m."mentionUserIds"::text[] as "mentionUserIds",
       m."mentionRoleIds"::text[] as "mentionRoleIds", m."attachmentCount", m."embedCount",
       u.id::text as "authorId", u.username, u.discriminator, u."displayName", u.avatar,
       t.id::text as "threadId", t.name as "threadName", t.type as "threadType",
       t."messageCount" as "threadMessageCount", t."memberCount" as "threadMemberCount", t.archived as "threadArchived",
       t.locked as "threadLocked", t."lastMessageId"::text as "threadLastMessageId"`;

export const MESSAGE_JOINS = `join "User" u on u.id = m."authorId"
  left join "Channel" t on t.id = m.id and t."parentId" = m."channelId"`;

export interface MessageRow {
  id: string;
  channelId: string;
  serverId: string | null;
  type: MessageType;
  content: string;
  editedAt: Date | null;
  pinned: boolean;
  replyToId: string | null;
  mentionEveryone: boolean;
  mentionUserIds: string[];
  mentionRoleIds: string[];
  attachmentCount: number;
  embedCount: number;
  authorId: string;
  username: string;
  discriminator: string;
  displayName: string | null;
  avatar: string | null;
  threadId: string | null;
  threadName: string | null;
  threadType: string | null;
  threadMessageCount: number | null;
  threadMemberCount: number | null;
  threadArchived: boolean | null;
  threadLocked: boolean | null;
  threadLastMessageId: string | null;
}

export const REACTIONS_SQL = `
select "messageId"::text as "messageId", min("emojiId")::text as "emojiId", min("emojiName") as "emojiName",
  bool_or("emojiAnimated") as "emojiAnimated",
       count(*)::int as count, coalesce(bool_or("userId" = ?), false) as me
  from "Reaction" where "messageId" = any(array[?]::bigint[])
 group by "messageId", "emojiKey" order by "messageId", min("createdAt")`;

export const ATTACHMENTS_SQL = `
select id::text as id, "messageId"::text as "messageId", filename, size, "contentType", url, width, height
  from "MessageAttachment" where "messageId" = any(array[?]::bigint[]) order by "messageId", id`;

export const EMBEDS_SQL = `
select "messageId"::text as "messageId", title, description, url, color, timestamp, fields, footer, author, image,
  thumbnail
  from "MessageEmbed" where "messageId" = any(array[?]::bigint[]) order by "messageId", id`;

type EmbedRow = {
  messageId: string;
  title: string | null;
  description: string | null;
  url: string | null;
  color: number | null;
  timestamp: Date | null;
} & Pick<Embed, 'fields' | 'footer' | 'author' | 'image' | 'thumbnail'>;

function embedOf(row: EmbedRow): Embed {
  const out: Embed = { fields: row.fields };
  for (const key of ['title', 'description', 'url', 'color', 'footer', 'author', 'image', 'thumbnail'] as const) {
    if (row[key] !== null && row[key] !== undefined) (out as unknown as Record<string, unknown>)[key] = row[key];
  }
  if (row.timestamp !== null) out.timestamp = new Date(row.timestamp).toISOString();
  return out;
}

function group<R extends { messageId: string }, V>(rows: R[], view: (row: R) => V): Map<string, V[]> {
  const out = new Map<string, V[]>();
  for (const row of rows) {
    const list = out.get(row.messageId);
    if (list) list.push(view(row));
    else out.set(row.messageId, [view(row)]);
  }
  return out;
}

/**
 * Turns a page of rows into views: reactions, attachments and embeds in one query each for the
 * whole page, and only for the kinds some message of the page has (counters on the message row).
 */
export async function messageViews(run: ReadSql, rows: MessageRow[], viewerId: string): Promise<MessageView[]> {
  if (rows.length === 0) return [];
  const ids = rows.map((r) => r.id);
  const withAttachments = rows.filter((r) => r.attachmentCount > 0).map((r) => r.id);
  const withEmbeds = rows.filter((r) => r.embedCount > 0).map((r) => r.id);
  const reactionRows = await run<{
    messageId: string;
    emojiId: string | null;
    emojiName: string;
    emojiAnimated: boolean;
    count: number;
    me: boolean;
  }>(REACTIONS_SQL, [viewerId, ids]);
  const reactions = group(reactionRows, (r) => ({
    emoji: { id: r.emojiId, name: r.emojiName, animated: r.emojiAnimated },
    count: r.count,
    me: r.me,
  }));
  const attachments =
    withAttachments.length === 0
      ? new Map<string, AttachmentView[]>()
      : group(
          await run<AttachmentView & { messageId: string }>(ATTACHMENTS_SQL, [withAttachments]),
          ({ messageId: _, ...a }) => a,
        );
  const embeds =
    withEmbeds.length === 0
      ? new Map<string, Embed[]>()
      : group(await run<EmbedRow>(EMBEDS_SQL, [withEmbeds]), embedOf);
  return rows.map((r) => ({
    id: r.id,
    channelId: r.channelId,
    serverId: r.serverId,
    author: {
      id: r.authorId,
      username: r.username,
      discriminator: r.discriminator,
      displayName: r.displayName,
      avatar: r.avatar,
    },
    type: r.type,
    content: r.content,
    createdAt: snowflakeTimestamp(r.id),
    editedAt: r.editedAt === null ? null : new Date(r.editedAt),
    pinned: r.pinned,
    replyToId: r.replyToId,
    mentionEveryone: r.mentionEveryone,
    mentions: r.mentionUserIds,
    mentionRoleIds: r.mentionRoleIds,
    attachments: attachments.get(r.id) ?? [],
    embeds: embeds.get(r.id) ?? [],
    reactions: reactions.get(r.id) ?? [],
    thread:
      r.threadId === null
        ? null
        : {
            id: r.threadId,
            name: r.threadName,
            type: r.threadType!,
            messageCount: r.threadMessageCount!,
            memberCount: r.threadMemberCount!,
            archived: r.threadArchived!,
            locked: r.threadLocked!,
            lastMessageId: r.threadLastMessageId,
          },
  }));
}

/** `?` placeholders to pg's `$n` (`array[?]` becomes `$n`, bound to a JS array): the same SQL through raw pg. */
export function toPgQuery(sql: string, params: unknown[]): { text: string; values: unknown[] } {
  let n = 0;
  return { text: sql.replace(/array\[\?\]|\?/g, () => `$${++n}`), values: params };
}
