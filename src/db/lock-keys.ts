/**
 * Every advisory-lock key the package takes, in one place, so two operations that must serialise
 * name the same key and a reader sees the whole locking scheme at once. Keys are hashed by
 * lockKeys() (src/db/unit-of-work.ts), which takes them in sorted order so overlapping sets never deadlock.
 */

/** A user's friendships and blocks: taken exclusively by relationship changes, shared by DM sends. */
export const relationshipLockKey = (userId: string) => `relationships:${userId}`;

/** One membership (join, leave, kick, ban, timeout, nickname, ownership transfer). */
export const membershipLockKey = (serverId: string, userId: string) => `member:${serverId}:${userId}`;

/** All of one user's memberships (server count limit on join). */
export const userMembershipsLockKey = (userId: string) => `memberships:${userId}`;

/** One user's voice state: join, leave and move serialise per user. */
export const voiceUserLockKey = (userId: string) => `voice:user:${userId}`;

/** One message's reactions (the distinct-emoji limit). */
export const reactionLockKey = (messageId: string) => `reactions:${messageId}`;

/** A server's channel tree (channel limits, positions). */
export const channelsLockKey = (serverId: string) => `channels:${serverId}`;

/** A server's roles (role limit, positions, hierarchy checks). */
export const rolesLockKey = (serverId: string) => `roles:${serverId}`;

/** One channel's permission overwrites. */
export const overwritesLockKey = (channelId: string) => `overwrites:${channelId}`;

/** The one DM of a pair of users (its key is the ordered pair). */
export const directMessageLockKey = (pairKey: string) => `dm:${pairKey}`;

/** A server's custom emoji or stickers (the slot limits per boost tier). */
export const expressionsLockKey = (serverId: string, kind: 'emojis' | 'stickers') => `${kind}:${serverId}`;
