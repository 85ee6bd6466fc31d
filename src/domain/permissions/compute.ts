/**
 * Discord's permission algorithm (docs/architecture.md §9), pure.
 *
 * - `computePermissions`: steps 1-4 (owner, base, administrator, overwrites in Discord's order).
 * - `applyImplicitPermissions`: step 5 (view, send, connect, threads, timeout) for a channel, or only
 *   the timeout rule at server level.
 * - `computeEffectivePermissions`: both at once; what a domain method normally wants.
 * - `explainPermissions`: per flag, where the final answer came from (role, overwrite, implicit rule).
 * - `assertPermissions`: throws `MissingPermission` naming what is missing.
 */
import { MissingPermission } from '../errors';
import {
  ALL_PERMISSIONS,
  PERMISSION_NAMES,
  PermissionFlags as F,
  permissionBits,
  permissionNames,
  type PermissionName,
} from './flags';

export interface PermissionRoleInput {
  id: string;
  permissions: bigint;
}

export interface PermissionOverwriteInput {
  id: string;
  type: 'role' | 'member';
  allow: bigint;
  deny: bigint;
}

/** The argument of `computePermissions` (the signature is fixed; other code depends on it). */
export type ComputePermissionsInput = {
  serverId: string; // the @everyone role and its overwrite carry this id
  ownerId: string;
  memberId: string;
  everyone: bigint; // the @everyone role's permissions
  roles: { id: string; permissions: bigint }[]; // the member's other roles
  overwrites: { id: string; type: 'role' | 'member'; allow: bigint; deny: bigint }[]; // [] at server level
};

interface OverwriteGroups {
  /** Role overwrites whose id is the server id (@everyone). */
  everyone: PermissionOverwriteInput[];
  /** Role overwrites for roles the member has (other than @everyone). */
  roles: PermissionOverwriteInput[];
  /** Member overwrites for this member. */
  member: PermissionOverwriteInput[];
}

/**
 * Sorts overwrites into Discord's three groups, whatever their stored order. Overwrites of roles the
 * member lacks and of other members are dropped. Should two rows share a target (the schema forbids it),
 * they are merged by OR, so the order of the array still cannot matter.
 */
function groupOverwrites(input: ComputePermissionsInput): OverwriteGroups {
  const groups: OverwriteGroups = { everyone: [], roles: [], member: [] };
  if (input.overwrites.length === 0) return groups;
  const roleIds = new Set<string>();
  for (const role of input.roles) if (role.id !== input.serverId) roleIds.add(role.id);
  for (const o of input.overwrites) {
    if (o.type === 'role') {
      if (o.id === input.serverId) groups.everyone.push(o);
      else if (roleIds.has(o.id)) groups.roles.push(o);
    } else if (o.type === 'member' && o.id === input.memberId) {
      groups.member.push(o);
    }
  }
  return groups;
}

function basePermissions(input: ComputePermissionsInput): bigint {
  let base = input.everyone;
  for (const role of input.roles) base |= role.permissions;
  return base;
}

/**
 * Steps 1-4 of docs/architecture.md §9 (Discord's documented algorithm):
 * 1. the owner gets ALL_PERMISSIONS;
 * 2. base = @everyone OR every role of the member;
 * 3. ADMINISTRATOR in base gives ALL_PERMISSIONS, and no overwrite can take it away;
 * 4. overwrites, in this order whatever the array order: the @everyone overwrite (id === serverId;
 *    deny, then allow), the member's role overwrites together (OR of denies removed, then OR of allows
 *    added), the member's own overwrite (deny, then allow).
 *
 * Pass `overwrites: []` for server-level permissions. An overwrite cannot grant ADMINISTRATOR either
 * (it is not a channel permission): the result has the ADMINISTRATOR bit exactly when the member is the
 * owner or an administrator. The result never holds bits that are not known flags.
 */
export function computePermissions(input: {
  serverId: string; // the @everyone role and its overwrite carry this id
  ownerId: string;
  memberId: string;
  everyone: bigint; // the @everyone role's permissions
  roles: { id: string; permissions: bigint }[]; // the member's other roles
  overwrites: { id: string; type: 'role' | 'member'; allow: bigint; deny: bigint }[]; // [] at server level
}): bigint {
  if (input.memberId === input.ownerId) return ALL_PERMISSIONS;
  const base = basePermissions(input);
  if ((base & F.ADMINISTRATOR) !== 0n) return ALL_PERMISSIONS;
  let permissions = base;
  const groups = groupOverwrites(input);
  for (const group of [groups.everyone, groups.roles, groups.member]) {
    let allow = 0n;
    let deny = 0n;
    for (const o of group) {
      allow |= o.allow;
      deny |= o.deny;
    }
    permissions = (permissions & ~deny) | allow;
  }
  return permissions & ~F.ADMINISTRATOR & ALL_PERMISSIONS;
}

// ---------------------------------------------------------------------------------------------------
// Step 5: implicit permissions

/** Channel kinds the implicit rules distinguish. Threads of every kind (public, private, announcement) are 'thread'. */
export const CHANNEL_KINDS = [
  'text',
  'announcement',
  'forum',
  'media',
  'voice',
  'stage',
  'category',
  'thread',
] as const;
export type ChannelKind = (typeof CHANNEL_KINDS)[number];

const KIND_BY_DISCORD_TYPE: Readonly<Record<string, ChannelKind>> = {
  0: 'text',
  GUILD_TEXT: 'text',
  2: 'voice',
  GUILD_VOICE: 'voice',
  4: 'category',
  GUILD_CATEGORY: 'category',
  5: 'announcement',
  GUILD_ANNOUNCEMENT: 'announcement',
  10: 'thread',
  ANNOUNCEMENT_THREAD: 'thread',
  11: 'thread',
  PUBLIC_THREAD: 'thread',
  12: 'thread',
  PRIVATE_THREAD: 'thread',
  13: 'stage',
  GUILD_STAGE_VOICE: 'stage',
  15: 'forum',
  GUILD_FORUM: 'forum',
  16: 'media',
  GUILD_MEDIA: 'media',
};

/** Maps Discord's channel type (number, or its name such as 'GUILD_VOICE') to a ChannelKind. */
export function channelKindOf(type: number | string): ChannelKind {
  const kind = KIND_BY_DISCORD_TYPE[String(type)];
  if (!kind) throw new RangeError(`not a server channel type: ${String(type)}`);
  return kind;
}

/** Whether a timeout ending at `until` is still running at `now`. */
export function isTimedOut(until: Date | null | undefined, now: Date = new Date()): boolean {
  return until != null && until.getTime() > now.getTime();
}

/** Where the implicit rules are applied. */
export interface PermissionContext {
  /** The channel's kind. Omitted: server level, where only the timeout rule applies. */
  channelType?: ChannelKind;
  /** A private thread: visible only to its members and to holders of MANAGE_THREADS. */
  privateThread?: boolean;
  /** The member has joined the (private) thread. */
  threadMember?: boolean;
  /** The member is timed out now (see `isTimedOut`). */
  timedOut?: boolean;
  /** The member owns the server. Also inferred from the ADMINISTRATOR bit of computed permissions. */
  isOwner?: boolean;
  /** The member is an administrator. Also inferred from the ADMINISTRATOR bit of computed permissions. */
  isAdministrator?: boolean;
}

/** The permissions that depend on SEND_MESSAGES (Discord's documented list). */
export const SEND_DEPENDENT_PERMISSIONS: bigint =
  F.MENTION_EVERYONE | F.SEND_TTS_MESSAGES | F.ATTACH_FILES | F.EMBED_LINKS;

/** What CONNECT gates in a voice or stage channel: everything done in the call. Text chat stays. */
export const VOICE_PERMISSIONS: bigint =
  F.CONNECT |
  F.SPEAK |
  F.MUTE_MEMBERS |
  F.DEAFEN_MEMBERS |
  F.MOVE_MEMBERS |
  F.USE_VAD |
  F.PRIORITY_SPEAKER |
  F.STREAM |
  F.REQUEST_TO_SPEAK |
  F.USE_SOUNDBOARD |
  F.USE_EXTERNAL_SOUNDS |
  F.USE_EMBEDDED_ACTIVITIES;

/** What a timed-out member keeps (unless owner or administrator). */
export const TIMEOUT_PERMISSIONS: bigint = F.VIEW_CHANNEL | F.READ_MESSAGE_HISTORY;

export type ImplicitRule =
  'timed-out' | 'no-view-channel' | 'private-thread' | 'thread-send' | 'no-send-messages' | 'no-connect';

interface ImplicitStep {
  rule: ImplicitRule;
  before: bigint;
  after: bigint;
}

function isPrivileged(permissions: bigint, context: PermissionContext): boolean {
  return !!context.isOwner || !!context.isAdministrator || (permissions & F.ADMINISTRATOR) !== 0n;
}

/** The implicit rules in order, each with the bits before and after (only rules that applied). */
function implicitSteps(permissions: bigint, context: PermissionContext): ImplicitStep[] {
  const steps: ImplicitStep[] = [];
  if (isPrivileged(permissions, context)) return steps;
  let p = permissions;
  const step = (rule: ImplicitRule, after: bigint) => {
    if (after !== p) steps.push({ rule, before: p, after });
    p = after;
  };
  if (context.timedOut) step('timed-out', p & TIMEOUT_PERMISSIONS);
  const kind = context.channelType;
  if (kind === undefined) return steps;
  if ((p & F.VIEW_CHANNEL) === 0n) {
    step('no-view-channel', 0n);
    return steps;
  }
  if (kind === 'thread') {
    if (context.privateThread && !context.threadMember && (p & F.MANAGE_THREADS) === 0n) {
      step('private-thread', 0n);
      return steps;
    }
    step('thread-send', (p & F.SEND_MESSAGES_IN_THREADS) !== 0n ? p | F.SEND_MESSAGES : p & ~F.SEND_MESSAGES);
  }
  if ((p & F.SEND_MESSAGES) === 0n) step('no-send-messages', p & ~SEND_DEPENDENT_PERMISSIONS);
  if ((kind === 'voice' || kind === 'stage') && (p & F.CONNECT) === 0n) step('no-connect', p & ~VOICE_PERMISSIONS);
  return steps;
}

/**
 * Step 5 of docs/architecture.md §9: the implicit rules, applied to permissions computed by
 * `computePermissions` for the channel (for a thread: computed with its parent channel's overwrites).
 *
 * Owner and administrators are untouched (they hold everything). Otherwise, in order:
 * 1. timed out: only VIEW_CHANNEL and READ_MESSAGE_HISTORY remain (at server level too);
 * 2. without VIEW_CHANNEL: nothing (channels only);
 * 3. threads: a private thread the member has not joined, without MANAGE_THREADS: nothing. Then
 *    SEND_MESSAGES_IN_THREADS stands in for SEND_MESSAGES: the result's SEND_MESSAGES bit is set exactly
 *    when SEND_MESSAGES_IN_THREADS is, so a domain method checks SEND_MESSAGES whatever the channel is,
 *    and the parent's SEND_MESSAGES neither helps nor hinders posting in its threads;
 * 4. without SEND_MESSAGES (after the thread rule): no MENTION_EVERYONE, SEND_TTS_MESSAGES, ATTACH_FILES,
 *    EMBED_LINKS;
 * 5. in a voice or stage channel without CONNECT: none of VOICE_PERMISSIONS (text chat stays).
 */
export function applyImplicitPermissions(permissions: bigint, context: PermissionContext = {}): bigint {
  const steps = implicitSteps(permissions, context);
  return steps.length === 0 ? permissions : steps[steps.length - 1].after;
}

/** `computePermissions` then `applyImplicitPermissions`, with owner/administrator taken from the input. */
export function computeEffectivePermissions(
  input: ComputePermissionsInput,
  context: Omit<PermissionContext, 'isOwner' | 'isAdministrator'> = {},
): bigint {
  const permissions = computePermissions(input);
  return applyImplicitPermissions(permissions, { ...context, isOwner: input.memberId === input.ownerId });
}

/**
 * Throws `MissingPermission` naming every flag of `required` that `permissions` lacks. Pass effective
 * (computed) permissions: the test is exact, ADMINISTRATOR is not re-interpreted here.
 */
export function assertPermissions(
  permissions: bigint,
  required: bigint | PermissionName | readonly PermissionName[],
  details: Record<string, unknown> = {},
): void {
  const req =
    typeof required === 'bigint'
      ? required
      : typeof required === 'string'
        ? permissionBits(required)
        : permissionBits(...required);
  const missing = req & ~permissions;
  if (missing !== 0n) {
    const names = permissionNames(missing);
    throw new MissingPermission(names.length > 0 ? names : [`0x${missing.toString(16)}`], details);
  }
}

// ---------------------------------------------------------------------------------------------------
// Explanation

export type PermissionReason =
  /** The member owns the server. */
  | { kind: 'owner' }
  /** ADMINISTRATOR from these roles (the server id is the @everyone role). */
  | { kind: 'administrator'; roleIds: string[] }
  /** Base permission from these roles (the server id is the @everyone role). */
  | { kind: 'role'; roleIds: string[] }
  /** No role grants it. */
  | { kind: 'not-granted' }
  /** A channel overwrite denied or allowed it; `ids` are the overwrites' targets. */
  | { kind: 'overwrite'; scope: 'everyone' | 'role' | 'member'; effect: 'allow' | 'deny'; ids: string[] }
  /** An overwrite allowed ADMINISTRATOR, which overwrites cannot grant. */
  | { kind: 'administrator-not-overwritable'; ids: string[] }
  /** An implicit rule (step 5) changed it. */
  | { kind: 'implicit'; rule: ImplicitRule };

export interface PermissionExplanation {
  name: PermissionName;
  bit: bigint;
  granted: boolean;
  /** The decisive step: the last one in `history`. */
  reason: PermissionReason;
  /** Every step that decided or changed this flag, in order. */
  history: PermissionReason[];
}

export interface PermissionsExplained {
  /** Equal to `computeEffectivePermissions(input, context)` (or `computePermissions(input)` without context). */
  permissions: bigint;
  /** One entry per known flag, in bit order. */
  entries: PermissionExplanation[];
}

/**
 * Explains, for every flag, how the member got it or not: which role, which overwrite, which implicit
 * rule. Without `context` it explains `computePermissions(input)`; with it, the effective permissions.
 */
export function explainPermissions(
  input: ComputePermissionsInput,
  context?: Omit<PermissionContext, 'isOwner' | 'isAdministrator'>,
): PermissionsExplained {
  const isOwner = input.memberId === input.ownerId;
  const base = basePermissions(input);
  const isAdmin = !isOwner && (base & F.ADMINISTRATOR) !== 0n;
  const grantersOf = (bit: bigint): string[] => {
    const ids: string[] = [];
    if ((input.everyone & bit) !== 0n) ids.push(input.serverId);
    for (const role of input.roles) if ((role.permissions & bit) !== 0n && !ids.includes(role.id)) ids.push(role.id);
    return ids;
  };
  const groups = groupOverwrites(input);
  const scopes = [
    ['everyone', groups.everyone],
    ['role', groups.roles],
    ['member', groups.member],
  ] as const;

  const entries: PermissionExplanation[] = PERMISSION_NAMES.map((name) => {
    const bit = F[name];
    const history: PermissionReason[] = [];
    let granted: boolean;
    if (isOwner) {
      granted = true;
      history.push({ kind: 'owner' });
    } else if (isAdmin) {
      granted = true;
      history.push({ kind: 'administrator', roleIds: grantersOf(F.ADMINISTRATOR) });
    } else {
      const granters = grantersOf(bit);
      granted = granters.length > 0;
      history.push(granted ? { kind: 'role', roleIds: granters } : { kind: 'not-granted' });
      for (const [scope, overwrites] of scopes) {
        const denied = overwrites.filter((o) => (o.deny & bit) !== 0n).map((o) => o.id);
        const allowed = overwrites.filter((o) => (o.allow & bit) !== 0n).map((o) => o.id);
        if (denied.length > 0) {
          granted = false;
          history.push({ kind: 'overwrite', scope, effect: 'deny', ids: denied });
        }
        if (allowed.length > 0) {
          granted = true;
          history.push({ kind: 'overwrite', scope, effect: 'allow', ids: allowed });
        }
      }
      if (bit === F.ADMINISTRATOR && granted) {
        granted = false;
        const ids = scopes.flatMap(([, overwrites]) =>
          overwrites.filter((o) => (o.allow & bit) !== 0n).map((o) => o.id),
        );
        history.push({ kind: 'administrator-not-overwritable', ids });
      }
    }
    return { name, bit, granted, reason: history[history.length - 1], history };
  });

  let permissions = entries.reduce((acc, e) => (e.granted ? acc | e.bit : acc), 0n);
  if (context) {
    const steps = implicitSteps(permissions, { ...context, isOwner });
    for (const s of steps) {
      const changed = s.before ^ s.after;
      for (const e of entries) {
        if ((changed & e.bit) !== 0n) {
          e.granted = (s.after & e.bit) !== 0n;
          e.reason = { kind: 'implicit', rule: s.rule };
          e.history.push(e.reason);
        }
      }
    }
    if (steps.length > 0) permissions = steps[steps.length - 1].after;
  }
  return { permissions, entries };
}
