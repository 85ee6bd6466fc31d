/**
 * sendMessage end to end at 16 concurrent clients: the package's `MessageService.send` against a
 * hand-written raw-SQL implementation of the same operation, in interleaved rounds on the same
 * scratch database (the default scenario seeded into it: 100 users, 10 servers).
 *
 * Both do, in one transaction per send: the permission check in the target channel (the member's
 * roles, @everyone, the channel's overwrites, Discord's algorithm, the implicit rules), the content
 * rule (premium length), insert the message, move the channel's lastMessageId forward (atomic
 * greatest()), write MESSAGE_CREATE to the outbox and one MessageAnalytics row.
 * - "orm": `new MessageService(em.fork()).send(author, channel, content)`;
 * - "rawPgOrmOrder": rawPg with its writes in the ORM path's order and one statement each (see rawSend);
 * - "rawPg": a pg Pool; one query reads the access facts (channel, owner, member, roles, overwrites,
 *   premium), the rules run in TS with the domain's pure functions, one statement with CTEs writes the
 *   four rows; begin/commit around: four round trips. The floor a hand-written service would have.
 * Clients are members of the largest server sending into its open text channels (a few busy ones).
 *
 *   npx tsx bench/send-message.ts        BENCH_SECONDS=5 BENCH_ROUNDS=3 BENCH_CLIENTS=16 npx tsx bench/send-message.ts
 */
import { Pool } from 'pg';
import { createOrm, migrate, type CrybOrm } from '../src/db/orm';
import { MissingPermission } from '../src/domain/errors';
import { validateMessageContent } from '../src/domain/messages';
import {
  assertPermissions,
  channelKindOf,
  computeEffectivePermissions,
  isTimedOut,
  PermissionFlags as F,
} from '../src/domain/permissions';
import { nextSnowflake, snowflakeTimestamp } from '../src/domain/snowflake';
import { MessageService } from '../src/messaging/message-service';
import { seedScenario } from '../src/seeders/world/run';
import { machine, percentile, round3, scratchDatabase, toStderr } from './support';

const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 16);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

type Send = (authorId: string, channelId: string, content: string) => Promise<void>;

const ACCESS_SQL = `
  select c."type", c."serverId", s."ownerId", u."premiumType", m."timedOutUntil", m."userId" is not null as member,
         (select "permissions" from "Role" where "id" = c."serverId") as everyone,
         coalesce((select json_agg(json_build_object('id', r."id"::text, 'permissions', r."permissions"::text))
                     from "ServerMemberRole" mr join "Role" r on r."id" = mr."roleId"
                    where mr."serverId" = c."serverId" and mr."userId" = $2), '[]') as roles,
         coalesce((select json_agg(json_build_object('id', o."targetId"::text, 'type', lower(o."type"), 'allow',
           o."allow"::text, 'deny', o."deny"::text))
                     from "PermissionOverwrite" o where o."channelId" = c."id"), '[]') as overwrites
    from "Channel" c join "Server" s on s."id" = c."serverId" join "User" u on u."id" = $2
    left join "ServerMember" m on m."serverId" = c."serverId" and m."userId" = $2
   where c."id" = $1`;

const WRITE_SQL = `
  with message as (
    insert into "Message" ("id", "channelId", "serverId", "authorId", "type", "content") values ($1, $2, $3, $4,
      'DEFAULT', $5) returning "id"
  ), channel as (
    update "Channel" set "lastMessageId" = greatest(coalesce("lastMessageId", 0), $1::bigint) where "id" = $2
      returning 1
  ), event as (
    insert into "DomainEvent" ("type", "payload", "serverId", "channelId") values ('MESSAGE_CREATE', $6, $3, $2)
      returning 1
  )
  insert into "MessageAnalytics" ("timestamp", "id", "serverId", "channelId", "userId", "messageCount",
    "characterCount")
  values ($7, $8, $3, $2, $4, 1, $9)`;

/**
 * `ormOrder`: the same work with the statements in the order the ORM path issues them (the channel's
 * lastMessageId UPDATE first, then the INSERTs one by one), to measure what holding the channel row
 * lock across the writes costs under contention.
 */
function rawSend(pool: Pool, ormOrder = false): Send {
  return async (authorId, channelId, content) => {
    const client = await pool.connect();
    try {
      await client.query('begin');
      const {
        rows: [a],
      } = await client.query(ACCESS_SQL, [channelId, authorId]);
      if (!a || !a.member) throw new MissingPermission(['VIEW_CHANNEL'] as never);
      const permissions = computeEffectivePermissions(
        {
          serverId: a.serverId,
          ownerId: a.ownerId,
          memberId: authorId,
          everyone: BigInt(a.everyone),
          roles: a.roles.map((r: { id: string; permissions: string }) => ({
            id: r.id,
            permissions: BigInt(r.permissions),
          })),
          overwrites: a.overwrites.map((o: { id: string; type: 'role' | 'member'; allow: string; deny: string }) => ({
            ...o,
            allow: BigInt(o.allow),
            deny: BigInt(o.deny),
          })),
        },
        { channelType: channelKindOf(a.type), timedOut: isTimedOut(a.timedOutUntil) },
      );
      assertPermissions(permissions, F.VIEW_CHANNEL | F.SEND_MESSAGES);
      const text = validateMessageContent(content, {
        premium: a.premiumType === 'NITRO',
        hasAttachmentsOrEmbeds: false,
      });
      const id = nextSnowflake();
      const at = snowflakeTimestamp(id);
      const payload = {
        message: {
          id,
          channelId,
          serverId: a.serverId,
          authorId,
          type: 'DEFAULT',
          content: text,
          timestamp: at.toISOString(),
          editedTimestamp: null,
          pinned: false,
          mentionEveryone: false,
          mentions: [],
          mentionRoles: [],
          attachments: [],
          embeds: [],
          replyToId: null,
        },
      };
      const params = [
        id,
        channelId,
        a.serverId,
        authorId,
        text,
        JSON.stringify(payload),
        at,
        nextSnowflake(),
        [...text].length,
      ];
      if (!ormOrder) await client.query(WRITE_SQL, params);
      else {
        await client.query(
          `update "Channel" set "lastMessageId" = greatest(coalesce("lastMessageId", 0), $1::bigint) where "id" = $2`,
          [id, channelId],
        );
        await client.query(
          `insert into "DomainEvent" ("type", "payload", "serverId", "channelId") values ('MESSAGE_CREATE', $1, $2,
            $3)`,
          [params[5], a.serverId, channelId],
        );
        await client.query(
          `insert into "MessageAnalytics" ("timestamp", "id", "serverId", "channelId", "userId", "messageCount",
            "characterCount") values ($1, $2, $3, $4, $5, 1, $6)`,
          [at, params[7], a.serverId, channelId, authorId, params[8]],
        );
        await client.query(
          `insert into "Message" ("id", "channelId", "serverId", "authorId", "type", "content") values ($1, $2, $3, $4,
            'DEFAULT', $5)`,
          [id, channelId, a.serverId, authorId, text],
        );
      }
      await client.query('commit');
    } catch (error) {
      await client.query('rollback').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  };
}

function ormSend(orm: CrybOrm): Send {
  return async (authorId, channelId, content) => {
    await new MessageService(orm.em.fork()).send(authorId, channelId, content);
  };
}

interface Totals {
  sends: number;
  elapsedMs: number;
  latenciesMs: number[];
  errors: Record<string, number>;
}

async function run(
  send: Send,
  authors: string[],
  channels: string[],
  seconds: number,
  totals: Totals,
  clients = CLIENTS,
): Promise<void> {
  const deadline = performance.now() + seconds * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async (_, client) => {
      const author = authors[client % authors.length];
      let n = 0;
      while (performance.now() < deadline) {
        // A few busy channels: half the traffic in the first, the rest spread.
        const channel =
          Math.random() < 0.5
            ? channels[0]
            : (channels[1 + Math.floor(Math.random() * (channels.length - 1))] ?? channels[0]);
        const t0 = performance.now();
        try {
          await send(author, channel, `client ${client} says hello #${n++}: the build is green again`);
        } catch (error) {
          // Counted, never hidden: a failed send is reported beside the figures.
          const key = (error as { code?: string }).code ?? (error as Error).name;
          totals.errors[key] = (totals.errors[key] ?? 0) + 1;
          continue;
        }
        totals.latenciesMs.push(performance.now() - t0);
        totals.sends++;
      }
    }),
  );
  totals.elapsedMs += performance.now() - started;
}

const summary = (t: Totals) => {
  const sorted = [...t.latenciesMs].sort((a, b) => a - b);
  return {
    sends: t.sends,
    errors: t.errors,
    sendsPerSecond: Math.round(t.sends / (t.elapsedMs / 1000)),
    p50Ms: round3(percentile(sorted, 50)),
    p99Ms: round3(percentile(sorted, 99)),
  };
};

async function main(): Promise<void> {
  const scratch = await scratchDatabase('cryb_bench_send');
  let orm: CrybOrm | undefined;
  const pool = new Pool({ connectionString: scratch.url, max: CLIENTS });
  try {
    orm = await createOrm({ clientUrl: scratch.url, poolSize: CLIENTS, migrations: 'ignore', logger: toStderr });
    await migrate(orm);
    const seeded = await seedScenario(orm.em.fork(), { scenario: 'default', seed: 3, log: null });
    const server = seeded.world.servers[0];
    const authors = server.memberIds.filter((u) => u !== server.mutedId);
    const channels = server.openChannelIds;
    const variants: Record<'orm' | 'rawPg' | 'rawPgOrmOrder', Send> = {
      orm: ormSend(orm),
      rawPg: rawSend(pool),
      rawPgOrmOrder: rawSend(pool, true),
    };
    // Both implementations refuse the muted member in general the same way (a typed MissingPermission).
    if (server.mutedId) {
      for (const send of Object.values(variants)) {
        const refused = await send(server.mutedId, channels[0], 'hi').then(
          () => null,
          (e) => e,
        );
        if (!(refused instanceof MissingPermission)) throw new Error(`expected MissingPermission, got ${refused}`);
      }
    }
    const fresh = (): Totals => ({ sends: 0, elapsedMs: 0, latenciesMs: [], errors: {} });
    const totals = { orm: fresh(), rawPg: fresh(), rawPgOrmOrder: fresh() };
    const serial = { orm: fresh(), rawPg: fresh(), rawPgOrmOrder: fresh() };
    const names = ['orm', 'rawPg', 'rawPgOrmOrder'] as const;
    for (const send of Object.values(variants)) await run(send, authors, channels, 1, fresh());
    for (let round = 0; round < ROUNDS; round++) {
      for (const name of names) await run(variants[name], authors, channels, SECONDS, totals[name]);
      // One client alone: the cost of a send without contention.
      for (const name of names) await run(variants[name], authors, channels, 1, serial[name], 1);
      toStderr(
        `[bench] send-message round ${round + 1}/${ROUNDS}: ` +
          names.map((n) => `${n} ${summary(totals[n]).sendsPerSecond}/s`).join(', '),
      );
    }
    const orm$ = summary(totals.orm);
    const raw$ = summary(totals.rawPg);
    const [{ n: analytics }] = (
      await pool.query(
        `select count(*)::int as n from "MessageAnalytics" where "timestamp" > now() - interval '1 hour'`,
      )
    ).rows;
    console.log(
      JSON.stringify(
        {
          bench: 'send-message',
          clients: CLIENTS,
          secondsPerRound: SECONDS,
          rounds: ROUNDS,
          orm: orm$,
          rawPg: raw$,
          rawPgOrmOrder: summary(totals.rawPgOrmOrder),
          oneClient: Object.fromEntries(names.map((n) => [n, summary(serial[n])])),
          ratio: {
            throughputOrmVsRaw: round3(orm$.sendsPerSecond / raw$.sendsPerSecond),
            p50OrmOverRaw: round3(orm$.p50Ms / raw$.p50Ms),
          },
          goal: { withinTwiceOfRaw: true, met: raw$.sendsPerSecond / orm$.sendsPerSecond <= 2 },
          analyticsRowsWritten: analytics,
          machine: machine(await scratch.serverVersion()),
        },
        null,
        2,
      ),
    );
  } finally {
    await pool.end().catch(() => undefined);
    await orm?.close(true);
    await scratch.drop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
