import { Entity, Index, ManyToOne, PrimaryKey, Property, type Ref, ref } from '@mikro-orm/core';
import type { AttachmentInput } from '../../domain/messages';
import { nextSnowflake } from '../../domain/snowflake';
import type { Message } from './Message';

/** A file attached to a message: its metadata (the bytes live in object storage). */
@Entity()
@Index({ name: 'MessageAttachment_messageId_index', properties: ['message'] })
export class MessageAttachment {
  @PrimaryKey({ type: 'bigint', autoincrement: false })
  id: string = nextSnowflake();

  @ManyToOne({ entity: 'Message', ref: true, deleteRule: 'cascade' })
  message: Ref<Message>;

  @Property({ length: 255 })
  filename: string;

  /** Bytes. */
  @Property({ type: 'integer' })
  size: number;

  @Property({ length: 255 })
  contentType: string;

  @Property({ length: 2048 })
  url: string;

  @Property({ type: 'integer', nullable: true })
  width: number | null;

  @Property({ type: 'integer', nullable: true })
  height: number | null;

  constructor(message: Message, input: AttachmentInput) {
    this.message = ref(message);
    this.filename = input.filename;
    this.size = input.size;
    this.contentType = input.contentType;
    this.url = input.url;
    this.width = input.width;
    this.height = input.height;
  }

  toPublic() {
    return {
      id: this.id,
      filename: this.filename,
      size: this.size,
      contentType: this.contentType,
      url: this.url,
      width: this.width,
      height: this.height,
    };
  }
}
