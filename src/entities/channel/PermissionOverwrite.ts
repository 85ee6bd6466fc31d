import {
  BigIntType,
  Entity,
  Enum,
  ManyToOne,
  PrimaryKey,
  PrimaryKeyProp,
  Property,
  type Ref,
  ref,
} from '@mikro-orm/core';
import { ValidationFailed } from '../../domain/errors';
import type { Channel } from './Channel';

export enum OverwriteType {
  ROLE = 'ROLE',
  MEMBER = 'MEMBER',
}

/** A channel's allow/deny for one role or member; at most one per target. */
@Entity()
export class PermissionOverwrite {
  [PrimaryKeyProp]?: ['channel', 'targetId'];

  @ManyToOne({ entity: 'Channel', primary: true, ref: true, deleteRule: 'cascade' })
  channel: Ref<Channel>;

  /** A role id (the server id for @everyone) or a user id. */
  @PrimaryKey({ type: 'bigint', autoincrement: false })
  targetId: string;

  @Enum({ items: () => OverwriteType })
  type: OverwriteType;

  @Property({ type: new BigIntType('bigint'), columnType: 'bigint', default: 0 })
  allow: bigint;

  @Property({ type: new BigIntType('bigint'), columnType: 'bigint', default: 0 })
  deny: bigint;

  constructor(channel: Channel, targetId: string, type: OverwriteType, allow: bigint, deny: bigint) {
    this.channel = ref(channel);
    this.targetId = targetId;
    this.type = type;
    this.allow = allow;
    this.deny = deny;
  }

  /** Replaces allow and deny; a bit may not be both allowed and denied. */
  set(allow: bigint, deny: bigint): void {
    if ((allow & deny) !== 0n)
      throw new ValidationFailed('allow', 'a permission cannot be both allowed and denied', {
        both: (allow & deny).toString(),
      });
    this.allow = allow;
    this.deny = deny;
  }

  /** The shape computePermissions takes. */
  toInput() {
    return {
      id: this.targetId,
      type: this.type === OverwriteType.ROLE ? ('role' as const) : ('member' as const),
      allow: this.allow,
      deny: this.deny,
    };
  }

  toPublic() {
    return { id: this.targetId, type: this.type, allow: this.allow.toString(), deny: this.deny.toString() };
  }
}
