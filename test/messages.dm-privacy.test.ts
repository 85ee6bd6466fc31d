import { Client } from 'pg';
import { describe, expect, it } from 'vitest';
import {
  DirectMessagesNotAllowed,
  DomainError,
  NotAMember,
  NotFriends,
  UserBlocked,
  ValidationFailed,
} from '../src/domain/errors';
import { ServerMember } from '../src/entities/server/ServerMember';
import type { User } from '../src/entities/user/User';
import { RelationshipService } from '../src/identity/relationship-service';
import { useTestDatabase } from './support/db';
import { messagingHelpers } from './support/messaging';

const db = useTestDatabase({ poolSize: 10 });
const { register, messages, dms, memberships, world, joined, refused, counts, fork } = messagingHelpers(db);
const relationships = () => new RelationshipService(fork());

async function befriend(a: User, b: User): Promise<void> {
  await relationships().sendFriendRequest(a, b);
  await relationships().acceptFriendRequest(b, a);
}

/** Two users who share one server (its owner and a member) and are not friends. */
async function coMembers() {
  const w = await world();
  const member = await joined(w, 'member');
  return { w, owner: w.owner, member };
}

const allowDirectMessages = async (serverId: string, userId: string) =>
  (
    await db().sql<{ allowed: boolean }>(
      `select "allowDirectMessages" as allowed from "ServerMember" where "serverId" = $1 and "userId" = $2`,
      [serverId, userId],
    )
  )[0]?.allowed;

describe('DM privacy: who may open a 1:1 DM', () => {
  it('strangers (neither friends nor co-members) are refused, with nothing written', async () => {
    const alice = await register('alice');
    const bob = await register('bob');
    await refused(() => dms().openDM(bob, alice), DirectMessagesNotAllowed, { code: 'DIRECT_MESSAGES_NOT_ALLOWED' });
  });

  it('friends may open and send, sharing no server', async () => {
    const alice = await register('alice');
    const bob = await register('bob');
    await befriend(alice, bob);
    const dm = await dms().openDM(bob, alice);
    const message = await messages().send(bob, dm.id, 'hi, friend');
    expect(message.content).toBe('hi, friend');
  });

  it('co-members may, by default (allowDirectMessages defaults to true)', async () => {
    const { w, owner, member } = await coMembers();
    expect(await allowDirectMessages(w.server.id, member.id)).toBe(true);
    expect(await allowDirectMessages(w.server.id, owner.id)).toBe(true);
    const dm = await dms().openDM(member, owner);
    await messages().send(member, dm.id, 'hello from the server');
    await messages().send(owner, dm.id, 'hello back');
  });

  it("the recipient's setting counts: off refuses the sender, the sender's own setting does not", async () => {
    const { w, owner: alice, member: bob } = await coMembers();
    await memberships().setDirectMessages(alice, w.server, false);
    expect(await allowDirectMessages(w.server.id, alice.id)).toBe(false);
    await refused(() => dms().openDM(bob, alice), DirectMessagesNotAllowed);
    // Alice may still reach Bob, who allows DMs; and once the DM exists Bob's sends are re-checked.
    const dm = await dms().openDM(alice, bob);
    await messages().send(alice, dm.id, 'I can write to you');
    await refused(() => messages().send(bob, dm.id, 'but I cannot answer'), DirectMessagesNotAllowed);
    await memberships().setDirectMessages(alice, w.server, true);
    await messages().send(bob, dm.id, 'now I can');
  });

  it('one server that allows is enough: the setting is per server', async () => {
    const { w, owner: alice, member: bob } = await coMembers();
    const other = await world('Other');
    await memberships().acceptInvite(alice, other.code);
    await memberships().acceptInvite(bob, other.code);
    await memberships().setDirectMessages(alice, w.server, false);
    const dm = await dms().openDM(bob, alice);
    await memberships().setDirectMessages(alice, other.server, false);
    await refused(() => messages().send(bob, dm.id, 'no server left'), DirectMessagesNotAllowed);
  });

  it('unfriending, then sending into the existing DM, is refused', async () => {
    const alice = await register('alice');
    const bob = await register('bob');
    await befriend(alice, bob);
    const dm = await dms().openDM(bob, alice);
    await messages().send(bob, dm.id, 'before');
    await relationships().removeFriend(alice, bob);
    await refused(() => messages().send(bob, dm.id, 'after the unfriend'), DirectMessagesNotAllowed);
    await refused(() => dms().openDM(bob, alice), DirectMessagesNotAllowed);
  });

  it('leaving the shared server, then sending into the existing DM, is refused (either side leaving)', async () => {
    const { w, owner: alice, member: bob } = await coMembers();
    const carol = await joined(w, 'carol');
    const dm = await dms().openDM(bob, alice);
    await messages().send(bob, dm.id, 'before');
    await memberships().leave(bob, w.server);
    await refused(() => messages().send(bob, dm.id, 'after I left'), DirectMessagesNotAllowed);

    const toCarol = await dms().openDM(alice, carol);
    await memberships().leave(carol, w.server);
    await refused(() => messages().send(alice, toCarol.id, 'after you left'), DirectMessagesNotAllowed);
  });

  it('every refusing rule gives the same code and message; a block keeps UserBlocked', async () => {
    const failures: unknown[] = [];
    const collect = async (action: () => Promise<unknown>) =>
      failures.push(await refused(action, DirectMessagesNotAllowed));

    await collect(async () => dms().openDM(await register('x'), await register('y')));
    const off = await coMembers();
    await memberships().setDirectMessages(off.owner, off.w.server, false);
    await collect(() => dms().openDM(off.member, off.owner));
    const a = await register('a');
    const b = await register('b');
    await befriend(a, b);
    const dm = await dms().openDM(a, b);
    await relationships().removeFriend(b, a);
    await collect(() => messages().send(a, dm.id, 'x'));
    const left = await coMembers();
    const leftDm = await dms().openDM(left.member, left.owner);
    await memberships().leave(left.member, left.w.server);
    await collect(() => messages().send(left.member, leftDm.id, 'x'));

    const seen = failures.map((f) => [
      (f as DomainError).code,
      (f as Error).message,
      JSON.stringify((f as DomainError).details),
    ]);
    expect(new Set(seen.map((s) => JSON.stringify(s))).size).toBe(1);
    expect(seen[0][0]).toBe('DIRECT_MESSAGES_NOT_ALLOWED');

    const blocked = await coMembers();
    await relationships().block(blocked.owner, blocked.member);
    await refused(() => dms().openDM(blocked.member, blocked.owner), UserBlocked);
  });
});

describe('DM privacy: group DMs add only friends of the adder', () => {
  it('createGroupDM and addRecipient refuse a co-member who is not a friend, writing nothing', async () => {
    const { w, owner, member } = await coMembers();
    const friend = await register('friend');
    await befriend(owner, friend);
    expect(await allowDirectMessages(w.server.id, member.id)).toBe(true);
    await refused(() => dms().createGroupDM(owner, [friend, member]), NotFriends);
    const group = await dms().createGroupDM(owner, [friend]);
    await refused(() => dms().addRecipient(owner, group.id, member), NotFriends);
    // The friend is in the group, but the member is the owner's co-member, not the friend's friend.
    await refused(() => dms().addRecipient(friend, group.id, member), NotFriends);
  });
});

describe('setDirectMessages', () => {
  it('stores the per-server setting through the service and the membership, writing no event', async () => {
    const { w, member } = await coMembers();
    const before = await counts();
    const updated = await memberships().setDirectMessages(member, w.server.id, false);
    expect(updated.allowDirectMessages).toBe(false);
    expect('allowDirectMessages' in updated.toPublic()).toBe(false);
    expect(await allowDirectMessages(w.server.id, member.id)).toBe(false);
    expect(await counts()).toEqual(before);

    const membership = await fork().findOneOrFail(ServerMember, { server: w.server.id, user: member.id });
    await membership.setDirectMessages(true);
    expect(await allowDirectMessages(w.server.id, member.id)).toBe(true);
  });

  it('refuses a non-member (NotAMember) and a non-boolean (ValidationFailed), writing nothing', async () => {
    const { w } = await coMembers();
    const stranger = await register('stranger');
    await refused(() => memberships().setDirectMessages(stranger, w.server, false), NotAMember);
    const { member } = await coMembers();
    await refused(() => memberships().setDirectMessages(member, w.server, 'no' as never), ValidationFailed);
  });
});

describe('DM privacy under concurrency', () => {
  /** A holder transaction that has deleted or changed a membership row but not committed yet. */
  async function sendWhileHeld(change: (holder: Client, serverId: string, userId: string) => Promise<unknown>) {
    const { w, owner: alice, member: bob } = await coMembers();
    const dm = await dms().openDM(bob, alice);
    const holder = new Client({ connectionString: db().url });
    await holder.connect();
    try {
      await holder.query('begin');
      await change(holder, w.server.id, alice.id);
      const [{ pid }] = (await holder.query<{ pid: number }>('select pg_backend_pid() as pid')).rows;
      const before = await counts();
      const send = messages()
        .send(bob, dm.id, 'racing')
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      let waited = false;
      for (let i = 0; i < 500 && !waited; i++) {
        const { rows } = await holder.query<{ n: number }>(
          'select count(*)::int as n from pg_stat_activity where $1 = any(pg_blocking_pids(pid))',
          [pid],
        );
        waited = rows[0].n > 0;
        if (!waited) await new Promise((resolve) => setTimeout(resolve, 10));
      }
      // The send waits on the membership row it relies on, instead of reading the old version.
      expect(waited).toBe(true);
      await holder.query('commit');
      expect(await send).toBeInstanceOf(DirectMessagesNotAllowed);
      const after = await counts();
      expect(after.messages).toBe(before.messages);
      expect(after.channelRows).toBe(before.channelRows);
    } finally {
      await holder.query('rollback').catch(() => undefined);
      await holder.end();
    }
  }

  it('a send racing the recipient leaving the shared server waits for the leave and is refused', async () => {
    await sendWhileHeld((holder, serverId, userId) =>
      holder.query('delete from "ServerMember" where "serverId" = $1 and "userId" = $2', [serverId, userId]),
    );
  });

  it('a send racing the recipient turning the setting off waits for it and is refused', async () => {
    await sendWhileHeld((holder, serverId, userId) =>
      holder.query('update "ServerMember" set "allowDirectMessages" = false where "serverId" = $1 and "userId" = $2', [
        serverId,
        userId,
      ]),
    );
  });

  it('leaves racing sends through the services, forked, 20 rounds: each send lands or gets the one code; after the leave, sends are refused', async () => {
    for (let round = 0; round < 20; round++) {
      const { w, owner: alice, member: bob } = await coMembers();
      const dm = await dms().openDM(bob, alice);
      const [sent, left] = await Promise.allSettled([
        messages(fork()).send(bob, dm.id, `round ${round}`),
        memberships(fork()).leave(bob, w.server),
      ]);
      expect(left.status).toBe('fulfilled');
      if (sent.status === 'rejected') expect(sent.reason).toBeInstanceOf(DirectMessagesNotAllowed);
      await refused(() => messages().send(bob, dm.id, 'after'), DirectMessagesNotAllowed);
    }
  });
});
