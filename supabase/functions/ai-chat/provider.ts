/**
 * The AI providers behind ai-chat, both reached with the official `openai`
 * SDK (https://github.com/openai/openai-node):
 * - OpenAI: https://api.openai.com/v1, or OPENAI_BASE_URL;
 * - DeepSeek: its OpenAI-compatible API at https://api.deepseek.com
 *   (https://api-docs.deepseek.com/), or DEEPSEEK_BASE_URL.
 * Locally and in tests, both base URLs point at stack/standins/openai.mjs.
 *
 * Requests are Chat Completions (https://platform.openai.com/docs/api-reference/chat/create):
 * `model`, `messages`, the output cap as `max_completion_tokens` (OpenAI;
 * its reasoning models refuse `max_tokens`) or `max_tokens` (DeepSeek), and
 * for streams `stream_options: {include_usage: true}` so that the last chunk
 * carries the usage we settle to. The SDK retries once (connection errors,
 * 408/409/429/5xx) before anything is streamed; never after.
 */
import OpenAI from 'openai';
import type { AiProvider, AiUsage } from '@chat-with-me/shared';
import { z } from 'zod';
import type { EnvOf } from '../_shared/env.ts';
import { HttpError } from '../_shared/errors.ts';

/** ai-chat's provider variables (validated by the handler's env schema, handler.ts). */
export const providerEnv = {
  /** OpenAI API key (sk-…); OpenAI models answer 503 without it. */
  OPENAI_API_KEY: z.string().optional(),
  /** OpenAI base URL (default https://api.openai.com/v1; the local stand-in under npm start and in tests). */
  OPENAI_BASE_URL: z.url().optional(),
  /** DeepSeek API key; DeepSeek models answer 503 without it. */
  DEEPSEEK_API_KEY: z.string().optional(),
  /** DeepSeek's OpenAI-compatible base URL. */
  DEEPSEEK_BASE_URL: z.url().default('https://api.deepseek.com'),
  /** Deadline of one provider call, stream included, in ms (1 s … 10 min; default 120 s). */
  AI_PROVIDER_TIMEOUT_MS: z.coerce.number().int().min(1000).max(600_000).default(120_000),
};
export type ProviderEnv = EnvOf<typeof providerEnv>;

export type ChatCompletion = OpenAI.Chat.Completions.ChatCompletion;
export type ChatCompletionChunk = OpenAI.Chat.Completions.ChatCompletionChunk;

/** Fields of a request that are always ours: an admin's ai_models.request_options cannot override them. */
const RESERVED = new Set(['model', 'messages', 'stream', 'stream_options', 'max_tokens', 'max_completion_tokens', 'n']);

const clients = new Map<string, OpenAI>();

/**
 * The SDK client for `provider`. 503 `unavailable` (details.missing) when its
 * API key is not set: the other provider's models keep working.
 */
export function providerClient(provider: AiProvider, env: ProviderEnv): OpenAI {
  const apiKey = provider === 'openai' ? env.OPENAI_API_KEY : env.DEEPSEEK_API_KEY;
  const baseURL = provider === 'openai' ? env.OPENAI_BASE_URL : env.DEEPSEEK_BASE_URL;
  if (!apiKey) {
    const name = provider === 'openai' ? 'OPENAI_API_KEY' : 'DEEPSEEK_API_KEY';
    throw new HttpError('unavailable', `${provider} is not configured: ${name} is missing`, { missing: [name], invalid: [] });
  }
  const key = `${provider}\n${baseURL ?? ''}\n${apiKey}`;
  let client = clients.get(key);
  if (!client) {
    client = new OpenAI({
      apiKey,
      baseURL: baseURL ?? undefined,
      maxRetries: 1,
      timeout: env.AI_PROVIDER_TIMEOUT_MS,
      // The SDK would log unparsable chunks (answer text) to the console; our own logs say what failed.
      logLevel: 'off',
    });
    clients.set(key, client);
  }
  return client;
}

/**
 * A message we send: the SDK's system, user or assistant message with text
 * content (what the token count in context.ts measures).
 */
export type ChatMessage =
  | (OpenAI.Chat.Completions.ChatCompletionSystemMessageParam & { content: string })
  | (OpenAI.Chat.Completions.ChatCompletionUserMessageParam & { content: string })
  | (OpenAI.Chat.Completions.ChatCompletionAssistantMessageParam & { content: string });

/** What completionParams needs of an ai_models row. */
interface ModelOptions {
  id: string;
  provider: AiProvider;
  max_output_tokens: number;
  /** ai_models.request_options: extra body fields (a JSON object; others are ignored). */
  request_options: unknown;
}

/** The chat completion request body for `model` (see the module comment). */
export function completionParams(model: ModelOptions, messages: ChatMessage[], stream: true): OpenAI.Chat.Completions.ChatCompletionCreateParamsStreaming;
export function completionParams(model: ModelOptions, messages: ChatMessage[], stream: false): OpenAI.Chat.Completions.ChatCompletionCreateParamsNonStreaming;
export function completionParams(model: ModelOptions, messages: ChatMessage[], stream: boolean): OpenAI.Chat.Completions.ChatCompletionCreateParams {
  // An admin's extra fields (provider-specific ones included) go into the body as they are; the SDK sends unknown fields through.
  const extra: Partial<OpenAI.Chat.Completions.ChatCompletionCreateParams> = {};
  if (model.request_options && typeof model.request_options === 'object' && !Array.isArray(model.request_options)) {
    for (const [k, v] of Object.entries(model.request_options)) if (!RESERVED.has(k)) Object.assign(extra, { [k]: v });
  }
  const base = {
    ...extra,
    model: model.id,
    messages,
    ...(model.provider === 'openai' ? { max_completion_tokens: model.max_output_tokens } : { max_tokens: model.max_output_tokens }),
  };
  return stream ? { ...base, stream: true, stream_options: { include_usage: true } } : { ...base, stream: false };
}

const count = z.number().int().nonnegative();
const WireUsage = z.looseObject({
  prompt_tokens: count,
  completion_tokens: count,
  /** OpenAI: https://platform.openai.com/docs/api-reference/chat/object#chat/object-usage */
  prompt_tokens_details: z.looseObject({ cached_tokens: count.nullish() }).nullish(),
  /** DeepSeek: https://api-docs.deepseek.com/api/create-chat-completion (context caching). */
  prompt_cache_hit_tokens: count.nullish(),
});

/**
 * The usage a provider reported (the SDK's `CompletionUsage`, plus DeepSeek's
 * `prompt_cache_hit_tokens`), or null when it is missing or malformed: a
 * provider's JSON is checked, not trusted to match the SDK's types.
 */
export function readUsage(usage: OpenAI.CompletionUsage | null | undefined): AiUsage | null {
  const u = WireUsage.safeParse(usage);
  if (!u.success) return null;
  const cached = u.data.prompt_tokens_details?.cached_tokens ?? u.data.prompt_cache_hit_tokens ?? 0;
  return { prompt_tokens: u.data.prompt_tokens, completion_tokens: u.data.completion_tokens, cached_prompt_tokens: Math.min(cached, u.data.prompt_tokens) };
}

/**
 * A failed provider call: `code` for ai_interactions.error_code and the logs,
 * `http` for the caller (a JSON error answer, or the SSE `error` event).
 */
export class ProviderFault extends Error {
  constructor(readonly code: string, readonly http: HttpError) {
    super(http.message);
    this.name = 'ProviderFault';
  }
}

/**
 * Classifies what the SDK threw. `stage` is `request` until the answer
 * started (HTTP status known), `stream` while reading chunks.
 * - timeout (our deadline or the SDK's) → 502 provider_error, code timeout;
 * - 401/403, or 429 insufficient_quota → 503 unavailable (our key or account);
 * - 429 → 429 rate_limited, Retry-After from the provider (default 20 s);
 * - other HTTP errors → 502 provider_error with the provider's status and code;
 * - connection lost → 502 (connection_failed before the answer, truncated_stream after);
 * - a chunk that is not JSON → 502 malformed_stream.
 */
export function classifyProviderError(e: unknown, provider: AiProvider, stage: 'request' | 'stream', timedOut: boolean): ProviderFault {
  if (e instanceof ProviderFault) return e;
  const name = provider === 'openai' ? 'OpenAI' : 'DeepSeek';
  if (timedOut || e instanceof OpenAI.APIConnectionTimeoutError) {
    return new ProviderFault('timeout', new HttpError('provider_error', `${name} did not answer in time; nothing was charged`, { provider, reason: 'timeout' }));
  }
  if (e instanceof OpenAI.APIError && typeof e.status === 'number') {
    const details = { provider, status: e.status, code: e.code ?? null, type: e.type ?? null };
    if (e.status === 401 || e.status === 403) {
      return new ProviderFault('provider_unavailable', new HttpError('unavailable', `${name} refused our API key; nothing was charged`, details));
    }
    if (e.status === 429 && e.code === 'insufficient_quota') {
      return new ProviderFault('provider_unavailable', new HttpError('unavailable', `${name} quota is exhausted; nothing was charged`, details));
    }
    if (e.status === 429) {
      const header = Number(e.headers?.get('retry-after'));
      const retry = Number.isFinite(header) && header > 0 ? Math.ceil(header) : 20;
      return new ProviderFault(
        'provider_rate_limited',
        new HttpError('rate_limited', `${name} is rate limiting requests; retry in ${retry} s (nothing was charged)`, { ...details, retry_after_seconds: retry }, {
          'retry-after': String(retry),
        }),
      );
    }
    return new ProviderFault('provider_error', new HttpError('provider_error', `${name} answered ${e.status}; nothing was charged`, details));
  }
  if (e instanceof OpenAI.APIError && !(e instanceof OpenAI.APIConnectionError) && !(e instanceof OpenAI.APIUserAbortError)) {
    // An error event inside the stream (`data: {"error": …}`).
    return new ProviderFault('provider_error', new HttpError('provider_error', `${name} reported an error mid-answer; nothing was charged`, { provider, code: e.code ?? null }));
  }
  if (e instanceof SyntaxError) {
    return new ProviderFault('malformed_stream', new HttpError('provider_error', `${name} sent a malformed answer; nothing was charged`, { provider, reason: 'malformed_stream' }));
  }
  if (stage === 'request') {
    return new ProviderFault('connection_failed', new HttpError('provider_error', `could not reach ${name}; nothing was charged`, { provider, reason: 'connection_failed' }));
  }
  return new ProviderFault('truncated_stream', new HttpError('provider_error', `${name} cut the answer short; nothing was charged`, { provider, reason: 'truncated_stream' }));
}

/**
 * Whether a fault of the REQUEST (before any output) may be cured by the
 * model's fallback on another provider (ai_model_fallbacks): a timeout, a
 * connection failure, a 429 (rate limit or quota), 401/403 (our key for that
 * provider), or a 5xx. Not a 4xx about the request itself (the fallback
 * would most likely refuse it too).
 */
export function canFallBack(fault: ProviderFault): boolean {
  if (['timeout', 'connection_failed', 'provider_rate_limited', 'provider_unavailable'].includes(fault.code)) return true;
  const status = (fault.http.details as { status?: unknown } | undefined)?.status;
  return fault.code === 'provider_error' && typeof status === 'number' && status >= 500;
}

/** The fault for a stream that ended without its usage chunk: we settle to reported usage only. */
export function missingUsage(provider: AiProvider): ProviderFault {
  const name = provider === 'openai' ? 'OpenAI' : 'DeepSeek';
  return new ProviderFault('truncated_stream', new HttpError('provider_error', `${name} ended the answer without reporting its usage; nothing was charged`, {
    provider,
    reason: 'truncated_stream',
  }));
}
