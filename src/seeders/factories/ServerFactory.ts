import type { Faker } from '@faker-js/faker';
import { ref } from '@mikro-orm/core';
import { DEFAULT_EVERYONE_PERMISSIONS, PermissionFlags as F } from '../../domain/permissions';
import { Channel, ChannelType } from '../../entities/channel/Channel';
import { OverwriteType, PermissionOverwrite } from '../../entities/channel/PermissionOverwrite';
import { Role } from '../../entities/server/Role';
import { Server } from '../../entities/server/Server';
import { ServerMember } from '../../entities/server/ServerMember';
import type { User } from '../../entities/user/User';

export interface SeededServer {
  server: Server;
  roles: { everyone: Role; admin: Role; moderator: Role; member: Role };
  members: ServerMember[];
  channels: Channel[];
  entities: object[];
}

/**
 * A server with a real role hierarchy (Admin > Moderator > Member > @everyone), a text category
 * with an announcements channel only moderators may post in, a voice channel, and members who hold
 * roles by rank. Built in memory for one flush; memberCount matches the members.
 */
export function makeServer(faker: Faker, owner: User, members: User[], name?: string): SeededServer {
  const server = new Server(owner, name ?? `${faker.word.adjective()} ${faker.word.noun()}`.slice(0, 100));
  server.description = faker.company.catchPhrase().slice(0, 120);
  server.premiumTier = faker.helpers.weightedArrayElement([
    { weight: 70, value: 0 },
    { weight: 20, value: 1 },
    { weight: 7, value: 2 },
    { weight: 3, value: 3 },
  ]);
  const everyone = new Role(
    server,
    { name: '@everyone', permissions: DEFAULT_EVERYONE_PERMISSIONS, position: 0 },
    server.id,
  );
  const admin = new Role(server, {
    name: 'Admin',
    permissions: F.ADMINISTRATOR,
    position: 3,
    color: 0xe74c3c,
    hoist: true,
  });
  const moderator = new Role(server, {
    name: 'Moderator',
    permissions:
      F.KICK_MEMBERS |
      F.BAN_MEMBERS |
      F.MANAGE_MESSAGES |
      F.MODERATE_MEMBERS |
      F.VIEW_AUDIT_LOG |
      F.MANAGE_NICKNAMES |
      F.MUTE_MEMBERS |
      F.MOVE_MEMBERS,
    position: 2,
    color: 0x3498db,
    hoist: true,
  });
  const member = new Role(server, {
    name: 'Member',
    permissions: F.CREATE_INSTANT_INVITE | F.ATTACH_FILES | F.EMBED_LINKS,
    position: 1,
    color: 0x2ecc71,
  });

  const text = new Channel(server, ChannelType.GUILD_CATEGORY, 'Text Channels');
  const general = new Channel(server, ChannelType.GUILD_TEXT, 'general');
  const announcements = new Channel(server, ChannelType.GUILD_ANNOUNCEMENT, 'announcements');
  const voiceCategory = new Channel(server, ChannelType.GUILD_CATEGORY, 'Voice Channels');
  const lounge = new Channel(server, ChannelType.GUILD_VOICE, 'Lounge');
  general.parent = ref(text);
  announcements.parent = ref(text);
  announcements.position = 1;
  voiceCategory.position = 1;
  lounge.parent = ref(voiceCategory);
  lounge.bitrate = 64_000;
  lounge.userLimit = faker.helpers.arrayElement([0, 5, 10]);
  const overwrites = [
    new PermissionOverwrite(announcements, server.id, OverwriteType.ROLE, 0n, F.SEND_MESSAGES),
    new PermissionOverwrite(announcements, moderator.id, OverwriteType.ROLE, F.SEND_MESSAGES | F.MENTION_EVERYONE, 0n),
  ];

  const memberships = [owner, ...members.filter((m) => m !== owner)].map((user, i) => {
    const membership = new ServerMember(server, user);
    membership.joinedAt = faker.date.past({ years: 1, refDate: new Date('2026-11-01T00:00:00Z') });
    if (i === 1) membership.roles.add(admin);
    else if (i > 1 && i <= 3) membership.roles.add(moderator);
    if (i > 0 && faker.datatype.boolean({ probability: 0.6 })) membership.roles.add(member);
    if (i > 0 && faker.datatype.boolean({ probability: 0.4 }))
      membership.nickname = faker.person.firstName().slice(0, 32);
    return membership;
  });
  server.memberCount = memberships.length;
  const channels = [text, general, announcements, voiceCategory, lounge];
  return {
    server,
    roles: { everyone, admin, moderator, member },
    members: memberships,
    channels,
    entities: [server, everyone, admin, moderator, member, ...channels, ...overwrites, ...memberships],
  };
}
