import {
  Check,
  Entity,
  EntityRepositoryType,
  Enum,
  Index,
  ManyToOne,
  type Opt,
  PrimaryKeyProp,
  Property,
  type Ref,
  ref,
} from '@mikro-orm/core';
import { AggregateRoot } from '../../domain/events';
import {
  AlreadyFriends,
  LimitReached,
  NoPendingRequest,
  NotBlocked,
  NotFriends,
  UserBlocked,
} from '../../domain/errors';
import { LIMITS } from '../../domain/limits';
import {
  type PairState,
  RelationshipStatus,
  RelationshipType,
  viewChanges,
  viewOf,
} from '../../domain/identity/relationships';
import { RelationshipRepository } from './RelationshipRepository';
import type { User } from './User';

export interface FriendCounts {
  [userId: string]: number;
}

/**
 * Two users and everything between them, one row per unordered pair ("userAId" < "userBId").
 * The check constraints are the backstop for what the methods below guarantee: no friendship or
 * pending request across a block, a requester exactly when a request is pending, no empty rows.
 */
@Entity({ repository: () => RelationshipRepository })
@Check({ name: 'relationship_ordered_pair', expression: '"userAId" < "userBId"' })
@Check({
  name: 'relationship_no_friendship_across_block',
  expression: `"status" = 'NONE' or not ("aBlocksB" or "bBlocksA")`,
})
@Check({
  name: 'relationship_requester_iff_pending',
  expression: `("status" = 'PENDING') = ("requesterId" is not null)`,
})
@Check({ name: 'relationship_not_empty', expression: `"status" <> 'NONE' or "aBlocksB" or "bBlocksA"` })
@Index({ name: 'Relationship_userB_status_index', properties: ['userB', 'status'] })
export class Relationship extends AggregateRoot {
  [EntityRepositoryType]?: RelationshipRepository;
  [PrimaryKeyProp]?: ['userA', 'userB'];

  @ManyToOne({ entity: 'User', primary: true, ref: true, deleteRule: 'cascade' })
  userA: Ref<User>;

  @ManyToOne({ entity: 'User', primary: true, ref: true, deleteRule: 'cascade' })
  userB: Ref<User>;

  @Enum({ items: () => RelationshipStatus, default: RelationshipStatus.NONE })
  status: RelationshipStatus & Opt = RelationshipStatus.NONE;

  @ManyToOne({ entity: 'User', ref: true, nullable: true, deleteRule: 'cascade' })
  requester: Ref<User> | null = null;

  @Property({ default: false })
  aBlocksB: boolean & Opt = false;

  @Property({ default: false })
  bBlocksA: boolean & Opt = false;

  /** When the current status (request or friendship) began. */
  @Property({ nullable: true })
  since: Date | null = null;

  @Property({ defaultRaw: 'now()', onUpdate: () => new Date() })
  updatedAt: Date & Opt = new Date();

  /** `a` must be the user with the smaller id; RelationshipService orders pairs. */
  constructor(a: User, b: User) {
    super();
    this.userA = ref(a);
    this.userB = ref(b);
  }

  get state(): PairState {
    const blockers = new Set<string>();
    if (this.aBlocksB) blockers.add(this.userA.id);
    if (this.bBlocksA) blockers.add(this.userB.id);
    return { status: this.status, requesterId: this.requester?.id ?? null, blockers };
  }

  /** What `userId` sees of the other side, or null when nothing. */
  typeFor(userId: string): RelationshipType | null {
    return viewOf(this.state, userId);
  }

  otherThan(userId: string): Ref<User> {
    return this.userA.id === userId ? this.userB : this.userA;
  }

  /** Nothing left between the two: RelationshipService deletes the row. */
  get isVacant(): boolean {
    return this.status === RelationshipStatus.NONE && !this.aBlocksB && !this.bBlocksA;
  }

  requestFrom(sender: Ref<User>, friends: FriendCounts): void {
    this.change(() => {
      if (this.aBlocksB || this.bBlocksA) throw new UserBlocked();
      if (this.status === RelationshipStatus.FRIENDS) throw new AlreadyFriends();
      if (this.status === RelationshipStatus.PENDING) {
        if (this.requester?.id === sender.id) return; // asking twice changes nothing
        this.becomeFriends(friends); // crossing requests: both asked, so both agreed
        return;
      }
      if ((friends[sender.id] ?? 0) >= LIMITS.friends) throw new LimitReached('friends', LIMITS.friends);
      this.status = RelationshipStatus.PENDING;
      this.requester = sender;
      this.since = new Date();
    });
  }

  acceptBy(receiverId: string, friends: FriendCounts): void {
    this.change(() => {
      if (this.status === RelationshipStatus.FRIENDS) throw new AlreadyFriends();
      if (this.status !== RelationshipStatus.PENDING || this.requester?.id === receiverId)
        throw new NoPendingRequest('incoming');
      this.becomeFriends(friends);
    });
  }

  declineBy(receiverId: string): void {
    this.change(() => {
      if (this.status !== RelationshipStatus.PENDING || this.requester?.id === receiverId)
        throw new NoPendingRequest('incoming');
      this.reset();
    });
  }

  cancelBy(senderId: string): void {
    this.change(() => {
      if (this.status !== RelationshipStatus.PENDING || this.requester?.id !== senderId)
        throw new NoPendingRequest('outgoing');
      this.reset();
    });
  }

  unfriendBy(_userId: string): void {
    this.change(() => {
      if (this.status !== RelationshipStatus.FRIENDS) throw new NotFriends();
      this.reset();
    });
  }

  /** Blocking ends any friendship or pending request; blocking twice changes nothing. */
  blockBy(userId: string): void {
    this.change(() => {
      this.reset();
      if (userId === this.userA.id) this.aBlocksB = true;
      else this.bBlocksA = true;
    });
  }

  unblockBy(userId: string): void {
    this.change(() => {
      const isA = userId === this.userA.id;
      if (!(isA ? this.aBlocksB : this.bBlocksA)) throw new NotBlocked();
      if (isA) this.aBlocksB = false;
      else this.bBlocksA = false;
    });
  }

  private becomeFriends(friends: FriendCounts): void {
    for (const id of [this.userA.id, this.userB.id]) {
      if ((friends[id] ?? 0) >= LIMITS.friends) throw new LimitReached('friends', LIMITS.friends);
    }
    this.status = RelationshipStatus.FRIENDS;
    this.requester = null;
    this.since = new Date();
  }

  private reset(): void {
    this.status = RelationshipStatus.NONE;
    this.requester = null;
    this.since = null;
  }

  /** Runs a transition and records, for each side whose view changed, the event that side sees. */
  private change(transition: () => void): void {
    const before = this.state;
    transition();
    for (const change of viewChanges(before, this.state, this.userA.id, this.userB.id)) {
      if (change.after === null) {
        this.recordEvent(
          'RELATIONSHIP_REMOVE',
          { id: change.otherId, type: change.before },
          { userIds: [change.userId] },
        );
      } else {
        this.recordEvent(
          'RELATIONSHIP_ADD',
          { id: change.otherId, type: change.after, since: this.since?.toISOString() ?? null },
          { userIds: [change.userId] },
        );
      }
    }
  }
}
