/**
 * The relationship between two users, as one state per unordered pair. Keeping both directions in
 * one row is what lets the database itself forbid "friends and blocked" (a check constraint) and
 * lets one row lock serialise everything two people do to each other.
 */
export enum RelationshipStatus {
  NONE = 'NONE',
  PENDING = 'PENDING',
  FRIENDS = 'FRIENDS',
}

/** What one side sees, with Discord's relationship type numbers. */
export enum RelationshipType {
  FRIEND = 1,
  BLOCKED = 2,
  PENDING_INCOMING = 3,
  PENDING_OUTGOING = 4,
}

export interface PairState {
  status: RelationshipStatus;
  requesterId: string | null;
  /** userIds that block the other side (0, 1 or 2 of them). */
  blockers: ReadonlySet<string>;
}

export function viewOf(state: PairState, userId: string): RelationshipType | null {
  if (state.blockers.has(userId)) return RelationshipType.BLOCKED;
  if (state.status === RelationshipStatus.FRIENDS) return RelationshipType.FRIEND;
  if (state.status === RelationshipStatus.PENDING) {
    return state.requesterId === userId ? RelationshipType.PENDING_OUTGOING : RelationshipType.PENDING_INCOMING;
  }
  return null;
}

export interface ViewChange {
  userId: string;
  otherId: string;
  before: RelationshipType | null;
  after: RelationshipType | null;
}

/** Per side, how its view changed: RELATIONSHIP_ADD replaces a view, RELATIONSHIP_REMOVE ends it. */
export function viewChanges(before: PairState, after: PairState, a: string, b: string): ViewChange[] {
  const changes: ViewChange[] = [];
  for (const [userId, otherId] of [
    [a, b],
    [b, a],
  ] as const) {
    const was = viewOf(before, userId);
    const now = viewOf(after, userId);
    if (was !== now) changes.push({ userId, otherId, before: was, after: now });
  }
  return changes;
}

/** Orders a pair the way it is stored: the smaller snowflake first. */
export function orderedPair(x: string, y: string): [string, string] {
  return BigInt(x) < BigInt(y) ? [x, y] : [y, x];
}
