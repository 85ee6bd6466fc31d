import { EntityRepository } from '@mikro-orm/postgresql';
import { idArg } from '../../domain/identity/ids';
import { Channel, THREAD_CHANNEL_TYPES } from './Channel';

/** Queries over a server's channels; creating, editing, ordering and their overwrites are ChannelService's. */
export class ChannelRepository extends EntityRepository<Channel> {
  /** The server's channels by position (categories and their channels alike), with overwrites. */
  async channelsOf(server: { readonly id: string } | string): Promise<Channel[]> {
    const serverId = idArg(server, 'serverId');
    return this.em.find(
      Channel,
      { server: serverId, type: { $nin: [...THREAD_CHANNEL_TYPES] } },
      { populate: ['overwrites'], orderBy: { position: 'asc', id: 'asc' } },
    );
  }
}
