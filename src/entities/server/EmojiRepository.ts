import { EntityRepository } from '@mikro-orm/postgresql';
import { idArg } from '../../domain/identity/ids';
import { Emoji } from './Emoji';

/** Queries over a server's custom emoji; their writes are EmojiService's. */
export class EmojiRepository extends EntityRepository<Emoji> {
  /** The server's emoji, oldest first. */
  async listEmojis(server: { readonly id: string } | string): Promise<Emoji[]> {
    return this.em.find(Emoji, { server: idArg(server, 'serverId') }, { orderBy: { id: 'asc' }, refresh: true });
  }
}
