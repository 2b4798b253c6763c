/**
 * ai-chat: POST with a Clerk session token and `AiChatRequest`
 * (@chat-with-me/shared) → the AI's answer, streamed as server-sent events
 * (`stream: true`, the default) or as one JSON `AiChatResult`. The event names
 * and payloads are documented in packages/shared/src/functions/ai-chat.ts.
 *
 * Top-down:
 *   1. the caller's token, the body (400 with the issues);
 *   2. as the caller, under RLS: the chat (404 unless a member; 403 when its
 *      members turned the assistant off, chat_ai_settings), the model
 *      (400 unless enabled; the default when none is named), the history
 *      (for `regenerate`, without the exchange asked again);
 *   3. the context within admin_config ai.context_token_budget, with
 *      ai.system_prompt first (settings cached 30 s, _shared/config.ts; context.ts);
 *   4. private.start_ai_interaction: rate limits (429 + Retry-After) and the
 *      reservation of the most the call can cost (402, no provider call);
 *   5. the provider through the `openai` SDK (provider.ts), DeepSeek through
 *      its base URL;
 *   6. the answer streams (start, delta…); when it ends,
 *      private.finish_ai_interaction settles to the provider's reported usage
 *      (the final usage chunk), stores the prompt and the answer as messages
 *      (members see both on chat:<id>) and titles an untitled assistant chat
 *      after the prompt → `done`.
 *
 * Who pays when something fails (docs/money.md "AI calls: reserve, then
 * settle"; README "AI assistant"): the line is the provider's FIRST CONTENT (a non-empty delta,
 * or a JSON answer with content).
 * - Before it (the request refused, timed out, cut or malformed before any
 *   text, or no usage and no text): the reservation is released, nothing is
 *   charged or stored, the row is `failed` and the caller gets the error
 *   answer (502/503/429) or SSE `error`.
 * - After it, the caller pays for the output whatever fails next (the stream
 *   cut, a malformed chunk, the deadline, no usage chunk, the database
 *   refusing to store, an exception in our code): the answer produced so far
 *   is stored when it can be and charged; the row is `incomplete` with
 *   error_code saying what failed (`succeeded` when nothing did). The charge
 *   is the provider's reported usage; when it never reported any, the
 *   ESTIMATE: the prompt as we counted it before the call plus the tokens of
 *   the output received, both with gpt-tokenizer o200k_base (context.ts),
 *   capped at the reservation (usage_estimated = true on the row). Settling is
 *   retried: finish (store + charge) twice, then settle_ai_interaction
 *   (charge only, error_code not_stored) twice; the hold is never released
 *   once output exists. If all four fail (database unreachable) the hold stays
 *   until it expires, the row is then `aborted`, and a log line says so.
 * Provider output is made storable before it is stored (`toStorableText`:
 * NULs removed, lone surrogates replaced with U+FFFD); prompts that are not
 * storable were refused with 400 by the request schema before any call.
 *
 * Provider fallback: a request that fails before any output with a fault
 * another provider may not share (5xx, 429, timeout, unreachable, key
 * refused: provider.ts canFallBack) moves the call once to the model's
 * enabled fallback (ai_model_fallbacks; private.fallback_ai_interaction
 * re-makes the reservation at its prices and records the failed attempt);
 * `start`/`done` then name the fallback model and carry `fallback_from`.
 *
 * Stop (`on_disconnect: 'stop'`): the client's abort aborts the provider
 * call; the output received is stored and charged (the estimate; error_code
 * `stopped`), nothing when there was none. Regenerate (`regenerate: true`):
 * the caller's last prompt is asked again (edited first when `prompt` is
 * given) and the answer replies to it (private.finish_ai_regeneration).
 *
 * Client disconnect (decision, `on_disconnect: 'finish'`, the default): the generation is FINISHED AND STORED. If the
 * caller closes the stream, the function keeps reading the provider until the
 * end, stores the answer and charges exactly the usage the provider reports
 * (client_disconnected = true on the row). The answer is not lost (it is in
 * the chat when the user comes back), the charge is the real one (the
 * provider bills the whole generation anyway; the estimate only if it never
 * reports usage, as above). On Supabase the work continues through EdgeRuntime.waitUntil.
 *
 * Deadline: the provider call (including the whole stream) is aborted after
 * AI_PROVIDER_TIMEOUT_MS (default 120 s, under the edge runtime's wall-clock
 * limit): a timeout before the first content is a failure (nothing charged),
 * after it the output received is charged (the estimate). The credit hold lasts at
 * least that long plus 60 s, whatever credits.reservation_ttl_seconds says.
 * Logs carry ids, model, token counts, cost and timings; never the prompt,
 * the answer or a key.
 *
 * Where the time goes (timing.ts): every answer has a `Server-Timing` header
 * (W3C Server Timing: auth, db, provider, settle, other, total; a streamed
 * answer's is sent before the stream, so it stops at the provider's answer
 * headers), and the JSON answer and `done` carry the whole split in
 * `server_timing`. `done` comes after the settlement: when a client reads it,
 * the prompt and the answer are stored and the call is charged.
 */
import { type AiFallbackFrom, AiChatRequest, AiChatResult, AiChatStart, type AiUsage, toStorableText } from '@chat-with-me/shared';
import { countTokens } from 'gpt-tokenizer/encoding/o200k_base';
import { z } from 'zod';
import { clerkSessionEnv, requireClerkKey, requireUser } from '../_shared/auth.ts';
import { settings } from '../_shared/config.ts';
import { database } from '../_shared/db.ts';
import { platformEnv } from '../_shared/env.ts';
import { HttpError, toHttpError } from '../_shared/errors.ts';
import { defineFunction, type FunctionContext, json, readJson } from '../_shared/http.ts';
import type { Logger } from '../_shared/log.ts';
import { buildContext, type HistoryMessage, reservedPromptTokens } from './context.ts';
import {
  failInteraction,
  fallbackInteraction,
  fallbackModel,
  finishInteraction,
  finishRegeneration,
  type Interaction,
  lastPrompt,
  loadConversation,
  type Outcome,
  settleInteraction,
  startInteraction,
} from './metering.ts';
import {
  type ChatCompletion,
  type ChatCompletionChunk,
  canFallBack,
  classifyProviderError,
  completionParams,
  missingUsage,
  ProviderFault,
  providerClient,
  providerEnv,
  readUsage,
} from './provider.ts';
import { sseStream } from './sse.ts';
import { CallTiming } from './timing.ts';

const Env = z
  .object({ ...platformEnv, ...clerkSessionEnv, ...providerEnv })
  .superRefine(requireClerkKey);
type Env = z.infer<typeof Env>;

/** Keep-alive comment interval on a quiet stream (reasoning models may think a while before the first token). */
const KEEP_ALIVE_MS = 15_000;

export const handler = defineFunction({ name: 'ai-chat', methods: ['POST'], env: Env }, async (req, ctx) => {
  const timing = new CallTiming();
  try {
    return await serve(req, ctx, timing);
  } catch (e) {
    // Error answers carry the split so far too (timing.ts): errors mapped here
    // as defineFunction would map them; a bug goes on to it unchanged (logged, 500).
    const { error, bug } = toHttpError(e, ctx.requestId);
    if (bug) throw e;
    throw new HttpError(error.code, error.message, error.details, { ...error.headers, 'server-timing': timing.header() });
  }
});

/** The call, top-down (see the module comment); `timing` records where the time goes (timing.ts). */
async function serve(req: Request, { env, requestId, log }: FunctionContext<Env>, timing: CallTiming): Promise<Response> {
  const user = await timing.measure('auth', () => requireUser(req, env));
  const body = await readJson(req, AiChatRequest);
  const db = database(env.SUPABASE_DB_URL);

  // The settings (cached 30 s, _shared/config.ts) are read while the caller's reads run.
  const [config, conv] = await timing.measure('db', () =>
    Promise.all([
      settings(env.SUPABASE_DB_URL),
      db.asUser(user.claims, async (tx) => {
        const c = await loadConversation(tx, user.id, body);
        return {
          ...c,
          // A group or direct chat may have turned the assistant off (chat_ai_settings).
          assistantOff: c.assistantEnabled === false && c.chat?.kind !== 'assistant',
          last: body.regenerate && c.chat ? await lastPrompt(tx, body.chat_id, user.id) : null,
        };
      }, { readOnly: true }),
    ])
  );
  if (!conv.chat) throw new HttpError('not_found', 'chat not found', { chat_id: body.chat_id });
  if (conv.assistantOff) throw new HttpError('forbidden', 'the assistant is turned off in this chat', { chat_id: body.chat_id });
  // regenerate (optionally with an edited prompt): the caller's last prompt again, without the exchange it started.
  let prompt: string;
  let history = conv.history;
  let regeneration: Regeneration | null = null;
  if (body.regenerate) {
    if (!conv.last) throw new HttpError('not_found', 'nothing to regenerate: your last prompt is not the newest message of this chat', { chat_id: body.chat_id });
    prompt = body.prompt ?? conv.last.content;
    regeneration = { promptMessageId: conv.last.message_id, editedPrompt: body.prompt ?? null };
    history = withoutLastExchange(history);
  } else {
    prompt = body.prompt!;
  }
  let model = conv.model;
  if (!model) {
    throw body.model
      ? new HttpError('invalid_request', `unknown or disabled model: ${body.model}`, { model: body.model })
      : new HttpError('unavailable', 'no default AI model is set (ai_models.is_default)');
  }
  let client = providerClient(model.provider, env);

  const context = buildContext({
    systemPrompt: config.getOr('ai.system_prompt', z.string(), ''),
    history,
    prompt,
    callerName: conv.callerName,
    named: conv.chat.kind !== 'assistant',
    budget: config.getOr('ai.context_token_budget', z.number().int().positive(), 4000),
  });
  const reserveFor = reservedPromptTokens(context.promptTokens, model.provider);
  if (reserveFor + model.max_output_tokens > model.context_window) {
    throw new HttpError('invalid_request', `the prompt is too long for ${model.id}`, { prompt_tokens: context.promptTokens, context_window: model.context_window });
  }

  const minHoldSeconds = Math.ceil(env.AI_PROVIDER_TIMEOUT_MS / 1000) + 60;
  const start = {
    userId: user.id,
    chatId: conv.chat.id,
    modelId: model.id,
    promptTokens: reserveFor,
    contextMessages: context.contextMessages,
    stream: body.stream,
    requestId,
    minHoldSeconds,
  };
  const interaction = await timing.measure('db', () => startInteraction(db, start));
  const call = new ProviderCall(env, log.child({ interaction_id: interaction.id, model: model.id }), interaction, prompt, context.promptTokens, regeneration);

  // The deadline of one provider attempt, stream included (AI_PROVIDER_TIMEOUT_MS); a fallback attempt gets its own.
  let abort = new AbortController();
  const arm = () => {
    call.timedOut = false;
    abort = new AbortController();
    const signal = abort;
    return setTimeout(() => {
      call.timedOut = true;
      signal.abort();
    }, env.AI_PROVIDER_TIMEOUT_MS);
  };
  let deadline = arm();

  /**
   * Provider fallback (ai_model_fallbacks, 20261202120000_ai_fallbacks.sql):
   * when the request fails before any output with a fault the other provider
   * may not share (5xx, 429, timeout, unreachable, our key refused), the call
   * moves once to the model's enabled fallback: the failed attempt is
   * recorded (ai_interaction_attempts), the reservation re-made at the
   * fallback's prices, the row switched to the fallback model. Returns false
   * (nothing changed) when there is no fallback, it does not fit the prompt,
   * its provider is not configured, or the credits do not cover it.
   */
  let fallbackFrom: AiFallbackFrom | null = null;
  const fallBack = async (fault: ProviderFault): Promise<boolean> => {
    if (fallbackFrom || !canFallBack(fault) || !model) return false;
    const from = model;
    try {
      const next = await timing.measure('db', () => db.asService((tx) => fallbackModel(tx, from.id)));
      if (!next) return false;
      const nextPromptTokens = reservedPromptTokens(context.promptTokens, next.provider);
      if (nextPromptTokens + next.max_output_tokens > next.context_window) return false;
      const nextClient = providerClient(next.provider, env);
      const moved = await timing.measure('db', () =>
        db.asService((tx) =>
          fallbackInteraction(tx, {
            id: interaction.id,
            modelId: next.id,
            promptTokens: nextPromptTokens,
            code: fault.code,
            error: fault.http.message,
            latencyMs: call.elapsed(),
            minHoldSeconds,
          })
        )
      );
      if (!moved) return false;
      log.warn('ai call falls back', { interaction_id: interaction.id, from: from.id, to: next.id, error_code: fault.code });
      fallbackFrom = { provider: from.provider, model: from.id, error_code: fault.code };
      model = next;
      client = nextClient;
      call.restart(moved, fallbackFrom);
      return true;
    } catch (e) {
      log.error('could not fall back', { error: describe(e) });
      return false;
    }
  };

  /** Sends the request (and, once, to the fallback model); failing here (before any answer) is an error answer. */
  const request = async <T>(send: (m: NonNullable<typeof model>) => Promise<T>): Promise<T> => {
    for (;;) {
      timing.providerStart();
      try {
        return await send(model!);
      } catch (e) {
        timing.providerDone();
        clearTimeout(deadline);
        const fault = classifyProviderError(e, model!.provider, 'request', call.timedOut);
        if (!(await fallBack(fault))) throw await call.fail(fault);
        deadline = arm();
      }
    }
  };

  if (!body.stream) {
    const completion: ChatCompletion = await request((m) =>
      client.chat.completions.create(completionParams(m, context.messages, false), { signal: abort.signal })
    );
    clearTimeout(deadline);
    timing.providerDone();
    // The provider's JSON is not checked against the SDK's types: every field is read defensively.
    const answer = completion.choices?.[0]?.message?.content ?? '';
    const usage = readUsage(completion.usage);
    if (!usage && !answer) throw await call.fail(missingUsage(model.provider));
    const result = await timing.measure('settle', () =>
      call.complete({
        answer,
        usage,
        finishReason: completion.choices?.[0]?.finish_reason ?? null,
        providerResponseId: completion.id ?? null,
        ttftMs: null,
        clientDisconnected: false,
        fault: usage ? null : USAGE_MISSING,
      })
    );
    if (!result) throw call.unrecorded();
    const server_timing = timing.summary();
    return json(AiChatResult, { ...result, server_timing }, 200, { 'server-timing': timing.header(server_timing) });
  }

  const stream: AsyncIterable<ChatCompletionChunk> = await request((m) =>
    client.chat.completions.create(completionParams(m, context.messages, true), { signal: abort.signal })
  );
  const answering = model;
  const held = call.interaction;
  // Streaming: from here on, failures are SSE `error` events.
  // on_disconnect 'stop': the client's abort aborts the provider call; what was produced is stored and charged below.
  const sse = sseStream({
    onCancel: body.on_disconnect === 'stop'
      ? () => {
        call.stopped = true;
        abort.abort();
      }
      : undefined,
  });
  sse.send(AiChatStart, 'start', {
    interaction_id: interaction.id,
    chat_id: conv.chat.id,
    provider: answering.provider,
    model: answering.id,
    reserved_micro_usd: held.reserved_micro_usd,
    estimated_prompt_tokens: held.estimated_prompt_tokens,
    context_messages: held.context_messages,
    max_output_tokens: held.max_output_tokens,
    fallback_from: fallbackFrom,
  });
  const keepAlive = setInterval(() => sse.comment('keep-alive'), KEEP_ALIVE_MS);

  const work = (async () => {
    let answer = '';
    let usage: AiUsage | null = null;
    let finishReason: string | null = null;
    let responseId: string | null = null;
    let ttftMs: number | null = null;
    /** How the call ended, for `complete` (`fault`: what failed after the output began, or null). */
    const ending = (fault: Ending['fault']): Ending => ({
      answer,
      usage,
      finishReason,
      providerResponseId: responseId,
      ttftMs,
      clientDisconnected: sse.clientGone,
      fault,
    });
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
        if (call.stopped) throw stoppedFault();
        throw classifyProviderError(e, answering.provider, 'stream', call.timedOut);
      } finally {
        timing.providerDone();
      }
      if (call.stopped && !usage) throw stoppedFault();
      if (call.timedOut) throw classifyProviderError(null, answering.provider, 'stream', true);
      clearTimeout(deadline);
      if (!usage && !answer) throw missingUsage(answering.provider);
      const result = await timing.measure('settle', () => call.complete(ending(usage ? null : USAGE_MISSING)));
      if (!result) throw call.unrecorded();
      sse.send(AiChatResult, 'done', { ...result, server_timing: timing.summary() });
    } catch (e) {
      clearTimeout(deadline);
      const fault = e instanceof ProviderFault ? e : null;
      let error: HttpError;
      if (e instanceof Unrecorded) {
        error = e;
      } else if (!answer) {
        // Nothing was produced: release the hold.
        error = fault ? await call.fail(fault, ttftMs) : await call.failUnexpected(e);
      } else {
        // Output exists: the caller pays for it (see the module comment). Idempotent if `done` itself failed.
        if (!fault) call.logUnexpected(e);
        const code = fault?.code ?? 'internal_error';
        const result = await call.complete(ending({
          code,
          error: code === 'stopped'
            ? 'the caller stopped the answer: the part produced was charged'
            : fault
            ? `${fault.http.message.replace(/; nothing was charged$/, '')} after the answer began`
            : 'the answer could not be completed',
        }));
        error = result
          ? new HttpError(fault?.http.code ?? 'unavailable', `the answer stopped early (${code}); the part received was charged`, {
            ...(fault?.http.details as Record<string, unknown> | undefined),
            interaction_id: result.interaction_id,
            stored: result.stored,
            answer_message_id: result.answer_message_id,
            charged_micro_usd: result.charged_micro_usd,
            usage_estimated: result.usage_estimated,
          })
          : call.unrecorded();
      }
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
    headers: {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      'x-accel-buffering': 'no',
      // Sent before the stream: the phases up to the provider's answer headers (the whole split is in `done`).
      'server-timing': timing.header(),
    },
  });
}

/** A `regenerate` call: the existing prompt message it answers, and its new text when edited. */
interface Regeneration {
  promptMessageId: string;
  editedPrompt: string | null;
}

/**
 * The history (newest first) without the exchange being regenerated: the AI
 * answers after the last prompt, then the prompt itself (private.ai_last_prompt
 * checked that nothing else came after it).
 */
function withoutLastExchange(history: HistoryMessage[]): HistoryMessage[] {
  let i = 0;
  while (i < history.length && history[i]!.kind === 'ai') i++;
  return history.slice(i + 1);
}

/** The caller stopped a streamed answer (on_disconnect 'stop'): error_code `stopped` (nobody reads the answer: the client left). */
function stoppedFault(): ProviderFault {
  return new ProviderFault('stopped', new HttpError('invalid_request', 'the answer was stopped by the caller; nothing was charged', { reason: 'stopped' }));
}

/** The answer could not be recorded (every settle attempt failed): 503, the hold stays until it expires. */
class Unrecorded extends HttpError {}

/** How a call that produced output ended (see `ProviderCall.complete`). */
interface Ending {
  /** The output received (as sent by the provider; made storable here). */
  answer: string;
  /** The provider's reported usage, or null: the estimate is charged. */
  usage: AiUsage | null;
  finishReason: string | null;
  providerResponseId: string | null;
  ttftMs: number | null;
  clientDisconnected: boolean;
  /** What failed after the output began (error_code, short text), or null. */
  fault: { code: string; error: string } | null;
}

/** The fault of an answer the provider sent without usage: the estimate is charged. */
const USAGE_MISSING = { code: 'usage_missing', error: 'the provider reported no usage: charged the estimate' };

/** Attempts of each settle step (finish, then settle-only) before giving up. */
const SETTLE_ATTEMPTS = 2;

/** One provider call's bookkeeping: timings, and the finish/settle/fail transactions. */
class ProviderCall {
  private started = performance.now();
  timedOut = false;
  /** The caller stopped the streamed answer (on_disconnect 'stop'). */
  stopped = false;
  /** The attempt that failed before the fallback model took over (null without a fallback). */
  private fallbackFrom: AiFallbackFrom | null = null;

  constructor(
    private readonly env: Env,
    private readonly log: Logger,
    /** The row as the last step left it (start, or the fallback's move). */
    public interaction: Interaction,
    private readonly prompt: string,
    /** Prompt tokens as counted before the call (gpt-tokenizer o200k_base, context.ts), for the estimate. */
    private readonly promptTokens: number,
    /** Set for `regenerate`: the answer replies to this existing prompt (edited first when `editedPrompt`). */
    private readonly regeneration: Regeneration | null = null,
  ) {}

  /** The call moved to its fallback model (`moved`: the row afterwards): timings restart for the new attempt. */
  restart(moved: Interaction, from: AiFallbackFrom) {
    this.interaction = moved;
    this.fallbackFrom = from;
    this.started = performance.now();
  }

  elapsed(): number {
    return Math.round(performance.now() - this.started);
  }

  /**
   * Usage when the provider reported none: the prompt as counted before the
   * call plus the tokens of `answer` (gpt-tokenizer o200k_base), no cache
   * hits. The database caps its cost at the reservation (usage_estimated).
   */
  estimate(answer: string): AiUsage {
    return { prompt_tokens: this.promptTokens, cached_prompt_tokens: 0, completion_tokens: countTokens(answer) };
  }

  /**
   * Charges a call that produced output and stores what it can
   * (`AiChatResult`, amounts from the database): finish_ai_interaction
   * (store + charge) up to SETTLE_ATTEMPTS times, then settle_ai_interaction
   * (charge only, nothing stored) up to SETTLE_ATTEMPTS times. Never
   * releases the hold. Null when every attempt failed (logged). Idempotent:
   * a call already ended is returned as it ended.
   */
  async complete(e: Ending): Promise<Omit<AiChatResult, 'server_timing'> | null> {
    const latencyMs = this.elapsed();
    const answer = toStorableText(e.answer);
    const usage = e.usage ?? this.estimate(answer);
    // Every provider-supplied string is made storable: one unstorable field would fail every attempt below.
    const finishReason = e.finishReason === null ? null : toStorableText(e.finishReason);
    const outcome: Outcome = {
      usage,
      estimated: e.usage === null,
      finishReason,
      latencyMs,
      ttftMs: e.ttftMs,
      clientDisconnected: e.clientDisconnected,
      providerResponseId: e.providerResponseId === null ? null : toStorableText(e.providerResponseId),
      errorCode: e.fault?.code ?? null,
      error: e.fault?.error ?? null,
    };
    const db = database(this.env.SUPABASE_DB_URL);
    let done: Interaction | null = null;
    let chatTitle: string | null = null;
    for (let attempt = 1; !done && attempt <= SETTLE_ATTEMPTS; attempt++) {
      try {
        const regen = this.regeneration;
        ({ interaction: done, chatTitle } = await db.asService((tx) =>
          regen
            ? finishRegeneration(tx, { ...outcome, ...regen, id: this.interaction.id, chatId: this.interaction.chat_id!, answer })
            : finishInteraction(tx, { ...outcome, id: this.interaction.id, chatId: this.interaction.chat_id!, prompt: this.prompt, answer })
        ));
      } catch (err) {
        this.log.error('could not finish the AI call', { attempt, error: describe(err) });
      }
    }
    for (let attempt = 1; !done && attempt <= SETTLE_ATTEMPTS; attempt++) {
      try {
        done = await db.asService((tx) =>
          settleInteraction(tx, {
            ...outcome,
            id: this.interaction.id,
            errorCode: outcome.errorCode ?? 'not_stored',
            error: outcome.error ?? 'the answer could not be stored',
          })
        );
      } catch (err) {
        this.log.error('could not settle the AI call', { attempt, error: describe(err) });
      }
    }
    if (!done) {
      this.log.error('AI call unrecorded: its hold stays until it expires', { interaction_id: this.interaction.id });
      return null;
    }
    const charged = done.prompt_tokens !== null && done.completion_tokens !== null;
    this.log.info(done.status === 'succeeded' ? 'ai call succeeded' : 'ai call incomplete', {
      chat_id: this.interaction.chat_id,
      status: done.status,
      prompt_tokens: done.prompt_tokens,
      cached_prompt_tokens: done.cached_prompt_tokens,
      completion_tokens: done.completion_tokens,
      usage_estimated: done.usage_estimated,
      reserved_micro_usd: done.reserved_micro_usd,
      cost_micro_usd: done.cost_micro_usd,
      charged_micro_usd: done.charged_micro_usd,
      latency_ms: latencyMs,
      time_to_first_token_ms: e.ttftMs,
      client_disconnected: e.clientDisconnected,
      stored: done.answer_message_id !== null,
      ...(done.error_code ? { error_code: done.error_code } : {}),
    });
    return {
      interaction_id: done.id,
      chat_id: this.interaction.chat_id!,
      provider: done.provider,
      model: done.model,
      content: answer,
      finish_reason: finishReason,
      stored: done.answer_message_id !== null,
      prompt_message_id: done.prompt_message_id,
      answer_message_id: done.answer_message_id,
      chat_title: chatTitle,
      usage: charged
        ? { prompt_tokens: done.prompt_tokens!, cached_prompt_tokens: done.cached_prompt_tokens ?? 0, completion_tokens: done.completion_tokens! }
        : usage,
      usage_estimated: done.usage_estimated,
      reserved_micro_usd: done.reserved_micro_usd,
      cost_micro_usd: done.cost_micro_usd ?? 0,
      charged_micro_usd: done.charged_micro_usd ?? 0,
      latency_ms: latencyMs,
      time_to_first_token_ms: e.ttftMs,
      fallback_from: this.fallbackFrom,
    };
  }

  /** The error answer when `complete` returned null. */
  unrecorded(): Unrecorded {
    return new Unrecorded('unavailable', 'the answer could not be recorded, retry shortly', { interaction_id: this.interaction.id });
  }

  /** Logs an exception of ours that happened after the output began (the call is then charged, not released). */
  logUnexpected(e: unknown) {
    this.log.error('ai call failed unexpectedly after its output began', { error: describe(e) });
  }

  /** Releases everything for a provider fault before any output; returns the HttpError to answer with. */
  async fail(fault: ProviderFault, ttftMs: number | null = null): Promise<HttpError> {
    const latencyMs = this.elapsed();
    this.log.warn('ai call failed', { error_code: fault.code, status: fault.http.status, latency_ms: latencyMs });
    await this.release(fault.code, fault.http.message, latencyMs, ttftMs);
    return fault.http;
  }

  /** Releases everything after a bug before any output; the caller sees a 503 in the error shape. */
  async failUnexpected(e: unknown): Promise<HttpError> {
    this.log.error('ai call failed unexpectedly', { error: describe(e) });
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

function describe(e: unknown) {
  return e instanceof Error ? { name: e.name, message: e.message, stack: e.stack } : String(e);
}
