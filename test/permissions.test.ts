/**
 * Permissions (docs/architecture.md §9), pure: no database. Unit tests of each rule, then property tests
 * against a reference written straight from Discord's documentation ("Permission Overwrites" /
 * "Implicit Permissions" pseudo-code), kept deliberately naive and independent of src/.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { DomainError, HierarchyViolation, MissingPermission, ValidationFailed } from '../src/domain/errors';
import {
  ALL_PERMISSIONS,
  DEFAULT_EVERYONE_PERMISSIONS,
  PERMISSION_NAMES,
  PermissionFlags,
  SEND_DEPENDENT_PERMISSIONS,
  VOICE_PERMISSIONS,
  applyImplicitPermissions,
  assertCanActOnMember,
  assertCanAssignRole,
  assertCanGrant,
  assertCanManageRole,
  assertPermissions,
  canActOnMember,
  canAssignRole,
  canGrant,
  canManageRole,
  channelKindOf,
  compareRoleRank,
  computeEffectivePermissions,
  computePermissions,
  explainPermissions,
  hasPermission,
  highestRole,
  isTimedOut,
  memberActionRefusal,
  missingPermissions,
  outranks,
  parsePermissions,
  permissionBits,
  permissionNames,
  type ChannelKind,
  type ComputePermissionsInput,
  type MemberAction,
  type PermissionContext,
  type RankedMember,
} from '../src/domain/permissions';

const F = PermissionFlags;
const NONE = 0n;

/** The bit positions as the brief / Discord's documentation list them, typed out independently. */
const DOCUMENTED_BITS: Record<string, number> = {
  CREATE_INSTANT_INVITE: 0,
  KICK_MEMBERS: 1,
  BAN_MEMBERS: 2,
  ADMINISTRATOR: 3,
  MANAGE_CHANNELS: 4,
  MANAGE_GUILD: 5,
  ADD_REACTIONS: 6,
  VIEW_AUDIT_LOG: 7,
  PRIORITY_SPEAKER: 8,
  STREAM: 9,
  VIEW_CHANNEL: 10,
  SEND_MESSAGES: 11,
  SEND_TTS_MESSAGES: 12,
  MANAGE_MESSAGES: 13,
  EMBED_LINKS: 14,
  ATTACH_FILES: 15,
  READ_MESSAGE_HISTORY: 16,
  MENTION_EVERYONE: 17,
  USE_EXTERNAL_EMOJIS: 18,
  VIEW_GUILD_INSIGHTS: 19,
  CONNECT: 20,
  SPEAK: 21,
  MUTE_MEMBERS: 22,
  DEAFEN_MEMBERS: 23,
  MOVE_MEMBERS: 24,
  USE_VAD: 25,
  CHANGE_NICKNAME: 26,
  MANAGE_NICKNAMES: 27,
  MANAGE_ROLES: 28,
  MANAGE_WEBHOOKS: 29,
  MANAGE_GUILD_EXPRESSIONS: 30,
  USE_APPLICATION_COMMANDS: 31,
  REQUEST_TO_SPEAK: 32,
  MANAGE_EVENTS: 33,
  MANAGE_THREADS: 34,
  CREATE_PUBLIC_THREADS: 35,
  CREATE_PRIVATE_THREADS: 36,
  USE_EXTERNAL_STICKERS: 37,
  SEND_MESSAGES_IN_THREADS: 38,
  USE_EMBEDDED_ACTIVITIES: 39,
  MODERATE_MEMBERS: 40,
  VIEW_CREATOR_MONETIZATION_ANALYTICS: 41,
  USE_SOUNDBOARD: 42,
  CREATE_GUILD_EXPRESSIONS: 43,
  CREATE_EVENTS: 44,
  USE_EXTERNAL_SOUNDS: 45,
  SEND_VOICE_MESSAGES: 46,
  SEND_POLLS: 49,
  USE_EXTERNAL_APPS: 50,
  PIN_MESSAGES: 51,
  BYPASS_SLOWMODE: 52,
};

const SERVER = '100';
const OWNER = '900';
const ME = '500';
const OTHER = '501';

function input(over: Partial<ComputePermissionsInput> = {}): ComputePermissionsInput {
  return { serverId: SERVER, ownerId: OWNER, memberId: ME, everyone: NONE, roles: [], overwrites: [], ...over };
}

function expectDomainError(
  fn: () => unknown,
  type: abstract new (...args: never[]) => DomainError,
  code: string,
): DomainError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(type);
    expect((e as DomainError).code).toBe(code);
    return e as DomainError;
  }
  throw new Error(`expected ${code}, nothing was thrown`);
}

// ---------------------------------------------------------------------------------------------------
describe('flags', () => {
  it("has exactly Discord's names and bit values", () => {
    expect(Object.keys(PermissionFlags).sort()).toEqual(Object.keys(DOCUMENTED_BITS).sort());
    for (const [name, position] of Object.entries(DOCUMENTED_BITS)) {
      expect(PermissionFlags[name as keyof typeof PermissionFlags], name).toBe(2n ** BigInt(position));
    }
    expect(PERMISSION_NAMES[0]).toBe('CREATE_INSTANT_INVITE');
    expect(PERMISSION_NAMES[PERMISSION_NAMES.length - 1]).toBe('BYPASS_SLOWMODE');
    expect(Object.isFrozen(PermissionFlags)).toBe(true);
  });

  it('ALL_PERMISSIONS is the OR of every flag, and nothing more', () => {
    const sum = Object.values(DOCUMENTED_BITS).reduce((acc, p) => acc + 2n ** BigInt(p), 0n);
    expect(ALL_PERMISSIONS).toBe(sum);
    expect(ALL_PERMISSIONS & (1n << 47n)).toBe(0n);
    expect(ALL_PERMISSIONS & (1n << 48n)).toBe(0n);
    expect(ALL_PERMISSIONS >> 53n).toBe(0n);
  });

  it('the @everyone default lets people talk but not moderate', () => {
    for (const name of [
      'VIEW_CHANNEL',
      'SEND_MESSAGES',
      'READ_MESSAGE_HISTORY',
      'CONNECT',
      'SPEAK',
      'ADD_REACTIONS',
      'SEND_MESSAGES_IN_THREADS',
    ] as const) {
      expect(hasPermission(DEFAULT_EVERYONE_PERMISSIONS, name), name).toBe(true);
    }
    for (const name of [
      'ADMINISTRATOR',
      'KICK_MEMBERS',
      'BAN_MEMBERS',
      'MANAGE_ROLES',
      'MANAGE_CHANNELS',
      'MANAGE_GUILD',
      'MANAGE_MESSAGES',
      'MENTION_EVERYONE',
      'MODERATE_MEMBERS',
      'VIEW_AUDIT_LOG',
      'PIN_MESSAGES',
      'BYPASS_SLOWMODE',
    ] as const) {
      expect(hasPermission(DEFAULT_EVERYONE_PERMISSIONS, name), name).toBe(false);
    }
    expect(DEFAULT_EVERYONE_PERMISSIONS & ~ALL_PERMISSIONS).toBe(0n);
  });

  it('hasPermission is an exact bit test, by flag, name or OR of flags', () => {
    const bits = F.VIEW_CHANNEL | F.SEND_MESSAGES;
    expect(hasPermission(bits, F.VIEW_CHANNEL)).toBe(true);
    expect(hasPermission(bits, 'SEND_MESSAGES')).toBe(true);
    expect(hasPermission(bits, F.VIEW_CHANNEL | F.SEND_MESSAGES)).toBe(true);
    expect(hasPermission(bits, F.VIEW_CHANNEL | F.ATTACH_FILES)).toBe(false);
    expect(hasPermission(F.ADMINISTRATOR, 'KICK_MEMBERS')).toBe(false);
    expect(() => hasPermission(bits, 'NOPE' as never)).toThrow(ValidationFailed);
  });

  it('permissionNames decodes in bit order and round-trips with permissionBits', () => {
    expect(permissionNames(F.SEND_MESSAGES | F.KICK_MEMBERS | F.PIN_MESSAGES)).toEqual([
      'KICK_MEMBERS',
      'SEND_MESSAGES',
      'PIN_MESSAGES',
    ]);
    expect(permissionNames(0n)).toEqual([]);
    expect(permissionNames(1n << 47n)).toEqual([]);
    fc.assert(
      fc.property(fc.subarray([...PERMISSION_NAMES]), (names) => {
        expect(permissionNames(permissionBits(...names))).toEqual(names);
      }),
      { numRuns: 300 },
    );
    expect(missingPermissions(F.VIEW_CHANNEL, ['VIEW_CHANNEL', 'SEND_MESSAGES', 'BAN_MEMBERS'])).toEqual([
      'BAN_MEMBERS',
      'SEND_MESSAGES',
    ]);
  });

  it('parsePermissions accepts bigints, decimal strings and safe integers', () => {
    expect(parsePermissions(0n)).toBe(0n);
    expect(parsePermissions(ALL_PERMISSIONS)).toBe(ALL_PERMISSIONS);
    expect(parsePermissions(ALL_PERMISSIONS.toString())).toBe(ALL_PERMISSIONS);
    expect(parsePermissions('2048')).toBe(F.SEND_MESSAGES);
    expect(parsePermissions(8)).toBe(F.ADMINISTRATOR);
  });

  it('parsePermissions rejects negatives, unknown bits and malformed input with ValidationFailed', () => {
    const bad: unknown[] = [
      -1n,
      '-1',
      -8,
      1n << 47n,
      1n << 48n,
      1n << 53n,
      (1n << 60n).toString(),
      '0x10',
      '1e3',
      '',
      ' 8',
      '8.0',
      1.5,
      2 ** 60,
      null,
      undefined,
      {},
      [],
      true,
    ];
    for (const value of bad) {
      const e = expectDomainError(
        () => parsePermissions(value, 'role.permissions'),
        ValidationFailed,
        'VALIDATION_FAILED',
      );
      expect((e as ValidationFailed).field).toBe('role.permissions');
      expect(() => JSON.stringify(e)).not.toThrow();
    }
    const e = expectDomainError(
      () => parsePermissions((1n << 47n) | F.VIEW_CHANNEL),
      ValidationFailed,
      'VALIDATION_FAILED',
    );
    expect(e.details.bits).toEqual([47]);
  });
});

// ---------------------------------------------------------------------------------------------------
describe('computePermissions: steps 1-4', () => {
  it('1. the owner gets everything, whatever roles and overwrites say', () => {
    const deny = { type: 'member' as const, id: OWNER, allow: 0n, deny: ALL_PERMISSIONS };
    expect(
      computePermissions(
        input({
          memberId: OWNER,
          everyone: 0n,
          overwrites: [deny, { type: 'role', id: SERVER, allow: 0n, deny: ALL_PERMISSIONS }],
        }),
      ),
    ).toBe(ALL_PERMISSIONS);
  });

  it('2. base is @everyone OR every role of the member; no overwrites = server level', () => {
    const p = computePermissions(
      input({
        everyone: F.VIEW_CHANNEL,
        roles: [
          { id: 'a', permissions: F.KICK_MEMBERS },
          { id: 'b', permissions: F.BAN_MEMBERS },
        ],
      }),
    );
    expect(p).toBe(F.VIEW_CHANNEL | F.KICK_MEMBERS | F.BAN_MEMBERS);
    expect(computePermissions(input())).toBe(0n);
  });

  it('3. ADMINISTRATOR from any role gives everything, and no overwrite takes it away', () => {
    const overwrites = [
      { type: 'role' as const, id: SERVER, allow: 0n, deny: ALL_PERMISSIONS },
      { type: 'role' as const, id: 'admin', allow: 0n, deny: ALL_PERMISSIONS },
      { type: 'member' as const, id: ME, allow: 0n, deny: ALL_PERMISSIONS },
    ];
    expect(computePermissions(input({ roles: [{ id: 'admin', permissions: F.ADMINISTRATOR }], overwrites }))).toBe(
      ALL_PERMISSIONS,
    );
    expect(computePermissions(input({ everyone: F.ADMINISTRATOR, overwrites }))).toBe(ALL_PERMISSIONS);
  });

  it('an overwrite cannot grant ADMINISTRATOR either', () => {
    const p = computePermissions(
      input({
        everyone: F.VIEW_CHANNEL,
        overwrites: [{ type: 'member', id: ME, allow: F.ADMINISTRATOR | F.SEND_MESSAGES, deny: 0n }],
      }),
    );
    expect(p).toBe(F.VIEW_CHANNEL | F.SEND_MESSAGES);
  });

  it('4a. the @everyone overwrite: deny, then allow', () => {
    const base = F.VIEW_CHANNEL | F.SEND_MESSAGES;
    expect(
      computePermissions(
        input({
          everyone: base,
          overwrites: [{ type: 'role', id: SERVER, allow: F.ATTACH_FILES, deny: F.SEND_MESSAGES }],
        }),
      ),
    ).toBe(F.VIEW_CHANNEL | F.ATTACH_FILES);
    // both on the same bit: allow applies after deny
    expect(
      computePermissions(
        input({
          everyone: 0n,
          overwrites: [{ type: 'role', id: SERVER, allow: F.SEND_MESSAGES, deny: F.SEND_MESSAGES }],
        }),
      ),
    ).toBe(F.SEND_MESSAGES);
  });

  it("4b. role overwrites count together: one role's allow beats another role's deny", () => {
    const roles = [
      { id: 'muted', permissions: 0n },
      { id: 'helper', permissions: 0n },
    ];
    const overwrites = [
      { type: 'role' as const, id: 'muted', allow: 0n, deny: F.SEND_MESSAGES },
      { type: 'role' as const, id: 'helper', allow: F.SEND_MESSAGES, deny: 0n },
    ];
    expect(computePermissions(input({ everyone: F.VIEW_CHANNEL | F.SEND_MESSAGES, roles, overwrites }))).toBe(
      F.VIEW_CHANNEL | F.SEND_MESSAGES,
    );
    expect(
      computePermissions(
        input({ everyone: F.VIEW_CHANNEL | F.SEND_MESSAGES, roles, overwrites: [...overwrites].reverse() }),
      ),
    ).toBe(F.VIEW_CHANNEL | F.SEND_MESSAGES);
  });

  it("4b. role overwrites come after @everyone's, whatever the stored order", () => {
    const roles = [{ id: 'r', permissions: 0n }];
    const overwrites = [
      { type: 'role' as const, id: 'r', allow: F.VIEW_CHANNEL, deny: 0n },
      { type: 'role' as const, id: SERVER, allow: 0n, deny: F.VIEW_CHANNEL },
    ];
    expect(computePermissions(input({ everyone: F.VIEW_CHANNEL, roles, overwrites }))).toBe(F.VIEW_CHANNEL);
  });

  it("4c. the member's own overwrite comes last and beats role overwrites", () => {
    const roles = [{ id: 'r', permissions: 0n }];
    const overwrites = [
      { type: 'member' as const, id: ME, allow: F.ATTACH_FILES, deny: F.SEND_MESSAGES },
      { type: 'role' as const, id: 'r', allow: F.SEND_MESSAGES, deny: F.ATTACH_FILES },
    ];
    expect(computePermissions(input({ everyone: F.VIEW_CHANNEL, roles, overwrites }))).toBe(
      F.VIEW_CHANNEL | F.ATTACH_FILES,
    );
  });

  it('ignores overwrites of roles the member lacks and of other members', () => {
    const overwrites = [
      { type: 'role' as const, id: 'not-mine', allow: F.MANAGE_MESSAGES, deny: F.VIEW_CHANNEL },
      { type: 'member' as const, id: OTHER, allow: F.MANAGE_MESSAGES, deny: F.VIEW_CHANNEL },
      // a member overwrite whose id is a role I hold does not count as that role's
      { type: 'member' as const, id: 'mine', allow: F.MANAGE_MESSAGES, deny: F.VIEW_CHANNEL },
    ];
    expect(
      computePermissions(input({ everyone: F.VIEW_CHANNEL, roles: [{ id: 'mine', permissions: 0n }], overwrites })),
    ).toBe(F.VIEW_CHANNEL);
  });

  it("the member's roles are not the @everyone role even if listed", () => {
    // listing @everyone among the roles must not re-apply its overwrite in the role group
    const overwrites = [
      { type: 'role' as const, id: SERVER, allow: 0n, deny: F.SEND_MESSAGES },
      { type: 'role' as const, id: 'r', allow: F.SEND_MESSAGES, deny: 0n },
      { type: 'member' as const, id: ME, allow: 0n, deny: 0n },
    ];
    const roles = [{ id: SERVER, permissions: F.VIEW_CHANNEL }];
    expect(computePermissions(input({ everyone: F.VIEW_CHANNEL | F.SEND_MESSAGES, roles, overwrites }))).toBe(
      F.VIEW_CHANNEL,
    );
  });
});

// ---------------------------------------------------------------------------------------------------
describe('applyImplicitPermissions: step 5', () => {
  const TEXT: PermissionContext = { channelType: 'text' };

  it('without VIEW_CHANNEL nothing counts', () => {
    expect(applyImplicitPermissions(ALL_PERMISSIONS & ~F.VIEW_CHANNEL & ~F.ADMINISTRATOR, TEXT)).toBe(0n);
    expect(applyImplicitPermissions(F.SEND_MESSAGES | F.CONNECT, { channelType: 'voice' })).toBe(0n);
  });

  it('without SEND_MESSAGES: no MENTION_EVERYONE, TTS, attachments or embeds', () => {
    const p =
      F.VIEW_CHANNEL | F.MENTION_EVERYONE | F.SEND_TTS_MESSAGES | F.ATTACH_FILES | F.EMBED_LINKS | F.ADD_REACTIONS;
    expect(applyImplicitPermissions(p, TEXT)).toBe(F.VIEW_CHANNEL | F.ADD_REACTIONS);
    expect(applyImplicitPermissions(p | F.SEND_MESSAGES, TEXT)).toBe(p | F.SEND_MESSAGES);
  });

  it('in a voice or stage channel without CONNECT nothing voice-related counts; text chat stays', () => {
    const p =
      F.VIEW_CHANNEL |
      F.SEND_MESSAGES |
      F.SPEAK |
      F.STREAM |
      F.MUTE_MEMBERS |
      F.MOVE_MEMBERS |
      F.USE_VAD |
      F.REQUEST_TO_SPEAK |
      F.USE_SOUNDBOARD |
      F.PRIORITY_SPEAKER |
      F.DEAFEN_MEMBERS;
    expect(applyImplicitPermissions(p, { channelType: 'voice' })).toBe(F.VIEW_CHANNEL | F.SEND_MESSAGES);
    expect(applyImplicitPermissions(p, { channelType: 'stage' })).toBe(F.VIEW_CHANNEL | F.SEND_MESSAGES);
    expect(applyImplicitPermissions(p | F.CONNECT, { channelType: 'voice' })).toBe(p | F.CONNECT);
    // the CONNECT rule is about voice channels only
    expect(applyImplicitPermissions(p, TEXT)).toBe(p);
  });

  it('in a thread SEND_MESSAGES_IN_THREADS stands in for SEND_MESSAGES', () => {
    const thread: PermissionContext = { channelType: 'thread' };
    // parent lets me talk, threads do not: I cannot post in the thread, nor attach there
    expect(applyImplicitPermissions(F.VIEW_CHANNEL | F.SEND_MESSAGES | F.ATTACH_FILES, thread)).toBe(F.VIEW_CHANNEL);
    // parent forbids talking, threads allow it: I can post (and attach) in the thread
    const inThreads = F.VIEW_CHANNEL | F.SEND_MESSAGES_IN_THREADS | F.ATTACH_FILES;
    expect(applyImplicitPermissions(inThreads, thread)).toBe(inThreads | F.SEND_MESSAGES);
    // the same bits in the parent channel itself: no SEND_MESSAGES, so no attachments
    expect(applyImplicitPermissions(inThreads, TEXT)).toBe(F.VIEW_CHANNEL | F.SEND_MESSAGES_IN_THREADS);
  });

  it('a private thread is visible to its members and to MANAGE_THREADS only', () => {
    const p = F.VIEW_CHANNEL | F.SEND_MESSAGES_IN_THREADS | F.READ_MESSAGE_HISTORY;
    expect(applyImplicitPermissions(p, { channelType: 'thread', privateThread: true })).toBe(0n);
    expect(applyImplicitPermissions(p, { channelType: 'thread', privateThread: true, threadMember: true })).toBe(
      p | F.SEND_MESSAGES,
    );
    expect(applyImplicitPermissions(p | F.MANAGE_THREADS, { channelType: 'thread', privateThread: true })).toBe(
      p | F.MANAGE_THREADS | F.SEND_MESSAGES,
    );
  });

  it('a timed-out member keeps only VIEW_CHANNEL and READ_MESSAGE_HISTORY, in channels and at server level', () => {
    const p = ALL_PERMISSIONS & ~F.ADMINISTRATOR;
    expect(applyImplicitPermissions(p, { channelType: 'text', timedOut: true })).toBe(
      F.VIEW_CHANNEL | F.READ_MESSAGE_HISTORY,
    );
    expect(applyImplicitPermissions(p, { timedOut: true })).toBe(F.VIEW_CHANNEL | F.READ_MESSAGE_HISTORY);
    expect(applyImplicitPermissions(F.SEND_MESSAGES, { channelType: 'text', timedOut: true })).toBe(0n);
  });

  it('owner and administrators are exempt (flag or ADMINISTRATOR bit)', () => {
    expect(applyImplicitPermissions(ALL_PERMISSIONS, { channelType: 'voice', timedOut: true })).toBe(ALL_PERMISSIONS);
    const p = F.SEND_MESSAGES | F.KICK_MEMBERS;
    expect(applyImplicitPermissions(p, { channelType: 'text', timedOut: true, isOwner: true })).toBe(p);
    expect(applyImplicitPermissions(p, { channelType: 'text', timedOut: true, isAdministrator: true })).toBe(p);
  });

  it('at server level only the timeout rule applies', () => {
    expect(applyImplicitPermissions(F.KICK_MEMBERS)).toBe(F.KICK_MEMBERS);
    expect(applyImplicitPermissions(F.MENTION_EVERYONE, {})).toBe(F.MENTION_EVERYONE);
  });

  it('computeEffectivePermissions: a timed-out owner and a timed-out admin keep everything', () => {
    const everyone = F.VIEW_CHANNEL | F.SEND_MESSAGES;
    expect(
      computeEffectivePermissions(input({ memberId: OWNER, everyone }), { channelType: 'text', timedOut: true }),
    ).toBe(ALL_PERMISSIONS);
    expect(
      computeEffectivePermissions(input({ roles: [{ id: 'a', permissions: F.ADMINISTRATOR }] }), {
        channelType: 'text',
        timedOut: true,
      }),
    ).toBe(ALL_PERMISSIONS);
    expect(computeEffectivePermissions(input({ everyone }), { channelType: 'text', timedOut: true })).toBe(
      F.VIEW_CHANNEL,
    );
    // an overwrite granting ADMINISTRATOR does not exempt from the timeout
    const overwrites = [{ type: 'member' as const, id: ME, allow: F.ADMINISTRATOR, deny: 0n }];
    expect(computeEffectivePermissions(input({ everyone, overwrites }), { channelType: 'text', timedOut: true })).toBe(
      F.VIEW_CHANNEL,
    );
  });

  it('channelKindOf maps Discord channel types; isTimedOut compares with now', () => {
    expect(channelKindOf(0)).toBe('text');
    expect(channelKindOf('GUILD_VOICE')).toBe('voice');
    expect(channelKindOf(13)).toBe('stage');
    expect(channelKindOf('PRIVATE_THREAD')).toBe('thread');
    expect(channelKindOf(15)).toBe('forum');
    expect(() => channelKindOf(1)).toThrow(RangeError); // DM
    const now = new Date('2025-01-01T00:00:00Z');
    expect(isTimedOut(new Date('2025-01-02T00:00:00Z'), now)).toBe(true);
    expect(isTimedOut(new Date('2024-12-31T00:00:00Z'), now)).toBe(false);
    expect(isTimedOut(null, now)).toBe(false);
  });
});

describe('assertPermissions', () => {
  it('throws MissingPermission naming every missing flag', () => {
    const e = expectDomainError(
      () => assertPermissions(F.VIEW_CHANNEL, ['VIEW_CHANNEL', 'MANAGE_ROLES', 'KICK_MEMBERS'], { channelId: 'c' }),
      MissingPermission,
      'MISSING_PERMISSION',
    );
    expect((e as MissingPermission).permissions).toEqual(['KICK_MEMBERS', 'MANAGE_ROLES']);
    expect((e as MissingPermission).permission).toBe('KICK_MEMBERS');
    expect(e.details).toMatchObject({ permissions: ['KICK_MEMBERS', 'MANAGE_ROLES'], channelId: 'c' });
    expect(JSON.parse(JSON.stringify(e))).toMatchObject({ code: 'MISSING_PERMISSION' });
    expect(() => assertPermissions(F.KICK_MEMBERS | F.BAN_MEMBERS, F.KICK_MEMBERS)).not.toThrow();
    expect(() => assertPermissions(F.BAN_MEMBERS, 'BAN_MEMBERS')).not.toThrow();
    expect(() => assertPermissions(F.ADMINISTRATOR, 'BAN_MEMBERS')).toThrow(MissingPermission);
  });
});

describe('explainPermissions', () => {
  it('names the role, the overwrite or the implicit rule behind each flag', () => {
    const i = input({
      everyone: F.VIEW_CHANNEL | F.SEND_MESSAGES | F.ATTACH_FILES,
      roles: [{ id: 'mod', permissions: F.KICK_MEMBERS | F.VIEW_CHANNEL }],
      overwrites: [
        { type: 'role', id: SERVER, allow: 0n, deny: F.SEND_MESSAGES },
        { type: 'role', id: 'mod', allow: F.MANAGE_MESSAGES, deny: 0n },
        { type: 'member', id: ME, allow: F.ADMINISTRATOR, deny: 0n },
      ],
    });
    const { permissions, entries } = explainPermissions(i, { channelType: 'text' });
    const by = Object.fromEntries(entries.map((e) => [e.name, e]));
    expect(permissions).toBe(F.VIEW_CHANNEL | F.KICK_MEMBERS | F.MANAGE_MESSAGES);
    expect(by.VIEW_CHANNEL.reason).toEqual({ kind: 'role', roleIds: [SERVER, 'mod'] });
    expect(by.SEND_MESSAGES.reason).toEqual({ kind: 'overwrite', scope: 'everyone', effect: 'deny', ids: [SERVER] });
    expect(by.MANAGE_MESSAGES.reason).toEqual({ kind: 'overwrite', scope: 'role', effect: 'allow', ids: ['mod'] });
    expect(by.ATTACH_FILES.reason).toEqual({ kind: 'implicit', rule: 'no-send-messages' });
    expect(by.ATTACH_FILES.history[0]).toEqual({ kind: 'role', roleIds: [SERVER] });
    expect(by.ADMINISTRATOR.granted).toBe(false);
    expect(by.ADMINISTRATOR.reason).toEqual({ kind: 'administrator-not-overwritable', ids: [ME] });
    expect(by.BAN_MEMBERS.reason).toEqual({ kind: 'not-granted' });
    expect(entries).toHaveLength(PERMISSION_NAMES.length);

    const admin = explainPermissions(input({ roles: [{ id: 'boss', permissions: F.ADMINISTRATOR }] }));
    expect(admin.permissions).toBe(ALL_PERMISSIONS);
    expect(admin.entries.every((e) => e.granted && e.reason.kind === 'administrator')).toBe(true);
    expect(explainPermissions(input({ memberId: OWNER })).entries[0].reason).toEqual({ kind: 'owner' });
  });
});

// ---------------------------------------------------------------------------------------------------
describe('hierarchy', () => {
  const role = (id: string, position: number, managed = false) => ({ id, position, managed });
  const member = (id: string, ...roles: ReturnType<typeof role>[]): RankedMember => ({ id, roles });

  it('highestRole: by position, ties broken by id (lower id ranks higher)', () => {
    expect(highestRole([])).toBeUndefined();
    expect(highestRole([role('10', 1), role('11', 3), role('12', 2)])!.id).toBe('11');
    expect(highestRole([role('20', 5), role('19', 5)])!.id).toBe('19');
    expect(highestRole([role('19', 5), role('20', 5)])!.id).toBe('19');
    // snowflakes compare as numbers, not strings
    expect(highestRole([role('100', 5), role('99', 5)])!.id).toBe('99');
    expect(compareRoleRank(role('1', 2), role('1', 2))).toBe(0);
  });

  it('outranks is strict: same role never, equal positions by id, no role lowest', () => {
    const high = role('30', 5);
    const low = role('31', 2);
    expect(outranks(high, low)).toBe(true);
    expect(outranks(low, high)).toBe(false);
    expect(outranks(high, high)).toBe(false);
    expect(outranks(role('40', 3), role('41', 3))).toBe(true);
    expect(outranks(role('41', 3), role('40', 3))).toBe(false);
    expect(outranks(member('a', high), member('b', high))).toBe(false);
    expect(outranks(member('a', low, high), member('b', high, low))).toBe(false);
    expect(outranks(member('a', low), member('b'))).toBe(true);
    expect(outranks(member('a'), member('b'))).toBe(false);
    expect(outranks(member('a'), low)).toBe(false);
  });

  it("canManageRole: only roles strictly below one's highest; the owner manages all", () => {
    const top = role('50', 10);
    const mid = role('51', 5);
    const peer = role('52', 5);
    const me = member(ME, mid);
    expect(canManageRole(me, role('53', 4), OWNER)).toBe(true);
    expect(canManageRole(me, mid, OWNER)).toBe(false); // my own highest role
    expect(canManageRole(me, peer, OWNER)).toBe(true); // equal position, higher id: below me
    expect(canManageRole(member(ME, peer), mid, OWNER)).toBe(false); // equal position, lower id: above
    expect(canManageRole(me, top, OWNER)).toBe(false);
    expect(canManageRole(member(OWNER), top, OWNER)).toBe(true);
    expect(() => assertCanManageRole(me, top, OWNER)).toThrow(HierarchyViolation);
    expect(canAssignRole(me, role('54', 1, true), OWNER)).toBe(false);
    expect(canAssignRole(member(OWNER), role('54', 1, true), OWNER)).toBe(false);
    expect(canAssignRole(me, role('54', 1), OWNER)).toBe(true);
    expectDomainError(
      () => assertCanAssignRole(member(OWNER), role('54', 1, true), OWNER),
      HierarchyViolation,
      'HIERARCHY_VIOLATION',
    );
  });

  it('canActOnMember: nobody acts on the owner; the owner acts on everyone', () => {
    const admin = member(ME, role('60', 100));
    const owner = member(OWNER);
    for (const action of ['kick', 'ban', 'timeout', 'nickname', 'roles', 'voice'] as MemberAction[]) {
      expect(canActOnMember(admin, owner, OWNER, action), action).toBe(false);
      expect(canActOnMember(owner, admin, OWNER, action), action).toBe(true);
    }
    const e = expectDomainError(
      () => assertCanActOnMember(admin, owner, OWNER, 'ban'),
      HierarchyViolation,
      'HIERARCHY_VIOLATION',
    );
    expect(e.details).toMatchObject({ action: 'ban', refusal: 'target-is-owner', actorId: ME, targetId: OWNER });
  });

  it('canActOnMember: acting on oneself depends on the action', () => {
    const me = member(ME, role('61', 3));
    const owner = member(OWNER);
    for (const action of ['kick', 'ban', 'timeout'] as MemberAction[]) {
      expect(memberActionRefusal(me, me, OWNER, action), action).toBe('self');
      expect(memberActionRefusal(owner, owner, OWNER, action), action).toBe('self');
    }
    for (const action of ['nickname', 'roles', 'voice'] as MemberAction[]) {
      expect(canActOnMember(me, me, OWNER, action), action).toBe(true);
      expect(canActOnMember(owner, owner, OWNER, action), action).toBe(true);
      expect(canActOnMember(member(ME), member(ME), OWNER, action), action).toBe(true);
    }
    expect(canActOnMember(me, me, OWNER)).toBe(false); // default: the strict rule
  });

  it('canActOnMember: equal positions, same top role, no roles', () => {
    const a = role('70', 4);
    const b = role('71', 4);
    expect(canActOnMember(member(ME, a), member(OTHER, b), OWNER, 'kick')).toBe(true);
    expect(canActOnMember(member(OTHER, b), member(ME, a), OWNER, 'kick')).toBe(false);
    expect(memberActionRefusal(member(ME, a), member(OTHER, a), OWNER, 'ban')).toBe('not-above-target');
    expect(canActOnMember(member(ME, a), member(OTHER), OWNER, 'timeout')).toBe(true);
    expect(canActOnMember(member(ME), member(OTHER), OWNER, 'nickname')).toBe(false);
    expect(canActOnMember(member(ME, role('72', 1)), member(OTHER, role('73', 9)), OWNER, 'nickname')).toBe(false);
  });

  it('assertCanGrant: nobody grants what they lack, unless administrator or owner', () => {
    const mine = F.MANAGE_ROLES | F.KICK_MEMBERS | F.VIEW_CHANNEL;
    expect(canGrant(mine, F.KICK_MEMBERS | F.VIEW_CHANNEL)).toBe(true);
    expect(() => assertCanGrant(mine, F.KICK_MEMBERS)).not.toThrow();
    const e = expectDomainError(
      () => assertCanGrant(mine, F.KICK_MEMBERS | F.BAN_MEMBERS | F.ADMINISTRATOR),
      MissingPermission,
      'MISSING_PERMISSION',
    );
    expect((e as MissingPermission).permissions).toEqual(['BAN_MEMBERS', 'ADMINISTRATOR']);
    // administrators and the owner (computed permissions = ALL) may grant anything
    expect(canGrant(F.ADMINISTRATOR, ALL_PERMISSIONS)).toBe(true);
    expect(canGrant(computePermissions(input({ memberId: OWNER })), ALL_PERMISSIONS)).toBe(true);
    // editing: bits already there may stay, new ones must be held
    expect(canGrant(mine, F.BAN_MEMBERS | F.KICK_MEMBERS, F.BAN_MEMBERS)).toBe(true);
    expect(canGrant(mine, F.BAN_MEMBERS | F.MANAGE_GUILD, F.BAN_MEMBERS)).toBe(false);
    expectDomainError(() => assertCanGrant(ALL_PERMISSIONS, 1n << 47n), ValidationFailed, 'VALIDATION_FAILED');
    expectDomainError(() => assertCanGrant(ALL_PERMISSIONS, -1n), ValidationFailed, 'VALIDATION_FAILED');
  });

  it('property: rank is a strict total order on distinct roles', () => {
    const roleArb = fc.record({
      id: fc.bigInt({ min: 1n, max: 50n }).map(String),
      position: fc.integer({ min: 0, max: 4 }),
    });
    fc.assert(
      fc.property(roleArb, roleArb, roleArb, (a, b, c) => {
        if (a.id === b.id) return;
        expect(outranks(a, b)).toBe(!outranks(b, a));
        if (outranks(a, b) && outranks(b, c)) expect(outranks(a, c)).toBe(true);
        const top = highestRole([a, b, c])!;
        for (const r of [a, b, c]) expect(outranks(r, top)).toBe(false);
      }),
      { numRuns: 1000 },
    );
  });
});

// ---------------------------------------------------------------------------------------------------
// Reference implementation, transcribed from Discord's documentation ("Permissions" topic:
// compute_base_permissions / compute_overwrites, and "Implicit Permissions"). Naive on purpose.

const REF_ALL = Object.values(DOCUMENTED_BITS).reduce((acc, p) => acc | (1n << BigInt(p)), 0n);
const REF_ADMIN = 1n << 3n;

interface RefGuild {
  id: string;
  ownerId: string;
  /** role id -> permissions; includes the @everyone role under the guild id */
  roles: Map<string, bigint>;
}
interface RefMember {
  userId: string;
  roleIds: string[];
}
interface RefChannel {
  /** target id -> overwrite (the documentation looks overwrites up by id) */
  overwrites: Map<string, { allow: bigint; deny: bigint }>;
}

function refComputeBasePermissions(member: RefMember, guild: RefGuild): bigint {
  if (guild.ownerId === member.userId) return REF_ALL;
  const roleEveryone = guild.roles.get(guild.id)!;
  let permissions = roleEveryone;
  for (const roleId of member.roleIds) permissions |= guild.roles.get(roleId)!;
  if ((permissions & REF_ADMIN) === REF_ADMIN) return REF_ALL;
  return permissions;
}

function refComputeOverwrites(
  basePermissions: bigint,
  member: RefMember,
  guild: RefGuild,
  channel: RefChannel,
): bigint {
  if ((basePermissions & REF_ADMIN) === REF_ADMIN) return REF_ALL;
  let permissions = basePermissions;
  const overwriteEveryone = channel.overwrites.get(guild.id);
  if (overwriteEveryone) {
    permissions &= ~overwriteEveryone.deny;
    permissions |= overwriteEveryone.allow;
  }
  let allow = 0n;
  let deny = 0n;
  for (const roleId of member.roleIds) {
    const overwriteRole = channel.overwrites.get(roleId);
    if (overwriteRole) {
      allow |= overwriteRole.allow;
      deny |= overwriteRole.deny;
    }
  }
  permissions &= ~deny;
  permissions |= allow;
  const overwriteMember = channel.overwrites.get(member.userId);
  if (overwriteMember) {
    permissions &= ~overwriteMember.deny;
    permissions |= overwriteMember.allow;
  }
  return permissions;
}

function refComputePermissions(member: RefMember, guild: RefGuild, channel: RefChannel): bigint {
  const base = refComputeBasePermissions(member, guild);
  const result = refComputeOverwrites(base, member, guild, channel);
  // CRYB's one documented deviation: ADMINISTRATOR is not a channel permission, an overwrite cannot grant it.
  return (base & REF_ADMIN) === REF_ADMIN ? result : result & ~REF_ADMIN;
}

const bitOf = (name: string) => 1n << BigInt(DOCUMENTED_BITS[name]);

/** Step 5, from the documentation and docs/architecture.md §9, written independently of src/. */
function refImplicit(
  p: bigint,
  ctx: { kind?: ChannelKind; timedOut: boolean; privileged: boolean; privateThread: boolean; threadMember: boolean },
): bigint {
  if (ctx.privileged) return p;
  if (ctx.timedOut) p = p & (bitOf('VIEW_CHANNEL') | bitOf('READ_MESSAGE_HISTORY'));
  if (ctx.kind === undefined) return p;
  if (!(p & bitOf('VIEW_CHANNEL'))) return 0n;
  if (ctx.kind === 'thread') {
    if (ctx.privateThread && !ctx.threadMember && !(p & bitOf('MANAGE_THREADS'))) return 0n;
    p = p & ~bitOf('SEND_MESSAGES');
    if (p & bitOf('SEND_MESSAGES_IN_THREADS')) p = p | bitOf('SEND_MESSAGES');
  }
  if (!(p & bitOf('SEND_MESSAGES'))) {
    for (const n of ['MENTION_EVERYONE', 'SEND_TTS_MESSAGES', 'ATTACH_FILES', 'EMBED_LINKS']) p &= ~bitOf(n);
  }
  if ((ctx.kind === 'voice' || ctx.kind === 'stage') && !(p & bitOf('CONNECT'))) {
    for (const n of [
      'CONNECT',
      'SPEAK',
      'MUTE_MEMBERS',
      'DEAFEN_MEMBERS',
      'MOVE_MEMBERS',
      'USE_VAD',
      'PRIORITY_SPEAKER',
      'STREAM',
      'REQUEST_TO_SPEAK',
      'USE_SOUNDBOARD',
      'USE_EXTERNAL_SOUNDS',
      'USE_EMBEDDED_ACTIVITIES',
    ]) {
      p &= ~bitOf(n);
    }
  }
  return p;
}

// ---------------------------------------------------------------------------------------------------
// Generators

const NON_ADMIN_FLAGS = Object.keys(DOCUMENTED_BITS)
  .filter((n) => n !== 'ADMINISTRATOR')
  .map(bitOf);
const FEW_FLAGS = [
  'VIEW_CHANNEL',
  'SEND_MESSAGES',
  'ATTACH_FILES',
  'CONNECT',
  'SEND_MESSAGES_IN_THREADS',
  'MANAGE_THREADS',
  'READ_MESSAGE_HISTORY',
].map(bitOf);

/** Bitfields: often from a few flags (so roles and overwrites collide), sometimes wide, ADMINISTRATOR rarely. */
const bitsArb = (adminWeight: number) =>
  fc
    .tuple(
      fc.oneof(
        { weight: 3, arbitrary: fc.subarray(FEW_FLAGS) },
        { weight: 1, arbitrary: fc.subarray(NON_ADMIN_FLAGS) },
        { weight: 1, arbitrary: fc.constant([] as bigint[]) },
      ),
      fc.integer({ min: 1, max: 100 }),
    )
    .map(([flags, roll]) => flags.reduce((a, b) => a | b, 0n) | (roll <= adminWeight ? REF_ADMIN : 0n));

interface World {
  input: ComputePermissionsInput;
  guild: RefGuild;
  member: RefMember;
  channel: RefChannel;
}

const USERS = ['500', '501', '502'];

const worldArb: fc.Arbitrary<World> = fc
  .record({
    everyone: bitsArb(2),
    roles: fc.array(fc.record({ permissions: bitsArb(3), mine: fc.boolean() }), { maxLength: 6 }),
    ownerId: fc.oneof(
      { weight: 1, arbitrary: fc.constant('500') },
      { weight: 6, arbitrary: fc.constantFrom('501', '502') },
    ),
    // one optional overwrite per possible target: @everyone, 6 roles, 3 users
    overwrites: fc.array(fc.option(fc.record({ allow: bitsArb(3), deny: bitsArb(10) }), { freq: 2 }), {
      minLength: 10,
      maxLength: 10,
    }),
    order: fc.array(fc.double({ noNaN: true }), { minLength: 10, maxLength: 10 }),
  })
  .map(({ everyone, roles, ownerId, overwrites, order }) => {
    const serverId = '1';
    const roleIds = roles.map((_, i) => String(10 + i));
    const targets: { id: string; type: 'role' | 'member' }[] = [
      { id: serverId, type: 'role' },
      ...roleIds.map((id) => ({ id, type: 'role' as const })),
      ...USERS.map((id) => ({ id, type: 'member' as const })),
    ];
    const list = targets
      .map((t, i) => ({ t, o: overwrites[i], k: order[i] }))
      .filter((x) => x.o != null)
      .sort((a, b) => a.k - b.k) // arbitrary stored order
      .map(({ t, o }) => ({ id: t.id, type: t.type, allow: o!.allow, deny: o!.deny }));
    const memberRoles = roles
      .map((r, i) => ({ id: roleIds[i], permissions: r.permissions, mine: r.mine }))
      .filter((r) => r.mine);
    const input: ComputePermissionsInput = {
      serverId,
      ownerId,
      memberId: '500',
      everyone,
      roles: memberRoles.map(({ id, permissions }) => ({ id, permissions })),
      overwrites: list,
    };
    const guild: RefGuild = {
      id: serverId,
      ownerId,
      roles: new Map([[serverId, everyone], ...roles.map((r, i) => [roleIds[i], r.permissions] as [string, bigint])]),
    };
    const member: RefMember = { userId: '500', roleIds: memberRoles.map((r) => r.id) };
    const channel: RefChannel = { overwrites: new Map(list.map((o) => [o.id, { allow: o.allow, deny: o.deny }])) };
    return { input, guild, member, channel };
  });

const contextArb = fc.record({
  channelType: fc.option(
    fc.constantFrom<ChannelKind>('text', 'announcement', 'forum', 'voice', 'stage', 'category', 'thread'),
    { nil: undefined, freq: 6 },
  ),
  timedOut: fc.boolean(),
  privateThread: fc.boolean(),
  threadMember: fc.boolean(),
});

function shuffled<T>(items: readonly T[], keys: readonly number[]): T[] {
  return items
    .map((item, i) => ({ item, k: keys[i % Math.max(keys.length, 1)] ?? 0, i }))
    .sort((a, b) => a.k - b.k || a.i - b.i)
    .map((x) => x.item);
}

describe('properties (fast-check)', () => {
  it('computePermissions agrees with the documented algorithm on random servers, roles and overwrites', () => {
    let owners = 0;
    let admins = 0;
    let channelLevel = 0;
    fc.assert(
      fc.property(worldArb, (w) => {
        const expected = refComputePermissions(w.member, w.guild, w.channel);
        expect(computePermissions(w.input)).toBe(expected);
        // the same member at server level: overwrites = []
        expect(computePermissions({ ...w.input, overwrites: [] })).toBe(
          refComputePermissions(w.member, w.guild, { overwrites: new Map() }),
        );
        if (w.input.ownerId === w.input.memberId) owners++;
        else if (expected === REF_ALL) admins++;
        else channelLevel++;
      }),
      { numRuns: 3000 },
    );
    // the generator reaches every branch
    expect(owners).toBeGreaterThan(100);
    expect(admins).toBeGreaterThan(100);
    expect(channelLevel).toBeGreaterThan(1000);
  });

  it('the stored order of overwrites (and roles) never changes the result', () => {
    fc.assert(
      fc.property(
        worldArb,
        fc.array(fc.double({ noNaN: true }), { minLength: 1, maxLength: 12 }),
        fc.array(fc.double({ noNaN: true }), { minLength: 1, maxLength: 12 }),
        (w, k1, k2) => {
          const again = {
            ...w.input,
            overwrites: shuffled(w.input.overwrites, k1),
            roles: shuffled(w.input.roles, k2),
          };
          expect(computePermissions(again)).toBe(computePermissions(w.input));
          expect(computePermissions({ ...w.input, overwrites: [...w.input.overwrites].reverse() })).toBe(
            computePermissions(w.input),
          );
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('an overwrite never takes ADMINISTRATOR away, and never grants it', () => {
    fc.assert(
      fc.property(worldArb, fc.boolean(), bitsArb(50), (w, viaEveryone, denyAll) => {
        const adminInput = viaEveryone
          ? { ...w.input, everyone: w.input.everyone | REF_ADMIN }
          : { ...w.input, roles: [...w.input.roles, { id: '99', permissions: REF_ADMIN }] };
        const hostile = [
          ...adminInput.overwrites,
          { id: '1', type: 'role' as const, allow: 0n, deny: ALL_PERMISSIONS | denyAll },
          { id: '99', type: 'role' as const, allow: 0n, deny: ALL_PERMISSIONS },
          { id: '500', type: 'member' as const, allow: 0n, deny: ALL_PERMISSIONS },
        ];
        expect(computePermissions({ ...adminInput, overwrites: hostile })).toBe(ALL_PERMISSIONS);
        // without an administrator role, the result holds ADMINISTRATOR only for the owner
        const p = computePermissions(w.input);
        const base = w.input.roles.reduce((a, r) => a | r.permissions, w.input.everyone);
        const isOwner = w.input.ownerId === w.input.memberId;
        expect((p & REF_ADMIN) !== 0n).toBe(isOwner || (base & REF_ADMIN) !== 0n);
      }),
      { numRuns: 1000 },
    );
  });

  it('the owner always gets everything, in every channel, timed out or not', () => {
    fc.assert(
      fc.property(worldArb, contextArb, (w, ctx) => {
        const asOwner = { ...w.input, ownerId: w.input.memberId };
        expect(computePermissions(asOwner)).toBe(ALL_PERMISSIONS);
        expect(computeEffectivePermissions(asOwner, ctx)).toBe(ALL_PERMISSIONS);
      }),
      { numRuns: 1000 },
    );
  });

  it('implicit rules agree with an independent reference', () => {
    fc.assert(
      fc.property(worldArb, contextArb, (w, ctx) => {
        const computed = refComputePermissions(w.member, w.guild, w.channel);
        const privileged =
          w.input.ownerId === w.input.memberId || (refComputeBasePermissions(w.member, w.guild) & REF_ADMIN) !== 0n;
        const expected = refImplicit(computed, {
          kind: ctx.channelType,
          timedOut: ctx.timedOut,
          privileged,
          privateThread: ctx.privateThread,
          threadMember: ctx.threadMember,
        });
        expect(computeEffectivePermissions(w.input, ctx)).toBe(expected);
        expect(
          applyImplicitPermissions(computePermissions(w.input), {
            ...ctx,
            isOwner: w.input.ownerId === w.input.memberId,
          }),
        ).toBe(expected);
        // the invariants, stated directly
        if (!privileged) {
          if (ctx.timedOut) expect(expected & ~(F.VIEW_CHANNEL | F.READ_MESSAGE_HISTORY)).toBe(0n);
          if (ctx.channelType !== undefined) {
            if (!(expected & F.VIEW_CHANNEL)) expect(expected).toBe(0n);
            if (!(expected & F.SEND_MESSAGES)) expect(expected & SEND_DEPENDENT_PERMISSIONS).toBe(0n);
            if ((ctx.channelType === 'voice' || ctx.channelType === 'stage') && !(expected & F.CONNECT))
              expect(expected & VOICE_PERMISSIONS).toBe(0n);
            if (ctx.channelType === 'thread')
              expect(!!(expected & F.SEND_MESSAGES)).toBe(!!(expected & F.SEND_MESSAGES_IN_THREADS));
          }
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('explainPermissions agrees with the computation, flag by flag', () => {
    fc.assert(
      fc.property(worldArb, fc.option(contextArb, { nil: undefined }), (w, ctx) => {
        const explained = explainPermissions(w.input, ctx);
        const expected = ctx ? computeEffectivePermissions(w.input, ctx) : computePermissions(w.input);
        expect(explained.permissions).toBe(expected);
        for (const e of explained.entries) {
          expect(e.granted, e.name).toBe((expected & e.bit) !== 0n);
          expect(e.reason).toBe(e.history[e.history.length - 1]);
          if (e.reason.kind === 'role') expect(e.granted).toBe(true);
          if (e.reason.kind === 'not-granted') expect(e.granted).toBe(false);
          if (e.reason.kind === 'overwrite') expect(e.granted).toBe(e.reason.effect === 'allow');
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('assertCanGrant refuses exactly the bits the actor lacks', () => {
    fc.assert(
      fc.property(bitsArb(10), bitsArb(0), (actor, requested) => {
        const lacking = (actor & REF_ADMIN) !== 0n ? 0n : requested & ~actor;
        if (lacking === 0n) {
          expect(() => assertCanGrant(actor, requested)).not.toThrow();
        } else {
          try {
            assertCanGrant(actor, requested);
            expect.unreachable('should refuse');
          } catch (e) {
            expect(e).toBeInstanceOf(MissingPermission);
            expect((e as MissingPermission).permissions).toEqual(permissionNames(lacking));
          }
        }
      }),
      { numRuns: 1000 },
    );
  });
});
