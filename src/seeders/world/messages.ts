import type { Cell } from './copy';
import { SeedIds } from './ids';
import { rng, weightedPicker } from './random';
import type { Tables, WorldPlan } from './structure';
import type { Vocabulary } from './vocabulary';

const EMOJI = [
  '👍',
  '❤️',
  '😂',
  '🔥',
  '🎉',
  '😮',
  '😢',
  '🙏',
  '👀',
  '✅',
  '💯',
  '🚀',
  '🤔',
  '👏',
  '😎',
  '🥳',
  '😅',
  '🙌',
  '💀',
  '✨',
  '🍕',
  '⭐',
];
/** Messages carrying the 20-distinct-emoji limit itself, one in this many. */
const FULL_REACTIONS_EVERY = 5_000;

interface Destination {
  channelId: string;
  serverId: string | null;
  /** Who may post here (busiest first) and who reacts. */
  authors: string[];
  audience: string[];
}

/**
 * Where messages go, with weights: busy servers and their busy channels get most of the traffic
 * (server weight ~ size^1.2, channel by a power law), threads a little, DMs and group DMs some.
 * Authors are only people allowed to post there (staff in announcements and the staff channel,
 * never the member muted in general).
 */
export function destinations(plan: WorldPlan): { pick: (r: () => number) => Destination; all: Destination[] } {
  const all: Destination[] = [];
  const weights: number[] = [];
  for (const server of plan.servers) {
    const serverWeight = Math.pow(server.memberIds.length, 1.2);
    const staff = [server.ownerId, ...(server.adminId ? [server.adminId] : []), ...server.moderatorIds];
    server.openChannelIds.forEach((channelId, k) => {
      const authors =
        k === 0 && server.mutedId ? server.memberIds.filter((u) => u !== server.mutedId) : server.memberIds;
      all.push({ channelId, serverId: server.id, authors, audience: server.memberIds });
      weights.push((serverWeight * 0.88) / Math.pow(k + 1, 1.1));
    });
    all.push({ channelId: server.announcementsId, serverId: server.id, authors: staff, audience: server.memberIds });
    weights.push(serverWeight * 0.01);
    if (server.staffChannelId) {
      all.push({ channelId: server.staffChannelId, serverId: server.id, authors: staff, audience: staff });
      weights.push(serverWeight * 0.02);
    }
    for (const threadId of server.threadIds) {
      all.push({ channelId: threadId, serverId: server.id, authors: server.memberIds, audience: server.memberIds });
      weights.push((serverWeight * 0.04) / server.threadIds.length);
    }
  }
  const serverTotal = weights.reduce((a, b) => a + b, 0);
  const privates = [...plan.dms, ...plan.groupDms];
  privates.forEach((dm, k) => {
    all.push({ channelId: dm.id, serverId: null, authors: dm.recipientIds, audience: dm.recipientIds });
    weights.push(((serverTotal * 0.08) / privates.length / Math.pow(k + 1, 0.3)) * 3);
  });
  const picker = weightedPicker(weights);
  return { all, pick: (r) => all[picker(r())] };
}

export interface MessageChunk {
  tables: Tables;
  rows: number;
}

/**
 * Messages [from, to) of the world, with their attachments, embeds and reactions. Each chunk has
 * its own seeded Rng and its ids come from the messages' times, so chunk k is the same rows whether
 * it is generated in order or alone (resume). Replies point within the chunk.
 */
export function messageChunk(
  plan: WorldPlan,
  words: Vocabulary,
  route: ReturnType<typeof destinations>,
  from: number,
  to: number,
  chunkIndex: number,
): MessageChunk {
  const r = rng(plan.seed, plan.spec.name, 'messages', chunkIndex);
  const ids = new SeedIds();
  const span = plan.anchorMs - 3_600_000 - plan.messagesFrom;
  const step = span / plan.spec.messages;
  const messages: Cell[][] = [];
  const attachments: Cell[][] = [];
  const embeds: Cell[][] = [];
  const reactions: Cell[][] = [];
  const recent = new Map<string, { id: string; author: string }>();
  let rows = 0;
  for (let g = from; g < to; g++) {
    const at = Math.floor(plan.messagesFrom + (g + r() * 0.9) * step);
    const id = ids.at(at);
    const where = route.pick(r);
    const author =
      where.authors[Math.min(where.authors.length - 1, Math.floor(where.authors.length * Math.pow(r(), 3)))];
    let content = r.chance(0.5) ? r.pick(words.sentences) : `${r.pick(words.sentences)} ${r.pick(words.sentences)}`;
    if (r.chance(0.15)) content = Array.from({ length: r.int(1, 6) }, () => r.pick(words.words)).join(' ');
    const mentions: string[] = [];
    if (r.chance(0.04)) {
      const target = r.pick(where.audience);
      if (target !== author) {
        mentions.push(target);
        content = `<@${target}> ${content}`;
      }
    }
    const link = r.chance(0.03);
    if (link) content = `${content} ${r.pick(words.urls)}`;
    const previous = recent.get(where.channelId);
    const reply = previous && r.chance(0.06) ? previous : null;
    const attachmentCount = r.chance(0.02) ? r.int(1, 3) : 0;
    const embedCount = link && r.chance(0.5) ? 1 : 0;
    const edited = r.chance(0.01) ? new Date(at + r.int(10, 3600) * 1000) : null;
    messages.push([
      id,
      where.channelId,
      where.serverId,
      author,
      reply ? 'REPLY' : 'DEFAULT',
      content,
      edited,
      reply?.id ?? null,
      mentions,
      attachmentCount,
      embedCount,
      link,
    ]);
    for (let a = 0; a < attachmentCount; a++) {
      const file = r.pick(words.filenames);
      const image = file.contentType.startsWith('image/');
      attachments.push([
        ids.at(at),
        id,
        file.filename,
        r.int(1_000, 8_000_000),
        file.contentType,
        `https://cdn.cryb.example/attachments/${where.channelId}/${id}/${encodeURIComponent(file.filename)}`,
        image ? r.int(64, 4096) : null,
        image ? r.int(64, 4096) : null,
      ]);
    }
    if (embedCount)
      embeds.push([
        ids.at(at),
        id,
        r.pick(words.titles),
        r.pick(words.sentences),
        r.pick(words.urls),
        r.int(0, 0xffffff),
      ]);
    const emojiCount =
      (g + 1) % FULL_REACTIONS_EVERY === 0 ? 20 : r.chance(0.12) ? 1 + Math.floor(4 * Math.pow(r(), 2)) : 0;
    if (emojiCount > 0) {
      for (const emoji of r.sample(EMOJI, emojiCount)) {
        const users = r.sample(
          where.audience,
          Math.max(1, Math.floor(Math.min(where.audience.length, 12) * Math.pow(r(), 3))),
        );
        for (const user of users) reactions.push([id, `u:${emoji}`, user, emoji, new Date(at + r.int(1, 600) * 1000)]);
      }
    }
    recent.set(where.channelId, { id, author });
    rows += 1 + attachmentCount + embedCount;
  }
  rows += reactions.length;
  return {
    tables: { Message: messages, MessageAttachment: attachments, MessageEmbed: embeds, Reaction: reactions },
    rows,
  };
}
