import type { EntityManager } from '@mikro-orm/postgresql';
import { DirectMessageService } from '../../messaging/direct-message-service';
import { MessageService } from '../../messaging/message-service';
import { ReactionService } from '../../messaging/reaction-service';
import { ThreadService } from '../../messaging/thread-service';
import type { WorldPlan } from './structure';

/**
 * A few operations through the domain methods on top of the bulk world (small and default only):
 * a conversation with a mention, a reply and reactions, a thread, a DM between friends and a group
 * DM. They write what the domain writes (events, analytics, counters), so worlds show that too.
 */
export async function showcase(tx: EntityManager, plan: WorldPlan): Promise<Record<string, string>> {
  const messages = new MessageService(tx);
  const reactions = new ReactionService(tx);
  const server = plan.servers[0];
  if (!server || server.memberIds.length < 4) return {};
  const [owner, admin, moderator] = [server.ownerId, server.adminId!, server.moderatorIds[0]];
  const general = server.openChannelIds[0];
  const hello = await messages.send(owner, general, `Welcome everyone! <@${moderator}> keeps the peace here.`);
  await reactions.react(admin, hello.id, '🎉');
  await reactions.react(moderator, hello.id, '👍');
  const reply = await messages.send(moderator, general, 'Happy to help, just ask.', { replyTo: hello.id });
  const thread = await new ThreadService(tx).createThread(owner, general, { name: 'Plans for the weekend' });
  await messages.send(owner, thread.id, 'Who is in for a game night?');
  await messages.send(admin, thread.id, 'Count me in.');
  const handles: Record<string, string> = { welcomeMessageId: hello.id, replyMessageId: reply.id, threadId: thread.id };
  const friends = plan.friendPairs[0];
  if (friends) {
    const dm = await new DirectMessageService(tx).openDM(friends[0], friends[1]);
    await messages.send(friends[0], dm.id, 'hey, are you around later?');
    handles.friendDmId = dm.id;
  }
  return handles;
}
