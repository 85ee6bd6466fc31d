import type { EntityManager } from '@mikro-orm/postgresql';
import { analytics } from '../../entities/analytics/AnalyticsQueries';
import { idArg } from '../../domain/identity/ids';
import { formatBytes } from '../../ops/health/format';
import type { Finding, HealthReport } from '../../ops/health/types';
import { studioHealthReport } from '../health';
import { barChart, lineChart, rankChart } from '../charts';
import { type Ctx, json, page, type Route } from '../context';
import { href, html, type Html, seg } from '../html';
import { listServers } from '../server-data';
import { query } from '../sql';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const DAYS = 14;

/** Everything the dashboard shows for one server, from the Analytics query API only. */
export async function dashboardData(em: EntityManager, serverArg: string) {
  const serverId = idArg(serverArg, 'server');
  const api = analytics(em);
  const live = await api.dashboard(serverId);
  const weekAgo = new Date(Date.now() - 7 * DAY);
  const daysSince = new Date(Math.floor(Date.now() / DAY) * DAY - (DAYS - 1) * DAY);
  const [daily, voice, top] = [
    await api.messageActivity(serverId, { since: daysSince, bucket: 'day' }),
    await api.voiceMinutes(serverId, { since: weekAgo }),
    await api.topChannels(serverId, { since: weekAgo }, { limit: 10 }),
  ];
  const ids = [...new Set([...top.map((t) => t.channelId), ...voice.byChannel.map((v) => v.channelId)])];
  const names = await query<{ id: string; name: string | null }>(
    em,
    `select id::text as id, name from "Channel" where id = any(?::bigint[])`,
    [ids.length ? ids : ['0']],
  );
  const nameOf = new Map(names.map((n) => [n.id, n.name ?? n.id]));
  // Hours and days without activity are absent from the API's rows: the charts show them as zeros.
  const hourly = Array.from({ length: 24 }, (_, i) => {
    const at = new Date(live.since.getTime() + i * HOUR);
    const found = live.hourly.find((h) => h.hour.getTime() === at.getTime());
    return {
      hour: at,
      messages: found?.messages ?? 0,
      activeUsers: found?.activeUsers ?? 0,
      voiceMinutes: found?.voiceMinutes ?? 0,
    };
  });
  const days = Array.from({ length: DAYS }, (_, i) => {
    const at = new Date(daysSince.getTime() + i * DAY);
    const found = daily.find((d) => d.bucket.getTime() === at.getTime());
    return { day: at, messages: found?.messages ?? 0, activeUsers: found?.activeUsers ?? 0 };
  });
  return {
    serverId,
    last24h: { messages: live.messages, activeUsers: live.activeUsers, voiceMinutes: live.voiceMinutes },
    hourly,
    daily: days,
    voice: {
      minutes: voice.minutes,
      sessions: voice.sessions,
      byChannel: voice.byChannel.map((v) => ({ ...v, name: nameOf.get(v.channelId) ?? v.channelId })),
    },
    topChannels: top.map((t) => ({ ...t, name: nameOf.get(t.channelId) ?? t.channelId })),
  };
}

const hh = (d: Date) => `${String(d.getUTCHours()).padStart(2, '0')}h`;

async function health(ctx: Ctx): Promise<HealthReport | null> {
  return studioHealthReport(ctx.orm, ctx.databaseUrl);
}

const findingItem = (f: Finding) =>
  html`<li><span class="health-${f.level}">${f.level}</span> ${f.check}: ${f.message}</li>`;

function healthPanel(report: HealthReport | null): Html {
  if (!report) return html`<p class="muted">no database URL to check</p>`;
  const s = report.server;
  return html`<p>
      status <span class="health-${report.status}" id="health-status">${report.status.toUpperCase()}</span> ·
      ${report.target}
    </p>
    ${
      s
        ? html`<p>
            ${s.version.split(' on ')[0]} · database ${s.database}, ${formatBytes(s.databaseSizeBytes)} · connections
            ${report.connections?.total}/${report.connections?.max} · cache hit
            ${report.cacheHitRatio == null ? 'n/a' : `${(report.cacheHitRatio * 100).toFixed(2)}%`}
          </p>`
        : ''
    }
    <ul>
      ${report.findings.map(findingItem)}
    </ul>`;
}

async function dashboardPage(ctx: Ctx) {
  const servers = await listServers(ctx.em);
  const chosen = ctx.query.get('server') || servers[0]?.id;
  const report = await health(ctx);
  if (!chosen) {
    return page(
      ctx,
      'Dashboard',
      'dashboard',
      html`<p class="empty">no servers yet: seed the database (npm run db:studio -- --seed)</p>
        <section class="card">
          <h2>Database health</h2>
          ${healthPanel(report)}
        </section>`,
    );
  }
  const data = await dashboardData(ctx.em, chosen);
  const server = servers.find((s) => s.id === data.serverId);
  const serverOption = (s: (typeof servers)[number]) =>
    html`<option value="${s.id}" ${s.id === data.serverId ? html` selected` : ''}>${s.name}</option>`;
  const body = html`<form method="get" action="/" class="filters">
      server
      <select name="server" data-autosubmit>
        ${servers.map(serverOption)}
      </select>
      <button type="submit">show</button>
      ${server ? html`<a href="/servers/${seg(server.id)}">open ${server.name}</a>` : ''}
    </form>
    <div class="stats">
      <div class="stat"><b id="stat-messages">${data.last24h.messages}</b><span>messages, last 24 h</span></div>
      <div class="stat"><b>${data.last24h.activeUsers}</b><span>active users, last 24 h</span></div>
      <div class="stat"><b>${data.last24h.voiceMinutes}</b><span>voice minutes, last 24 h</span></div>
      <div class="stat"><b>${data.voice.minutes}</b><span>voice minutes, 7 days</span></div>
    </div>
    <div class="cards">
      <section class="card wide" id="chart-hourly">
        <h2>Messages and active users per hour (UTC)</h2>
        ${lineChart(
          data.hourly.map((h) => ({ label: hh(h.hour), values: [h.messages, h.activeUsers] })),
          ['messages', 'active users'],
          { width: 940, height: 190 },
        )}
      </section>
      <section class="card" id="chart-daily">
        <h2>Daily engagement, ${DAYS} days</h2>
        ${barChart(
          data.daily.map((d) => ({ label: d.day.toISOString().slice(5, 10), values: [d.messages, d.activeUsers] })),
          ['messages', 'active users'],
        )}
      </section>
      <section class="card" id="chart-top">
        <h2>Top channels, 7 days</h2>
        ${rankChart(
          data.topChannels.map((t) => ({
            label: `#${t.name}`,
            value: t.messages,
            href: `/channels/${seg(t.channelId)}`,
          })),
          'messages',
        )}
      </section>
      <section class="card" id="chart-voice">
        <h2>Voice minutes</h2>
        ${barChart(
          data.hourly.map((h) => ({ label: hh(h.hour), values: [h.voiceMinutes] })),
          ['voice minutes'],
        )}
        ${rankChart(
          data.voice.byChannel.map((v) => ({ label: v.name, value: v.minutes })),
          'minutes',
        )}
      </section>
      <section class="card" id="health">
        <h2>Database health</h2>
        ${healthPanel(report)}
        <p><a href="${href('/api/health')}">full report (JSON)</a></p>
      </section>
    </div>`;
  return page(ctx, 'Dashboard', 'dashboard', body);
}

export const DASHBOARD_ROUTES: Route[] = [
  { method: 'GET', path: '/', handler: dashboardPage },
  {
    method: 'GET',
    path: '/api/dashboard/:serverId',
    handler: async (ctx) => json(await dashboardData(ctx.em, ctx.params.serverId)),
  },
  { method: 'GET', path: '/api/health', handler: async (ctx) => json(await health(ctx)) },
];
