/**
 * The composition root of the application services: registers each area's services for the entity
 * methods that forward to them (see src/entities/services.ts) and re-exports them.
 */
import { registerServices } from './entities/services';
import { DirectMessageService } from './messaging/direct-message-service';
import { MessageService } from './messaging/message-service';
import { ReactionService } from './messaging/reaction-service';
import { ReadStateService } from './messaging/read-state-service';
import { ThreadService } from './messaging/thread-service';
import { AuditLogService } from './servers/audit-log-service';
import { ChannelService } from './servers/channel-service';
import { EmojiService, StickerService } from './servers/expression-service';
import { InviteService } from './servers/invite-service';
import { MembershipService } from './servers/membership-service';
import { RoleService } from './servers/role-service';
import { ServerService } from './servers/server-service';
import { RelationshipService } from './identity/relationship-service';
import { UserService } from './identity/user-service';
import { VoiceService } from './voice/voice-service';

registerServices({
  // Messaging.
  messages: MessageService,
  reactions: ReactionService,
  readStates: ReadStateService,
  directMessages: DirectMessageService,
  threads: ThreadService,
  // Servers.
  servers: ServerService,
  memberships: MembershipService,
  invites: InviteService,
  roles: RoleService,
  channels: ChannelService,
  emojis: EmojiService,
  stickers: StickerService,
  auditLog: AuditLogService,
  // Identity.
  users: UserService,
  relationships: RelationshipService,
  // Voice.
  voice: VoiceService,
});

// Messaging.
export { DirectMessageService, MessageService, ReactionService, ReadStateService, ThreadService };
// Servers.
export {
  AuditLogService,
  ChannelService,
  EmojiService,
  InviteService,
  MembershipService,
  RoleService,
  ServerService,
  StickerService,
};

// Identity.
export { RelationshipService, UserService };
export type { Registration } from './identity/user-service';
// Voice.
export { VoiceService };
