import { describe, expect, it } from 'vitest';
import { LimitReached, ValidationFailed } from '../src/domain/errors';
import { DEFAULT_EVERYONE_PERMISSIONS } from '../src/domain/permissions';
import { useTestDatabase } from './support/db';
import { ServerService } from '../src/servers/server-service';
import { UserService } from '../src/identity/user-service';

const db = useTestDatabase();

async function register(username: string) {
  return new UserService(db().fork()).register({ username });
}

describe('server creation', () => {
  it('creates the @everyone role with the server id, the owner membership and default channels, with GUILD_CREATE', async () => {
    const owner = await register('founder');
    const server = await new ServerService(db().fork()).createServer(owner, { name: 'Lounge' });
    const [row] = await db().sql<{ ownerId: string; memberCount: number }>(
      `select "ownerId"::text, "memberCount" from "Server" where id = $1`,
      [server.id],
    );
    expect(row).toEqual({ ownerId: owner.id, memberCount: 1 });
    const roles = await db().sql<{ id: string; name: string; permissions: string; position: number }>(
      `select id::text, name, permissions::text, position from "Role" where "serverId" = $1`,
      [server.id],
    );
    expect(roles).toEqual([
      { id: server.id, name: '@everyone', permissions: DEFAULT_EVERYONE_PERMISSIONS.toString(), position: 0 },
    ]);
    const members = await db().sql(`select "userId"::text from "ServerMember" where "serverId" = $1`, [server.id]);
    expect(members).toEqual([{ userId: owner.id }]);
    const channels = await db().sql<{ type: string; name: string; parent: string | null }>(
      `select c.type, c.name, p.name as parent from "Channel" c left join "Channel" p on p.id = c."parentId"
        where c."serverId" = $1 order by c.type, c.name`,
      [server.id],
    );
    expect(channels).toEqual([
      { type: 'GUILD_CATEGORY', name: 'Text Channels', parent: null },
      { type: 'GUILD_CATEGORY', name: 'Voice Channels', parent: null },
      { type: 'GUILD_TEXT', name: 'general', parent: 'Text Channels' },
      { type: 'GUILD_VOICE', name: 'General', parent: 'Voice Channels' },
    ]);
    const events = await db().sql<{ type: string; serverId: string }>(
      `select type, "serverId"::text from "DomainEvent" where "serverId" = $1`,
      [server.id],
    );
    expect(events).toEqual([{ type: 'GUILD_CREATE', serverId: server.id }]);
  });

  it('refuses bad names and writes nothing', async () => {
    const owner = await register('namer');
    for (const name of ['', 'x', 'y'.repeat(101), 42, null]) {
      await expect(new ServerService(db().fork()).createServer(owner, { name: name as string })).rejects.toBeInstanceOf(
        ValidationFailed,
      );
    }
    const [{ n }] = await db().sql<{ n: string }>(`select count(*) as n from "Server" where "ownerId" = $1`, [
      owner.id,
    ]);
    expect(n).toBe('0');
  });

  it('caps a user at 100 servers (200 with premium)', async () => {
    const owner = await register('collector');
    const repo = () => new ServerService(db().fork());
    for (let i = 0; i < 100; i++) await repo().createServer(owner, { name: `server ${i}` });
    await expect(repo().createServer(owner, { name: 'one too many' })).rejects.toBeInstanceOf(LimitReached);
    const [{ n }] = await db().sql<{ n: string }>(`select count(*) as n from "ServerMember" where "userId" = $1`, [
      owner.id,
    ]);
    expect(n).toBe('100');
  });

  it("runs the platform's documented active-users query verbatim", async () => {
    const owner = await register('host');
    const server = await new ServerService(db().fork()).createServer(owner, { name: 'Docs' });
    const guest = await register('guest');
    const idle = await register('idler');
    await db().sql(`insert into "ServerMember" ("serverId", "userId") values ($1, $2), ($1, $3)`, [
      server.id,
      guest.id,
      idle.id,
    ]);
    await owner.setPresence({ status: 'ONLINE' });
    await guest.setPresence({ status: 'DND' });
    const rows = await db().sql<{ id: string; status: string }>(
      `SELECT u.*, up.status FROM "User" u JOIN "ServerMember" sm ON u.id = sm."userId"
LEFT JOIN "UserPresence" up ON u.id = up."userId"
WHERE sm."serverId" = $1 AND up.status != 'OFFLINE';`,
      [server.id],
    );
    expect(rows.map((r) => [String(r.id), r.status]).sort()).toEqual(
      [
        [owner.id, 'ONLINE'],
        [guest.id, 'DND'],
      ].sort(),
    );
  });
});
