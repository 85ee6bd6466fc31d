/**
 * Typed domain errors with stable codes. Services map `code` to their API responses; the message is
 * for humans and may change, the code may not.
 */
export abstract class DomainError extends Error {
  abstract readonly code: DomainErrorCode;
  /** Whether repeating the same operation on a fresh unit of work may succeed. */
  readonly retryable: boolean = false;

  constructor(
    message: string,
    readonly details: Readonly<Record<string, unknown>> = {},
  ) {
    super(message);
    this.name = new.target.name;
  }

  toJSON() {
    return { code: this.code, message: this.message, details: this.details };
  }
}

export class ValidationFailed extends DomainError {
  readonly code = 'VALIDATION_FAILED';
  constructor(
    readonly field: string,
    readonly reason: string,
    details: Record<string, unknown> = {},
  ) {
    super(`${field}: ${reason}`, { field, reason, ...details });
  }
}

export class NotFound extends DomainError {
  readonly code = 'NOT_FOUND';
  constructor(
    readonly entity: string,
    readonly key: string,
  ) {
    super(`${entity} ${key} was not found`, { entity, key });
  }
}

export class LimitReached extends DomainError {
  readonly code = 'LIMIT_REACHED';
  constructor(
    readonly limit: string,
    readonly max: number,
  ) {
    super(`the ${limit} limit of ${max} is reached`, { limit, max });
  }
}

export class DiscriminatorsExhausted extends DomainError {
  readonly code = 'DISCRIMINATORS_EXHAUSTED';
  constructor(readonly username: string) {
    super(`every discriminator of "${username}" is taken; choose another username`, { username });
  }
}

/** A block in either direction. Deliberately silent about which side blocked. */
export class UserBlocked extends DomainError {
  readonly code = 'USER_BLOCKED';
  constructor() {
    super('this user cannot be reached');
  }
}

export class SelfRelationship extends DomainError {
  readonly code = 'SELF_RELATIONSHIP';
  constructor() {
    super('a user cannot befriend or block themself');
  }
}

export class AlreadyFriends extends DomainError {
  readonly code = 'ALREADY_FRIENDS';
  constructor() {
    super('these users are already friends');
  }
}

export class NoPendingRequest extends DomainError {
  readonly code = 'NO_PENDING_REQUEST';
  constructor(readonly direction: 'incoming' | 'outgoing') {
    super(`there is no ${direction} friend request to act on`, { direction });
  }
}

export class NotFriends extends DomainError {
  readonly code = 'NOT_FRIENDS';
  constructor() {
    super('these users are not friends');
  }
}

export class NotBlocked extends DomainError {
  readonly code = 'NOT_BLOCKED';
  constructor() {
    super('this user is not blocked');
  }
}

/** Two writers met on the same rows (deadlock, serialization failure, unique race). Safe to retry. */
export class ConcurrencyConflict extends DomainError {
  readonly code = 'CONCURRENCY_CONFLICT';
  override readonly retryable = true;
  constructor(reason: string) {
    super(`concurrent update conflict: ${reason}`, { reason });
  }
}

/** A uniqueness rule the database enforces that a domain check did not catch first. */
export class AlreadyExists extends DomainError {
  readonly code = 'ALREADY_EXISTS';
  constructor(readonly constraint: string) {
    super(`a row with the same unique key already exists (${constraint})`, { constraint });
  }
}

export class DatabaseUnavailable extends DomainError {
  readonly code = 'DATABASE_UNAVAILABLE';
  override readonly retryable = true;
  constructor(reason: string) {
    super(`the database is unavailable: ${reason}`, { reason });
  }
}

export class OperationTimedOut extends DomainError {
  readonly code = 'OPERATION_TIMED_OUT';
  override readonly retryable = true;
  constructor(reason: string) {
    super(`the operation timed out: ${reason}`, { reason });
  }
}

/** The actor lacks one or more permissions (Discord's names, e.g. `MANAGE_ROLES`) for what they tried. */
export class MissingPermission extends DomainError {
  /** MEMBER_TIMED_OUT in the subclass MemberTimedOut. */
  readonly code: 'MISSING_PERMISSION' | 'MEMBER_TIMED_OUT' = 'MISSING_PERMISSION';
  /** Every missing permission, in bit order. */
  readonly permissions: readonly string[];
  /** The first missing permission. */
  readonly permission: string;
  constructor(permissions: string | readonly string[], details: Record<string, unknown> = {}) {
    const list = typeof permissions === 'string' ? [permissions] : [...permissions];
    super(`missing permission${list.length === 1 ? '' : 's'} ${list.join(', ')}`, { permissions: list, ...details });
    this.permissions = list;
    this.permission = list[0] ?? '';
  }
}

/** The role hierarchy forbids the action: the target is the owner, the actor themself, or not below the actor. */
export class HierarchyViolation extends DomainError {
  readonly code = 'HIERARCHY_VIOLATION';
  constructor(
    readonly action: string,
    readonly reason: string,
    details: Record<string, unknown> = {},
  ) {
    super(`cannot ${action}: ${reason}`, { action, reason, ...details });
  }
}

/** The actor is not a member of the server it acts in (or the server does not exist). */
export class NotAMember extends DomainError {
  readonly code = 'NOT_A_MEMBER';
  constructor(readonly serverId: string) {
    super('you are not a member of this server', { serverId });
  }
}

/** An invite that does not exist, has expired or is used up (deliberately one code for all three). */
export class InviteInvalid extends DomainError {
  readonly code = 'INVITE_INVALID';
  constructor(readonly reason: 'unknown' | 'expired' | 'used_up') {
    super('this invite is invalid or has expired', { reason });
  }
}

export class UserBanned extends DomainError {
  readonly code = 'USER_BANNED';
  constructor(readonly serverId: string) {
    super('you are banned from this server', { serverId });
  }
}

export class AlreadyMember extends DomainError {
  readonly code = 'ALREADY_MEMBER';
  constructor(readonly serverId: string) {
    super('already a member of this server', { serverId });
  }
}

export class OwnerCannotLeave extends DomainError {
  readonly code = 'OWNER_CANNOT_LEAVE';
  constructor(readonly serverId: string) {
    super('the owner must transfer ownership before leaving', { serverId });
  }
}

/** A voice channel whose userLimit is reached (MOVE_MEMBERS bypasses it). */
export class VoiceChannelFull extends DomainError {
  readonly code = 'VOICE_CHANNEL_FULL';
  constructor(
    readonly channelId: string,
    readonly limit: number,
  ) {
    super(`this voice channel is full (limit ${limit})`, { channelId, limit });
  }
}

/** A voice operation aimed at a channel that is not a voice or stage channel. */
export class NotAVoiceChannel extends DomainError {
  readonly code = 'NOT_A_VOICE_CHANNEL';
  constructor(
    readonly channelId: string,
    readonly type: string,
  ) {
    super(`channel ${channelId} is not a voice or stage channel (${type})`, { channelId, type });
  }
}

/** The user (oneself, or the member acted on) is not connected to voice (in that server). */
export class NotInVoice extends DomainError {
  readonly code = 'NOT_IN_VOICE';
  constructor(
    readonly userId: string,
    readonly serverId: string | null = null,
  ) {
    super('this user is not connected to voice', { userId, serverId });
  }
}

/** Slowmode: the user sent in this channel less than rateLimitPerUser seconds ago. */
export class SlowmodeActive extends DomainError {
  readonly code = 'SLOWMODE_ACTIVE';
  override readonly retryable = true;
  constructor(
    readonly channelId: string,
    readonly retryAfterMs: number,
  ) {
    super(`slowmode: wait ${Math.ceil(retryAfterMs / 1000)} s before sending again`, { channelId, retryAfterMs });
  }
}

/** A message operation aimed at a channel that holds no messages (a category, a forum itself). */
export class NotATextChannel extends DomainError {
  readonly code = 'NOT_A_TEXT_CHANNEL';
  constructor(
    readonly channelId: string,
    readonly type: string,
  ) {
    super(`channel ${channelId} does not hold messages (${type})`, { channelId, type });
  }
}

/** Editing or deleting someone else's message without the right to. */
export class NotMessageAuthor extends DomainError {
  readonly code = 'NOT_MESSAGE_AUTHOR';
  constructor(readonly messageId: string) {
    super('only the author may do this to the message', { messageId });
  }
}

/** An archived or locked thread refusing a send (locked: unless the sender has MANAGE_THREADS). */
export class ThreadClosed extends DomainError {
  readonly code = 'THREAD_CLOSED';
  constructor(
    readonly threadId: string,
    readonly state: 'archived' | 'locked',
  ) {
    super(`the thread is ${state}`, { threadId, state });
  }
}

/** The user is not a recipient of this DM or group DM, or not a member of this private thread. */
export class NotARecipient extends DomainError {
  readonly code = 'NOT_A_RECIPIENT';
  constructor(readonly channelId: string) {
    super('you are not in this conversation', { channelId });
  }
}

/** Only the group DM's owner may do this (remove another recipient). */
export class NotChannelOwner extends DomainError {
  readonly code = 'NOT_CHANNEL_OWNER';
  constructor(readonly channelId: string) {
    super('only the owner of this group DM can do that', { channelId });
  }
}

/** A message starts at most one thread (the thread takes the message's id). */
export class ThreadAlreadyExists extends DomainError {
  readonly code = 'THREAD_ALREADY_EXISTS';
  constructor(readonly messageId: string) {
    super('this message already has a thread', { messageId });
  }
}

/** A thread operation on a channel that is not a thread. */
export class NotAThread extends DomainError {
  readonly code = 'NOT_A_THREAD';
  constructor(
    readonly channelId: string,
    readonly type: string,
  ) {
    super(`a ${type} channel is not a thread`, { channelId, type });
  }
}

/** An outbox consumer name that was never registered (registerConsumer) or has been removed. */
export class UnknownConsumer extends DomainError {
  readonly code = 'UNKNOWN_CONSUMER';
  constructor(readonly consumer: string) {
    super(`no event consumer is registered as "${consumer}": call registerConsumer first`, { consumer });
  }
}
/** No database is configured: DATABASE_URL is unset and the embedded server was not asked for. */
export class DatabaseNotConfigured extends DomainError {
  readonly code = 'DATABASE_NOT_CONFIGURED';
  constructor(reason: string) {
    super(reason);
  }
}

/**
 * The database's schema is behind this version of the package. Raised when the ORM opens, so a
 * service never meets a missing table later on.
 */
export class MigrationsPending extends DomainError {
  readonly code = 'MIGRATIONS_PENDING';
  constructor(
    readonly database: string,
    readonly pending: readonly string[],
  ) {
    super(
      `database "${database}" is missing ${pending.length} migration(s) of this package ` +
        `(${pending.slice(0, 3).join(', ')}${pending.length > 3 ? ', ...' : ''}): ` +
        "run `npx cryb-db migrate` (or open it with createOrm({ migrations: 'apply' }))",
      { database, pending: [...pending] },
    );
  }
}

/** Every code a DomainError can carry: `error.code` is one of these. */
/**
 * A 1:1 DM that the recipient's privacy settings do not allow: the users are not friends and share
 * no server where the recipient allows DMs from members. One code and one message for every such
 * case, so the sender cannot learn which rule refused (unfriended, left, or the setting is off).
 */
export class DirectMessagesNotAllowed extends DomainError {
  readonly code = 'DIRECT_MESSAGES_NOT_ALLOWED';
  constructor() {
    super('this user does not accept direct messages from you');
  }
}

export const DOMAIN_ERROR_CODES = [
  'VALIDATION_FAILED',
  'NOT_FOUND',
  'LIMIT_REACHED',
  'DISCRIMINATORS_EXHAUSTED',
  'USER_BLOCKED',
  'SELF_RELATIONSHIP',
  'ALREADY_FRIENDS',
  'NO_PENDING_REQUEST',
  'NOT_FRIENDS',
  'NOT_BLOCKED',
  'CONCURRENCY_CONFLICT',
  'ALREADY_EXISTS',
  'DATABASE_UNAVAILABLE',
  'OPERATION_TIMED_OUT',
  'MISSING_PERMISSION',
  'HIERARCHY_VIOLATION',
  'NOT_A_MEMBER',
  'INVITE_INVALID',
  'USER_BANNED',
  'ALREADY_MEMBER',
  'OWNER_CANNOT_LEAVE',
  'VOICE_CHANNEL_FULL',
  'NOT_A_VOICE_CHANNEL',
  'NOT_IN_VOICE',
  'SLOWMODE_ACTIVE',
  'NOT_A_TEXT_CHANNEL',
  'NOT_MESSAGE_AUTHOR',
  'THREAD_CLOSED',
  'NOT_A_RECIPIENT',
  'NOT_CHANNEL_OWNER',
  'THREAD_ALREADY_EXISTS',
  'NOT_A_THREAD',
  'DATABASE_NOT_CONFIGURED',
  'MIGRATIONS_PENDING',
  // UnknownConsumer, on main since this branch started (the outbox's poll/ack).
  'UNKNOWN_CONSUMER',
  'DIRECT_MESSAGES_NOT_ALLOWED',
  'MEMBER_TIMED_OUT',
  'EMOJI_ROLE_LOCKED',
] as const;

export type DomainErrorCode = (typeof DOMAIN_ERROR_CODES)[number];

/**
 * The actor is timed out in this server until `until` (Discord's timeout): they may read, and nothing
 * else. A MissingPermission (the timeout removed every permission but VIEW_CHANNEL and
 * READ_MESSAGE_HISTORY; `permissions` names what the action needed), so callers that handle
 * MissingPermission keep working, with its own code so a client can say "timed out until ...".
 */
export class MemberTimedOut extends MissingPermission {
  override readonly code = 'MEMBER_TIMED_OUT';
  constructor(
    readonly until: Date,
    permissions: string | readonly string[],
    details: Record<string, unknown> = {},
  ) {
    // Tolerates a non-Date (error codes are listed by constructing every class with placeholders).
    const end = until instanceof Date ? until.toISOString() : String(until);
    super(permissions, { until: end, ...details });
    this.message = `timed out until ${end}: ${this.message}`;
  }
}

/** A custom emoji restricted to roles the user holds none of (in a reaction, or in message content). */
export class EmojiRoleLocked extends DomainError {
  readonly code = 'EMOJI_ROLE_LOCKED';
  constructor(
    readonly emojiId: string,
    readonly emojiName: string,
    readonly field: 'emoji' | 'content',
  ) {
    super(`the emoji :${emojiName}: is restricted to roles you do not have`, { emojiId, emojiName, field });
  }
}
