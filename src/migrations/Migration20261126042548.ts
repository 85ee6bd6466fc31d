import { Migration } from '@mikro-orm/migrations';

export class Migration20261126042548 extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create table "DomainEvent" ("id" bigint not null default (pg_current_xact_id()::text::bigint << 20) + set_config('cryb.event_seq', (coalesce(nullif(current_setting('cryb.event_seq', true), ''), '0')::int + 1)::text, true)::bigint, "type" text not null, "payload" jsonb not null, "serverId" bigint null, "channelId" bigint null, "userIds" bigint[] null, "createdAt" timestamptz not null default now(), constraint "DomainEvent_pkey" primary key ("id"));`,
    );
    this.addSql(`create index "DomainEvent_createdAt_index" on "DomainEvent" ("createdAt");`);
    this.addSql(`create index "DomainEvent_serverId_id_index" on "DomainEvent" ("serverId", "id");`);

    this.addSql(
      `create table "EventConsumer" ("name" varchar(100) not null, "cursor" bigint not null default '0', "createdAt" timestamptz not null default now(), "updatedAt" timestamptz not null default now(), constraint "EventConsumer_pkey" primary key ("name"));`,
    );

    this.addSql(
      `create table "User" ("id" bigint not null, "username" varchar(32) not null, "discriminator" char(4) not null, "displayName" varchar(32) null, "avatar" text null, "banner" text null, "bio" varchar(190) null, "pronouns" varchar(40) null, "premiumType" text check ("premiumType" in ('NONE', 'NITRO_CLASSIC', 'NITRO', 'NITRO_BASIC')) not null default 'NONE', "flags" int not null default 0, "createdAt" timestamptz not null default now(), "updatedAt" timestamptz not null default now(), constraint "User_pkey" primary key ("id"), constraint user_discriminator_check check ("discriminator" ~ '^[0-9]{4}$' and "discriminator" <> '0000'));`,
    );
    this.addSql(
      `create unique index "User_username_discriminator_unique" on "User" (lower("username"), "discriminator");`,
    );

    this.addSql(
      `create table "Relationship" ("userAId" bigint not null, "userBId" bigint not null, "status" text check ("status" in ('NONE', 'PENDING', 'FRIENDS')) not null default 'NONE', "requesterId" bigint null, "aBlocksB" boolean not null default false, "bBlocksA" boolean not null default false, "since" timestamptz null, "updatedAt" timestamptz not null default now(), constraint "Relationship_pkey" primary key ("userAId", "userBId"), constraint relationship_not_empty check ("status" <> 'NONE' or "aBlocksB" or "bBlocksA"), constraint relationship_requester_iff_pending check (("status" = 'PENDING') = ("requesterId" is not null)), constraint relationship_no_friendship_across_block check ("status" = 'NONE' or not ("aBlocksB" or "bBlocksA")), constraint relationship_ordered_pair check ("userAId" < "userBId"));`,
    );
    this.addSql(`create index "Relationship_userB_status_index" on "Relationship" ("userBId", "status");`);

    this.addSql(
      `create table "UserPresence" ("userId" bigint not null, "status" text check ("status" in ('ONLINE', 'IDLE', 'DND', 'INVISIBLE', 'OFFLINE')) not null default 'OFFLINE', "customStatus" jsonb null, "activities" jsonb not null default '[]', "lastSeenAt" timestamptz null, "updatedAt" timestamptz not null default now(), constraint "UserPresence_pkey" primary key ("userId"));`,
    );

    this.addSql(
      `alter table "Relationship" add constraint "Relationship_userAId_foreign" foreign key ("userAId") references "User" ("id") on update cascade on delete cascade;`,
    );
    this.addSql(
      `alter table "Relationship" add constraint "Relationship_userBId_foreign" foreign key ("userBId") references "User" ("id") on update cascade on delete cascade;`,
    );
    this.addSql(
      `alter table "Relationship" add constraint "Relationship_requesterId_foreign" foreign key ("requesterId") references "User" ("id") on update cascade on delete cascade;`,
    );

    this.addSql(
      `alter table "UserPresence" add constraint "UserPresence_userId_foreign" foreign key ("userId") references "User" ("id") on update cascade on delete cascade;`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "Relationship" drop constraint "Relationship_userAId_foreign";`);

    this.addSql(`alter table "Relationship" drop constraint "Relationship_userBId_foreign";`);

    this.addSql(`alter table "Relationship" drop constraint "Relationship_requesterId_foreign";`);

    this.addSql(`alter table "UserPresence" drop constraint "UserPresence_userId_foreign";`);

    this.addSql(`drop table if exists "DomainEvent" cascade;`);

    this.addSql(`drop table if exists "EventConsumer" cascade;`);

    this.addSql(`drop table if exists "User" cascade;`);

    this.addSql(`drop table if exists "Relationship" cascade;`);

    this.addSql(`drop table if exists "UserPresence" cascade;`);
  }
}
