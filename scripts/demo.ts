/**
 * npm run demo: migrate, seed a small world, then tell a short story through the domain methods and
 * print the event stream a gateway would have received. Runs on the embedded server unless
 * DATABASE_URL is set; safe to run again (each run registers new people).
 */
import { DomainError } from '../src/domain/errors';
import { RelationshipType } from '../src/domain/identity/relationships';
import { DomainEvent } from '../src/entities/events/DomainEvent';
import { Relationship } from '../src/entities/user/Relationship';
import { User } from '../src/entities/user/User';
import { createOrm, migrate } from '../src/db/orm';
import { DatabaseSeeder } from '../src/seeders/DatabaseSeeder';

const say = (line = '') => console.log(line);
const step = (title: string) => say(`\n== ${title}`);

async function main(): Promise<void> {
  const orm = await createOrm();
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
    const users = () => orm.em.fork().getRepository(User);
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
    await otherNova.setPresence({ status: 'ONLINE', customStatus: { text: 'making friends', emoji: null, expiresAt: null } });
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
    say(`${nova.tag} sees: ${view.map((v) => `${v.userId === otherNova.id ? otherNova.tag : stranger.tag} ${RelationshipType[v.type]}`).join(', ')}`);

    step('The event stream a gateway consumer received');
    const names = new Map([nova, otherNova, stranger].map((u) => [u.id, u.tag]));
    const name = (id: unknown) => names.get(String(id)) ?? String(id);
    for (const event of await events.poll(consumer, { limit: 100 })) {
      const to = (event.userIds ?? []).map(name).join(', ');
      const p = event.payload as Record<string, unknown>;
      const detail =
        event.type.startsWith('RELATIONSHIP')
          ? `${name(p.id)} ${RelationshipType[p.type as number] ?? p.type}`
          : event.type === 'PRESENCE_UPDATE'
            ? `${p.status}`
            : JSON.stringify(p).slice(0, 80);
      say(`#${event.id}  ${event.type.padEnd(20)} to ${to.padEnd(12)} ${detail}`);
      await events.ack(consumer, event.id);
    }
    await events.removeConsumer(consumer);
    say('\nDone.');
  } finally {
    await orm.close(true);
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
