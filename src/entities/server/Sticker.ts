import { Check, Entity, Enum, Index, ManyToOne, type Opt, PrimaryKey, Property, type Ref, ref } from '@mikro-orm/core';
import { nextSnowflake } from '../../domain/snowflake';
import type { User } from '../user/User';
import type { Server } from './Server';

export enum StickerFormat {
  PNG = 'PNG',
  APNG = 'APNG',
  LOTTIE = 'LOTTIE',
  GIF = 'GIF',
}

/** A custom sticker of a server. */
@Entity()
@Index({ name: 'Sticker_serverId_index', properties: ['server'] })
@Check({ name: 'sticker_name_check', expression: 'char_length("name") >= 2' })
export class Sticker {
  @PrimaryKey({ type: 'bigint', autoincrement: false })
  id: string = nextSnowflake();

  @ManyToOne({ entity: 'Server', ref: true, deleteRule: 'cascade' })
  server: Ref<Server>;

  @Property({ length: 30 })
  name: string;

  @Property({ length: 100, nullable: true })
  description: string | null = null;

  /** Autocomplete tags (Discord: a related emoji name), at most 200 characters. */
  @Property({ length: 200, default: '' })
  tags: string & Opt = '';

  @Enum({ items: () => StickerFormat, default: StickerFormat.PNG })
  formatType: StickerFormat & Opt = StickerFormat.PNG;

  @ManyToOne({ entity: 'User', ref: true, nullable: true, deleteRule: 'set null' })
  creator: Ref<User> | null;

  @Property({ defaultRaw: 'now()' })
  createdAt: Date & Opt = new Date();

  constructor(server: Server, name: string, creator: User | null) {
    this.server = ref(server);
    this.name = name;
    this.creator = creator ? ref(creator) : null;
  }

  toPublic() {
    return { id: this.id, name: this.name, description: this.description, tags: this.tags, formatType: this.formatType, creatorId: this.creator?.id ?? null };
  }
}
