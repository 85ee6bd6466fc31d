/**
 * npm run demo: migrate, seed a small world, then tell a short story through the domain methods and
 * print the event stream a gateway would have received. Runs on the embedded server unless
 * DATABASE_URL is set; safe to run again (each run registers new people).
 */
import { DomainError } from '../src/domain/errors';
import { RelationshipType } from '../src/domain/identity/relationships';
import { DomainEvent } from '../src/entities/events/DomainEvent';
import { PermissionFlags } from '../src/domain/permissions';
import { Channel, ChannelType } from '../src/entities/channel/Channel';
import { AuditLogAction } from '../src/entities/server/AuditLogEntry';
import { Relationship } from '../src/entities/user/Relationship';
import { User } from '../src/entities/user/User';
import { VoiceSession } from '../src/entities/voice/VoiceSession';
import { VoiceState } from '../src/entities/voice/VoiceState';
import { createOrm, migrate } from '../src/db/orm';
import { UserService } from '../src/identity/user-service';
import { VoiceService } from '../src/voice/voice-service';
import { DatabaseSeeder } from '../src/seeders/DatabaseSeeder';
import { messagingStory } from './demo-messaging';
import { runCommand } from '../src/ops/failure';
import { AuditLogService } from '../src/servers/audit-log-service';
import { ChannelService } from '../src/servers/channel-service';
import { InviteService } from '../src/servers/invite-service';
import { MembershipService } from '../src/servers/membership-service';
import { RoleService } from '../src/servers/role-service';
import { ServerService } from '../src/servers/server-service';

const say = (line = '') => console.log(line);
const step = (title: string) => say(`\n== ${title}`);

async function main(): Promise<void> {
  // The repository's own demo: the embedded server when DATABASE_URL is unset; it migrates itself.
  const orm = await createOrm({ embedded: true, migrations: 'ignore' });
  try {
    step('Migrations');
    const applied = await migrate(orm);
    say(applied.length ? `applied ${applied.join(', ')}` : 'schema already up to date');

    step('Small world');
    const existing = await orm.em.fork().count(User);
    if (existing === 0) {
      await orm.getSeeder().seed(DatabaseSeeder);
      say(`seeded ${await orm.em.fork().count(User)} users with friendships, a pending request and a block`);
    } else {
      say(`the world already has ${existing} users; the story adds a few more`);
    }

    const events = orm.em.fork().getRepository(DomainEvent);
    const consumer = `demo-${Date.now()}`;
    await events.registerConsumer(consumer, { from: 'latest' });

    step('Two people want the same username');
    const users = () => new UserService(orm.em.fork());
    const nova = await users().register({ username: 'Nova', displayName: 'Nova from Lyon' });
    const otherNova = await users().register({ username: 'nova', displayName: 'Nova from Oslo' });
    say(`registered ${nova.tag} and ${otherNova.tag}: same name, distinct discriminators`);

    step('A friend request by tag, and an accept');
    await nova.sendFriendRequest(otherNova.tag);
    say(`${nova.tag} -> friend request -> ${otherNova.tag}`);
    await otherNova.acceptFriendRequest(nova);
    const relationships = orm.em.fork().getRepository(Relationship);
    const friends = await relationships.friendsOf(nova.id);
    say(`${otherNova.tag} accepted; ${nova.tag}'s friends: ${friends.map((f) => f.tag).join(', ')}`);
    await otherNova.setPresence({
      status: 'ONLINE',
      customStatus: { text: 'making friends', emoji: null, expiresAt: null },
    });
    say(`${otherNova.tag} is now ONLINE`);

    step('A stranger, a block, and a refusal');
    const stranger = await users().register({ username: 'Orion' });
    await stranger.sendFriendRequest(nova);
    say(`${stranger.tag} -> friend request -> ${nova.tag}`);
    await nova.block(stranger);
    say(`${nova.tag} blocks ${stranger.tag}: the pending request is gone`);
    try {
      await stranger.sendFriendRequest(nova);
    } catch (error) {
      if (!(error instanceof DomainError)) throw error;
      say(`${stranger.tag} tries again -> refused: ${error.code} ("${error.message}")`);
    }
    const view = await relationships.relationshipsOf(nova.id);
    say(
      `${nova.tag} sees: ` +
        view
          .map((v) => `${v.userId === otherNova.id ? otherNova.tag : stranger.tag} ${RelationshipType[v.type]}`)
          .join(', '),
    );

    step('A server: invite, join, a role, an overwrite, a kick, the audit log');
    const server = await new ServerService(orm.em.fork()).createServer(nova, { name: 'Nova Lounge' });
    const channels = await orm.em.fork().getRepository(Channel).channelsOf(server.id);
    const general = channels.find((c) => c.type === ChannelType.GUILD_TEXT)!;
    say(
      `${nova.tag} creates "${server.name}" with ${channels.map((c) => `#${c.name}`).join(', ')} and the ` +
        `@everyone role`,
    );
    const invite = await new InviteService(orm.em.fork()).createInvite(nova, general.id, { maxUses: 5, maxAge: 3600 });
    say(`${nova.tag} creates invite ${invite.code} (5 uses, 1 hour)`);
    const rookie = await users().register({ username: 'Vega' });
    await otherNova.acceptInvite(invite.code);
    await rookie.acceptInvite(invite.code);
    say(`${otherNova.tag} and ${rookie.tag} join through it`);
    const roles = new RoleService(orm.em.fork());
    const moderators = await roles.createRole(nova, server.id, {
      name: 'Moderators',
      permissions: PermissionFlags.KICK_MEMBERS | PermissionFlags.MANAGE_MESSAGES | PermissionFlags.VIEW_AUDIT_LOG,
      color: 0x3498db,
    });
    await new RoleService(orm.em.fork()).assignRole(nova, server.id, otherNova.id, moderators.id, {
      reason: 'trusted friend',
    });
    say(`${nova.tag} creates the role "${moderators.name}" and gives it to ${otherNova.tag}`);
    await new ChannelService(orm.em.fork()).setOverwrite(nova, server.id, general.id, {
      targetId: server.id,
      type: 'role',
      deny: PermissionFlags.MENTION_EVERYONE,
    });
    say(`${nova.tag} denies MENTION_EVERYONE to @everyone in #${general.name}`);
    try {
      await new MembershipService(orm.em.fork()).kick(rookie, server.id, otherNova, { reason: 'revenge' });
    } catch (error) {
      if (!(error instanceof DomainError)) throw error;
      say(`${rookie.tag} tries to kick ${otherNova.tag} -> refused: ${error.code} (${error.message})`);
    }
    await new MembershipService(orm.em.fork()).kick(otherNova, server.id, rookie, { reason: 'spam in #general' });
    say(`${otherNova.tag} (a moderator) kicks ${rookie.tag}: "spam in #general"`);
    const log = await new AuditLogService(orm.em.fork()).auditLog(otherNova, server.id, { limit: 10 });
    say(`the audit log, as ${otherNova.tag} reads it (VIEW_AUDIT_LOG), newest first:`);
    const who = new Map<string, string>([
      ...[nova, otherNova, rookie].map((u): [string, string] => [u.id, u.tag]),
      ...channels.map((c): [string, string] => [c.id, `#${c.name}`]),
      [moderators.id, `@${moderators.name}`],
    ]);
    for (const entry of log) {
      const target = who.get(entry.targetId ?? '') ?? entry.targetId ?? `invite ${invite.code}`;
      const actor = who.get(entry.actor?.id ?? '') ?? '?';
      const reason = entry.reason ? ` ("${entry.reason}")` : '';
      say(`  ${AuditLogAction[entry.actionType].padEnd(24)} by ${actor} on ${target}${reason}`);
    }

    step('Voice: a full channel, a moderator who gets in anyway, a move that ends a session');
    const lounge = await new ChannelService(orm.em.fork()).createChannel(nova, server.id, {
      type: ChannelType.GUILD_VOICE,
      name: 'Lounge',
      userLimit: 1,
    });
    const generalVoice = channels.find((c) => c.type === ChannelType.GUILD_VOICE)!;
    say(`${nova.tag} creates the voice channel "${lounge.name}" with room for 1`);
    const voice = () => new VoiceService(orm.em.fork());
    const voiceStates = () => orm.em.fork().getRepository(VoiceState);
    await voice().joinVoice(otherNova, lounge.id, { selfMute: true });
    say(`${otherNova.tag} joins "${lounge.name}" (self-muted)`);
    const latecomer = await users().register({ username: 'Rigel' });
    await latecomer.acceptInvite(invite.code);
    try {
      await voice().joinVoice(latecomer, lounge.id);
    } catch (error) {
      if (!(error instanceof DomainError)) throw error;
      say(`${latecomer.tag} tries to join "${lounge.name}" -> refused: ${error.code} (${error.message})`);
    }
    await voice().joinVoice(nova, lounge.id);
    say(
      `${nova.tag} (the owner: MOVE_MEMBERS) joins anyway; in ` +
        `"${lounge.name}": ${(await voiceStates().statesIn(lounge.id)).length}`,
    );
    await orm.em.fork().execute(
      `update "VoiceSession" set "startedAt" = "startedAt" - interval '42 seconds' where "userId" = ?
          and "endedAt" is null`,
      [otherNova.id],
    );
    await voice().joinVoice(otherNova, generalVoice.id);
    const [ended] = await voiceStates()
      .sessionsOf(otherNova, server.id, { limit: 2 })
      .then((list) => list.filter((x) => x.endedAt));
    say(
      `${otherNova.tag} moves to "${generalVoice.name}": the "${lounge.name}" session ends ` +
        `after ${ended.durationSeconds} s (backdated 42 s for the demo)`,
    );
    await voice().leaveVoice(otherNova);
    await voice().leaveVoice(nova);
    say(
      `${otherNova.tag} and ${nova.tag} leave; open sessions ` +
        `now: ${await orm.em.fork().count(VoiceSession, { server: server.id, endedAt: null })}`,
    );

    step('Messages: replies, reactions, a pin, slowmode, a thread, DMs, history and search');
    await messagingStory(orm, {
      owner: nova,
      moderator: otherNova,
      member: latecomer,
      blocked: stranger,
      serverId: server.id,
      generalId: general.id,
    });

    step('The event stream a gateway consumer received');
    const names = new Map([nova, otherNova, stranger, rookie, latecomer].map((u) => [u.id, u.tag]));
    const name = (id: unknown) => names.get(String(id)) ?? String(id);
    const delivered = await events.poll(consumer, { limit: 1000 });
    const shown = 40;
    for (const event of delivered.slice(0, shown)) {
      const to = event.userIds?.length ? event.userIds.map(name).join(', ') : event.serverId ? 'the server' : '';
      const p = event.payload;
      const detail = event.type.startsWith('RELATIONSHIP')
        ? `${name(p.id)} ${RelationshipType[p.type as number] ?? p.type}`
        : event.type === 'PRESENCE_UPDATE'
          ? String(p.status)
          : event.type === 'GUILD_AUDIT_LOG_ENTRY_CREATE'
            ? `${AuditLogAction[p.actionType as number]}`
            : JSON.stringify(p).slice(0, 80);
      say(`#${event.id}  ${event.type.padEnd(20)} to ${to.padEnd(12)} ${detail}`);
    }
    if (delivered.length > shown) {
      const byType = new Map<string, number>();
      for (const event of delivered.slice(shown)) byType.set(event.type, (byType.get(event.type) ?? 0) + 1);
      say(`... and ${delivered.length - shown} more: ${[...byType].map(([type, n]) => `${type} x${n}`).join(', ')}`);
    }
    if (delivered.length > 0) await events.ack(consumer, delivered[delivered.length - 1].id);
    await events.removeConsumer(consumer);
    say('\nDone.');
  } finally {
    await orm.close(true);
  }
}

runCommand(main);
