/**
 * The composition root of the application services: registers each area's services for the entity
 * methods that forward to them (see src/entities/services.ts) and re-exports them.
 */
import { registerServices } from './entities/services';
import { AuditLogService } from './servers/audit-log-service';
import { ChannelService } from './servers/channel-service';
import { EmojiService, StickerService } from './servers/expression-service';
import { InviteService } from './servers/invite-service';
import { MembershipService } from './servers/membership-service';
import { RoleService } from './servers/role-service';
import { ServerService } from './servers/server-service';

registerServices({
  // Servers.
  servers: ServerService,
  memberships: MembershipService,
  invites: InviteService,
  roles: RoleService,
  channels: ChannelService,
  emojis: EmojiService,
  stickers: StickerService,
  auditLog: AuditLogService,
});

// Servers.
export { AuditLogService, ChannelService, EmojiService, InviteService, MembershipService, RoleService, ServerService, StickerService };
