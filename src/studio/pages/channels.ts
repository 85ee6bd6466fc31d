import type { EntityManager } from '@mikro-orm/postgresql';
import { NotFound, ValidationFailed } from '../../domain/errors';
import { idArg } from '../../domain/identity/ids';
import { history, type MessageView } from '../../entities/message/MessageQueries';
import { type Ctx, json, page, type Route } from '../context';
import { doneNotice, href, html, type Html, seg } from '../html';
import { query } from '../sql';
import { messageActions } from './actions';

const THREADS = new Set(['PUBLIC_THREAD', 'PRIVATE_THREAD', 'ANNOUNCEMENT_THREAD']);

interface ChannelHead {
  id: string;
  name: string | null;
  type: string;
  topic: string | null;
  serverId: string | null;
  serverName: string | null;
  parentId: string | null;
  parentName: string | null;
  messageCount: number;
  /** Who the history is read as: the server's owner (who sees every channel), or a DM's recipient. */
  viewerId: string | null;
  viewerTag: string | null;
}

export async function channelHead(em: EntityManager, channelArg: string): Promise<ChannelHead> {
  const channelId = idArg(channelArg, 'channel');
  const [head] = await query<ChannelHead>(
    em,
    `select c.id::text as id, c.name, c.type, c.topic, c."serverId"::text as "serverId", s.name as "serverName",
            c."parentId"::text as "parentId", p.name as "parentName", c."messageCount",
            v.id::text as "viewerId", v.username || '#' || v.discriminator as "viewerTag"
       from "Channel" c left join "Server" s on s.id = c."serverId" left join "Channel" p on p.id = c."parentId"
       left join "User" v on v.id = coalesce(s."ownerId", (select r."userId" from "ChannelRecipient" r
         where r."channelId" = c.id order by r."userId" limit 1))
      where c.id = ?`,
    [channelId],
  );
  if (!head) throw new NotFound('Channel', channelId);
  return head;
}

async function threadsOf(em: EntityManager, channelId: string) {
  return query<{ id: string; name: string | null; type: string; messageCount: number; archived: boolean }>(
    em,
    `select id::text as id, name, type, "messageCount", archived from "Channel"
      where "parentId" = ? and type in ('PUBLIC_THREAD', 'PRIVATE_THREAD', 'ANNOUNCEMENT_THREAD') order by id desc
        limit 50`,
    [channelId],
  );
}

function limitOf(ctx: Ctx): number {
  const raw = ctx.query.get('limit');
  const limit = raw === null ? 50 : Number(raw);
  if (!Number.isInteger(limit) || limit < 1 || limit > 100)
    throw new ValidationFailed('limit', 'must be an integer from 1 to 100');
  return limit;
}

async function channelMessages(ctx: Ctx) {
  const head = await channelHead(ctx.em, ctx.params.id);
  if (!head.viewerId) return { head, messages: [] as MessageView[] };
  const before = ctx.query.get('before') || undefined;
  const messages = await history(ctx.em, head.viewerId, head.id, { before, limit: limitOf(ctx) });
  return { head, messages };
}

export function messageCard(ctx: Ctx, m: MessageView, head: ChannelHead, link = true): Html {
  const when = m.createdAt.toISOString().replace('T', ' ').slice(0, 19);
  const stamp = link ? html`<a class="message-link" href="/messages/${seg(m.id)}">${when}</a>` : when;
  const marks =
    (m.editedAt ? ' (edited)' : '') + (m.pinned ? ' · pinned' : '') + (m.type !== 'DEFAULT' ? ` · ${m.type}` : '');
  const files = m.attachments.map((a) => a.filename).join(', ');
  const reactions = m.reactions.map((r) => {
    const title = r.emoji.id ? `custom emoji ${r.emoji.id}` : 'emoji';
    return html`<span class="reaction" title="${title}">${r.emoji.name} ${r.count}</span>`;
  });
  const thread = m.thread;
  const threadLink = thread && html`<a href="/channels/${seg(thread.id)}">${thread.name ?? thread.id}</a>`;
  const threadCount = thread ? `${thread.messageCount} messages${thread.archived ? ' · archived' : ''}` : '';
  const threadLine = thread ? html`<div class="thread">🧵 thread ${threadLink} · ${threadCount}</div>` : '';
  return html`<article class="msg" data-message-id="${m.id}">
    <div class="meta">
      <a href="/users/${seg(m.author.id)}">${m.author.displayName ?? m.author.username}</a>
      <span class="mono">${m.author.username}#${m.author.discriminator}</span> · ${stamp}${marks}
      ${m.replyToId ? html` · reply to <a href="/messages/${seg(m.replyToId)}">${m.replyToId}</a>` : ''}
    </div>
    <div class="content">${m.content}</div>
    ${m.attachments.length ? html`<div class="meta">${m.attachments.length} attachment(s): ${files}</div>` : ''}
    ${m.embeds.length ? html`<div class="meta">${m.embeds.length} embed(s)</div>` : ''}
    ${m.reactions.length ? html`<div class="reactions">${reactions}</div>` : ''} ${threadLine}
    ${ctx.write && head.viewerId ? messageActions(ctx, m, head.serverId) : ''}
  </article>`;
}

async function channelPage(ctx: Ctx) {
  const { head, messages } = await channelMessages(ctx);
  const threads = await threadsOf(ctx.em, head.id);
  const last = messages[messages.length - 1];
  const parentLink = head.parentId && html`<a href="/channels/${seg(head.parentId)}">#${head.parentName}</a>`;
  const parent = !head.parentId
    ? ''
    : THREADS.has(head.type)
      ? html` · thread of ${parentLink} · ${head.messageCount} messages`
      : html` · category ${head.parentName}`;
  const permissionsHref = head.serverId && href(`/servers/${seg(head.serverId)}/permissions`, { channel: head.id });
  const threadLinks = threads.map(
    (t) => html`<a href="/channels/${seg(t.id)}">${t.name ?? t.id}</a>${t.archived ? ' (archived)' : ''} `,
  );
  const viewerLink = head.viewerId && html`<a href="/users/${seg(head.viewerId)}">${head.viewerTag}</a>`;
  const sees = head.serverId ? ' (the owner sees every channel)' : ' (a recipient)';
  const viewer = head.viewerId
    ? html`<p class="muted">newest first, read through <code>history()</code> as ${viewerLink}${sees}</p>`
    : html`<p class="muted">this channel holds no messages</p>`;
  const older =
    last && messages.length === limitOf(ctx)
      ? html`<a rel="next" href="${href(`/channels/${seg(head.id)}`, { before: last.id })}">older →</a>`
      : '';
  const body = html`${doneNotice(ctx.query)}
    <p>
      ${head.type}${head.serverId ? html` in <a href="/servers/${seg(head.serverId)}">${head.serverName}</a>` : ''}
      ${parent} ·
      <a href="${href('/entities/Channel/row', { pk: head.id })}">row</a
      >${permissionsHref ? html` · <a href="${permissionsHref}">permissions here</a>` : ''}
    </p>
    ${head.topic ? html`<p class="muted">${head.topic}</p>` : ''}
    ${threads.length ? html`<p>threads: ${threadLinks}</p>` : ''} ${viewer}
    <section id="history">
      ${messages.length ? messages.map((m) => messageCard(ctx, m, head)) : html`<p class="empty">no messages</p>`}
    </section>
    <div class="pager">
      ${ctx.query.get('before') ? html`<a href="/channels/${seg(head.id)}">newest</a>` : ''}${older}
    </div>`;
  return page(ctx, `${head.name ? `#${head.name}` : head.type}`, 'servers', body);
}

async function messageOf(ctx: Ctx) {
  const messageId = idArg(ctx.params.id, 'message');
  const [row] = await query<{ channelId: string }>(
    ctx.em,
    `select "channelId"::text as "channelId" from "Message" where id = ?`,
    [messageId],
  );
  if (!row) throw new NotFound('Message', messageId);
  const head = await channelHead(ctx.em, row.channelId);
  const [message] = head.viewerId ? await history(ctx.em, head.viewerId, head.id, { around: messageId, limit: 1 }) : [];
  if (!message || message.id !== messageId) throw new NotFound('Message', messageId);
  const reactors = await query<{ emoji: string; userId: string; tag: string }>(
    ctx.em,
    `select r."emojiName" as emoji, r."userId"::text as "userId", u.username || '#' || u.discriminator as tag
       from "Reaction" r join "User" u on u.id = r."userId" where r."messageId" = ? order by r."createdAt", r."userId"
         limit 200`,
    [messageId],
  );
  return { head, message, reactors };
}

async function messagePage(ctx: Ctx) {
  const { head, message, reactors } = await messageOf(ctx);
  const body = html`<p>
      in
      <a href="/channels/${seg(head.id)}">${head.name ? `#${head.name}` : head.type}</a
      >${head.serverId ? html` of <a href="/servers/${seg(head.serverId)}">${head.serverName}</a>` : ''} ·
      <a href="${href('/entities/Message/row', { pk: message.id })}">row</a>
    </p>
    ${messageCard(ctx, message, head, false)}
    ${
      reactors.length
        ? html`<h2>Reactions</h2>
            <ul>
              ${reactors.map((r) => html`<li>${r.emoji} by <a href="/users/${seg(r.userId)}">${r.tag}</a></li>`)}
            </ul>`
        : ''
    }`;
  return page(ctx, `Message ${message.id}`, 'servers', body);
}

export const CHANNEL_ROUTES: Route[] = [
  { method: 'GET', path: '/channels/:id', handler: channelPage },
  { method: 'GET', path: '/messages/:id', handler: messagePage },
  { method: 'GET', path: '/api/channels/:id/messages', handler: async (ctx) => json(await channelMessages(ctx)) },
  { method: 'GET', path: '/api/messages/:id', handler: async (ctx) => json(await messageOf(ctx)) },
];
