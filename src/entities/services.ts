import type { EntityManager } from '@mikro-orm/postgresql';
import { entityManagerOf } from '../db/unit-of-work';
import type { DirectMessageService } from '../messaging/direct-message-service';
import type { MessageService } from '../messaging/message-service';
import type { ReactionService } from '../messaging/reaction-service';
import type { ReadStateService } from '../messaging/read-state-service';
import type { ThreadService } from '../messaging/thread-service';
import type { AuditLogService } from '../servers/audit-log-service';
import type { ChannelService } from '../servers/channel-service';
import type { EmojiService, StickerService } from '../servers/expression-service';
import type { InviteService } from '../servers/invite-service';
import type { MembershipService } from '../servers/membership-service';
import type { RoleService } from '../servers/role-service';
import type { ServerService } from '../servers/server-service';
import type { RelationshipService } from '../identity/relationship-service';
import type { UserService } from '../identity/user-service';
import type { VoiceService } from '../voice/voice-service';

/**
 * The application services that entity methods forward to. Entities must not import the services
 * (a service imports the entities it writes, so the import graph would circle back): the service
 * classes are registered here once, by src/services.ts, and entity methods look them up by name.
 *
 * Each area adds its services to ServiceMap (type-only imports) and registers them in src/services.ts.
 */
export interface ServiceMap {
  messages: MessageService;
  reactions: ReactionService;
  readStates: ReadStateService;
  directMessages: DirectMessageService;
  threads: ThreadService;
  servers: ServerService;
  memberships: MembershipService;
  invites: InviteService;
  roles: RoleService;
  channels: ChannelService;
  emojis: EmojiService;
  stickers: StickerService;
  auditLog: AuditLogService;
  // Identity.
  users: UserService;
  relationships: RelationshipService;
  // Voice.
  voice: VoiceService;
}

type ServiceFactories = { [K in keyof ServiceMap]: new (em: EntityManager) => ServiceMap[K] };

let factories: Partial<ServiceFactories> = {};

/** Called once by src/services.ts. */
export function registerServices(services: Partial<ServiceFactories>): void {
  factories = { ...factories, ...services };
}

/** The named service on the EntityManager that manages `entity`: what an entity method forwards to. */
export function serviceFor<K extends keyof ServiceMap>(entity: object, name: K): ServiceMap[K] {
  const Service = factories[name];
  if (!Service)
    throw new TypeError(`the ${String(name)} service is not registered: import '@cryb/database' (src/services) first`);
  return new Service(entityManagerOf(entity));
}
