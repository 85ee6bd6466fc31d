import { describe, expect, it } from 'vitest';
import { MissingPermission, NotAMember, ValidationFailed } from '../src/domain/errors';
import { PermissionFlags } from '../src/domain/permissions';
import { nextSnowflake } from '../src/domain/snowflake';
import { AuditLogAction, AuditLogEntry } from '../src/entities/server/AuditLogEntry';
import type { AuditLogQuery } from '../src/entities/server/AuditLogRepository';
import { Server } from '../src/entities/server/Server';
import { User } from '../src/entities/user/User';
import { useTestDatabase } from './support/db';
import { ServerService } from '../src/servers/server-service';
import { AuditLogService } from '../src/servers/audit-log-service';
import { EmojiService, StickerService } from '../src/servers/expression-service';
import { UserService } from '../src/identity/user-service';

const db = useTestDatabase();

let seq = 0;
async function register(prefix: string): Promise<User> {
  return new UserService(db().fork()).register({ username: `${prefix}${++seq}` });
}

async function makeServer(owner: User): Promise<Server> {
  return new ServerService(db().fork()).createServer(owner, { name: `Audited ${++seq}` });
}

async function addMember(server: Server, user: User, permissions?: bigint): Promise<void> {
  await db().sql(`insert into "ServerMember" ("serverId", "userId") values ($1, $2)`, [server.id, user.id]);
  if (permissions === undefined) return;
  const roleId = nextSnowflake();
  await db().sql(`insert into "Role" (id, "serverId", name, permissions, position) values ($1, $2, $3, $4, 1)`, [
    roleId,
    server.id,
    `r${++seq}`,
    permissions.toString(),
  ]);
  await db().sql(`insert into "ServerMemberRole" ("serverId", "userId", "roleId") values ($1, $2, $3)`, [
    server.id,
    user.id,
    roleId,
  ]);
}

const log = () => new AuditLogService(db().fork());
const ids = (entries: AuditLogEntry[]) => entries.map((e) => e.id);
const desc = (a: string, b: string) => (BigInt(b) > BigInt(a) ? 1 : BigInt(b) < BigInt(a) ? -1 : 0);

/**
 * A server with entries by two actors through the real operations: owner creates 3 emoji and a
 * sticker, the manager creates 2 emoji, renames one and deletes a sticker. A second server has its own.
 */
async function auditedServer() {
  const owner = await register('auditowner');
  const manager = await register('auditmgr');
  const server = await makeServer(owner);
  await addMember(server, manager, PermissionFlags.MANAGE_GUILD_EXPRESSIONS);
  const emojis = () => new EmojiService(db().fork());
  const stickers = () => new StickerService(db().fork());
  for (const name of ['one', 'two', 'three']) await emojis().createEmoji(owner, server.id, { name });
  const sticker = await stickers().createSticker(owner, server.id, { name: 'Sticky' });
  const four = await emojis().createEmoji(manager, server.id, { name: 'four' });
  await emojis().createEmoji(manager, server.id, { name: 'five' });
  await emojis().updateEmoji(manager, server.id, four.id, { name: 'four_renamed' }, { reason: 'typo' });
  await stickers().deleteSticker(manager, server.id, sticker.id);
  const other = await makeServer(owner);
  await new EmojiService(db().fork()).createEmoji(owner, other.id, { name: 'elsewhere' });
  const all = await db().sql<{ id: string; actorId: string; actionType: number }>(
    `select id::text, "actorId"::text as "actorId", "actionType" from "AuditLogEntry" where "serverId" = $1
      order by id desc`,
    [server.id],
  );
  expect(all).toHaveLength(8);
  return { owner, manager, server, other, all };
}

describe('audit log query', () => {
  it('returns the server’s entries newest first, only its own, as the entries were written', async () => {
    const { owner, server, all } = await auditedServer();
    const page = await log().auditLog(owner, server.id);
    expect(ids(page)).toEqual(all.map((r) => r.id));
    expect(page.map((e) => e.actionType)).toEqual([92, 61, 60, 60, 90, 60, 60, 60]);
    const renamed = page[1].toPublic();
    expect(renamed).toMatchObject({
      serverId: server.id,
      actionType: AuditLogAction.EMOJI_UPDATE,
      reason: 'typo',
      changes: [{ key: 'name', old: 'four', new: 'four_renamed' }],
    });
  });

  it('filters by actor, by action type, and both', async () => {
    const { owner, manager, server, all } = await auditedServer();
    const byManager = await log().auditLog(owner, server.id, { actorId: manager.id });
    expect(ids(byManager)).toEqual(all.filter((r) => r.actorId === manager.id).map((r) => r.id));
    expect(byManager).toHaveLength(4);
    const creates = await log().auditLog(owner, server.id, { actionType: AuditLogAction.EMOJI_CREATE });
    expect(ids(creates)).toEqual(all.filter((r) => r.actionType === 60).map((r) => r.id));
    expect(creates).toHaveLength(5);
    const ownerCreates = await log().auditLog(owner, server.id, {
      actorId: owner.id,
      actionType: AuditLogAction.EMOJI_CREATE,
    });
    expect(ownerCreates).toHaveLength(3);
    expect(ownerCreates.every((e) => e.actor?.id === owner.id && e.actionType === 60)).toBe(true);
    expect(await log().auditLog(owner, server.id, { actionType: AuditLogAction.MEMBER_KICK })).toEqual([]);
    expect(await log().auditLog(owner, server.id, { actorId: nextSnowflake() })).toEqual([]);
  });

  it('pages with before and limit: every entry exactly once, newest first, and before is exclusive', async () => {
    const { owner, server, all } = await auditedServer();
    const seen: string[] = [];
    let before: string | undefined;
    for (;;) {
      const page = await log().auditLog(owner, server.id, { limit: 3, before });
      if (page.length === 0) break;
      expect(page.length).toBeLessThanOrEqual(3);
      seen.push(...ids(page));
      before = page[page.length - 1].id;
    }
    expect(seen).toEqual(all.map((r) => r.id));
    expect([...seen].sort(desc)).toEqual(seen);
    const afterThird = await log().auditLog(owner, server.id, { before: all[2].id });
    expect(ids(afterThird)).toEqual(all.slice(3).map((r) => r.id));
    const ownerBefore = await log().auditLog(owner, server.id, { actorId: owner.id, before: all[0].id, limit: 2 });
    expect(ids(ownerBefore)).toEqual(
      all
        .filter((r) => r.actorId === owner.id)
        .slice(0, 2)
        .map((r) => r.id),
    );
  });

  it('requires VIEW_AUDIT_LOG: refused without it, allowed with it, the owner and administrators always', async () => {
    const { owner, server, all } = await auditedServer();
    const viewer = await register('viewer');
    const admin = await register('admin');
    const plain = await register('plain');
    const outsider = await register('outsider');
    await addMember(server, viewer, PermissionFlags.VIEW_AUDIT_LOG);
    await addMember(server, admin, PermissionFlags.ADMINISTRATOR);
    await addMember(
      server,
      plain,
      PermissionFlags.MANAGE_GUILD | PermissionFlags.MANAGE_GUILD_EXPRESSIONS | PermissionFlags.BAN_MEMBERS,
    );
    expect(ids(await log().auditLog(viewer, server.id))).toEqual(all.map((r) => r.id));
    expect(ids(await log().auditLog(admin, server.id))).toEqual(all.map((r) => r.id));
    expect(await log().auditLog(owner, server.id, { limit: 1 })).toHaveLength(1);
    const error = await log()
      .auditLog(plain, server.id)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MissingPermission);
    expect((error as MissingPermission).permission).toBe('VIEW_AUDIT_LOG');
    await expect(log().auditLog(outsider, server.id)).rejects.toBeInstanceOf(NotAMember);
    await expect(log().auditLog(owner, nextSnowflake())).rejects.toBeInstanceOf(NotAMember);
  });

  it('refuses malformed queries with ValidationFailed', async () => {
    const owner = await register('querier');
    const server = await makeServer(owner);
    const bad: unknown[] = [
      { limit: 0 },
      { limit: 101 },
      { limit: 1.5 },
      { limit: '10' },
      { actionType: 999 },
      { actionType: '60' },
      { before: 'yesterday' },
      { before: -1 },
      { actorId: 'someone' },
      null,
      [],
    ];
    for (const query of bad) {
      await expect(log().auditLog(owner, server.id, query as never)).rejects.toBeInstanceOf(ValidationFailed);
    }
    await expect(log().auditLog(owner, 'server')).rejects.toBeInstanceOf(ValidationFailed);
    await expect(log().auditLog({} as User, server.id)).rejects.toBeInstanceOf(ValidationFailed);
    expect(await log().auditLog(owner, server.id, { limit: 100 })).toEqual([]);
    expect(await log().auditLog(owner, server.id, { limit: 1 })).toEqual([]);
  });

  it('reads pages through the ("serverId", "id") index on 60,000 entries of 200 servers, unfiltered and keyset pages without sorting', async () => {
    const owner = await register('bigowner');
    const actor = await register('bigactor');
    const server = await makeServer(owner);
    await addMember(server, actor);
    const base = BigInt(nextSnowflake()) - 1_000_000n;
    const bulk = await db().sql<{ id: string }>(
      `insert into "Server" (id, name, "ownerId") select $1::bigint - g, 'bulk ' || g, $2 from generate_series(1,
        199) as g returning id::text`,
      [base.toString(), owner.id],
    );
    const serverIds = [server.id, ...bulk.map((r) => r.id)];
    await db().sql(
      `insert into "AuditLogEntry" (id, "serverId", "actorId", "actionType", "targetId", changes)
       select $1::bigint + g, ($2::bigint[])[1 + g % 200], case when g % 7 = 0 then $3::bigint else $4::bigint end,
              (array[1, 10, 20, 22, 30, 60, 90])[1 + g % 7], g, '[]'
         from generate_series(1, 60000) as g`,
      [base.toString(), serverIds, actor.id, owner.id],
    );
    await db().sql(`analyze "AuditLogEntry"`);
    const repo = db().fork().getRepository(AuditLogEntry);
    const plan = async (query: AuditLogQuery) => {
      const sql = repo.auditLogSql(server.id, query);
      const text = (await db().sql<{ 'QUERY PLAN': string }>(`explain ${sql}`)).map((r) => r['QUERY PLAN']).join('\n');
      return { text, why: `${sql}\n${text}` };
    };
    // Unfiltered and keyset pages walk the index backwards and stop at the limit: no sort, no scan
    // of the server's other rows.
    for (const query of [{}, { limit: 100 }, { before: (base + 30000n).toString() }]) {
      const { text, why } = await plan(query);
      expect(text, why).toMatch(/Index Scan Backward using "AuditLogEntry_serverId_id_index"/);
      expect(text, why).not.toMatch(/Sort|Seq Scan|AuditLogEntry_pkey/);
      if ('before' in query)
        expect(text, why).toMatch(/Index Cond: \(\("serverId" = '\d+'::bigint\) AND \(id < '\d+'::bigint\)\)/);
    }
    // Filtered pages read the same index (the filter applies to the server's rows only), never the whole table.
    for (const query of [
      { actorId: actor.id },
      { actionType: AuditLogAction.EMOJI_CREATE },
      { actorId: owner.id, actionType: AuditLogAction.CHANNEL_CREATE, before: (base + 50000n).toString(), limit: 10 },
    ]) {
      const { text, why } = await plan(query);
      expect(text, why).toMatch(
        /Index Scan (Backward )?using "AuditLogEntry_serverId_id_index"|Bitmap Index Scan on "AuditLogEntry_serverId_id_index"/,
      );
      expect(text, why).toMatch(/Index Cond: \(+"serverId" = '\d+'::bigint\)/);
      expect(text, why).not.toMatch(/Seq Scan|AuditLogEntry_pkey/);
    }
    // The query the plan describes returns what the data says: the server's 300 rows, filtered, newest first.
    const viewer = await log().auditLog(owner, server.id, { limit: 100 });
    expect(viewer).toHaveLength(100);
    const page = await log().auditLog(owner, server.id, { actorId: actor.id, limit: 5 });
    expect(page).toHaveLength(5);
    expect(page.every((e) => e.actor?.id === actor.id && e.server.id === server.id)).toBe(true);
    expect([...ids(page)].sort(desc)).toEqual(ids(page));
    const expected = await db().sql<{ id: string }>(
      `select id::text from "AuditLogEntry" where "serverId" = $1 and "actorId" = $2 order by id desc limit 5`,
      [server.id, actor.id],
    );
    expect(ids(page)).toEqual(expected.map((r) => r.id));
  });
});
