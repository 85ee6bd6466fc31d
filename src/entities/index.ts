import '../services';
import { Channel } from './channel/Channel';
import { PermissionOverwrite } from './channel/PermissionOverwrite';
import { ChannelRecipient } from './channel/ChannelRecipient';
import { ThreadMember } from './channel/ThreadMember';
import { Message } from './message/Message';
import { MessageAttachment } from './message/MessageAttachment';
import { MessageEmbed } from './message/MessageEmbed';
import { Reaction } from './message/Reaction';
import { ReadState } from './message/ReadState';
import { DomainEvent } from './events/DomainEvent';
import { EventConsumer } from './events/EventConsumer';
import { AuditLogEntry } from './server/AuditLogEntry';
import { Ban } from './server/Ban';
import { Emoji } from './server/Emoji';
import { Invite } from './server/Invite';
import { MemberRole } from './server/MemberRole';
import { Role } from './server/Role';
import { Server } from './server/Server';
import { ServerMember } from './server/ServerMember';
import { Sticker } from './server/Sticker';
import { Relationship } from './user/Relationship';
import { User } from './user/User';
import { UserPresence } from './user/UserPresence';
import { VoiceSession } from './voice/VoiceSession';
import { VoiceState } from './voice/VoiceState';
import { MessageAnalytics } from './analytics/MessageAnalytics';
import { ServerAnalytics } from './analytics/ServerAnalytics';
import { SystemMetrics } from './analytics/SystemMetrics';
import { VoiceAnalytics } from './analytics/VoiceAnalytics';

export { DomainEvent, EventConsumer, Relationship, User, UserPresence };
export {
  AuditLogEntry,
  Ban,
  Channel,
  Emoji,
  Invite,
  MemberRole,
  PermissionOverwrite,
  Role,
  Server,
  ServerMember,
  Sticker,
};
export { VoiceSession, VoiceState };
export { ChannelRecipient, ThreadMember, Message, MessageAttachment, MessageEmbed, Reaction, ReadState };
export { MessageAnalytics, VoiceAnalytics, ServerAnalytics, SystemMetrics };

/** Every entity, listed explicitly so discovery never depends on a folder scan. */
export const ENTITIES = [
  User,
  UserPresence,
  Relationship,
  DomainEvent,
  EventConsumer,
  Server,
  ServerMember,
  Role,
  MemberRole,
  Channel,
  PermissionOverwrite,
  Invite,
  Ban,
  AuditLogEntry,
  Emoji,
  Sticker,
  VoiceState,
  VoiceSession,
  ChannelRecipient,
  ThreadMember,
  Message,
  MessageAttachment,
  MessageEmbed,
  Reaction,
  ReadState,
  MessageAnalytics,
  VoiceAnalytics,
  ServerAnalytics,
  SystemMetrics,
];
