/**
 * Migrations under data: a database holding a world written at the schema before messaging (users,
 * a server with roles, channels, members, an overwrite, a voice stay) is migrated to the newest
 * schema, then down and up again. The pre-messaging data survives every step, the invariants hold,
 * and the domain works on the old rows (a member sends in an old channel).
 */
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { checkInvariants } from '../../src/db/invariants';
import { createOrm, type CrybOrm } from '../../src/db/orm';
import { Message } from '../../src/entities/message/Message';
import { MessageService } from '../../src/messaging/message-service';

const BEFORE_MESSAGING = 'Migration20261126053357_Voice';
/** Reverting `to` a migration reverts it too (umzug), so the way back down names the first one to undo. */
const MESSAGING = 'Migration20261126063855_Messaging';
const name = `cryb_mig_${randomBytes(4).toString('hex')}`;
let orm: CrybOrm;
let raw: Client;

const base = () => {
  const url = new URL(inject('adminUrl'));
  url.pathname = `/${name}`;
  return url.toString();
};

async function adminQuery(sql: string): Promise<void> {
  const admin = new Client({ connectionString: inject('adminUrl') });
  await admin.connect();
  try {
    await admin.query(sql);
  } finally {
    await admin.end();
  }
}

beforeAll(async () => {
  await adminQuery(`create database "${name}"`);
  orm = await createOrm({ clientUrl: base(), poolSize: 3, migrations: 'ignore' });
  raw = new Client({ connectionString: base() });
  await raw.connect();
});

afterAll(async () => {
  await raw?.end();
  await orm?.close(true);
  await adminQuery(`drop database if exists "${name}" with (force)`);
});

/** Every row of the pre-messaging tables, as text: what must survive. */
async function snapshot(): Promise<Record<string, string>> {
  const tables = [
    'User',
    'UserPresence',
    'Relationship',
    'Server',
    'ServerMember',
    'Role',
    'ServerMemberRole',
    'Channel',
    'PermissionOverwrite',
    'VoiceState',
    'VoiceSession',
  ];
  const out: Record<string, string> = {};
  for (const table of tables) {
    // Tables that later migrations add columns to (with defaults) are compared on the columns the old world had.
    const columns =
      table === 'Channel'
        ? `id, "serverId", type, name, position, "parentId", "rateLimitPerUser", "userLimit", bitrate`
        : table === 'ServerMember'
          ? `"serverId", "userId", nickname, "joinedAt", "timedOutUntil", mute, deaf`
          : '*';
    const { rows } = await raw.query(
      `select md5(coalesce(string_agg(t::text, '|' order by t::text), '')) as h, count(*) as n from (select ${columns}
        from "${table}") t`,
    );
    out[table] = `${rows[0].n}:${rows[0].h}`;
  }
  return out;
}

async function seedOldWorld(): Promise<{ memberId: string; textId: string }> {
  const q = (sql: string, params: unknown[] = []) => raw.query(sql, params);
  await q(
    `insert into "User" (id, username, discriminator) select 1000 + g, 'old' || g, lpad(g::text, 4, '0')
      from generate_series(1, 50) g`,
  );
  await q(
    `insert into "UserPresence" ("userId", status) select 1000 + g, case when g % 2 = 0 then 'ONLINE' else 'OFFLINE' end
      from generate_series(1, 50) g`,
  );
  await q(`insert into "Relationship" ("userAId", "userBId", status, since) values (1001, 1002, 'FRIENDS', now())`);
  await q(`insert into "Server" (id, name, "ownerId", "memberCount") values (5000, 'Old Guild', 1001, 50)`);
  await q(
    `insert into "Role" (id, "serverId", name, permissions, position) values (5000, 5000, '@everyone', 104324673, 0),
      (5001, 5000, 'Mods', 8192, 1)`,
  );
  await q(`insert into "ServerMember" ("serverId", "userId") select 5000, 1000 + g from generate_series(1, 50) g`);
  await q(`insert into "ServerMemberRole" ("serverId", "userId", "roleId") values (5000, 1002, 5001)`);
  await q(
    `insert into "Channel" (id, "serverId", type, name, position) values (6000, 5000, 'GUILD_TEXT', 'general', 0),
      (6001, 5000, 'GUILD_VOICE', 'Voice', 1)`,
  );
  await q(`update "Channel" set bitrate = 64000, "userLimit" = 0 where id = 6001`);
  await q(
    `insert into "PermissionOverwrite" ("channelId", "targetId", type, allow, deny) values (6000, 5001, 'ROLE', 8192,
      0)`,
  );
  await q(
    `insert into "VoiceState" ("userId", "serverId", "channelId", "sessionId") values (1003, 5000, 6001, 'gateway-1')`,
  );
  await q(
    `insert into "VoiceSession" (id, "userId", "channelId", "serverId", "startedAt") values (7000, 1003, 6001, 5000,
      now())`,
  );
  return { memberId: '1002', textId: '6000' };
}

describe('migrations under data', () => {
  it('take a pre-messaging world to the newest schema, down and up again, keeping its data', async () => {
    const migrator = orm.getMigrator();
    await migrator.up({ to: BEFORE_MESSAGING });
    const { memberId, textId } = await seedOldWorld();
    const before = await snapshot();

    const applied = await migrator.up();
    expect(applied.map((m) => m.name)).toContain(MESSAGING);
    expect(await snapshot()).toEqual(before);
    expect(await checkInvariants(orm.em.fork())).toEqual([]);
    const sent = await new MessageService(orm.em.fork()).send(memberId, textId, 'hello from an old member');
    expect(sent.serverId).toBe('5000');

    await migrator.down({ to: MESSAGING });
    expect((await migrator.getExecutedMigrations()).at(-1)?.name).toBe(BEFORE_MESSAGING);
    const { rows } = await raw.query(`select to_regclass('"Message"') as t`);
    expect(rows[0].t).toBeNull();
    expect(await snapshot()).toEqual(before);

    await migrator.up();
    expect(await snapshot()).toEqual(before);
    await expect(new MessageService(orm.em.fork()).send(memberId, textId, 'and again')).resolves.toBeInstanceOf(
      Message,
    );
    expect(await checkInvariants(orm.em.fork())).toEqual([]);
  });
});
