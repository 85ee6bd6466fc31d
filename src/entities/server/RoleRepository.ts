import { EntityRepository } from '@mikro-orm/postgresql';
import { idArg } from '../../domain/identity/ids';
import { compareRoleRank } from '../../domain/permissions';
import { Role } from './Role';

/** Queries over roles; creating, editing, ordering and assigning them are RoleService's. */
export class RoleRepository extends EntityRepository<Role> {
  /** The server's roles, highest first (position descending, then lower id first). */
  async rolesOf(server: { readonly id: string } | string): Promise<Role[]> {
    const serverId = idArg(server, 'serverId');
    const roles = await this.em.find(Role, { server: serverId });
    return roles.sort((a, b) => compareRoleRank(b, a));
  }
}
