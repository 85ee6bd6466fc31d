import { Collection, Entity, Index, ManyToMany, ManyToOne, type Opt, PrimaryKeyProp, Property, type Ref, ref } from '@mikro-orm/core';
import { AggregateRoot } from '../../domain/events';
import type { User } from '../user/User';
import { MemberRole } from './MemberRole';
import { Role } from './Role';
import type { Server } from './Server';

/** A user's membership of a server; the relation is the identity (server + user). */
@Entity()
@Index({ name: 'ServerMember_serverId_joinedAt_index', properties: ['server', 'joinedAt'] })
@Index({ name: 'ServerMember_userId_index', properties: ['user'] })
export class ServerMember extends AggregateRoot {
  [PrimaryKeyProp]?: ['server', 'user'];

  @ManyToOne({ entity: 'Server', primary: true, ref: true, deleteRule: 'cascade' })
  server: Ref<Server>;

  @ManyToOne({ entity: 'User', primary: true, ref: true, deleteRule: 'cascade' })
  user: Ref<User>;

  @Property({ length: 32, nullable: true })
  nickname: string | null = null;

  @Property({ defaultRaw: 'now()' })
  joinedAt: Date & Opt = new Date();

  /** Timed out (Discord's communication_disabled_until) until this moment. */
  @Property({ nullable: true })
  timedOutUntil: Date | null = null;

  @Property({ default: false })
  mute: boolean & Opt = false;

  @Property({ default: false })
  deaf: boolean & Opt = false;

  @ManyToMany({ entity: () => Role, pivotEntity: () => MemberRole })
  roles = new Collection<Role>(this);

  constructor(server: Server, user: User) {
    super();
    this.server = ref(server);
    this.user = ref(user);
  }

  // Event recorders, called by the operations that change a membership (one place per event type).
  /** @internal */ joined(): void {
    this.recordEvent('GUILD_MEMBER_ADD', { member: this.toPublic() }, { serverId: this.server.id, userIds: [this.user.id] });
  }
  /** @internal */ updated(): void {
    this.recordEvent('GUILD_MEMBER_UPDATE', { member: this.toPublic() }, { serverId: this.server.id, userIds: [this.user.id] });
  }
  /** @internal */ removed(reason: 'leave' | 'kick' | 'ban'): void {
    this.recordEvent('GUILD_MEMBER_REMOVE', { serverId: this.server.id, userId: this.user.id, reason }, { serverId: this.server.id, userIds: [this.user.id] });
  }

  toPublic() {
    return {
      serverId: this.server.id,
      userId: this.user.id,
      nickname: this.nickname,
      joinedAt: this.joinedAt.toISOString(),
      timedOutUntil: this.timedOutUntil?.toISOString() ?? null,
      mute: this.mute,
      deaf: this.deaf,
      roles: this.roles.isInitialized() ? this.roles.getItems().map((r) => r.id) : undefined,
    };
  }
}
