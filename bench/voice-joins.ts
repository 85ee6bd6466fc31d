/**
 * Voice joins under contention: 16 concurrent clients (each its own user, connection and unit of
 * work) contending for 4 voice channels of one server. Each client repeatedly joins a random channel
 * among the 4, then leaves. Measured: successful joins per second over the run (leaves included in
 * the wall time, as in real traffic) and the join latency p50/p99.
 *
 * Two variants, run in interleaved rounds in the same process against the same scratch database:
 * - "orm": `VoiceService.joinVoice` / `leaveVoice`, the package's code path (permissions, locks,
 *   limit, session, VOICE_STATE_UPDATE in the outbox);
 * - "rawPg": the same SQL shape through raw `pg` with bind parameters, in the same order: the
 *   per-user advisory lock, the same reads (state, channel with overwrites, ban, membership with
 *   roles, @everyone), then the channel row lock (`for no key update`, reading userLimit), the count
 *   under it, then insert state, insert session, insert the event; the leave likewise (user lock,
 *   state, channel row lock, state again, open session, update it, delete the state, the event). It
 *   computes no permissions (the reads are done, the bit arithmetic is not), so it is the floor the
 *   ORM path is compared against.
 *
 *   npx tsx bench/voice-joins.ts                # embedded server (started when needed), or DATABASE_URL
 *   BENCH_SECONDS=5 BENCH_ROUNDS=3 BENCH_CLIENTS=16 BENCH_LIMIT=8 npx tsx bench/voice-joins.ts
 *
 * Prints one JSON object. The scratch database is created, migrated and dropped by the run.
 */
import { randomBytes } from 'node:crypto';
import { Client, Pool } from 'pg';
import { createOrm, migrate, type CrybOrm } from '../src/db/orm';
import { VoiceChannelFull } from '../src/domain/errors';
import { nextSnowflake } from '../src/domain/snowflake';
import { Channel, ChannelType } from '../src/entities/channel/Channel';
import { Server } from '../src/entities/server/Server';
import { ServerMember } from '../src/entities/server/ServerMember';
import { VoiceService } from '../src/voice/voice-service';
import { machine, percentile, round3, scratchDatabase, toStderr } from './support';
import { ServerService } from '../src/servers/server-service';
import { UserService } from '../src/identity/user-service';

const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 16);
const CHANNELS = 4;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const LIMIT = Number(process.env.BENCH_LIMIT ?? 8);
const WARMUP_SECONDS = 1;

interface Totals {
  joins: number;
  full: number;
  elapsedMs: number;
  latenciesMs: number[];
}

type Join = (client: number, channelId: string) => Promise<void>;
type Leave = (client: number) => Promise<void>;

/** CLIENTS loops for `seconds`: join a random channel, then leave (when the join succeeded). */
async function run(join: Join, leave: Leave, channelIds: string[], seconds: number, totals: Totals): Promise<void> {
  const deadline = performance.now() + seconds * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CLIENTS }, async (_, client) => {
      while (performance.now() < deadline) {
        const channelId = channelIds[Math.floor(Math.random() * channelIds.length)];
        const t0 = performance.now();
        try {
          await join(client, channelId);
        } catch (error) {
          if (error instanceof VoiceChannelFull || (error as Error).message === 'VOICE_CHANNEL_FULL') {
            totals.full++;
            continue;
          }
          throw error;
        }
        totals.latenciesMs.push(performance.now() - t0);
        totals.joins++;
        await leave(client);
      }
    }),
  );
  totals.elapsedMs += performance.now() - started;
}

function summary(t: Totals) {
  const sorted = [...t.latenciesMs].sort((a, b) => a - b);
  return {
    joins: t.joins,
    refusedFull: t.full,
    joinsPerSecond: round3((t.joins / t.elapsedMs) * 1000),
    joinP50Ms: round3(percentile(sorted, 50)),
    joinP99Ms: round3(percentile(sorted, 99)),
  };
}

/** The raw pg variant: the ORM path's statements, in its order, with bind parameters. */
function rawVariant(pool: Pool, serverId: string, userIds: string[]): { join: Join; leave: Leave } {
  const join: Join = async (client, channelId) => {
    const userId = userIds[client];
    const c = await pool.connect();
    try {
      await c.query('begin');
      await c.query('select pg_advisory_xact_lock(hashtextextended($1, 0))', [`voice:user:${userId}`]);
      const before = await c.query('select * from "VoiceState" where "userId" = $1', [userId]);
      await c.query(
        'select * from "Channel" c left join "PermissionOverwrite" o on o."channelId" = c.id where c.id = $1',
        [channelId],
      );
      await c.query('select count(*) from "Ban" where "serverId" = $1 and "userId" = $2', [serverId, userId]);
      await c.query(
        'select m.*, r.* from "ServerMember" m left join "ServerMemberRole" mr on mr."serverId" = m."serverId" and ' +
          'mr."userId" = m."userId" left join "Role" r on r.id = mr."roleId" where m."serverId" = $1 and ' +
          'm."userId" = $2',
        [serverId, userId],
      );
      await c.query('select * from "Role" where id = $1', [serverId]);
      await c.query('select "userLimit" from "Channel" where "id" = $1 for no key update', [channelId]);
      if (before.rowCount) throw new Error('the raw variant expects clients to leave between joins');
      const [{ n }] = (
        await c.query<{ n: string }>('select count(*) as n from "VoiceState" where "channelId" = $1', [channelId])
      ).rows;
      if (LIMIT > 0 && Number(n) >= LIMIT) {
        await c.query('rollback');
        throw new Error('VOICE_CHANNEL_FULL');
      }
      const now = new Date();
      await c.query(
        'insert into "VoiceState" ("userId", "channelId", "serverId", "sessionId", "joinedAt", "lastHeartbeatAt") ' +
          'values ($1, $2, $3, $4, $5, $5)',
        [userId, channelId, serverId, randomBytes(16).toString('hex'), now],
      );
      await c.query(
        'insert into "VoiceSession" (id, "userId", "channelId", "serverId", "startedAt") values ($1, $2, $3, $4, $5)',
        [nextSnowflake(), userId, channelId, serverId, now],
      );
      await c.query(
        'insert into "DomainEvent" (type, payload, "serverId", "channelId", "userIds") values ($1, $2, $3, $4, $5)',
        ['VOICE_STATE_UPDATE', JSON.stringify({ userId, channelId, serverId }), serverId, channelId, [userId]],
      );
      await c.query('commit');
    } catch (error) {
      if ((error as Error).message !== 'VOICE_CHANNEL_FULL') await c.query('rollback').catch(() => undefined);
      throw error;
    } finally {
      c.release();
    }
  };
  const leave: Leave = async (client) => {
    const userId = userIds[client];
    const c = await pool.connect();
    try {
      await c.query('begin');
      await c.query('select pg_advisory_xact_lock(hashtextextended($1, 0))', [`voice:user:${userId}`]);
      const state = await c.query<{ channelId: string }>(
        'select "channelId"::text as "channelId" from "VoiceState" where "userId" = $1',
        [userId],
      );
      await c.query('select "userLimit" from "Channel" where "id" = $1 for no key update', [state.rows[0].channelId]);
      await c.query('select * from "VoiceState" where "userId" = $1', [userId]);
      const session = await c.query<{ id: string; startedAt: Date }>(
        'select id::text, "startedAt" from "VoiceSession" where "userId" = $1 and "endedAt" is null',
        [userId],
      );
      const end = new Date();
      await c.query('update "VoiceSession" set "endedAt" = $2, "durationSeconds" = $3 where id = $1', [
        session.rows[0].id,
        end,
        Math.floor((end.getTime() - session.rows[0].startedAt.getTime()) / 1000),
      ]);
      await c.query('delete from "VoiceState" where "userId" = $1', [userId]);
      await c.query(
        'insert into "DomainEvent" (type, payload, "serverId", "channelId", "userIds") values ($1, $2, $3, $4, $5)',
        [
          'VOICE_STATE_UPDATE',
          JSON.stringify({ userId, channelId: null, serverId }),
          serverId,
          state.rows[0].channelId,
          [userId],
        ],
      );
      await c.query('commit');
    } catch (error) {
      await c.query('rollback').catch(() => undefined);
      throw error;
    } finally {
      c.release();
    }
  };
  return { join, leave };
}

function ormVariant(orm: CrybOrm, userIds: string[]): { join: Join; leave: Leave } {
  const voice = () => new VoiceService(orm.em.fork());
  return {
    join: async (client, channelId) => {
      await voice().joinVoice(userIds[client], channelId);
    },
    leave: async (client) => {
      await voice().leaveVoice(userIds[client]);
    },
  };
}

async function main(): Promise<void> {
  const scratch = await scratchDatabase('cryb_bench_voice');
  const url = scratch.url;
  let orm: CrybOrm | undefined;
  const pool = new Pool({ connectionString: url, max: CLIENTS + 2 });
  try {
    orm = await createOrm({ clientUrl: url, poolSize: CLIENTS + 2, migrations: 'ignore', logger: toStderr });
    await migrate(orm);
    const owner = await new UserService(orm.em.fork()).register({ username: 'bench_owner' });
    const server = await new ServerService(orm.em.fork()).createServer(owner, { name: 'bench voice' });
    const setup = orm.em.fork();
    const channelIds: string[] = [];
    for (let i = 0; i < CHANNELS; i++) {
      const channel = new Channel(setup.getReference(Server, server.id), ChannelType.GUILD_VOICE, `voice ${i}`);
      channel.bitrate = 64_000;
      channel.userLimit = LIMIT;
      setup.persist(channel);
      channelIds.push(channel.id);
    }
    const users: string[] = [];
    for (let i = 0; i < CLIENTS * 2; i++) {
      const user = await new UserService(orm.em.fork()).register({ username: `bench_client_${i}` });
      setup.persist(new ServerMember(setup.getReference(Server, server.id), user));
      users.push(user.id);
    }
    await setup.flush();
    // Separate users per variant, so neither variant ever sees the other's voice states.
    const variants = {
      orm: ormVariant(orm, users.slice(0, CLIENTS)),
      rawPg: rawVariant(pool, server.id, users.slice(CLIENTS)),
    };
    const totals: Record<keyof typeof variants, Totals> = {
      orm: { joins: 0, full: 0, elapsedMs: 0, latenciesMs: [] },
      rawPg: { joins: 0, full: 0, elapsedMs: 0, latenciesMs: [] },
    };
    for (const v of Object.values(variants))
      await run(v.join, v.leave, channelIds, WARMUP_SECONDS, { joins: 0, full: 0, elapsedMs: 0, latenciesMs: [] });
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? (['orm', 'rawPg'] as const) : (['rawPg', 'orm'] as const);
      for (const name of order) await run(variants[name].join, variants[name].leave, channelIds, SECONDS, totals[name]);
    }
    const probe = new Client({ connectionString: url });
    await probe.connect();
    const [check] = (
      await probe.query<{ open: number; states: number; bad: number }>(
        `select (select count(*)::int from "VoiceSession" where "endedAt" is null) as open, (select count(*)::int
          from "VoiceState") as states,
                (select count(*)::int from "VoiceSession" where "endedAt" is not null
                  and "durationSeconds" <> floor(extract(epoch from "endedAt" - "startedAt"))) as bad`,
      )
    ).rows;
    await probe.end();
    const orms = summary(totals.orm);
    const raw = summary(totals.rawPg);
    console.log(
      JSON.stringify(
        {
          benchmark: 'voice-joins',
          workload:
            `${CLIENTS} concurrent clients, ${CHANNELS} voice channels (userLimit ${LIMIT}); each client ` +
            `joins a random channel, then leaves; ${ROUNDS} interleaved rounds of ${SECONDS} s per variant`,
          orm: orms,
          rawPg: raw,
          ratio: {
            joinsPerSecondOrmVsRaw: round3(orms.joinsPerSecond / raw.joinsPerSecond),
            p50OrmVsRaw: round3(orms.joinP50Ms / raw.joinP50Ms),
            p99OrmVsRaw: round3(orms.joinP99Ms / raw.joinP99Ms),
          },
          endState: { openSessions: check.open, voiceStates: check.states, wrongDurations: check.bad },
          machine: machine(await scratch.serverVersion()),
        },
        null,
        2,
      ),
    );
  } finally {
    await pool.end();
    await orm?.close(true);
    await scratch.drop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
