/**
 * Provider fallbacks (issue 18, item 5; 20261202120000_ai_fallbacks.sql and
 * ai-chat's handler): a provider that fails BEFORE any output (5xx, 429)
 * hands the call once to the model's configured fallback, charged at the
 * fallback's prices; a failure after output began never falls back.
 *
 * Real Deno ai-chat, real PostgreSQL, the real `openai` SDK against the
 * OpenAI and DeepSeek stand-ins. The models here are this file's own
 * (fallback pairs are global: other suites' 503 tests must not fall back).
 */
import { randomUUID } from 'node:crypto';
import { AiChatResult, AiChatStart } from '@chat-with-me/shared';
import { beforeAll, describe, expect, it } from 'vitest';
import { countChatTokens } from '../../stack/standins/openai.mjs';
import { asUser, owner } from '../helpers/db.js';
import {
  aiStackForFile,
  aiUser,
  assistantChat,
  caller,
  expectedCost,
  interactionsOf,
  modelRow,
  sseEvents,
  wallet,
} from '../ai/helpers.js';

const tag = randomUUID().slice(0, 8);
/** OpenAI model (cheap) whose fallback is DEEPSEEK (dearer), and back. */
const OPENAI = `fb-openai-${tag}`;
const DEEPSEEK = `fb-deepseek-${tag}`;

beforeAll(async () => {
  await owner()`
    insert into public.ai_models (id, provider, display_name, input_micro_usd_per_mtok, cached_input_micro_usd_per_mtok,
                                  output_micro_usd_per_mtok, context_window, max_output_tokens, enabled, is_default)
    values (${OPENAI}, 'openai', 'Fallback test (OpenAI)', 100000, null, 500000, 100000, 1000, true, false),
           (${DEEPSEEK}, 'deepseek', 'Fallback test (DeepSeek)', 300000, null, 2000000, 100000, 1000, true, false)`;
  await owner()`
    insert into public.ai_model_fallbacks (model_id, fallback_model_id)
    values (${OPENAI}, ${DEEPSEEK}), (${DEEPSEEK}, ${OPENAI})`;
});
const stack = aiStackForFile();

const unavailable = { error: { status: 503, message: 'The engine is currently overloaded.', type: 'server_error' } };

async function attemptsOf(interactionId: string) {
  return owner()`select * from public.ai_interaction_attempts where interaction_id = ${interactionId} order by attempt`;
}

async function ledgerFor(interactionId: string) {
  return owner()`select * from public.credit_ledger where source = 'ai_interaction' and source_id = ${interactionId}`;
}

describe('a provider failure before any output', () => {
  it('streamed: a 503 falls back once to the configured model, charged at its prices; both attempts recorded; the client is told', async () => {
    const user = await aiUser(2_000_000);
    const chat = await assistantChat(user);
    const before = await wallet(user);
    stack.openai.behave(unavailable); // the SDK's own retry gets a 503 too
    stack.deepseek.behave({ reply: 'Answered by the fallback.' });

    const res = await (await caller(stack.fns, user)).post({ chat_id: chat, prompt: 'Hello there', model: OPENAI });
    expect(res.status).toBe(200);
    const events = await sseEvents(res);
    expect(events.map((e) => e.event)).toContain('done');
    const start = AiChatStart.parse(events[0]!.data);
    const done = AiChatResult.parse(events.at(-1)!.data);
    expect(start).toMatchObject({ provider: 'deepseek', model: DEEPSEEK, fallback_from: { provider: 'openai', model: OPENAI, error_code: 'provider_error' } });
    expect(done).toMatchObject({ provider: 'deepseek', model: DEEPSEEK, content: 'Answered by the fallback.', stored: true });
    expect(done.fallback_from).toEqual({ provider: 'openai', model: OPENAI, error_code: 'provider_error' });

    // OpenAI was tried (with the SDK's one retry), then DeepSeek once.
    expect(stack.openai.requests.length).toBeGreaterThanOrEqual(1);
    expect(stack.openai.requests.every((r) => r.body.model === OPENAI)).toBe(true);
    expect(stack.deepseek.requests).toHaveLength(1);
    expect(stack.deepseek.requests[0]!.body).toMatchObject({ model: DEEPSEEK, max_tokens: 1000 });

    // Reserved and charged at the fallback's prices.
    const fb = await modelRow(DEEPSEEK);
    expect(start.reserved_micro_usd).toBe(expectedCost(fb, { prompt: start.estimated_prompt_tokens, completion: 1000 }));
    const cost = expectedCost(fb, { prompt: done.usage.prompt_tokens, completion: done.usage.completion_tokens });
    expect(done.charged_micro_usd).toBe(cost);
    const [row] = await interactionsOf(user);
    expect(row).toMatchObject({ id: done.interaction_id, status: 'succeeded', provider: 'deepseek', model: DEEPSEEK, max_output_tokens: 1000 });
    expect(Number(row!.output_micro_usd_per_mtok)).toBe(2000000);
    const ledger = await ledgerFor(done.interaction_id);
    expect(ledger.map((l) => Number(l.amount_micro_usd))).toEqual([-cost]);
    expect(await wallet(user)).toEqual({ balance: before.balance - cost, held: 0 });

    // The failed attempt: recorded, its hold released, nothing charged for it.
    const attempts = await attemptsOf(done.interaction_id);
    expect(attempts).toHaveLength(1);
    expect(attempts[0]).toMatchObject({ attempt: 1, provider: 'openai', model: OPENAI, error_code: 'provider_error', user_id: user });
    const op = await modelRow(OPENAI);
    const firstPrompt = countChatTokens(stack.openai.requests[0]!.body.messages);
    expect(Number(attempts[0]!.reserved_micro_usd)).toBe(expectedCost(op, { prompt: firstPrompt, completion: 1000 }));
    const holds = await owner()`select status from public.credit_reservations where reference = ${'ai_interaction:' + done.interaction_id} order by created_at`;
    expect(holds.map((h) => h.status)).toEqual(['released', 'settled']);
    expect(await owner()`select * from private.ledger_mismatches()`).toEqual([]);

    // The caller reads their own attempts through RLS; another user does not.
    const mine = await asUser(user, (tx) => tx`select model from public.ai_interaction_attempts where interaction_id = ${done.interaction_id}`);
    expect(mine.map((r) => r.model)).toEqual([OPENAI]);
    const other = await aiUser(0);
    expect(await asUser(other, (tx) => tx`select * from public.ai_interaction_attempts where interaction_id = ${done.interaction_id}`)).toEqual([]);
  });

  it('not streamed: a 429 falls back the same way', async () => {
    const user = await aiUser(2_000_000);
    const chat = await assistantChat(user);
    stack.deepseek.behave({ error: { status: 429, message: 'Rate limit reached', type: 'rate_limit_error', headers: { 'retry-after': '0' } } });
    stack.openai.behave({ reply: 'OpenAI answers instead.' });

    const res = await (await caller(stack.fns, user)).post({ chat_id: chat, prompt: 'Hi', model: DEEPSEEK, stream: false });
    expect(res.status).toBe(200);
    const done = AiChatResult.parse(await res.json());
    expect(done).toMatchObject({ provider: 'openai', model: OPENAI, content: 'OpenAI answers instead.', fallback_from: { model: DEEPSEEK, error_code: 'provider_rate_limited' } });
    const op = await modelRow(OPENAI);
    expect(done.charged_micro_usd).toBe(expectedCost(op, { prompt: done.usage.prompt_tokens, completion: done.usage.completion_tokens }));
    expect(stack.openai.requests).toHaveLength(1);
  });

  it('falls back at most once: when the fallback fails too, nothing is charged and the error is answered', async () => {
    const user = await aiUser(2_000_000);
    const chat = await assistantChat(user);
    const before = await wallet(user);
    stack.openai.behave(unavailable);
    stack.deepseek.behave(unavailable);

    const res = await (await caller(stack.fns, user)).post({ chat_id: chat, prompt: 'Anyone?', model: OPENAI, stream: false });
    expect(res.status).toBe(502);
    expect(await res.json()).toMatchObject({ error: 'provider_error' });
    const [row] = await interactionsOf(user);
    expect(row).toMatchObject({ status: 'failed', model: DEEPSEEK });
    expect(Number(row!.charged_micro_usd)).toBe(0);
    expect((await attemptsOf(row!.id)).map((a) => a.model)).toEqual([OPENAI]);
    // DeepSeek tried once by us (plus the SDK's own retry); never back to OpenAI.
    expect(stack.deepseek.requests.length).toBeLessThanOrEqual(2);
    expect(stack.openai.requests.length).toBeLessThanOrEqual(2);
    expect(await wallet(user)).toEqual({ ...before, held: 0 });
  });

  it('without credits for the fallback\'s reservation it does not fall back (402 never follows a provider error)', async () => {
    const op = await modelRow(OPENAI);
    // Enough for OpenAI's reservation (~500 micro-USD), not for DeepSeek's (~2000).
    const user = await aiUser(1_000);
    const chat = await assistantChat(user);
    expect(expectedCost(op, { prompt: 50, completion: 1000 })).toBeLessThan(1_000);
    stack.openai.behave(unavailable);

    const res = await (await caller(stack.fns, user)).post({ chat_id: chat, prompt: 'Hi', model: OPENAI, stream: false });
    expect(res.status).toBe(502);
    expect(stack.deepseek.requests).toHaveLength(0);
    const [row] = await interactionsOf(user);
    expect(row).toMatchObject({ status: 'failed', model: OPENAI, error_code: 'provider_error' });
    expect(await attemptsOf(row!.id)).toEqual([]);
    expect(await wallet(user)).toEqual({ balance: 1_000, held: 0 });
  });

  it('a 400 about the request itself does not fall back', async () => {
    const user = await aiUser(2_000_000);
    const chat = await assistantChat(user);
    stack.openai.behave({ error: { status: 400, message: 'Invalid request', type: 'invalid_request_error' } });
    const res = await (await caller(stack.fns, user)).post({ chat_id: chat, prompt: 'Hi', model: OPENAI, stream: false });
    expect(res.status).toBe(502);
    expect(stack.deepseek.requests).toHaveLength(0);
  });
});

describe('a provider failure after output began', () => {
  it('does not fall back: the output received is charged at the first model\'s prices', async () => {
    const user = await aiUser(2_000_000);
    const chat = await assistantChat(user);
    stack.openai.behave({ reply: 'One two three four five six seven eight nine ten.', tokensPerChunk: 2, cutAfterChunks: 2, chunkDelayMs: 30 });

    const res = await (await caller(stack.fns, user)).post({ chat_id: chat, prompt: 'Count', model: OPENAI });
    const events = await sseEvents(res);
    expect(events[0]!.event).toBe('start');
    expect(AiChatStart.parse(events[0]!.data)).toMatchObject({ model: OPENAI, fallback_from: null });
    expect(events.at(-1)!.event).toBe('error');
    expect(stack.deepseek.requests).toHaveLength(0);
    const [row] = await interactionsOf(user);
    expect(row).toMatchObject({ status: 'incomplete', model: OPENAI, error_code: 'truncated_stream', usage_estimated: true });
    expect(Number(row!.charged_micro_usd)).toBeGreaterThan(0);
    expect(await attemptsOf(row!.id)).toEqual([]);
  });
});

describe('ai_model_fallbacks under RLS', () => {
  it('signed-in users read the pairs; only admins change them', async () => {
    const user = await aiUser(0);
    const rows = await asUser(user, (tx) => tx`select fallback_model_id from public.ai_model_fallbacks where model_id = ${OPENAI}`);
    expect(rows.map((r) => r.fallback_model_id)).toEqual([DEEPSEEK]);
    const changed = await asUser(user, (tx) => tx`update public.ai_model_fallbacks set fallback_model_id = ${OPENAI} where model_id = ${DEEPSEEK} returning model_id`);
    expect(changed).toEqual([]);
    await expect(asUser(user, (tx) => tx`insert into public.ai_model_fallbacks (model_id, fallback_model_id) values ('gpt-6-sol', 'gpt-6-luna')`))
      .rejects.toMatchObject({ code: '42501' });
  });
});
