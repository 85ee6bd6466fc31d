/**
 * Permission bypass: a generated matrix of actor x action x target over a server with a real role
 * hierarchy and overwrites. The expected outcome of every cell comes from an oracle built from the
 * database rows and the pure permission and hierarchy functions (not from ServerAccess, which the
 * domain uses); each action is refused exactly when the oracle refuses it, and a refused action
 * writes nothing. Each cell runs in a transaction that is rolled back, so cells are independent.
 */
import { describe, expect, it } from 'vitest';
import type { EntityManager } from '@mikro-orm/postgresql';
import {
  DomainError,
  HierarchyViolation,
  MissingPermission,
  NotAMember,
  NotAVoiceChannel,
  NotFound,
  ValidationFailed,
} from '../../src/domain/errors';
import { User } from '../../src/entities/user/User';
import { VoiceService } from '../../src/voice/voice-service';
import {
  canActOnMember,
  channelKindOf,
  computeEffectivePermissions,
  isTimedOut,
  PermissionFlags as F,
  type PermissionName,
} from '../../src/domain/permissions';
import { CHANNEL_TYPE_NUMBERS, type ChannelType } from '../../src/entities/channel/Channel';
import { useTestDatabase } from '../support/db';
import { messagingHelpers } from '../support/messaging';
import { InviteService } from '../../src/servers/invite-service';
import { ChannelService } from '../../src/servers/channel-service';
import { RoleService } from '../../src/servers/role-service';

const db = useTestDatabase({ poolSize: 5 });
const h = messagingHelpers(db);

class Rollback extends Error {}

interface Fixture {
  serverId: string;
  ownerId: string;
  actors: Record<string, string>;
  channels: Record<string, string>;
  /** One message by `victim` per channel. */
  messages: Record<string, string>;
}

async function fixture(): Promise<Fixture> {
  const w = await h.world('Matrix');
  const names = ['admin', 'mod', 'helper', 'member', 'muted', 'timedOut', 'victim', 'peer'];
  const users = Object.fromEntries(await Promise.all(names.map(async (n) => [n, (await h.joined(w, n)).id] as const)));
  const stranger = (await h.register('stranger')).id;
  const s = w.server.id;
  await h.role(s, F.ADMINISTRATOR, 10, [users.admin]);
  await h.role(s, F.MANAGE_MESSAGES | F.KICK_MEMBERS | F.BAN_MEMBERS | F.MODERATE_MEMBERS | F.MANAGE_THREADS, 8, [
    users.mod,
  ]);
  const helper = await h.role(s, F.MANAGE_MESSAGES | F.PIN_MESSAGES, 6, [users.helper]);
  await h.role(s, F.KICK_MEMBERS, 4, [users.victim, users.peer]);
  const staff = await h.channel(s);
  await h.overwrite(staff, s, 'ROLE', 0n, F.VIEW_CHANNEL);
  await h.overwrite(staff, helper, 'ROLE', F.VIEW_CHANNEL, 0n);
  const announcements = await h.channel(s);
  await h.overwrite(announcements, s, 'ROLE', 0n, F.SEND_MESSAGES | F.ADD_REACTIONS);
  await h.overwrite(announcements, helper, 'ROLE', F.SEND_MESSAGES, 0n);
  await h.overwrite(w.textId, users.muted, 'MEMBER', 0n, F.SEND_MESSAGES);
  await h.overwrite(staff, users.victim, 'MEMBER', F.VIEW_CHANNEL, 0n);
  await db().sql(
    `update "ServerMember" set "timedOutUntil" = now() + interval '1 day' where "serverId" = $1 and "userId" = $2`,
    [s, users.timedOut],
  );
  const channels = { general: w.textId, staff, announcements };
  const messages: Record<string, string> = {};
  for (const [name, id] of Object.entries(channels)) {
    await db().sql(
      `insert into "PermissionOverwrite" ("channelId", "targetId", type, allow, deny) values ($1, $2, 'MEMBER', $3, 0)
        on conflict do nothing`,
      [id, users.victim, (F.SEND_MESSAGES | F.VIEW_CHANNEL).toString()],
    );
    messages[name] = (await h.messages().send(users.victim, id, `victim in ${name}`)).id;
  }
  return { serverId: s, ownerId: w.owner.id, actors: { owner: w.owner.id, ...users, stranger }, channels, messages };
}

/** The oracle: the actor's permissions in a channel, from raw rows and the pure function. */
async function oraclePermissions(f: Fixture, userId: string, channelId?: string): Promise<bigint | null> {
  const [member] = await db().sql<{ timedOutUntil: Date | null }>(
    `select "timedOutUntil" from "ServerMember" where "serverId" = $1 and "userId" = $2`,
    [f.serverId, userId],
  );
  if (!member) return null;
  const roles = await db().sql<{ id: string; permissions: string }>(
    `select r.id::text, r.permissions::text from "Role" r join "ServerMemberRole" mr on mr."roleId" = r.id
      where mr."userId" = $1 and r."serverId" = $2`,
    [userId, f.serverId],
  );
  const [everyone] = await db().sql<{ permissions: string }>(`select permissions::text from "Role" where id = $1`, [
    f.serverId,
  ]);
  const overwrites = channelId
    ? await db().sql<{ targetId: string; type: string; allow: string; deny: string }>(
        `select "targetId"::text, type, allow::text, deny::text from "PermissionOverwrite" where "channelId" = $1`,
        [channelId],
      )
    : [];
  const [channel] = channelId
    ? await db().sql<{ type: ChannelType }>(`select type from "Channel" where id = $1`, [channelId])
    : [];
  return computeEffectivePermissions(
    {
      serverId: f.serverId,
      ownerId: f.ownerId,
      memberId: userId,
      everyone: BigInt(everyone.permissions),
      roles: roles.map((r) => ({ id: r.id, permissions: BigInt(r.permissions) })),
      overwrites: overwrites.map((o) => ({
        id: o.targetId,
        type: o.type === 'ROLE' ? ('role' as const) : ('member' as const),
        allow: BigInt(o.allow),
        deny: BigInt(o.deny),
      })),
    },
    {
      channelType: channel ? channelKindOf(CHANNEL_TYPE_NUMBERS[channel.type]) : undefined,
      timedOut: isTimedOut(member.timedOutUntil),
    },
  );
}

async function oracleRank(f: Fixture, userId: string) {
  const roles = await db().sql<{ id: string; position: number }>(
    `select r.id::text, r.position from "Role" r join "ServerMemberRole" mr on mr."roleId" = r.id where mr."userId" = $1
      and r."serverId" = $2`,
    [userId, f.serverId],
  );
  return { id: userId, roles: roles.map((r) => ({ ...r, managed: false })) };
}

const has = (bits: bigint | null, ...names: PermissionName[]) =>
  bits !== null && names.every((n) => (bits & F[n]) !== 0n);

interface Cell {
  action: string;
  run: (em: EntityManager) => Promise<unknown>;
  expected: () => Promise<'allowed' | typeof MissingPermission | typeof HierarchyViolation | typeof NotAMember>;
}

function cells(f: Fixture): Cell[] {
  const out: Cell[] = [];
  for (const [actorName, actor] of Object.entries(f.actors)) {
    for (const [channelName, channel] of Object.entries(f.channels)) {
      const message = f.messages[channelName];
      const inChannel = async (...need: PermissionName[]) => {
        const p = await oraclePermissions(f, actor, channel);
        return p === null ? NotAMember : has(p, ...need) ? ('allowed' as const) : MissingPermission;
      };
      out.push({
        action: `${actorName} sends in #${channelName}`,
        run: (em) => h.messages(em).send(actor, channel, 'hi'),
        expected: () => inChannel('VIEW_CHANNEL', 'SEND_MESSAGES'),
      });
      out.push({
        action: `${actorName} deletes the victim's message in #${channelName}`,
        run: (em) => h.messages(em).deleteMessage(actor, message),
        expected: () =>
          actor === f.actors.victim ? inChannel('VIEW_CHANNEL') : inChannel('VIEW_CHANNEL', 'MANAGE_MESSAGES'),
      });
      out.push({
        action: `${actorName} pins in #${channelName}`,
        run: (em) => h.messages(em).pin(actor, message),
        expected: async () => {
          const p = await oraclePermissions(f, actor, channel);
          if (p === null) return NotAMember;
          return has(p, 'VIEW_CHANNEL') && (has(p, 'MANAGE_MESSAGES') || has(p, 'PIN_MESSAGES'))
            ? 'allowed'
            : MissingPermission;
        },
      });
      out.push({
        action: `${actorName} reacts with a new emoji in #${channelName}`,
        run: (em) => h.reactions(em).react(actor, message, '🧪'),
        expected: () => inChannel('VIEW_CHANNEL', 'READ_MESSAGE_HISTORY', 'ADD_REACTIONS'),
      });
    }
    for (const [action, permission] of [
      ['kick', 'KICK_MEMBERS'],
      ['ban', 'BAN_MEMBERS'],
      ['timeout', 'MODERATE_MEMBERS'],
    ] as const) {
      for (const targetName of ['victim', 'owner', 'mod', actorName]) {
        const target = f.actors[targetName];
        out.push({
          action: `${actorName} ${action}s ${targetName}`,
          run: (em) =>
            action === 'kick'
              ? h.memberships(em).kick(actor, f.serverId, target)
              : action === 'ban'
                ? h.memberships(em).ban(actor, f.serverId, target, { reason: 'matrix' })
                : h.memberships(em).timeout(actor, f.serverId, target, new Date(Date.now() + 60_000)),
          expected: async () => {
            const p = await oraclePermissions(f, actor);
            if (p === null) return NotAMember;
            if (!has(p, permission)) return MissingPermission;
            return canActOnMember(await oracleRank(f, actor), await oracleRank(f, target), f.ownerId, action)
              ? 'allowed'
              : HierarchyViolation;
          },
        });
      }
    }
  }
  return out;
}

const WRITES = `select (select count(*) from "Message") + (select count(*) from "Reaction") + (select count(*)
  from "AuditLogEntry") + (select count(*) from "DomainEvent")
  + (select count(*) from "ServerMember") + (select count(*) from "Ban") + (select count(*)
    from "MessageAnalytics") as n,
  (select coalesce(sum(extract(epoch from "timedOutUntil")), 0) from "ServerMember") as t,
  (select count(*) from "Message" where pinned) as pins`;

describe('permission bypass matrix', () => {
  it('refuses every action exactly when Discord refuses it, and a refusal writes nothing', async () => {
    const f = await fixture();
    const matrix = cells(f);
    const mismatches: string[] = [];
    let refusals = 0;
    for (const cell of matrix) {
      const expected = await cell.expected();
      let outcome: unknown = 'allowed';
      let before: unknown;
      let after: unknown;
      await db()
        .fork()
        .transactional(async (tx) => {
          before = await tx.execute(WRITES);
          try {
            await cell.run(tx);
          } catch (error) {
            outcome = error;
            after = await tx.execute(WRITES);
          }
          throw new Rollback();
        })
        .catch((error: unknown) => {
          if (!(error instanceof Rollback)) throw error;
        });
      if (outcome !== 'allowed' && !(outcome instanceof DomainError)) throw outcome;
      const matches = expected === 'allowed' ? outcome === 'allowed' : outcome instanceof expected;
      if (!matches)
        mismatches.push(
          `${cell.action}: expected ${expected === 'allowed' ? 'allowed' : expected.name}, ` +
            `got ${outcome === 'allowed' ? 'allowed' : (outcome as Error).name}`,
        );
      if (outcome !== 'allowed') {
        refusals++;
        if (JSON.stringify(after) !== JSON.stringify(before))
          mismatches.push(`${cell.action}: refused but wrote ${JSON.stringify(before)} -> ${JSON.stringify(after)}`);
      }
    }
    console.log(`permission matrix: ${matrix.length} cells, ${refusals} refusals, ${mismatches.length} mismatches`);
    expect(mismatches).toEqual([]);
    expect(refusals).toBeGreaterThan(matrix.length / 4);
    expect(matrix.length - refusals).toBeGreaterThan(matrix.length / 4);
  }, 300_000);
});

describe('cross-server confusion', () => {
  it('refuses a role, a member or a channel of another server, and a DM used as a server channel', async () => {
    const a = await h.world('Server A');
    const b = await h.world('Server B');
    const outsider = await h.joined(b, 'outsider');
    const both = await h.joined(a, 'both');
    await h.memberships().acceptInvite(both, b.code);
    const roleOfA = await h.role(a.server.id, F.ADMINISTRATOR, 3);
    const roles = () => new RoleService(h.fork());
    const channels = () => new ChannelService(h.fork());
    const dm = await (await h.fork().findOneOrFail(User, a.owner.id)).openDM(both);

    // A role of server A, given in server B.
    await h.refused(() => roles().assignRole(b.owner, b.server.id, both.id, roleOfA), NotFound);
    // An overwrite in A for a member of B only.
    await h.refused(
      () =>
        channels().setOverwrite(a.owner, a.server.id, a.textId, {
          targetId: outsider.id,
          type: 'member',
          allow: F.VIEW_CHANNEL,
        }),
      NotFound,
    );
    // A role of B as an overwrite target in A.
    const roleOfB = await h.role(b.server.id, 0n, 2);
    await h.refused(
      () =>
        channels().setOverwrite(a.owner, a.server.id, a.textId, {
          targetId: roleOfB,
          type: 'role',
          allow: F.VIEW_CHANNEL,
        }),
      NotFound,
    );
    // A channel of A, managed through server B.
    await h.refused(() => channels().updateChannel(b.owner, b.server.id, a.textId, { name: 'hijacked' }), NotFound);
    // A DM channel treated as a server channel.
    await h.refused(() => channels().updateChannel(a.owner, a.server.id, dm.id, { name: 'dm' }), NotFound);
    await h.refused(() => new InviteService(h.fork()).createInvite(a.owner, dm.id), ValidationFailed);
    await h.refused(() => new VoiceService(h.fork()).joinVoice(a.owner, dm.id), NotAVoiceChannel);
    const pair = [(await h.messages().send(both, dm.id, 'x')).id, (await h.messages().send(both, dm.id, 'y')).id];
    await h.refused(() => h.messages().bulkDelete(a.owner, dm.id, pair), MissingPermission);
  });
});
