import type { EntityManager } from '@mikro-orm/postgresql';
import { ValidationFailed } from '../domain/errors';
import { idArg } from '../domain/identity/ids';
import {
  channelKindOf,
  type ComputePermissionsInput,
  explainPermissions,
  isTimedOut,
  type PermissionReason,
  permissionNames,
} from '../domain/permissions';
import { type Channel, CHANNEL_TYPE_NUMBERS, ChannelType } from '../entities/channel/Channel';
import { loadChannelAccess } from '../entities/channel/ChannelAccess';
import { loadServerAccess, type ServerAccess } from '../entities/server/ServerAccess';
import { query } from './sql';

export interface ExplainedFlag {
  name: string;
  bit: string;
  granted: boolean;
  /** The decisive step, in words, with role and member names resolved. */
  reason: string;
  /** Every step that decided or changed the flag, in order. */
  history: string[];
}

export interface MemberPermissions {
  serverId: string;
  userId: string;
  channelId: string | null;
  channelName: string | null;
  /** The effective permissions (decimal string) and their names. */
  permissions: string;
  names: string[];
  /** What the domain itself computed (ChannelAccess / ServerAccess): always equal to `permissions`. */
  domainPermissions: string;
  flags: ExplainedFlag[];
}

const IMPLICIT_RULES: Record<string, string> = {
  'timed-out': 'the member is timed out: only VIEW_CHANNEL and READ_MESSAGE_HISTORY remain',
  'no-view-channel': 'without VIEW_CHANNEL nothing else counts',
  'private-thread': 'a private thread the member has not joined (and no MANAGE_THREADS)',
  'thread-send': 'in a thread, SEND_MESSAGES_IN_THREADS stands in for SEND_MESSAGES',
  'no-send-messages': 'without SEND_MESSAGES this does not count',
  'no-connect': 'without CONNECT nothing voice-related counts',
};

function describe(reason: PermissionReason, nameOf: (id: string) => string): string {
  switch (reason.kind) {
    case 'owner':
      return 'server owner: every permission';
    case 'administrator':
      return `ADMINISTRATOR from ${reason.roleIds.map(nameOf).join(', ')}: every permission`;
    case 'role':
      return `granted by role ${reason.roleIds.map(nameOf).join(', ')}`;
    case 'not-granted':
      return 'no role grants it';
    case 'overwrite': {
      const scope =
        reason.scope === 'everyone'
          ? '@everyone overwrite'
          : reason.scope === 'role'
            ? 'role overwrite'
            : 'member overwrite';
      return `${reason.effect === 'allow' ? 'allowed' : 'denied'} by ${scope} ${reason.ids.map(nameOf).join(', ')}`;
    }
    case 'administrator-not-overwritable':
      return 'overwrites cannot grant ADMINISTRATOR';
    case 'implicit':
      return `implicit rule: ${IMPLICIT_RULES[reason.rule] ?? reason.rule}`;
  }
}

function inputOf(access: ServerAccess, overwritesFrom: Channel | null): ComputePermissionsInput {
  return {
    serverId: access.server.id,
    ownerId: access.server.owner.id,
    memberId: access.userId,
    everyone: access.everyone.permissions,
    roles: access.roles.filter((r) => !r.isEveryone).map((r) => ({ id: r.id, permissions: r.permissions })),
    overwrites: overwritesFrom ? overwritesFrom.overwrites.getItems().map((o) => o.toInput()) : [],
  };
}

/**
 * A member's effective permissions in a channel (or at server level), explained flag by flag with
 * the package's own algorithm (`explainPermissions`), from the same data the domain loads before it
 * acts (`loadChannelAccess` / `loadServerAccess`). Read-only.
 */
export async function explainMember(
  em: EntityManager,
  serverArg: string,
  userArg: string,
  channelArg?: string | null,
): Promise<MemberPermissions> {
  const serverId = idArg(serverArg, 'server');
  const userId = idArg(userArg, 'user');
  let access: ServerAccess;
  let channel: Channel | null = null;
  let overwritesFrom: Channel | null = null;
  let threadMember = false;
  let domainPermissions: bigint;
  if (channelArg) {
    const channelAccess = await loadChannelAccess(em, channelArg, userId);
    if (!channelAccess.server || channelAccess.channel.server?.id !== serverId)
      throw new ValidationFailed('channel', 'must be a channel of this server');
    access = channelAccess.server;
    channel = channelAccess.channel;
    overwritesFrom = channelAccess.parent ?? channel;
    threadMember = channelAccess.threadMember;
    domainPermissions = channelAccess.permissions;
  } else {
    access = await loadServerAccess(em, serverId, userId);
    domainPermissions = access.permissions();
  }
  const explained = explainPermissions(inputOf(access, overwritesFrom), {
    channelType: channel ? channelKindOf(CHANNEL_TYPE_NUMBERS[channel.type]) : undefined,
    privateThread: channel?.type === ChannelType.PRIVATE_THREAD,
    threadMember,
    timedOut: isTimedOut(access.member.timedOutUntil, access.now),
  });
  const names = await namesOf(em, serverId);
  const nameOf = (id: string) => (id === serverId ? '@everyone' : (names.get(id) ?? id));
  return {
    serverId,
    userId,
    channelId: channel?.id ?? null,
    channelName: channel?.name ?? null,
    permissions: explained.permissions.toString(),
    names: permissionNames(explained.permissions),
    domainPermissions: domainPermissions.toString(),
    flags: explained.entries.map((e) => ({
      name: e.name,
      bit: e.bit.toString(),
      granted: e.granted,
      reason: describe(e.reason, nameOf),
      history: e.history.map((h) => describe(h, nameOf)),
    })),
  };
}

/** Role names and member names of a server, for the explanation's wording. */
async function namesOf(em: EntityManager, serverId: string): Promise<Map<string, string>> {
  const rows = await query<{ id: string; name: string }>(
    em,
    `select id::text as id, name from "Role" where "serverId" = ?
     union all
     select u.id::text, u.username || '#' || u.discriminator from "ServerMember" m join "User" u on u.id = m."userId"
       where m."serverId" = ?`,
    [serverId, serverId],
  );
  return new Map(rows.map((r) => [r.id, r.name]));
}
