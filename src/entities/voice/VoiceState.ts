import {
  Entity,
  EntityRepositoryType,
  Index,
  ManyToOne,
  type Opt,
  PrimaryKeyProp,
  Property,
  type Ref,
  ref,
} from '@mikro-orm/core';
import { AggregateRoot } from '../../domain/events';
import type { Channel } from '../channel/Channel';
import type { Server } from '../server/Server';
import type { User } from '../user/User';
import { VoiceRepository } from './VoiceRepository';

/**
 * Where a user is connected to voice, and how. The primary key is the user, so the database holds at
 * most one voice state per user platform-wide: joining another channel moves the row. Changed only by
 * VoiceService, under the user's voice lock and the channel row locks (see src/voice/voice-stays.ts).
 */
@Entity({ repository: () => VoiceRepository })
@Index({ name: 'VoiceState_channelId_index', properties: ['channel'] })
@Index({ name: 'VoiceState_serverId_index', properties: ['server'] })
export class VoiceState extends AggregateRoot {
  [PrimaryKeyProp]?: 'user';
  [EntityRepositoryType]?: VoiceRepository;

  @ManyToOne({ entity: 'User', primary: true, ref: true, deleteRule: 'cascade' })
  user: Ref<User>;

  /** A GUILD_VOICE or GUILD_STAGE_VOICE channel. Channel deletion ends the stay first (the cascade is a backstop). */
  @ManyToOne({ entity: 'Channel', ref: true, deleteRule: 'cascade' })
  channel: Ref<Channel>;

  @ManyToOne({ entity: 'Server', ref: true, deleteRule: 'cascade' })
  server: Ref<Server>;

  /** The gateway session that holds the connection. */
  @Property({ length: 64 })
  sessionId: string;

  @Property({ default: false })
  selfMute: boolean & Opt = false;

  @Property({ default: false })
  selfDeaf: boolean & Opt = false;

  @Property({ default: false })
  selfVideo: boolean & Opt = false;

  @Property({ default: false })
  selfStream: boolean & Opt = false;

  /** Copied from the membership (ServerMember.mute) on join; set by serverMute. */
  @Property({ default: false })
  serverMute: boolean & Opt = false;

  @Property({ default: false })
  serverDeaf: boolean & Opt = false;

  /** Stage channels: true for the audience, false for speakers. */
  @Property({ default: false })
  suppress: boolean & Opt = false;

  /** Stage channels: when the user raised their hand (null when not). */
  @Property({ nullable: true })
  requestToSpeakAt: Date | null = null;

  /** When the user entered the current channel (a move resets it). */
  @Property({ defaultRaw: 'now()' })
  joinedAt: Date & Opt = new Date();

  /** Set on join, on every change and by `heartbeat`; the stale-session sweeper reads it. */
  @Property({ defaultRaw: 'now()' })
  lastHeartbeatAt: Date & Opt = new Date();

  constructor(
    user: User | Ref<User>,
    channel: Channel,
    server: Server | Ref<Server>,
    sessionId: string,
    now: Date = new Date(),
  ) {
    super();
    this.user = ref(user as User);
    this.channel = ref(channel);
    this.server = ref(server as Server);
    this.sessionId = sessionId;
    this.joinedAt = now;
    this.lastHeartbeatAt = now;
  }

  /** @internal the state as it is now (a join, a move into this server, or a change). */
  changed(): void {
    this.recordEvent('VOICE_STATE_UPDATE', this.toPublic(), {
      serverId: this.server.id,
      channelId: this.channel.id,
      userIds: [this.user.id],
    });
  }

  /** @internal the user left voice in this state's server (a leave, a disconnect, a move to another server, ...). */
  left(): void {
    this.recordEvent(
      'VOICE_STATE_UPDATE',
      { ...this.toPublic(), channelId: null },
      { serverId: this.server.id, channelId: this.channel.id, userIds: [this.user.id] },
    );
  }

  /** Discord's VOICE_STATE_UPDATE shape, camel-cased. */
  toPublic() {
    return {
      serverId: this.server.id,
      channelId: this.channel.id as string | null,
      userId: this.user.id,
      sessionId: this.sessionId,
      deaf: this.serverDeaf,
      mute: this.serverMute,
      selfDeaf: this.selfDeaf,
      selfMute: this.selfMute,
      selfVideo: this.selfVideo,
      selfStream: this.selfStream,
      suppress: this.suppress,
      requestToSpeakTimestamp: this.requestToSpeakAt?.toISOString() ?? null,
    };
  }
}
