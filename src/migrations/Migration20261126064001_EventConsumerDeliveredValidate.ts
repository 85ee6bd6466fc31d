import { Migration } from '@mikro-orm/migrations';

/** Validates the check the previous migration added NOT VALID (the house rule: docs/operations.md). */
export class Migration20261126064001_EventConsumerDeliveredValidate extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "EventConsumer" validate constraint event_consumer_cursor_delivered_check;`);
  }

  override async down(): Promise<void> {
    // Nothing to undo: the previous migration's down drops the constraint.
  }
}
