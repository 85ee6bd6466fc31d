import {
  Check,
  Entity,
  EntityRepositoryType,
  Enum,
  Index,
  OneToOne,
  type Opt,
  PrimaryKey,
  Property,
  type Ref,
  ref,
} from '@mikro-orm/core';
import { AggregateRoot } from '../../domain/events';
import { type ProfileChanges, validateProfile } from '../../domain/identity/username';
import { nextSnowflake } from '../../domain/snowflake';
import { serviceFor } from '../services';
import { UserPresence, type PresenceUpdate } from './UserPresence';
import { UserRepository } from './UserRepository';
import type { Relationship } from './Relationship';
import type { ServerArg } from '../../servers/args';
import type { ServerMember } from '../server/ServerMember';
import type { Channel } from '../channel/Channel';
import type { GroupDMOptions } from '../../messaging/direct-message-service';
import type { IdArg } from '../../domain/identity/ids';

export enum PremiumType {
  NONE = 'NONE',
  NITRO_CLASSIC = 'NITRO_CLASSIC',
  NITRO = 'NITRO',
  NITRO_BASIC = 'NITRO_BASIC',
}

export interface NewUser {
  username: string;
  discriminator: string;
  displayName?: string | null;
  premiumType?: PremiumType;
}

/**
 * A CRYB account. (username, discriminator) is unique without regard to case: the index is on
 * lower("username"), so "Alice#0001" and "alice#0001" cannot both exist. Allocation, lookups by tag
 * and renames all compare names with that same lower(), so they always agree with the index; for
 * letters outside ASCII, what lower() folds depends on the database's collation (the C locale of
 * the embedded server folds ASCII only; a UTF-8 locale folds "Ñ" to "ñ" too). Names are stored NFC.
 */
@Entity({ repository: () => UserRepository })
@Index({
  name: 'User_username_discriminator_unique',
  expression: 'create unique index "User_username_discriminator_unique" on "User" (lower("username"), "discriminator")',
})
@Check({ name: 'user_discriminator_check', expression: `"discriminator" ~ '^[0-9]{4}$' and "discriminator" <> '0000'` })
export class User extends AggregateRoot {
  [EntityRepositoryType]?: UserRepository;

  @PrimaryKey({ type: 'bigint', autoincrement: false })
  id: string = nextSnowflake();

  @Property({ length: 32 })
  username: string;

  @Property({ columnType: 'char(4)' })
  discriminator: string;

  @Property({ length: 32, nullable: true })
  displayName: string | null = null;

  @Property({ type: 'text', nullable: true })
  avatar: string | null = null;

  @Property({ type: 'text', nullable: true })
  banner: string | null = null;

  @Property({ length: 190, nullable: true })
  bio: string | null = null;

  @Property({ length: 40, nullable: true })
  pronouns: string | null = null;

  @Enum({ items: () => PremiumType, default: PremiumType.NONE })
  premiumType: PremiumType & Opt = PremiumType.NONE;

  /** Discord's public user flags bitfield. */
  @Property({ type: 'integer', default: 0 })
  flags: number & Opt = 0;

  @Property({ defaultRaw: 'now()' })
  createdAt: Date & Opt = new Date();

  @Property({ defaultRaw: 'now()', onUpdate: () => new Date() })
  updatedAt: Date & Opt = new Date();

  @OneToOne({ entity: () => UserPresence, mappedBy: 'user', ref: true })
  presence!: Ref<UserPresence>;

  /** Use `new UserService(em).register()`: it allocates the discriminator under a lock. */
  constructor(props: NewUser) {
    super();
    this.username = props.username;
    this.discriminator = props.discriminator;
    this.displayName = props.displayName ?? null;
    this.premiumType = props.premiumType ?? PremiumType.NONE;
    this.presence = ref(new UserPresence(this));
  }

  get tag(): string {
    return `${this.username}#${this.discriminator}`;
  }

  get isPremium(): boolean {
    return this.premiumType !== PremiumType.NONE;
  }

  /** The public user object, as events and other users see it. */
  toPublic() {
    return {
      id: this.id,
      username: this.username,
      discriminator: this.discriminator,
      displayName: this.displayName,
      avatar: this.avatar,
      banner: this.banner,
      bio: this.bio,
      pronouns: this.pronouns,
      premiumType: this.premiumType,
      flags: this.flags,
    };
  }

  /** Changes profile fields (null clears one); the caller flushes. */
  updateProfile(changes: ProfileChanges): void {
    const valid = validateProfile(changes);
    let changed = false;
    for (const [key, value] of Object.entries(valid) as [keyof ProfileChanges, string | null][]) {
      if (this[key] !== value) {
        this[key] = value;
        changed = true;
      }
    }
    if (changed) this.userChanged();
  }

  /** @internal used by UserService when the username or discriminator changes. */
  userChanged(): void {
    this.recordEvent('USER_UPDATE', { user: this.toPublic() }, { userIds: [this.id] });
  }

  // Operations below need queries or locks; each runs and commits its own unit of work.

  changeUsername(username: string): Promise<User> {
    return serviceFor(this, 'users').changeUsername(this, username);
  }

  setPresence(update: PresenceUpdate): Promise<UserPresence> {
    return serviceFor(this, 'users').setPresence(this, update);
  }

  sendFriendRequest(to: User | string): Promise<Relationship> {
    return serviceFor(this, 'relationships').sendFriendRequest(this, to);
  }

  acceptFriendRequest(from: User): Promise<Relationship> {
    return serviceFor(this, 'relationships').acceptFriendRequest(this, from);
  }

  declineFriendRequest(from: User): Promise<void> {
    return serviceFor(this, 'relationships').declineFriendRequest(this, from);
  }

  cancelFriendRequest(to: User): Promise<void> {
    return serviceFor(this, 'relationships').cancelFriendRequest(this, to);
  }

  removeFriend(friend: User): Promise<void> {
    return serviceFor(this, 'relationships').removeFriend(this, friend);
  }

  block(target: User): Promise<Relationship> {
    return serviceFor(this, 'relationships').block(this, target);
  }

  unblock(target: User): Promise<void> {
    return serviceFor(this, 'relationships').unblock(this, target);
  }

  /** Joins the server of an invite code (see MembershipService.acceptInvite). */
  acceptInvite(code: string): Promise<ServerMember> {
    return serviceFor(this, 'memberships').acceptInvite(this, code);
  }

  /** Leaves a server (the owner must transfer ownership first). */
  leaveServer(server: ServerArg): Promise<void> {
    return serviceFor(this, 'memberships').leave(this, server);
  }

  /** The one DM channel with `other`, opened on first use (refused while either blocks the other). */
  openDM(other: IdArg): Promise<Channel> {
    return serviceFor(this, 'directMessages').openDM(this, other);
  }

  /** A group DM this user owns with `others` (friends only; 2-10 recipients including this user). */
  createGroupDM(others: readonly IdArg[], options?: GroupDMOptions): Promise<Channel> {
    return serviceFor(this, 'directMessages').createGroupDM(this, others, options);
  }
}
