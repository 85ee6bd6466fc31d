import {
  BigIntType,
  Check,
  Entity,
  EntityRepositoryType,
  Index,
  ManyToOne,
  type Opt,
  PrimaryKey,
  Property,
  type Ref,
  ref,
} from '@mikro-orm/core';
import { AggregateRoot } from '../../domain/events';
import { permissionNames } from '../../domain/permissions';
import { nextSnowflake } from '../../domain/snowflake';
import { RoleRepository } from './RoleRepository';
import type { Server } from './Server';

export interface RoleProps {
  name: string;
  permissions: bigint;
  position: number;
  color?: number;
  hoist?: boolean;
  mentionable?: boolean;
  managed?: boolean;
}

/**
 * A role of a server. The @everyone role has the server's id and position 0. Permissions are a
 * bigint bitfield with Discord's bit values (src/domain/permissions).
 */
@Entity({ repository: () => RoleRepository })
@Index({ name: 'Role_serverId_position_index', properties: ['server', 'position'] })
@Check({ name: 'role_position_check', expression: '"position" >= 0' })
@Check({ name: 'role_color_check', expression: '"color" >= 0 and "color" <= 16777215' })
export class Role extends AggregateRoot {
  [EntityRepositoryType]?: RoleRepository;

  @PrimaryKey({ type: 'bigint', autoincrement: false })
  id: string;

  @ManyToOne({ entity: 'Server', ref: true, deleteRule: 'cascade' })
  server: Ref<Server>;

  @Property({ length: 100 })
  name: string;

  @Property({ type: new BigIntType('bigint'), columnType: 'bigint' })
  permissions: bigint;

  @Property({ type: 'integer' })
  position: number;

  @Property({ type: 'integer', default: 0 })
  color: number & Opt = 0;

  @Property({ default: false })
  hoist: boolean & Opt = false;

  @Property({ default: false })
  mentionable: boolean & Opt = false;

  /** Owned by an integration: nobody assigns or edits it by hand. */
  @Property({ default: false })
  managed: boolean & Opt = false;

  @Property({ defaultRaw: 'now()' })
  createdAt: Date & Opt = new Date();

  constructor(server: Server, props: RoleProps, id: string = nextSnowflake()) {
    super();
    this.id = id;
    this.server = ref(server);
    this.name = props.name;
    this.permissions = props.permissions;
    this.position = props.position;
    this.color = props.color ?? 0;
    this.hoist = props.hoist ?? false;
    this.mentionable = props.mentionable ?? false;
    this.managed = props.managed ?? false;
  }

  get isEveryone(): boolean {
    return this.id === this.server.id;
  }

  /** @internal */ created(): void {
    this.recordEvent(
      'GUILD_ROLE_CREATE',
      { serverId: this.server.id, role: this.toPublic() },
      { serverId: this.server.id },
    );
  }
  /** @internal */ updated(): void {
    this.recordEvent(
      'GUILD_ROLE_UPDATE',
      { serverId: this.server.id, role: this.toPublic() },
      { serverId: this.server.id },
    );
  }
  /** @internal */ deleted(): void {
    this.recordEvent('GUILD_ROLE_DELETE', { serverId: this.server.id, roleId: this.id }, { serverId: this.server.id });
  }

  toPublic() {
    return {
      id: this.id,
      name: this.name,
      permissions: this.permissions.toString(),
      permissionNames: permissionNames(this.permissions),
      position: this.position,
      color: this.color,
      hoist: this.hoist,
      mentionable: this.mentionable,
      managed: this.managed,
    };
  }
}
