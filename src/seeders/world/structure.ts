import { DEFAULT_EVERYONE_PERMISSIONS, PermissionFlags as F } from '../../domain/permissions';
import { usernameKey } from '../../domain/identity/username';
import { type Cell, type TableName } from './copy';
import { SeedIds } from './ids';
import { rng, type Rng } from './random';
import type { ScenarioSpec } from './spec';
import type { Vocabulary } from './vocabulary';

const DAY = 86_400_000;
export type Tables = Partial<Record<TableName, Cell[][]>>;

export interface SeededServerPlan {
  id: string;
  ownerId: string;
  /** Member user ids, the owner first, then by activity (busiest first). */
  memberIds: string[];
  adminId: string | null;
  moderatorIds: string[];
  /** A member denied SEND_MESSAGES in general by a member overwrite. */
  mutedId: string | null;
  roles: { everyone: string; admin: string; moderator: string; member: string };
  /** Text channels anyone may post in, busiest first (general first). */
  openChannelIds: string[];
  announcementsId: string;
  staffChannelId: string | null;
  voiceChannelIds: string[];
  /** A voice channel whose user limit is reached by the seeded voice states. */
  fullVoiceChannelId: string;
  threadIds: string[];
  inviteCode: string;
}

export interface WorldPlan {
  spec: ScenarioSpec;
  seed: number;
  anchorMs: number;
  userIds: string[];
  servers: SeededServerPlan[];
  dms: { id: string; recipientIds: string[] }[];
  groupDms: { id: string; ownerId: string; recipientIds: string[] }[];
  blockedPairs: [string, string][];
  friendPairs: [string, string][];
  /** Users in voice: userId -> channel. */
  inVoice: Map<string, string>;
  /** Messages go between these times. */
  messagesFrom: number;
  tables: Tables;
}

const PRESENCE: [string, number][] = [
  ['ONLINE', 0.35],
  ['IDLE', 0.15],
  ['DND', 0.1],
  ['INVISIBLE', 0.05],
  ['OFFLINE', 0.35],
];
const PREMIUM: [string, number][] = [
  ['NONE', 0.8],
  ['NITRO', 0.12],
  ['NITRO_BASIC', 0.05],
  ['NITRO_CLASSIC', 0.03],
];
const weighted = (r: Rng, table: [string, number][]) => {
  let x = r();
  for (const [value, weight] of table) if ((x -= weight) < 0) return value;
  return table[table.length - 1][0];
};

/**
 * Everything but the messages: users with presence spread over the statuses, friendships, pending
 * requests and blocks, servers of Zipf-like sizes with role hierarchies, channels, overwrites and
 * invites, threads, DMs and group DMs, voice states (one full channel per server) and voice session
 * history. A pure function of (scenario, seed, anchor): a resumed run regenerates the same rows.
 */
export function planWorld(spec: ScenarioSpec, seed: number, anchorMs: number, words: Vocabulary): WorldPlan {
  const r = rng(seed, spec.name, 'structure');
  const ids = new SeedIds();
  const start = anchorMs - 120 * DAY;
  let clock = start;
  const tick = (ms = 1) => (clock += ms);
  const tables: Tables = {};
  const add = (table: TableName, row: Cell[]) => (tables[table] ??= []).push(row);

  // Users, busiest first (their index is their activity rank).
  const userIds: string[] = [];
  const taken = new Map<string, Set<number>>();
  for (let i = 0; i < spec.users; i++) {
    const username = i % 7 === 3 ? 'Echo' : words.usernames[i % words.usernames.length];
    const used = taken.get(usernameKey(username)) ?? new Set<number>();
    taken.set(usernameKey(username), used);
    let d = r.int(1, 9999);
    while (used.has(d)) d = (d % 9999) + 1;
    used.add(d);
    const id = ids.at(tick(50));
    const created = new Date(clock);
    userIds.push(id);
    add('User', [
      id,
      username,
      String(d).padStart(4, '0'),
      r.chance(0.7) ? r.pick(words.firstNames) : null,
      r.chance(0.4) ? r.pick(words.bios) : null,
      r.chance(0.3) ? r.pick(['she/her', 'he/him', 'they/them', 'any']) : null,
      weighted(r, PREMIUM),
      created,
      created,
    ]);
    add('UserPresence', [id, weighted(r, PRESENCE), new Date(anchorMs - r.int(0, 14 * DAY)), created]);
  }

  // The social graph: a ring of friendships plus shortcuts to hubs, some pending requests, some blocks.
  const pairs = new Map<
    string,
    { a: number; b: number; status: string; requester: number | null; aBlocksB: boolean; bBlocksA: boolean }
  >();
  const pair = (x: number, y: number) => {
    const [a, b] = x < y ? [x, y] : [y, x];
    const key = `${a}:${b}`;
    if (!pairs.has(key)) pairs.set(key, { a, b, status: 'NONE', requester: null, aBlocksB: false, bBlocksA: false });
    return pairs.get(key)!;
  };
  const vacant = (p: ReturnType<typeof pair>) => p.status === 'NONE' && !p.aBlocksB && !p.bBlocksA;
  const U = spec.users;
  const hubs = Math.max(1, Math.floor(U / 10));
  for (let i = 0; i < U && U >= 2; i++) {
    const next = (i + 1) % U;
    if (i % 3 !== 2) pair(i, next).status = 'FRIENDS';
    const hub = r.skewed(hubs, 1.5);
    if (hub !== i && vacant(pair(i, hub))) pair(i, hub).status = 'FRIENDS';
  }
  const extras = Math.max(2, Math.floor(U / 50));
  for (let k = 0, made = 0; k < extras * 20 && made < extras && U >= 4; k++) {
    // Blocks and pending requests between people who have nothing between them yet.
    const x = U - 1 - r.int(0, Math.floor(U / 2));
    const y = r.int(0, U - 1);
    if (x === y || !vacant(pair(x, y))) continue;
    const p = pair(x, y);
    if (made++ % 2 === 0) {
      if (x < y) p.aBlocksB = true;
      else p.bBlocksA = true;
    } else {
      p.status = 'PENDING';
      p.requester = x;
    }
  }
  const blockedPairs: [string, string][] = [];
  const friendPairs: [string, string][] = [];
  for (const p of pairs.values()) {
    if (vacant(p)) continue;
    const since = new Date(start + r.int(1, 30) * DAY);
    add('Relationship', [
      userIds[p.a],
      userIds[p.b],
      p.status,
      p.requester === null ? null : userIds[p.requester],
      p.aBlocksB,
      p.bBlocksA,
      p.status === 'FRIENDS' ? since : null,
      since,
    ]);
    if (p.aBlocksB || p.bBlocksA) blockedPairs.push([userIds[p.a], userIds[p.b]]);
    if (p.status === 'FRIENDS') friendPairs.push([userIds[p.a], userIds[p.b]]);
  }
  const blocked = new Set(blockedPairs.map(([a, b]) => `${a}:${b}`));

  const servers: SeededServerPlan[] = [];
  const inVoice = new Map<string, string>();
  for (let s = 0; s < spec.servers && U >= 2; s++) {
    servers.push(planServer(spec, r, ids, tick, () => clock, add, words, userIds, s, anchorMs, inVoice));
  }

  // DMs between people who do not block each other; group DMs of 3-10.
  const dms: WorldPlan['dms'] = [];
  const dmKeys = new Set<string>();
  for (let k = 0; k < spec.dms * 3 && dms.length < spec.dms && U >= 2; k++) {
    const x = r.skewed(U, 2);
    const y = r.int(0, U - 1);
    if (x === y) continue;
    const [a, b] = x < y ? [userIds[x], userIds[y]] : [userIds[y], userIds[x]];
    const key = `${a}:${b}`;
    if (dmKeys.has(key) || blocked.has(key)) continue;
    dmKeys.add(key);
    const id = ids.at(tick());
    const created = new Date(clock);
    add('Channel', [id, null, 'DM', null, null, 0, null, 0, null, null, created, null, key, null]);
    add('ChannelRecipient', [id, a, created]);
    add('ChannelRecipient', [id, b, created]);
    dms.push({ id, recipientIds: [a, b] });
  }
  const groupDms: WorldPlan['groupDms'] = [];
  for (let k = 0; k < spec.groupDms && U >= 3; k++) {
    const owner = userIds[r.skewed(U, 2)];
    const others = r.sample(
      userIds.filter((u) => u !== owner),
      r.int(2, Math.min(9, U - 1)),
    );
    const id = ids.at(tick());
    const created = new Date(clock);
    add('Channel', [
      id,
      null,
      'GROUP_DM',
      r.chance(0.6) ? r.pick(words.serverNames) : null,
      null,
      0,
      null,
      0,
      null,
      null,
      created,
      owner,
      null,
      null,
    ]);
    for (const u of [owner, ...others]) add('ChannelRecipient', [id, u, created]);
    groupDms.push({ id, ownerId: owner, recipientIds: [owner, ...others] });
  }

  // Voice history: closed sessions in voice channels of servers the user belongs to.
  for (let k = 0; k < spec.voiceSessions && servers.length > 0; k++) {
    const server = servers[r.skewed(servers.length, 1.5)];
    const user = server.memberIds[r.skewed(server.memberIds.length, 2.5)];
    const channel = r.pick(server.voiceChannelIds);
    const startedAt = start + 10 * DAY + Math.floor(r() * (anchorMs - start - 11 * DAY));
    const duration = r.int(30, 4 * 3600);
    add('VoiceSession', [
      ids.at(startedAt),
      user,
      channel,
      server.id,
      new Date(startedAt),
      new Date(startedAt + duration * 1000),
      duration,
    ]);
  }
  // Open sessions mirror the voice states (ids at join time, which is near the anchor).
  for (const row of tables.VoiceState ?? []) {
    const joinedAt = row[6] as Date;
    add('VoiceSession', [ids.at(joinedAt.getTime()), row[0], row[1], row[2], joinedAt, null, null]);
  }
  return {
    spec,
    seed,
    anchorMs,
    userIds,
    servers,
    dms,
    groupDms,
    blockedPairs,
    friendPairs,
    inVoice,
    messagesFrom: start + 11 * DAY,
    tables,
  };
}

function planServer(
  spec: ScenarioSpec,
  r: Rng,
  ids: SeedIds,
  tick: (ms?: number) => number,
  now: () => number,
  add: (table: TableName, row: Cell[]) => void,
  words: Vocabulary,
  userIds: string[],
  s: number,
  anchorMs: number,
  inVoice: Map<string, string>,
): SeededServerPlan {
  const U = userIds.length;
  const size = Math.min(U, Math.max(spec.minMembers, Math.floor(spec.maxMembers / Math.pow(s + 1, 0.8))));
  const ownerIndex = s % U;
  const others = r
    .sample(
      [...Array(U).keys()].filter((i) => i !== ownerIndex),
      size - 1,
    )
    .sort((a, b) => a - b);
  const memberIds = [ownerIndex, ...others].map((i) => userIds[i]);
  const id = ids.at(tick(1000));
  const created = new Date(now());
  add('Server', [
    id,
    `${words.serverNames[(s * 7) % words.serverNames.length]}${s >= words.serverNames.length ? ` ${s}` : ''}`,
    r.pick(words.sentences).slice(0, 120),
    memberIds[0],
    weighted(r, [
      ['0', 0.7],
      ['1', 0.2],
      ['2', 0.07],
      ['3', 0.03],
    ]),
    memberIds.length,
    created,
  ]);

  const roleRow = (
    roleId: string,
    name: string,
    permissions: bigint,
    position: number,
    color: number,
    hoist: boolean,
  ) => add('Role', [roleId, id, name, permissions.toString(), position, color, hoist, false, created]);
  const roles = { everyone: id, admin: ids.at(tick()), moderator: ids.at(tick()), member: ids.at(tick()) };
  roleRow(roles.everyone, '@everyone', DEFAULT_EVERYONE_PERMISSIONS, 0, 0, false);
  roleRow(roles.admin, 'Admin', F.ADMINISTRATOR, 3, 0xe74c3c, true);
  roleRow(
    roles.moderator,
    'Moderator',
    F.KICK_MEMBERS |
      F.BAN_MEMBERS |
      F.MANAGE_MESSAGES |
      F.MODERATE_MEMBERS |
      F.VIEW_AUDIT_LOG |
      F.MANAGE_NICKNAMES |
      F.MUTE_MEMBERS |
      F.MOVE_MEMBERS,
    2,
    0x3498db,
    true,
  );
  roleRow(roles.member, 'Member', F.CREATE_INSTANT_INVITE | F.ATTACH_FILES | F.EMBED_LINKS, 1, 0x2ecc71, false);

  const moderators = Math.max(2, Math.floor(memberIds.length / 100));
  const adminId = memberIds.length > 1 ? memberIds[1] : null;
  const moderatorIds = memberIds.slice(2, 2 + moderators);
  memberIds.forEach((userId, i) => {
    add('ServerMember', [
      id,
      userId,
      i > 0 && r.chance(0.4) ? r.pick(words.firstNames) : null,
      new Date(created.getTime() + i * 1000 + r.int(0, 30 * DAY)),
    ]);
    if (i === 1) add('ServerMemberRole', [id, userId, roles.admin]);
    if (i >= 2 && i < 2 + moderators) add('ServerMemberRole', [id, userId, roles.moderator]);
    if (i > 0 && r.chance(0.6)) add('ServerMemberRole', [id, userId, roles.member]);
  });

  // Channels: categories of up to 12, one announcements channel only staff posts in, one staff-only
  // channel, voice channels (the first one full), the rest open text channels, general first.
  const C = spec.channelsPerServer;
  const voice = Math.max(1, Math.round(C * 0.16));
  const categories = Math.max(2, Math.ceil(C / 12));
  const staff = C >= 8 ? 1 : 0;
  const open = Math.max(1, C - voice - categories - 1 - staff);
  let position = 0;
  const channel = (
    type: string,
    name: string,
    parent: string | null,
    extra: { bitrate?: number; userLimit?: number; topic?: string } = {},
  ) => {
    const channelId = ids.at(tick());
    add('Channel', [
      channelId,
      id,
      type,
      name.slice(0, 100),
      extra.topic ?? null,
      position++,
      parent,
      0,
      extra.bitrate ?? null,
      extra.userLimit ?? null,
      created,
      null,
      null,
      null,
    ]);
    return channelId;
  };
  const categoryIds = Array.from({ length: categories }, (_, k) =>
    channel(
      'GUILD_CATEGORY',
      k === categories - 1 ? 'Voice Channels' : k === 0 ? 'Text Channels' : `Text ${k + 1}`,
      null,
    ),
  );
  const textParent = (k: number) => categoryIds[Math.min(categories - 2, Math.floor(k / 12))];
  const openChannelIds = Array.from({ length: open }, (_, k) =>
    channel(
      'GUILD_TEXT',
      k === 0
        ? 'general'
        : `${words.channelNames[k % words.channelNames.length]}${k >= words.channelNames.length ? `-${k}` : ''}`,
      textParent(k),
      { topic: r.chance(0.5) ? r.pick(words.sentences) : undefined },
    ),
  );
  const announcementsId = channel('GUILD_ANNOUNCEMENT', 'announcements', categoryIds[0]);
  const staffChannelId = staff ? channel('GUILD_TEXT', 'staff-only', categoryIds[0]) : null;
  const fullLimit = Math.min(4, memberIds.length);
  const voiceChannelIds = Array.from({ length: voice }, (_, k) =>
    channel('GUILD_VOICE', k === 0 ? 'Squad' : `Lounge ${k}`, categoryIds[categories - 1], {
      bitrate: 64_000,
      userLimit: k === 0 ? fullLimit : r.pick([0, 10, 25]),
    }),
  );
  const overwrite = (channelId: string, target: string, type: string, allow: bigint, deny: bigint) =>
    add('PermissionOverwrite', [channelId, target, type, allow.toString(), deny.toString()]);
  overwrite(announcementsId, roles.everyone, 'ROLE', 0n, F.SEND_MESSAGES);
  overwrite(announcementsId, roles.moderator, 'ROLE', F.SEND_MESSAGES | F.MENTION_EVERYONE, 0n);
  if (staffChannelId) {
    overwrite(staffChannelId, roles.everyone, 'ROLE', 0n, F.VIEW_CHANNEL);
    overwrite(staffChannelId, roles.moderator, 'ROLE', F.VIEW_CHANNEL, 0n);
  }
  const mutedId = memberIds.length > 3 + moderators ? memberIds[memberIds.length - 1] : null;
  if (mutedId) overwrite(openChannelIds[0], mutedId, 'MEMBER', 0n, F.SEND_MESSAGES);

  const inviteCode = randomCode(r);
  add('Invite', [inviteCode, id, openChannelIds[0], memberIds[0], 0, 0, created]);

  // Expressions (well under the tier's slots) and an audit trail of how the server was set up.
  const emojiCount = r.int(2, 8);
  for (let k = 0; k < emojiCount; k++)
    add('Emoji', [
      ids.at(tick()),
      id,
      `${words.channelNames[(s + k) % words.channelNames.length].replace(/[^A-Za-z0-9_]/g, '_').slice(0, 28)}_${k}`,
      r.chance(0.2),
      memberIds[0],
      created,
    ]);
  if (r.chance(0.5))
    add('Sticker', [
      ids.at(tick()),
      id,
      `sticker ${s}`,
      r.pick(words.sentences).slice(0, 100),
      'wave',
      'PNG',
      memberIds[0],
      created,
    ]);
  const audit = (action: number, targetId: string, changes: object[], reason: string | null) =>
    add('AuditLogEntry', [
      ids.at(tick()),
      id,
      memberIds[0],
      action,
      targetId,
      JSON.stringify(changes),
      reason,
      created,
    ]);
  audit(1, id, [{ key: 'name', new: 'created' }], null);
  audit(30, roles.moderator, [{ key: 'name', new: 'Moderator' }], 'staff');
  if (adminId) audit(25, adminId, [{ key: '$add', new: [{ id: roles.admin, name: 'Admin' }] }], 'trusted');
  audit(13, openChannelIds[0], [{ key: 'id', new: mutedId ?? openChannelIds[0] }], null);

  const threadIds: string[] = [];
  for (let k = 0; k < spec.threadsPerServer; k++) {
    const threadId = ids.at(tick());
    add('Channel', [
      threadId,
      id,
      'PUBLIC_THREAD',
      r.pick(words.sentences).slice(0, 100),
      null,
      0,
      openChannelIds[r.skewed(openChannelIds.length)],
      0,
      null,
      null,
      created,
      memberIds[r.skewed(memberIds.length)],
      null,
      1440,
    ]);
    threadIds.push(threadId);
  }

  // Voice states: the "Squad" channel is full; a few more people elsewhere. One state per user.
  const joiners = memberIds.filter((u) => !inVoice.has(u));
  const inSquad = joiners.slice(0, fullLimit);
  const elsewhere =
    voiceChannelIds.length > 1 ? joiners.slice(fullLimit, fullLimit + Math.floor(memberIds.length / 40)) : [];
  const states: [string, string][] = [
    ...inSquad.map((u) => [u, voiceChannelIds[0]] as [string, string]),
    ...elsewhere.map((u, k) => [u, voiceChannelIds[1 + (k % (voiceChannelIds.length - 1))]] as [string, string]),
  ];
  for (const [userId, channelId] of states) {
    inVoice.set(userId, channelId);
    const joinedAt = new Date(anchorMs - r.int(60, 7200) * 1000);
    add('VoiceState', [userId, channelId, id, sessionId(r), r.chance(0.2), r.chance(0.05), joinedAt, joinedAt]);
  }
  return {
    id,
    ownerId: memberIds[0],
    memberIds,
    adminId,
    moderatorIds,
    mutedId,
    roles,
    openChannelIds,
    announcementsId,
    staffChannelId,
    voiceChannelIds,
    fullVoiceChannelId: voiceChannelIds[0],
    threadIds,
    inviteCode,
  };
}

const ALPHABET = 'abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789';
const randomCode = (r: Rng) => Array.from({ length: 10 }, () => r.pick([...ALPHABET])).join('');
const sessionId = (r: Rng) => Array.from({ length: 32 }, () => r.int(0, 15).toString(16)).join('');
