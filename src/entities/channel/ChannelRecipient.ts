import { Entity, Index, ManyToOne, type Opt, PrimaryKeyProp, Property, type Ref, ref } from '@mikro-orm/core';
import type { User } from '../user/User';
import type { Channel } from './Channel';

/** A recipient of a DM or group DM channel. A DM has exactly two; a group DM 1 to 10. */
@Entity()
@Index({ name: 'ChannelRecipient_userId_index', properties: ['user'] })
export class ChannelRecipient {
  [PrimaryKeyProp]?: ['channel', 'user'];

  @ManyToOne({ entity: 'Channel', primary: true, ref: true, deleteRule: 'cascade' })
  channel: Ref<Channel>;

  @ManyToOne({ entity: 'User', primary: true, ref: true, deleteRule: 'cascade' })
  user: Ref<User>;

  @Property({ defaultRaw: 'now()' })
  addedAt: Date & Opt = new Date();

  constructor(channel: Channel, user: User | Ref<User>) {
    this.channel = ref(channel);
    this.user = ref(user as User);
  }
}
