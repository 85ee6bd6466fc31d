/**
 * The demo's messaging story: a conversation with a reply, a ping that does not ping, reactions, a
 * pin, slowmode, a thread, DMs (and a block that closes one), a search, and the unread summary.
 */
import { DomainError } from '../src/domain/errors';
import type { CrybOrm } from '../src/db/orm';
import { history } from '../src/entities/message/MessageQueries';
import { search } from '../src/entities/message/search';
import type { User } from '../src/entities/user/User';
import { DirectMessageService } from '../src/messaging/direct-message-service';
import { MessageService } from '../src/messaging/message-service';
import { ReactionService } from '../src/messaging/reaction-service';
import { ReadStateService } from '../src/messaging/read-state-service';
import { ThreadService } from '../src/messaging/thread-service';
import { ChannelService } from '../src/servers/channel-service';

const say = (line = '') => console.log(line);

async function refusal(attempt: () => Promise<unknown>): Promise<string> {
  try {
    await attempt();
    return 'allowed';
  } catch (error) {
    if (!(error instanceof DomainError)) throw error;
    return `refused: ${error.code} (${error.message})`;
  }
}

export interface MessagingCast {
  owner: User;
  moderator: User;
  member: User;
  blocked: User;
  serverId: string;
  generalId: string;
}

export async function messagingStory(orm: CrybOrm, cast: MessagingCast): Promise<void> {
  const fork = () => orm.em.fork();
  const messages = () => new MessageService(fork());
  const reactions = () => new ReactionService(fork());
  const { owner, moderator, member, serverId, generalId } = cast;

  const hello = await messages().send(
    member,
    generalId,
    `Hi all! @everyone, the docs are at https://cryb.example/docs`,
  );
  say(`${member.tag}: "${hello.content}"`);
  say(
    `  -> sent; @everyone pinged nobody (${member.tag} lacks MENTION_EVERYONE here): mentionEveryone ` +
      `= ${hello.mentionEveryone}`,
  );
  const reply = await messages().send(moderator, generalId, `Welcome <@${member.id}>!`, { replyTo: hello.id });
  say(`${moderator.tag} replies (${reply.type}), pinging ${member.tag}`);
  for (const [user, emoji] of [
    [owner, '👋'],
    [moderator, '👋'],
    [member, '🎉'],
  ] as const)
    await reactions().react(user, hello.id, emoji);
  say(
    `reactions on the first message: 👋 x2, 🎉 x1; reacting twice is a ` +
      `no-op: ${await reactions().react(owner, hello.id, '👋')}`,
  );
  await messages().pin(moderator, hello.id, { reason: 'useful link' });
  say(`${moderator.tag} pins it (MANAGE_MESSAGES): a PIN notice is posted and the audit log has MESSAGE_PIN`);
  say(
    `${member.tag} tries to delete ${moderator.tag}'s reply ` +
      `-> ${await refusal(() => messages().deleteMessage(member, reply.id))}`,
  );
  await messages().edit(member, hello.id, 'Hi all! The docs are at https://cryb.example/docs (edited)');
  say(`${member.tag} edits their message: editedAt is set`);

  const slow = await new ChannelService(fork()).createChannel(owner, serverId, {
    type: 'GUILD_TEXT' as never,
    name: 'slow-lane',
    rateLimitPerUser: 30,
  });
  await messages().send(member, slow.id, 'first!');
  say(
    `#slow-lane has 30 s slowmode; ${member.tag} sends twice ` +
      `-> ${await refusal(() => messages().send(member, slow.id, 'second!'))}`,
  );

  const threads = new ThreadService(fork());
  const thread = await threads.startThread(moderator, hello.id, { name: 'docs feedback', autoArchiveDuration: 1440 });
  await messages().send(member, thread.id, 'The search page is great');
  await messages().send(owner, thread.id, 'Thanks!');
  const [{ memberCount, messageCount }] = await fork().execute(
    `select "memberCount", "messageCount" from "Channel" where id = ?`,
    [thread.id],
  );
  say(
    `${moderator.tag} starts the thread "docs feedback" from the first message; two replies later it ` +
      `has ${memberCount} members and ${messageCount} messages`,
  );

  const dms = new DirectMessageService(fork());
  const dm = await dms.openDM(member, owner);
  const again = await dms.openDM(owner, member);
  await messages().send(member, dm.id, `Hey ${owner.username}, thanks for the server`);
  say(
    `${member.tag} opens a DM with ${owner.tag}; opening it again from the other side gives the same ` +
      `channel: ${dm.id === again.id}`,
  );
  say(
    `${cast.blocked.tag} (blocked by ${owner.tag}) tries to DM them ` +
      `-> ${await refusal(() => dms.openDM(cast.blocked, owner))}`,
  );

  const page = await history(fork(), owner, generalId, { limit: 5 });
  say(`history of #general as ${owner.tag}, newest first (one query per part, no N+1):`);
  for (const m of page) {
    const tally = m.reactions.map((r) => `${r.emoji.name}${r.count}`).join(' ');
    const text = (m.type === 'PIN' ? '(pinned a message)' : m.content).slice(0, 48).padEnd(48);
    const thread = m.thread ? `  [thread: ${m.thread.name}]` : '';
    say(`  ${m.author.username.padEnd(8)} ${m.type.padEnd(8)} ${text} ${tally}${thread}`);
  }
  const found = await search(fork(), member, { text: '"search page" OR docs', serverId });
  say(
    `search "\\"search page\\" OR docs" as ${member.tag}: ${found.messages.length} hits, best ` +
      `first: ${found.messages.map((m) => `"${m.content.slice(0, 30)}"`).join(', ')}`,
  );
  const weird = await search(fork(), member, { text: `')); drop table "Message"; -- & | ! :* (( \\ "` });
  say(`a hostile query is just text: ${weird.messages.length} hits, no error`);

  const unread = await new ReadStateService(fork()).unreadSummary(member);
  const here = unread.servers.find((s) => s.serverId === serverId);
  say(
    `${member.tag}'s unread summary: ${here?.unreadChannels ?? 0} unread ` +
      `channel(s), ${here?.mentionCount ?? 0} mention(s) in the server, ${unread.directMessages.length} unread DM(s)`,
  );
}
