/**
 * Permission bits, with Discord's documented names and bit positions, as bigint (Discord's API sends
 * them as decimal strings; bits above 31 do not fit a JavaScript bitwise `number`).
 *
 * Pure TypeScript: no ORM here.
 */
import { ValidationFailed } from '../errors';

const bit = (n: number): bigint => 1n << BigInt(n);

/** Discord's permission flags. Bits 47 and 48 are Discord flags CRYB does not use and are not accepted. */
export const PermissionFlags = Object.freeze({
  CREATE_INSTANT_INVITE: bit(0),
  KICK_MEMBERS: bit(1),
  BAN_MEMBERS: bit(2),
  ADMINISTRATOR: bit(3),
  MANAGE_CHANNELS: bit(4),
  MANAGE_GUILD: bit(5),
  ADD_REACTIONS: bit(6),
  VIEW_AUDIT_LOG: bit(7),
  PRIORITY_SPEAKER: bit(8),
  STREAM: bit(9),
  VIEW_CHANNEL: bit(10),
  SEND_MESSAGES: bit(11),
  SEND_TTS_MESSAGES: bit(12),
  MANAGE_MESSAGES: bit(13),
  EMBED_LINKS: bit(14),
  ATTACH_FILES: bit(15),
  READ_MESSAGE_HISTORY: bit(16),
  MENTION_EVERYONE: bit(17),
  USE_EXTERNAL_EMOJIS: bit(18),
  VIEW_GUILD_INSIGHTS: bit(19),
  CONNECT: bit(20),
  SPEAK: bit(21),
  MUTE_MEMBERS: bit(22),
  DEAFEN_MEMBERS: bit(23),
  MOVE_MEMBERS: bit(24),
  USE_VAD: bit(25),
  CHANGE_NICKNAME: bit(26),
  MANAGE_NICKNAMES: bit(27),
  MANAGE_ROLES: bit(28),
  MANAGE_WEBHOOKS: bit(29),
  MANAGE_GUILD_EXPRESSIONS: bit(30),
  USE_APPLICATION_COMMANDS: bit(31),
  REQUEST_TO_SPEAK: bit(32),
  MANAGE_EVENTS: bit(33),
  MANAGE_THREADS: bit(34),
  CREATE_PUBLIC_THREADS: bit(35),
  CREATE_PRIVATE_THREADS: bit(36),
  USE_EXTERNAL_STICKERS: bit(37),
  SEND_MESSAGES_IN_THREADS: bit(38),
  USE_EMBEDDED_ACTIVITIES: bit(39),
  MODERATE_MEMBERS: bit(40),
  VIEW_CREATOR_MONETIZATION_ANALYTICS: bit(41),
  USE_SOUNDBOARD: bit(42),
  CREATE_GUILD_EXPRESSIONS: bit(43),
  CREATE_EVENTS: bit(44),
  USE_EXTERNAL_SOUNDS: bit(45),
  SEND_VOICE_MESSAGES: bit(46),
  SEND_POLLS: bit(49),
  USE_EXTERNAL_APPS: bit(50),
  PIN_MESSAGES: bit(51),
  BYPASS_SLOWMODE: bit(52),
} as const);

export type PermissionName = keyof typeof PermissionFlags;

/** Every name, in bit order. */
export const PERMISSION_NAMES: readonly PermissionName[] = Object.freeze(
  (Object.keys(PermissionFlags) as PermissionName[]).sort((a, b) =>
    PermissionFlags[a] < PermissionFlags[b] ? -1 : PermissionFlags[a] > PermissionFlags[b] ? 1 : 0,
  ),
);

/** The OR of every known flag: what the owner and administrators hold. */
export const ALL_PERMISSIONS: bigint = PERMISSION_NAMES.reduce((acc, name) => acc | PermissionFlags[name], 0n);

/** OR of the named flags. */
export function permissionBits(...names: readonly PermissionName[]): bigint {
  let bits = 0n;
  for (const name of names) {
    const flag = PermissionFlags[name];
    if (flag === undefined) throw new ValidationFailed('permissions', `unknown permission ${String(name)}`);
    bits |= flag;
  }
  return bits;
}

/**
 * What a new server's @everyone role gets, close to Discord's default for new servers: see, talk,
 * react, use threads, voice and apps. Nothing that moderates, manages, mentions everyone or pins.
 */
export const DEFAULT_EVERYONE_PERMISSIONS: bigint = permissionBits(
  'CREATE_INSTANT_INVITE',
  'ADD_REACTIONS',
  'STREAM',
  'VIEW_CHANNEL',
  'SEND_MESSAGES',
  'EMBED_LINKS',
  'ATTACH_FILES',
  'READ_MESSAGE_HISTORY',
  'USE_EXTERNAL_EMOJIS',
  'CONNECT',
  'SPEAK',
  'USE_VAD',
  'CHANGE_NICKNAME',
  'USE_APPLICATION_COMMANDS',
  'REQUEST_TO_SPEAK',
  'CREATE_PUBLIC_THREADS',
  'CREATE_PRIVATE_THREADS',
  'USE_EXTERNAL_STICKERS',
  'SEND_MESSAGES_IN_THREADS',
  'USE_EMBEDDED_ACTIVITIES',
  'USE_SOUNDBOARD',
  'CREATE_GUILD_EXPRESSIONS',
  'CREATE_EVENTS',
  'USE_EXTERNAL_SOUNDS',
  'SEND_VOICE_MESSAGES',
  'SEND_POLLS',
  'USE_EXTERNAL_APPS',
);

function flagOf(flag: bigint | PermissionName): bigint {
  if (typeof flag === 'bigint') return flag;
  const value = PermissionFlags[flag];
  if (value === undefined) throw new ValidationFailed('permissions', `unknown permission ${String(flag)}`);
  return value;
}

/**
 * Whether `bits` holds every bit of `flag` (a flag, a name, or an OR of flags). Exact bit test: it does
 * NOT treat ADMINISTRATOR as "everything". Use it on computed permissions (`computePermissions` already
 * turns owner and administrator into ALL_PERMISSIONS), not on a raw role bitfield.
 */
export function hasPermission(bits: bigint, flag: bigint | PermissionName): boolean {
  const f = flagOf(flag);
  return (bits & f) === f;
}

/** Names of the known flags set in `bits`, in bit order. Unknown bits are not named. */
export function permissionNames(bits: bigint): PermissionName[] {
  return PERMISSION_NAMES.filter((name) => (bits & PermissionFlags[name]) !== 0n);
}

/** The bits of `required` that `bits` lacks, by name. */
export function missingPermissions(
  bits: bigint,
  required: bigint | PermissionName | readonly PermissionName[],
): PermissionName[] {
  const req =
    typeof required === 'bigint' || typeof required === 'string' ? flagOf(required) : permissionBits(...required);
  return permissionNames(req & ~bits);
}

/**
 * Parses a permission bitfield from input: a bigint, a decimal string (Discord's wire format), or a
 * non-negative safe integer number. Rejects negatives, fractions, other strings ("0x10", "1e3", ""),
 * and any bit that is not a known flag, with `ValidationFailed` on `field`.
 */
export function parsePermissions(value: unknown, field = 'permissions'): bigint {
  let bits: bigint;
  if (typeof value === 'bigint') {
    bits = value;
  } else if (typeof value === 'string') {
    if (!/^[0-9]{1,20}$/.test(value))
      throw new ValidationFailed(field, 'must be a decimal string of a non-negative integer', { value });
    bits = BigInt(value);
  } else if (typeof value === 'number') {
    if (!Number.isSafeInteger(value))
      throw new ValidationFailed(field, 'must be an integer (use a string above 2^53)', { value });
    bits = BigInt(value);
  } else {
    throw new ValidationFailed(field, 'must be a bigint or a decimal string', {
      type: value === null ? 'null' : typeof value,
    });
  }
  if (bits < 0n) throw new ValidationFailed(field, 'must not be negative', { value: bits.toString() });
  const unknown = bits & ~ALL_PERMISSIONS;
  if (unknown !== 0n) {
    const positions: number[] = [];
    for (let i = 0; unknown >> BigInt(i) !== 0n; i++) if ((unknown >> BigInt(i)) & 1n) positions.push(i);
    throw new ValidationFailed(field, `unknown permission bit(s) ${positions.join(', ')}`, { bits: positions });
  }
  return bits;
}

/**
 * The fixed permissions every recipient has in a DM or group DM (Discord computes no roles there):
 * talk, read, react, attach, embed, ping and pin. Deleting someone else's message is never allowed.
 */
export const DM_PERMISSIONS: bigint = permissionBits(
  'VIEW_CHANNEL',
  'SEND_MESSAGES',
  'SEND_TTS_MESSAGES',
  'EMBED_LINKS',
  'ATTACH_FILES',
  'READ_MESSAGE_HISTORY',
  'MENTION_EVERYONE',
  'USE_EXTERNAL_EMOJIS',
  'USE_EXTERNAL_STICKERS',
  'ADD_REACTIONS',
  'PIN_MESSAGES',
  'CONNECT',
  'SPEAK',
  'STREAM',
  'USE_VAD',
  'SEND_VOICE_MESSAGES',
);
