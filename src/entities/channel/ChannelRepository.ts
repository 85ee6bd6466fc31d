import { EntityRepository } from '@mikro-orm/postgresql';
import type { Channel } from './Channel';

export class ChannelRepository extends EntityRepository<Channel> {}
