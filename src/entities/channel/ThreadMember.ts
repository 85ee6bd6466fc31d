import { Entity, Index, ManyToOne, type Opt, PrimaryKeyProp, Property, type Ref, ref } from '@mikro-orm/core';
import type { User } from '../user/User';
import type { Channel } from './Channel';

/** A member of a thread: joined by sending in it, by being added, or by creating it. */
@Entity()
@Index({ name: 'ThreadMember_userId_index', properties: ['user'] })
export class ThreadMember {
  [PrimaryKeyProp]?: ['thread', 'user'];

  @ManyToOne({ entity: 'Channel', primary: true, ref: true, deleteRule: 'cascade' })
  thread: Ref<Channel>;

  @ManyToOne({ entity: 'User', primary: true, ref: true, deleteRule: 'cascade' })
  user: Ref<User>;

  @Property({ defaultRaw: 'now()' })
  joinedAt: Date & Opt = new Date();

  constructor(thread: Channel | Ref<Channel>, user: User | Ref<User>) {
    this.thread = ref(thread as Channel);
    this.user = ref(user as User);
  }
}
