import { Check, Entity, Index, ManyToOne, PrimaryKey, Property, type Ref, ref } from '@mikro-orm/core';
import { nextSnowflake } from '../../domain/snowflake';
import type { Server } from '../server/Server';
import type { User } from '../user/User';

/**
 * One continuous stay of a user in one voice channel: opened by a join (or a move in), closed by a
 * leave, a move out, a disconnect, a kick, a ban, the channel's deletion or the stale-session sweeper,
 * always in the same transaction as the voice state change. A user has at most one open session
 * (the partial unique index), and open sessions mirror voice states one to one.
 * `channelId` is a plain column, not a foreign key: sessions are history and outlive their channel.
 */
@Entity()
@Index({
  name: 'VoiceSession_one_open_per_user',
  expression:
    'create unique index "VoiceSession_one_open_per_user" on "VoiceSession" ("userId") where "endedAt" is null',
})
@Index({ name: 'VoiceSession_serverId_userId_startedAt_index', properties: ['server', 'user', 'startedAt'] })
@Index({ name: 'VoiceSession_channelId_index', properties: ['channelId'] })
@Check({ name: 'voice_session_duration_check', expression: '"durationSeconds" >= 0' })
@Check({ name: 'voice_session_closed_check', expression: '("endedAt" is null) = ("durationSeconds" is null)' })
export class VoiceSession {
  @PrimaryKey({ type: 'bigint', autoincrement: false })
  id: string = nextSnowflake();

  @ManyToOne({ entity: 'User', ref: true, deleteRule: 'cascade' })
  user: Ref<User>;

  @Property({ type: 'bigint' })
  channelId: string;

  @ManyToOne({ entity: 'Server', ref: true, deleteRule: 'cascade' })
  server: Ref<Server>;

  @Property()
  startedAt: Date;

  @Property({ nullable: true })
  endedAt: Date | null = null;

  /** Whole seconds between startedAt and endedAt (rounded down); null while open. */
  @Property({ type: 'integer', nullable: true })
  durationSeconds: number | null = null;

  constructor(user: User | Ref<User>, channelId: string, server: Server | Ref<Server>, startedAt: Date) {
    this.user = ref(user as User);
    this.channelId = channelId;
    this.server = ref(server as Server);
    this.startedAt = startedAt;
  }

  get isOpen(): boolean {
    return this.endedAt === null;
  }

  /** @internal closes the session at `at` (never before it started). */
  close(at: Date): void {
    const end = at.getTime() < this.startedAt.getTime() ? new Date(this.startedAt.getTime()) : at;
    this.endedAt = end;
    this.durationSeconds = Math.floor((end.getTime() - this.startedAt.getTime()) / 1000);
  }
}
