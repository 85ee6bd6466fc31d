import { Entity, Index, ManyToOne, PrimaryKey, Property, type Ref, ref } from '@mikro-orm/core';
import type { Embed, EmbedAuthor, EmbedField, EmbedFooter, EmbedMedia } from '../../domain/messages';
import { nextSnowflake } from '../../domain/snowflake';
import type { Message } from './Message';

/**
 * A rich embed of a message, validated against Discord's limits before it gets here. The structured
 * parts are jsonb; the GIN index on `fields` answers containment queries (`fields @> '[{"name": ...}]'`).
 */
@Entity()
@Index({ name: 'MessageEmbed_messageId_index', properties: ['message'] })
@Index({
  name: 'MessageEmbed_fields_index',
  expression: 'create index "MessageEmbed_fields_index" on "MessageEmbed" using gin ("fields" jsonb_path_ops)',
})
export class MessageEmbed {
  @PrimaryKey({ type: 'bigint', autoincrement: false })
  id: string = nextSnowflake();

  @ManyToOne({ entity: 'Message', ref: true, deleteRule: 'cascade' })
  message: Ref<Message>;

  @Property({ length: 256, nullable: true })
  title: string | null;

  @Property({ type: 'text', nullable: true })
  description: string | null;

  @Property({ length: 2048, nullable: true })
  url: string | null;

  @Property({ type: 'integer', nullable: true })
  color: number | null;

  @Property({ nullable: true })
  timestamp: Date | null;

  @Property({ type: 'jsonb', defaultRaw: `'[]'::jsonb` })
  fields: EmbedField[];

  @Property({ type: 'jsonb', nullable: true })
  footer: EmbedFooter | null;

  @Property({ type: 'jsonb', nullable: true })
  author: EmbedAuthor | null;

  @Property({ type: 'jsonb', nullable: true })
  image: EmbedMedia | null;

  @Property({ type: 'jsonb', nullable: true })
  thumbnail: EmbedMedia | null;

  constructor(message: Message, embed: Embed) {
    this.message = ref(message);
    this.title = embed.title ?? null;
    this.description = embed.description ?? null;
    this.url = embed.url ?? null;
    this.color = embed.color ?? null;
    this.timestamp = embed.timestamp ? new Date(embed.timestamp) : null;
    this.fields = embed.fields;
    this.footer = embed.footer ?? null;
    this.author = embed.author ?? null;
    this.image = embed.image ?? null;
    this.thumbnail = embed.thumbnail ?? null;
  }

  toPublic(): Embed {
    const out: Embed = { fields: this.fields };
    if (this.title !== null) out.title = this.title;
    if (this.description !== null) out.description = this.description;
    if (this.url !== null) out.url = this.url;
    if (this.color !== null) out.color = this.color;
    if (this.timestamp !== null) out.timestamp = this.timestamp.toISOString();
    if (this.footer !== null) out.footer = this.footer;
    if (this.author !== null) out.author = this.author;
    if (this.image !== null) out.image = this.image;
    if (this.thumbnail !== null) out.thumbnail = this.thumbnail;
    return out;
  }
}
