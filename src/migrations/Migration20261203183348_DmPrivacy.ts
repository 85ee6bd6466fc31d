import { Migration } from '@mikro-orm/migrations';

export class Migration20261203183348_DmPrivacy extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "ServerMember" add column "allowDirectMessages" boolean not null default true;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "ServerMember" drop column "allowDirectMessages";`);
  }
}
