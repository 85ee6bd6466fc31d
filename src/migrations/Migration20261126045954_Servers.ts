import { Migration } from '@mikro-orm/migrations';

export class Migration20261126045954_Servers extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create table "Server" ("id" bigint not null, "name" varchar(100) not null, "description" text null, "icon" text null, "banner" text null, "ownerId" bigint not null, "features" jsonb not null default '[]', "verificationLevel" smallint not null default 0, "premiumTier" smallint not null default 0, "memberCount" int not null default 0, "createdAt" timestamptz not null default now(), constraint "Server_pkey" primary key ("id"), constraint server_member_count_check check ("memberCount" >= 0), constraint server_premium_tier_check check ("premiumTier" >= 0 and "premiumTier" <= 3), constraint server_verification_level_check check ("verificationLevel" >= 0 and "verificationLevel" <= 4));`,
    );

    this.addSql(
      `create table "Sticker" ("id" bigint not null, "serverId" bigint not null, "name" varchar(30) not null, "description" varchar(100) null, "tags" varchar(200) not null default '', "formatType" text check ("formatType" in ('PNG', 'APNG', 'LOTTIE', 'GIF')) not null default 'PNG', "creatorId" bigint null, "createdAt" timestamptz not null default now(), constraint "Sticker_pkey" primary key ("id"), constraint sticker_name_check check (char_length("name") >= 2));`,
    );
    this.addSql(`create index "Sticker_serverId_index" on "Sticker" ("serverId");`);

    this.addSql(
      `create table "ServerMember" ("serverId" bigint not null, "userId" bigint not null, "nickname" varchar(32) null, "joinedAt" timestamptz not null default now(), "timedOutUntil" timestamptz null, "mute" boolean not null default false, "deaf" boolean not null default false, constraint "ServerMember_pkey" primary key ("serverId", "userId"));`,
    );
    this.addSql(`create index "ServerMember_userId_index" on "ServerMember" ("userId");`);
    this.addSql(`create index "ServerMember_serverId_joinedAt_index" on "ServerMember" ("serverId", "joinedAt");`);

    this.addSql(
      `create table "Role" ("id" bigint not null, "serverId" bigint not null, "name" varchar(100) not null, "permissions" bigint not null, "position" int not null, "color" int not null default 0, "hoist" boolean not null default false, "mentionable" boolean not null default false, "managed" boolean not null default false, "createdAt" timestamptz not null default now(), constraint "Role_pkey" primary key ("id"), constraint role_color_check check ("color" >= 0 and "color" <= 16777215), constraint role_position_check check ("position" >= 0));`,
    );
    this.addSql(`create index "Role_serverId_position_index" on "Role" ("serverId", "position");`);

    this.addSql(
      `create table "ServerMemberRole" ("serverId" bigint not null, "userId" bigint not null, "roleId" bigint not null, constraint "ServerMemberRole_pkey" primary key ("serverId", "userId", "roleId"));`,
    );

    this.addSql(
      `create table "Channel" ("id" bigint not null, "serverId" bigint null, "type" text check ("type" in ('GUILD_TEXT', 'GUILD_VOICE', 'GUILD_CATEGORY', 'GUILD_ANNOUNCEMENT', 'GUILD_STAGE_VOICE', 'GUILD_FORUM')) not null, "name" varchar(100) null, "topic" varchar(1024) null, "position" int not null default 0, "parentId" bigint null, "nsfw" boolean not null default false, "rateLimitPerUser" int not null default 0, "bitrate" int null, "userLimit" int null, "lastMessageId" bigint null, "createdAt" timestamptz not null default now(), constraint "Channel_pkey" primary key ("id"), constraint channel_user_limit_check check ("userLimit" is null or "userLimit" >= 0 and "userLimit" <= 10000), constraint channel_rate_limit_check check ("rateLimitPerUser" >= 0 and "rateLimitPerUser" <= 21600));`,
    );
    this.addSql(`create index "Channel_parentId_index" on "Channel" ("parentId");`);
    this.addSql(`create index "Channel_serverId_position_index" on "Channel" ("serverId", "position");`);

    this.addSql(
      `create table "PermissionOverwrite" ("channelId" bigint not null, "targetId" bigint not null, "type" text check ("type" in ('ROLE', 'MEMBER')) not null, "allow" bigint not null default 0, "deny" bigint not null default 0, constraint "PermissionOverwrite_pkey" primary key ("channelId", "targetId"));`,
    );

    this.addSql(
      `create table "Invite" ("code" varchar(32) not null, "serverId" bigint not null, "channelId" bigint not null, "inviterId" bigint null, "maxAge" int not null default 86400, "maxUses" int not null default 0, "uses" int not null default 0, "temporary" boolean not null default false, "createdAt" timestamptz not null default now(), "expiresAt" timestamptz null, constraint "Invite_pkey" primary key ("code"), constraint invite_uses_check check ("uses" >= 0 and ("maxUses" = 0 or "uses" <= "maxUses")), constraint invite_max_uses_check check ("maxUses" >= 0 and "maxUses" <= 100), constraint invite_max_age_check check ("maxAge" >= 0 and "maxAge" <= 604800));`,
    );
    this.addSql(`create index "Invite_serverId_index" on "Invite" ("serverId");`);

    this.addSql(
      `create table "Emoji" ("id" bigint not null, "serverId" bigint not null, "name" varchar(32) not null, "animated" boolean not null default false, "creatorId" bigint null, "roles" jsonb not null default '[]', "createdAt" timestamptz not null default now(), constraint "Emoji_pkey" primary key ("id"), constraint emoji_name_check check ("name" ~ '^[A-Za-z0-9_]{2,32}$'));`,
    );
    this.addSql(`create index "Emoji_serverId_animated_index" on "Emoji" ("serverId", "animated");`);

    this.addSql(
      `create table "Ban" ("serverId" bigint not null, "userId" bigint not null, "reason" varchar(512) null, "executorId" bigint null, "createdAt" timestamptz not null default now(), constraint "Ban_pkey" primary key ("serverId", "userId"));`,
    );

    this.addSql(
      `create table "AuditLogEntry" ("id" bigint not null, "serverId" bigint not null, "actorId" bigint null, "actionType" smallint not null, "targetId" bigint null, "changes" jsonb not null default '[]', "reason" varchar(512) null, "createdAt" timestamptz not null default now(), constraint "AuditLogEntry_pkey" primary key ("id"));`,
    );
    this.addSql(`create index "AuditLogEntry_serverId_id_index" on "AuditLogEntry" ("serverId", "id");`);

    this.addSql(
      `alter table "Server" add constraint "Server_ownerId_foreign" foreign key ("ownerId") references "User" ("id") on update cascade on delete restrict;`,
    );

    this.addSql(
      `alter table "Sticker" add constraint "Sticker_serverId_foreign" foreign key ("serverId") references "Server" ("id") on update cascade on delete cascade;`,
    );
    this.addSql(
      `alter table "Sticker" add constraint "Sticker_creatorId_foreign" foreign key ("creatorId") references "User" ("id") on update cascade on delete set null;`,
    );

    this.addSql(
      `alter table "ServerMember" add constraint "ServerMember_serverId_foreign" foreign key ("serverId") references "Server" ("id") on update cascade on delete cascade;`,
    );
    this.addSql(
      `alter table "ServerMember" add constraint "ServerMember_userId_foreign" foreign key ("userId") references "User" ("id") on update cascade on delete cascade;`,
    );

    this.addSql(
      `alter table "Role" add constraint "Role_serverId_foreign" foreign key ("serverId") references "Server" ("id") on update cascade on delete cascade;`,
    );

    this.addSql(
      `alter table "ServerMemberRole" add constraint "ServerMemberRole_serverId_userId_foreign" foreign key ("serverId", "userId") references "ServerMember" ("serverId", "userId") on update cascade on delete cascade;`,
    );
    this.addSql(
      `alter table "ServerMemberRole" add constraint "ServerMemberRole_roleId_foreign" foreign key ("roleId") references "Role" ("id") on update cascade on delete cascade;`,
    );

    this.addSql(
      `alter table "Channel" add constraint "Channel_serverId_foreign" foreign key ("serverId") references "Server" ("id") on update cascade on delete cascade;`,
    );
    this.addSql(
      `alter table "Channel" add constraint "Channel_parentId_foreign" foreign key ("parentId") references "Channel" ("id") on update cascade on delete set null;`,
    );

    this.addSql(
      `alter table "PermissionOverwrite" add constraint "PermissionOverwrite_channelId_foreign" foreign key ("channelId") references "Channel" ("id") on update cascade on delete cascade;`,
    );

    this.addSql(
      `alter table "Invite" add constraint "Invite_serverId_foreign" foreign key ("serverId") references "Server" ("id") on update cascade on delete cascade;`,
    );
    this.addSql(
      `alter table "Invite" add constraint "Invite_channelId_foreign" foreign key ("channelId") references "Channel" ("id") on update cascade on delete cascade;`,
    );
    this.addSql(
      `alter table "Invite" add constraint "Invite_inviterId_foreign" foreign key ("inviterId") references "User" ("id") on update cascade on delete set null;`,
    );

    this.addSql(
      `alter table "Emoji" add constraint "Emoji_serverId_foreign" foreign key ("serverId") references "Server" ("id") on update cascade on delete cascade;`,
    );
    this.addSql(
      `alter table "Emoji" add constraint "Emoji_creatorId_foreign" foreign key ("creatorId") references "User" ("id") on update cascade on delete set null;`,
    );

    this.addSql(
      `alter table "Ban" add constraint "Ban_serverId_foreign" foreign key ("serverId") references "Server" ("id") on update cascade on delete cascade;`,
    );
    this.addSql(
      `alter table "Ban" add constraint "Ban_userId_foreign" foreign key ("userId") references "User" ("id") on update cascade on delete cascade;`,
    );
    this.addSql(
      `alter table "Ban" add constraint "Ban_executorId_foreign" foreign key ("executorId") references "User" ("id") on update cascade on delete set null;`,
    );

    this.addSql(
      `alter table "AuditLogEntry" add constraint "AuditLogEntry_serverId_foreign" foreign key ("serverId") references "Server" ("id") on update cascade on delete cascade;`,
    );
    this.addSql(
      `alter table "AuditLogEntry" add constraint "AuditLogEntry_actorId_foreign" foreign key ("actorId") references "User" ("id") on update cascade on delete set null;`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "Sticker" drop constraint "Sticker_serverId_foreign";`);

    this.addSql(`alter table "ServerMember" drop constraint "ServerMember_serverId_foreign";`);

    this.addSql(`alter table "Role" drop constraint "Role_serverId_foreign";`);

    this.addSql(`alter table "Channel" drop constraint "Channel_serverId_foreign";`);

    this.addSql(`alter table "Invite" drop constraint "Invite_serverId_foreign";`);

    this.addSql(`alter table "Emoji" drop constraint "Emoji_serverId_foreign";`);

    this.addSql(`alter table "Ban" drop constraint "Ban_serverId_foreign";`);

    this.addSql(`alter table "AuditLogEntry" drop constraint "AuditLogEntry_serverId_foreign";`);

    this.addSql(`alter table "ServerMemberRole" drop constraint "ServerMemberRole_serverId_userId_foreign";`);

    this.addSql(`alter table "ServerMemberRole" drop constraint "ServerMemberRole_roleId_foreign";`);

    this.addSql(`alter table "Channel" drop constraint "Channel_parentId_foreign";`);

    this.addSql(`alter table "PermissionOverwrite" drop constraint "PermissionOverwrite_channelId_foreign";`);

    this.addSql(`alter table "Invite" drop constraint "Invite_channelId_foreign";`);

    this.addSql(`drop table if exists "Server" cascade;`);

    this.addSql(`drop table if exists "Sticker" cascade;`);

    this.addSql(`drop table if exists "ServerMember" cascade;`);

    this.addSql(`drop table if exists "Role" cascade;`);

    this.addSql(`drop table if exists "ServerMemberRole" cascade;`);

    this.addSql(`drop table if exists "Channel" cascade;`);

    this.addSql(`drop table if exists "PermissionOverwrite" cascade;`);

    this.addSql(`drop table if exists "Invite" cascade;`);

    this.addSql(`drop table if exists "Emoji" cascade;`);

    this.addSql(`drop table if exists "Ban" cascade;`);

    this.addSql(`drop table if exists "AuditLogEntry" cascade;`);
  }
}
