import { Check, Entity, Index, ManyToOne, type Opt, PrimaryKey, Property, type Ref, ref } from '@mikro-orm/core';
import { nextSnowflake } from '../../domain/snowflake';
import type { User } from '../user/User';
import type { Server } from './Server';

/** A custom emoji of a server; static and animated emoji have separate slots. */
@Entity()
@Index({ name: 'Emoji_serverId_animated_index', properties: ['server', 'animated'] })
@Check({ name: 'emoji_name_check', expression: `"name" ~ '^[A-Za-z0-9_]{2,32}$'` })
export class Emoji {
  @PrimaryKey({ type: 'bigint', autoincrement: false })
  id: string = nextSnowflake();

  @ManyToOne({ entity: 'Server', ref: true, deleteRule: 'cascade' })
  server: Ref<Server>;

  @Property({ length: 32 })
  name: string;

  @Property({ default: false })
  animated: boolean & Opt = false;

  @ManyToOne({ entity: 'User', ref: true, nullable: true, deleteRule: 'set null' })
  creator: Ref<User> | null;

  /** Role ids allowed to use it; empty = everyone. */
  @Property({ type: 'json', default: '[]' })
  roles: string[] & Opt = [];

  @Property({ defaultRaw: 'now()' })
  createdAt: Date & Opt = new Date();

  constructor(server: Server, name: string, animated: boolean, creator: User | null) {
    this.server = ref(server);
    this.name = name;
    this.animated = animated;
    this.creator = creator ? ref(creator) : null;
  }

  toPublic() {
    return { id: this.id, name: this.name, animated: this.animated, roles: this.roles, creatorId: this.creator?.id ?? null };
  }
}
