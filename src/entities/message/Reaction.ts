import {
  Entity,
  Index,
  ManyToOne,
  type Opt,
  PrimaryKey,
  PrimaryKeyProp,
  Property,
  type Ref,
  ref,
} from '@mikro-orm/core';
import { type ParsedEmoji, reactionKey } from '../../domain/messages';
import type { User } from '../user/User';
import type { Message } from './Message';
import { ReactionRepository } from './ReactionRepository';

/**
 * One user's reaction with one emoji on one message: the primary key makes reacting twice a no-op.
 * `emojiKey` (`u:<unicode>` or `c:<custom id>`) is what "20 distinct emoji per message" counts.
 * A custom emoji's id is a plain column: reactions outlive the emoji and may come from other servers.
 */
@Entity({ repository: () => ReactionRepository })
@Index({ name: 'Reaction_userId_index', properties: ['user'] })
export class Reaction {
  [PrimaryKeyProp]?: ['message', 'emojiKey', 'user'];

  @ManyToOne({ entity: 'Message', primary: true, ref: true, deleteRule: 'cascade' })
  message: Ref<Message>;

  @PrimaryKey({ length: 160 })
  emojiKey: string;

  @ManyToOne({ entity: 'User', primary: true, ref: true, deleteRule: 'cascade' })
  user: Ref<User>;

  @Property({ type: 'bigint', nullable: true })
  emojiId: string | null;

  @Property({ length: 128 })
  emojiName: string;

  @Property({ default: false })
  emojiAnimated: boolean & Opt = false;

  @Property({ defaultRaw: 'now()' })
  createdAt: Date & Opt = new Date();

  constructor(message: Message | Ref<Message>, user: User | Ref<User>, emoji: ParsedEmoji) {
    this.message = ref(message as Message);
    this.user = ref(user as User);
    this.emojiKey = reactionKey(emoji);
    this.emojiId = emoji.kind === 'custom' ? emoji.id : null;
    this.emojiName = emoji.name;
    this.emojiAnimated = emoji.kind === 'custom' && emoji.animated;
  }
}
