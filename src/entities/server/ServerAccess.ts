import type { EntityManager } from '@mikro-orm/postgresql';
import { NotAMember } from '../../domain/errors';
import {
  activeTimeout,
  assertNotTimedOut,
  assertPermittedUnlessTimedOut,
  channelKindOf,
  computeEffectivePermissions,
  exemptFromTimeout,
  isTimedOut,
  type ComputePermissionsInput,
  type PermissionName,
  type RankedMember,
  PermissionFlags,
} from '../../domain/permissions';
import { CHANNEL_TYPE_NUMBERS, type Channel, ChannelType } from '../channel/Channel';
import type { MemberFacts } from './access-sql';
import { memberFactsSql, sqlFor } from './access-sql';
import { mergeRow } from '../../db/rows';
import { Server } from './Server';
import { ServerMember } from './ServerMember';

/**
 * What one member may do in one server, read in one statement inside the operation's transaction.
 * Domain operations ask it before they act, so a caller cannot forget a permission check.
 */
export class ServerAccess {
  constructor(
    readonly server: Server,
    readonly member: ServerMember,
    readonly roles: readonly RoleFacts[],
    readonly everyone: RoleFacts,
    readonly now: Date = new Date(),
  ) {}

  get userId(): string {
    return this.member.user.id;
  }

  get isOwner(): boolean {
    return this.server.isOwner(this.userId);
  }

  private input(channel?: Channel): ComputePermissionsInput {
    return {
      serverId: this.server.id,
      ownerId: this.server.owner.id,
      memberId: this.userId,
      everyone: this.everyone.permissions,
      roles: this.roles.filter((r) => !r.isEveryone).map((r) => ({ id: r.id, permissions: r.permissions })),
      overwrites: channel ? channel.overwrites.getItems().map((o) => o.toInput()) : [],
    };
  }

  /**
   * Effective permissions at server level, or in a channel (its overwrites must be loaded). A thread
   * takes its parent's overwrites: pass the parent as `thread.overwritesFrom`, with whether the member
   * joined it (private threads admit only members and holders of MANAGE_THREADS).
   */
  permissions(channel?: Channel, thread?: { overwritesFrom: Channel; member: boolean }): bigint {
    return computeEffectivePermissions(this.input(thread ? thread.overwritesFrom : channel), {
      channelType: channel ? channelKindOf(CHANNEL_TYPE_NUMBERS[channel.type]) : undefined,
      privateThread: channel?.type === ChannelType.PRIVATE_THREAD,
      threadMember: thread?.member ?? false,
      timedOut: isTimedOut(this.member.timedOutUntil, this.now),
    });
  }

  has(permission: PermissionName, channel?: Channel): boolean {
    return (this.permissions(channel) & PermissionFlags[permission]) !== 0n;
  }

  /** Throws MissingPermission naming every permission lacking (MemberTimedOut when the timeout took them). */
  require(permissions: PermissionName | PermissionName[], channel?: Channel): void {
    const required = (Array.isArray(permissions) ? permissions : [permissions]).reduce(
      (bits, name) => bits | PermissionFlags[name],
      0n,
    );
    assertPermittedUnlessTimedOut(
      this.permissions(channel),
      required,
      this.timeout,
      channel ? { channelId: channel.id } : {},
    );
  }

  /** The end of the member's running timeout; null when none runs or the member is exempt (owner, administrator). */
  get timeout(): Date | null {
    return activeTimeout(this.member.timedOutUntil, exemptFromTimeout(this.permissions()), this.now);
  }

  /** Refuses, while a timeout runs, an action no permission gates; `action` names what it stands for. */
  requireNotTimedOut(action: PermissionName | PermissionName[], details: Record<string, unknown> = {}): void {
    assertNotTimedOut(this.timeout, action, { serverId: this.server.id, ...details });
  }

  /** The actor as the hierarchy rules see them. */
  get rank(): RankedMember {
    return rankOf(this.member.user.id, this.roles);
  }
}

/** What the permission and hierarchy rules need of a role: a Role entity has it, and so do the access rows. */
export interface RoleFacts {
  readonly id: string;
  readonly permissions: bigint;
  readonly position: number;
  readonly managed: boolean;
  readonly isEveryone: boolean;
}

export function rankOf(userId: string, roles: readonly RoleFacts[]): RankedMember {
  return {
    id: userId,
    roles: roles.filter((r) => !r.isEveryone).map((r) => ({ id: r.id, position: r.position, managed: r.managed })),
  };
}

const roleFacts = (row: Record<string, unknown>, serverId: string): RoleFacts => ({
  id: String(row.id),
  permissions: BigInt(row.permissions as string),
  position: Number(row.position),
  managed: row.managed === true,
  isEveryone: String(row.id) === serverId,
});

/**
 * Builds the access from the facts one statement read, without another query. The server and the
 * membership are merged into the unit of work as managed entities (fresh: they replace what the
 * identity map held), since operations change them; the roles stay plain facts, which is all the
 * permission and hierarchy rules read, and costs no entity per role on every operation.
 */
export function serverAccessFrom(em: EntityManager, serverId: string, facts: MemberFacts): ServerAccess {
  if (!facts.server || !facts.member) throw new NotAMember(serverId);
  const server = mergeRow(em, Server, facts.server);
  const roles = facts.roles.map((row) => roleFacts(row, serverId));
  const everyone = roles.find((r) => r.isEveryone);
  if (!everyone) throw new NotAMember(serverId);
  const member = mergeRow(em, ServerMember, facts.member);
  return new ServerAccess(
    server,
    member,
    roles.filter((r) => r !== everyone),
    everyone,
  );
}

/** Loads the actor's membership, roles and the server's @everyone role in one statement; NotAMember when absent. */
export async function loadServerAccess(em: EntityManager, serverId: string, userId: string): Promise<ServerAccess> {
  const sql = sqlFor(
    em,
    'member-facts',
    (json) => `select ${memberFactsSql(json, 'k.sid', 'k.uid')} from (select ?::bigint as sid, ?::bigint as uid) k`,
  );
  const [facts] = await em.execute<MemberFacts[]>(sql, [serverId, userId]);
  return serverAccessFrom(em, serverId, facts ?? { server: null, member: null, roles: [] });
}
