import { EntityRepository } from '@mikro-orm/postgresql';
import type { ChannelRecipient } from './ChannelRecipient';

export class DirectMessageRepository extends EntityRepository<ChannelRecipient> {}
