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

registerServices({
  // Messaging.
  messages: MessageService,
  reactions: ReactionService,
  readStates: ReadStateService,
  directMessages: DirectMessageService,
  threads: ThreadService,
});

export { DirectMessageService, MessageService, ReactionService, ReadStateService, ThreadService };
