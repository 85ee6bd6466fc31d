import { EntityRepository } from '@mikro-orm/postgresql';
import { idArg } from '../../domain/identity/ids';
import { Invite } from './Invite';

/** Queries over invites; creating, deleting and joining through them are InviteService's and MembershipService's. */
export class InviteRepository extends EntityRepository<Invite> {
  /** The invites of a server (for its settings page), newest first. */
  async invitesOf(serverId: string): Promise<Invite[]> {
    return this.em.find(Invite, { server: idArg(serverId, 'server') }, { orderBy: { createdAt: 'desc' } });
  }
}
