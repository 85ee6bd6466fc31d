import { Entity, ManyToOne, type Opt, PrimaryKeyProp, Property, type Ref, ref } from '@mikro-orm/core';
import type { User } from '../user/User';
import type { Server } from './Server';

/** A user banned from a server: no invite lets them back in until unbanned. */
@Entity()
export class Ban {
  [PrimaryKeyProp]?: ['server', 'user'];

  @ManyToOne({ entity: 'Server', primary: true, ref: true, deleteRule: 'cascade' })
  server: Ref<Server>;

  @ManyToOne({ entity: 'User', primary: true, ref: true, deleteRule: 'cascade' })
  user: Ref<User>;

  @Property({ length: 512, nullable: true })
  reason: string | null;

  @ManyToOne({ entity: 'User', ref: true, nullable: true, deleteRule: 'set null' })
  executor: Ref<User> | null;

  @Property({ defaultRaw: 'now()' })
  createdAt: Date & Opt = new Date();

  constructor(server: Server, user: User | Ref<User>, executor: User | Ref<User> | null, reason: string | null) {
    this.server = ref(server);
    this.user = ref(user as User);
    this.executor = executor ? ref(executor as User) : null;
    this.reason = reason;
  }
}
