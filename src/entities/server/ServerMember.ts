import {
  Collection,
  Entity,
  EntityRepositoryType,
  Index,
  ManyToMany,
  ManyToOne,
  type Opt,
  PrimaryKeyProp,
  Property,
  type Ref,
  ref,
} from '@mikro-orm/core';
import { AggregateRoot } from '../../domain/events';
import type { Channel } from '../channel/Channel';
import type { User } from '../user/User';
import type { Ban } from './Ban';
import type { Invite } from './Invite';
import { MemberRole } from './MemberRole';
import { MembershipRepository } from './MembershipRepository';
import { Role } from './Role';
import type { Server } from './Server';
import { serviceFor } from '../services';
import type { MemberArg, ReasonOption, UserArg } from '../../servers/args';
import type { InviteOptions } from '../../servers/invite-service';
import type { BanOptions } from '../../servers/membership-input';
import type { ServerChanges } from '../../servers/server-service';
import type { VoiceState } from '../voice/VoiceState';
import type { ChannelArg } from '../voice/VoiceRepository';
import type { JoinVoiceOptions } from '../../voice/voice-args';

/** A user's membership of a server; the relation is the identity (server + user). */
@Entity({ repository: () => MembershipRepository })
@Index({ name: 'ServerMember_serverId_joinedAt_index', properties: ['server', 'joinedAt'] })
@Index({ name: 'ServerMember_userId_index', properties: ['user'] })
export class ServerMember extends AggregateRoot {
  [PrimaryKeyProp]?: ['server', 'user'];
  [EntityRepositoryType]?: MembershipRepository;

  @ManyToOne({ entity: 'Server', primary: true, ref: true, deleteRule: 'cascade' })
  server: Ref<Server>;

  @ManyToOne({ entity: 'User', primary: true, ref: true, deleteRule: 'cascade' })
  user: Ref<User>;

  @Property({ length: 32, nullable: true })
  nickname: string | null = null;

  @Property({ defaultRaw: 'now()' })
  joinedAt: Date & Opt = new Date();

  /** Timed out (Discord's communication_disabled_until) until this moment. */
  @Property({ nullable: true })
  timedOutUntil: Date | null = null;

  @Property({ default: false })
  mute: boolean & Opt = false;

  @Property({ default: false })
  deaf: boolean & Opt = false;

  /**
   * Discord's "Allow direct messages from server members": whether members of this server who are not
   * this user's friends may open or send to a 1:1 DM with them. Private to the user (not in toPublic).
   */
  @Property({ default: true })
  allowDirectMessages: boolean & Opt = true;

  @ManyToMany({ entity: () => Role, pivotEntity: () => MemberRole })
  roles = new Collection<Role>(this);

  constructor(server: Server, user: User) {
    super();
    this.server = ref(server);
    this.user = ref(user);
  }

  // Event recorders, called by the operations that change a membership (one place per event type).
  /** @internal */ joined(): void {
    this.recordEvent(
      'GUILD_MEMBER_ADD',
      { member: this.toPublic() },
      { serverId: this.server.id, userIds: [this.user.id] },
    );
  }
  /** @internal */ updated(): void {
    this.recordEvent(
      'GUILD_MEMBER_UPDATE',
      { member: this.toPublic() },
      { serverId: this.server.id, userIds: [this.user.id] },
    );
  }
  /** @internal */ removed(reason: 'leave' | 'kick' | 'ban'): void {
    this.recordEvent(
      'GUILD_MEMBER_REMOVE',
      { serverId: this.server.id, userId: this.user.id, reason },
      { serverId: this.server.id, userIds: [this.user.id] },
    );
  }

  // Operations acting as this member; each runs and commits its own unit of work (see src/servers).

  /** Leaves the server (the owner must transfer ownership first). */
  leave(): Promise<void> {
    return serviceFor(this, 'memberships').leave(this.user, this.server.id);
  }

  kick(target: MemberArg, options: ReasonOption = {}): Promise<void> {
    return serviceFor(this, 'memberships').kick(this.user, this.server.id, target, options);
  }

  ban(target: MemberArg, options: BanOptions): Promise<Ban> {
    return serviceFor(this, 'memberships').ban(this.user, this.server.id, target, options);
  }

  unban(target: UserArg, options: ReasonOption = {}): Promise<void> {
    return serviceFor(this, 'memberships').unban(this.user, this.server.id, target, options);
  }

  /** Times `target` out until `until` (at most 28 days ahead); null lifts the timeout. */
  timeout(target: MemberArg, until: Date | null, options: ReasonOption = {}): Promise<ServerMember> {
    return serviceFor(this, 'memberships').timeout(this.user, this.server.id, target, until, options);
  }

  /** Sets (or clears, with null) this member's own nickname. */
  setNickname(nickname: string | null, options: ReasonOption = {}): Promise<ServerMember> {
    return serviceFor(this, 'memberships').setNickname(this.user, this.server.id, this.user, nickname, options);
  }

  /** Sets (or clears, with null) another member's nickname. */
  setNicknameOf(target: MemberArg, nickname: string | null, options: ReasonOption = {}): Promise<ServerMember> {
    return serviceFor(this, 'memberships').setNickname(this.user, this.server.id, target, nickname, options);
  }

  /** Allows (true) or refuses (false) DMs from this server's members who are not friends. */
  setDirectMessages(allowed: boolean): Promise<ServerMember> {
    return serviceFor(this, 'memberships').setDirectMessages(this.user, this.server.id, allowed);
  }

  createInvite(channel: Channel | string, options: InviteOptions = {}): Promise<Invite> {
    return serviceFor(this, 'invites').createInvite(this.user, channel, options);
  }

  deleteInvite(code: string, options: ReasonOption = {}): Promise<void> {
    return serviceFor(this, 'invites').deleteInvite(this.user, code, options);
  }

  updateServer(changes: ServerChanges, options: ReasonOption = {}): Promise<Server> {
    return serviceFor(this, 'servers').updateServer(this.user, this.server.id, changes, options);
  }

  transferOwnership(to: MemberArg, options: ReasonOption = {}): Promise<Server> {
    return serviceFor(this, 'servers').transferOwnership(this.user, this.server.id, to, options);
  }

  deleteServer(): Promise<void> {
    return serviceFor(this, 'servers').deleteServer(this.user, this.server.id);
  }

  // Voice, acting as this member (see VoiceService for the rules and locks).

  /** Joins (or moves to) a voice or stage channel of this server. */
  joinVoice(channel: ChannelArg, options: JoinVoiceOptions = {}): Promise<VoiceState> {
    return serviceFor(this, 'voice').joinVoice(this.user, channel, options);
  }

  /** Moves oneself to another voice channel (a join while connected). */
  moveTo(channel: ChannelArg, options: JoinVoiceOptions = {}): Promise<VoiceState> {
    return serviceFor(this, 'voice').joinVoice(this.user, channel, options);
  }

  leaveVoice(): Promise<void> {
    return serviceFor(this, 'voice').leaveVoice(this.user);
  }

  /** Moves another member to `channel` (MOVE_MEMBERS). Audit 26. */
  moveMember(target: MemberArg, channel: ChannelArg, options: ReasonOption = {}): Promise<VoiceState> {
    return serviceFor(this, 'voice').moveMember(this.user, voiceTarget(target), channel, options);
  }

  /** Disconnects a member from voice (MOVE_MEMBERS). Audit 27. */
  disconnect(target: MemberArg, options: ReasonOption = {}): Promise<void> {
    return serviceFor(this, 'voice').disconnect(this.user, this.server.id, voiceTarget(target), options);
  }

  setSelfMute(mute: boolean): Promise<VoiceState> {
    return serviceFor(this, 'voice').setSelfState(this.user, { selfMute: mute });
  }

  setSelfDeaf(deaf: boolean): Promise<VoiceState> {
    return serviceFor(this, 'voice').setSelfState(this.user, { selfDeaf: deaf });
  }

  setSelfVideo(video: boolean): Promise<VoiceState> {
    return serviceFor(this, 'voice').setSelfState(this.user, { selfVideo: video });
  }

  setSelfStream(stream: boolean): Promise<VoiceState> {
    return serviceFor(this, 'voice').setSelfState(this.user, { selfStream: stream });
  }

  /** Server-mutes (or unmutes) a member connected to voice here (MUTE_MEMBERS). Audit 24. */
  serverMute(target: MemberArg, mute: boolean, options: ReasonOption = {}): Promise<VoiceState> {
    return serviceFor(this, 'voice').serverMute(this.user, this.server.id, voiceTarget(target), mute, options);
  }

  /** Server-deafens (or undeafens) a member connected to voice here (DEAFEN_MEMBERS). Audit 24. */
  serverDeafen(target: MemberArg, deaf: boolean, options: ReasonOption = {}): Promise<VoiceState> {
    return serviceFor(this, 'voice').serverDeafen(this.user, this.server.id, voiceTarget(target), deaf, options);
  }

  /** Stage: raises (true) or lowers (false) one's hand. */
  requestToSpeak(raise = true): Promise<VoiceState> {
    return serviceFor(this, 'voice').requestToSpeak(this.user, raise);
  }

  /** Stage: makes a member a speaker (MUTE_MEMBERS). */
  inviteToSpeak(target: MemberArg): Promise<VoiceState> {
    return serviceFor(this, 'voice').inviteToSpeak(this.user, this.server.id, voiceTarget(target));
  }

  /** Stage: moves a member (or oneself) to the audience (true) or the speakers (false). */
  setSuppress(target: MemberArg, suppress: boolean): Promise<VoiceState> {
    return serviceFor(this, 'voice').setSuppress(this.user, this.server.id, voiceTarget(target), suppress);
  }

  toPublic() {
    return {
      serverId: this.server.id,
      userId: this.user.id,
      nickname: this.nickname,
      joinedAt: this.joinedAt.toISOString(),
      timedOutUntil: this.timedOutUntil?.toISOString() ?? null,
      mute: this.mute,
      deaf: this.deaf,
      roles: this.roles.isInitialized() ? this.roles.getItems().map((r) => r.id) : undefined,
    };
  }
}

/** The user a voice operation acts on (a membership of this or another server, a user, or an id). */
function voiceTarget(target: MemberArg): User | Ref<User> | string {
  return target instanceof ServerMember ? target.user : target;
}
