import { expect } from 'vitest';
import type { EntityManager } from '@mikro-orm/postgresql';
import { nextSnowflake } from '../../src/domain/snowflake';
import { Reaction } from '../../src/entities/message/Reaction';
import type { ReactionRepository } from '../../src/entities/message/ReactionRepository';
import type { Server } from '../../src/entities/server/Server';
import { InviteService } from '../../src/servers/invite-service';
import { MembershipService } from '../../src/servers/membership-service';
import { ServerService } from '../../src/servers/server-service';
import { User } from '../../src/entities/user/User';
import { DirectMessageService } from '../../src/messaging/direct-message-service';
import { MessageService } from '../../src/messaging/message-service';
import { ReactionService } from '../../src/messaging/reaction-service';
import { ReadStateService } from '../../src/messaging/read-state-service';
import { ThreadService } from '../../src/messaging/thread-service';
import type { TestDatabase } from './db';
import { UserService } from '../../src/identity/user-service';

/** A server with its owner, its default text channel and a permanent invite. */
export interface MessagingWorld {
  owner: User;
  server: Server;
  textId: string;
  code: string;
}

/**
 * Helpers for message, DM, thread and reaction tests: worlds built through the domain, plus direct
 * SQL for the permission setup each test needs (roles, overwrites), and the row counts a refused
 * operation must leave unchanged.
 */
export function messagingHelpers(db: () => TestDatabase) {
  let seq = 0;
  const fork = () => db().fork();
  const register = (name = 'user') => new UserService(fork()).register({ username: `${name}${++seq}` });
  const messages = (em: EntityManager = fork()) => new MessageService(em);
  const reactions = (em: EntityManager = fork()) => new ReactionService(em);
  /** Reaction queries (tallies): the repository keeps the reads that need no permission check. */
  const reactionQueries = (em: EntityManager = fork()) => em.getRepository<Reaction, ReactionRepository>(Reaction);
  const readStates = (em: EntityManager = fork()) => new ReadStateService(em);
  const dms = (em: EntityManager = fork()) => new DirectMessageService(em);
  const threads = (em: EntityManager = fork()) => new ThreadService(em);
  const memberships = (em: EntityManager = fork()) => new MembershipService(em);

  async function world(name = 'Guild'): Promise<MessagingWorld> {
    const owner = await register('owner');
    const server = await new ServerService(fork()).createServer(owner, { name });
    const [{ id: textId }] = await db().sql<{ id: string }>(
      `select id::text from "Channel" where "serverId" = $1 and type = 'GUILD_TEXT'`,
      [server.id],
    );
    const invite = await new InviteService(fork()).createInvite(owner, textId, { maxAge: 0 });
    return { owner, server, textId, code: invite.code };
  }

  async function joined(w: MessagingWorld, name = 'member'): Promise<User> {
    const user = await register(name);
    await memberships().acceptInvite(user, w.code);
    return user;
  }

  /** A channel made directly in the database (type GUILD_TEXT by default). */
  async function channel(
    serverId: string,
    fields: { type?: string; rateLimitPerUser?: number; parentId?: string } = {},
  ): Promise<string> {
    const id = nextSnowflake();
    await db().sql(
      `insert into "Channel" (id, "serverId", type, name, "rateLimitPerUser", "parentId") values ($1, $2, $3, $4, $5,
        $6)`,
      [
        id,
        serverId,
        fields.type ?? 'GUILD_TEXT',
        `ch${id.slice(-4)}`,
        fields.rateLimitPerUser ?? 0,
        fields.parentId ?? null,
      ],
    );
    return id;
  }

  /** A role with these permissions at `position`, given to `userIds`. */
  async function role(
    serverId: string,
    permissions: bigint,
    position: number,
    userIds: string[] = [],
    mentionable = false,
  ): Promise<string> {
    const id = nextSnowflake();
    await db().sql(
      `insert into "Role" (id, "serverId", name, permissions, position, mentionable) values ($1, $2, $3, $4, $5, $6)`,
      [id, serverId, `role${position}`, permissions.toString(), position, mentionable],
    );
    for (const userId of userIds)
      await db().sql(`insert into "ServerMemberRole" ("serverId", "userId", "roleId") values ($1, $2, $3)`, [
        serverId,
        userId,
        id,
      ]);
    return id;
  }

  /** Sets the @everyone role's server-level permissions. */
  async function everyonePermissions(serverId: string, permissions: bigint): Promise<void> {
    await db().sql(`update "Role" set permissions = $2 where id = $1`, [serverId, permissions.toString()]);
  }

  /** An overwrite on a channel for a role (the server id for @everyone) or a member. */
  async function overwrite(
    channelId: string,
    targetId: string,
    type: 'ROLE' | 'MEMBER',
    allow: bigint,
    deny: bigint,
  ): Promise<void> {
    await db().sql(
      `insert into "PermissionOverwrite" ("channelId", "targetId", type, allow, deny) values ($1, $2, $3, $4, $5)
       on conflict ("channelId", "targetId") do update set allow = excluded.allow, deny = excluded.deny`,
      [channelId, targetId, type, allow.toString(), deny.toString()],
    );
  }

  /** Row counts of everything a message operation may write. */
  async function counts() {
    const [row] = await db().sql<Record<string, unknown>>(
      `select (select count(*)::int from "Message") as messages,
              (select count(*)::int from "MessageAttachment") as attachments,
              (select count(*)::int from "MessageEmbed") as embeds,
              (select count(*)::int from "Reaction") as reactions,
              (select count(*)::int from "ChannelRecipient") as recipients,
              (select count(*)::int from "ThreadMember") as "threadMembers",
              (select count(*)::int from "Channel") as channels,
              (select count(*)::int from "DomainEvent") as events,
              (select count(*)::int from "AuditLogEntry") as audit,
              (select coalesce(json_agg(r order by r."userId", r."channelId"), '[]')
                from "ReadState" r)::text as "readStates",
              (select coalesce(json_agg(json_build_array(c.id::text, c."lastMessageId"::text, c."messageCount",
                c."memberCount", c.archived, c."ownerId"::text) order by c.id), '[]')
                from "Channel" c)::text as "channelRows",
              (select coalesce(json_agg(json_build_array(m.id::text, m.content, m.pinned, m."editedAt") order by m.id),
                '[]') from "Message" m)::text as "messageRows"`,
    );
    return row;
  }

  /** The action fails with `error` (matching `details`) and writes nothing at all. */
  async function refused(
    action: () => Promise<unknown>,
    error: abstract new (...args: never[]) => Error,
    details?: Record<string, unknown>,
  ) {
    const before = await counts();
    const failure = await action().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(failure).toBeInstanceOf(error);
    if (details) expect(failure).toMatchObject(details);
    expect(await counts()).toEqual(before);
    return failure;
  }

  const lastMessageId = async (channelId: string) =>
    (
      await db().sql<{ id: string | null }>(`select "lastMessageId"::text as id from "Channel" where id = $1`, [
        channelId,
      ])
    )[0]?.id ?? null;

  const eventsOfType = (type: string) =>
    db().sql<{ payload: Record<string, unknown> }>(`select payload from "DomainEvent" where type = $1 order by id`, [
      type,
    ]);

  return {
    register,
    messages,
    reactions,
    reactionQueries,
    readStates,
    dms,
    threads,
    memberships,
    world,
    joined,
    channel,
    role,
    everyonePermissions,
    overwrite,
    counts,
    refused,
    lastMessageId,
    eventsOfType,
    fork,
  };
}
