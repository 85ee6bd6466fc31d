import {
  Check,
  Collection,
  Entity,
  ManyToOne,
  OneToMany,
  type Opt,
  PrimaryKey,
  Property,
  type Ref,
  ref,
} from '@mikro-orm/core';
import { AggregateRoot } from '../../domain/events';
import { nextSnowflake } from '../../domain/snowflake';
import type { User } from '../user/User';
import { Role } from './Role';

/** A server (Discord's guild). Its @everyone role carries the server's own id. */
@Entity()
@Check({ name: 'server_verification_level_check', expression: '"verificationLevel" >= 0 and "verificationLevel" <= 4' })
@Check({ name: 'server_premium_tier_check', expression: '"premiumTier" >= 0 and "premiumTier" <= 3' })
@Check({ name: 'server_member_count_check', expression: '"memberCount" >= 0' })
export class Server extends AggregateRoot {
  @PrimaryKey({ type: 'bigint', autoincrement: false })
  id: string = nextSnowflake();

  @Property({ length: 100 })
  name: string;

  @Property({ type: 'text', nullable: true })
  description: string | null = null;

  @Property({ type: 'text', nullable: true })
  icon: string | null = null;

  @Property({ type: 'text', nullable: true })
  banner: string | null = null;

  @ManyToOne({ entity: 'User', ref: true, deleteRule: 'restrict' })
  owner: Ref<User>;

  @Property({ type: 'json', default: '[]' })
  features: string[] & Opt = [];

  @Property({ type: 'smallint', default: 0 })
  verificationLevel: number & Opt = 0;

  /** The boost level, 0-3: it sets emoji and sticker slots and the voice bitrate ceiling. */
  @Property({ type: 'smallint', default: 0 })
  premiumTier: number & Opt = 0;

  /** Kept by atomic increments in the same transaction as each join and leave. */
  @Property({ type: 'integer', default: 0 })
  memberCount: number & Opt = 0;

  @Property({ defaultRaw: 'now()' })
  createdAt: Date & Opt = new Date();

  @OneToMany({ entity: () => Role, mappedBy: 'server' })
  roles = new Collection<Role>(this);

  constructor(owner: User, name: string) {
    super();
    this.owner = ref(owner);
    this.name = name;
  }

  isOwner(userId: string): boolean {
    return this.owner.id === userId;
  }

  /** @internal records GUILD_CREATE once ServerService has built the server's first state. */
  created(roles: Role[], channels: { toPublic(): Record<string, unknown> }[]): void {
    this.recordEvent(
      'GUILD_CREATE',
      { server: this.toPublic(), roles: roles.map((r) => r.toPublic()), channels: channels.map((c) => c.toPublic()) },
      { serverId: this.id, userIds: [this.owner.id] },
    );
  }

  /** @internal */ updated(): void {
    this.recordEvent('GUILD_UPDATE', { server: this.toPublic() }, { serverId: this.id });
  }
  /** @internal */ deleted(): void {
    this.recordEvent('GUILD_DELETE', { id: this.id }, { serverId: this.id });
  }
  /** @internal `deleteMessageSeconds`: the ban's message deletion window, for the messaging layer. */
  banAdded(userId: string, reason: string | null, deleteMessageSeconds = 0): void {
    this.recordEvent(
      'GUILD_BAN_ADD',
      { serverId: this.id, userId, reason, deleteMessageSeconds },
      { serverId: this.id, userIds: [userId] },
    );
  }
  /** @internal */ banRemoved(userId: string): void {
    this.recordEvent('GUILD_BAN_REMOVE', { serverId: this.id, userId }, { serverId: this.id, userIds: [userId] });
  }
  /** @internal the server's full emoji list after a change, as Discord sends it. */
  emojisUpdated(emojis: { toPublic(): Record<string, unknown> }[]): void {
    this.recordEvent(
      'GUILD_EMOJIS_UPDATE',
      { serverId: this.id, emojis: emojis.map((e) => e.toPublic()) },
      { serverId: this.id },
    );
  }
  /** @internal the server's full sticker list after a change. */
  stickersUpdated(stickers: { toPublic(): Record<string, unknown> }[]): void {
    this.recordEvent(
      'GUILD_STICKERS_UPDATE',
      { serverId: this.id, stickers: stickers.map((s) => s.toPublic()) },
      { serverId: this.id },
    );
  }

  toPublic() {
    return {
      id: this.id,
      name: this.name,
      description: this.description,
      icon: this.icon,
      banner: this.banner,
      ownerId: this.owner.id,
      features: this.features,
      verificationLevel: this.verificationLevel,
      premiumTier: this.premiumTier,
      memberCount: this.memberCount,
    };
  }
}
