/**
 * The composition root of the application services: registers each area's services for the entity
 * methods that forward to them (see src/entities/services.ts) and re-exports them.
 */
import { registerServices } from './entities/services';

registerServices({});
