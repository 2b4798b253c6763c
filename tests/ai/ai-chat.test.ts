/**
 * The ai-chat function end to end: real Deno over HTTP, real PostgreSQL, the
 * real `openai` SDK talking to the OpenAI and DeepSeek stand-ins.
 *
 * Tests that change global settings (rate limits, the default model) live in
 * this file only and restore them; vitest runs a file's tests one at a time.
 */
import { randomUUID } from 'node:crypto';
import { AiChatResult, AiChatStart, chatTopic, ChatChannelEvents, createFunctionsClient, FunctionsError, MessageChangePayload } from '@chat-with-me/shared';
import postgres from 'postgres';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { countTokens } from 'gpt-tokenizer/encoding/o200k_base';
import { countChatTokens } from '../../stack/standins/openai.mjs';
import { asUser, broadcastsOn, owner, superuser } from '../helpers/db.js';
import { expectError } from '../helpers/functions.js';
import {
  aiStackForFile,
  aiUser,
  assistantChat,
  caller,
  DEEPSEEK_KEY,
  eventually,
  expectedCost,
  interactionsOf,
  messagesOf,
  modelRow,
  OPENAI_KEY,
  setBalance,
  sseEvents,
  systemPrompt,
  wallet,
} from './helpers.js';

const stack = aiStackForFile();

async function reservation(id: string) {
  const [r] = await owner()`select * from public.credit_reservations where id = ${id}`;
  return r!;
}

async function ledgerFor(interactionId: string) {
  return owner()`select * from public.credit_ledger where source = 'ai_interaction' and source_id = ${interactionId}`;
}

describe('a streamed answer', () => {
  it('streams start, deltas and done; stores prompt and answer; charges the reported usage', async () => {
    const user = await aiUser(2_000_000, { display_name: 'Stream Tester' });
    const chat = await assistantChat(user);
    const before = await wallet(user);
    stack.openai.behave({ reply: 'Paris is the capital of France. It is on the Seine.', chunkDelayMs: 5 });

    const res = await (await caller(stack.fns, user)).post({ chat_id: chat, prompt: 'What is the capital of France?', model: 'gpt-6-luna' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events = await sseEvents(res);
    expect(events[0]!.event).toBe('start');
    expect(events.at(-1)!.event).toBe('done');
    expect(events.slice(1, -1).every((e) => e.event === 'delta')).toBe(true);
    expect(events.filter((e) => e.event === 'delta').length).toBeGreaterThan(1);

    const start = AiChatStart.parse(events[0]!.data);
    const done = AiChatResult.parse(events.at(-1)!.data);
    const streamed = events.filter((e) => e.event === 'delta').map((e) => e.data.text).join('');
    expect(streamed).toBe('Paris is the capital of France. It is on the Seine.');
    expect(done.content).toBe(streamed);
    expect(done).toMatchObject({ chat_id: chat, provider: 'openai', model: 'gpt-6-luna', finish_reason: 'stop', stored: true });

    // What the provider received.
    expect(stack.openai.requests).toHaveLength(1);
    const sent = stack.openai.requests[0]!;
    expect(sent.path).toBe('/v1/chat/completions');
    expect(sent.headers.authorization).toBe(`Bearer ${OPENAI_KEY}`);
    expect(sent.body).toMatchObject({ model: 'gpt-6-luna', stream: true, stream_options: { include_usage: true }, max_completion_tokens: 8192 });
    expect(sent.body.max_tokens).toBeUndefined();
    expect(sent.body.messages).toEqual([
      { role: 'system', content: await systemPrompt() },
      { role: 'user', content: 'What is the capital of France?' },
    ]);

    // Our estimate is the stand-in's count (same encoding and chat-format rule as OpenAI's).
    const usagePrompt = countChatTokens(sent.body.messages);
    expect(start.estimated_prompt_tokens).toBe(usagePrompt);
    expect(done.usage.prompt_tokens).toBe(usagePrompt);
    const m = await modelRow('gpt-6-luna');
    expect(start.reserved_micro_usd).toBe(expectedCost(m, { prompt: usagePrompt, completion: m.maxOutput }));
    const cost = expectedCost(m, { prompt: done.usage.prompt_tokens, completion: done.usage.completion_tokens });
    expect(done.cost_micro_usd).toBe(cost);
    expect(done.charged_micro_usd).toBe(cost);

    // The interaction row, the reservation, the ledger and the wallet agree to the micro-USD.
    const [row] = await interactionsOf(user);
    expect(row).toMatchObject({
      id: done.interaction_id, chat_id: chat, provider: 'openai', model: 'gpt-6-luna', status: 'succeeded', stream: true,
      prompt_tokens: done.usage.prompt_tokens, completion_tokens: done.usage.completion_tokens, cached_prompt_tokens: 0,
      finish_reason: 'stop', client_disconnected: false, error_code: null,
      prompt_message_id: done.prompt_message_id, answer_message_id: done.answer_message_id,
    });
    expect(Number(row!.cost_micro_usd)).toBe(cost);
    expect(Number(row!.charged_micro_usd)).toBe(cost);
    expect(row!.latency_ms).toBeGreaterThan(0);
    expect(row!.time_to_first_token_ms).toBeGreaterThanOrEqual(0);
    expect(row!.time_to_first_token_ms).toBeLessThanOrEqual(row!.latency_ms);
    expect(row!.provider_response_id).toMatch(/^chatcmpl-/);
    const res2 = await reservation(row!.reservation_id);
    expect(res2.status).toBe('settled');
    expect(Number(res2.settled_micro_usd)).toBe(cost);
    const ledger = await ledgerFor(done.interaction_id);
    expect(ledger).toHaveLength(1);
    expect(Number(ledger[0]!.amount_micro_usd)).toBe(-cost);
    expect(ledger[0]!.kind).toBe('ai_usage');
    expect(await wallet(user)).toEqual({ balance: before.balance - cost, held: 0 });
    expect(await owner()`select * from private.ledger_mismatches()`).toEqual([]);

    // The chat: the prompt as the user's text message, the answer as kind ai replying to it.
    const msgs = await messagesOf(chat);
    expect(msgs).toHaveLength(2);
    expect(msgs[0]).toMatchObject({ id: done.prompt_message_id, kind: 'text', sender_id: user, content: 'What is the capital of France?' });
    expect(msgs[0]!.metadata).toMatchObject({ ai_prompt: true, ai_interaction_id: done.interaction_id });
    expect(msgs[1]).toMatchObject({ id: done.answer_message_id, kind: 'ai', sender_id: null, content: streamed, reply_to_id: done.prompt_message_id });
    expect(msgs[1]!.metadata).toMatchObject({
      provider: 'openai', model: 'gpt-6-luna', ai_interaction_id: done.interaction_id, prompt_message_id: done.prompt_message_id,
      finish_reason: 'stop', part: 1, parts: 1,
    });
    expect(new Date(msgs[1]!.created_at).getTime()).toBeGreaterThan(new Date(msgs[0]!.created_at).getTime());

    // Members see both through Realtime; the untitled assistant chat got its title.
    const broadcasts = await broadcastsOn(chatTopic(chat));
    const inserts = broadcasts.filter((b) => b.event === 'INSERT').map((b) => MessageChangePayload.parse(b.payload).record!.id);
    expect(inserts.sort()).toEqual([done.prompt_message_id, done.answer_message_id].sort());
    expect(done.chat_title).toBe('What is the capital of France?');
    const titled = broadcasts.find((b) => b.event === 'chat_updated');
    expect(ChatChannelEvents.chat_updated.parse(titled!.payload)).toMatchObject({ chat_id: chat, title: 'What is the capital of France?' });
    const [c] = await owner()`select title from public.chats where id = ${chat}`;
    expect(c!.title).toBe('What is the capital of France?');
  });
});

describe('a JSON answer (stream: false)', () => {
  it('returns the same content as JSON, stores both messages and charges the reported usage', async () => {
    const user = await aiUser(2_000_000);
    const chat = await assistantChat(user, 'Already titled');
    stack.openai.behave({ reply: 'Two plus two is four.' });
    const res = await (await caller(stack.fns, user)).post({ chat_id: chat, prompt: '2+2?', model: 'gpt-6-luna', stream: false });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const body = AiChatResult.parse(await res.json());
    expect(body).toMatchObject({ content: 'Two plus two is four.', stored: true, finish_reason: 'stop', time_to_first_token_ms: null, chat_title: 'Already titled' });
    expect(stack.openai.requests[0]!.body).toMatchObject({ stream: false, max_completion_tokens: 8192 });
    expect(stack.openai.requests[0]!.body.stream_options).toBeUndefined();
    const m = await modelRow('gpt-6-luna');
    expect(body.cost_micro_usd).toBe(expectedCost(m, { prompt: body.usage.prompt_tokens, completion: body.usage.completion_tokens }));
    const msgs = await messagesOf(chat);
    expect(msgs.map((x) => [x.kind, x.content])).toEqual([['text', '2+2?'], ['ai', 'Two plus two is four.']]);
    const [row] = await interactionsOf(user);
    expect(row).toMatchObject({ status: 'succeeded', stream: false, time_to_first_token_ms: null });
    const [c] = await owner()`select title from public.chats where id = ${chat}`;
    expect(c!.title).toBe('Already titled');
  });

  it('the second exchange carries the first as context (user, assistant, user)', async () => {
    const user = await aiUser();
    const chat = await assistantChat(user);
    const call = await caller(stack.fns, user);
    stack.openai.behave({ reply: 'First answer.' });
    expect((await call.post({ chat_id: chat, prompt: 'First question', model: 'gpt-6-luna', stream: false })).status).toBe(200);
    stack.openai.behave({ reply: 'Second answer.' });
    expect((await call.post({ chat_id: chat, prompt: 'Second question', model: 'gpt-6-luna', stream: false })).status).toBe(200);
    expect(stack.openai.requests[1]!.body.messages.slice(1)).toEqual([
      { role: 'user', content: 'First question' },
      { role: 'assistant', content: 'First answer.' },
      { role: 'user', content: 'Second question' },
    ]);
    const [c] = await owner()`select title from public.chats where id = ${chat}`;
    expect(c!.title).toBe('First question');
  });

  it('splits an answer longer than a message (8000 characters) over several ai messages', async () => {
    const user = await aiUser();
    const chat = await assistantChat(user);
    const long = 'word '.repeat(3500); // 17,500 characters, ~3,500 tokens (under the 8192 cap)
    stack.openai.behave({ reply: long });
    const body = AiChatResult.parse(await (await (await caller(stack.fns, user)).post({ chat_id: chat, prompt: 'Say word a lot', model: 'gpt-6-luna', stream: false })).json());
    expect(body.content).toBe(long);
    const parts = (await messagesOf(chat)).filter((x) => x.kind === 'ai');
    expect(parts.map((p) => p.content.length)).toEqual([8000, 8000, 1500]);
    expect(parts.map((p) => p.content).join('')).toBe(long);
    expect(parts.map((p) => [p.metadata.part, p.metadata.parts])).toEqual([[1, 3], [2, 3], [3, 3]]);
    expect(parts[0]!.id).toBe(body.answer_message_id);
    expect(parts.every((p) => p.reply_to_id === body.prompt_message_id)).toBe(true);
  });
});

describe('cost arithmetic in micro-USD, both providers', () => {
  const cases: [string, { prompt_tokens: number; completion_tokens: number; cached_tokens: number }][] = [
    ['gpt-6-luna', { prompt_tokens: 1234, completion_tokens: 567, cached_tokens: 0 }],
    ['gpt-6-sol', { prompt_tokens: 3001, completion_tokens: 777, cached_tokens: 1000 }],
    ['deepseek-v4-flash', { prompt_tokens: 1234, completion_tokens: 567, cached_tokens: 300 }],
    ['deepseek-v4-pro', { prompt_tokens: 7, completion_tokens: 3, cached_tokens: 5 }],
  ];
  for (const [model, usage] of cases) {
    it(`${model}: ${usage.prompt_tokens} prompt (${usage.cached_tokens} cached) + ${usage.completion_tokens} completion tokens`, async () => {
      const user = await aiUser(3_000_000);
      const chat = await assistantChat(user);
      const m = await modelRow(model);
      const standin = m.provider === 'openai' ? stack.openai : stack.deepseek;
      standin.behave({ usage });
      const before = await wallet(user);
      const body = AiChatResult.parse(await (await (await caller(stack.fns, user)).post({ chat_id: chat, prompt: 'price check', model, stream: false })).json());
      const cost = expectedCost(m, { prompt: usage.prompt_tokens, cached: usage.cached_tokens, completion: usage.completion_tokens });
      expect(body.usage).toEqual({ prompt_tokens: usage.prompt_tokens, cached_prompt_tokens: usage.cached_tokens, completion_tokens: usage.completion_tokens });
      expect(body.cost_micro_usd).toBe(cost);
      expect(body.charged_micro_usd).toBe(cost);
      expect(await wallet(user)).toEqual({ balance: before.balance - cost, held: 0 });
      const [row] = await interactionsOf(user);
      expect(row).toMatchObject({ prompt_tokens: usage.prompt_tokens, cached_prompt_tokens: usage.cached_tokens, completion_tokens: usage.completion_tokens });
      expect(Number(row!.cost_micro_usd)).toBe(cost);
      const [l] = await owner()`select amount_micro_usd from public.credit_ledger where source = 'ai_interaction' and source_id = ${body.interaction_id}`;
      expect(Number(l!.amount_micro_usd)).toBe(-cost);
    });
  }

  it('rounds up once per call, to the next micro-USD', async () => {
    // gpt-6-luna: 1 prompt token costs 0.1 micro-USD, 1 completion token 0.5: 1 + 1 → ceil(0.6) = 1.
    const [r] = await owner()`select private.ai_cost_micro_usd(1, 0, 1, 100000, 10000, 500000) as a,
                                     private.ai_cost_micro_usd(10, 0, 0, 100000, 10000, 500000) as b,
                                     private.ai_cost_micro_usd(0, 0, 0, 100000, 10000, 500000) as c,
                                     private.ai_cost_micro_usd(1234, 0, 567, 100000, 10000, 500000) as d`;
    expect([Number(r!.a), Number(r!.b), Number(r!.c), Number(r!.d)]).toEqual([1, 1, 0, 407]);
  });
});

describe('metering that cannot overspend', () => {
  it('402 when the reservation does not fit: no provider call, nothing stored, nothing charged', async () => {
    const user = await aiUser(1000); // 0.001 USD: less than 8192 output tokens of gpt-6-luna (4096 micro-USD)
    const chat = await assistantChat(user);
    const err = await expectError(await (await caller(stack.fns, user)).post({ chat_id: chat, prompt: 'hello', model: 'gpt-6-luna' }), 402, 'insufficient_credits');
    expect(err.details).toMatchObject({ interaction_id: expect.any(String) });
    expect(stack.openai.requests).toHaveLength(0);
    expect(await messagesOf(chat)).toHaveLength(0);
    expect(await wallet(user)).toEqual({ balance: 1000, held: 0 });
    const rows = await interactionsOf(user);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ status: 'refused', error_code: 'insufficient_credits', reservation_id: null, charged_micro_usd: null });
  });

  it('200 concurrent calls on a wallet that covers 50 reservations: 50 reach the provider, the balance never goes negative, the ledger reconciles', { timeout: 180_000 }, async () => {
    const limits = await owner()`select key, value from public.admin_config where key in ('ai.rate_limit_per_minute', 'ai.rate_limit_per_day')`;
    await owner()`update public.admin_config set value = '1000' where key in ('ai.rate_limit_per_minute', 'ai.rate_limit_per_day')`;
    try {
      const user = await aiUser(0);
      const chats = await asUser(user, async (tx) => {
        const ids: string[] = [];
        for (let i = 0; i < 200; i++) ids.push(((await tx`select id from public.create_assistant_chat('Load test')`)[0]!.id) as string);
        return ids;
      });
      const m = await modelRow('gpt-6-luna');
      const prompt = 'Count the reservations';
      const promptTokens = countChatTokens([{ role: 'system', content: await systemPrompt() }, { role: 'user', content: prompt }]);
      const reserve = expectedCost(m, { prompt: promptTokens, completion: m.maxOutput });
      await setBalance(user, 50 * reserve);
      // Each call costs exactly its reservation, so 50 exhaust the wallet whatever the timing.
      stack.openai.behave({ reply: 'ok', usage: { completion_tokens: m.maxOutput }, latencyMs: 20 });

      const call = await caller(stack.fns, user);
      const statuses = await Promise.all(chats.map((chat) => call.post({ chat_id: chat, prompt, model: 'gpt-6-luna', stream: false }).then(async (r) => {
        await r.text();
        return r.status;
      })));
      const count = (s: number) => statuses.filter((x) => x === s).length;
      expect({ ok: count(200), refused: count(402), other: statuses.length - count(200) - count(402) }).toEqual({ ok: 50, refused: 150, other: 0 });
      expect(stack.openai.requests).toHaveLength(50);
      expect(await wallet(user)).toEqual({ balance: 0, held: 0 });
      expect(await owner()`select * from private.ledger_mismatches()`).toEqual([]);
      const [neg] = await owner()`select count(*)::int as n from public.credit_ledger where user_id = ${user} and balance_after_micro_usd < 0`;
      expect(neg!.n).toBe(0);
      const [sum] = await owner()`select coalesce(sum(amount_micro_usd), 0)::bigint as s from public.credit_ledger where user_id = ${user}`;
      expect(Number(sum!.s)).toBe(0);
      const byStatus = await owner()`select status, count(*)::int as n from public.ai_interactions where user_id = ${user} group by status order by status`;
      expect(Object.fromEntries(byStatus.map((r) => [r.status, r.n]))).toEqual({ succeeded: 50, refused: 150 });
      const [charged] = await owner()`select sum(charged_micro_usd)::bigint as s from public.ai_interactions where user_id = ${user}`;
      expect(Number(charged!.s)).toBe(50 * reserve);
    } finally {
      for (const l of limits) await owner()`update public.admin_config set value = ${l.value} where key = ${l.key}`;
    }
  });

  it('a crossing below the low-balance threshold sends exactly one notification', async () => {
    const [t] = await owner()`select (value #>> '{}')::bigint as t from public.admin_config where key = 'credits.low_balance_threshold_micro_usd'`;
    const threshold = Number(t!.t);
    const user = await aiUser(threshold + 100);
    const chat = await assistantChat(user);
    const call = await caller(stack.fns, user);
    // Each answer costs 1,000 micro-USD (2,000 completion tokens at 500,000 per 1M).
    stack.openai.behave({ usage: { prompt_tokens: 0, completion_tokens: 2000 } });
    for (let i = 0; i < 3; i++) {
      expect((await call.post({ chat_id: chat, prompt: `call ${i}`, model: 'gpt-6-luna', stream: false })).status).toBe(200);
    }
    expect((await wallet(user)).balance).toBe(threshold + 100 - 3000);
    const notes = await owner()`select kind, payload from public.notifications where user_id = ${user} and kind = 'low_balance'`;
    expect(notes).toHaveLength(1);
    expect(Number(notes[0]!.payload.balance_micro_usd)).toBe(threshold - 900);
    const live = (await broadcastsOn(`user:${user}`)).filter((b) => b.event === 'notification' && b.payload.kind === 'low_balance');
    expect(live).toHaveLength(1);
  });
});

describe('provider faults: everything released, nothing charged or stored', () => {
  async function expectNothingCharged(user: string, chat: string, balance: number) {
    expect(await messagesOf(chat)).toHaveLength(0);
    expect(await wallet(user)).toEqual({ balance, held: 0 });
    const [row] = await interactionsOf(user);
    expect(row).toMatchObject({ status: 'failed' });
    expect(Number(row!.charged_micro_usd)).toBe(0);
    expect(row!.finished_at).not.toBeNull();
    expect((await reservation(row!.reservation_id)).status).toBe('released');
    expect(await owner()`select 1 from public.credit_ledger where source = 'ai_interaction' and source_id = ${row!.id}::text`).toHaveLength(0);
    return row!;
  }

  it('500 from the provider (after one retry) → 502 with the error shape', async () => {
    const user = await aiUser(1_000_000);
    const chat = await assistantChat(user);
    stack.openai.behave({ error: { status: 500, message: 'The server had an error while processing your request.', type: 'server_error' } });
    const err = await expectError(await (await caller(stack.fns, user)).post({ chat_id: chat, prompt: 'hi', model: 'gpt-6-luna' }), 502, 'provider_error');
    expect(err.details).toMatchObject({ provider: 'openai', status: 500 });
    expect(stack.openai.requests).toHaveLength(2); // the SDK retries once before anything is streamed
    const row = await expectNothingCharged(user, chat, 1_000_000);
    expect(row.error_code).toBe('provider_error');
  });

  it('429 from the provider → 429 with its Retry-After', async () => {
    const user = await aiUser(1_000_000);
    const chat = await assistantChat(user);
    stack.openai.behave({ error: { status: 429, message: 'Rate limit reached for requests', type: 'requests', code: 'rate_limit_exceeded', headers: { 'retry-after': '0' } } });
    stack.openai.queue({ error: { status: 429, message: 'Rate limit reached for requests', type: 'requests', code: 'rate_limit_exceeded', headers: { 'retry-after': '0' } } });
    const res = await (await caller(stack.fns, user)).post({ chat_id: chat, prompt: 'hi', model: 'gpt-6-luna', stream: false });
    expect(res.headers.get('retry-after')).toBe('20');
    await expectError(res, 429, 'rate_limited');
    const row = await expectNothingCharged(user, chat, 1_000_000);
    expect(row.error_code).toBe('provider_rate_limited');
  });

  it('401 from the provider (our key refused) → 503', async () => {
    const user = await aiUser(1_000_000);
    const chat = await assistantChat(user);
    stack.deepseek.behave({ error: { status: 401, message: 'Authentication Fails, Your api key is invalid', type: 'authentication_error', code: 'invalid_request_error' } });
    const err = await expectError(await (await caller(stack.fns, user)).post({ chat_id: chat, prompt: 'hi', model: 'deepseek-v4-flash' }), 503, 'unavailable');
    expect(err.details).toMatchObject({ provider: 'deepseek', status: 401 });
    expect(JSON.stringify(err)).not.toContain(DEEPSEEK_KEY);
    await expectNothingCharged(user, chat, 1_000_000);
  });

  it('a stream cut before any content → an error; nothing charged or stored', async () => {
    const user = await aiUser(1_000_000);
    const chat = await assistantChat(user);
    stack.openai.behave({ reply: '', cutAfterChunks: 1 });
    const res = await (await caller(stack.fns, user)).post({ chat_id: chat, prompt: 'hi', model: 'gpt-6-luna' });
    // The cut may come before the SDK has the response headers (a 502 answer) or after (SSE start, then error).
    if (res.headers.get('content-type')?.startsWith('text/event-stream')) {
      const events = await sseEvents(res);
      expect(events.map((e) => e.event)).toEqual(['start', 'error']);
      expect(events[1]!.data).toMatchObject({ error: 'provider_error' });
    } else {
      await expectError(res, 502, 'provider_error');
    }
    expect((await expectNothingCharged(user, chat, 1_000_000)).error_code).toMatch(/^(truncated_stream|connection_failed)$/);
  });
});

/**
 * Once the provider has produced output, the caller pays for it whatever fails
 * afterwards (README "AI assistant"): reported usage, or the estimate (prompt
 * as counted before the call + tokens of the output received, gpt-tokenizer
 * o200k_base, capped at the reservation). These failed on the code before: every
 * one of them released the hold and charged nothing while the caller had the text.
 */
describe('once output exists, the caller pays for it', () => {
  /** The row, its single ledger debit and the wallet agree; the hold is gone and was settled, never released. */
  async function expectCharged(user: string, balance: number, expected: { status: string; error_code: string | null; usage_estimated: boolean }) {
    const [row] = await interactionsOf(user);
    expect(row).toMatchObject(expected);
    const charged = Number(row!.charged_micro_usd);
    expect(charged).toBeGreaterThan(0);
    expect(charged).toBe(Number(row!.cost_micro_usd));
    expect((await reservation(row!.reservation_id)).status).toBe('settled');
    const ledger = await ledgerFor(row!.id);
    expect(ledger.map((l) => Number(l.amount_micro_usd))).toEqual([-charged]);
    expect(await wallet(user)).toEqual({ balance: balance - charged, held: 0 });
    expect(await owner()`select * from private.ledger_mismatches()`).toEqual([]);
    return row!;
  }

  /** The documented estimate: prompt counted before the call + tokens of `answer`, at the model's prices, capped at the reservation. */
  async function estimateFor(row: Record<string, any>, answer: string) {
    const m = await modelRow(row.model);
    return Math.min(expectedCost(m, { prompt: row.estimated_prompt_tokens, completion: countTokens(answer) }), Number(row.reserved_micro_usd));
  }

  it('the database refuses to store the answer (at commit): the reported usage is still charged, the row says not_stored', async () => {
    // A deferred constraint trigger refuses any message carrying the marker when the finishing transaction commits,
    // so finishing fails as a whole (twice), and ai-chat falls back to charging without storing.
    await owner().unsafe(`
      create function private.test_refuse_marked_message() returns trigger language plpgsql set search_path = '' as $f$
      begin raise exception 'refused by test trigger' using errcode = '23514'; end $f$;
      create constraint trigger test_refuse_marked_message after insert on public.messages
        deferrable initially deferred for each row when (new.content like '%REFUSE-TO-STORE%')
        execute function private.test_refuse_marked_message();`);
    try {
      const user = await aiUser(1_000_000);
      const chat = await assistantChat(user);
      stack.openai.behave({ reply: 'A complete answer, but REFUSE-TO-STORE makes the database refuse it.', chunkDelayMs: 2 });
      const events = await sseEvents(await (await caller(stack.fns, user)).post({ chat_id: chat, prompt: 'hi', model: 'gpt-6-luna' }));
      expect(events.filter((e) => e.event === 'delta').length).toBeGreaterThan(0);
      const done = AiChatResult.parse(events.at(-1)!.data);
      expect(events.at(-1)!.event).toBe('done');
      expect(done).toMatchObject({ stored: false, prompt_message_id: null, answer_message_id: null, usage_estimated: false });
      const row = await expectCharged(user, 1_000_000, { status: 'incomplete', error_code: 'not_stored', usage_estimated: false });
      // The reported usage (the stand-in's count of what it sent), not an estimate.
      const m = await modelRow('gpt-6-luna');
      expect(row.completion_tokens).toBe(countTokens('A complete answer, but REFUSE-TO-STORE makes the database refuse it.'));
      expect(Number(row.charged_micro_usd)).toBe(expectedCost(m, { prompt: row.prompt_tokens, completion: row.completion_tokens }));
      expect(done.charged_micro_usd).toBe(Number(row.charged_micro_usd));
      expect(await messagesOf(chat)).toHaveLength(0); // nothing half-stored
    } finally {
      await owner().unsafe(`drop trigger test_refuse_marked_message on public.messages; drop function private.test_refuse_marked_message();`);
    }
  });

  // Alike on purpose: set up like the test above (a test trigger, one call); what fails, and what is asserted, differ.
  it('a finish that fails once is retried: stored and charged once', async () => {
    await owner().unsafe(`
      create sequence private.test_refuse_once_seq;
      create function private.test_refuse_once() returns trigger language plpgsql security definer set search_path = '' as $f$
      begin
        if nextval('private.test_refuse_once_seq') = 1 then raise exception 'refused once by test trigger' using errcode = '40001'; end if;
        return null;
      end $f$;
      create constraint trigger test_refuse_once after insert on public.messages
        deferrable initially deferred for each row when (new.content like '%REFUSE-ONCE%')
        execute function private.test_refuse_once();`);
    try {
      const user = await aiUser(1_000_000);
      const chat = await assistantChat(user);
      stack.openai.behave({ reply: 'REFUSE-ONCE: the first commit fails, the retry stores it.' });
      const events = await sseEvents(await (await caller(stack.fns, user)).post({ chat_id: chat, prompt: 'hi', model: 'gpt-6-luna' }));
      expect(events.at(-1)).toMatchObject({ event: 'done', data: { stored: true } });
      await expectCharged(user, 1_000_000, { status: 'succeeded', error_code: null, usage_estimated: false });
      expect((await messagesOf(chat)).map((x) => x.kind)).toEqual(['text', 'ai']);
    } finally {
      await owner().unsafe(`drop trigger test_refuse_once on public.messages; drop function private.test_refuse_once(); drop sequence private.test_refuse_once_seq;`);
    }
  });

  it('an answer with NUL characters (which PostgreSQL cannot store) is stored without them and charged', async () => {
    const user = await aiUser(1_000_000);
    const chat = await assistantChat(user);
    stack.openai.behave({ reply: 'before\u0000after, and\u0000again' });
    const events = await sseEvents(await (await caller(stack.fns, user)).post({ chat_id: chat, prompt: 'hi', model: 'gpt-6-luna' }));
    expect(events.at(-1)).toMatchObject({ event: 'done', data: { stored: true, content: 'beforeafter, andagain' } });
    await expectCharged(user, 1_000_000, { status: 'succeeded', error_code: null, usage_estimated: false });
    expect((await messagesOf(chat))[1]!.content).toBe('beforeafter, andagain');
  });

  it('a stream cut mid-way → SSE error after the deltas; the part received is stored and the estimate charged', async () => {
    const user = await aiUser(1_000_000);
    const chat = await assistantChat(user);
    stack.openai.behave({ reply: 'This answer will be cut somewhere in the middle, sorry.', cutAfterChunks: 2, chunkDelayMs: 20 });
    const res = await (await caller(stack.fns, user)).post({ chat_id: chat, prompt: 'hi', model: 'gpt-6-luna' });
    expect(res.status).toBe(200);
    const events = await sseEvents(res);
    // start, the deltas that made it before the cut (destroying a socket may drop the last write), error.
    const names = events.map((e) => e.event);
    expect(names[0]).toBe('start');
    expect(names.at(-1)).toBe('error');
    expect(names.slice(1, -1).length).toBeGreaterThanOrEqual(1);
    expect(names.slice(1, -1).every((n) => n === 'delta')).toBe(true);
    const row = await expectCharged(user, 1_000_000, { status: 'incomplete', error_code: 'truncated_stream', usage_estimated: true });
    const msgs = await messagesOf(chat);
    expect(msgs.map((x) => x.kind)).toEqual(['text', 'ai']);
    expect('This answer will be cut somewhere in the middle, sorry.'.startsWith(msgs[1]!.content)).toBe(true);
    expect(msgs[1]!.metadata).toMatchObject({ error_code: 'truncated_stream' });
    expect(row.completion_tokens).toBe(countTokens(msgs[1]!.content));
    expect(Number(row.charged_micro_usd)).toBe(await estimateFor(row, msgs[1]!.content));
    expect(events.at(-1)!.data).toMatchObject({
      error: 'provider_error',
      details: { reason: 'truncated_stream', interaction_id: row.id, stored: true, usage_estimated: true, charged_micro_usd: Number(row.charged_micro_usd) },
    });
  });

  it('a malformed chunk after the first content → SSE error (malformed_stream); the estimate is charged', async () => {
    const user = await aiUser(1_000_000);
    const chat = await assistantChat(user);
    stack.openai.behave({ malformed: true, chunkDelayMs: 20 });
    const events = await sseEvents(await (await caller(stack.fns, user)).post({ chat_id: chat, prompt: 'hi', model: 'gpt-6-luna' }));
    expect(events.at(-1)).toMatchObject({ event: 'error', data: { error: 'provider_error', details: { reason: 'malformed_stream', usage_estimated: true } } });
    const row = await expectCharged(user, 1_000_000, { status: 'incomplete', error_code: 'malformed_stream', usage_estimated: true });
    const received = events.filter((e) => e.event === 'delta').map((e) => e.data.text).join('');
    expect(Number(row.charged_micro_usd)).toBe(await estimateFor(row, received));
  });

  it('a stream without its usage chunk → done with the estimate; a JSON answer without usage → 200 with the estimate', async () => {
    const user = await aiUser(1_000_000);
    const chat = await assistantChat(user);
    stack.openai.behave({ omitUsage: true });
    const events = await sseEvents(await (await caller(stack.fns, user)).post({ chat_id: chat, prompt: 'hi', model: 'gpt-6-luna' }));
    const done = AiChatResult.parse(events.at(-1)!.data);
    expect(done).toMatchObject({ stored: true, usage_estimated: true });
    const row = await expectCharged(user, 1_000_000, { status: 'incomplete', error_code: 'usage_missing', usage_estimated: true });
    expect(Number(row.charged_micro_usd)).toBe(await estimateFor(row, done.content));
    expect(done.usage).toEqual({ prompt_tokens: row.estimated_prompt_tokens, cached_prompt_tokens: 0, completion_tokens: countTokens(done.content) });

    const other = await aiUser(1_000_000);
    const chat2 = await assistantChat(other);
    const res = await (await caller(stack.fns, other)).post({ chat_id: chat2, prompt: 'hi', model: 'gpt-6-luna', stream: false });
    expect(res.status).toBe(200);
    const json = AiChatResult.parse(await res.json());
    expect(json.usage_estimated).toBe(true);
    const row2 = await expectCharged(other, 1_000_000, { status: 'incomplete', error_code: 'usage_missing', usage_estimated: true });
    expect(Number(row2.charged_micro_usd)).toBe(await estimateFor(row2, json.content));
  });
});

describe('client disconnect mid-stream (decision: the answer is finished, stored and charged for what was produced)', () => {
  it('keeps reading the provider, stores the whole answer and charges the reported usage', async () => {
    const user = await aiUser(1_000_000);
    const chat = await assistantChat(user);
    const reply = 'A long and slow answer. '.repeat(20);
    stack.openai.behave({ reply, chunkDelayMs: 30 });
    const abort = new AbortController();
    const res = await (await caller(stack.fns, user)).post({ chat_id: chat, prompt: 'tell me slowly', model: 'gpt-6-luna' }, { signal: abort.signal });
    const reader = res.body!.getReader();
    let seen = '';
    while (!seen.includes('event: delta')) seen += new TextDecoder().decode((await reader.read()).value);
    abort.abort();
    await reader.cancel().catch(() => {});

    const row = await eventually(async () => {
      const [r] = await interactionsOf(user);
      return r?.status !== 'pending' ? r : undefined;
    }, 30_000);
    expect(row).toMatchObject({ status: 'succeeded', client_disconnected: true, finish_reason: 'stop' });
    const msgs = await messagesOf(chat);
    expect(msgs.map((x) => x.kind)).toEqual(['text', 'ai']);
    expect(msgs[1]!.content).toBe(reply);
    const m = await modelRow('gpt-6-luna');
    const cost = expectedCost(m, { prompt: row!.prompt_tokens, completion: row!.completion_tokens });
    expect(row!.completion_tokens).toBe(countTokens(reply));
    expect(Number(row!.charged_micro_usd)).toBe(cost);
    expect(await wallet(user)).toEqual({ balance: 1_000_000 - cost, held: 0 });
    // The provider call itself was never aborted.
    expect(stack.openai.requests[0]).toMatchObject({ completed: true, clientClosed: false });
  });
});

describe('rate limits', () => {
  it('answers 429 with Retry-After once a user starts more calls per minute than ai.rate_limit_per_minute; no provider call', { timeout: 120_000 }, async () => {
    const [l] = await owner()`select (value #>> '{}')::int as n from public.admin_config where key = 'ai.rate_limit_per_minute'`;
    const limit = l!.n as number;
    const user = await aiUser(5_000_000);
    const chat = await assistantChat(user);
    const call = await caller(stack.fns, user);
    stack.openai.behave({ reply: 'ok' });
    for (let i = 0; i < limit; i++) {
      const r = await call.post({ chat_id: chat, prompt: `n${i}`, model: 'gpt-6-luna', stream: false });
      expect(r.status, await r.text()).toBe(200);
    }
    const res = await call.post({ chat_id: chat, prompt: 'one too many', model: 'gpt-6-luna' });
    const retry = Number(res.headers.get('retry-after'));
    expect(retry).toBeGreaterThanOrEqual(1);
    expect(retry).toBeLessThanOrEqual(60);
    const err = await expectError(res, 429, 'rate_limited');
    expect(err.details).toEqual({ retry_after_seconds: retry, window: 'minute', limit });
    expect(res.headers.get('access-control-expose-headers')).toMatch(/retry-after/);
    expect(stack.openai.requests).toHaveLength(limit);
    expect(await interactionsOf(user)).toHaveLength(limit);
    // Another user is not affected.
    const other = await aiUser();
    const otherChat = await assistantChat(other);
    expect((await (await caller(stack.fns, other)).post({ chat_id: otherChat, prompt: 'hi', model: 'gpt-6-luna', stream: false })).status).toBe(200);
  });

  it('is atomic under concurrency: 30 simultaneous starts with a limit of 20 → exactly 20 start', async () => {
    const [l] = await owner()`select (value #>> '{}')::int as n from public.admin_config where key = 'ai.rate_limit_per_minute'`;
    const limit = l!.n as number;
    const user = await aiUser(5_000_000);
    const [chat] = await asUser(user, (tx) => tx`select id from public.create_assistant_chat('x')`);
    // One connection per caller, so the starts really race.
    const pool = postgres(inject('dbUrl'), { max: limit + 10, onnotice: () => {} });
    let outcomes: (string | undefined)[];
    try {
      outcomes = await Promise.all(Array.from({ length: limit + 10 }, () =>
        pool.begin(async (tx) => {
          await tx`set local role service_role`;
          return tx`select status from private.start_ai_interaction(${user}, ${chat!.id}, 'gpt-6-luna', 10, 0, false, null)`;
        }).then(() => 'started', (e) => (e as { code?: string }).code)));
    } finally {
      await pool.end();
    }
    expect(outcomes.filter((o) => o === 'started')).toHaveLength(limit);
    expect(outcomes.filter((o) => o === 'PT429')).toHaveLength(10);
    expect((await wallet(user)).held).toBeGreaterThan(0);
    // Clean up the holds (these calls never reached a provider).
    for (const r of await interactionsOf(user)) await owner()`select private.fail_ai_interaction(${r.id}, 'test', 'cleanup')`;
    expect(await wallet(user)).toEqual({ balance: 5_000_000, held: 0 });
  });
});

describe('who may ask', () => {
  it('a non-member gets 404 and nothing is stored, called or reserved', async () => {
    const owner_ = await aiUser();
    const stranger = await aiUser();
    const chat = await assistantChat(owner_);
    await asUser(owner_, (tx) => tx`select public.send_message(${chat}, 'my private history')`);
    const err = await expectError(await (await caller(stack.fns, stranger)).post({ chat_id: chat, prompt: 'what did they say?', model: 'gpt-6-luna' }), 404, 'not_found');
    expect(err.message).not.toContain('private');
    expect(stack.openai.requests).toHaveLength(0);
    expect(await interactionsOf(stranger)).toHaveLength(0);
    expect(await messagesOf(chat)).toHaveLength(1);
    expect(await wallet(stranger)).toEqual({ balance: 5_000_000, held: 0 });
    await expectError(await (await caller(stack.fns, stranger)).post({ chat_id: randomUUID(), prompt: 'hi' }), 404, 'not_found');
  });

  it('any member of a group chat may ask; everyone sees the prompt and the answer; names prefix people’s messages', async () => {
    const alice = await aiUser(5_000_000, { display_name: 'Alice Group' });
    const bob = await aiUser(5_000_000, { display_name: 'Bob Group' });
    const [g] = await asUser(alice, (tx) => tx`select id from public.create_group_chat('Trip', ${[bob]}::text[])`);
    const chat = g!.id as string;
    await asUser(alice, (tx) => tx`select public.send_message(${chat}, 'Where shall we go?')`);
    stack.openai.behave({ reply: 'Try the mountains.' });
    const body = AiChatResult.parse(await (await (await caller(stack.fns, bob)).post({ chat_id: chat, prompt: 'Any ideas?', model: 'gpt-6-luna', stream: false })).json());
    expect(stack.openai.requests[0]!.body.messages.slice(1)).toEqual([
      { role: 'user', content: 'Alice Group: Where shall we go?' },
      { role: 'user', content: 'Bob Group: Any ideas?' },
    ]);
    expect(body.chat_title).toBe('Trip');
    // Alice reads both new messages under RLS.
    const seen = await asUser(alice, (tx) => tx`select kind, sender_id, content from public.messages where chat_id = ${chat} order by created_at, id`);
    expect(seen.map((m) => [m.kind, m.sender_id, m.content])).toEqual([
      ['text', alice, 'Where shall we go?'], ['text', bob, 'Any ideas?'], ['ai', null, 'Try the mountains.'],
    ]);
    // Bob is charged, not Alice.
    expect((await wallet(bob)).balance).toBe(5_000_000 - body.charged_micro_usd);
    expect((await wallet(alice)).balance).toBe(5_000_000);
  });

  it('in a direct chat with a block, the call is refused (403) before any provider call', async () => {
    const a = await aiUser();
    const b = await aiUser();
    const [d] = await asUser(a, (tx) => tx`select id from public.get_or_create_direct_chat(${b})`);
    await asUser(b, (tx) => tx`select public.block_user(${a})`);
    await expectError(await (await caller(stack.fns, a)).post({ chat_id: d!.id, prompt: 'hi', model: 'gpt-6-luna' }), 403, 'forbidden');
    expect(stack.openai.requests).toHaveLength(0);
    expect(await wallet(a)).toEqual({ balance: 5_000_000, held: 0 });
  });
});

describe('context within the token budget', () => {
  it('sends the newest history that fits ai.context_token_budget, oldest first, and nothing older', async () => {
    const [b] = await owner()`select (value #>> '{}')::int as n from public.admin_config where key = 'ai.context_token_budget'`;
    const budget = b!.n as number;
    const user = await aiUser();
    const chat = await assistantChat(user);
    // ~60 messages of ~120 tokens each: far more than the budget.
    await owner().begin(async (tx) => {
      for (let i = 0; i < 60; i++) {
        await tx`insert into public.messages (chat_id, sender_id, kind, content, created_at)
                 values (${chat}, ${i % 2 ? null : user}, ${i % 2 ? 'ai' : 'text'}, ${`message ${i}: ` + 'lorem ipsum dolor sit amet '.repeat(20)},
                         now() - make_interval(secs => ${600 - i}))`;
      }
    });
    stack.openai.behave({ reply: 'ok' });
    const res = await (await caller(stack.fns, user)).post({ chat_id: chat, prompt: 'Summarise', model: 'gpt-6-luna' });
    const events = await sseEvents(res);
    const start = AiChatStart.parse(events[0]!.data);
    const sent = stack.openai.requests[0]!.body.messages as { role: string; content: string }[];
    expect(sent[0]!.role).toBe('system');
    expect(sent.at(-1)).toEqual({ role: 'user', content: 'Summarise' });
    const history = sent.slice(1, -1);
    expect(history.length).toBe(start.context_messages);
    expect(history.length).toBeGreaterThan(5);
    expect(history.length).toBeLessThan(60);
    // The newest ones, contiguous, in chronological order, roles from the message kinds.
    const first = 60 - history.length;
    history.forEach((m, k) => {
      expect(m.content.startsWith(`message ${first + k}: `)).toBe(true);
      expect(m.role).toBe((first + k) % 2 ? 'assistant' : 'user');
    });
    // Within the budget, and one more message would not have fitted.
    const tokens = countChatTokens(sent);
    expect(tokens).toBeLessThanOrEqual(budget);
    const older = { role: (first - 1) % 2 ? 'assistant' : 'user', content: `message ${first - 1}: ` + 'lorem ipsum dolor sit amet '.repeat(20).trim() };
    expect(countChatTokens([...sent, older])).toBeGreaterThan(budget);
    // The estimate is exactly what the provider (stand-in) counted.
    expect(start.estimated_prompt_tokens).toBe(tokens);
    expect(AiChatResult.parse(events.at(-1)!.data).usage.prompt_tokens).toBe(tokens);
  });
});

describe('DeepSeek', () => {
  it('routes to DEEPSEEK_BASE_URL with its key, max_tokens, and reads its usage fields (cache hits)', async () => {
    const user = await aiUser();
    const chat = await assistantChat(user);
    stack.deepseek.behave({ reply: 'Hello from DeepSeek.', usage: { cached_tokens: 4 } });
    const events = await sseEvents(await (await caller(stack.fns, user)).post({ chat_id: chat, prompt: 'hello', model: 'deepseek-v4-flash' }));
    const start = AiChatStart.parse(events[0]!.data);
    const done = AiChatResult.parse(events.at(-1)!.data);
    expect(stack.openai.requests).toHaveLength(0);
    expect(stack.deepseek.requests).toHaveLength(1);
    const sent = stack.deepseek.requests[0]!;
    expect(sent.path).toBe('/chat/completions');
    expect(sent.headers.authorization).toBe(`Bearer ${DEEPSEEK_KEY}`);
    expect(sent.body).toMatchObject({ model: 'deepseek-v4-flash', max_tokens: 8192, stream: true, stream_options: { include_usage: true } });
    expect(sent.body.max_completion_tokens).toBeUndefined();
    expect(done).toMatchObject({ provider: 'deepseek', model: 'deepseek-v4-flash', content: 'Hello from DeepSeek.' });
    expect(done.usage.cached_prompt_tokens).toBe(4);
    // The estimate carries the +25% margin for a tokenizer we only approximate.
    const counted = countChatTokens(sent.body.messages);
    expect(start.estimated_prompt_tokens).toBe(Math.ceil(counted * 1.25));
    const m = await modelRow('deepseek-v4-flash');
    expect(start.reserved_micro_usd).toBe(expectedCost(m, { prompt: Math.ceil(counted * 1.25), completion: 8192 }));
    expect(done.cost_micro_usd).toBe(expectedCost(m, { prompt: done.usage.prompt_tokens, cached: 4, completion: done.usage.completion_tokens }));
    const [msg] = (await messagesOf(chat)).filter((x) => x.kind === 'ai');
    expect(msg!.metadata).toMatchObject({ provider: 'deepseek', model: 'deepseek-v4-flash' });
  });
});

describe('assistant chat titles', () => {
  it('an untitled assistant chat is named after its first prompt (first line, ≤ 60 characters, cut at a word)', async () => {
    const user = await aiUser();
    const call = await caller(stack.fns, user);
    const cases: [string, string][] = [
      ['  Plan my   weekend\nin Lisbon please', 'Plan my weekend'],
      ['How do I keep sourdough starter alive while travelling for two weeks in summer?', 'How do I keep sourdough starter alive while travelling for…'],
    ];
    for (const [prompt, title] of cases) {
      const chat = await assistantChat(user);
      const body = AiChatResult.parse(await (await call.post({ chat_id: chat, prompt, model: 'gpt-6-luna', stream: false })).json());
      expect(body.chat_title).toBe(title);
      expect(body.chat_title!.length).toBeLessThanOrEqual(61);
      // The second exchange keeps it.
      const again = AiChatResult.parse(await (await call.post({ chat_id: chat, prompt: 'And another thing', model: 'gpt-6-luna', stream: false })).json());
      expect(again.chat_title).toBe(title);
    }
  });
});

describe('the default model', () => {
  it('is used when a request names none; ai_models.is_default is its one source (no admin_config copy)', async () => {
    const [d] = await owner()`select id from public.ai_models where is_default`;
    const original = d!.id as string;
    // One source: no setting repeats which model is the default.
    expect(await owner()`select key from public.admin_config where key like 'ai.default%'`).toEqual([]);
    const user = await aiUser();
    const chat = await assistantChat(user);
    const call = await caller(stack.fns, user);
    try {
      const body = AiChatResult.parse(await (await call.post({ chat_id: chat, prompt: 'which model?', stream: false })).json());
      expect(body.model).toBe(original);

      // Ticking is_default on another model moves the default (and clears the old flag)…
      await owner()`update public.ai_models set is_default = true where id = 'deepseek-v4-flash'`;
      expect(await owner()`select id from public.ai_models where is_default`).toEqual([{ id: 'deepseek-v4-flash' }]);
      const body2 = AiChatResult.parse(await (await call.post({ chat_id: chat, prompt: 'which model now?', stream: false })).json());
      expect(body2).toMatchObject({ provider: 'deepseek', model: 'deepseek-v4-flash' });

      // …a second default cannot exist even when the trigger is bypassed (partial unique index)…
      const two = await superuser().begin(async (tx) => {
        await tx`set local session_replication_role = replica`;
        await tx`update public.ai_models set is_default = true where id = 'gpt-6-sol'`;
      }).catch((e) => e);
      expect(two).toMatchObject({ code: '23505' });
      // …and the default cannot be disabled.
      const disable = await owner()`update public.ai_models set enabled = false where id = 'deepseek-v4-flash'`.catch((e) => e);
      expect(disable).toMatchObject({ code: '23514' });
    } finally {
      await owner()`update public.ai_models set is_default = true where id = ${original}`;
    }
    expect(await owner()`select id from public.ai_models where is_default`).toEqual([{ id: original }]);
  });

  it('an unknown or disabled model is a 400 with nothing reserved', async () => {
    const user = await aiUser();
    const chat = await assistantChat(user);
    const call = await caller(stack.fns, user);
    await expectError(await call.post({ chat_id: chat, prompt: 'hi', model: 'gpt-4o-mini' }), 400, 'invalid_request');
    const id = `test-disabled-${randomUUID().slice(0, 8)}`;
    await owner()`insert into public.ai_models (id, provider, display_name, input_micro_usd_per_mtok, output_micro_usd_per_mtok, context_window, max_output_tokens, enabled)
                  values (${id}, 'openai', 'Disabled', 1, 1, 1000, 100, false)`;
    await expectError(await call.post({ chat_id: chat, prompt: 'hi', model: id }), 400, 'invalid_request');
    expect(await interactionsOf(user)).toHaveLength(0);
    expect(stack.openai.requests).toHaveLength(0);
  });

  it('request_options of a model reach the provider, but never override our fields', async () => {
    const user = await aiUser();
    const chat = await assistantChat(user);
    const id = `test-options-${randomUUID().slice(0, 8)}`;
    await owner()`insert into public.ai_models (id, provider, display_name, input_micro_usd_per_mtok, output_micro_usd_per_mtok, context_window, max_output_tokens, request_options)
                  values (${id}, 'openai', 'Options', 100000, 500000, 100000, 256,
                          ${owner().json({ reasoning_effort: 'low', max_completion_tokens: 99999, stream: false, model: 'other' })})`;
    await sseEvents(await (await caller(stack.fns, user)).post({ chat_id: chat, prompt: 'hi', model: id }));
    expect(stack.openai.requests[0]!.body).toMatchObject({ model: id, reasoning_effort: 'low', max_completion_tokens: 256, stream: true });
  });
});

describe('bad requests: 4xx with the error shape, never 500, nothing called or stored', () => {
  let user: string;
  let chat: string;
  let call: Awaited<ReturnType<typeof caller>>;
  beforeAll(async () => {
    user = await aiUser();
    chat = await assistantChat(user);
    call = await caller(stack.fns, user);
  });

  const bodies: [string, unknown, number, string][] = [
    ['malformed JSON', '{"chat_id": ', 400, 'invalid_request'],
    ['an empty body', '', 400, 'invalid_request'],
    ['a JSON array', '[]', 400, 'invalid_request'],
    ['a JSON string', '"hello"', 400, 'invalid_request'],
    ['null', 'null', 400, 'invalid_request'],
    ['no chat_id', { prompt: 'hi' }, 400, 'invalid_request'],
    ['chat_id not a uuid', { chat_id: 'chat-1', prompt: 'hi' }, 400, 'invalid_request'],
    ['chat_id a number', { chat_id: 42, prompt: 'hi' }, 400, 'invalid_request'],
    ['no prompt', { chat_id: '00000000-0000-4000-8000-000000000000' }, 400, 'invalid_request'],
    ['an empty prompt', { chat_id: '00000000-0000-4000-8000-000000000000', prompt: '' }, 400, 'invalid_request'],
    ['a blank prompt', { chat_id: '00000000-0000-4000-8000-000000000000', prompt: ' \n\t ' }, 400, 'invalid_request'],
    ['a prompt of 8001 characters', { chat_id: '00000000-0000-4000-8000-000000000000', prompt: 'x'.repeat(8001) }, 400, 'invalid_request'],
    ['a prompt that is not a string', { chat_id: '00000000-0000-4000-8000-000000000000', prompt: ['hi'] }, 400, 'invalid_request'],
    ['a model id with spaces', { chat_id: '00000000-0000-4000-8000-000000000000', prompt: 'hi', model: 'gpt 6' }, 400, 'invalid_request'],
    ['a model that is not a string', { chat_id: '00000000-0000-4000-8000-000000000000', prompt: 'hi', model: 7 }, 400, 'invalid_request'],
    ['stream as a string', { chat_id: '00000000-0000-4000-8000-000000000000', prompt: 'hi', stream: 'yes' }, 400, 'invalid_request'],
    ['an unknown field', { chat_id: '00000000-0000-4000-8000-000000000000', prompt: 'hi', temperature: 2 }, 400, 'invalid_request'],
  ];
  for (const [name, body, status, code] of bodies) {
    it(name, async () => {
      const err = await expectError(await call.post(typeof body === 'string' ? body : JSON.stringify(body)), status, code);
      if (typeof body === 'object' && body !== null && !Array.isArray(body)) expect(err.details).toMatchObject({ issues: expect.any(Array) });
    });
  }

  it('the real chat with bad fields is untouched', async () => {
    await expectError(await call.post({ chat_id: chat, prompt: 'x'.repeat(8001) }), 400, 'invalid_request');
    await expectError(await call.post({ chat_id: chat, prompt: 'hi', extra: true }), 400, 'invalid_request');
    expect(await messagesOf(chat)).toHaveLength(0);
    expect(await interactionsOf(user)).toHaveLength(0);
    expect(stack.openai.requests).toHaveLength(0);
  });

  it('415 without application/json, 413 over 64 KiB, 405 for GET, 401 without or with a bad token', async () => {
    const url = `${stack.fns.url}/ai-chat`;
    const auth = { authorization: `Bearer ${call.token}` };
    await expectError(await fetch(url, { method: 'POST', headers: { ...auth, 'content-type': 'text/plain' }, body: JSON.stringify({ chat_id: chat, prompt: 'hi' }) }), 415, 'unsupported_media_type');
    await expectError(await call.post(JSON.stringify({ chat_id: chat, prompt: 'hi', pad: 'x'.repeat(70 * 1024) })), 413, 'payload_too_large');
    const get = await fetch(url, { headers: auth });
    await expectError(get, 405, 'method_not_allowed');
    expect(get.headers.get('allow')).toBe('POST, OPTIONS');
    await expectError(await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ chat_id: chat, prompt: 'hi' }) }), 401, 'unauthorized');
    await expectError(await fetch(url, { method: 'POST', headers: { authorization: 'Bearer not.a.jwt', 'content-type': 'application/json' }, body: '{}' }), 401, 'unauthorized');
    const pre = await fetch(url, { method: 'OPTIONS', headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' } });
    expect(pre.status).toBe(204);
    expect(await interactionsOf(user)).toHaveLength(0);
    expect(stack.openai.requests).toHaveLength(0);
  });
});

describe('the typed client (@chat-with-me/shared)', () => {
  it('streams typed events, returns JSON answers, and raises errors as FunctionsError', async () => {
    const user = await aiUser();
    const chat = await assistantChat(user);
    const token = (await caller(stack.fns, user)).token;
    const functions = createFunctionsClient({ url: stack.fns.url, getToken: () => token });
    stack.openai.behave({ reply: 'Typed answer, in pieces.', chunkDelayMs: 2 });
    const kinds: string[] = [];
    let text = '';
    let done: AiChatResult | undefined;
    for await (const ev of functions.aiChatStream({ chat_id: chat, prompt: 'typed?', model: 'gpt-6-luna' })) {
      kinds.push(ev.event);
      if (ev.event === 'delta') text += ev.data.text;
      if (ev.event === 'done') done = ev.data;
    }
    expect(kinds[0]).toBe('start');
    expect(kinds.at(-1)).toBe('done');
    expect(text).toBe('Typed answer, in pieces.');
    expect(done!.content).toBe(text);

    const json = await functions.aiChat({ chat_id: chat, prompt: 'json?', model: 'gpt-6-luna' });
    expect(json.content).toBe('Typed answer, in pieces.');

    const err = await functions.aiChat({ chat_id: randomUUID(), prompt: 'nope' }).catch((e) => e);
    expect(err).toBeInstanceOf(FunctionsError);
    expect(err).toMatchObject({ status: 404, code: 'not_found' });

    stack.openai.behave({ cutAfterChunks: 1, chunkDelayMs: 20 });
    const events: string[] = [];
    const streamErr = await (async () => {
      for await (const ev of functions.aiChatStream({ chat_id: chat, prompt: 'cut?', model: 'gpt-6-luna' })) events.push(ev.event);
    })().catch((e) => e);
    expect(events[0]).toBe('start');
    expect(streamErr).toBeInstanceOf(FunctionsError);
    expect(streamErr).toMatchObject({ code: 'provider_error' });

    const poor = await aiUser(10);
    const poorChat = await assistantChat(poor);
    const poorToken = (await caller(stack.fns, poor)).token;
    const poorClient = createFunctionsClient({ url: stack.fns.url, getToken: () => poorToken });
    const e402 = await (async () => {
      for await (const _ of poorClient.aiChatStream({ chat_id: poorChat, prompt: 'hi' })) { /* nothing */ }
    })().catch((e) => e);
    expect(e402).toMatchObject({ status: 402, code: 'insufficient_credits' });
  });
});
