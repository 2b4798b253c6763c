/**
 * The widget function end to end (supabase/functions/widget): real Deno over
 * HTTP, real PostgreSQL, the real `openai` SDK against the OpenAI stand-in.
 * Written from the visitor's side (an attacker is a visitor too): sessions
 * from a disallowed origin, with a rotated key, an expired, revoked or
 * another session's secret are refused; a visitor never gets past anon on
 * the Data API; the owner's wallet pays exactly the bot's answers; limits are
 * reached and recovered; a human reply stops the bot.
 */
import { randomUUID } from 'node:crypto';
import { parseSseText, WidgetSession } from '@chat-with-me/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOpenAIStandin } from '../../stack/standins/openai.mjs';
import { anonClient, clientAs } from '../helpers/client.js';
import { asService, closeDb, createUser, owner } from '../helpers/db.js';
import { startTestFunctions, type TestFunctions } from '../helpers/functions.js';
import { expectRefused, ok } from '../helpers/world.js';

const ORIGIN = 'https://shop.example';
const KEY = 'sk-test-widget-openai';
let fns: TestFunctions;
let openai: Awaited<ReturnType<typeof startOpenAIStandin>>;
let base: string;

beforeAll(async () => {
  openai = await startOpenAIStandin({ apiKey: KEY });
  // Only widget (and ai-chat, whose metering and provider code it reuses) and _shared.
  fns = await startTestFunctions({ only: ['widget', 'ai-chat'], env: { OPENAI_API_KEY: KEY, OPENAI_BASE_URL: openai.url } });
  base = `${fns.url}/widget`;
  // The local platform sets x-forwarded-for to the socket's address, as the hosted one sets the client's: every request
  // here comes from 127.0.0.1, so the per-IP limits are raised for this file (and tested on their own below).
  await setConfig('rate_limit.widget_session_ip.limit', 100_000);
  await setConfig('rate_limit.widget_message_ip.limit', 100_000);
}, 120_000);
afterAll(async () => {
  await setConfig('rate_limit.widget_session_ip.limit', 20);
  await setConfig('rate_limit.widget_message_ip.limit', 60);
  await fns?.stop();
  await openai?.stop();
  await closeDb();
});

async function setConfig(key: string, value: number) {
  await owner()`update public.admin_config set value = ${value}::text::jsonb where key = ${key}`;
}
async function balance(user: string) {
  const [w] = await owner()`select balance_micro_usd, held_micro_usd from public.credit_wallets where user_id = ${user}`;
  return { balance: Number(w?.balance_micro_usd ?? 0), held: Number(w?.held_micro_usd ?? 0) };
}
async function setBalance(user: string, target: number) {
  const { balance: b } = await balance(user);
  if (b !== target) await asService((tx) => tx`select private.record_ledger_entry(${user}, 'adjustment', ${target - b}, 'test', ${randomUUID()}, 'test balance')`);
}

/** An owner with `credits` micro-USD and a website allowing ORIGIN. */
async function ownerWithSite(credits = 5_000_000, settings: Record<string, unknown> = {}) {
  const id = await createUser({ display_name: 'Site Owner' });
  await setBalance(id, credits);
  const site = ok(await clientAs(id).from('websites').insert({ name: 'Shop', allowed_origins: [ORIGIN], settings: { greeting: 'Welcome to Shop!', ...settings } })
    .select('id, widget_key').single()) as { id: string; widget_key: string };
  return { owner: id, site: site.id, key: site.widget_key };
}

function startSession(key: string, origin: string | null = ORIGIN, ip = '203.0.113.7') {
  const headers: Record<string, string> = { 'content-type': 'application/json', 'x-forwarded-for': ip };
  if (origin) headers.origin = origin;
  return fetch(`${base}/session`, { method: 'POST', headers, body: JSON.stringify({ widget_key: key }) });
}
async function session(key: string, ip?: string) {
  const res = await startSession(key, ORIGIN, ip);
  expect(res.status, await res.clone().text()).toBe(201);
  return WidgetSession.parse(await res.json());
}
function send(secret: string, content: string, ip = '203.0.113.7') {
  return fetch(`${base}/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: ORIGIN, authorization: `Bearer ${secret}`, 'x-forwarded-for': ip },
    body: JSON.stringify({ content }),
  });
}
async function events(res: Response) {
  expect(res.status, res.status === 200 ? '' : await res.clone().text()).toBe(200);
  return parseSseText(await res.text()).map((e) => ({ event: e.event, data: JSON.parse(e.data) }));
}
function list(secret: string, origin = ORIGIN) {
  return fetch(`${base}/messages`, { headers: { origin, authorization: `Bearer ${secret}` } });
}

describe('sessions', () => {
  it('starts from an allowed origin: 201, greeting and name only, CORS for that origin', async () => {
    const w = await ownerWithSite(5_000_000, { system_prompt: 'secret instructions' });
    const res = await startSession(w.key);
    expect(res.status).toBe(201);
    expect(res.headers.get('access-control-allow-origin')).toBe(ORIGIN);
    expect(res.headers.get('vary')).toMatch(/Origin/);
    const body = WidgetSession.parse(await res.json());
    expect(body.website).toMatchObject({ name: 'Shop', greeting: 'Welcome to Shop!', bot_enabled: true });
    expect(JSON.stringify(body)).not.toContain('secret instructions');
    expect(JSON.stringify(body)).not.toContain(w.owner);
    const [row] = await owner()`select encode(secret_hash, 'hex') as h, origin from public.widget_sessions where id = ${body.session_id}`;
    expect(row!.h).toHaveLength(64);
    expect(row!.h).not.toContain(body.secret);
    // The chat is in the owner's inbox as kind widget.
    const [chat] = await owner()`select c.kind::text, m.user_id from public.widget_sessions s join public.chats c on c.id = s.chat_id
      join public.chat_members m on m.chat_id = c.id where s.id = ${body.session_id}`;
    expect(chat).toEqual({ kind: 'widget', user_id: w.owner });
  });

  it('refuses a disallowed or missing origin, an unknown key, a rotated key and an inactive website', async () => {
    const w = await ownerWithSite();
    for (const origin of ['https://evil.example', 'https://shop.example.evil.example', 'http://shop.example', null]) {
      const res = await startSession(w.key, origin);
      expect(res.status, String(origin)).toBe(403);
      expect(res.headers.get('access-control-allow-origin')).toBeNull();
    }
    expect((await startSession('wk_' + '0'.repeat(40))).status).toBe(403);
    expect((await startSession('not a key')).status).toBe(400);
    const fresh = ok(await clientAs(w.owner).rpc('rotate_widget_key', { p_website_id: w.site }));
    expect((await startSession(w.key)).status).toBe(403);
    expect((await startSession(fresh)).status).toBe(201);
    ok(await clientAs(w.owner).from('websites').update({ active: false }).eq('id', w.site));
    expect((await startSession(fresh)).status).toBe(403);
  });

  it('a preflight is answered for known origins only', async () => {
    await ownerWithSite();
    const known = await fetch(`${base}/messages`, { method: 'OPTIONS', headers: { origin: ORIGIN, 'access-control-request-method': 'POST' } });
    expect(known.status).toBe(204);
    expect(known.headers.get('access-control-allow-origin')).toBe(ORIGIN);
    const unknown = await fetch(`${base}/messages`, { method: 'OPTIONS', headers: { origin: 'https://nobody.example', 'access-control-request-method': 'POST' } });
    expect(unknown.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('a secret reads only its own session; unknown, revoked, expired or another origin: 401', async () => {
    const w = await ownerWithSite(5_000_000, { bot_enabled: false });
    const a = await session(w.key);
    const b = await session(w.key);
    await events(await send(a.secret, 'message of A'));
    const seenByB = (await (await list(b.secret)).json()).messages;
    expect(seenByB).toEqual([]);
    const seenByA = (await (await list(a.secret)).json()).messages;
    expect(seenByA.map((m: { content: string; role: string }) => [m.role, m.content])).toEqual([['visitor', 'message of A']]);
    expect((await list('wss_' + 'A'.repeat(43))).status).toBe(401);
    expect((await list(a.session_id)).status).toBe(401);
    expect((await list(a.secret, 'https://evil.example')).status).toBe(401);
    // The visitor ends A; the owner's clock runs out on B.
    expect((await fetch(`${base}/end`, { method: 'POST', headers: { origin: ORIGIN, authorization: `Bearer ${a.secret}` } })).status).toBe(204);
    expect((await list(a.secret)).status).toBe(401);
    expect((await send(a.secret, 'again')).status).toBe(401);
    await owner()`update public.widget_sessions set expires_at = now() - interval '1 second' where id = ${b.session_id}`;
    expect((await list(b.secret)).status).toBe(401);
  });

  it('a visitor gets nothing from the Data API: the secret is not a token, anon reads no widget table', async () => {
    const w = await ownerWithSite();
    const s = await session(w.key);
    expectRefused(await anonClient().from('websites').select('*'), 401, '42501');
    expectRefused(await anonClient().from('widget_sessions').select('*'), 401, '42501');
    expectRefused(await anonClient().rpc('get_widget_analytics', { p_website_id: w.site, p_from: '2026-01-01', p_to: '2026-01-02' }), 401, '42501');
    const { apiUrl } = await import('../helpers/client.js');
    const { inject } = await import('vitest');
    const res = await fetch(`${apiUrl()}/rest/v1/widget_sessions?select=*`, { headers: { apikey: inject('publishableKey'), authorization: `Bearer ${s.secret}` } });
    expect(res.status).toBe(401);
  });
});

describe('the bot, the wallet and the handoff', () => {
  it('streams the bot answer and charges the owner exactly its cost; a human reply stops the bot', async () => {
    const w = await ownerWithSite(5_000_000, { system_prompt: 'You sell shoes.' });
    const s = await session(w.key);
    openai.behave({ reply: 'We open at nine.', chunkDelayMs: 2 });
    const before = await balance(w.owner);
    const ev = await events(await send(s.secret, 'When do you open?'));
    expect(ev[0]).toMatchObject({ event: 'message', data: { role: 'visitor', content: 'When do you open?' } });
    expect(ev.filter((e) => e.event === 'delta').map((e) => e.data.text).join('')).toBe('We open at nine.');
    expect(ev.at(-1)).toMatchObject({ event: 'bot', data: { role: 'bot', content: 'We open at nine.' } });
    const sent = openai.requests.at(-1)!.body as { messages: { role: string; content: string }[] };
    expect(sent.messages[0]).toEqual({ role: 'system', content: 'You sell shoes.' });

    const [chat] = await owner()`select chat_id from public.widget_sessions where id = ${s.session_id}`;
    const interactions = await owner()`select * from public.ai_interactions where chat_id = ${chat!.chat_id}`;
    expect(interactions).toHaveLength(1);
    const i = interactions[0]!;
    expect(i).toMatchObject({ user_id: w.owner, status: 'succeeded' });
    expect(Number(i.charged_micro_usd)).toBeGreaterThan(0);
    const expected = Math.ceil((i.prompt_tokens * Number(i.input_micro_usd_per_mtok) + i.completion_tokens * Number(i.output_micro_usd_per_mtok)) / 1e6);
    expect(Number(i.charged_micro_usd)).toBe(expected);
    const after = await balance(w.owner);
    expect(before.balance - after.balance).toBe(expected);
    expect(after.held).toBe(0);
    const [sess] = await owner()`select bot_answers, bot_cost_micro_usd, visitor_messages from public.widget_sessions where id = ${s.session_id}`;
    expect(sess).toEqual({ bot_answers: 1, bot_cost_micro_usd: String(expected), visitor_messages: 1 });

    // The owner replies from the app (send_message): the bot stops, the visitor sees the reply as "agent".
    ok(await clientAs(w.owner).rpc('send_message', { p_chat_id: chat!.chat_id, p_content: 'Hi, I am here!' }));
    const requests = openai.requests.length;
    const ev2 = await events(await send(s.secret, 'Great, thanks'));
    expect(ev2.map((e) => e.event)).toEqual(['message', 'handoff']);
    expect(ev2[1]!.data).toEqual({ reason: 'handed_off' });
    expect(openai.requests.length).toBe(requests);
    expect(await balance(w.owner)).toEqual(after);
    const msgs = (await (await list(s.secret)).json()).messages as { role: string; content: string }[];
    expect(msgs.map((m) => [m.role, m.content])).toEqual([
      ['visitor', 'When do you open?'], ['bot', 'We open at nine.'], ['agent', 'Hi, I am here!'], ['visitor', 'Great, thanks'],
    ]);
    expect(JSON.stringify(msgs)).not.toContain(w.owner);
  });

  it('widget_take_over stops the bot; widget_close_session revokes the secret; other users get 404', async () => {
    const w = await ownerWithSite();
    const s = await session(w.key);
    const [chat] = await owner()`select chat_id from public.widget_sessions where id = ${s.session_id}`;
    const [stranger] = [await createUser()];
    expectRefused(await clientAs(stranger).rpc('widget_take_over', { p_chat_id: chat!.chat_id }), 404, 'PT404');
    ok(await clientAs(w.owner).rpc('widget_take_over', { p_chat_id: chat!.chat_id }));
    expect((await events(await send(s.secret, 'hello?'))).map((e) => e.event)).toEqual(['message', 'handoff']);
    expectRefused(await clientAs(stranger).rpc('widget_close_session', { p_chat_id: chat!.chat_id }), 404, 'PT404');
    ok(await clientAs(w.owner).rpc('widget_close_session', { p_chat_id: chat!.chat_id }));
    expect((await list(s.secret)).status).toBe(401);
  });

  it('never answers when the owner\'s balance is low: the visitor is told a human will answer', async () => {
    const w = await ownerWithSite(50_000);
    const s = await session(w.key);
    const requests = openai.requests.length;
    const ev = await events(await send(s.secret, 'Anyone?'));
    expect(ev.map((e) => e.event)).toEqual(['message', 'handoff']);
    expect(ev[1]!.data).toEqual({ reason: 'low_balance' });
    expect(openai.requests.length).toBe(requests);
    expect((await balance(w.owner)).balance).toBe(50_000);
  });

  it('the owner\'s per-session bot limit hands off to a human', async () => {
    const w = await ownerWithSite(5_000_000, { bot_answers_per_session: 1 });
    const s = await session(w.key);
    openai.behave({ reply: 'One answer.' });
    expect((await events(await send(s.secret, 'first'))).at(-1)!.event).toBe('bot');
    expect((await events(await send(s.secret, 'second'))).at(-1)!.data).toEqual({ reason: 'session_limit' });
  });
});

describe('provider failures and agents', () => {
  it('a provider error before any text: nothing charged, the hold released, the visitor is handed to a human', async () => {
    const w = await ownerWithSite();
    const s = await session(w.key);
    const before = await balance(w.owner);
    openai.queue({ error: { status: 500, message: 'boom' } }, { error: { status: 500, message: 'boom' } });
    const ev = await events(await send(s.secret, 'Hello?'));
    expect(ev.map((e) => e.event)).toEqual(['message', 'start', 'handoff']);
    expect(ev.at(-1)!.data).toEqual({ reason: 'provider_error' });
    expect(await balance(w.owner)).toEqual(before);
    const [i] = await owner()`select i.status::text, i.charged_micro_usd from public.ai_interactions i
      join public.widget_sessions s on s.chat_id = i.chat_id where s.id = ${s.session_id}`;
    expect(i).toEqual({ status: 'failed', charged_micro_usd: '0' });
    openai.reset();
  });

  it('a stream cut after some text: the owner pays the estimate (capped at the reservation), the partial answer is stored', async () => {
    const w = await ownerWithSite();
    const s = await session(w.key);
    const before = await balance(w.owner);
    openai.queue({ reply: 'One two three four five six seven eight nine ten.', cutAfterChunks: 2, chunkDelayMs: 20 });
    const ev = await events(await send(s.secret, 'Count please'));
    expect(ev.at(-1)!.event).toBe('bot');
    const [i] = await owner()`select i.status::text, i.usage_estimated, i.charged_micro_usd, i.reserved_micro_usd, i.error_code from public.ai_interactions i
      join public.widget_sessions s on s.chat_id = i.chat_id where s.id = ${s.session_id}`;
    expect(i).toMatchObject({ status: 'incomplete', usage_estimated: true });
    expect(Number(i!.charged_micro_usd)).toBeGreaterThan(0);
    expect(Number(i!.charged_micro_usd)).toBeLessThanOrEqual(Number(i!.reserved_micro_usd));
    expect(before.balance - (await balance(w.owner)).balance).toBe(Number(i!.charged_micro_usd));
    expect((await balance(w.owner)).held).toBe(0);
    openai.reset();
  });

  it('agents join each new session\'s chat and may take over; removed agents join no new one', async () => {
    const w = await ownerWithSite();
    const agent = await createUser({ display_name: 'Agent' });
    ok(await clientAs(w.owner).from('website_agents').insert({ website_id: w.site, user_id: agent }));
    const s = await session(w.key);
    const [chat] = await owner()`select chat_id from public.widget_sessions where id = ${s.session_id}`;
    expect(ok(await clientAs(agent).from('chats').select('id, kind').eq('id', chat!.chat_id))).toEqual([{ id: chat!.chat_id, kind: 'widget' }]);
    ok(await clientAs(agent).rpc('widget_take_over', { p_chat_id: chat!.chat_id }));
    expect(ok(await clientAs(agent).from('widget_sessions').select('id').eq('id', s.session_id))).toHaveLength(1);
    ok(await clientAs(agent).from('website_agents').delete().eq('website_id', w.site).eq('user_id', agent));
    const s2 = await session(w.key);
    const [chat2] = await owner()`select chat_id from public.widget_sessions where id = ${s2.session_id}`;
    expect(ok(await clientAs(agent).from('chats').select('id').eq('id', chat2!.chat_id))).toEqual([]);
  });
});

describe('abuse limits', () => {
  it('messages per session: 429 with Retry-After, then recovered after the window', async () => {
    const w = await ownerWithSite(5_000_000, { bot_enabled: false });
    const s = await session(w.key, '198.51.100.1');
    await setConfig('rate_limit.widget_message_session.limit', 2);
    await setConfig('rate_limit.widget_message_session.window_seconds', 2);
    try {
      await events(await send(s.secret, 'one'));
      await events(await send(s.secret, 'two'));
      const refused = await send(s.secret, 'three');
      expect(refused.status).toBe(429);
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      const body = await refused.json();
      expect(body.error).toBe('rate_limited');
      // The database's message says when to retry, once.
      expect(body.message.match(/retry in \d+ s/g)).toHaveLength(1);
      await new Promise((r) => setTimeout(r, 2100));
      expect((await send(s.secret, 'four')).status).toBe(200);
    } finally {
      await setConfig('rate_limit.widget_message_session.limit', 20);
      await setConfig('rate_limit.widget_message_session.window_seconds', 60);
    }
  });

  it('sessions per client IP (the platform\'s x-forwarded-for, not the caller\'s), concurrent sessions per website, message size', async () => {
    const w = await ownerWithSite();
    await owner()`delete from private.widget_rate_counters where action = 'widget_session_ip'`;
    await setConfig('rate_limit.widget_session_ip.limit', 2);
    await setConfig('rate_limit.widget_session_ip.window_seconds', 2);
    try {
      await session(w.key, '192.0.2.1');
      await session(w.key, '192.0.2.2'); // a forged x-forwarded-for does not escape the limit
      const refused = await startSession(w.key, ORIGIN, '192.0.2.3');
      expect(refused.status).toBe(429);
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      await new Promise((r) => setTimeout(r, 2100));
      expect((await startSession(w.key, ORIGIN)).status).toBe(201);
    } finally {
      await setConfig('rate_limit.widget_session_ip.limit', 100_000);
      await setConfig('rate_limit.widget_session_ip.window_seconds', 3600);
    }
    const small = await ownerWithSite(5_000_000, { max_concurrent_sessions: 1, bot_enabled: false });
    const only = await session(small.key, '198.51.100.20');
    const second = await startSession(small.key, ORIGIN, '198.51.100.21');
    expect(second.status).toBe(429);
    expect(second.headers.get('retry-after')).toBe('30');
    // Ending the session frees the place.
    await fetch(`${base}/end`, { method: 'POST', headers: { origin: ORIGIN, authorization: `Bearer ${only.secret}` } });
    expect((await startSession(small.key, ORIGIN, '198.51.100.21')).status).toBe(201);

    const w2 = await ownerWithSite(5_000_000, { bot_enabled: false });
    const s2 = await session(w2.key, '198.51.100.30');
    const big = await send(s2.secret, 'x'.repeat(2001));
    expect(big.status).toBe(413);
  });
});

describe('real time', () => {
  it('GET /events delivers the owner\'s reply to the visitor, and resumes after ?after=', async () => {
    const w = await ownerWithSite(5_000_000, { bot_enabled: false });
    const s = await session(w.key);
    const first = (await events(await send(s.secret, 'Are you there?')))[0]!.data.id as string;
    const [chat] = await owner()`select chat_id from public.widget_sessions where id = ${s.session_id}`;
    const ctrl = new AbortController();
    const res = await fetch(`${base}/events?after=${first}`, { headers: { origin: ORIGIN, authorization: `Bearer ${s.secret}` }, signal: ctrl.signal });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe(ORIGIN);
    ok(await clientAs(w.owner).rpc('send_message', { p_chat_id: chat!.chat_id, p_content: 'Yes!' }));
    const reader = res.body!.getReader();
    let text = '';
    const deadline = Date.now() + 8000;
    while (!text.includes('Yes!') && Date.now() < deadline) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    ctrl.abort();
    const got = parseSseText(text).filter((e) => e.event === 'message').map((e) => JSON.parse(e.data));
    expect(got.map((m) => [m.role, m.content])).toEqual([['agent', 'Yes!']]);
  });
});
