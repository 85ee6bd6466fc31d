import { ref } from '@mikro-orm/core';
import { EntityRepository, type EntityManager } from '@mikro-orm/postgresql';
import { LimitReached } from '../../domain/errors';
import { userIdOf } from '../../domain/identity/ids';
import { DEFAULT_EVERYONE_PERMISSIONS } from '../../domain/permissions';
import { serverLimitFor, validateServerName } from '../../domain/servers';
import { lockKeys, transact } from '../../db/unit-of-work';
import { Channel, ChannelType } from '../channel/Channel';
import { User } from '../user/User';
import { Role } from './Role';
import { Server } from './Server';
import { ServerMember } from './ServerMember';

export interface NewServer {
  name: string;
  description?: string | null;
}

export class ServerRepository extends EntityRepository<Server> {
  /**
   * Creates a server with its @everyone role (the server's id), the owner's membership, and a
   * category holding a text and a voice channel. The owner's server cap is checked under a lock on
   * the owner, the same lock every join takes.
   */
  async createServer(owner: User, input: NewServer): Promise<Server> {
    const ownerId = userIdOf(owner, 'owner');
    const name = validateServerName(input?.name);
    return transact(this.em, async (tx) => {
      const user = await tx.findOneOrFail(User, ownerId, { refresh: true });
      await assertCanJoinAnotherServer(tx, user);
      const server = new Server(user, name);
      server.description = input.description ?? null;
      server.memberCount = 1;
      const everyone = new Role(server, { name: '@everyone', permissions: DEFAULT_EVERYONE_PERMISSIONS, position: 0 }, server.id);
      const membership = new ServerMember(server, user);
      const category = new Channel(server, ChannelType.GUILD_CATEGORY, 'Text Channels');
      const text = new Channel(server, ChannelType.GUILD_TEXT, 'general');
      text.parent = ref(category);
      const voiceCategory = new Channel(server, ChannelType.GUILD_CATEGORY, 'Voice Channels');
      voiceCategory.position = 1;
      const voice = new Channel(server, ChannelType.GUILD_VOICE, 'General');
      voice.parent = ref(voiceCategory);
      voice.bitrate = 64_000;
      voice.userLimit = 0;
      tx.persist([server, everyone, membership, category, text, voiceCategory, voice]);
      server.created([everyone], [category, text, voiceCategory, voice]);
      return server;
    });
  }
}

/** Refuses a join or creation past the user's server cap (100, or 200 with premium). */
export async function assertCanJoinAnotherServer(tx: EntityManager, user: User): Promise<void> {
  await lockKeys(tx, [`memberships:${user.id}`]);
  const count = await tx.count(ServerMember, { user: user.id });
  const max = serverLimitFor(user.isPremium);
  if (count >= max) throw new LimitReached('servers', max);
}
