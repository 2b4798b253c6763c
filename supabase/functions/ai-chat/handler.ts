/**
 * ai-chat: POST with a Clerk session token and `AiChatRequest`
 * (@chat-with-me/shared) → the AI's answer, streamed as server-sent events
 * (`stream: true`, the default) or as one JSON `AiChatResult`. The event names
 * and payloads are documented in packages/shared/src/functions/ai-chat.ts.
 *
 * Top-down:
 *   1. the caller's token, the body (400 with the issues);
 *   2. as the caller, under RLS: the chat (404 unless a member), the model
 *      (400 unless enabled; the default when none is named), the history;
 *   3. the context within admin_config ai.context_token_budget, with
 *      ai.system_prompt first (settings cached 30 s, _shared/config.ts; context.ts);
 *   4. private.start_ai_interaction: rate limits (429 + Retry-After) and the
 *      reservation of the most the call can cost (402, no provider call);
 *   5. the provider through the `openai` SDK (provider.ts), DeepSeek through
 *      its base URL; a failure before the answer starts → the reservation is
 *      released and the caller gets the error answer (502/503/429);
 *   6. the answer streams (start, delta…); when it ends,
 *      private.finish_ai_interaction settles to the provider's reported usage
 *      (the final usage chunk), stores the prompt and the answer as messages
 *      (members see both on chat:<id>) and titles an untitled assistant chat
 *      after the prompt → `done`. A failure mid-stream (connection cut,
 *      malformed chunk, no usage chunk, deadline) → everything released,
 *      nothing stored, the row `failed`, SSE `error`.
 *
 * Client disconnect (decision): the generation is FINISHED AND STORED. If the
 * caller closes the stream, the function keeps reading the provider until the
 * end, stores the answer and charges exactly the usage the provider reports
 * (client_disconnected = true on the row). The answer is not lost (it is in
 * the chat when the user comes back), the charge is the real one (the
 * provider bills the whole generation anyway), and nothing is ever charged by
 * our own guess. On Supabase the work continues through EdgeRuntime.waitUntil.
 *
 * Deadline: the provider call (including the whole stream) is aborted after
 * AI_PROVIDER_TIMEOUT_MS (default 120 s, under the edge runtime's wall-clock
 * limit): a timeout is a failure (nothing charged). The credit hold lasts at
 * least that long plus 60 s, whatever credits.reservation_ttl_seconds says.
 * Logs carry ids, model, token counts, cost and timings; never the prompt,
 * the answer or a key.
 */
import { AiChatRequest, AiChatResult, AiChatStart, type AiUsage } from '@chat-with-me/shared';
import { z } from 'zod';
import { clerkSessionEnv, requireClerkKey, requireUser } from '../_shared/auth.ts';
import { settings } from '../_shared/config.ts';
import { database } from '../_shared/db.ts';
import { platformEnv } from '../_shared/env.ts';
import { HttpError } from '../_shared/errors.ts';
import { defineFunction, json, readJson } from '../_shared/http.ts';
import type { Logger } from '../_shared/log.ts';
import { buildContext, reservedPromptTokens } from './context.ts';
import { failInteraction, finishInteraction, type Interaction, loadConversation, startInteraction } from './metering.ts';
import { classifyProviderError, completionParams, missingUsage, ProviderFault, providerClient, readUsage } from './provider.ts';
import { sseStream } from './sse.ts';

const Env = z
  .object({
    ...platformEnv,
    ...clerkSessionEnv,
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
  })
  .superRefine(requireClerkKey);
type Env = z.infer<typeof Env>;

/** Keep-alive comment interval on a quiet stream (reasoning models may think a while before the first token). */
const KEEP_ALIVE_MS = 15_000;

export const handler = defineFunction({ name: 'ai-chat', methods: ['POST'], env: Env }, async (req, { env, requestId, log }) => {
  const user = await requireUser(req, env);
  const body = await readJson(req, AiChatRequest);
  const db = database(env.SUPABASE_DB_URL);

  const conv = await db.asUser(user.claims, (tx) => loadConversation(tx, user.id, body), { readOnly: true });
  if (!conv.chat) throw new HttpError('not_found', 'chat not found', { chat_id: body.chat_id });
  const model = conv.model;
  if (!model) {
    throw body.model
      ? new HttpError('invalid_request', `unknown or disabled model: ${body.model}`, { model: body.model })
      : new HttpError('unavailable', 'no default AI model is set (ai_models.is_default)');
  }
  const client = providerClient(model.provider, env);

  const config = await settings(env.SUPABASE_DB_URL);
  const context = buildContext({
    systemPrompt: config.getOr('ai.system_prompt', z.string(), ''),
    history: conv.history,
    prompt: body.prompt,
    callerName: conv.callerName,
    named: conv.chat.kind !== 'assistant',
    budget: config.getOr('ai.context_token_budget', z.number().int().positive(), 4000),
  });
  const reserveFor = reservedPromptTokens(context.promptTokens, model.provider);
  if (reserveFor + model.max_output_tokens > model.context_window) {
    throw new HttpError('invalid_request', `the prompt is too long for ${model.id}`, { prompt_tokens: context.promptTokens, context_window: model.context_window });
  }

  const interaction = await startInteraction(db, {
    userId: user.id,
    chatId: conv.chat.id,
    modelId: model.id,
    promptTokens: reserveFor,
    contextMessages: context.contextMessages,
    stream: body.stream,
    requestId,
    minHoldSeconds: Math.ceil(env.AI_PROVIDER_TIMEOUT_MS / 1000) + 60,
  });
  const call = new ProviderCall(env, log.child({ interaction_id: interaction.id, model: model.id }), interaction, body.prompt);

  // The provider call; failing here (before any answer) is an error answer.
  const abort = new AbortController();
  const deadline = setTimeout(() => {
    call.timedOut = true;
    abort.abort();
  }, env.AI_PROVIDER_TIMEOUT_MS);
  const params = completionParams(model, context.messages, body.stream);
  let response: unknown;
  try {
    response = await client.chat.completions.create(params as never, { signal: abort.signal });
  } catch (e) {
    clearTimeout(deadline);
    throw await call.fail(classifyProviderError(e, model.provider, 'request', call.timedOut));
  }

  if (!body.stream) {
    clearTimeout(deadline);
    const completion = response as { id?: string; choices?: { message?: { content?: string | null }; finish_reason?: string | null }[]; usage?: unknown };
    const usage = readUsage(completion.usage);
    if (!usage) throw await call.fail(missingUsage(model.provider));
    let result: AiChatResult;
    try {
      result = await call.finish({
        answer: completion.choices?.[0]?.message?.content ?? '',
        usage,
        finishReason: completion.choices?.[0]?.finish_reason ?? null,
        providerResponseId: completion.id ?? null,
        ttftMs: null,
        clientDisconnected: false,
      });
    } catch (e) {
      throw await call.failUnexpected(e);
    }
    return json(AiChatResult, result);
  }

  // Streaming: from here on, failures are SSE `error` events.
  const stream = response as AsyncIterable<{ id?: string; choices?: { delta?: { content?: string | null }; finish_reason?: string | null }[]; usage?: unknown }>;
  const sse = sseStream();
  sse.send(AiChatStart, 'start', {
    interaction_id: interaction.id,
    chat_id: conv.chat.id,
    provider: model.provider,
    model: model.id,
    reserved_micro_usd: interaction.reserved_micro_usd,
    estimated_prompt_tokens: interaction.estimated_prompt_tokens,
    context_messages: interaction.context_messages,
    max_output_tokens: interaction.max_output_tokens,
  });
  const keepAlive = setInterval(() => sse.comment('keep-alive'), KEEP_ALIVE_MS);

  const work = (async () => {
    let answer = '';
    let usage: AiUsage | null = null;
    let finishReason: string | null = null;
    let responseId: string | null = null;
    let ttftMs: number | null = null;
    try {
      try {
        for await (const chunk of stream) {
          responseId ??= chunk.id ?? null;
          if (chunk.usage) usage = readUsage(chunk.usage);
          const choice = chunk.choices?.[0];
          const text = choice?.delta?.content;
          if (text) {
            ttftMs ??= call.elapsed();
            answer += text;
            sse.send(null, 'delta', { text });
          }
          if (choice?.finish_reason) finishReason = choice.finish_reason;
        }
      } catch (e) {
        throw classifyProviderError(e, model.provider, 'stream', call.timedOut);
      }
      if (call.timedOut) throw classifyProviderError(null, model.provider, 'stream', true);
      if (!usage) throw missingUsage(model.provider);
      clearTimeout(deadline);
      const result = await call.finish({ answer, usage, finishReason, providerResponseId: responseId, ttftMs, clientDisconnected: sse.clientGone });
      sse.send(AiChatResult, 'done', result);
    } catch (e) {
      clearTimeout(deadline);
      const fault = e instanceof ProviderFault ? e : null;
      const error = fault ? await call.fail(fault, ttftMs) : await call.failUnexpected(e);
      sse.send(null, 'error', error.toBody());
    } finally {
      clearInterval(keepAlive);
      sse.close();
    }
  })();
  // On Supabase, keep the isolate alive until the answer is stored, even if the caller left.
  (globalThis as { EdgeRuntime?: { waitUntil(p: Promise<unknown>): void } }).EdgeRuntime?.waitUntil(work);

  return new Response(sse.readable, {
    status: 200,
    headers: { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache, no-transform', 'x-accel-buffering': 'no' },
  });
});

/** One provider call's bookkeeping: timings, and the finish/fail transactions. */
class ProviderCall {
  readonly started = performance.now();
  timedOut = false;

  constructor(
    private readonly env: Env,
    private readonly log: Logger,
    private readonly interaction: Interaction,
    private readonly prompt: string,
  ) {}

  elapsed(): number {
    return Math.round(performance.now() - this.started);
  }

  /** Settles, stores and answers `AiChatResult` (amounts from the database). */
  async finish(a: { answer: string; usage: AiUsage; finishReason: string | null; providerResponseId: string | null; ttftMs: number | null; clientDisconnected: boolean }): Promise<AiChatResult> {
    const latencyMs = this.elapsed();
    const { interaction: done, chatTitle } = await database(this.env.SUPABASE_DB_URL).asService((tx) =>
      finishInteraction(tx, {
        id: this.interaction.id,
        chatId: this.interaction.chat_id!,
        prompt: this.prompt,
        answer: a.answer,
        usage: a.usage,
        finishReason: a.finishReason,
        latencyMs,
        ttftMs: a.ttftMs,
        clientDisconnected: a.clientDisconnected,
        providerResponseId: a.providerResponseId,
      }),
    );
    this.log.info('ai call succeeded', {
      chat_id: this.interaction.chat_id,
      prompt_tokens: a.usage.prompt_tokens,
      cached_prompt_tokens: a.usage.cached_prompt_tokens,
      completion_tokens: a.usage.completion_tokens,
      reserved_micro_usd: done.reserved_micro_usd,
      cost_micro_usd: done.cost_micro_usd,
      charged_micro_usd: done.charged_micro_usd,
      latency_ms: latencyMs,
      time_to_first_token_ms: a.ttftMs,
      client_disconnected: a.clientDisconnected,
      stored: done.answer_message_id !== null,
      ...(done.error_code ? { error_code: done.error_code } : {}),
    });
    return {
      interaction_id: done.id,
      chat_id: this.interaction.chat_id!,
      provider: done.provider,
      model: done.model,
      content: a.answer,
      finish_reason: a.finishReason,
      stored: done.answer_message_id !== null,
      prompt_message_id: done.prompt_message_id,
      answer_message_id: done.answer_message_id,
      chat_title: chatTitle,
      usage: a.usage,
      reserved_micro_usd: done.reserved_micro_usd,
      cost_micro_usd: done.cost_micro_usd ?? 0,
      charged_micro_usd: done.charged_micro_usd ?? 0,
      latency_ms: latencyMs,
      time_to_first_token_ms: a.ttftMs,
    };
  }

  /** Releases everything for a provider fault; returns the HttpError to answer with. */
  async fail(fault: ProviderFault, ttftMs: number | null = null): Promise<HttpError> {
    const latencyMs = this.elapsed();
    this.log.warn('ai call failed', { error_code: fault.code, status: fault.http.status, latency_ms: latencyMs });
    await this.release(fault.code, fault.http.message, latencyMs, ttftMs);
    return fault.http;
  }

  /** Releases everything after a bug or a database failure while finishing; the caller sees a 500/503 in the error shape. */
  async failUnexpected(e: unknown): Promise<HttpError> {
    this.log.error('ai call failed unexpectedly', { error: e instanceof Error ? { name: e.name, message: e.message, stack: e.stack } : String(e) });
    await this.release('internal_error', 'the answer could not be completed', this.elapsed(), null);
    return e instanceof HttpError
      ? e
      : new HttpError('unavailable', 'the answer could not be completed, retry shortly', { interaction_id: this.interaction.id });
  }

  private async release(code: string, error: string, latencyMs: number, ttftMs: number | null) {
    try {
      await database(this.env.SUPABASE_DB_URL).asService((tx) => failInteraction(tx, { id: this.interaction.id, code, error, latencyMs, ttftMs }));
    } catch (e) {
      // The reservation then expires by itself (credits.reservation_ttl_seconds).
      this.log.error('could not release the reservation', { error: e instanceof Error ? e.message : String(e) });
    }
  }
}
