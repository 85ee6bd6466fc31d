/**
 * Every advisory-lock key the package takes, in one place, so two operations that must serialise
 * name the same key and a reader sees the whole locking scheme at once. Keys are hashed by
 * lockKeys() (src/db/unit-of-work.ts), which takes them in sorted order so overlapping sets never deadlock.
 *
 * THE LOCK ORDER. Within one lockKeys call the keys are taken sorted. Across calls, a transaction
 * takes the families below in this order and never goes back to an earlier one:
 *
 *   1. member:S:U and roles:S (the membership and the server's hierarchy lock), in ONE call when an
 *      operation needs both (sorted, member: before roles:); or overwrites:C with roles:S, in one call;
 *   2. memberships:U (the server cap, on join);
 *   3. voice:user:U (ending or changing a voice stay; voice moderation takes roles:S with it, in one call);
 *   4. row locks: the Invite row, channel rows in id order, the Server row (an UPDATE or a FOR
 *      UPDATE, and the key-share lock an insert's foreign key takes on its parent row).
 *
 * Messaging keeps its own chain (relationships:, then dm:, then rows); channels:, reactions:,
 * emojis: and stickers: are taken alone. So a kick takes [member:S:U, roles:S] in one statement,
 * then voice:user:U, then rows; a role assignment takes [member:S:U, roles:S]; a join takes
 * member:S:U, then memberships:U. Nothing holds roles:S and then asks for member:, memberships: or
 * an earlier family, so no two of these operations can deadlock.
 *
 * THE HIERARCHY LOCK. rolesLockKey(serverId) is the server's one hierarchy lock. Everything that
 * changes a hierarchy fact takes it (role create, edit, delete, reorder, assign, unassign; ownership
 * transfer), and so does everything that acts on another member after a hierarchy check (kick, ban,
 * timeout, another member's nickname, voice move, disconnect, server mute and deafen, stage
 * suppress), together with its narrower keys (member:, voice:user:) in the same lockKeys call. The
 * facts the check uses (the actor's roles through loadServerAccess, the target's roles, role
 * positions, the owner) are read after that call, so none of them can change before the commit: a
 * moderator never acts on a member concurrently promoted to or above their top role, nor with a
 * role concurrently moved (issue 16, rule 5; test/servers.hierarchy-races.test.ts).
 */

/** A user's friendships and blocks: taken exclusively by relationship changes, shared by DM sends. */
export const relationshipLockKey = (userId: string) => `relationships:${userId}`;

/** One membership (join, leave, kick, ban, timeout, nickname, role assignment, ownership transfer). */
export const membershipLockKey = (serverId: string, userId: string) => `member:${serverId}:${userId}`;

/** All of one user's memberships (server count limit on join). */
export const userMembershipsLockKey = (userId: string) => `memberships:${userId}`;

/** One user's voice state: join, leave and move serialise per user. */
export const voiceUserLockKey = (userId: string) => `voice:user:${userId}`;

/** One message's reactions (the distinct-emoji limit). */
export const reactionLockKey = (messageId: string) => `reactions:${messageId}`;

/** A server's channel tree (channel limits, positions). */
export const channelsLockKey = (serverId: string) => `channels:${serverId}`;

/** A server's hierarchy: its roles (limit, positions, holders), its owner, and every check against them (see above). */
export const rolesLockKey = (serverId: string) => `roles:${serverId}`;

/** One channel's permission overwrites. */
export const overwritesLockKey = (channelId: string) => `overwrites:${channelId}`;

/** The one DM of a pair of users (its key is the ordered pair). */
export const directMessageLockKey = (pairKey: string) => `dm:${pairKey}`;

/** A server's custom emoji or stickers (the slot limits per boost tier). */
export const expressionsLockKey = (serverId: string, kind: 'emojis' | 'stickers') => `${kind}:${serverId}`;
