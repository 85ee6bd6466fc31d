import { describe, expect, it } from 'vitest';
import { LimitReached, MissingPermission, NotAMember, NotFound, ValidationFailed } from '../src/domain/errors';
import { PermissionFlags } from '../src/domain/permissions';
import { nextSnowflake } from '../src/domain/snowflake';
import { AuditLogAction } from '../src/entities/server/AuditLogEntry';
import { Emoji } from '../src/entities/server/Emoji';
import { Server } from '../src/entities/server/Server';
import { StickerFormat } from '../src/entities/server/Sticker';
import { User } from '../src/entities/user/User';
import { fulfilled, race, rejected, useTestDatabase } from './support/db';
import { EmojiService, StickerService } from '../src/servers/expression-service';
import { ServerService } from '../src/servers/server-service';
import { UserService } from '../src/identity/user-service';

const db = useTestDatabase({ poolSize: 30 });

let seq = 0;
async function register(prefix: string): Promise<User> {
  return new UserService(db().fork()).register({ username: `${prefix}${++seq}` });
}

async function makeServer(owner?: User): Promise<{ owner: User; server: Server }> {
  const o = owner ?? (await register('owner'));
  const server = await new ServerService(db().fork()).createServer(o, { name: `Guild ${++seq}` });
  return { owner: o, server };
}

/** Adds a member by SQL; with permissions, through a role of their own that carries them. Returns the role id. */
async function addMember(server: Server, user: User, permissions?: bigint): Promise<string | null> {
  await db().sql(`insert into "ServerMember" ("serverId", "userId") values ($1, $2)`, [server.id, user.id]);
  if (permissions === undefined) return null;
  const roleId = await addRole(server, permissions);
  await db().sql(`insert into "ServerMemberRole" ("serverId", "userId", "roleId") values ($1, $2, $3)`, [
    server.id,
    user.id,
    roleId,
  ]);
  return roleId;
}

async function addRole(server: Server, permissions = 0n): Promise<string> {
  const roleId = nextSnowflake();
  await db().sql(`insert into "Role" (id, "serverId", name, permissions, position) values ($1, $2, $3, $4, 1)`, [
    roleId,
    server.id,
    `r${++seq}`,
    permissions.toString(),
  ]);
  return roleId;
}

async function setTier(server: Server, tier: number) {
  await db().sql(`update "Server" set "premiumTier" = $2 where id = $1`, [server.id, tier]);
}

/** Inserts `n` emoji of one kind in one statement. */
async function fillEmoji(server: Server, n: number, animated: boolean) {
  const ids = Array.from({ length: n }, () => nextSnowflake());
  await db().sql(
    `insert into "Emoji" (id, "serverId", name, animated) select t.id, $2, 'fill_' || t.ord, $3
      from unnest($1::bigint[]) with ordinality as t(id, ord)`,
    [ids, server.id, animated],
  );
}

async function fillStickers(server: Server, n: number) {
  const ids = Array.from({ length: n }, () => nextSnowflake());
  await db().sql(
    `insert into "Sticker" (id, "serverId", name) select t.id, $2, 'fill_' || t.ord
      from unnest($1::bigint[]) with ordinality as t(id, ord)`,
    [ids, server.id],
  );
}

async function count(table: string, serverId: string, where = 'true', params: unknown[] = []): Promise<number> {
  const [row] = await db().sql<{ n: number }>(
    `select count(*)::int as n from "${table}" where "serverId" = $1 and ${where}`,
    [serverId, ...params],
  );
  return row.n;
}

interface EventRow {
  type: string;
  payload: Record<string, unknown>;
}
/** The server's events after GUILD_CREATE, in commit order. */
async function eventsOf(serverId: string): Promise<EventRow[]> {
  return db().sql<EventRow>(
    `select type, payload from "DomainEvent" where "serverId" = $1 and type <> 'GUILD_CREATE' order by id`,
    [serverId],
  );
}

interface AuditRow {
  actorId: string | null;
  actionType: number;
  targetId: string | null;
  changes: unknown;
  reason: string | null;
}
async function auditOf(serverId: string): Promise<AuditRow[]> {
  return db().sql<AuditRow>(
    `select "actorId"::text as "actorId", "actionType", "targetId"::text as "targetId", changes, reason
      from "AuditLogEntry" where "serverId" = $1 order by id`,
    [serverId],
  );
}

const emojis = () => new EmojiService(db().fork());
const stickers = () => new StickerService(db().fork());
const EMOJI_SLOTS = [50, 100, 150, 250];
const STICKER_SLOTS = [5, 15, 30, 60];

/** The state that a refused operation must leave untouched. */
async function snapshot(serverId: string) {
  return {
    emoji: await db().sql(`select id::text, name, animated, roles from "Emoji" where "serverId" = $1 order by id`, [
      serverId,
    ]),
    stickers: await db().sql(
      `select id::text, name, description, tags, "formatType" from "Sticker" where "serverId" = $1 order by id`,
      [serverId],
    ),
    audit: await count('AuditLogEntry', serverId),
    events: (await eventsOf(serverId)).length,
  };
}

describe('emoji', () => {
  it('creates an emoji with audit entry 60 and GUILD_EMOJIS_UPDATE carrying the full list', async () => {
    const { owner, server } = await makeServer();
    const first = await emojis().createEmoji(
      owner,
      server.id,
      { name: 'party_parrot', animated: true },
      { reason: 'for the party' },
    );
    const second = await emojis().createEmoji(owner, server.id, { name: 'blob' });

    const rows = await db().sql(
      `select id::text, name, animated, roles, "creatorId"::text as "creatorId" from "Emoji" where "serverId" = $1
        order by id`,
      [server.id],
    );
    expect(rows).toEqual([
      { id: first.id, name: 'party_parrot', animated: true, roles: [], creatorId: owner.id },
      { id: second.id, name: 'blob', animated: false, roles: [], creatorId: owner.id },
    ]);
    expect(await auditOf(server.id)).toEqual([
      {
        actorId: owner.id,
        actionType: AuditLogAction.EMOJI_CREATE,
        targetId: first.id,
        changes: [
          { key: 'name', new: 'party_parrot' },
          { key: 'animated', new: true },
          { key: 'roles', new: [] },
        ],
        reason: 'for the party',
      },
      {
        actorId: owner.id,
        actionType: AuditLogAction.EMOJI_CREATE,
        targetId: second.id,
        changes: [
          { key: 'name', new: 'blob' },
          { key: 'animated', new: false },
          { key: 'roles', new: [] },
        ],
        reason: null,
      },
    ]);
    const events = await eventsOf(server.id);
    expect(events.map((e) => e.type)).toEqual([
      'GUILD_AUDIT_LOG_ENTRY_CREATE',
      'GUILD_EMOJIS_UPDATE',
      'GUILD_AUDIT_LOG_ENTRY_CREATE',
      'GUILD_EMOJIS_UPDATE',
    ]);
    const updates = events.filter((e) => e.type === 'GUILD_EMOJIS_UPDATE').map((e) => e.payload);
    expect(updates).toEqual([
      {
        serverId: server.id,
        emojis: [{ id: first.id, name: 'party_parrot', animated: true, roles: [], creatorId: owner.id }],
      },
      {
        serverId: server.id,
        emojis: [
          { id: first.id, name: 'party_parrot', animated: true, roles: [], creatorId: owner.id },
          { id: second.id, name: 'blob', animated: false, roles: [], creatorId: owner.id },
        ],
      },
    ]);
  });

  it('lets a member with MANAGE_GUILD_EXPRESSIONS create, update and delete, with audit 60/61/62 and full lists', async () => {
    const { owner, server } = await makeServer();
    const manager = await register('manager');
    await addMember(server, manager, PermissionFlags.MANAGE_GUILD_EXPRESSIONS);
    const mods = await addRole(server);
    await emojis().createEmoji(owner, server.id, { name: 'keep' });
    const emoji = await emojis().createEmoji(manager, server.id, { name: 'wave', roles: [mods, mods] });
    expect(emoji.roles).toEqual([mods]);

    await emojis().updateEmoji(manager, server.id, emoji.id, { name: 'wave2', roles: [] }, { reason: 'rename' });
    const [row] = await db().sql(`select name, roles from "Emoji" where id = $1`, [emoji.id]);
    expect(row).toEqual({ name: 'wave2', roles: [] });
    await emojis().deleteEmoji(manager, server.id, emoji.id, { reason: 'cleanup' });
    expect(await count('Emoji', server.id)).toBe(1);

    const audit = (await auditOf(server.id)).slice(1);
    expect(audit).toEqual([
      {
        actorId: manager.id,
        actionType: 60,
        targetId: emoji.id,
        changes: [
          { key: 'name', new: 'wave' },
          { key: 'animated', new: false },
          { key: 'roles', new: [mods] },
        ],
        reason: null,
      },
      {
        actorId: manager.id,
        actionType: 61,
        targetId: emoji.id,
        changes: [
          { key: 'name', old: 'wave', new: 'wave2' },
          { key: 'roles', old: [mods], new: [] },
        ],
        reason: 'rename',
      },
      {
        actorId: manager.id,
        actionType: 62,
        targetId: emoji.id,
        changes: [
          { key: 'name', old: 'wave2' },
          { key: 'animated', old: false },
          { key: 'roles', old: [] },
        ],
        reason: 'cleanup',
      },
    ]);
    const lists = (await eventsOf(server.id))
      .filter((e) => e.type === 'GUILD_EMOJIS_UPDATE')
      .map((e) => (e.payload.emojis as { id: string; name: string }[]).map((x) => x.name));
    expect(lists).toEqual([['keep'], ['keep', 'wave'], ['keep', 'wave2'], ['keep']]);
    expect(await count('DomainEvent', server.id, `type = 'GUILD_AUDIT_LOG_ENTRY_CREATE'`)).toBe(4);
  });

  it('refuses members without MANAGE_GUILD_EXPRESSIONS and non-members, writing nothing', async () => {
    const { owner, server } = await makeServer();
    const emoji = await emojis().createEmoji(owner, server.id, { name: 'mine' });
    const plain = await register('plain');
    await addMember(server, plain, PermissionFlags.MANAGE_ROLES | PermissionFlags.MANAGE_CHANNELS);
    const outsider = await register('outsider');
    const before = await snapshot(server.id);

    for (const op of [
      () => emojis().createEmoji(plain, server.id, { name: 'nope' }),
      () => emojis().updateEmoji(plain, server.id, emoji.id, { name: 'nope' }),
      () => emojis().deleteEmoji(plain, server.id, emoji.id),
    ]) {
      const error = await op().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(MissingPermission);
      expect((error as MissingPermission).permission).toBe('MANAGE_GUILD_EXPRESSIONS');
    }
    for (const op of [
      () => emojis().createEmoji(outsider, server.id, { name: 'nope' }),
      () => emojis().updateEmoji(outsider, server.id, emoji.id, { name: 'nope' }),
      () => emojis().deleteEmoji(outsider, server.id, emoji.id),
    ]) {
      await expect(op()).rejects.toBeInstanceOf(NotAMember);
    }
    expect(await snapshot(server.id)).toEqual(before);
  });

  it('honours ADMINISTRATOR for expressions', async () => {
    const { server } = await makeServer();
    const admin = await register('admin');
    await addMember(server, admin, PermissionFlags.ADMINISTRATOR);
    await expect(emojis().createEmoji(admin, server.id, { name: 'admin_made' })).resolves.toBeInstanceOf(Emoji);
  });

  it('refuses bad names, flags, roles and reasons with ValidationFailed, writing nothing', async () => {
    const { owner, server } = await makeServer();
    const { server: other } = await makeServer(owner);
    const foreignRole = await addRole(other);
    const emoji = await emojis().createEmoji(owner, server.id, { name: 'base' });
    const before = await snapshot(server.id);
    const badNames: unknown[] = ['a', 'x'.repeat(33), 'has space', 'émoji', 'a-b', 'colon:', '', 42, null, undefined];
    for (const name of badNames) {
      await expect(emojis().createEmoji(owner, server.id, { name: name as string })).rejects.toBeInstanceOf(
        ValidationFailed,
      );
      if (name !== undefined)
        await expect(emojis().updateEmoji(owner, server.id, emoji.id, { name: name as string })).rejects.toBeInstanceOf(
          ValidationFailed,
        );
    }
    for (const animated of ['yes', 1, null]) {
      await expect(
        emojis().createEmoji(owner, server.id, { name: 'ok_name', animated: animated as unknown as boolean }),
      ).rejects.toBeInstanceOf(ValidationFailed);
    }
    for (const roles of ['x', [1], ['not-a-snowflake'], [foreignRole], [nextSnowflake()], null]) {
      await expect(
        emojis().createEmoji(owner, server.id, { name: 'ok_name', roles: roles as string[] }),
      ).rejects.toBeInstanceOf(ValidationFailed);
      await expect(
        emojis().updateEmoji(owner, server.id, emoji.id, { roles: roles as string[] }),
      ).rejects.toBeInstanceOf(ValidationFailed);
    }
    for (const reason of ['', 'r'.repeat(513), 7]) {
      await expect(
        emojis().createEmoji(owner, server.id, { name: 'ok_name' }, { reason: reason as string }),
      ).rejects.toBeInstanceOf(ValidationFailed);
      await expect(
        emojis().deleteEmoji(owner, server.id, emoji.id, { reason: reason as string }),
      ).rejects.toBeInstanceOf(ValidationFailed);
    }
    await expect(emojis().createEmoji(owner, 'nope', { name: 'ok_name' })).rejects.toBeInstanceOf(ValidationFailed);
    await expect(emojis().createEmoji(owner, server.id, null as never)).rejects.toBeInstanceOf(ValidationFailed);
    await expect(emojis().createEmoji({} as User, server.id, { name: 'ok_name' })).rejects.toBeInstanceOf(
      ValidationFailed,
    );
    expect(await snapshot(server.id)).toEqual(before);
  });

  it('refuses emoji of another server or unknown ids with NotFound, and an update that changes nothing writes nothing', async () => {
    const { owner, server } = await makeServer();
    const { server: other } = await makeServer(owner);
    const foreign = await emojis().createEmoji(owner, other.id, { name: 'theirs' });
    const emoji = await emojis().createEmoji(owner, server.id, { name: 'ours' });
    const before = await snapshot(server.id);
    await expect(emojis().updateEmoji(owner, server.id, foreign.id, { name: 'stolen' })).rejects.toBeInstanceOf(
      NotFound,
    );
    await expect(emojis().deleteEmoji(owner, server.id, foreign.id)).rejects.toBeInstanceOf(NotFound);
    await expect(emojis().deleteEmoji(owner, server.id, nextSnowflake())).rejects.toBeInstanceOf(NotFound);
    const same = await emojis().updateEmoji(owner, server.id, emoji.id, { name: 'ours', roles: [] });
    expect(same.name).toBe('ours');
    await emojis().updateEmoji(owner, server.id, emoji.id, {});
    expect(await snapshot(server.id)).toEqual(before);
    const [{ name }] = await db().sql<{ name: string }>(`select name from "Emoji" where id = $1`, [foreign.id]);
    expect(name).toBe('theirs');
  });

  it('fills each kind exactly to its tier slots (50/100/150/250), counting static and animated separately', async () => {
    for (let tier = 0; tier <= 3; tier++) {
      const slots = EMOJI_SLOTS[tier];
      const { owner, server } = await makeServer();
      await setTier(server, tier);
      for (const animated of [false, true]) {
        await fillEmoji(server, slots - 1, animated);
        const last = await emojis().createEmoji(owner, server.id, { name: `last_${animated}`, animated });
        expect(last.animated).toBe(animated);
        expect(await count('Emoji', server.id, 'animated = $2', [animated])).toBe(slots);
        const before = await snapshot(server.id);
        const error = await emojis()
          .createEmoji(owner, server.id, { name: 'one_more', animated })
          .catch((e: unknown) => e);
        expect(error).toBeInstanceOf(LimitReached);
        expect((error as LimitReached).max).toBe(slots);
        expect((error as LimitReached).limit).toBe(animated ? 'animatedEmoji' : 'staticEmoji');
        expect(await snapshot(server.id)).toEqual(before);
      }
      // A full kind does not block editing or freeing a slot.
      const [{ id }] = await db().sql<{ id: string }>(
        `select id::text from "Emoji" where "serverId" = $1 and not animated limit 1`,
        [server.id],
      );
      await emojis().deleteEmoji(owner, server.id, id);
      await expect(emojis().createEmoji(owner, server.id, { name: 'freed' })).resolves.toBeInstanceOf(Emoji);
      expect(await count('Emoji', server.id)).toBe(2 * slots);
    }
  });

  it('keeps concurrent creations within the slots: 30 racing creators, 5 static and 3 animated slots left', async () => {
    const { owner, server } = await makeServer();
    await setTier(server, 1);
    await fillEmoji(server, 95, false);
    await fillEmoji(server, 97, true);
    const results = await race(db(), 30, (em, i) =>
      new EmojiService(em).createEmoji(owner, server.id, { name: `race_${i}`, animated: i % 2 === 1 }),
    );
    const made = fulfilled(results);
    expect(rejected(results).every((e) => e instanceof LimitReached)).toBe(true);
    expect(made.filter((e) => !e.animated)).toHaveLength(5);
    expect(made.filter((e) => e.animated)).toHaveLength(3);
    expect(await count('Emoji', server.id, 'not animated')).toBe(100);
    expect(await count('Emoji', server.id, 'animated')).toBe(100);
    expect(await count('AuditLogEntry', server.id, '"actionType" = 60')).toBe(8);
    // Each event's full list is the list its transaction committed: each one holds one more emoji.
    const lists = (await eventsOf(server.id))
      .filter((e) => e.type === 'GUILD_EMOJIS_UPDATE')
      .map((e) => (e.payload.emojis as unknown[]).length);
    expect(lists).toEqual([193, 194, 195, 196, 197, 198, 199, 200]);
  });
});

describe('stickers', () => {
  it('creates, updates and deletes with audit 90/91/92 and GUILD_STICKERS_UPDATE carrying the full list', async () => {
    const { owner, server } = await makeServer();
    const manager = await register('stickerman');
    await addMember(server, manager, PermissionFlags.MANAGE_GUILD_EXPRESSIONS);
    const a = await stickers().createSticker(owner, server.id, {
      name: 'Hello',
      description: 'waves',
      tags: 'wave',
      formatType: StickerFormat.APNG,
    });
    const b = await stickers().createSticker(manager, server.id, { name: '  Bye  ' }, { reason: 'new one' });
    expect(b.name).toBe('Bye');
    await stickers().updateSticker(
      manager,
      server.id,
      b.id,
      { description: 'leaves', tags: 'door' },
      { reason: 'describe' },
    );
    await stickers().updateSticker(manager, server.id, b.id, { description: 'leaves' });
    await stickers().deleteSticker(manager, server.id, a.id);

    const rows = await db().sql(
      `select id::text, name, description, tags, "formatType", "creatorId"::text as "creatorId" from "Sticker"
        where "serverId" = $1`,
      [server.id],
    );
    expect(rows).toEqual([
      { id: b.id, name: 'Bye', description: 'leaves', tags: 'door', formatType: 'PNG', creatorId: manager.id },
    ]);
    const audit = await auditOf(server.id);
    expect(audit.map((r) => [r.actorId, r.actionType, r.targetId, r.reason])).toEqual([
      [owner.id, 90, a.id, null],
      [manager.id, 90, b.id, 'new one'],
      [manager.id, 91, b.id, 'describe'],
      [manager.id, 92, a.id, null],
    ]);
    expect(audit[2].changes).toEqual([
      { key: 'description', old: null, new: 'leaves' },
      { key: 'tags', old: '', new: 'door' },
    ]);
    expect(audit[3].changes).toEqual([
      { key: 'name', old: 'Hello' },
      { key: 'description', old: 'waves' },
      { key: 'tags', old: 'wave' },
      { key: 'formatType', old: 'APNG' },
    ]);
    const lists = (await eventsOf(server.id))
      .filter((e) => e.type === 'GUILD_STICKERS_UPDATE')
      .map((e) => (e.payload.stickers as { name: string }[]).map((s) => s.name));
    expect(lists).toEqual([['Hello'], ['Hello', 'Bye'], ['Hello', 'Bye'], ['Bye']]);
    expect(await count('DomainEvent', server.id, `type = 'GUILD_AUDIT_LOG_ENTRY_CREATE'`)).toBe(4);
  });

  it('refuses without MANAGE_GUILD_EXPRESSIONS, non-members, bad fields and foreign stickers, writing nothing', async () => {
    const { owner, server } = await makeServer();
    const { server: other } = await makeServer(owner);
    const sticker = await stickers().createSticker(owner, server.id, { name: 'Base' });
    const foreign = await stickers().createSticker(owner, other.id, { name: 'Theirs' });
    const plain = await register('nosticker');
    await addMember(server, plain, PermissionFlags.MANAGE_GUILD);
    const outsider = await register('stranger');
    const before = await snapshot(server.id);

    for (const op of [
      () => stickers().createSticker(plain, server.id, { name: 'Nope' }),
      () => stickers().updateSticker(plain, server.id, sticker.id, { name: 'Nope' }),
      () => stickers().deleteSticker(plain, server.id, sticker.id),
    ]) {
      const error = await op().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(MissingPermission);
      expect((error as MissingPermission).permission).toBe('MANAGE_GUILD_EXPRESSIONS');
    }
    await expect(stickers().createSticker(outsider, server.id, { name: 'Nope' })).rejects.toBeInstanceOf(NotAMember);
    await expect(stickers().deleteSticker(outsider, server.id, sticker.id)).rejects.toBeInstanceOf(NotAMember);

    const bad: unknown[] = [
      { name: 'a' },
      { name: '   b  ' },
      { name: 'n'.repeat(31) },
      { name: 'bad\u0007name' },
      { name: 42 },
      {},
      { name: 'Fine', description: 'd'.repeat(101) },
      { name: 'Fine', description: 5 },
      { name: 'Fine', tags: 't'.repeat(201) },
      { name: 'Fine', tags: null },
      { name: 'Fine', formatType: 'JPG' },
    ];
    for (const input of bad) {
      await expect(stickers().createSticker(owner, server.id, input as never)).rejects.toBeInstanceOf(ValidationFailed);
    }
    for (const changes of [{ name: 'x' }, { description: 'd'.repeat(101) }, { tags: 't'.repeat(201) }]) {
      await expect(stickers().updateSticker(owner, server.id, sticker.id, changes)).rejects.toBeInstanceOf(
        ValidationFailed,
      );
    }
    await expect(stickers().createSticker(owner, server.id, { name: 'Fine' }, { reason: '' })).rejects.toBeInstanceOf(
      ValidationFailed,
    );
    await expect(stickers().updateSticker(owner, server.id, foreign.id, { name: 'Stolen' })).rejects.toBeInstanceOf(
      NotFound,
    );
    await expect(stickers().deleteSticker(owner, server.id, foreign.id)).rejects.toBeInstanceOf(NotFound);
    await stickers().updateSticker(owner, server.id, sticker.id, { name: 'Base' });
    expect(await snapshot(server.id)).toEqual(before);
  });

  it('accepts the field limits exactly (name 30, description 100, tags 200)', async () => {
    const { owner, server } = await makeServer();
    const s = await stickers().createSticker(owner, server.id, {
      name: 'n'.repeat(30),
      description: 'd'.repeat(100),
      tags: 't'.repeat(200),
      formatType: StickerFormat.LOTTIE,
    });
    const [row] = await db().sql(`select name, description, tags, "formatType" from "Sticker" where id = $1`, [s.id]);
    expect(row).toEqual({
      name: 'n'.repeat(30),
      description: 'd'.repeat(100),
      tags: 't'.repeat(200),
      formatType: 'LOTTIE',
    });
    await stickers().createSticker(owner, server.id, { name: 'ab', description: '' });
    const [{ description }] = await db().sql<{ description: string | null }>(
      `select description from "Sticker" where name = 'ab' and "serverId" = $1`,
      [server.id],
    );
    expect(description).toBeNull();
  });

  it('fills exactly to the tier slots (5/15/30/60)', async () => {
    for (let tier = 0; tier <= 3; tier++) {
      const slots = STICKER_SLOTS[tier];
      const { owner, server } = await makeServer();
      await setTier(server, tier);
      await fillStickers(server, slots - 1);
      await stickers().createSticker(owner, server.id, { name: 'Last one' });
      expect(await count('Sticker', server.id)).toBe(slots);
      const before = await snapshot(server.id);
      const error = await stickers()
        .createSticker(owner, server.id, { name: 'One more' })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(LimitReached);
      expect(error).toMatchObject({ limit: 'stickers', max: slots });
      expect(await snapshot(server.id)).toEqual(before);
    }
  });

  it('keeps concurrent sticker creations within the slots', async () => {
    const { owner, server } = await makeServer();
    await fillStickers(server, 2);
    const results = await race(db(), 20, (em, i) =>
      new StickerService(em).createSticker(owner, server.id, { name: `Race ${i}` }),
    );
    expect(fulfilled(results)).toHaveLength(3);
    expect(rejected(results).every((e) => e instanceof LimitReached)).toBe(true);
    expect(await count('Sticker', server.id)).toBe(5);
    expect(await count('AuditLogEntry', server.id, '"actionType" = 90')).toBe(3);
  });
});
