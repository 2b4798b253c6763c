/**
 * ai-chat under other configurations: a short provider deadline and a missing
 * DeepSeek key (a second functions instance), and the local stack's wiring
 * (stack/runtime/functions.mjs): without AI keys, `npm start` serves both providers
 * through the stand-in.
 */
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AiChatResult } from '@chat-with-me/shared';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freePort } from '../../stack/runtime/db.mjs';
import { startFunctions } from '../../stack/runtime/functions.mjs';
import { clerkEnv, createClerkTestInstance, sessionToken } from '../helpers/clerk.js';
import { closeDb } from '../helpers/db.js';
import { expectError, functionsFolder } from '../helpers/functions.js';
import { countTokens } from 'gpt-tokenizer/encoding/o200k_base';
import { type AiStack, aiUser, assistantChat, caller, expectedCost, interactionsOf, messagesOf, modelRow, sseEvents, startAiStack, wallet } from './helpers.js';

afterAll(closeDb);

describe('a short deadline and no DeepSeek key', () => {
  let stack: AiStack;
  beforeAll(async () => {
    stack = await startAiStack({ AI_PROVIDER_TIMEOUT_MS: '1500', DEEPSEEK_API_KEY: undefined });
  });
  afterAll(() => stack?.stop());

  it('a provider that does not answer in time → 502 timeout, released, nothing stored', async () => {
    const user = await aiUser(1_000_000);
    const chat = await assistantChat(user);
    stack.openai.behave({ latencyMs: 4000 });
    const started = Date.now();
    const err = await expectError(await (await caller(stack.fns, user)).post({ chat_id: chat, prompt: 'hi', model: 'gpt-6-luna' }), 502, 'provider_error');
    expect(Date.now() - started).toBeLessThan(3900);
    expect(err.details).toMatchObject({ reason: 'timeout' });
    const [row] = await interactionsOf(user);
    expect(row).toMatchObject({ status: 'failed', error_code: 'timeout' });
    expect(await wallet(user)).toEqual({ balance: 1_000_000, held: 0 });
    expect(await messagesOf(chat)).toHaveLength(0);
  });

  it('a stream that stalls past the deadline after its first words → SSE error (timeout); what was received is stored and charged (estimate)', async () => {
    const user = await aiUser(1_000_000);
    const chat = await assistantChat(user);
    stack.openai.behave({ reply: 'one two three four five six seven eight nine ten', chunkDelayMs: 600, tokensPerChunk: 1 });
    const events = await sseEvents(await (await caller(stack.fns, user)).post({ chat_id: chat, prompt: 'hi', model: 'gpt-6-luna' }));
    expect(events[0]!.event).toBe('start');
    expect(events.filter((e) => e.event === 'delta').length).toBeGreaterThan(0);
    expect(events.at(-1)).toMatchObject({ event: 'error', data: { error: 'provider_error', details: { reason: 'timeout', usage_estimated: true } } });
    const [row] = await interactionsOf(user);
    expect(row).toMatchObject({ status: 'incomplete', error_code: 'timeout', usage_estimated: true });
    const msgs = await messagesOf(chat);
    expect(msgs.map((m) => m.kind)).toEqual(['text', 'ai']);
    const m = await modelRow('gpt-6-luna');
    const estimate = Math.min(expectedCost(m, { prompt: row!.estimated_prompt_tokens, completion: countTokens(msgs[1]!.content) }), Number(row!.reserved_micro_usd));
    expect(Number(row!.charged_micro_usd)).toBe(estimate);
    expect(await wallet(user)).toEqual({ balance: 1_000_000 - estimate, held: 0 });
  });

  it('a model of an unconfigured provider → 503 naming the missing key, nothing reserved', async () => {
    const user = await aiUser(1_000_000);
    const chat = await assistantChat(user);
    const err = await expectError(await (await caller(stack.fns, user)).post({ chat_id: chat, prompt: 'hi', model: 'deepseek-v4-flash' }), 503, 'unavailable');
    expect(err.details).toEqual({ missing: ['DEEPSEEK_API_KEY'], invalid: [] });
    expect(await interactionsOf(user)).toHaveLength(0);
    expect(stack.deepseek.requests).toHaveLength(0);
    // OpenAI models keep working.
    stack.openai.behave({ reply: 'still here' });
    const ok = AiChatResult.parse(await (await (await caller(stack.fns, user)).post({ chat_id: chat, prompt: 'hi', model: 'gpt-6-luna', stream: false })).json());
    expect(ok.content).toBe('still here');
  });
});

describe('npm start without AI keys', () => {
  it('serves OpenAI and DeepSeek through local stand-ins and says so in health', { timeout: 180_000 }, async () => {
    const folder = await functionsFolder(['ai-chat', 'health']);
    const envFile = path.join(tmpdir(), `chat-with-me-empty-${process.pid}-${Date.now()}.env`);
    await writeFile(envFile, '# no AI keys\nOPENAI_API_KEY=\n');
    const clerk = await createClerkTestInstance();
    const fns = await startFunctions({
      dbUrl: inject('dbUrl'),
      port: await freePort(),
      logDir: path.join(tmpdir(), `chat-with-me-fn-${process.pid}-${Date.now()}`),
      envFile,
      env: clerkEnv(clerk),
      functionsDir: folder.dir,
    });
    try {
      expect(fns.summary.join('\n')).toMatch(/OpenAI: LOCAL STAND-IN/);
      expect(fns.summary.join('\n')).toMatch(/DeepSeek: LOCAL STAND-IN/);
      const health = await (await fetch(`${fns.url}/health`)).json();
      expect(health.providers).toMatchObject({ openai: 'local', deepseek: 'local' });

      const user = await aiUser(1_000_000);
      const chat = await assistantChat(user);
      const token = await sessionToken(clerk, user);
      for (const model of ['gpt-6-luna', 'deepseek-v4-flash']) {
        const res = await fetch(`${fns.url}/ai-chat`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ chat_id: chat, prompt: 'Is anyone there?', model }),
        });
        const events = await sseEvents(res);
        const done = AiChatResult.parse(events.at(-1)!.data);
        expect(done.content).toMatch(/local AI stand-in/);
        expect(done.usage.completion_tokens).toBeGreaterThan(0);
      }
    } finally {
      await fns.stop();
      await folder.cleanup();
    }
  });
});
