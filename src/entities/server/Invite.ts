import {
  Check,
  Entity,
  EntityRepositoryType,
  Index,
  ManyToOne,
  type Opt,
  PrimaryKey,
  Property,
  type Ref,
  ref,
} from '@mikro-orm/core';
import { randomBytes } from 'node:crypto';
import { AggregateRoot } from '../../domain/events';
import type { Channel } from '../channel/Channel';
import { InviteRepository } from './InviteRepository';
import type { User } from '../user/User';
import type { Server } from './Server';

const CODE_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** A random, URL-safe invite code (62^10: guessing one is hopeless). */
export function newInviteCode(length = 10): string {
  const bytes = randomBytes(length * 2);
  let code = '';
  for (const byte of bytes) {
    if (byte < 248) code += CODE_ALPHABET[byte % 62]; // 248 = 4 * 62: no modulo bias
    if (code.length === length) break;
  }
  return code.length === length ? code : newInviteCode(length);
}

/**
 * An invite to a server through one of its channels. `uses` only grows by the atomic
 * `UPDATE ... WHERE uses < maxUses` of a join, and the check constraint backs it.
 */
@Entity({ repository: () => InviteRepository })
@Index({ name: 'Invite_serverId_index', properties: ['server'] })
@Check({ name: 'invite_max_age_check', expression: '"maxAge" >= 0 and "maxAge" <= 604800' })
@Check({ name: 'invite_max_uses_check', expression: '"maxUses" >= 0 and "maxUses" <= 100' })
@Check({ name: 'invite_uses_check', expression: '"uses" >= 0 and ("maxUses" = 0 or "uses" <= "maxUses")' })
export class Invite extends AggregateRoot {
  [EntityRepositoryType]?: InviteRepository;

  @PrimaryKey({ length: 32 })
  code: string = newInviteCode();

  @ManyToOne({ entity: 'Server', ref: true, deleteRule: 'cascade' })
  server: Ref<Server>;

  @ManyToOne({ entity: 'Channel', ref: true, deleteRule: 'cascade' })
  channel: Ref<Channel>;

  @ManyToOne({ entity: 'User', ref: true, nullable: true, deleteRule: 'set null' })
  inviter: Ref<User> | null;

  /** Seconds until it expires; 0 = never. */
  @Property({ type: 'integer', default: 86400 })
  maxAge: number & Opt = 86400;

  /** 0 = unlimited. */
  @Property({ type: 'integer', default: 0 })
  maxUses: number & Opt = 0;

  @Property({ type: 'integer', default: 0 })
  uses: number & Opt = 0;

  /** Members who joined through a temporary invite are removed when they disconnect without a role. */
  @Property({ default: false })
  temporary: boolean & Opt = false;

  @Property({ defaultRaw: 'now()' })
  createdAt: Date & Opt = new Date();

  @Property({ nullable: true })
  expiresAt: Date | null = null;

  constructor(
    server: Server,
    channel: Channel,
    inviter: User | null,
    options: { maxAge?: number; maxUses?: number; temporary?: boolean } = {},
  ) {
    super();
    this.server = ref(server);
    this.channel = ref(channel);
    this.inviter = inviter ? ref(inviter) : null;
    this.maxAge = options.maxAge ?? 86400;
    this.maxUses = options.maxUses ?? 0;
    this.temporary = options.temporary ?? false;
    this.expiresAt = this.maxAge > 0 ? new Date(this.createdAt.getTime() + this.maxAge * 1000) : null;
  }

  /** @internal */ created(): void {
    this.recordEvent(
      'INVITE_CREATE',
      { invite: this.toPublic() },
      { serverId: this.server.id, channelId: this.channel.id },
    );
  }
  /** @internal */ deleted(): void {
    this.recordEvent(
      'INVITE_DELETE',
      { code: this.code, serverId: this.server.id, channelId: this.channel.id },
      { serverId: this.server.id, channelId: this.channel.id },
    );
  }

  toPublic() {
    return {
      code: this.code,
      serverId: this.server.id,
      channelId: this.channel.id,
      inviterId: this.inviter?.id ?? null,
      maxAge: this.maxAge,
      maxUses: this.maxUses,
      uses: this.uses,
      temporary: this.temporary,
      createdAt: this.createdAt.toISOString(),
      expiresAt: this.expiresAt?.toISOString() ?? null,
    };
  }
}
