import { Entity, type Opt, PrimaryKey, Property } from '@mikro-orm/core';

/** A named reader of the event stream and how far it has acknowledged. */
@Entity()
export class EventConsumer {
  @PrimaryKey({ length: 100 })
  name: string;

  @Property({ type: 'bigint', default: '0' })
  cursor: string & Opt = '0';

  @Property({ defaultRaw: 'now()' })
  createdAt: Date & Opt = new Date();

  @Property({ defaultRaw: 'now()', onUpdate: () => new Date() })
  updatedAt: Date & Opt = new Date();

  constructor(name: string) {
    this.name = name;
  }
}
