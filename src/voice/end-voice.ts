/**
 * Ending stays from other areas' operations (kick, ban, leave, channel deletion), inside the caller's
 * transaction and under the voice lock order (see voice-stays.ts).
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import { VoiceState } from '../entities/voice/VoiceState';
import { closeOpenSessions, endStay, lockVoice } from './voice-stays';

/**
 * Ends `userId`'s stay in voice if it is in `serverId`'s channels (kick, ban, leave). Runs inside the
 * caller's transaction, after its membership lock.
 */
export async function endVoiceInServer(tx: EntityManager, serverId: string, userId: string): Promise<boolean> {
  const { state } = await lockVoice(tx, userId, [], { load: false });
  if (!state || state.server.id !== serverId) return false;
  await endStay(tx, state);
  return true;
}

/** Ends every stay in a channel about to be deleted, inside the caller's transaction. Returns how many. */
export async function endVoiceInChannel(tx: EntityManager, channelId: string): Promise<number> {
  await tx.execute('select 1 from "Channel" where "id" = ? for no key update', [channelId]);
  const states = await tx.find(VoiceState, { channel: channelId }, { refresh: true });
  await closeOpenSessions(
    tx,
    states.map((s) => s.user.id),
    new Date(),
  );
  for (const state of states) {
    state.left();
    tx.remove(state);
  }
  return states.length;
}
