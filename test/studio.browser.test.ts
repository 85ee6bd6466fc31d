import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analytics } from '../src/entities/analytics/AnalyticsQueries';
import { startStudio, type Studio } from '../src/studio';
import { useTestDatabase } from './support/db';
import { messagingHelpers } from './support/messaging';
import { type Scenario, seedScenario } from './support/scenarios';
import { SCRIPT } from './studio.world';

/**
 * The studio in a real browser: Debian's chromium, driven by playwright-core. Screenshots go to
 * .studio-screenshots/ (git-ignored). One browser per file; generous timeouts for a busy 2-core machine.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];
const SHOTS = join(__dirname, '..', '.studio-screenshots');

const db = useTestDatabase();
let world: Scenario;
let serverName: string;
let welcome: string;
let scriptId: string;
const tag = async (userId: string) =>
  (
    await db().sql<{ tag: string }>(`select username || '#' || discriminator as tag from "User" where id = $1`, [
      userId,
    ])
  )[0].tag;
let studio: Studio;
let writable: Studio;
let browser: Browser;

beforeAll(async () => {
  if (!existsSync(CHROMIUM))
    throw new Error(
      `no Chromium at ${CHROMIUM}: apt-get install chromium chromium-driver (what .ci/run does), or set CHROMIUM_PATH`,
    );
  mkdirSync(SHOTS, { recursive: true });
  // The small world (about 20 users, 2 servers, history and analytics), plus a hostile message sent through the domain.
  world = await seedScenario(db(), 'small');
  serverName = (await db().sql<{ name: string }>(`select name from "Server" where id = $1`, [world.server.id]))[0].name;
  welcome = world.report.handles.welcomeMessageId!;
  const helpers = messagingHelpers(db);
  scriptId = (await helpers.messages().send(world.member, world.general, SCRIPT)).id;
  // A thread started from the welcome message (the small world's threads are standalone ones).
  const thread = await helpers.threads().startThread(world.owner, welcome, { name: 'Welcome thread' });
  await helpers.messages().send(world.member, thread.id, 'thanks for the welcome');
  studio = await startStudio({ orm: db().orm, port: 0, log: () => undefined });
  writable = await startStudio({ orm: db().orm, port: 0, write: true, log: () => undefined });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, timeout: 60_000 });
}, 180_000);
afterAll(async () => {
  await browser?.close();
  await studio?.close();
  await writable?.close();
});

async function open(base: string, path: string): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1000, height: 700 } });
  page.setDefaultTimeout(30_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  await page.goto(new URL(path, base).toString());
  return { page, errors };
}

/** STUDIO_DOCS_SCREENSHOTS=1 also refreshes the README's pictures in docs/ (1000x700). */
const DOCS = new Set(['dashboard', 'permissions']);
async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: false });
  if (process.env.STUDIO_DOCS_SCREENSHOTS === '1' && DOCS.has(name))
    await page.screenshot({ path: join(__dirname, '..', 'docs', `studio-${name}.png`) });
}

describe('studio in Chromium', () => {
  it('navigates from a server to a channel to a message', async () => {
    const { page, errors } = await open(studio.url, '/servers');
    await page.getByRole('link', { name: serverName, exact: true }).click();
    await page.waitForURL(`**/servers/${world.server.id}`);
    expect(await page.locator('#channel-tree .category').count()).toBeGreaterThan(0);
    await shot(page, 'server');
    await page.locator('#channel-tree').getByRole('link', { name: '# general', exact: true }).click();
    await page.waitForURL(`**/channels/${world.general}`);
    const inGeneral = await db().sql<{ n: number }>(`select count(*)::int as n from "Message" where "channelId" = $1`, [
      world.general,
    ]);
    await expect.poll(() => page.locator('#history article.msg').count()).toBe(Math.min(50, inGeneral[0].n));
    await shot(page, 'channel');
    await page.locator(`article[data-message-id="${welcome}"] a.message-link`).click();
    await page.waitForURL(`**/messages/${welcome}`);
    const expected = (await db().sql<{ content: string }>(`select content from "Message" where id = $1`, [welcome]))[0]
      .content;
    expect(await page.locator('article.msg .content').textContent()).toBe(expected);
    const reactions = await db().sql<{ n: number }>(
      `select count(distinct "emojiKey")::int as n from "Reaction" where "messageId" = $1`,
      [welcome],
    );
    expect(await page.locator('article.msg .reaction').count()).toBe(reactions[0].n);
    expect(await page.locator('article.msg .thread a').textContent()).toBe('Welcome thread');
    await page.locator('article.msg .thread a').click();
    await page.waitForURL(`**/channels/${welcome}`);
    expect(await page.locator('#history article.msg .content').allTextContents()).toContain('thanks for the welcome');
    await shot(page, 'message');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('renders a message whose content is a script tag as text', async () => {
    const { page, errors } = await open(studio.url, `/channels/${world.general}`);
    const script = page.locator(`article[data-message-id="${scriptId}"] .content`);
    expect(await script.textContent()).toBe(SCRIPT);
    expect(await page.evaluate('typeof window.__pwned')).toBe('undefined');
    expect(await page.locator('script').count()).toBe(1);
    await shot(page, 'script-as-text');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('opens the permission explainer and explains where a bit came from', async () => {
    const { page, errors } = await open(studio.url, `/servers/${world.server.id}`);
    await page.getByRole('link', { name: 'permission explainer' }).click();
    await page.waitForURL(`**/servers/${world.server.id}/permissions`);
    // The member muted in #general by a member overwrite.
    await page.locator('select[name="user"]').selectOption(world.muted);
    await page.waitForURL(`**user=${world.muted}**`);
    await page.locator('select[name="channel"]').selectOption(world.general);
    await page.waitForURL(`**channel=${world.general}**`);
    const row = (scope: string, name: string) =>
      page.locator(`${scope} tr`, { has: page.locator('code', { hasText: new RegExp(`^${name}$`) }) });
    const send = row('#changed', 'SEND_MESSAGES');
    expect(await send.locator('td').nth(1).textContent()).toBe('✗ no');
    expect(await send.locator('li').last().textContent()).toBe(`denied by member overwrite ${await tag(world.muted)}`);
    expect(await row('#changed', 'EMBED_LINKS').locator('li').last().textContent()).toBe(
      'implicit rule: without SEND_MESSAGES this does not count',
    );
    const view = row('#every', 'VIEW_CHANNEL');
    expect(await view.locator('td').nth(2).textContent()).toBe('✓ granted');
    expect(await view.locator('td').nth(3).textContent()).toBe('granted by role @everyone');
    await shot(page, 'permissions');
    expect(errors).toEqual([]);
    await page.close();
  });

  it("renders the dashboard's charts with data", async () => {
    const { page, errors } = await open(studio.url, `/?server=${world.server.id}`);
    expect(await page.locator('select[name="server"] option[selected]').textContent()).toBe(serverName);
    const total = (id: string) => page.locator(`#${id} svg.chart`).first().getAttribute('data-total');
    for (const id of ['chart-hourly', 'chart-daily', 'chart-top', 'chart-voice'])
      expect(Number(await total(id)), id).toBeGreaterThan(0);
    expect(await page.locator('#chart-hourly svg.chart circle').count()).toBe(48);
    const d = await page.locator('#chart-hourly svg.chart path.s0').getAttribute('d');
    expect(d!.split('L')).toHaveLength(24);
    const heights = await page
      .locator('#chart-daily svg.chart rect')
      .evaluateAll((rects) => rects.map((r) => Number(r.getAttribute('height'))));
    expect(heights).toHaveLength(28);
    const days = await analytics(db().fork()).messageActivity(world.server.id, {
      since: new Date(Date.now() - 13 * 86_400_000),
      bucket: 'day',
    });
    expect(heights.filter((h) => h > 0).length).toBeGreaterThanOrEqual(days.filter((d) => d.messages > 0).length);
    expect(days.filter((d) => d.messages > 0).length).toBeGreaterThan(1);
    const box = await page.locator('#chart-hourly svg.chart').boundingBox();
    expect(box!.width).toBeGreaterThan(500);
    expect(await page.locator('#health-status').textContent()).toMatch(/^(OK|WARNING|CRITICAL)$/);
    await shot(page, 'dashboard');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('filters a table through the form, relations linking to rows', async () => {
    const { page, errors } = await open(studio.url, '/entities');
    await page.getByRole('link', { name: 'Message', exact: true }).click();
    await page.waitForURL('**/entities/Message');
    await page.locator('details.filters summary').click();
    await page.getByLabel('filter content').fill('<script>');
    await page.getByRole('button', { name: 'apply' }).click();
    await page.waitForURL('**/entities/Message?**');
    expect(new URL(page.url()).search).toBe('?op.content=contains&f.content=%3Cscript%3E&dir=asc&limit=50');
    expect(await page.locator('details.filters summary').textContent()).toBe('Filter and sort (1 active)');
    expect(await page.locator('table.grid tbody tr').count()).toBe(1);
    await page.locator('table.grid tbody tr').getByRole('link', { name: world.general }).click();
    await page.waitForURL(`**/entities/Channel/row?pk=${world.general}`);
    await shot(page, 'row');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('deletes a message in write mode through the form, CSRF token and cookie included', async () => {
    const { page, errors } = await open(writable.url, `/channels/${world.general}`);
    page.on('dialog', (dialog) => void dialog.accept());
    // Its author deletes the hostile message: the form's default actor.
    await page.locator(`article[data-message-id="${scriptId}"] button`, { hasText: 'delete' }).click();
    await page.waitForURL('**done=deleted');
    expect(await page.locator('p.notice').textContent()).toBe('Message deleted.');
    expect(await page.locator(`article[data-message-id="${scriptId}"]`).count()).toBe(0);
    expect(await db().sql(`select 1 from "Message" where id = $1`, [scriptId])).toEqual([]);
    expect(errors).toEqual([]);
    await page.close();
  });
});
