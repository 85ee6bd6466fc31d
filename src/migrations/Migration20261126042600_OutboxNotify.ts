import { Migration } from '@mikro-orm/migrations';

/**
 * Hand-written: wakes event consumers. A statement-level trigger sends one NOTIFY per insert
 * statement; PostgreSQL delivers it only when the transaction commits, so a rolled-back change
 * never wakes anyone. The payload is the highest id inserted, a hint only: consumers always poll.
 */
export class Migration20261126042600_OutboxNotify extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create or replace function "cryb_notify_domain_events"() returns trigger language plpgsql as $$
      begin
        perform pg_notify('cryb_domain_events', (select max("id")::text from inserted));
        return null;
      end $$;`);
    this.addSql(`
      create trigger "DomainEvent_notify" after insert on "DomainEvent"
      referencing new table as inserted
      for each statement execute function "cryb_notify_domain_events"();`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop trigger if exists "DomainEvent_notify" on "DomainEvent";`);
    this.addSql(`drop function if exists "cryb_notify_domain_events"();`);
  }
}
