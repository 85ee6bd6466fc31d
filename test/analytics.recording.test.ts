import { describe, expect, it } from 'vitest';
import { MissingPermission, ValidationFailed } from '../src/domain/errors';
import { PermissionFlags as F } from '../src/domain/permissions';
import { transact } from '../src/db/unit-of-work';
import { recordSystemMetrics } from '../src/entities/analytics/recording';
import { snapshotServerAnalytics } from '../src/entities/analytics/maintenance';
import { ChannelType } from '../src/entities/channel/Channel';
import { VoiceService } from '../src/voice/voice-service';
import { useTestDatabase } from './support/db';
import { messagingHelpers } from './support/messaging';
import { ChannelService } from '../src/servers/channel-service';

/** Recording runs on both paths: these tests run on whatever server DATABASE_URL names (or the embedded one). */
const db = useTestDatabase();
const h = messagingHelpers(db);
const voice = (em = db().fork()) => new VoiceService(em);

const messageRows = (channelId: string) =>
  db().sql<{ serverId: string | null; userId: string; messageCount: number; characterCount: number; timestamp: Date }>(
    `select "serverId"::text, "userId"::text, "messageCount", "characterCount", "timestamp" from "MessageAnalytics"
      where "channelId" = $1 order by "timestamp"`,
    [channelId],
  );
const voiceRows = (userId: string) =>
  db().sql<{ id: string; serverId: string; channelId: string; sessionDuration: number; timestamp: Date }>(
    `select id::text, "serverId"::text, "channelId"::text, "sessionDuration", "timestamp" from "VoiceAnalytics"
      where "userId" = $1 order by "timestamp"`,
    [userId],
  );
const voiceChannelOf = async (serverId: string) =>
  (
    await db().sql<{ id: string }>(
      `select id::text from "Channel" where "serverId" = $1 and type = 'GUILD_VOICE' limit 1`,
      [serverId],
    )
  )[0].id;

describe('message analytics', () => {
  it('a sent message writes one row in its unit of work: server, channel, author, characters, the message time', async () => {
    const w = await h.world();
    const message = await h.messages().send(w.owner, w.textId, 'hello analytics');
    const rows = await messageRows(w.textId);
    expect(rows).toEqual([
      { serverId: w.server.id, userId: w.owner.id, messageCount: 1, characterCount: 15, timestamp: message.createdAt },
    ]);
  });

  it('a rolled-back send leaves no analytics row (nor message)', async () => {
    const w = await h.world();
    const failure = await transact(db().fork(), async (tx) => {
      await h.messages(tx).send(w.owner, w.textId, 'will be rolled back');
      throw new Error('abort after send');
    }).catch((e: unknown) => e);
    expect((failure as Error).message).toBe('abort after send');
    expect(await messageRows(w.textId)).toEqual([]);
    expect(await db().sql(`select 1 from "Message" where "channelId" = $1`, [w.textId])).toEqual([]);
  });

  it('a refused send writes nothing, analytics included', async () => {
    const w = await h.world();
    const member = await h.joined(w);
    await h.everyonePermissions(w.server.id, F.VIEW_CHANNEL);
    await h.refused(() => h.messages().send(member, w.textId, 'no'), MissingPermission);
    expect(await messageRows(w.textId)).toEqual([]);
  });

  it('a direct message is recorded with a null server', async () => {
    const a = await h.register('dmA');
    const b = await h.register('dmB');
    // Setup for the DM privacy rule: the pair share a server (which allows DMs by default).
    const shared = await h.world();
    for (const user of [a, b]) await h.memberships().acceptInvite(user, shared.code);
    const dm = await h.dms().openDM(a, b);
    await h.messages().send(a, dm.id, 'psst');
    expect(await messageRows(dm.id)).toMatchObject([{ serverId: null, userId: a.id, characterCount: 4 }]);
  });
});

describe('voice analytics', () => {
  it('leaving writes one row for the session: its id, server, channel, duration and end', async () => {
    const w = await h.world();
    const channelId = await voiceChannelOf(w.server.id);
    await voice().joinVoice(w.owner, channelId);
    await db().sql(`update "VoiceSession" set "startedAt" = "startedAt" - interval '125 seconds' where "userId" = $1`, [
      w.owner.id,
    ]);
    await voice().leaveVoice(w.owner);
    const [session] = await db().sql<{ id: string; durationSeconds: number; endedAt: Date }>(
      `select id::text, "durationSeconds", "endedAt" from "VoiceSession" where "userId" = $1`,
      [w.owner.id],
    );
    expect(session.durationSeconds).toBeGreaterThanOrEqual(125);
    expect(await voiceRows(w.owner.id)).toEqual([
      {
        id: session.id,
        serverId: w.server.id,
        channelId,
        sessionDuration: session.durationSeconds,
        timestamp: session.endedAt,
      },
    ]);
  });

  it('a rolled-back leave leaves no analytics row and the session open', async () => {
    const w = await h.world();
    const channelId = await voiceChannelOf(w.server.id);
    await voice().joinVoice(w.owner, channelId);
    const failure = await transact(db().fork(), async (tx) => {
      await voice(tx).leaveVoice(w.owner);
      throw new Error('abort after leave');
    }).catch((e: unknown) => e);
    expect((failure as Error).message).toBe('abort after leave');
    expect(await voiceRows(w.owner.id)).toEqual([]);
    expect(
      await db().sql(`select 1 from "VoiceSession" where "userId" = $1 and "endedAt" is null`, [w.owner.id]),
    ).toHaveLength(1);
  });

  it('a move closes the old session with a row; deleting the channel closes the new one with another', async () => {
    const w = await h.world();
    const first = await voiceChannelOf(w.server.id);
    const second = await new ChannelService(db().fork()).createChannel(w.owner, w.server.id, {
      name: 'Second',
      type: ChannelType.GUILD_VOICE,
    });
    await voice().joinVoice(w.owner, first);
    await voice().joinVoice(w.owner, second.id);
    expect((await voiceRows(w.owner.id)).map((r) => r.channelId)).toEqual([first]);
    await new ChannelService(db().fork()).deleteChannel(w.owner, w.server.id, second.id);
    expect((await voiceRows(w.owner.id)).map((r) => r.channelId)).toEqual([first, second.id]);
  });

  it('the sweeper records the stale stays and the orphaned sessions it closes', async () => {
    const w = await h.world();
    const member = await h.joined(w, 'orphan');
    const channelId = await voiceChannelOf(w.server.id);
    await voice().joinVoice(w.owner, channelId);
    await voice().joinVoice(member, channelId);
    await db().sql(`update "VoiceState" set "lastHeartbeatAt" = now() - interval '10 minutes' where "userId" = $1`, [
      w.owner.id,
    ]);
    await db().sql(`update "VoiceSession" set "startedAt" = now() - interval '10 minutes' where "userId" = $1`, [
      member.id,
    ]);
    await db().sql(`delete from "VoiceState" where "userId" = $1`, [member.id]);
    expect(await voice().closeStaleVoiceSessions(60_000)).toBe(2);
    const [stale] = await voiceRows(w.owner.id);
    const [orphan] = await voiceRows(member.id);
    expect(stale).toMatchObject({ serverId: w.server.id, channelId });
    expect(orphan).toMatchObject({ serverId: w.server.id, channelId });
    expect(orphan.sessionDuration).toBeGreaterThanOrEqual(600);
    const [session] = await db().sql<{ id: string }>(`select id::text from "VoiceSession" where "userId" = $1`, [
      member.id,
    ]);
    expect(orphan.id).toBe(session.id);
  });
});

describe('system metrics and server snapshots', () => {
  it('recordSystemMetrics writes the health report shape; bad input is refused with nothing written', async () => {
    const at = new Date('2026-11-26T10:00:00.000Z');
    await recordSystemMetrics(db().fork(), {
      databaseSizeBytes: 123_456_789,
      connections: 7,
      cacheHitRatio: 0.99,
      transactionsPerSecond: 12.5,
      at,
    });
    const bad = [
      { databaseSizeBytes: -1, connections: 1, cacheHitRatio: null, transactionsPerSecond: null, at },
      { databaseSizeBytes: 1, connections: 1.5, cacheHitRatio: null, transactionsPerSecond: null, at },
      { databaseSizeBytes: 1, connections: 1, cacheHitRatio: null, transactionsPerSecond: null, at: new Date('nope') },
    ];
    for (const metrics of bad)
      await expect(recordSystemMetrics(db().fork(), metrics)).rejects.toBeInstanceOf(ValidationFailed);
    expect(
      await db().sql(
        `select "databaseSizeBytes"::text, connections, "cacheHitRatio", "transactionsPerSecond", "timestamp"
          from "SystemMetrics"`,
      ),
    ).toEqual([
      {
        databaseSizeBytes: '123456789',
        connections: 7,
        cacheHitRatio: 0.99,
        transactionsPerSecond: 12.5,
        timestamp: at,
      },
    ]);
  });

  it('the hourly snapshot counts members, online members, and the previous hour’s messages and voice minutes; a second one replaces it', async () => {
    const w = await h.world();
    const member = await h.joined(w, 'online');
    await db().sql(`update "UserPresence" set status = 'ONLINE' where "userId" = $1`, [member.id]);
    const at = new Date('2026-11-20T15:20:00.000Z');
    const insideHour = new Date('2026-11-20T14:59:59.999Z');
    await db().sql(
      `insert into "MessageAnalytics" ("timestamp", id, "serverId", "channelId", "userId", "messageCount",
        "characterCount")
      values ($1, 1, $2, $3, $4, 3, 30), ($5, 2, $2, $3, $4, 1, 10), ('2026-11-20T13:59:59.999Z', 3, $2, $3, $4, 1,
        10)`,
      [insideHour, w.server.id, w.textId, member.id, new Date('2026-11-20T14:00:00.000Z')],
    );
    await db().sql(
      `insert into "VoiceAnalytics" ("timestamp", id, "serverId", "channelId", "userId", "sessionDuration") values ($1,
        9, $2, $3, $4, 150)`,
      [insideHour, w.server.id, w.textId, member.id],
    );
    expect(await snapshotServerAnalytics(db().fork(), at)).toBeGreaterThanOrEqual(1);
    const snapshot = async () =>
      db().sql(
        `select "timestamp", "memberCount", "onlineCount", "messageCount", "voiceMinutes" from "ServerAnalytics"
          where "serverId" = $1`,
        [w.server.id],
      );
    expect(await snapshot()).toEqual([
      {
        timestamp: new Date('2026-11-20T15:00:00.000Z'),
        memberCount: 2,
        onlineCount: 1,
        messageCount: 4,
        voiceMinutes: 2,
      },
    ]);
    await db().sql(`update "UserPresence" set status = 'OFFLINE' where "userId" = $1`, [member.id]);
    await snapshotServerAnalytics(db().fork(), at);
    expect(await snapshot()).toMatchObject([{ onlineCount: 0, messageCount: 4 }]);
    await expect(snapshotServerAnalytics(db().fork(), new Date('x'))).rejects.toBeInstanceOf(ValidationFailed);
  });
});
