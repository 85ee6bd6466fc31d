import { Entity, ManyToOne, PrimaryKeyProp, type Ref } from '@mikro-orm/core';
import type { Role } from './Role';
import type { ServerMember } from './ServerMember';

/** A role held by a member: "ServerMemberRole"("serverId", "userId", "roleId"). */
@Entity({ tableName: 'ServerMemberRole' })
export class MemberRole {
  [PrimaryKeyProp]?: ['member', 'role'];

  @ManyToOne({
    entity: 'ServerMember',
    primary: true,
    ref: true,
    deleteRule: 'cascade',
    joinColumns: ['serverId', 'userId'],
  })
  member!: Ref<ServerMember>;

  @ManyToOne({ entity: 'Role', primary: true, ref: true, deleteRule: 'cascade' })
  role!: Ref<Role>;
}
