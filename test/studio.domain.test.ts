import { describe, expect, it } from 'vitest';
import { loadChannelAccess } from '../src/entities/channel/ChannelAccess';
import { loadServerAccess } from '../src/entities/server/ServerAccess';
import { permissionNames } from '../src/domain/permissions';
import { analytics } from '../src/entities/analytics/AnalyticsQueries';
import { useTestDatabase } from './support/db';
import { useStudioWorld } from './studio.world';

const db = useTestDatabase();
const { get, world: worldOf } = useStudioWorld(db);

describe('server view', () => {
  it('shows the channel tree with categories and the roles in hierarchy order, permissions decoded', async () => {
    const { json } = await get(`/api/servers/${worldOf().server.id}`);
    type Node = { id: string; type: string; children: Node[] };
    const find = (nodes: Node[], id: string): Node | undefined =>
      nodes.find((n) => n.id === id) ?? nodes.map((n) => find(n.children, id)).find(Boolean);
    const category = find(json.channels, worldOf().category)!;
    expect(category.type).toBe('GUILD_CATEGORY');
    expect(category.children.map((c: { id: string }) => c.id).sort()).toEqual(
      [worldOf().announcements, worldOf().voice].sort(),
    );
    expect(find(json.channels, worldOf().textId)!.children.map((c) => c.id)).toEqual([worldOf().thread.id]);
    // Uncategorised channels first, categories after them (Discord's order).
    const kinds = (json.channels as Node[]).map((n) => n.type === 'GUILD_CATEGORY');
    expect(kinds).toEqual([...kinds].sort((a, b) => Number(a) - Number(b)));
    const total = await db().sql<{ n: string }>(`select count(*) as n from "Channel" where "serverId" = $1`, [
      worldOf().server.id,
    ]);
    const count = (nodes: Node[]): number => nodes.reduce((sum, n) => sum + 1 + count(n.children), 0);
    expect(count(json.channels)).toBe(Number(total[0].n));
    expect(json.roles.map((r: { id: string }) => r.id)).toEqual([worldOf().moderators, worldOf().server.id]);
    expect(json.roles[0].permissionNames).toEqual(['KICK_MEMBERS', 'MANAGE_MESSAGES']);
    const everyone = await db().sql<{ permissions: string }>(`select permissions::text from "Role" where id = $1`, [
      worldOf().server.id,
    ]);
    expect(json.roles[1].permissionNames).toEqual(permissionNames(BigInt(everyone[0].permissions)));
    expect(json.members.map((m: { userId: string }) => m.userId)).toEqual(
      expect.arrayContaining([worldOf().owner.id, worldOf().alice.id, worldOf().bob.id, worldOf().carol.id]),
    );
  });
});

describe('permission explainer', () => {
  const explain = async (user: string, channel?: string) =>
    (await get(`/api/servers/${worldOf().server.id}/permissions?user=${user}${channel ? `&channel=${channel}` : ''}`))
      .json;

  it('equals what the domain computes, for every member in every channel and at server level', async () => {
    const em = db().fork();
    for (const user of [worldOf().owner, worldOf().alice, worldOf().bob, worldOf().carol]) {
      for (const channel of [
        worldOf().textId,
        worldOf().announcements,
        worldOf().voice,
        worldOf().category,
        worldOf().thread.id,
      ]) {
        const explained = await explain(user.id, channel);
        const access = await loadChannelAccess(em, channel, user.id);
        expect(explained.permissions, `${user.username} in ${channel}`).toBe(access.permissions.toString());
        expect(explained.domainPermissions).toBe(explained.permissions);
        expect(explained.names).toEqual(permissionNames(access.permissions));
      }
      const serverLevel = await explain(user.id);
      expect(serverLevel.permissions).toBe(
        (await loadServerAccess(em, worldOf().server.id, user.id)).permissions().toString(),
      );
    }
  });

  it('says where each bit came from: role, overwrite, owner, implicit rule', async () => {
    type Flag = { name: string; granted: boolean; reason: string; history: string[] };
    const flag = (e: { flags: Flag[] }, name: string) => e.flags.find((f) => f.name === name)!;
    const bob = await explain(worldOf().bob.id, worldOf().announcements);
    expect(flag(bob, 'SEND_MESSAGES')).toMatchObject({
      granted: false,
      reason: 'denied by @everyone overwrite @everyone',
    });
    expect(flag(bob, 'SEND_MESSAGES').history[0]).toBe('granted by role @everyone');
    expect(flag(bob, 'EMBED_LINKS')).toMatchObject({
      granted: false,
      reason: 'implicit rule: without SEND_MESSAGES this does not count',
    });
    const alice = await explain(worldOf().alice.id, worldOf().announcements);
    expect(flag(alice, 'SEND_MESSAGES')).toMatchObject({ granted: true, reason: 'allowed by role overwrite role1' });
    expect(flag(alice, 'KICK_MEMBERS')).toMatchObject({ granted: true, reason: 'granted by role role1' });
    expect(flag(await explain(worldOf().owner.id, worldOf().announcements), 'ADMINISTRATOR')).toMatchObject({
      granted: true,
      reason: 'server owner: every permission',
    });
    const page = await get(
      `/servers/${worldOf().server.id}/permissions?user=${worldOf().bob.id}&channel=${worldOf().announcements}`,
    );
    expect(page.body).toContain('denied by @everyone overwrite @everyone');
  });

  it('refuses a channel of another server and a non-member with typed errors', async () => {
    const other = await worldOf().helpers.world('Elsewhere');
    const foreign = await get(
      `/api/servers/${worldOf().server.id}/permissions?user=${worldOf().alice.id}&channel=${other.textId}`,
    );
    expect([400, 409]).toContain(foreign.status);
    const stranger = await get(`/api/servers/${worldOf().server.id}/permissions?user=${other.owner.id}`);
    expect(stranger.status).toBe(409);
    expect(stranger.json.error.code).toBe('NOT_A_MEMBER');
    expect((await get(`/api/servers/${worldOf().server.id}/permissions?user=abc`)).json.error.code).toBe(
      'VALIDATION_FAILED',
    );
  });
});

describe('history, messages and users', () => {
  it("reads a channel's history through history(), with reactions and threads", async () => {
    const { json } = await get(`/api/channels/${worldOf().textId}/messages`);
    const ids = json.messages.map((m: { id: string }) => m.id);
    const expected = await db().sql<{ id: string }>(
      `select id::text from "Message" where "channelId" = $1 order by id desc`,
      [worldOf().textId],
    );
    expect(ids).toEqual(expected.map((r) => r.id));
    const hello = json.messages.find((m: { id: string }) => m.id === worldOf().hello.id);
    expect(hello.reactions.map((r: { emoji: { name: string }; count: number }) => [r.emoji.name, r.count])).toEqual([
      ['👍', 2],
      ['🎉', 1],
    ]);
    expect(hello.thread).toMatchObject({ id: worldOf().thread.id, name: 'hello thread' });
    const older = await get(`/api/channels/${worldOf().textId}/messages?limit=1&before=${ids[0]}`);
    expect(older.json.messages.map((m: { id: string }) => m.id)).toEqual([ids[1]]);
    expect((await get(`/api/channels/${worldOf().textId}/messages?limit=101`)).status).toBe(400);
    const dm = await get(`/api/channels/${worldOf().dm.id}/messages`);
    expect(dm.json.messages.map((m: { content: string }) => m.content)).toEqual(['psst']);
  });

  it('opens one message with who reacted', async () => {
    const { json } = await get(`/api/messages/${worldOf().hello.id}`);
    expect(json.message.id).toBe(worldOf().hello.id);
    expect(json.reactors.map((r: { userId: string }) => r.userId).sort()).toEqual(
      [worldOf().bob.id, worldOf().carol.id, worldOf().carol.id].sort(),
    );
    expect((await get('/api/messages/123')).status).toBe(404);
  });

  it("shows a user's relationships as the domain states them", async () => {
    const alice = (await get(`/api/users/${worldOf().alice.id}`)).json;
    const types = Object.fromEntries(
      alice.relationships.map((r: { userId: string; type: string }) => [r.userId, r.type]),
    );
    expect(types).toEqual({ [worldOf().bob.id]: 'FRIEND', [worldOf().carol.id]: 'PENDING_INCOMING' });
    const carol = (await get(`/api/users/${worldOf().carol.id}`)).json;
    expect(carol.blockedBy.map((b: { id: string }) => b.id)).toEqual([worldOf().bob.id]);
    const bob = (await get(`/api/users/${worldOf().bob.id}`)).json;
    expect(bob.relationships.find((r: { userId: string }) => r.userId === worldOf().carol.id).type).toBe('BLOCKED');
    expect(bob.dms.map((d: { id: string }) => d.id)).toEqual([worldOf().dm.id]);
  });
});

describe('dashboard', () => {
  it("charts the Analytics API's figures: hourly, daily, voice, top channels", async () => {
    const { json } = await get(`/api/dashboard/${worldOf().server.id}`);
    const api = analytics(db().fork());
    const live = await api.dashboard(worldOf().server.id);
    expect(json.last24h).toEqual({
      messages: live.messages,
      activeUsers: live.activeUsers,
      voiceMinutes: live.voiceMinutes,
    });
    expect(json.hourly).toHaveLength(24);
    expect(json.hourly.reduce((s: number, h: { messages: number }) => s + h.messages, 0)).toBe(live.messages);
    expect(json.daily).toHaveLength(14);
    expect(json.daily.filter((d: { messages: number }) => d.messages > 0).length).toBeGreaterThan(10);
    expect(json.voice.minutes).toBe(210);
    expect(json.voice.byChannel[0]).toMatchObject({ channelId: worldOf().voice, minutes: 210 });
    expect(json.topChannels[0].channelId).toBe(worldOf().textId);
    const page = await get(`/?server=${worldOf().server.id}`);
    for (const id of ['chart-hourly', 'chart-daily', 'chart-top', 'chart-voice', 'health'])
      expect(page.body).toContain(`id="${id}"`);
  });

  it('reports database health through the Operations health report', async () => {
    const { json } = await get('/api/health');
    expect(json.reachable).toBe(true);
    expect(['ok', 'warning', 'critical']).toContain(json.status);
    expect(json.server.database).toBe(db().name);
  });
});
