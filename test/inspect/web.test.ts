import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useNatsServer } from '../support/nats.ts';
import { AUDIO, ROOT, readyWorkers, startTestPool, type TestPool } from '../support/pool.ts';
import { waitFor } from '../support/wait.ts';

const CHROMIUM = process.env.OPENRTC_CHROMIUM ?? '/usr/bin/chromium';
const ARTIFACTS = join(ROOT, 'test-artifacts');
const nats = useNatsServer();

/** The page's own record of what it highlighted, and the label of the node lit now. */
async function chartState(page: Page) {
  return page.evaluate(() => {
    // Runs in the page; typed by hand since the test's TypeScript has no DOM library.
    interface El {
      dataset: Record<string, string | undefined>;
      textContent: string | null;
      querySelector(selector: string): El | null;
      querySelectorAll(selector: string): ArrayLike<El>;
    }
    const doc = (globalThis as unknown as { document: { getElementById(id: string): El | null } }).document;
    const chart = doc.getElementById('chart');
    const lit = chart?.querySelectorAll('g.current') ?? [];
    return {
      actor: chart?.dataset.actor ?? '',
      state: chart?.dataset.state ?? '',
      trail: (chart?.dataset.trail ?? '').split(',').filter(Boolean) as string[],
      litCount: lit.length,
      litLabel: (
        lit[0]?.querySelector('.nodeLabel, .label, text')?.textContent ??
        lit[0]?.textContent ??
        ''
      ).trim(),
    };
  });
}

describe.skipIf(!existsSync(CHROMIUM))('the web inspector in headless Chromium, against a real pool', () => {
  let t: TestPool;
  let browser: Browser;
  let url: string;

  beforeAll(async () => {
    t = await startTestPool(nats.url, { inspectPort: 0 });
    url = t.pool.sinks.inspectorUrl ?? '';
    await readyWorkers(t.client, 2);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-dev-shm-usage',
      ],
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await t?.stop();
  });

  it('shows both workers, then a dispatched session walking its states with the highlight following', async () => {
    const page = await browser.newPage({ viewport: { width: 1500, height: 980 } });
    const offsite: string[] = [];
    page.on('request', (r) => {
      if (!r.url().startsWith(url)) offsite.push(r.url());
    });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(url);

    const status = await t.client.status();
    for (const w of status.workers)
      await page.waitForSelector(`#workers tr[data-worker="${w.worker}"] >> text=ready`, { timeout: 15_000 });
    expect(await page.locator('#workers tbody tr').count()).toBe(2);
    // The actor tree: both workers under the supervisor that welcomed them.
    for (const w of status.workers)
      await page.waitForSelector(
        `#tree li[data-kind="supervisor"] li[data-kind="worker"][data-actor="${w.worker}"]`,
        { timeout: 15_000 },
      );
    // A worker is selected first: its statechart is drawn with `ready` lit.
    await waitFor('a worker chart with ready lit', async () => (await chartState(page)).state === 'ready');
    expect((await chartState(page)).litLabel).toBe('ready');

    // Real-time speech, played twice, keeps the session active for about 16 s: a page on a busy
    // CPU (Chromium drawing the chart) must not miss the whole active phase.
    const ok = await t.client.dispatch({
      agent: 'restaurant',
      audio: { kind: 'wav', path: AUDIO.restaurant, realtime: true, loops: 2 },
    });
    await page.waitForSelector(`#sessions tr[data-session="${ok.session}"]`, { timeout: 15_000 });
    const active = await waitFor(
      'the session lit as active',
      async (note) => {
        const c = await chartState(page);
        note(c);
        return c.actor === ok.session && c.state === 'active' ? c : undefined;
      },
      // Generous: a loaded machine may take seconds to place the session and redraw the chart.
      45_000,
    );
    expect(active.litCount).toBe(1);
    // The running session sits under the worker that spawned it.
    await page.waitForSelector(
      `#tree li[data-actor="${ok.worker}"] li[data-kind="session"][data-actor="${ok.session}"]`,
      { timeout: 5_000 },
    );
    expect(active.litLabel).toBe('active');
    expect(await page.locator('#chart').getAttribute('data-machine')).toBe('session');
    await waitFor(
      'the timeline up to active',
      async () => (await page.locator('#timeline tbody tr').count()) >= 4,
    );
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'inspector.png') });
    if (process.env.OPENRTC_UPDATE_SCREENSHOT === '1')
      await page.screenshot({ path: join(ROOT, 'docs', 'inspector.png') });

    const end = await waitFor(
      'the session lit as closed',
      async () => {
        const c = await chartState(page);
        return c.actor === ok.session && c.state === 'closed' ? c : undefined;
      },
      45_000,
    );
    expect(end.litLabel).toBe('closed');
    // The highlight followed the session: every state it lit, in the machine's order.
    const order = ['prewarming', 'connecting', 'greeting', 'active', 'closing', 'closed'];
    expect(end.trail.map((s) => order.indexOf(s))).toEqual(
      [...end.trail.map((s) => order.indexOf(s))].sort((a, b) => a - b),
    );
    expect(end.trail).toEqual(expect.arrayContaining(['active', 'closed']));
    expect(end.trail.length).toBeGreaterThanOrEqual(3);
    // The timeline lists every transition with its time in state.
    const rows = await page.locator('#timeline tbody tr').allTextContents();
    expect(rows).toHaveLength(6);
    for (const [i, state] of order.entries()) expect(rows[i]).toContain(state);
    expect(rows[3]).toMatch(/active\+\d+ ms\d+ ms/);
    expect(rows[5]).toContain('final');
    // Nothing came from anywhere but the inspector itself, and the page threw nothing.
    expect(offsite).toEqual([]);
    expect(errors).toEqual([]);
    await page.close();
  }, 150_000);
});
