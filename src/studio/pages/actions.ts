import { ValidationFailed } from '../../domain/errors';
import { idArg } from '../../domain/identity/ids';
import type { MessageView } from '../../entities/message/MessageQueries';
import { User } from '../../entities/user/User';
import type { UserRepository } from '../../entities/user/UserRepository';
import { MessageService } from '../../messaging/message-service';
import { MembershipService } from '../../servers/membership-service';
import { type Ctx, redirect, type Route } from '../context';
import { csrfField, href, html, type Html, seg } from '../html';
import type { ServerView } from '../server-data';
import { query } from '../sql';

/**
 * Write mode: each action calls one domain method as the chosen actor, so the domain's permission
 * and hierarchy checks, audit entries and events apply exactly as for a service. Nothing here
 * updates rows directly.
 */

function actorField(defaultActor: string): Html {
  return html`<input
    name="actor"
    value="${defaultActor}"
    size="16"
    aria-label="act as (user id or Name#0000)"
    title="act as (user id or Name#0000)"
  />`;
}

export function memberActions(ctx: Ctx, view: ServerView, userId: string): Html {
  if (userId === view.ownerId) return html``;
  return html`<form class="inline" method="post" action="/actions/kick" data-confirm="Act on this member?">
    ${csrfField(ctx.csrf)} <input type="hidden" name="server" value="${view.id}" /><input
      type="hidden"
      name="target"
      value="${userId}"
    />as ${actorField(view.ownerTag)}
    <input name="reason" placeholder="reason (ban: required)" size="12" aria-label="reason" />
    <button class="danger" type="submit">kick</button>
    <button class="danger" type="submit" formaction="/actions/ban">ban</button>
  </form>`;
}

export function messageActions(ctx: Ctx, m: MessageView, _serverId: string | null): Html {
  return html`<form class="inline" method="post" action="/actions/delete-message" data-confirm="Delete this message?">
    ${csrfField(ctx.csrf)} <input type="hidden" name="message" value="${m.id}" />as
    ${actorField(`${m.author.username}#${m.author.discriminator}`)}<input
      name="reason"
      placeholder="reason"
      size="10"
    />
    <button class="danger" type="submit">delete</button>
  </form>`;
}

function field(ctx: Ctx, name: string): string {
  const value = ctx.form?.get(name);
  if (value === null || value === undefined || value === '') throw new ValidationFailed(name, 'is required');
  return value;
}

/** The actor: a user id, or a tag (Name#0000) resolved through the domain's lookup. */
async function actorOf(ctx: Ctx): Promise<string> {
  const given = field(ctx, 'actor').trim();
  if (/^[0-9]+$/.test(given)) return idArg(given, 'actor');
  const user = await ctx.em.getRepository<User, UserRepository>(User).findByTagOrFail(given);
  return user.id;
}

const reasonOf = (ctx: Ctx) => ctx.form?.get('reason') || undefined;

async function kick(ctx: Ctx) {
  const server = idArg(field(ctx, 'server'), 'server');
  await new MembershipService(ctx.em).kick(await actorOf(ctx), server, idArg(field(ctx, 'target'), 'target'), {
    reason: reasonOf(ctx),
  });
  return redirect(href(`/servers/${seg(server)}`, { done: 'kicked' }));
}

async function ban(ctx: Ctx) {
  const server = idArg(field(ctx, 'server'), 'server');
  await new MembershipService(ctx.em).ban(await actorOf(ctx), server, idArg(field(ctx, 'target'), 'target'), {
    reason: field(ctx, 'reason'),
  });
  return redirect(href(`/servers/${seg(server)}`, { done: 'banned' }));
}

async function deleteMessage(ctx: Ctx) {
  const messageId = idArg(field(ctx, 'message'), 'message');
  const actor = await actorOf(ctx);
  const [found] = await query<{ channelId: string }>(
    ctx.em,
    `select "channelId"::text as "channelId" from "Message" where id = ?`,
    [messageId],
  );
  const channelId = found?.channelId;
  await new MessageService(ctx.em).deleteMessage(actor, messageId, { reason: reasonOf(ctx) });
  return redirect(channelId ? href(`/channels/${seg(channelId)}`, { done: 'deleted' }) : '/');
}

export const ACTION_ROUTES: Route[] = [
  { method: 'POST', path: '/actions/kick', handler: kick },
  { method: 'POST', path: '/actions/ban', handler: ban },
  { method: 'POST', path: '/actions/delete-message', handler: deleteMessage },
];
