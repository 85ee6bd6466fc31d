import { DomainEvent } from './events/DomainEvent';
import { EventConsumer } from './events/EventConsumer';
import { Relationship } from './user/Relationship';
import { User } from './user/User';
import { UserPresence } from './user/UserPresence';

export { DomainEvent, EventConsumer, Relationship, User, UserPresence };

/** Every entity, listed explicitly so discovery never depends on a folder scan. */
export const ENTITIES = [User, UserPresence, Relationship, DomainEvent, EventConsumer];
