import { type Ctx, json, page, type Route } from '../context';
import { explainMember } from '../explain';
import { doneNotice, href, html, type Html, seg, table } from '../html';
import { type ChannelNode, listServers, MEMBERS_SHOWN, serverView, type ServerView } from '../server-data';
import { memberActions } from './actions';

const TEXTUAL = new Set([
  'GUILD_TEXT',
  'GUILD_ANNOUNCEMENT',
  'GUILD_VOICE',
  'GUILD_STAGE_VOICE',
  'PUBLIC_THREAD',
  'PRIVATE_THREAD',
  'ANNOUNCEMENT_THREAD',
]);

function channelItem(node: ChannelNode): Html {
  const label =
    node.type === 'GUILD_CATEGORY'
      ? html`<span class="category">${node.name ?? '(unnamed)'}</span>`
      : TEXTUAL.has(node.type)
        ? html`<a href="/channels/${seg(node.id)}"
            >${node.type.includes('VOICE') ? '♪ ' : '# '}${node.name ?? node.id}</a
          >`
        : html`${node.name ?? node.id}`;
  const kind =
    node.type + (node.archived ? ', archived' : '') + (node.messageCount ? `, ${node.messageCount} messages` : '');
  return html`<li>
    ${label}<span class="kind">${kind}</span>${
      node.children.length
        ? html`<ul>
            ${node.children.map(channelItem)}
          </ul>`
        : ''
    }
  </li>`;
}

async function serversPage(ctx: Ctx) {
  const servers = await listServers(ctx.em);
  return page(
    ctx,
    'Servers',
    'servers',
    table(
      ['server', 'owner', 'members', 'channels', ''],
      servers.map((s) => [
        html`<a href="/servers/${seg(s.id)}">${s.name}</a>`,
        html`<a href="/users/${seg(s.ownerId)}">${s.ownerTag}</a>`,
        s.memberCount,
        s.channels,
        html`<a href="${href('/', { server: s.id })}">dashboard</a>`,
      ]),
      { empty: 'no servers yet' },
    ),
  );
}

function rolesTable(view: ServerView): Html {
  return table(
    ['rank', 'role', 'position', 'members', 'permissions'],
    view.roles.map((r, i) => [
      r.everyone ? '' : i + 1,
      html`<a href="${href('/entities/Role/row', { pk: r.id })}">${r.everyone ? '@everyone' : r.name}</a>`,
      r.position,
      r.members,
      r.permissionNames.length
        ? r.permissionNames.map((n) => html`<span class="perm">${n}</span>`)
        : html`<span class="muted">none</span>`,
    ]),
  );
}

async function serverPage(ctx: Ctx) {
  const view = await serverView(ctx.em, ctx.params.id);
  const roleName = new Map(view.roles.map((r) => [r.id, r.name]));
  const body = html`${doneNotice(ctx.query)}
    <p>
      owner <a href="/users/${seg(view.ownerId)}">${view.ownerTag}</a> · ${view.memberCount} members ·
      <a href="${href('/', { server: view.id })}">analytics</a> ·
      <a href="/servers/${seg(view.id)}/permissions">permission explainer</a> ·
      <a href="${href('/entities/Server/row', { pk: view.id })}">row</a>
    </p>
    <div class="cards split">
      <section class="card">
        <h2>Channels</h2>
        <ul class="tree" id="channel-tree">
          ${view.channels.map(channelItem)}
        </ul>
      </section>
      <section class="card">
        <h2>Roles, highest first</h2>
        ${rolesTable(view)}
      </section>
      <section class="card wide">
        <h2>Members${view.members.length >= MEMBERS_SHOWN ? ` (first ${MEMBERS_SHOWN})` : ''}</h2>
        ${table(
          ['member', 'nickname', 'roles', 'joined', 'timed out until', ''],
          view.members.map((m) => [
            html`<a href="/users/${seg(m.userId)}">${m.tag}</a>`,
            m.nickname ?? '',
            m.roleIds.map((id) => html`<span class="perm">${roleName.get(id) ?? id}</span>`),
            m.joinedAt.slice(0, 19),
            m.timedOutUntil?.slice(0, 19) ?? '',
            html`<a href="${href(`/servers/${seg(view.id)}/permissions`, { user: m.userId })}">permissions</a>
              ${ctx.write ? memberActions(ctx, view, m.userId) : ''}`,
          ]),
        )}
      </section>
    </div>`;
  return page(ctx, view.name, 'servers', body);
}

function channelOptions(nodes: ChannelNode[], chosen: string | null, depth = 0): Html[] {
  return nodes.flatMap((n) => [
    html`<option value="${n.id}" ${n.id === chosen ? html` selected` : ''}>
      ${'  '.repeat(depth)}${n.type === 'GUILD_CATEGORY' ? '▸ ' : '# '}${n.name ?? n.id}
    </option>`,
    ...channelOptions(n.children, chosen, depth + 1),
  ]);
}

async function permissionsPage(ctx: Ctx) {
  const view = await serverView(ctx.em, ctx.params.id);
  const userId = ctx.query.get('user') || view.ownerId;
  const channelId = ctx.query.get('channel') || null;
  const explained = await explainMember(ctx.em, view.id, userId, channelId);
  const memberOption = (m: (typeof view.members)[number]) =>
    html`<option value="${m.userId}" ${m.userId === userId ? html` selected` : ''}>${m.tag}</option>`;
  const form = html`<form method="get" action="/servers/${seg(view.id)}/permissions" id="explain-form">
    member
    <select name="user" data-autosubmit>
      ${view.members.map(memberOption)}
    </select>
    in
    <select name="channel" data-autosubmit>
      <option value="">the server (no channel)</option>
      ${channelOptions(view.channels, channelId)}
    </select>
    <button type="submit">explain</button>
  </form>`;
  const mismatch = explained.permissions !== explained.domainPermissions;
  const member = view.members.find((m) => m.userId === userId);
  const roleName = new Map(view.roles.map((r) => [r.id, r.name]));
  const roleNames = member?.roleIds.length
    ? member.roleIds.map((id) => roleName.get(id) ?? id).join(', ')
    : '@everyone only';
  const computed = explained.domainPermissions;
  const mismatchNote = mismatch
    ? html`<p class="error">the domain computed ${computed}, the explanation ${explained.permissions}</p>`
    : '';
  // Flags an overwrite or an implicit rule changed: usually what someone opening the explainer asks about.
  const changed = explained.flags.filter((f) => f.history.length > 1);
  const verdict = (granted: boolean) =>
    granted ? html`<span class="granted">✓ granted</span>` : html`<span class="denied">✗ no</span>`;
  const steps = (history: string[]) =>
    html`<ol class="steps">
      ${history.map((h) => html`<li>${h}</li>`)}
    </ol>`;
  const body = html`<p>
      <a href="/servers/${seg(view.id)}">${view.name}</a> · computed with the package's own
      <code>explainPermissions</code> on the data
      <code>${channelId ? 'loadChannelAccess' : 'loadServerAccess'}</code> loads
    </p>
    ${form}
    <div class="stats">
      <div class="stat"><b>${explained.names.length}</b><span>permissions granted</span></div>
      <div class="stat">
        <b>${explained.channelName ? `#${explained.channelName}` : 'server level'}</b><span>scope</span>
      </div>
      <div class="stat">
        <b>${roleNames}</b><span>roles of ${member?.tag ?? userId}${userId === view.ownerId ? ' (owner)' : ''}</span>
      </div>
      <div class="stat"><b class="mono">${explained.permissions}</b><span>bitfield</span></div>
    </div>
    ${mismatchNote}
    ${
      changed.length
        ? html`<section class="card" id="changed">
            <h2>Changed by overwrites or implicit rules</h2>
            ${table(
              ['permission', '', 'steps, in order'],
              changed.map((f) => [html`<code>${f.name}</code>`, verdict(f.granted), steps(f.history)]),
              { cls: 'grid explain' },
            )}
          </section>`
        : ''
    }
    <section id="every">
      <h2 class="spaced">Every permission</h2>
      ${table(
        ['permission', 'bit', '', 'decided by'],
        explained.flags.map((f) => [
          html`<code>${f.name}</code>`,
          html`<span class="mono">${BigInt(f.bit).toString(2).length - 1}</span>`,
          verdict(f.granted),
          f.history.length > 1 ? steps(f.history) : f.reason,
        ]),
        { cls: 'grid explain' },
      )}
    </section>`;
  return page(ctx, 'Permission explainer', 'servers', body);
}

export const SERVER_ROUTES: Route[] = [
  { method: 'GET', path: '/servers', handler: serversPage },
  { method: 'GET', path: '/servers/:id', handler: serverPage },
  { method: 'GET', path: '/servers/:id/permissions', handler: permissionsPage },
  { method: 'GET', path: '/api/servers', handler: async (ctx) => json({ servers: await listServers(ctx.em) }) },
  { method: 'GET', path: '/api/servers/:id', handler: async (ctx) => json(await serverView(ctx.em, ctx.params.id)) },
  {
    method: 'GET',
    path: '/api/servers/:id/permissions',
    handler: async (ctx) =>
      json(await explainMember(ctx.em, ctx.params.id, ctx.query.get('user') ?? '', ctx.query.get('channel') || null)),
  },
];
