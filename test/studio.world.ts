import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll } from 'vitest';
import { startStudio, type Studio } from '../src/studio';
import { transact } from '../src/db/unit-of-work';
import { recordMessageSent, recordVoiceSession } from '../src/entities/analytics/recording';
import { permissionBits } from '../src/domain/permissions';
import { nextSnowflake } from '../src/domain/snowflake';
import { RelationshipService } from '../src/identity/relationship-service';
import type { TestDatabase } from './support/db';
import { messagingHelpers } from './support/messaging';

export const SCRIPT = '<script>window.__pwned = 1</script>';

/**
 * A small world for the studio's tests, built through the domain: a server with a category, channels,
 * a moderator role and an overwrite, members, messages (one whose content is a script tag), reactions,
 * a thread, a DM, friendships and a block, plus analytics history recorded through the analytics
 * recording functions (past hours and days, voice sessions), so every chart has data.
 */
export async function studioWorld(db: () => TestDatabase) {
  const h = messagingHelpers(db);
  const w = await h.world('Studio Guild');
  const alice = await h.joined(w, 'alice');
  const bob = await h.joined(w, 'bob');
  const carol = await h.joined(w, 'carol');
  const moderators = await h.role(w.server.id, permissionBits('MANAGE_MESSAGES', 'KICK_MEMBERS'), 1, [alice.id]);
  const category = await h.channel(w.server.id, { type: 'GUILD_CATEGORY' });
  const announcements = await h.channel(w.server.id, { parentId: category });
  const voice = await h.channel(w.server.id, { type: 'GUILD_VOICE', parentId: category });
  // Only moderators may post in announcements: @everyone denied SEND_MESSAGES, the role allowed.
  await h.overwrite(announcements, w.server.id, 'ROLE', 0n, permissionBits('SEND_MESSAGES'));
  await h.overwrite(announcements, moderators, 'ROLE', permissionBits('SEND_MESSAGES'), 0n);

  const hello = await h.messages().send(alice, w.textId, 'hello studio');
  const script = await h.messages().send(bob, w.textId, SCRIPT);
  await h.messages().send(carol, w.textId, 'third message');
  await h.messages().send(alice, announcements, 'release notes');
  await h.reactions().react(bob, hello.id, '👍');
  await h.reactions().react(carol, hello.id, '👍');
  await h.reactions().react(carol, hello.id, '🎉');
  const thread = await h.threads().startThread(alice, hello.id, { name: 'hello thread' });
  await h.messages().send(bob, thread.id, 'a reply in the thread');
  const dm = await h.dms().openDM(alice.id, bob.id);
  await h.messages().send(alice, dm.id, 'psst');

  const relationships = () => new RelationshipService(db().fork());
  await relationships().sendFriendRequest(alice, bob);
  await relationships().acceptFriendRequest(bob, alice);
  await relationships().sendFriendRequest(carol, alice);
  await relationships().block(bob, carol);

  // History: hourly activity over the last day and daily over two weeks, and voice sessions.
  const now = Date.now();
  const users = [alice.id, bob.id, carol.id];
  await transact(db().fork(), async (tx) => {
    for (let hour = 1; hour < 24; hour++) {
      for (let k = 0; k < (hour % 4) + 1; k++) {
        const at = new Date(now - hour * 3_600_000 - k * 60_000);
        recordMessageSent(tx, {
          serverId: w.server.id,
          channelId: k % 2 ? announcements : w.textId,
          userId: users[(hour + k) % 3],
          characters: 20 + k,
          at,
        });
      }
    }
    for (let day = 1; day < 14; day++) {
      for (let k = 0; k < (day % 5) + 2; k++) {
        recordMessageSent(tx, {
          serverId: w.server.id,
          channelId: w.textId,
          userId: users[k % 3],
          characters: 12,
          at: new Date(now - day * 86_400_000 - k * 600_000),
        });
      }
    }
    for (let s = 1; s <= 6; s++) {
      const endedAt = new Date(now - s * 2 * 3_600_000);
      recordVoiceSession(tx, {
        sessionId: nextSnowflake(),
        serverId: w.server.id,
        channelId: voice,
        userId: users[s % 3],
        durationSeconds: 600 * s,
        endedAt,
      });
    }
  });
  return { ...w, alice, bob, carol, moderators, category, announcements, voice, hello, script, thread, dm, helpers: h };
}

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json: any;
}

/** A raw HTTP request (node:http, so Host, Origin and Cookie can be set as a browser or an attacker would). */
export function call(
  base: string,
  path: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Answer> {
  const url = new URL(path, base);
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: options.method ?? 'GET', headers: options.headers ?? {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const json: unknown = (res.headers['content-type'] ?? '').startsWith('application/json')
          ? JSON.parse(body)
          : null;
        resolve({ status: res.statusCode!, headers: res.headers, body, json });
      });
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

/**
 * The studio's world and a read-only studio on a free port for the calling test file: `world()` and
 * `get(path)` are valid inside tests.
 */
export function useStudioWorld(db: () => TestDatabase) {
  let world: Awaited<ReturnType<typeof studioWorld>> | undefined;
  let studio: Studio | undefined;
  beforeAll(async () => {
    world = await studioWorld(db);
    studio = await startStudio({ orm: db().orm, port: 0, log: () => undefined });
  });
  afterAll(async () => {
    await studio?.close();
  });
  return {
    world: () => world!,
    studio: () => studio!,
    get: (path: string) => call(studio!.url, path),
  };
}
