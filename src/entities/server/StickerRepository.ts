import { EntityRepository } from '@mikro-orm/postgresql';
import { idArg } from '../../domain/identity/ids';
import { Sticker } from './Sticker';

/** Queries over a server's stickers; their writes are StickerService's. */
export class StickerRepository extends EntityRepository<Sticker> {
  /** The server's stickers, oldest first. */
  async listStickers(server: { readonly id: string } | string): Promise<Sticker[]> {
    return this.em.find(Sticker, { server: idArg(server, 'serverId') }, { orderBy: { id: 'asc' }, refresh: true });
  }
}
