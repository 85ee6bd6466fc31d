/**
 * Fuzzing the public domain methods (identity, servers, voice, messages, DMs, threads, history,
 * search) with hostile arguments: arbitrary Unicode and control
 * characters, 100 kB strings, numbers out of range, bigints beyond 2^63, unknown and deleted ids,
 * wrong types, and calls in a wrong state. Each call either succeeds or fails with a typed
 * DomainError; a refused call writes nothing; the invariants hold at the end.
 * FUZZ_RUNS sets the number of cases (1,000 by default; the long run uses 10,000).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { EntityManager } from '@mikro-orm/postgresql';
import { DomainError } from '../../src/domain/errors';
import { isSnowflake, nextSnowflake } from '../../src/domain/snowflake';
import { User } from '../../src/entities/user/User';
import { RelationshipService } from '../../src/identity/relationship-service';
import { VoiceService } from '../../src/voice/voice-service';
import { history } from '../../src/entities/message/MessageQueries';
import { search } from '../../src/entities/message/search';
import { useTestDatabase } from '../support/db';
import { checkInvariants } from '../../src/db/invariants';
import { messagingHelpers } from '../support/messaging';
import { ChannelService } from '../../src/servers/channel-service';
import { InviteService } from '../../src/servers/invite-service';
import { RoleService } from '../../src/servers/role-service';
import { ServerService } from '../../src/servers/server-service';
import { UserService } from '../../src/identity/user-service';

const RUNS = Number(process.env.FUZZ_RUNS ?? 1000);
const db = useTestDatabase({ poolSize: 10 });
const h = messagingHelpers(db);

interface Ids {
  users: string[];
  servers: string[];
  channels: string[];
  messages: string[];
  roles: string[];
  deleted: string[];
  codes: string[];
}

/** Values a hostile or buggy client could send for any argument. */
function hostile(ids: Ids): fc.Arbitrary<unknown> {
  const known = (list: string[]) => (list.length ? fc.constantFrom(...list) : fc.constant('1'));
  return fc.oneof(
    {
      weight: 12,
      arbitrary: fc.oneof(
        known(ids.users),
        known(ids.servers),
        known(ids.channels),
        known(ids.messages),
        known(ids.roles),
        known(ids.deleted),
        known(ids.codes),
      ),
    },
    { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
    { weight: 3, arbitrary: fc.string({ unit: 'grapheme', maxLength: 40 }) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        'x'.repeat(100_000),
        '😀'.repeat(30_000),
        '\u0000',
        '\u0000abc',
        '\ud800',
        '\'; drop table "User"; --',
        '<@1>',
        '@everyone',
        '`'.repeat(5000),
      ),
    },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        '9223372036854775807',
        '9223372036854775808',
        '18446744073709551616',
        '-1',
        '0',
        '00000000000000000001',
        '1e3',
        ' 1',
        '',
      ),
    },
    {
      weight: 1,
      arbitrary: fc.oneof(fc.integer(), fc.double(), fc.constantFrom(Number.NaN, Infinity, -Infinity, 2 ** 53, -0)),
    },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        null,
        undefined,
        true,
        {},
        [],
        { id: '1' },
        { id: 42 },
        [1, 2],
        new Date(Number.NaN),
        new Date(8.64e15),
      ),
    },
    { weight: 1, arbitrary: fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }) },
    {
      weight: 2,
      arbitrary: fc.dictionary(
        fc.constantFrom(
          'name',
          'type',
          'permissions',
          'maxUses',
          'maxAge',
          'status',
          'title',
          'fields',
          'content',
          'userLimit',
          'text',
          'limit',
          'before',
          'after',
          'around',
          'autoArchiveDuration',
          'locked',
          'archived',
          'has',
          'pinned',
        ),
        fc.anything({ maxDepth: 1 }),
        { maxKeys: 3 },
      ),
    },
  );
}

/** The user entity when `a` names one (domain methods taking a User get one), else `a` as it came. */
const userOr = async (em: EntityManager, a: unknown): Promise<never> =>
  (isSnowflake(a) ? ((await em.findOne(User, { id: a })) ?? a) : a) as never;

type Operation = (em: EntityManager, a: unknown, b: unknown, c: unknown, d: unknown) => Promise<unknown>;

/** Every public domain method, called with whatever the fuzzer hands it. */
const OPERATIONS: Record<string, Operation> = {
  register: (em, a, b) => new UserService(em).register({ username: a, displayName: b } as never),
  changeUsername: async (em, a, b) => new UserService(em).changeUsername(await userOr(em, a), b as never),
  setPresence: async (em, a, b) => new UserService(em).setPresence(await userOr(em, a), b as never),
  findByTag: (em, a) => em.getRepository(User).findByTag(a as never),
  sendFriendRequest: async (em, a, b) => new RelationshipService(em).sendFriendRequest(await userOr(em, a), b as never),
  block: async (em, a, b) => new RelationshipService(em).block(await userOr(em, a), b as never),
  createServer: async (em, a, b) => new ServerService(em).createServer(await userOr(em, a), { name: b } as never),
  updateServer: (em, a, b, c) => new ServerService(em).updateServer(a as never, b as never, c as never),
  createRole: (em, a, b, c) => new RoleService(em).createRole(a as never, b as never, c as never),
  assignRole: (em, a, b, c, d) => new RoleService(em).assignRole(a as never, b as never, c as never, d as never),
  createChannel: (em, a, b, c) => new ChannelService(em).createChannel(a as never, b as never, c as never),
  setOverwrite: (em, a, b, c, d) => new ChannelService(em).setOverwrite(a as never, b as never, c as never, d as never),
  createInvite: (em, a, b, c) => new InviteService(em).createInvite(a as never, b as never, c as never),
  acceptInvite: (em, a, b) => h.memberships(em).acceptInvite(a as never, b as never),
  kick: (em, a, b, c) => h.memberships(em).kick(a as never, b as never, c as never),
  ban: (em, a, b, c, d) => h.memberships(em).ban(a as never, b as never, c as never, d as never),
  timeout: (em, a, b, c, d) => h.memberships(em).timeout(a as never, b as never, c as never, d as never),
  joinVoice: (em, a, b, c) => new VoiceService(em).joinVoice(a as never, b as never, c as never),
  leaveVoice: (em, a) => new VoiceService(em).leaveVoice(a as never),
  send: (em, a, b, c, d) => h.messages(em).send(a as never, b as never, c, d as never),
  edit: (em, a, b, c) => h.messages(em).edit(a as never, b as never, c),
  deleteMessage: (em, a, b) => h.messages(em).deleteMessage(a as never, b as never),
  bulkDelete: (em, a, b, c) => h.messages(em).bulkDelete(a as never, b as never, c),
  pin: (em, a, b) => h.messages(em).pin(a as never, b as never),
  react: (em, a, b, c) => h.reactions(em).react(a as never, b as never, c),
  unreact: (em, a, b, c) => h.reactions(em).unreact(a as never, b as never, c),
  ack: (em, a, b, c) => h.readStates(em).ack(a as never, b as never, c as never),
  unreadSummary: (em, a) => h.readStates(em).unreadSummary(a as never),
  openDM: (em, a, b) => h.dms(em).openDM(a as never, b as never),
  createGroupDM: (em, a, b, c) => h.dms(em).createGroupDM(a as never, [b, c] as never),
  addRecipient: (em, a, b, c) => h.dms(em).addRecipient(a as never, b as never, c as never),
  leaveGroupDM: (em, a, b) => h.dms(em).leaveGroupDM(a as never, b as never),
  createThread: (em, a, b, c) => h.threads(em).createThread(a as never, b as never, c as never),
  startThread: (em, a, b, c) => h.threads(em).startThread(a as never, b as never, c as never),
  joinThread: (em, a, b) => h.threads(em).joinThread(a as never, b as never),
  updateThread: (em, a, b, c) => h.threads(em).updateThread(a as never, b as never, c as never),
  history: (em, a, b, c) => history(em, a as never, b as never, c as never),
  search: (em, a, b) => search(em, a as never, b as never),
};

async function buildWorld(): Promise<Ids> {
  const w = await h.world('Fuzz Land');
  const bob = await h.joined(w, 'bob');
  const carol = await h.joined(w, 'carol');
  const voice = await h.channel(w.server.id, { type: 'GUILD_VOICE' });
  const messages = [
    await h.messages().send(bob, w.textId, 'hello'),
    await h.messages().send(carol, w.textId, `<@${bob.id}> hi`),
  ];
  await h.reactions().react(bob, messages[0].id, '👍');
  const gone = await h.messages().send(bob, w.textId, 'soon deleted');
  await h.messages().deleteMessage(bob, gone.id);
  const roles = (
    await db().sql<{ id: string }>(`select id::text from "Role" where "serverId" = $1`, [w.server.id])
  ).map((r) => r.id);
  return {
    users: [w.owner.id, bob.id, carol.id],
    servers: [w.server.id],
    channels: [w.textId, voice],
    messages: messages.map((m) => m.id),
    roles,
    deleted: [gone.id, nextSnowflake()],
    codes: [w.code, 'nope'],
  };
}

describe('fuzzing the public domain methods', () => {
  it(`gives success or a typed error for ${RUNS} hostile calls, writes nothing when refusing, and keeps the invariants`, async () => {
    const ids = await buildWorld();
    const value = hostile(ids);
    const tally = { ok: 0, refused: 0, byCode: {} as Record<string, number> };
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...Object.keys(OPERATIONS)),
        value,
        value,
        value,
        value,
        async (name, a, b, c, d) => {
          const before = await h.counts();
          let outcome: unknown;
          try {
            await OPERATIONS[name](db().fork(), a, b, c, d);
            tally.ok++;
            return;
          } catch (error) {
            outcome = error;
          }
          if (!(outcome instanceof DomainError)) {
            throw new Error(
              `${name} threw a raw ${(outcome as Error)?.constructor?.name}: ${(outcome as Error)?.message}`,
            );
          }
          tally.refused++;
          tally.byCode[outcome.code] = (tally.byCode[outcome.code] ?? 0) + 1;
          expect(await h.counts(), `${name} was refused (${outcome.code}) yet wrote something`).toEqual(before);
        },
      ),
      { numRuns: RUNS, seed: Number(process.env.FUZZ_SEED ?? 20261126) },
    );
    console.log(
      `fuzz: ${RUNS} cases, ${tally.ok} succeeded, ${tally.refused} refused with typed ` +
        `errors: ${JSON.stringify(tally.byCode)}`,
    );
    expect(await checkInvariants(db().fork())).toEqual([]);
  }, 600_000);
});
