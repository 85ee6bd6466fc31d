import { Check, Entity, type Opt, PrimaryKey, Property } from '@mikro-orm/core';

/** A named reader of the event stream and how far it has acknowledged. */
@Entity()
// The backstop of ack's rule: a cursor never passes what was delivered.
@Check({ name: 'event_consumer_cursor_delivered_check', expression: '"cursor" <= "deliveredUpTo"' })
export class EventConsumer {
  @PrimaryKey({ length: 100 })
  name: string;

  @Property({ type: 'bigint', default: '0' })
  cursor: string & Opt = '0';

  /** The highest event id poll has handed this consumer: ack never moves the cursor past it. */
  @Property({ type: 'bigint', default: '0' })
  deliveredUpTo: string & Opt = '0';

  @Property({ defaultRaw: 'now()' })
  createdAt: Date & Opt = new Date();

  @Property({ defaultRaw: 'now()', onUpdate: () => new Date() })
  updatedAt: Date & Opt = new Date();

  constructor(name: string) {
    this.name = name;
  }
}
