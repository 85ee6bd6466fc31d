/**
 * Issue 16, rule 2: a timed-out member can read, and nothing else (Discord's timeout). Every refusal is
 * MemberTimedOut (a MissingPermission with code MEMBER_TIMED_OUT and the timeout's end) and writes
 * nothing: no rows, no events, no voice state, no membership change.
 */
import { describe, expect, it } from 'vitest';
import type { EntityManager } from '@mikro-orm/postgresql';
import { MemberTimedOut, MissingPermission } from '../src/domain/errors';
import { PermissionFlags as F } from '../src/domain/permissions';
import { nextSnowflake } from '../src/domain/snowflake';
import { VoiceService } from '../src/voice/voice-service';
import { race, useTestDatabase } from './support/db';
import { messagingHelpers, type MessagingWorld } from './support/messaging';

const db = useTestDatabase({ poolSize: 6 });
const h = messagingHelpers(db);
const voice = (em: EntityManager = h.fork()) => new VoiceService(em);

/** Everything any of these operations may write, including voice and membership rows. */
async function snapshot() {
  const [extra] = await db().sql<Record<string, unknown>>(
    `select (select coalesce(json_agg(v order by v."userId"), '[]') from "VoiceState" v)::text as voice,
            (select coalesce(json_agg(json_build_array(s.id::text, s."endedAt") order by s.id), '[]')
              from "VoiceSession" s)::text as sessions,
            (select coalesce(json_agg(json_build_array(m."userId"::text, m.nickname, m."timedOutUntil")
              order by m."userId"), '[]') from "ServerMember" m)::text as members`,
  );
  return { ...(await h.counts()), ...extra };
}

/** The action is refused with MemberTimedOut ending at `until` and writes nothing at all. */
async function refusedTimedOut(action: () => Promise<unknown>, until: Date, permissions?: string[]) {
  const before = await snapshot();
  const failure = await action().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(failure).toBeInstanceOf(MemberTimedOut);
  expect(failure).toBeInstanceOf(MissingPermission);
  expect(failure).toMatchObject({ code: 'MEMBER_TIMED_OUT', until, ...(permissions ? { permissions } : {}) });
  expect((failure as MemberTimedOut).toJSON().details).toMatchObject({ until: until.toISOString() });
  expect(await snapshot()).toEqual(before);
}

async function voiceChannel(
  serverId: string,
  type: 'GUILD_VOICE' | 'GUILD_STAGE_VOICE' = 'GUILD_VOICE',
): Promise<string> {
  const id = nextSnowflake();
  await db().sql(
    `insert into "Channel" (id, "serverId", type, name, bitrate, "userLimit") values ($1, $2, $3, $4, 64000, 0)`,
    [id, serverId, type, `vc${id.slice(-4)}`],
  );
  return id;
}

const timeOut = async (w: MessagingWorld, userId: string, ms = 3_600_000) => {
  const until = new Date(Date.now() + ms);
  await h.memberships().timeout(w.owner, w.server.id, userId, until);
  return until;
};

/** Sets a timeout straight in the database (for the exempt owner and administrators, or a member already in voice). */
const timeOutInDatabase = async (serverId: string, userId: string) => {
  const rows = await db().sql<{ until: Date }>(
    `update "ServerMember" set "timedOutUntil" = date_trunc('milliseconds', now() + interval '1 hour')
      where "serverId" = $1 and "userId" = $2 returning "timedOutUntil" as until`,
    [serverId, userId],
  );
  return new Date(rows[0].until);
};

describe('a timed-out member reads and does nothing else', () => {
  it('may not send, edit, or react, not even by adding to a reaction already there', async () => {
    const w = await h.world('Timeouts');
    const muted = await h.joined(w, 'muted');
    const other = await h.joined(w, 'other');
    const own = await h.messages().send(muted, w.textId, 'said before the timeout');
    const target = await h.messages().send(other, w.textId, 'react to me');
    await h.reactions().react(other, target.id, '👍');
    const until = await timeOut(w, muted.id);

    await refusedTimedOut(() => h.messages().send(muted, w.textId, 'hello?'), until, ['SEND_MESSAGES']);
    await refusedTimedOut(() => h.messages().edit(muted, own.id, 'changed my mind'), until, ['SEND_MESSAGES']);
    await refusedTimedOut(() => h.reactions().react(muted, target.id, '🔥'), until, ['ADD_REACTIONS']);
    // Adding to an existing reaction needs no ADD_REACTIONS, so only the timeout rule refuses it.
    await refusedTimedOut(() => h.reactions().react(muted, target.id, '👍'), until, ['ADD_REACTIONS']);

    // Reading stays: pins and the message history are still theirs to see; their own mistakes too.
    await expect(h.messages().pins(muted, w.textId)).resolves.toEqual([]);
    await h.messages().deleteMessage(muted, own.id);
  });

  it('may not create, start, join or be added to threads, nor change their own thread', async () => {
    const w = await h.world('Threads');
    const muted = await h.joined(w, 'muted');
    const starter = await h.messages().send(w.owner, w.textId, 'start here');
    const open = await h.threads().createThread(w.owner, w.textId, { name: 'open' });
    const mine = await h.threads().createThread(muted, w.textId, { name: 'mine' });
    const secret = await h.threads().createThread(muted, w.textId, { name: 'secret', type: 'PRIVATE_THREAD' });
    await h.threads().addThreadMember(muted, secret.id, w.owner);
    const until = await timeOut(w, muted.id);

    await refusedTimedOut(() => h.threads().createThread(muted, w.textId, { name: 'new' }), until, [
      'CREATE_PUBLIC_THREADS',
    ]);
    await refusedTimedOut(
      () => h.threads().createThread(muted, w.textId, { name: 'secret', type: 'PRIVATE_THREAD' }),
      until,
      ['CREATE_PRIVATE_THREADS'],
    );
    await refusedTimedOut(() => h.threads().startThread(muted, starter.id, { name: 'from a message' }), until, [
      'CREATE_PUBLIC_THREADS',
    ]);
    await refusedTimedOut(() => h.threads().joinThread(muted, open.id), until);
    await refusedTimedOut(() => h.threads().addThreadMember(w.owner, open.id, muted), until);
    await refusedTimedOut(() => h.threads().updateThread(muted, mine.id, { name: 'renamed' }), until);
    await refusedTimedOut(() => h.messages().send(muted, mine.id, 'in my thread'), until, ['SEND_MESSAGES_IN_THREADS']);
    // The creator's right to remove members of a private thread is gone too.
    await refusedTimedOut(() => h.threads().removeThreadMember(muted, secret.id, w.owner), until);
    // Leaving is not communicating.
    await expect(h.threads().leaveThread(muted, mine.id)).resolves.toBe(true);
  });

  it('may not change their own nickname; a moderator still may', async () => {
    const w = await h.world('Nicknames');
    const muted = await h.joined(w, 'muted');
    const until = await timeOut(w, muted.id);
    await refusedTimedOut(() => h.memberships().setNickname(muted, w.server.id, muted, 'innocent'), until, [
      'CHANGE_NICKNAME',
    ]);
    await h.memberships().setNickname(w.owner, w.server.id, muted, 'timed out');
  });

  it('is disconnected from voice when timed out, and may not join voice or stage channels', async () => {
    const w = await h.world('Voice');
    const muted = await h.joined(w, 'muted');
    const vc = await voiceChannel(w.server.id);
    const stage = await voiceChannel(w.server.id, 'GUILD_STAGE_VOICE');
    await voice().joinVoice(muted, vc);
    const until = await timeOut(w, muted.id);
    expect(await db().sql(`select 1 from "VoiceState" where "userId" = $1`, [muted.id])).toEqual([]);
    expect(
      await db().sql(`select 1 from "VoiceSession" where "userId" = $1 and "endedAt" is null`, [muted.id]),
    ).toEqual([]);

    await refusedTimedOut(() => voice().joinVoice(muted, vc), until, ['CONNECT']);
    await refusedTimedOut(() => voice().joinVoice(muted, stage), until, ['CONNECT']);
  });

  it('a join racing a timeout never leaves the timed-out member in voice (30 rounds, forked EntityManagers)', async () => {
    const w = await h.world('Race');
    const vc = await voiceChannel(w.server.id);
    let joinsWon = 0;
    for (let round = 0; round < 30; round++) {
      const member = await h.joined(w, `racer${round}`);
      const until = new Date(Date.now() + 3_600_000);
      // Every other round the join starts a little later, so both orders of commit occur.
      const lag = round % 2 === 0 ? 0 : (round % 6) + 2;
      const [join, timeout] = await race(db(), 2, async (em, i) => {
        if (i === 1) return h.memberships(em).timeout(w.owner, w.server.id, member, until);
        await new Promise((resolve) => setTimeout(resolve, lag));
        return voice(em).joinVoice(member, vc);
      });
      expect(timeout.status).toBe('fulfilled');
      if (join.status === 'rejected') expect(join.reason).toBeInstanceOf(MemberTimedOut);
      else joinsWon++;
      // Whichever committed first, the member ends outside voice with no open session.
      expect(await db().sql(`select 1 from "VoiceState" where "userId" = $1`, [member.id])).toEqual([]);
      expect(
        await db().sql(`select 1 from "VoiceSession" where "userId" = $1 and "endedAt" is null`, [member.id]),
      ).toEqual([]);
    }
    console.log(`join vs timeout: the join committed first in ${joinsWon} of 30 rounds`);
  });

  it('may not speak in a call it is still in: no un-muting, video, stream, raised hand or speaker seat', async () => {
    const w = await h.world('Stage');
    const muted = await h.joined(w, 'muted');
    // MUTE_MEMBERS and REQUEST_TO_SPEAK granted, so only the timeout can refuse.
    await h.role(w.server.id, F.MUTE_MEMBERS | F.REQUEST_TO_SPEAK, 2, [muted.id]);
    const stage = await voiceChannel(w.server.id, 'GUILD_STAGE_VOICE');
    const vc = await voiceChannel(w.server.id);
    await voice().joinVoice(muted, stage, { selfMute: true });
    // A state left from before the timeout (the timeout itself disconnects; this models a state it missed).
    const until = await timeOutInDatabase(w.server.id, muted.id);

    await refusedTimedOut(() => voice().setSelfState(muted, { selfMute: false }), until, ['SPEAK']);
    await refusedTimedOut(() => voice().setSelfState(muted, { selfVideo: true }), until, ['STREAM']);
    await refusedTimedOut(() => voice().setSelfState(muted, { selfStream: true }), until, ['STREAM']);
    await refusedTimedOut(() => voice().requestToSpeak(muted), until, ['REQUEST_TO_SPEAK']);
    await refusedTimedOut(() => voice().setSuppress(muted, w.server.id, muted, false), until, ['MUTE_MEMBERS']);
    await refusedTimedOut(() => voice().inviteToSpeak(w.owner, w.server.id, muted), until, ['SPEAK']);
    // Muting, deafening and stepping down are not speaking.
    await voice().setSelfState(muted, { selfDeaf: true });
    await voice().setSuppress(muted, w.server.id, muted, true);
    // Nor is leaving; coming back is joining.
    await voice().leaveVoice(muted);
    await refusedTimedOut(() => voice().joinVoice(muted, vc), until, ['CONNECT']);
  });

  it('leaves the owner and administrators untouched, ends when the timeout ends, and does not reach DMs', async () => {
    const w = await h.world('Exempt');
    const admin = await h.joined(w, 'admin');
    const muted = await h.joined(w, 'muted');
    await h.role(w.server.id, F.ADMINISTRATOR, 3, [admin.id]);
    const message = await h.messages().send(muted, w.textId, 'hi');
    await timeOutInDatabase(w.server.id, w.owner.id);
    await timeOutInDatabase(w.server.id, admin.id);
    await h.messages().send(w.owner, w.textId, 'owner speaks');
    await h.messages().send(admin, w.textId, 'admin speaks');
    await h.reactions().react(admin, message.id, '👍');
    await h.threads().createThread(admin, w.textId, { name: 'admin thread' });
    await h.memberships().setNickname(admin, w.server.id, admin, 'still admin');
    await voice().joinVoice(admin, await voiceChannel(w.server.id));

    const until = await timeOut(w, muted.id);
    await refusedTimedOut(() => h.reactions().react(muted, message.id, '👍'), until);
    // A server's timeout is that server's: a DM between members of it still works.
    const dm = await h.dms().openDM(muted, w.owner);
    await h.messages().send(muted, dm.id, 'sorry');

    await db().sql(`update "ServerMember" set "timedOutUntil" = now() - interval '1 second' where "userId" = $1`, [
      muted.id,
    ]);
    await h.messages().send(muted, w.textId, 'back');
    await h.reactions().react(muted, message.id, '👍');
  });

  it('tells a missing permission the timeout did not cause from the timeout: a hidden channel stays MissingPermission', async () => {
    const w = await h.world('Hidden');
    const muted = await h.joined(w, 'muted');
    const hidden = await h.channel(w.server.id);
    await h.overwrite(hidden, w.server.id, 'ROLE', 0n, F.VIEW_CHANNEL);
    await timeOut(w, muted.id);
    const failure = await h.refused(() => h.messages().pins(muted, hidden), MissingPermission, {
      permissions: ['VIEW_CHANNEL', 'READ_MESSAGE_HISTORY'],
    });
    expect(failure).not.toBeInstanceOf(MemberTimedOut);
  });
});
