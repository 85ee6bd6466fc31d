import { Migration } from '@mikro-orm/migrations';

export class Migration20261126063855_Messaging extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create table "ThreadMember" ("threadId" bigint not null, "userId" bigint not null, "joinedAt" timestamptz not null default now(), constraint "ThreadMember_pkey" primary key ("threadId", "userId"));`,
    );
    this.addSql(`create index "ThreadMember_userId_index" on "ThreadMember" ("userId");`);

    this.addSql(
      `create table "ReadState" ("userId" bigint not null, "channelId" bigint not null, "lastReadMessageId" bigint null, "mentionCount" int not null default 0, "lastSentAt" timestamptz null, constraint "ReadState_pkey" primary key ("userId", "channelId"), constraint read_state_mention_count_check check ("mentionCount" >= 0));`,
    );
    this.addSql(`create index "ReadState_channelId_index" on "ReadState" ("channelId");`);

    this.addSql(
      `create table "Message" ("id" bigint not null, "channelId" bigint not null, "serverId" bigint null, "authorId" bigint not null, "type" text check ("type" in ('DEFAULT', 'RECIPIENT_ADD', 'RECIPIENT_REMOVE', 'CHANNEL_NAME_CHANGE', 'PIN', 'MEMBER_JOIN', 'THREAD_CREATED', 'REPLY', 'THREAD_STARTER')) not null default 'DEFAULT', "content" text not null default '', "editedAt" timestamptz null, "pinned" boolean not null default false, "replyToId" bigint null, "mentionEveryone" boolean not null default false, "mentionUserIds" bigint[] not null default '{}', "mentionRoleIds" bigint[] not null default '{}', "attachmentCount" smallint not null default 0, "embedCount" smallint not null default 0, "hasLink" boolean not null default false, "searchVector" tsvector generated always as (to_tsvector('english'::regconfig, content)) stored null, constraint "Message_pkey" primary key ("id"));`,
    );
    this.addSql(`create index "Message_searchVector_index" on "Message" using gin ("searchVector");`);
    this.addSql(`create index "Message_mentionUserIds_index" on "Message" using gin ("mentionUserIds");`);
    this.addSql(`create index "Message_replyToId_index" on "Message" ("replyToId") where "replyToId" is not null;`);
    this.addSql(`create index "Message_pinned_index" on "Message" ("channelId", "id") where "pinned";`);
    this.addSql(`create index "Message_authorId_id_index" on "Message" ("authorId", "id");`);
    this.addSql(`create index "Message_channelId_id_index" on "Message" ("channelId", "id");`);

    this.addSql(
      `create table "Reaction" ("messageId" bigint not null, "emojiKey" varchar(160) not null, "userId" bigint not null, "emojiId" bigint null, "emojiName" varchar(128) not null, "emojiAnimated" boolean not null default false, "createdAt" timestamptz not null default now(), constraint "Reaction_pkey" primary key ("messageId", "emojiKey", "userId"));`,
    );
    this.addSql(`create index "Reaction_userId_index" on "Reaction" ("userId");`);

    this.addSql(
      `create table "MessageEmbed" ("id" bigint not null, "messageId" bigint not null, "title" varchar(256) null, "description" text null, "url" varchar(2048) null, "color" int null, "timestamp" timestamptz null, "fields" jsonb not null default '[]', "footer" jsonb null, "author" jsonb null, "image" jsonb null, "thumbnail" jsonb null, constraint "MessageEmbed_pkey" primary key ("id"));`,
    );
    this.addSql(`create index "MessageEmbed_fields_index" on "MessageEmbed" using gin ("fields" jsonb_path_ops);`);
    this.addSql(`create index "MessageEmbed_messageId_index" on "MessageEmbed" ("messageId");`);

    this.addSql(
      `create table "MessageAttachment" ("id" bigint not null, "messageId" bigint not null, "filename" varchar(255) not null, "size" int not null, "contentType" varchar(255) not null, "url" varchar(2048) not null, "width" int null, "height" int null, constraint "MessageAttachment_pkey" primary key ("id"));`,
    );
    this.addSql(`create index "MessageAttachment_messageId_index" on "MessageAttachment" ("messageId");`);

    this.addSql(
      `create table "ChannelRecipient" ("channelId" bigint not null, "userId" bigint not null, "addedAt" timestamptz not null default now(), constraint "ChannelRecipient_pkey" primary key ("channelId", "userId"));`,
    );
    this.addSql(`create index "ChannelRecipient_userId_index" on "ChannelRecipient" ("userId");`);

    this.addSql(
      `alter table "ThreadMember" add constraint "ThreadMember_threadId_foreign" foreign key ("threadId") references "Channel" ("id") on update cascade on delete cascade;`,
    );
    this.addSql(
      `alter table "ThreadMember" add constraint "ThreadMember_userId_foreign" foreign key ("userId") references "User" ("id") on update cascade on delete cascade;`,
    );

    this.addSql(
      `alter table "ReadState" add constraint "ReadState_userId_foreign" foreign key ("userId") references "User" ("id") on update cascade on delete cascade;`,
    );
    this.addSql(
      `alter table "ReadState" add constraint "ReadState_channelId_foreign" foreign key ("channelId") references "Channel" ("id") on update cascade on delete cascade;`,
    );

    this.addSql(
      `alter table "Message" add constraint "Message_channelId_foreign" foreign key ("channelId") references "Channel" ("id") on update cascade on delete cascade;`,
    );
    this.addSql(
      `alter table "Message" add constraint "Message_authorId_foreign" foreign key ("authorId") references "User" ("id") on update cascade on delete cascade;`,
    );
    this.addSql(
      `alter table "Message" add constraint "Message_replyToId_foreign" foreign key ("replyToId") references "Message" ("id") on update cascade on delete set null;`,
    );

    this.addSql(
      `alter table "Reaction" add constraint "Reaction_messageId_foreign" foreign key ("messageId") references "Message" ("id") on update cascade on delete cascade;`,
    );
    this.addSql(
      `alter table "Reaction" add constraint "Reaction_userId_foreign" foreign key ("userId") references "User" ("id") on update cascade on delete cascade;`,
    );

    this.addSql(
      `alter table "MessageEmbed" add constraint "MessageEmbed_messageId_foreign" foreign key ("messageId") references "Message" ("id") on update cascade on delete cascade;`,
    );

    this.addSql(
      `alter table "MessageAttachment" add constraint "MessageAttachment_messageId_foreign" foreign key ("messageId") references "Message" ("id") on update cascade on delete cascade;`,
    );

    this.addSql(
      `alter table "ChannelRecipient" add constraint "ChannelRecipient_channelId_foreign" foreign key ("channelId") references "Channel" ("id") on update cascade on delete cascade;`,
    );
    this.addSql(
      `alter table "ChannelRecipient" add constraint "ChannelRecipient_userId_foreign" foreign key ("userId") references "User" ("id") on update cascade on delete cascade;`,
    );

    this.addSql(`alter table "Channel" drop constraint if exists "Channel_type_check";`);

    this.addSql(
      `alter table "Channel" add column "ownerId" bigint null, add column "dmKey" varchar(41) null, add column "messageCount" int not null default 0, add column "memberCount" int not null default 0, add column "autoArchiveDuration" int null, add column "archived" boolean not null default false, add column "archiveTimestamp" timestamptz null, add column "locked" boolean not null default false, add column "lastPinTimestamp" timestamptz null;`,
    );
    this.addSql(
      `alter table "Channel" add constraint "Channel_ownerId_foreign" foreign key ("ownerId") references "User" ("id") on update cascade on delete set null;`,
    );
    this.addSql(
      `alter table "Channel" add constraint "Channel_type_check" check("type" in ('GUILD_TEXT', 'GUILD_VOICE', 'GUILD_CATEGORY', 'GUILD_ANNOUNCEMENT', 'GUILD_STAGE_VOICE', 'GUILD_FORUM', 'DM', 'GROUP_DM', 'ANNOUNCEMENT_THREAD', 'PUBLIC_THREAD', 'PRIVATE_THREAD'));`,
    );
    this.addSql(`alter table "Channel" add constraint "Channel_dmKey_unique" unique ("dmKey");`);
    this.addSql(
      `create index "Channel_active_threads_index" on "Channel" ("parentId") where "autoArchiveDuration" is not null and "archived" = false;`,
    );
    this.addSql(
      `alter table "Channel" add constraint channel_auto_archive_check check("autoArchiveDuration" is null or "autoArchiveDuration" = any (array[60, 1440, 4320, 10080]));`,
    );
    this.addSql(
      `alter table "Channel" add constraint channel_counts_check check("messageCount" >= 0 and "memberCount" >= 0);`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "Message" drop constraint "Message_replyToId_foreign";`);

    this.addSql(`alter table "Reaction" drop constraint "Reaction_messageId_foreign";`);

    this.addSql(`alter table "MessageEmbed" drop constraint "MessageEmbed_messageId_foreign";`);

    this.addSql(`alter table "MessageAttachment" drop constraint "MessageAttachment_messageId_foreign";`);

    this.addSql(`drop table if exists "ThreadMember" cascade;`);

    this.addSql(`drop table if exists "ReadState" cascade;`);

    this.addSql(`drop table if exists "Message" cascade;`);

    this.addSql(`drop table if exists "Reaction" cascade;`);

    this.addSql(`drop table if exists "MessageEmbed" cascade;`);

    this.addSql(`drop table if exists "MessageAttachment" cascade;`);

    this.addSql(`drop table if exists "ChannelRecipient" cascade;`);

    this.addSql(`alter table "Channel" drop constraint if exists "Channel_type_check";`);

    this.addSql(`alter table "Channel" drop constraint "Channel_ownerId_foreign";`);

    this.addSql(`alter table "Channel" drop constraint "Channel_dmKey_unique";`);
    this.addSql(`drop index "Channel_active_threads_index";`);
    this.addSql(`alter table "Channel" drop constraint channel_auto_archive_check;`);
    this.addSql(`alter table "Channel" drop constraint channel_counts_check;`);
    this.addSql(
      `alter table "Channel" drop column "ownerId", drop column "dmKey", drop column "messageCount", drop column "memberCount", drop column "autoArchiveDuration", drop column "archived", drop column "archiveTimestamp", drop column "locked", drop column "lastPinTimestamp";`,
    );

    this.addSql(
      `alter table "Channel" add constraint "Channel_type_check" check("type" in ('GUILD_TEXT', 'GUILD_VOICE', 'GUILD_CATEGORY', 'GUILD_ANNOUNCEMENT', 'GUILD_STAGE_VOICE', 'GUILD_FORUM'));`,
    );
  }
}
