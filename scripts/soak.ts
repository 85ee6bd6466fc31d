/**
 * npm run soak -- --minutes N [--clients 32] [--json FILE]
 *
 * 32 simulated users run a realistic mix (messages, replies, edits, deletes, reactions, acks, history
 * reads, voice, friends, moderation) against the database (DATABASE_URL or the embedded server),
 * ideally one seeded with `npm run db:seed:large`; on an empty database it seeds the default world.
 * It prints throughput, p50/p99 per operation, errors by code and the process's memory over time,
 * runs the invariant check at the end, and exits non-zero on any violation or any error that is not
 * a typed DomainError.
 */
import { parseArgs } from 'node:util';
import { writeFileSync } from 'node:fs';
import type { EntityManager } from '@mikro-orm/postgresql';
import { DomainError } from '../src/domain/errors';
import { createOrm, migrate } from '../src/db/orm';
import { runCommand } from '../src/ops/failure';
import { checkInvariants } from '../src/db/invariants';
import { history } from '../src/entities/message/MessageQueries';
import { User } from '../src/entities/user/User';
import { MessageService } from '../src/messaging/message-service';
import { ReactionService } from '../src/messaging/reaction-service';
import { ReadStateService } from '../src/messaging/read-state-service';
import { RelationshipService } from '../src/identity/relationship-service';
import { VoiceService } from '../src/voice/voice-service';
import { DatabaseSeeder } from '../src/seeders/DatabaseSeeder';
import { MembershipService } from '../src/servers/membership-service';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '1' },
    clients: { type: 'string', default: '32' },
    json: { type: 'string' },
  },
});
const MINUTES = Number(values.minutes);
const CLIENTS = Number(values.clients);

interface Actor {
  userId: string;
  serverId: string;
  textChannels: string[];
  voiceChannels: string[];
  moderator: boolean;
}

const pick = <T>(list: readonly T[]): T => list[Math.floor(Math.random() * list.length)];
const EMOJI = [...'👍🎉😂❤🔥👀✅😮🙏💯'];

type Operation = (em: EntityManager, actor: Actor, actors: Actor[]) => Promise<unknown>;

const messages = (em: EntityManager) => new MessageService(em);
const recentMessage = async (em: EntityManager, channelId: string) =>
  (
    await em
      .getConnection()
      .execute<{ id: string; authorId: string }[]>(
        'select "id", "authorId" from "Message" where "channelId" = ? order by "id" desc limit 5',
        [channelId],
      )
  )[0];

/** The mix, by weight: mostly chat, some voice and social, a little moderation. */
const MIX: [string, number, Operation][] = [
  [
    'send',
    40,
    (em, a) =>
      messages(em).send(
        a.userId,
        pick(a.textChannels),
        `soak ${Math.random().toString(36).slice(2)} lorem ipsum dolor`,
      ),
  ],
  [
    'reply',
    6,
    async (em, a) => {
      const channel = pick(a.textChannels);
      const last = await recentMessage(em, channel);
      return last ? messages(em).send(a.userId, channel, 'agreed', { replyTo: String(last.id) }) : undefined;
    },
  ],
  [
    'edit',
    4,
    async (em, a) => {
      const own = await em
        .getConnection()
        .execute<{ id: string }[]>(
          'select "id" from "Message" where "authorId" = ? and type = \'DEFAULT\' order by "id" desc limit 1',
          [a.userId],
        );
      return own[0] ? messages(em).edit(a.userId, String(own[0].id), 'edited by soak') : undefined;
    },
  ],
  [
    'delete',
    2,
    async (em, a) => {
      const own = await em
        .getConnection()
        .execute<{ id: string }[]>(
          'select "id" from "Message" where "authorId" = ? and type = \'DEFAULT\' order by "id" desc limit 1',
          [a.userId],
        );
      return own[0] ? messages(em).deleteMessage(a.userId, String(own[0].id)) : undefined;
    },
  ],
  [
    'react',
    15,
    async (em, a) => {
      const last = await recentMessage(em, pick(a.textChannels));
      return last ? new ReactionService(em).react(a.userId, String(last.id), pick(EMOJI)) : undefined;
    },
  ],
  [
    'ack',
    8,
    async (em, a) => {
      const channel = pick(a.textChannels);
      const last = await recentMessage(em, channel);
      return last ? new ReadStateService(em).ack(a.userId, channel, String(last.id)) : undefined;
    },
  ],
  ['history', 10, (em, a) => history(em, a.userId, pick(a.textChannels), { limit: 50 })],
  [
    'voice',
    8,
    async (em, a) => {
      const voice = new VoiceService(em);
      if (a.voiceChannels.length === 0 || Math.random() < 0.4) return voice.leaveVoice(a.userId);
      return voice.joinVoice(a.userId, pick(a.voiceChannels));
    },
  ],
  [
    'friends',
    5,
    async (em, a, all) => {
      const other = pick(all);
      const relationships = new RelationshipService(em);
      const [me, them] = [await em.findOneOrFail(User, a.userId), await em.findOneOrFail(User, other.userId)];
      return Math.random() < 0.7
        ? relationships.sendFriendRequest(me, them)
        : relationships.acceptFriendRequest(me, them);
    },
  ],
  [
    'moderate',
    2,
    async (em, a, all) => {
      if (!a.moderator) return undefined;
      const target = pick(all.filter((x) => x.serverId === a.serverId && x.userId !== a.userId));
      return target
        ? new MembershipService(em).timeout(
            a.userId,
            a.serverId,
            target.userId,
            Math.random() < 0.5 ? new Date(Date.now() + 5_000) : null,
          )
        : undefined;
    },
  ],
];
const TOTAL_WEIGHT = MIX.reduce((n, [, w]) => n + w, 0);
const choose = () => {
  let r = Math.random() * TOTAL_WEIGHT;
  for (const entry of MIX) if ((r -= entry[1]) < 0) return entry;
  return MIX[0];
};

async function actorsOf(em: EntityManager): Promise<Actor[]> {
  const rows = await em
    .getConnection()
    .execute<
      { userId: string; serverId: string; ownerId: string; moderator: boolean; text: string[]; voice: string[] }[]
    >(
      `select sm."userId", sm."serverId", s."ownerId",
            exists (select 1 from "ServerMemberRole" mr join "Role" r on r.id = mr."roleId"
                     where mr."serverId" = s.id and mr."userId" = sm."userId"
                       and (r.permissions & ${(1n << 40n) | (1n << 3n)}) <> 0) as moderator,
            array(select c.id::text from "Channel" c where c."serverId" = s.id and c.type = 'GUILD_TEXT' order by c.id
              limit 5) as text,
            array(select c.id::text from "Channel" c where c."serverId" = s.id and c.type = 'GUILD_VOICE' order by c.id
              limit 3) as voice
       from "ServerMember" sm join "Server" s on s.id = sm."serverId"
      order by s."memberCount" desc, 4 desc, sm."joinedAt" limit ?`,
      [CLIENTS],
    );
  return rows
    .filter((r) => r.text.length > 0)
    .map((r) => ({
      userId: String(r.userId),
      serverId: String(r.serverId),
      textChannels: r.text,
      voiceChannels: r.voice,
      moderator: r.moderator || String(r.ownerId) === String(r.userId),
    }));
}

const percentile = (sorted: number[], p: number) =>
  sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : 0;

async function main(): Promise<void> {
  const orm = await createOrm({ embedded: true, migrations: 'ignore', poolSize: CLIENTS + 4 });
  let exitCode = 0;
  try {
    await migrate(orm);
    if ((await orm.em.fork().count('User')) === 0) {
      console.error('empty database: seeding the default world first');
      await orm.getSeeder().seed(DatabaseSeeder);
    }
    const actors = await actorsOf(orm.em.fork());
    if (actors.length === 0) throw new Error('no members with text channels to soak with: seed the database first');
    const latencies = new Map<string, number[]>();
    const errors: Record<string, number> = {};
    const raw: string[] = [];
    const memory: { atSeconds: number; rssMb: number; heapMb: number }[] = [];
    const started = Date.now();
    const deadline = started + MINUTES * 60_000;
    const sample = () => {
      const m = process.memoryUsage();
      memory.push({
        atSeconds: Math.round((Date.now() - started) / 1000),
        rssMb: Math.round(m.rss / 2 ** 20),
        heapMb: Math.round(m.heapUsed / 2 ** 20),
      });
    };
    sample();
    const sampler = setInterval(sample, 10_000);
    const progress = setInterval(() => {
      const done = [...latencies.values()].reduce((n, l) => n + l.length, 0);
      console.error(
        `soak: ${Math.round((Date.now() - started) / 1000)} s, ${done} operations, ${raw.length} raw errors`,
      );
    }, 30_000);
    await Promise.all(
      Array.from({ length: CLIENTS }, async (_, i) => {
        const actor = actors[i % actors.length];
        while (Date.now() < deadline) {
          const [name, , run] = choose();
          const t0 = performance.now();
          try {
            await run(orm.em.fork(), actor, actors);
          } catch (error) {
            if (error instanceof DomainError)
              errors[`${name}:${error.code}`] = (errors[`${name}:${error.code}`] ?? 0) + 1;
            else raw.push(`${name}: ${(error as Error)?.stack ?? String(error)}`);
          }
          const list = latencies.get(name) ?? [];
          list.push(performance.now() - t0);
          latencies.set(name, list);
        }
      }),
    );
    clearInterval(sampler);
    clearInterval(progress);
    sample();
    const seconds = (Date.now() - started) / 1000;
    const operations = Object.fromEntries(
      [...latencies].map(([name, list]) => {
        const sorted = [...list].sort((a, b) => a - b);
        return [
          name,
          {
            count: list.length,
            p50Ms: Math.round(percentile(sorted, 50) * 10) / 10,
            p99Ms: Math.round(percentile(sorted, 99) * 10) / 10,
          },
        ];
      }),
    );
    const total = [...latencies.values()].reduce((n, l) => n + l.length, 0);
    const violations = await checkInvariants(orm.em.fork());
    const report = {
      minutes: MINUTES,
      clients: CLIENTS,
      actors: actors.length,
      operations: total,
      throughputPerSecond: Math.round(total / seconds),
      perOperation: operations,
      domainErrorsByCode: errors,
      rawErrors: raw.length,
      rawErrorSamples: raw.slice(0, 5),
      invariantViolations: violations,
      memory,
      peakRssMb: Math.max(...memory.map((m) => m.rssMb)),
    };
    console.log(JSON.stringify(report, null, 2));
    if (values.json) writeFileSync(values.json, JSON.stringify(report, null, 2));
    if (raw.length > 0 || violations.length > 0) exitCode = 1;
  } finally {
    await orm.close(true);
  }
  process.exit(exitCode);
}

runCommand(main);
