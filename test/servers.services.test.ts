import { describe, expect, it } from 'vitest';
import { ValidationFailed } from '../src/domain/errors';
import { ChannelType } from '../src/entities/channel/Channel';
import { ServerMember } from '../src/entities/server/ServerMember';
import { ChannelService } from '../src/servers/channel-service';
import { EmojiService } from '../src/servers/expression-service';
import { RoleService } from '../src/servers/role-service';
import { useTestDatabase } from './support/db';
import { membershipHelpers } from './support/membership';

/**
 * The argument convention of the server services (issue 15): `(actor, server, ...targets, input, { reason })`.
 * The reason travels in an options object; the old positional string is refused, not silently dropped.
 */
const db = useTestDatabase();
const { world, joined, state, refusedUnchanged, auditLog } = membershipHelpers(db);
const roles = () => new RoleService(db().fork());
const channels = () => new ChannelService(db().fork());
const emojis = () => new EmojiService(db().fork());

async function counts(serverId: string) {
  const [row] = await db().sql<{ roles: number; channels: number; emojis: number }>(
    `select (select count(*)::int from "Role" where "serverId" = $1) as roles,
            (select count(*)::int from "Channel" where "serverId" = $1) as channels,
            (select count(*)::int from "Emoji" where "serverId" = $1) as emojis`,
    [serverId],
  );
  return row;
}

describe('the options object of role, channel and expression operations', () => {
  it('refuses a bare reason string (the old positional argument) with ValidationFailed and writes nothing', async () => {
    const w = await world();
    const before = await counts(w.server.id);
    const legacy = 'spring cleaning' as never;
    await refusedUnchanged(
      w.server.id,
      () => roles().createRole(w.owner, w.server.id, { name: 'Mods' }, legacy),
      ValidationFailed,
      { field: 'options' },
    );
    await refusedUnchanged(
      w.server.id,
      () => channels().createChannel(w.owner, w.server.id, { type: ChannelType.GUILD_TEXT, name: 'memes' }, legacy),
      ValidationFailed,
      { field: 'options' },
    );
    await refusedUnchanged(
      w.server.id,
      () => channels().deleteChannel(w.owner, w.server.id, w.textId, legacy),
      ValidationFailed,
      { field: 'options' },
    );
    await refusedUnchanged(
      w.server.id,
      () => emojis().createEmoji(w.owner, w.server.id, { name: 'wave' }, legacy),
      ValidationFailed,
      { field: 'options' },
    );
    expect(await counts(w.server.id)).toEqual(before);
  });

  it('records { reason } in the audit log, and takes the server, member, role and channel as entities, { id } or ids', async () => {
    const w = await world();
    const member = await joined(w);
    const mods = await roles().createRole(w.owner, w.server, { name: 'Mods' }, { reason: 'staffing' });
    const membership = await db().fork().findOneOrFail(ServerMember, { server: w.server.id, user: member.id });
    await roles().assignRole(w.owner, { id: w.server.id }, membership, mods, { reason: 'promotion' });
    const room = await channels().createChannel(w.owner, w.server, { type: ChannelType.GUILD_TEXT, name: 'room' });
    await channels().deleteChannel(w.owner, w.server.id, room, {});
    const entries = (await auditLog(w.server.id)).slice(-4).map((e) => [e.actionType, e.reason]);
    expect(entries).toEqual([
      [30, 'staffing'],
      [25, 'promotion'],
      [10, null],
      [12, null],
    ]);
    expect((await state(w.server.id)).memberRoles).toBe(1);
  });
});
