import { Migration } from '@mikro-orm/migrations';

export class Migration20261126053357_Voice extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create table "VoiceSession" ("id" bigint not null, "userId" bigint not null, "channelId" bigint not null, "serverId" bigint not null, "startedAt" timestamptz not null, "endedAt" timestamptz null, "durationSeconds" int null, constraint "VoiceSession_pkey" primary key ("id"), constraint voice_session_closed_check check (("endedAt" is null) = ("durationSeconds" is null)), constraint voice_session_duration_check check ("durationSeconds" >= 0));`,
    );
    this.addSql(`create index "VoiceSession_channelId_index" on "VoiceSession" ("channelId");`);
    this.addSql(
      `create index "VoiceSession_serverId_userId_startedAt_index" on "VoiceSession" ("serverId", "userId", "startedAt");`,
    );
    this.addSql(
      `create unique index "VoiceSession_one_open_per_user" on "VoiceSession" ("userId") where "endedAt" is null;`,
    );

    this.addSql(
      `create table "VoiceState" ("userId" bigint not null, "channelId" bigint not null, "serverId" bigint not null, "sessionId" varchar(64) not null, "selfMute" boolean not null default false, "selfDeaf" boolean not null default false, "selfVideo" boolean not null default false, "selfStream" boolean not null default false, "serverMute" boolean not null default false, "serverDeaf" boolean not null default false, "suppress" boolean not null default false, "requestToSpeakAt" timestamptz null, "joinedAt" timestamptz not null default now(), "lastHeartbeatAt" timestamptz not null default now(), constraint "VoiceState_pkey" primary key ("userId"));`,
    );
    this.addSql(`create index "VoiceState_serverId_index" on "VoiceState" ("serverId");`);
    this.addSql(`create index "VoiceState_channelId_index" on "VoiceState" ("channelId");`);

    this.addSql(
      `alter table "VoiceSession" add constraint "VoiceSession_userId_foreign" foreign key ("userId") references "User" ("id") on update cascade on delete cascade;`,
    );
    this.addSql(
      `alter table "VoiceSession" add constraint "VoiceSession_serverId_foreign" foreign key ("serverId") references "Server" ("id") on update cascade on delete cascade;`,
    );

    this.addSql(
      `alter table "VoiceState" add constraint "VoiceState_userId_foreign" foreign key ("userId") references "User" ("id") on update cascade on delete cascade;`,
    );
    this.addSql(
      `alter table "VoiceState" add constraint "VoiceState_channelId_foreign" foreign key ("channelId") references "Channel" ("id") on update cascade on delete cascade;`,
    );
    this.addSql(
      `alter table "VoiceState" add constraint "VoiceState_serverId_foreign" foreign key ("serverId") references "Server" ("id") on update cascade on delete cascade;`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "VoiceSession" cascade;`);

    this.addSql(`drop table if exists "VoiceState" cascade;`);
  }
}
