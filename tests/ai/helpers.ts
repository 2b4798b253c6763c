/**
 * Shared set-up of the AI tests: the OpenAI and DeepSeek stand-ins
 * (stack/standins/openai.mjs, real `openai` SDK on the function's side), the
 * ai-chat function alone in real Deno (startTestFunctions `only`), users
 * with an exact balance, chats, and the cost formula written independently
 * of the SQL one.
 */
import { randomUUID } from 'node:crypto';
import { parseSseText } from '@chat-with-me/shared';
import { beforeEach, vi } from 'vitest';
import { startOpenAIStandin } from '../../stack/standins/openai.mjs';
import { sessionToken } from '../helpers/clerk.js';
import { asService, asUser, createUser, owner, startForFile } from '../helpers/db.js';
import { startTestFunctions, type TestFunctions } from '../helpers/functions.js';

export type Standin = Awaited<ReturnType<typeof startOpenAIStandin>>;

export const OPENAI_KEY = 'sk-test-openai-key';
export const DEEPSEEK_KEY = 'sk-test-deepseek-key';

export interface AiStack {
  fns: TestFunctions;
  openai: Standin;
  deepseek: Standin;
  stop(): Promise<void>;
}

/**
 * Both stand-ins and ai-chat (or the `functions` named) configured for them;
 * `env` adds or overrides variables (undefined removes one).
 */
export async function startAiStack(env: Record<string, string | undefined> = {}, functions = ['ai-chat']): Promise<AiStack> {
  const openai = await startOpenAIStandin({ apiKey: OPENAI_KEY });
  const deepseek = await startOpenAIStandin({ flavor: 'deepseek', apiKey: DEEPSEEK_KEY });
  const all: Record<string, string | undefined> = {
    OPENAI_API_KEY: OPENAI_KEY,
    OPENAI_BASE_URL: openai.url,
    DEEPSEEK_API_KEY: DEEPSEEK_KEY,
    DEEPSEEK_BASE_URL: deepseek.url,
    ...env,
  };
  const fns = await startTestFunctions({
    only: functions,
    env: Object.fromEntries(Object.entries(all).filter((e): e is [string, string] => e[1] !== undefined)),
  });
  return {
    fns,
    openai,
    deepseek,
    async stop() {
      await fns.stop();
      await Promise.all([openai.stop(), deepseek.stop()]);
    },
  };
}

/**
 * The AI stack of a test file (startAiStack, once, through startForFile: it
 * stops and closes the pools after the file), both stand-ins reset to their
 * default behaviour before each test.
 */
export function aiStackForFile(env: Record<string, string | undefined> = {}, functions = ['ai-chat']): AiStack {
  const stack = startForFile(() => startAiStack(env, functions));
  beforeEach(() => {
    stack.openai.reset();
    stack.deepseek.reset();
  });
  return stack;
}

/** Current wallet balance and holds of `userId`, in micro-USD. */
export async function wallet(userId: string): Promise<{ balance: number; held: number }> {
  const [w] = await owner()`select balance_micro_usd, held_micro_usd from public.credit_wallets where user_id = ${userId}`;
  return { balance: Number(w?.balance_micro_usd ?? 0), held: Number(w?.held_micro_usd ?? 0) };
}

/** Moves the user's balance to exactly `target` micro-USD with one adjustment ledger entry. */
export async function setBalance(userId: string, target: number): Promise<void> {
  const { balance } = await wallet(userId);
  if (balance === target) return;
  await asService((tx) => tx`
    select private.record_ledger_entry(${userId}, 'adjustment', ${target - balance}, 'test', ${randomUUID()}, 'test balance')`);
}

/** A new user (profile + account) with exactly `balance` micro-USD. */
export async function aiUser(balance = 5_000_000, profile: { display_name?: string; is_admin?: boolean } = {}): Promise<string> {
  const id = await createUser(profile);
  await setBalance(id, balance);
  return id;
}

/** A new assistant chat of `userId` (untitled unless `title`). */
export async function assistantChat(userId: string, title: string | null = null): Promise<string> {
  const [c] = await asUser(userId, (tx) => tx`select id from public.create_assistant_chat(${title})`);
  return c!.id as string;
}

/** An ai_models row as numbers. */
export async function modelRow(id: string) {
  const [m] = await owner()`select * from public.ai_models where id = ${id}`;
  return {
    id: m!.id as string,
    provider: m!.provider as 'openai' | 'deepseek',
    input: BigInt(m!.input_micro_usd_per_mtok),
    cached: m!.cached_input_micro_usd_per_mtok === null ? null : BigInt(m!.cached_input_micro_usd_per_mtok),
    output: BigInt(m!.output_micro_usd_per_mtok),
    maxOutput: Number(m!.max_output_tokens),
  };
}

/**
 * The documented cost rule, in BigInt: ceil((uncached × input + cached ×
 * cached-input + completion × output) / 1e6) micro-USD.
 */
export function expectedCost(
  m: { input: bigint; cached: bigint | null; output: bigint },
  u: { prompt: number; cached?: number; completion: number },
): number {
  const cached = BigInt(u.cached ?? 0);
  const num = (BigInt(u.prompt) - cached) * m.input + cached * (m.cached ?? m.input) + BigInt(u.completion) * m.output;
  return Number((num + 999_999n) / 1_000_000n);
}

/** The current system prompt setting. */
export async function systemPrompt(): Promise<string> {
  const [r] = await owner()`select value #>> '{}' as v from public.admin_config where key = 'ai.system_prompt'`;
  return (r?.v as string | undefined) ?? '';
}

export interface Caller {
  token: string;
  post(body: unknown, init?: { signal?: AbortSignal; headers?: Record<string, string> }): Promise<Response>;
}

/** A signed-in caller of ai-chat. */
export async function caller(fns: TestFunctions, userId: string): Promise<Caller> {
  const token = await sessionToken(fns.clerk, userId, { expiresIn: 600 });
  return {
    token,
    post: (body, init = {}) =>
      fetch(`${fns.url}/ai-chat`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...init.headers },
        body: typeof body === 'string' ? body : JSON.stringify(body),
        signal: init.signal,
      }),
  };
}

/** The events of a whole SSE body, data parsed as JSON. */
export async function sseEvents(res: Response): Promise<{ event: string; data: any }[]> {
  const text = await res.text();
  return parseSseText(text).map((e) => ({ event: e.event, data: JSON.parse(e.data) }));
}

/** Waits until `check` returns a truthy value (vitest's `vi.waitFor`, polling every 50 ms, up to `ms`). */
export function eventually<T>(check: () => Promise<T>, ms = 10_000): Promise<T> {
  return vi.waitFor(
    async () => {
      const v = await check();
      if (!v) throw new Error('condition not met in time');
      return v;
    },
    { timeout: ms, interval: 50 },
  );
}

/** The ai_interactions rows of a user, oldest first. */
export async function interactionsOf(userId: string) {
  return owner()`select * from public.ai_interactions where user_id = ${userId} order by created_at, id`;
}

/** The messages of a chat, oldest first. */
export async function messagesOf(chatId: string) {
  return owner()`select * from public.messages where chat_id = ${chatId} order by created_at, id`;
}
