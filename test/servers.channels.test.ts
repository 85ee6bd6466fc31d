import { describe, expect, it } from 'vitest';
import { LimitReached, MissingPermission, NotFound, ValidationFailed } from '../src/domain/errors';
import { PermissionFlags as F } from '../src/domain/permissions';
import { nextSnowflake } from '../src/domain/snowflake';
import { Channel, ChannelType } from '../src/entities/channel/Channel';
import { User } from '../src/entities/user/User';
import { fulfilled, race, rejected, useTestDatabase } from './support/db';
import { ChannelService } from '../src/servers/channel-service';
import { ServerService } from '../src/servers/server-service';
import { UserService } from '../src/identity/user-service';

const db = useTestDatabase({ poolSize: 20 });

const channels = () => new ChannelService(db().fork());

async function register(username: string): Promise<User> {
  return new UserService(db().fork()).register({ username });
}

async function newServer(name = 'Channels') {
  const owner = await register('owner');
  const server = await new ServerService(db().fork()).createServer(owner, { name });
  const rows = await db().sql<{ id: string; name: string }>(
    `select id::text, name from "Channel" where "serverId" = $1`,
    [server.id],
  );
  const byName = Object.fromEntries(rows.map((r) => [r.name, r.id]));
  return {
    owner,
    server,
    textCategory: byName['Text Channels'],
    voiceCategory: byName['Voice Channels'],
    general: byName['general'],
    voice: byName['General'],
  };
}

async function addMember(serverId: string, username: string, permissions?: bigint): Promise<User> {
  const user = await register(username);
  await db().sql(`insert into "ServerMember" ("serverId", "userId") values ($1, $2)`, [serverId, user.id]);
  await db().sql(`update "Server" set "memberCount" = "memberCount" + 1 where id = $1`, [serverId]);
  if (permissions !== undefined) {
    const roleId = nextSnowflake();
    await db().sql(`insert into "Role" (id, "serverId", name, permissions, position) values ($1, $2, 'staff', $3, 5)`, [
      roleId,
      serverId,
      permissions.toString(),
    ]);
    await db().sql(`insert into "ServerMemberRole" ("serverId", "userId", "roleId") values ($1, $2, $3)`, [
      serverId,
      user.id,
      roleId,
    ]);
  }
  return user;
}

async function fillChannels(serverId: string, n: number, parentId: string | null = null): Promise<void> {
  await db().sql(
    `insert into "Channel" (id, "serverId", type, name, "parentId", position) select x.id, $1, 'GUILD_TEXT', 'filler',
      $3, x.n from unnest($2::bigint[]) with ordinality as x(id, n)`,
    [serverId, Array.from({ length: n }, () => nextSnowflake()), parentId],
  );
}

async function channelRow(id: string) {
  const [row] = await db().sql<Record<string, unknown>>(
    `select name, type, topic, position, "parentId"::text as "parentId", nsfw, "rateLimitPerUser", bitrate, "userLimit"
      from "Channel" where id = $1`,
    [id],
  );
  return row;
}

async function countChannels(where: string, param: string): Promise<number> {
  const [{ n }] = await db().sql<{ n: string }>(`select count(*) as n from "Channel" where ${where} = $1`, [param]);
  return Number(n);
}

async function audit(serverId: string) {
  return db().sql<{ actionType: number; targetId: string; changes: { key: string; old?: unknown; new?: unknown }[] }>(
    `select "actionType", "targetId"::text, changes from "AuditLogEntry" where "serverId" = $1 order by id`,
    [serverId],
  );
}

async function lastEventId(): Promise<string> {
  const [row] = await db().sql<{ id: string | null }>(`select max(id)::text as id from "DomainEvent"`);
  return row.id ?? '0';
}

async function events(serverId: string, since: string) {
  return db().sql<{ type: string; channelId: string | null; payload: Record<string, unknown> }>(
    `select type, "channelId"::text, payload from "DomainEvent" where "serverId" = $1 and id > $2 order by id`,
    [serverId, since],
  );
}

async function writes(serverId: string) {
  const [row] = await db().sql(
    `select (select count(*) from "Channel" where "serverId" = $1) as channels,
            (select md5(coalesce(string_agg(c::text, ',' order by c.id), '')) from "Channel" c
              where "serverId" = $1) as channel_rows,
            (select count(*) from "AuditLogEntry") as audit,
            (select count(*) from "DomainEvent") as events`,
    [serverId],
  );
  return row;
}

describe('creating channels', () => {
  it('creates a text channel at the end of its category with audit 10 and CHANNEL_CREATE', async () => {
    const { owner, server, textCategory } = await newServer();
    const since = await lastEventId();
    const channel = await channels().createChannel(
      owner,
      server.id,
      {
        type: ChannelType.GUILD_TEXT,
        name: 'memes',
        topic: 'only memes',
        parentId: textCategory,
        rateLimitPerUser: 30,
      },
      { reason: 'fun' },
    );
    expect(await channelRow(channel.id)).toEqual({
      name: 'memes',
      type: 'GUILD_TEXT',
      topic: 'only memes',
      position: 1, // 'general' holds 0
      parentId: textCategory,
      nsfw: false,
      rateLimitPerUser: 30,
      bitrate: null,
      userLimit: null,
    });
    const [entry] = await audit(server.id);
    expect(entry).toMatchObject({ actionType: 10, targetId: channel.id });
    expect(entry.changes).toEqual(
      expect.arrayContaining([
        { key: 'name', new: 'memes' },
        { key: 'parentId', new: textCategory },
      ]),
    );
    const evs = await events(server.id, since);
    expect(evs.map((e) => e.type).sort()).toEqual(['CHANNEL_CREATE', 'GUILD_AUDIT_LOG_ENTRY_CREATE']);
    expect(evs.find((e) => e.type === 'CHANNEL_CREATE')).toMatchObject({
      channelId: channel.id,
      payload: { channel: { name: 'memes', permissionOverwrites: [] } },
    });
  });

  it('gives voice channels 64 kbps and no user limit by default', async () => {
    const { owner, server, voiceCategory } = await newServer();
    const voice = await channels().createChannel(owner, server.id, {
      type: ChannelType.GUILD_VOICE,
      name: 'talk',
      parentId: voiceCategory,
    });
    expect(await channelRow(voice.id)).toMatchObject({ bitrate: 64_000, userLimit: 0, position: 1 });
  });

  it('checks every field at its boundaries and writes nothing for bad input', async () => {
    const { owner, server, textCategory, general } = await newServer();
    const ok = (input: object) => channels().createChannel(owner, server.id, input as never);
    const before = await writes(server.id);
    const refused: object[] = [
      { type: ChannelType.GUILD_TEXT, name: '' },
      { type: ChannelType.GUILD_TEXT, name: 'x'.repeat(101) },
      { type: 'DM', name: 'dm' },
      { type: ChannelType.GUILD_TEXT, name: 't', topic: 'x'.repeat(1025) },
      { type: ChannelType.GUILD_VOICE, name: 'v', topic: 'voice has no topic' },
      { type: ChannelType.GUILD_TEXT, name: 't', rateLimitPerUser: 21_601 },
      { type: ChannelType.GUILD_TEXT, name: 't', rateLimitPerUser: -1 },
      { type: ChannelType.GUILD_CATEGORY, name: 'c', rateLimitPerUser: 5 },
      { type: ChannelType.GUILD_VOICE, name: 'v', bitrate: 7_999 },
      { type: ChannelType.GUILD_VOICE, name: 'v', bitrate: 96_001 },
      { type: ChannelType.GUILD_TEXT, name: 't', bitrate: 64_000 },
      { type: ChannelType.GUILD_VOICE, name: 'v', userLimit: 100 },
      { type: ChannelType.GUILD_VOICE, name: 'v', userLimit: -1 },
      { type: ChannelType.GUILD_STAGE_VOICE, name: 's', userLimit: 10_001 },
      { type: ChannelType.GUILD_TEXT, name: 't', userLimit: 5 },
      { type: ChannelType.GUILD_TEXT, name: 't', nsfw: 'yes' },
      { type: ChannelType.GUILD_TEXT, name: 't', parentId: general }, // not a category
      { type: ChannelType.GUILD_CATEGORY, name: 'c', parentId: textCategory }, // categories do not nest
      { type: ChannelType.GUILD_TEXT, name: 't', parentId: nextSnowflake() },
      { type: ChannelType.GUILD_TEXT, name: 't', parentId: 'nope' },
    ];
    for (const input of refused)
      await expect(ok(input), JSON.stringify(input)).rejects.toBeInstanceOf(ValidationFailed);
    expect(await writes(server.id)).toEqual(before);
    await expect(ok({ type: ChannelType.GUILD_TEXT, name: 'a' })).resolves.toBeInstanceOf(Channel);
    await expect(
      ok({ type: ChannelType.GUILD_TEXT, name: 'n'.repeat(100), topic: 't'.repeat(1024), rateLimitPerUser: 21_600 }),
    ).resolves.toBeInstanceOf(Channel);
    await expect(
      ok({ type: ChannelType.GUILD_TEXT, name: 'z', rateLimitPerUser: 0, nsfw: true }),
    ).resolves.toBeInstanceOf(Channel);
    await expect(
      ok({ type: ChannelType.GUILD_VOICE, name: 'v', bitrate: 8_000, userLimit: 99 }),
    ).resolves.toBeInstanceOf(Channel);
    await expect(
      ok({ type: ChannelType.GUILD_VOICE, name: 'v', bitrate: 96_000, userLimit: 0 }),
    ).resolves.toBeInstanceOf(Channel);
    await expect(ok({ type: ChannelType.GUILD_STAGE_VOICE, name: 's', userLimit: 10_000 })).resolves.toBeInstanceOf(
      Channel,
    );
  });

  it('raises the bitrate ceiling with the boost tier (128k / 256k / 384k)', async () => {
    const { owner, server } = await newServer();
    for (const [tier, max] of [
      [1, 128_000],
      [2, 256_000],
      [3, 384_000],
    ] as const) {
      await db().sql(`update "Server" set "premiumTier" = $2 where id = $1`, [server.id, tier]);
      await expect(
        channels().createChannel(owner, server.id, { type: ChannelType.GUILD_VOICE, name: 'v', bitrate: max + 1 }),
      ).rejects.toBeInstanceOf(ValidationFailed);
      await expect(
        channels().createChannel(owner, server.id, { type: ChannelType.GUILD_VOICE, name: 'v', bitrate: max }),
      ).resolves.toBeInstanceOf(Channel);
    }
  });

  it('refuses a parent category of another server', async () => {
    const { owner, server } = await newServer('one');
    const other = await newServer('two');
    await expect(
      channels().createChannel(owner, server.id, {
        type: ChannelType.GUILD_TEXT,
        name: 't',
        parentId: other.textCategory,
      }),
    ).rejects.toBeInstanceOf(ValidationFailed);
  });

  it('holds 500 channels per server: the 500th is created, the 501st refused', async () => {
    const { owner, server } = await newServer();
    await fillChannels(server.id, 495); // 4 default + 495 = 499
    await channels().createChannel(owner, server.id, { type: ChannelType.GUILD_TEXT, name: 'five hundred' });
    expect(await countChannels('"serverId"', server.id)).toBe(500);
    const before = await writes(server.id);
    const error = await channels()
      .createChannel(owner, server.id, { type: ChannelType.GUILD_TEXT, name: 'one too many' })
      .catch((e) => e);
    expect(error).toBeInstanceOf(LimitReached);
    expect(error.details).toMatchObject({ limit: 'channels', max: 500 });
    expect(await writes(server.id)).toEqual(before);
  });

  it('holds 50 channels per category, on creation and on moving a channel in', async () => {
    const { owner, server, textCategory, voiceCategory } = await newServer();
    await fillChannels(server.id, 48, textCategory); // 'general' + 48 = 49
    await channels().createChannel(owner, server.id, {
      type: ChannelType.GUILD_TEXT,
      name: 'fiftieth',
      parentId: textCategory,
    });
    expect(await countChannels('"parentId"', textCategory)).toBe(50);
    const error = await channels()
      .createChannel(owner, server.id, { type: ChannelType.GUILD_TEXT, name: 'fifty-first', parentId: textCategory })
      .catch((e) => e);
    expect(error).toBeInstanceOf(LimitReached);
    expect(error.details).toMatchObject({ limit: 'channelsPerCategory', max: 50 });
    const loose = await channels().createChannel(owner, server.id, {
      type: ChannelType.GUILD_TEXT,
      name: 'loose',
      parentId: voiceCategory,
    });
    await expect(
      channels().updateChannel(owner, server.id, loose.id, { parentId: textCategory }),
    ).rejects.toBeInstanceOf(LimitReached);
    expect(await countChannels('"parentId"', textCategory)).toBe(50);
  });

  it('race: 10 concurrent creations into a category holding 48 leave exactly 50', async () => {
    const { owner, server, textCategory } = await newServer();
    await fillChannels(server.id, 47, textCategory); // 48 with 'general'
    const results = await race(db(), 10, (em, i) =>
      new ChannelService(em).createChannel(owner, server.id, {
        type: ChannelType.GUILD_TEXT,
        name: `racer-${i}`,
        parentId: textCategory,
      }),
    );
    expect(fulfilled(results)).toHaveLength(2);
    for (const e of rejected(results)) expect(e).toBeInstanceOf(LimitReached);
    expect(await countChannels('"parentId"', textCategory)).toBe(50);
  });

  it('race: 10 concurrent creations at 498 channels leave exactly 500', async () => {
    const { owner, server } = await newServer();
    await fillChannels(server.id, 494);
    const results = await race(db(), 10, (em, i) =>
      new ChannelService(em).createChannel(owner, server.id, { type: ChannelType.GUILD_TEXT, name: `racer-${i}` }),
    );
    expect(fulfilled(results)).toHaveLength(2);
    for (const e of rejected(results)) expect(e).toBeInstanceOf(LimitReached);
    expect(await countChannels('"serverId"', server.id)).toBe(500);
  });

  it('a member needs MANAGE_CHANNELS, and MANAGE_CHANNELS in the parent category', async () => {
    const { server, textCategory } = await newServer();
    const staff = await addMember(server.id, 'staff', F.MANAGE_CHANNELS);
    await expect(
      channels().createChannel(staff, server.id, { type: ChannelType.GUILD_TEXT, name: 'ok', parentId: textCategory }),
    ).resolves.toBeInstanceOf(Channel);
    await db().sql(
      `insert into "PermissionOverwrite" ("channelId", "targetId", type, allow, deny) values ($1, $2, 'MEMBER', 0, $3)`,
      [textCategory, staff.id, F.MANAGE_CHANNELS.toString()],
    );
    const before = await writes(server.id);
    await expect(
      channels().createChannel(staff, server.id, { type: ChannelType.GUILD_TEXT, name: 'no', parentId: textCategory }),
    ).rejects.toBeInstanceOf(MissingPermission);
    expect(await writes(server.id)).toEqual(before);
    await expect(
      channels().createChannel(staff, server.id, { type: ChannelType.GUILD_TEXT, name: 'top-level' }),
    ).resolves.toBeInstanceOf(Channel);
  });
});

describe('updating channels', () => {
  it('changes fields with audit 11 (only what changed) and CHANNEL_UPDATE; an unchanged patch writes nothing', async () => {
    const { owner, server, general } = await newServer();
    const since = await lastEventId();
    await channels().updateChannel(owner, server.id, general, {
      name: 'lobby',
      topic: 'hello',
      nsfw: true,
      rateLimitPerUser: 10,
    });
    expect(await channelRow(general)).toMatchObject({
      name: 'lobby',
      topic: 'hello',
      nsfw: true,
      rateLimitPerUser: 10,
    });
    const [entry] = await audit(server.id);
    expect(entry).toMatchObject({ actionType: 11, targetId: general });
    expect(entry.changes).toEqual([
      { key: 'name', old: 'general', new: 'lobby' },
      { key: 'topic', old: null, new: 'hello' },
      { key: 'nsfw', old: false, new: true },
      { key: 'rateLimitPerUser', old: 0, new: 10 },
    ]);
    expect((await events(server.id, since)).map((e) => e.type).sort()).toEqual([
      'CHANNEL_UPDATE',
      'GUILD_AUDIT_LOG_ENTRY_CREATE',
    ]);
    const before = await writes(server.id);
    await channels().updateChannel(owner, server.id, general, { name: 'lobby', topic: 'hello' });
    expect(await writes(server.id)).toEqual(before);
  });

  it('applies the same field rules on update and writes nothing when one fails', async () => {
    const { owner, server, general, voice, voiceCategory } = await newServer();
    const before = await writes(server.id);
    const refused: [string, object][] = [
      [general, { name: '' }],
      [general, { topic: 'x'.repeat(1025) }],
      [general, { rateLimitPerUser: 21_601 }],
      [general, { bitrate: 64_000 }],
      [voice, { bitrate: 96_001 }],
      [voice, { userLimit: 100 }],
      [voice, { name: 'ok', userLimit: 100 }], // a valid field alongside does not get written
      [voiceCategory, { parentId: voiceCategory }],
      [general, { parentId: general }],
    ];
    for (const [id, patch] of refused)
      await expect(channels().updateChannel(owner, server.id, id, patch), JSON.stringify(patch)).rejects.toBeInstanceOf(
        ValidationFailed,
      );
    expect(await writes(server.id)).toEqual(before);
    await channels().updateChannel(owner, server.id, voice, { bitrate: 96_000, userLimit: 99 });
    expect(await channelRow(voice)).toMatchObject({ bitrate: 96_000, userLimit: 99 });
  });

  it('moves a channel to the end of another category, or to the top level', async () => {
    const { owner, server, general, voiceCategory } = await newServer();
    await channels().updateChannel(owner, server.id, general, { parentId: voiceCategory });
    expect(await channelRow(general)).toMatchObject({ parentId: voiceCategory, position: 1 });
    await channels().updateChannel(owner, server.id, general, { parentId: null });
    expect(await channelRow(general)).toMatchObject({ parentId: null, position: 2 }); // after the two categories
  });

  it('a channel of another server is NotFound', async () => {
    const { owner, server } = await newServer('one');
    const other = await newServer('two');
    await expect(channels().updateChannel(owner, server.id, other.general, { name: 'x' })).rejects.toBeInstanceOf(
      NotFound,
    );
    await expect(channels().deleteChannel(owner, server.id, other.general)).rejects.toBeInstanceOf(NotFound);
  });
});

describe('deleting channels', () => {
  it('deletes a channel with its overwrites, audit 12 and CHANNEL_DELETE', async () => {
    const { owner, server, general } = await newServer();
    await db().sql(
      `insert into "PermissionOverwrite" ("channelId", "targetId", type, allow, deny) values ($1, $2, 'ROLE', 0, 2048)`,
      [general, server.id],
    );
    const since = await lastEventId();
    await channels().deleteChannel(owner, server.id, general, { reason: 'spring cleaning' });
    expect(await channelRow(general)).toBeUndefined();
    const [{ n }] = await db().sql<{ n: string }>(
      `select count(*) as n from "PermissionOverwrite" where "channelId" = $1`,
      [general],
    );
    expect(n).toBe('0');
    const [entry] = await audit(server.id);
    expect(entry).toMatchObject({ actionType: 12, targetId: general });
    expect(entry.changes).toEqual(expect.arrayContaining([{ key: 'name', old: 'general' }]));
    const evs = await events(server.id, since);
    expect(evs.map((e) => e.type).sort()).toEqual(['CHANNEL_DELETE', 'GUILD_AUDIT_LOG_ENTRY_CREATE']);
  });

  it('deleting a category moves its channels to the top level, each with CHANNEL_UPDATE', async () => {
    const { owner, server, textCategory, general } = await newServer();
    const since = await lastEventId();
    await channels().deleteChannel(owner, server.id, textCategory);
    expect(await channelRow(general)).toMatchObject({ parentId: null });
    const evs = await events(server.id, since);
    expect(
      evs
        .map((e) => [e.type, e.channelId])
        .filter(([t]) => t !== 'GUILD_AUDIT_LOG_ENTRY_CREATE')
        .sort(),
    ).toEqual(
      [
        ['CHANNEL_DELETE', textCategory],
        ['CHANNEL_UPDATE', general],
      ].sort(),
    );
  });
});

describe('reordering channels within a category', () => {
  it('sets positions 0..n-1 in the given order, one audit 11 and CHANNEL_UPDATE per channel moved', async () => {
    const { owner, server, textCategory, general } = await newServer();
    const b = await channels().createChannel(owner, server.id, {
      type: ChannelType.GUILD_TEXT,
      name: 'b',
      parentId: textCategory,
    });
    const c = await channels().createChannel(owner, server.id, {
      type: ChannelType.GUILD_TEXT,
      name: 'c',
      parentId: textCategory,
    });
    const auditBefore = (await audit(server.id)).length;
    const since = await lastEventId();
    await channels().reorderChannels(owner, server.id, textCategory, [c.id, general, b.id]);
    expect([
      (await channelRow(c.id)).position,
      (await channelRow(general)).position,
      (await channelRow(b.id)).position,
    ]).toEqual([0, 1, 2]);
    const entries = (await audit(server.id)).slice(auditBefore);
    expect(entries.map((e) => [e.actionType, e.targetId, e.changes])).toEqual([
      [11, c.id, [{ key: 'position', old: 2, new: 0 }]],
      [11, general, [{ key: 'position', old: 0, new: 1 }]],
      [11, b.id, [{ key: 'position', old: 1, new: 2 }]],
    ]);
    expect((await events(server.id, since)).filter((e) => e.type === 'CHANNEL_UPDATE')).toHaveLength(3);
  });

  it('refuses a list that is not exactly the category’s channels, and a parent that is not a category', async () => {
    const { owner, server, textCategory, voiceCategory, general, voice } = await newServer();
    const b = await channels().createChannel(owner, server.id, {
      type: ChannelType.GUILD_TEXT,
      name: 'b',
      parentId: textCategory,
    });
    const before = await writes(server.id);
    for (const ids of [[general], [general, b.id, voice], [general, general, b.id], [b.id, voice], []]) {
      await expect(channels().reorderChannels(owner, server.id, textCategory, ids)).rejects.toBeInstanceOf(
        ValidationFailed,
      );
    }
    await expect(channels().reorderChannels(owner, server.id, general, [b.id])).rejects.toBeInstanceOf(
      ValidationFailed,
    );
    expect(await writes(server.id)).toEqual(before);
    await channels().reorderChannels(owner, server.id, null, [voiceCategory, textCategory]);
    expect((await channelRow(voiceCategory)).position).toBe(0);
    expect((await channelRow(textCategory)).position).toBe(1);
  });
});
