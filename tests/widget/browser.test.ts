/**
 * The embeddable widget in headless Chromium (Debian's `chromium`, driven by
 * puppeteer-core): the example page served by the gateway (/widget/*), the
 * widget function in real Deno, the OpenAI stand-in. A visitor opens the
 * widget, gets the greeting, asks a question, receives the streamed bot
 * answer; the owner takes over from the app (send_message) and the visitor
 * sees the reply. Also: widget.js's caching headers.
 * Skipped only when /usr/bin/chromium is missing (.ci/run installs it).
 */
import { existsSync } from 'node:fs';
import puppeteer, { type Browser } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../stack/runtime/db.mjs';
import { startGateway } from '../../stack/runtime/gateway.mjs';
import { startOpenAIStandin } from '../../stack/standins/openai.mjs';
import { clientAs } from '../helpers/client.js';
import { asService, closeDb, createUser, owner } from '../helpers/db.js';
import { startTestFunctions, type TestFunctions } from '../helpers/functions.js';
import { ok, randomUUID } from '../helpers/world.js';

const CHROMIUM = '/usr/bin/chromium';
const KEY = 'sk-test-widget-browser';

let fns: TestFunctions;
let openai: Awaited<ReturnType<typeof startOpenAIStandin>>;
let gateway: { url: string; stop(): Promise<void> };
let browser: Browser | undefined;

beforeAll(async () => {
  openai = await startOpenAIStandin({ apiKey: KEY, reply: 'We ship worldwide within three days.', chunkDelayMs: 30 });
  fns = await startTestFunctions({ only: ['widget', 'ai-chat'], env: { OPENAI_API_KEY: KEY, OPENAI_BASE_URL: openai.url } });
  // A gateway of our own in front of these functions: the page and the function share its origin, as with `npm start`.
  gateway = await startGateway({
    port: await freePort(),
    postgrestUrl: 'http://127.0.0.1:9',
    functionsUrl: new URL(fns.url).origin,
    keys: { jwtSecret: randomUUID() + randomUUID(), publishableKey: 'unused-p', secretKey: 'unused-s', anonKey: 'unused-a', serviceRoleKey: 'unused-r' } as never,
  });
  if (existsSync(CHROMIUM)) {
    browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
  }
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await gateway?.stop();
  await fns?.stop();
  await openai?.stop();
  await closeDb();
});

describe('widget.js', () => {
  it('is served with caching headers, an ETag and 304 on revalidation; the example page is no-cache', async () => {
    const res = await fetch(`${gateway.url}/widget/widget.js`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('public, max-age=300, stale-while-revalidate=86400');
    const body = await res.text();
    expect(body.length).toBeLessThan(12_000);
    const etag = res.headers.get('etag')!;
    expect(etag).toMatch(/^"[A-Za-z0-9_-]+"$/);
    const again = await fetch(`${gateway.url}/widget/widget.js`, { headers: { 'if-none-match': etag } });
    expect(again.status).toBe(304);
    expect((await fetch(`${gateway.url}/widget/example.html`)).headers.get('cache-control')).toBe('no-cache');
    expect((await fetch(`${gateway.url}/widget/..%2Fpackage.json`)).status).toBe(404);
    expect((await fetch(`${gateway.url}/widget/nothing.js`)).status).toBe(404);
  });
});

describe.skipIf(!existsSync(CHROMIUM))('the example page in headless Chromium', () => {
  it('greeting, a streamed bot answer, then the owner takes over and the visitor sees the reply', async () => {
    const siteOwner = await createUser({ display_name: 'Browser Owner' });
    await asService((tx) => tx`select private.record_ledger_entry(${siteOwner}, 'adjustment', 5000000, 'test', ${randomUUID()}, 'test balance')`);
    const site = ok(await clientAs(siteOwner).from('websites').insert({
      name: 'Browser shop', allowed_origins: [gateway.url], settings: { greeting: 'Hello from Browser shop!' },
    }).select('id, widget_key').single()) as { id: string; widget_key: string };

    const page = await browser!.newPage();
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(String(e)));
    await page.goto(`${gateway.url}/widget/example.html?key=${site.widget_key}`, { waitUntil: 'load' });
    await page.waitForSelector('.cwm-btn', { timeout: 10_000 });
    await page.click('.cwm-btn');
    await page.waitForFunction(() => document.querySelector('.cwm-greeting')?.textContent === 'Hello from Browser shop!', { timeout: 10_000 });
    expect(await page.$eval('.cwm-head', (e) => e.textContent)).toBe('Browser shop');

    await page.type('.cwm-input', 'Do you ship abroad?');
    await page.click('.cwm-send');
    // The answer streams: a partial text is seen before the whole one.
    const partial = await page.waitForFunction(() => {
      const t = document.querySelector('.cwm-bot')?.textContent ?? '';
      return t.length > 0 && t !== 'We ship worldwide within three days.' ? t : false;
    }, { timeout: 10_000, polling: 'mutation' });
    expect('We ship worldwide within three days.'.startsWith(String(await partial.jsonValue()))).toBe(true);
    await page.waitForFunction(() => document.querySelector('.cwm-bot')?.textContent === 'We ship worldwide within three days.', { timeout: 10_000 });
    expect(await page.$$eval('.cwm-visitor', (els) => els.map((e) => e.textContent))).toEqual(['Do you ship abroad?']);

    // The owner takes over in the app and replies.
    const [s] = await owner()`select chat_id from public.widget_sessions where website_id = ${site.id}`;
    ok(await clientAs(siteOwner).rpc('widget_take_over', { p_chat_id: s!.chat_id }));
    ok(await clientAs(siteOwner).rpc('send_message', { p_chat_id: s!.chat_id, p_content: 'Hi, Sam here: yes, to 40 countries.' }));
    await page.waitForFunction(() => document.querySelector('.cwm-agent')?.textContent === 'Hi, Sam here: yes, to 40 countries.', { timeout: 15_000 })
      .catch(async (e) => {
        console.log((await fns.logs()).split('\n').filter((l) => l.includes('widget')).slice(-30).join('\n'));
        console.log(await page.content());
        throw e;
      });
    // The bot answered once and was charged once; nothing doubled on screen.
    expect(await page.$$eval('.cwm-bot', (els) => els.length)).toBe(1);
    const [i] = await owner()`select count(*)::int as n, sum(charged_micro_usd)::bigint as charged from public.ai_interactions where chat_id = ${s!.chat_id}`;
    expect(i!.n).toBe(1);
    expect(Number(i!.charged)).toBeGreaterThan(0);
    expect(problems).toEqual([]);
    await page.close();
  }, 60_000);
});
