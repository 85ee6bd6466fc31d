import { Check, Entity, Index, ManyToOne, type Opt, PrimaryKeyProp, Property, type Ref } from '@mikro-orm/core';
import type { Channel } from '../channel/Channel';
import type { User } from '../user/User';

/**
 * Where a user has read up to in a channel, and how many mentions of them arrived since. Sends raise
 * mentionCount with one atomic upsert for all users pinged, so concurrent sends never lose a count;
 * ack recounts under the row lock. `lastSentAt` carries slowmode: an atomic conditional upsert lets
 * only one of a user's concurrent sends through per window.
 */
@Entity()
@Index({ name: 'ReadState_channelId_index', properties: ['channel'] })
@Check({ name: 'read_state_mention_count_check', expression: '"mentionCount" >= 0' })
export class ReadState {
  [PrimaryKeyProp]?: ['user', 'channel'];

  @ManyToOne({ entity: 'User', primary: true, ref: true, deleteRule: 'cascade' })
  user!: Ref<User>;

  @ManyToOne({ entity: 'Channel', primary: true, ref: true, deleteRule: 'cascade' })
  channel!: Ref<Channel>;

  @Property({ type: 'bigint', nullable: true })
  lastReadMessageId: string | null = null;

  @Property({ type: 'integer', default: 0 })
  mentionCount: number & Opt = 0;

  /** When the user last sent in this channel while slowmode applied to them. */
  @Property({ nullable: true })
  lastSentAt: Date | null = null;
}
