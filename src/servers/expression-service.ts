import type { EntityManager } from '@mikro-orm/postgresql';
import { LimitReached, NotFound, ValidationFailed } from '../domain/errors';
import { idArg, type IdArg, snowflakeArg } from '../domain/identity/ids';
import { LIMITS } from '../domain/limits';
import { emojiSlotsFor, stickerSlotsFor } from '../domain/servers';
import { expressionsLockKey } from '../db/lock-keys';
import { lockKeys, transact } from '../db/unit-of-work';
import { AuditLogAction, AuditLogEntry, type AuditChange, diffChanges } from '../entities/server/AuditLogEntry';
import { Emoji, validateEmojiName } from '../entities/server/Emoji';
import { loadServerAccess, type ServerAccess } from '../entities/server/ServerAccess';
import { Sticker, validateStickerFields, validateStickerFormat } from '../entities/server/Sticker';
import { User } from '../entities/user/User';
import { auditReasonOf, type ReasonOption, type ServerArg } from './args';

export interface NewEmoji {
  name: string;
  animated?: boolean;
  /** Role ids of the same server allowed to use the emoji; absent or empty = everyone. */
  roles?: string[];
}

export interface EmojiUpdate {
  name?: string;
  roles?: string[];
}

export interface NewSticker {
  name: string;
  description?: string | null;
  tags?: string;
  formatType?: Sticker['formatType'];
}

export interface StickerUpdate {
  name?: string;
  description?: string | null;
  tags?: string;
}

function objectArg<T>(value: T, field: string): T {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new ValidationFailed(field, 'must be an object');
  return value;
}

function booleanArg(value: unknown, field: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new ValidationFailed(field, 'must be a boolean');
  return value;
}

/** Role ids as given (deduplicated, in order); whether they belong to the server is checked in the transaction. */
function roleIdsArg(value: unknown): string[] {
  if (!Array.isArray(value)) throw new ValidationFailed('roles', 'must be an array of role ids');
  if (value.length > LIMITS.roles)
    throw new ValidationFailed('roles', `must list at most ${LIMITS.roles} roles`, { max: LIMITS.roles });
  return [...new Set(value.map((id) => snowflakeArg(id, 'roles')))];
}

/**
 * Refuses role ids that are not roles of this server, and keeps the listed roles from being deleted
 * until this transaction ends (a key-share lock), so a stored list never names a role deleted meanwhile.
 */
async function assertRolesOfServer(tx: EntityManager, serverId: string, roleIds: string[]): Promise<void> {
  if (roleIds.length === 0) return;
  const rows: { id: string }[] = await tx.execute(
    'select "id"::text as "id" from "Role" where "serverId" = ? and "id" = any(array[?]::bigint[]) for key share',
    [serverId, roleIds],
  );
  const found = new Set(rows.map((r) => r.id));
  const missing = roleIds.filter((id) => !found.has(id));
  if (missing.length > 0) throw new ValidationFailed('roles', 'must be roles of this server', { roleIds: missing });
}

/**
 * Loads the actor's access and requires MANAGE_GUILD_EXPRESSIONS, then takes the server's lock for
 * that kind. Every emoji write of a server holds the emoji lock: it makes the slot count read the count
 * written, and it makes each GUILD_EMOJIS_UPDATE's full list the list that transaction commits (writers
 * of either kind serialise, or two concurrent changes would each send a list lacking the other's).
 * Stickers likewise.
 */
async function authorise(
  tx: EntityManager,
  serverId: string,
  actorId: string,
  kind: 'emojis' | 'stickers',
): Promise<ServerAccess> {
  const access = await loadServerAccess(tx, serverId, actorId);
  access.require('MANAGE_GUILD_EXPRESSIONS');
  await lockKeys(tx, [expressionsLockKey(serverId, kind)]);
  return access;
}

function audit(
  tx: EntityManager,
  access: ServerAccess,
  action: AuditLogAction,
  targetId: string,
  changes: AuditChange[],
  reason: string | null,
): void {
  tx.persist(new AuditLogEntry(access.server, access.member.user, action, targetId, changes, reason));
}

const emojisOf = (em: EntityManager, serverId: string): Promise<Emoji[]> =>
  em.find(Emoji, { server: serverId }, { orderBy: { id: 'asc' }, refresh: true });
const stickersOf = (em: EntityManager, serverId: string): Promise<Sticker[]> =>
  em.find(Sticker, { server: serverId }, { orderBy: { id: 'asc' }, refresh: true });

/**
 * Custom emoji of a server. Each operation needs MANAGE_GUILD_EXPRESSIONS, writes its audit entry
 * (60/61/62) and GUILD_EMOJIS_UPDATE with the server's full emoji list, in one transaction.
 */
export class EmojiService {
  constructor(private readonly em: EntityManager) {}

  /**
   * Creates an emoji within the slots of the server's boost tier (50/100/150/250, static and animated
   * counted separately); the count is read under the server's emoji lock, so concurrent creations
   * cannot overfill a kind.
   */
  async createEmoji(actor: IdArg, server: ServerArg, input: NewEmoji, options: ReasonOption = {}): Promise<Emoji> {
    const actorId = idArg(actor, 'actor');
    const serverId = idArg(server, 'serverId');
    objectArg(input, 'emoji');
    const name = validateEmojiName(input.name);
    const animated = booleanArg(input.animated, 'animated', false);
    const roles = input.roles === undefined ? [] : roleIdsArg(input.roles);
    const reason = auditReasonOf(options);
    return transact(this.em, async (tx) => {
      const access = await authorise(tx, serverId, actorId, 'emojis');
      await assertRolesOfServer(tx, serverId, roles);
      const existing = await emojisOf(tx, serverId);
      const max = emojiSlotsFor(access.server.premiumTier);
      if (existing.filter((e) => e.animated === animated).length >= max)
        throw new LimitReached(animated ? 'animatedEmoji' : 'staticEmoji', max);
      const emoji = new Emoji(access.server, name, animated, tx.getReference(User, actorId));
      emoji.roles = roles;
      tx.persist(emoji);
      audit(tx, access, AuditLogAction.EMOJI_CREATE, emoji.id, diffChanges({}, emoji.auditState()), reason);
      access.server.emojisUpdated([...existing, emoji]);
      return emoji;
    });
  }

  /** Renames an emoji and/or sets its allowed roles. An update that changes nothing writes nothing. */
  async updateEmoji(
    actor: IdArg,
    server: ServerArg,
    emoji: IdArg,
    changes: EmojiUpdate,
    options: ReasonOption = {},
  ): Promise<Emoji> {
    const actorId = idArg(actor, 'actor');
    const serverId = idArg(server, 'serverId');
    const emojiId = idArg(emoji, 'emojiId');
    objectArg(changes, 'changes');
    const name = changes.name === undefined ? undefined : validateEmojiName(changes.name);
    const roles = changes.roles === undefined ? undefined : roleIdsArg(changes.roles);
    const reason = auditReasonOf(options);
    return transact(this.em, async (tx) => {
      const access = await authorise(tx, serverId, actorId, 'emojis');
      const all = await emojisOf(tx, serverId);
      const emoji = all.find((e) => e.id === emojiId);
      if (!emoji) throw new NotFound('Emoji', emojiId);
      if (roles) await assertRolesOfServer(tx, serverId, roles);
      const diff = emoji.edit({ name, roles });
      if (diff.length === 0) return emoji;
      audit(tx, access, AuditLogAction.EMOJI_UPDATE, emoji.id, diff, reason);
      access.server.emojisUpdated(all);
      return emoji;
    });
  }

  async deleteEmoji(actor: IdArg, server: ServerArg, emoji: IdArg, options: ReasonOption = {}): Promise<void> {
    const actorId = idArg(actor, 'actor');
    const serverId = idArg(server, 'serverId');
    const emojiId = idArg(emoji, 'emojiId');
    const reason = auditReasonOf(options);
    await transact(this.em, async (tx) => {
      const access = await authorise(tx, serverId, actorId, 'emojis');
      const all = await emojisOf(tx, serverId);
      const emoji = all.find((e) => e.id === emojiId);
      if (!emoji) throw new NotFound('Emoji', emojiId);
      tx.remove(emoji);
      audit(tx, access, AuditLogAction.EMOJI_DELETE, emoji.id, diffChanges(emoji.auditState(), {}), reason);
      access.server.emojisUpdated(all.filter((e) => e !== emoji));
    });
  }
}

/**
 * Custom stickers of a server. Each operation needs MANAGE_GUILD_EXPRESSIONS, writes its audit entry
 * (90/91/92) and GUILD_STICKERS_UPDATE with the server's full sticker list, in one transaction.
 */
export class StickerService {
  constructor(private readonly em: EntityManager) {}

  /** Creates a sticker within the slots of the server's boost tier (5/15/30/60), under the server's sticker lock. */
  async createSticker(
    actor: IdArg,
    server: ServerArg,
    input: NewSticker,
    options: ReasonOption = {},
  ): Promise<Sticker> {
    const actorId = idArg(actor, 'actor');
    const serverId = idArg(server, 'serverId');
    objectArg(input, 'sticker');
    if (input.name === undefined) throw new ValidationFailed('name', 'is required');
    const fields = validateStickerFields(input);
    const formatType = validateStickerFormat(input.formatType);
    const reason = auditReasonOf(options);
    return transact(this.em, async (tx) => {
      const access = await authorise(tx, serverId, actorId, 'stickers');
      const existing = await stickersOf(tx, serverId);
      const max = stickerSlotsFor(access.server.premiumTier);
      if (existing.length >= max) throw new LimitReached('stickers', max);
      const sticker = new Sticker(access.server, fields.name!, tx.getReference(User, actorId));
      sticker.description = fields.description ?? null;
      sticker.tags = fields.tags ?? '';
      sticker.formatType = formatType;
      tx.persist(sticker);
      audit(tx, access, AuditLogAction.STICKER_CREATE, sticker.id, diffChanges({}, sticker.auditState()), reason);
      access.server.stickersUpdated([...existing, sticker]);
      return sticker;
    });
  }

  /**
   * Edits name, description and/or tags (the format is fixed at upload). An update that changes
   * nothing writes nothing.
   */
  async updateSticker(
    actor: IdArg,
    server: ServerArg,
    sticker: IdArg,
    changes: StickerUpdate,
    options: ReasonOption = {},
  ): Promise<Sticker> {
    const actorId = idArg(actor, 'actor');
    const serverId = idArg(server, 'serverId');
    const stickerId = idArg(sticker, 'stickerId');
    objectArg(changes, 'changes');
    const fields = validateStickerFields(changes);
    const reason = auditReasonOf(options);
    return transact(this.em, async (tx) => {
      const access = await authorise(tx, serverId, actorId, 'stickers');
      const all = await stickersOf(tx, serverId);
      const sticker = all.find((s) => s.id === stickerId);
      if (!sticker) throw new NotFound('Sticker', stickerId);
      const diff = sticker.edit(fields);
      if (diff.length === 0) return sticker;
      audit(tx, access, AuditLogAction.STICKER_UPDATE, sticker.id, diff, reason);
      access.server.stickersUpdated(all);
      return sticker;
    });
  }

  async deleteSticker(actor: IdArg, server: ServerArg, sticker: IdArg, options: ReasonOption = {}): Promise<void> {
    const actorId = idArg(actor, 'actor');
    const serverId = idArg(server, 'serverId');
    const stickerId = idArg(sticker, 'stickerId');
    const reason = auditReasonOf(options);
    await transact(this.em, async (tx) => {
      const access = await authorise(tx, serverId, actorId, 'stickers');
      const all = await stickersOf(tx, serverId);
      const sticker = all.find((s) => s.id === stickerId);
      if (!sticker) throw new NotFound('Sticker', stickerId);
      tx.remove(sticker);
      audit(tx, access, AuditLogAction.STICKER_DELETE, sticker.id, diffChanges(sticker.auditState(), {}), reason);
      access.server.stickersUpdated(all.filter((s) => s !== sticker));
    });
  }
}
