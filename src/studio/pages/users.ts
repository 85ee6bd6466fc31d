import type { EntityManager } from '@mikro-orm/postgresql';
import { NotFound, ValidationFailed } from '../../domain/errors';
import { idArg } from '../../domain/identity/ids';
import { analytics } from '../../entities/analytics/AnalyticsQueries';
import { RelationshipType } from '../../domain/identity/relationships';
import { Relationship } from '../../entities/user/Relationship';
import type { RelationshipRepository } from '../../entities/user/RelationshipRepository';
import { barChart } from '../charts';
import { type Ctx, json, page, type Route } from '../context';
import { href, html, seg, table } from '../html';
import { query } from '../sql';

const DAY = 86_400_000;

async function usersPage(ctx: Ctx) {
  const q = ctx.query.get('q') ?? '';
  if (q.length > 32) throw new ValidationFailed('q', 'must be at most 32 characters');
  const users = await query<{
    id: string;
    tag: string;
    displayName: string | null;
    status: string | null;
    servers: number;
  }>(
    ctx.em,
    `select u.id::text as id, u.username || '#' || u.discriminator as tag, u."displayName", p.status,
            (select count(*)::int from "ServerMember" m where m."userId" = u.id) as servers
       from "User" u left join "UserPresence" p on p."userId" = u.id
      where lower(u.username) like ? order by lower(u.username), u.discriminator limit 200`,
    [`${q.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`],
  );
  const body = html`<form method="get" action="/users">
      username starts with <input name="q" value="${q}" size="20" /> <button>search</button>
    </form>
    ${table(
      ['user', 'display name', 'status', 'servers'],
      users.map((u) => [
        html`<a href="/users/${seg(u.id)}">${u.tag}</a>`,
        u.displayName ?? '',
        u.status ?? '',
        u.servers,
      ]),
      { empty: 'no users match' },
    )}
    <p class="muted">at most 200 shown; the <a href="/entities/User">User table</a> pages through all of them</p>`;
  return page(ctx, 'Users', 'users', body);
}

export async function userView(em: EntityManager, userArg: string) {
  const userId = idArg(userArg, 'user');
  const [user] = await query<{
    id: string;
    tag: string;
    displayName: string | null;
    premiumType: string;
    status: string | null;
    createdAt: string;
  }>(
    em,
    `select u.id::text as id, u.username || '#' || u.discriminator as tag, u."displayName", u."premiumType", p.status,
      u."createdAt"::text as "createdAt"
       from "User" u left join "UserPresence" p on p."userId" = u.id where u.id = ?`,
    [userId],
  );
  if (!user) throw new NotFound('User', userId);
  // The user's side of each relationship, as the domain states it (friend, pending either way, blocked).
  const relationships = await em
    .getRepository<Relationship, RelationshipRepository>(Relationship)
    .relationshipsOf(userId);
  const ids = relationships.length ? relationships.map((r) => r.userId) : ['0'];
  const names = await query<{ id: string; tag: string }>(
    em,
    `select id::text as id, username || '#' || discriminator as tag from "User" where id = any(?::bigint[])`,
    [ids],
  );
  const tagOf = new Map(names.map((n) => [n.id, n.tag]));
  const blockedBy = await query<{ id: string; tag: string }>(
    em,
    `select u.id::text as id, u.username || '#' || u.discriminator as tag from "Relationship" r join "User" u on u.id =
      case when r."userAId" = ? then r."userBId" else r."userAId" end
      where (r."userAId" = ? and r."bBlocksA") or (r."userBId" = ? and r."aBlocksB")`,
    [userId, userId, userId],
  );
  const servers = await query<{ id: string; name: string; nickname: string | null; owner: boolean }>(
    em,
    `select s.id::text as id, s.name, m.nickname, s."ownerId" = m."userId" as owner from "ServerMember" m
      join "Server" s on s.id = m."serverId"
      where m."userId" = ? order by s.name limit 200`,
    [userId],
  );
  const dms = await query<{ id: string; type: string; name: string | null; others: string | null }>(
    em,
    `select c.id::text as id, c.type, c.name,
            (select string_agg(u.username || '#' || u.discriminator, ', ') from "ChannelRecipient" o join "User" u
              on u.id = o."userId" where o."channelId" = c.id and o."userId" <> ?) as others
       from "ChannelRecipient" r join "Channel" c on c.id = r."channelId" where r."userId" = ?
         order by c."lastMessageId" desc nulls last limit 100`,
    [userId, userId],
  );
  const engagement = await analytics(em).userEngagement(userId, { since: new Date(Date.now() - 14 * DAY) });
  return {
    user,
    relationships: relationships.map((r) => ({
      userId: r.userId,
      tag: tagOf.get(r.userId) ?? r.userId,
      type: RelationshipType[r.type] ?? String(r.type),
      since: r.since,
    })),
    blockedBy,
    servers,
    dms,
    engagement,
  };
}

async function userPage(ctx: Ctx) {
  const view = await userView(ctx.em, ctx.params.id);
  const blockers = view.blockedBy.map((b) => html`<a href="/users/${seg(b.id)}">${b.tag}</a> `);
  const u = view.user;
  const body = html`<p>
      ${u.displayName ? html`<b>${u.displayName}</b> · ` : ''}status ${u.status ?? 'unknown'} · premium ${u.premiumType}
      · since ${u.createdAt.slice(0, 10)} · <a href="${href('/entities/User/row', { pk: u.id })}">row</a>
    </p>
    <div class="cards">
      <section class="card" id="relationships">
        <h2>Relationships</h2>
        ${table(
          ['user', 'relationship', 'since'],
          view.relationships.map((r) => [
            html`<a href="/users/${seg(r.userId)}">${r.tag}</a>`,
            r.type,
            r.since ? new Date(r.since).toISOString().slice(0, 10) : '',
          ]),
          { empty: 'no friends, requests or blocks' },
        )}${view.blockedBy.length ? html`<p>blocked by ${blockers}</p>` : ''}
      </section>
      <section class="card">
        <h2>Servers</h2>
        ${table(
          ['server', 'nickname', ''],
          view.servers.map((s) => [
            html`<a href="/servers/${seg(s.id)}">${s.name}</a>`,
            s.nickname ?? '',
            s.owner ? 'owner' : '',
          ]),
          { empty: 'member of no server' },
        )}
      </section>
      <section class="card">
        <h2>Direct messages</h2>
        ${table(
          ['channel', 'with'],
          view.dms.map((d) => [html`<a href="/channels/${seg(d.id)}">${d.name ?? d.type}</a>`, d.others ?? '']),
          { empty: 'no DMs' },
        )}
      </section>
      <section class="card">
        <h2>Engagement, last 14 days</h2>
        ${barChart(
          view.engagement.map((d) => ({
            label: d.day.toISOString().slice(5, 10),
            values: [d.messages, d.voiceMinutes],
          })),
          ['messages', 'voice minutes'],
        )}
      </section>
    </div>`;
  return page(ctx, u.tag, 'users', body);
}

export const USER_ROUTES: Route[] = [
  { method: 'GET', path: '/users', handler: usersPage },
  { method: 'GET', path: '/users/:id', handler: userPage },
  { method: 'GET', path: '/api/users/:id', handler: async (ctx) => json(await userView(ctx.em, ctx.params.id)) },
];
