/**
 * Hostile text against every edge function that takes text, from the
 * attacker's side (plain HTTP, real Deno, real PostgreSQL, the providers'
 * stand-ins recording every request): NUL characters (PostgreSQL text cannot
 * hold them), lone UTF-16 surrogates (not valid Unicode), oversized strings,
 * wrong JSON types, SQL-looking text and right-to-left override characters.
 *
 * What must hold (issue 13; README "Security"): never a 500; text that cannot
 * be stored is a 400 with the JSON error shape BEFORE any provider call (the
 * stand-ins saw nothing), nothing is half-stored and nothing is charged;
 * storable but odd text (SQL-looking, RTL overrides) is ordinary text, stored
 * verbatim; Clerk's signed payloads and token claims are repaired instead of
 * refused (README "Identity").
 */
import { randomUUID } from 'node:crypto';
import { isStorableText, toStorableText } from '@chat-with-me/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clerkEvent, clerkUser, sessionToken, svixHeaders, svixId } from '../helpers/clerk.js';
import { closeDb, newUserId, owner } from '../helpers/db.js';
import { expectError } from '../helpers/functions.js';
import { PACKS, type PaymentsWorld, postCheckout, startPaymentsWorld, URLS } from '../helpers/stripe.js';
import { type AiStack, aiUser, assistantChat, caller, interactionsOf, messagesOf, sseEvents, startAiStack, wallet } from '../ai/helpers.js';

/** Text PostgreSQL cannot store as is. */
const UNSTORABLE: [string, string][] = [
  ['a NUL character', 'hello\u0000world'],
  ['only a NUL', '\u0000'],
  ['a lone high surrogate', 'abc\ud800def'],
  ['a lone low surrogate', '\udc00'],
  ['a reversed surrogate pair', '\udc00\ud800'],
];
/** Storable text that looks hostile: ordinary text, stored verbatim. */
const ODD_BUT_STORABLE: [string, string][] = [
  ['SQL-looking text', "'); drop table public.messages; -- \" or 1=1"],
  ['a right-to-left override', 'invoice\u202Etxt.exe'],
  ['a valid surrogate pair (emoji)', 'ok 😀 \u{1F600}'],
];
/** Wrong JSON types where a string is expected. */
const WRONG_TYPES: [string, unknown][] = [
  ['a number', 123],
  ['an array', ['a']],
  ['an object', { text: 'a' }],
  ['null', null],
  ['a boolean', true],
];

afterAll(closeDb);

describe('the shared rule (storableText / toStorableText)', () => {
  it('refuses NUL and lone surrogates, accepts everything else; repairs by dropping NULs and replacing lone surrogates', () => {
    for (const [, s] of UNSTORABLE) expect(isStorableText(s)).toBe(false);
    for (const [, s] of ODD_BUT_STORABLE) expect(isStorableText(s)).toBe(true);
    expect(toStorableText('a\u0000b\ud800c')).toBe('ab\uFFFDc');
    for (const [, s] of UNSTORABLE) expect(isStorableText(toStorableText(s))).toBe(true);
  });
});

describe('ai-chat', () => {
  let ai: AiStack;
  beforeAll(async () => {
    ai = await startAiStack();
  });
  afterAll(() => ai?.stop());

  async function expectUntouched(user: string, chat: string, balance: number) {
    expect(ai.openai.requests).toHaveLength(0);
    expect(ai.deepseek.requests).toHaveLength(0);
    expect(await interactionsOf(user)).toHaveLength(0);
    expect(await messagesOf(chat)).toHaveLength(0);
    expect(await wallet(user)).toEqual({ balance, held: 0 });
  }

  for (const [name, prompt] of UNSTORABLE) {
    for (const stream of [true, false]) {
      it(`a prompt with ${name} (stream: ${stream}) → 400 before any provider call; nothing stored or charged`, async () => {
        ai.openai.reset();
        const user = await aiUser(1_000_000);
        const chat = await assistantChat(user);
        const err = await expectError(await (await caller(ai.fns, user)).post({ chat_id: chat, prompt, model: 'gpt-6-luna', stream }), 400, 'invalid_request');
        expect(JSON.stringify(err.details)).toContain('prompt');
        await expectUntouched(user, chat, 1_000_000);
      });
    }
  }

  for (const [name, value] of WRONG_TYPES) {
    it(`a prompt that is ${name} → 400; nothing called, stored or charged`, async () => {
      ai.openai.reset();
      const user = await aiUser(1_000_000);
      const chat = await assistantChat(user);
      await expectError(await (await caller(ai.fns, user)).post({ chat_id: chat, prompt: value }), 400, 'invalid_request');
      await expectUntouched(user, chat, 1_000_000);
    });
  }

  it('oversized prompts: 8001 characters → 400, a 70 KB body → 413; nothing called', async () => {
    ai.openai.reset();
    const user = await aiUser(1_000_000);
    const chat = await assistantChat(user);
    const c = await caller(ai.fns, user);
    await expectError(await c.post({ chat_id: chat, prompt: 'x'.repeat(8001) }), 400, 'invalid_request');
    await expectError(await c.post({ chat_id: chat, prompt: 'x'.repeat(70_000) }), 413, 'payload_too_large');
    await expectUntouched(user, chat, 1_000_000);
  });

  it('a body that is not UTF-8, or JSON with a raw NUL byte → 4xx, never 500; nothing called', async () => {
    ai.openai.reset();
    const user = await aiUser(1_000_000);
    const chat = await assistantChat(user);
    const { token } = await caller(ai.fns, user);
    const bodies = [
      Buffer.concat([Buffer.from(`{"chat_id":"${chat}","prompt":"`), Buffer.from([0xff, 0xfe, 0xc0]), Buffer.from('"}')]),
      Buffer.from(`{"chat_id":"${chat}","prompt":"a\u0000b"}`),
    ];
    for (const body of bodies) {
      const res = await fetch(`${ai.fns.url}/ai-chat`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body });
      expect(res.status, await res.clone().text()).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      await expectError(res, res.status);
    }
    // A non-UTF-8 body decodes to U+FFFD (storable) in some runtimes: whatever the status, no NUL and nothing unstorable got through.
    expect(ai.openai.requests.every((r) => isStorableText(JSON.stringify(r.body)) && !JSON.stringify(r.body).includes('\\u0000'))).toBe(true);
  });

  for (const [name, prompt] of ODD_BUT_STORABLE) {
    it(`a prompt with ${name} is ordinary text: answered, stored verbatim, charged`, async () => {
      ai.openai.reset();
      const user = await aiUser(1_000_000);
      const chat = await assistantChat(user);
      const res = await (await caller(ai.fns, user)).post({ chat_id: chat, prompt, model: 'gpt-6-luna', stream: false });
      expect(res.status, await res.clone().text()).toBe(200);
      const msgs = await messagesOf(chat);
      expect(msgs[0]!.content).toBe(prompt);
      const [row] = await interactionsOf(user);
      expect(row).toMatchObject({ status: 'succeeded' });
      expect((await wallet(user)).balance).toBe(1_000_000 - Number(row!.charged_micro_usd));
    });
  }
});

describe('payments-checkout, stripe-webhook, clerk-webhook, me, media-sign, health', () => {
  let w: PaymentsWorld;
  beforeAll(async () => {
    w = await startPaymentsWorld();
  });
  afterAll(() => w?.stop());

  /** Each body posted to payments-checkout as a fresh user → 400 invalid_request; no Stripe call, no payment row. */
  async function expectCheckoutRefused(bodies: unknown[]) {
    const user = await aiUser(0);
    const before = w.stripe.requests.length;
    for (const body of bodies) await expectError(await postCheckout(w, user, body), 400, 'invalid_request');
    expect(w.stripe.requests.length).toBe(before);
    expect(await owner()`select 1 from public.payments where user_id = ${user}`).toHaveLength(0);
  }

  for (const [name, text] of UNSTORABLE) {
    it(`payments-checkout: a redirect URL with ${name} → 400; no Stripe call, no payment`, async () => {
      await expectCheckoutRefused([
        { pack_id: PACKS.starter.id, ...URLS, success_url: `${URLS.success_url}&x=${text}` },
        { pack_id: PACKS.starter.id, ...URLS, cancel_url: `http://localhost:3000/${text}` },
        { pack_id: PACKS.starter.id, ...URLS, idempotency_key: `key-${text}-12345678` },
      ]);
    });
  }

  it('payments-checkout: wrong JSON types and SQL-looking ids → 400; no Stripe call', async () => {
    await expectCheckoutRefused([
      ...WRONG_TYPES.map(([, v]) => ({ pack_id: PACKS.starter.id, ...URLS, success_url: v })),
      ...WRONG_TYPES.map(([, v]) => ({ ...URLS, pack_id: v })),
      { ...URLS, pack_id: "00000000-0000-4000-8000-00000000c001' or '1'='1" },
      { pack_id: PACKS.starter.id, ...URLS, success_url: 'x'.repeat(3000) },
    ]);
  });

  it('stripe-webhook: a signed event whose type carries a NUL or a lone surrogate → 400, nothing recorded', async () => {
    for (const type of ['charge.refunded\u0000', 'charge.\ud800refunded']) {
      const id = `evt_hostile${randomUUID().replaceAll('-', '')}`;
      const res = await w.stripe.deliver({ id, object: 'event', type, created: Math.floor(Date.now() / 1000), livemode: false, data: { object: { id: 'ch_x', object: 'charge' } } });
      await expectError(res, 400, 'invalid_request');
      expect(await owner()`select 1 from public.webhook_events where event_id = ${id}`).toHaveLength(0);
    }
  });

  it('clerk-webhook: names and username with NUL, lone surrogates, RTL overrides or SQL → 200, the profile stored repaired (decision: repair, never refuse Clerk)', async () => {
    const id = newUserId();
    const body = JSON.stringify(clerkEvent('user.created', clerkUser({
      id, first_name: 'Ali\u0000ce', last_name: 'Mar\ud800tin\u202E', username: "bob'); drop table users;--",
    })));
    const res = await fetch(`${w.fns.url}/clerk-webhook`, { method: 'POST', headers: svixHeaders(w.fns.clerk, body), body });
    expect(res.status, await res.clone().text()).toBe(200);
    const [u] = await owner()`select display_name, username from public.users where id = ${id}`;
    expect(u!.display_name).toBe('Alice Mar\uFFFDtin\u202E');
    expect(isStorableText(u!.display_name)).toBe(true);
    // The SQL-looking username is not a valid handle: dropped by the database's rule, never executed.
    expect(u!.username).toBeNull();
    expect(await owner()`select 1 from pg_tables where schemaname = 'public' and tablename = 'users'`).toHaveLength(1);
  });

  it('clerk-webhook: a signed event whose type carries a NUL → 400, nothing recorded', async () => {
    const msgId = svixId();
    const body = JSON.stringify({ ...clerkEvent('user.created', clerkUser({ id: newUserId() })), type: 'session.\u0000created' });
    const res = await fetch(`${w.fns.url}/clerk-webhook`, { method: 'POST', headers: svixHeaders(w.fns.clerk, body, { id: msgId }), body });
    await expectError(res, 400, 'invalid_request');
    expect(await owner()`select 1 from public.webhook_events where event_id = ${msgId}`).toHaveLength(0);
  });

  it('me: a session token whose custom claims carry a NUL or a lone surrogate → 200 (claims repaired), never 500', async () => {
    const user = newUserId();
    const token = await sessionToken(w.fns.clerk, user, { claims: { name: 'Eve\u0000', nickname: 'x\ud800', nested: { a: ['\u0000'] } } });
    const res = await fetch(`${w.fns.url}/me`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status, await res.clone().text()).toBe(200);
    const body = await res.json();
    expect(body.user.id).toBe(user);
  });

  it('media-sign and health: hostile bodies → 4xx/503 with the error shape, never 500', async () => {
    const user = await aiUser(0);
    const token = await sessionToken(w.fns.clerk, user);
    const bodies: unknown[] = [
      ...UNSTORABLE.map(([, t]) => ({ purpose: t })),
      ...WRONG_TYPES.map(([, v]) => ({ purpose: v })),
      { purpose: "avatar'; drop table public.media; --" },
      { purpose: 'avatar', extra: '\u0000' },
    ];
    for (const body of bodies) {
      const res = await fetch(`${w.fns.url}/media-sign`, {
        method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
      });
      // 400 invalid input, or 503 when Cloudinary is not configured in this world: never a 500.
      const err = await expectError(res, res.status);
      expect([400, 503]).toContain(res.status);
      expect(err.error).toMatch(/^(invalid_request|unavailable)$/);
    }
    expect(await owner()`select 1 from public.media where owner_id = ${user}`).toHaveLength(0);
    const res = await fetch(`${w.fns.url}/health`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ q: '\u0000' }) });
    await expectError(res, 405, 'method_not_allowed');
  });
});
