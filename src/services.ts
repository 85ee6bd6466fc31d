/**
 * The composition root of the application services: registers each area's services for the entity
 * methods that forward to them (see src/entities/services.ts) and re-exports them.
 */
import { registerServices } from './entities/services';
import { RelationshipService } from './identity/relationship-service';
import { UserService } from './identity/user-service';
import { VoiceService } from './voice/voice-service';

registerServices({
  // Identity.
  users: UserService,
  relationships: RelationshipService,
  // Voice.
  voice: VoiceService,
});

// Identity.
export { UserService, type Registration } from './identity/user-service';
export { RelationshipService } from './identity/relationship-service';
// Voice.
export { VoiceService } from './voice/voice-service';
