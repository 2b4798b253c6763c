/**
 * ai-chat's database work, each step one transaction:
 * - `loadConversation` as the caller (role authenticated, RLS): the chat (only
 *   visible to members), the model (only enabled ones), the caller's name and
 *   the recent history, in one statement (private.ai_chat_conversation);
 * - `startInteraction`, `finishInteraction`, `settleInteraction`, `failInteraction` as the
 *   service role, through the private functions of
 *   20261122120000_ai.sql (rate limits, reservation, settlement, storing).
 * Rows and arguments are typed from the generated Database types (_shared/db.ts):
 * an `Interaction` is exactly a public.ai_interactions row, amounts in
 * micro-USD as numbers (int8 parsed by `parseInt8`); the jsonb parts of
 * ai_chat_conversation (model, history) are parsed with Zod schemas checked
 * against those types at compile time.
 */
import { AiModel, type AiUsage, type AiChatRequest, type Equals, MessageKind, type Enums, type Tables } from '@chat-with-me/shared';
import { z } from 'zod';
import { callRow, callRows, type database, privateCall, type PrivateReturns, type Tx } from '../_shared/db.ts';
import { HttpError } from '../_shared/errors.ts';
import { rateLimitError } from '../_shared/rate-limit.ts';
import { type HistoryMessage, MAX_HISTORY_MESSAGES } from './context.ts';

/** The model as private.ai_chat_conversation returns it: these columns of public.ai_models (jsonb). */
const ModelRow = AiModel.pick({ id: true, provider: true, max_output_tokens: true, context_window: true, request_options: true });
export type ModelRow = z.infer<typeof ModelRow>;

/** A history message as private.ai_chat_conversation returns it (json, newest first). */
const HistoryRow = z.object({
  kind: MessageKind,
  sender_id: z.string().nullable(),
  sender_name: z.string().nullable(),
  content: z.string(),
});

// Compile-time checks: the jsonb parts have the generated types' columns.
const conversationChecks: [
  Equals<Omit<ModelRow, 'request_options'>, Omit<Pick<Tables<'ai_models'>, keyof ModelRow>, 'request_options'>>,
  Equals<z.infer<typeof HistoryRow>, HistoryMessage>,
] = [true, true];
void conversationChecks;

export interface Conversation {
  chat: { id: string; kind: Enums<'chat_kind'> } | null;
  /**
   * chat_ai_settings.assistant_enabled of the chat (20261202120300_chat_assistant.sql): false when its members turned
   * the assistant off, null when they never changed the default (on).
   */
  assistantEnabled: boolean | null;
  model: ModelRow | null;
  callerName: string;
  history: HistoryMessage[];
}

/**
 * As the caller: what they may see of the chat and the models (nothing when
 * not a member). One statement, private.ai_chat_conversation (security
 * invoker: the same four reads under RLS, with plans cached per connection)
 * and the chat's assistant setting beside it (every parameterised statement
 * costs two round trips with `prepare: false`, _shared/db.ts).
 */
export async function loadConversation(tx: Tx, userId: string, body: Pick<AiChatRequest, 'chat_id' | 'model'>): Promise<Conversation> {
  // One row; every column null when the chat does not exist or is not visible to the caller.
  const [row] = await tx<({ [K in keyof Conversed]: Conversed[K] | null } & { assistant_enabled: boolean | null })[]>`
    select c.*, (select s.assistant_enabled from public.chat_ai_settings s where s.chat_id = c.chat_id) as assistant_enabled
    from ${privateCall(tx, 'ai_chat_conversation', {
      p_chat_id: body.chat_id, p_model_id: body.model || null, p_user_id: userId, p_history_limit: MAX_HISTORY_MESSAGES,
    })} c`;
  if (!row?.chat_id || !row.chat_kind) return { chat: null, assistantEnabled: null, model: null, callerName: '', history: [] };
  return {
    chat: { id: row.chat_id, kind: row.chat_kind },
    assistantEnabled: row.assistant_enabled,
    model: row.model === null ? null : ModelRow.parse(row.model),
    callerName: row.caller_name ?? '',
    history: z.array(HistoryRow).parse(row.history ?? []),
  };
}

/** A row of private.ai_chat_conversation (generated type; each column is null for an invisible chat). */
type Conversed = PrivateReturns<'ai_chat_conversation'>[number];

/** A public.ai_interactions row, as the private ai functions return it. */
export type Interaction = Tables<'ai_interactions'>;

/** DETAIL of the PT429 start_ai_interaction raises (its per-minute and per-day AI limits). */
const AiRateLimitDetail = z.object({
  retry_after_seconds: z.number().int().positive(),
  window: z.enum(['minute', 'day']),
  limit: z.number().int().nonnegative(),
});

/**
 * private.start_ai_interaction: rate limits, the pending row and the credit
 * reservation. Errors: 429 rate_limited with Retry-After (PT429); 402
 * insufficient_credits when the reservation does not fit (the row stays as
 * `refused`); the rest mapped by SQLSTATE (404 not a member, 403 blocked).
 */
export async function startInteraction(
  db: Pick<ReturnType<typeof database>, 'asService'>,
  a: {
    userId: string;
    chatId: string;
    modelId: string;
    promptTokens: number;
    contextMessages: number;
    stream: boolean;
    requestId: string;
    /** The hold lasts at least this long (seconds): the provider deadline plus a margin. */
    minHoldSeconds: number;
  },
): Promise<Interaction> {
  let interaction: Interaction;
  try {
    // Its own transaction, committed before answering: a refused call stays recorded (and counts in the rate limits).
    interaction = await db.asService((tx) =>
      callRow(tx, 'start_ai_interaction', {
        p_user_id: a.userId,
        p_chat_id: a.chatId,
        p_model_id: a.modelId,
        p_estimated_prompt_tokens: a.promptTokens,
        p_context_messages: a.contextMessages,
        p_stream: a.stream,
        p_request_id: a.requestId,
        p_min_hold_seconds: a.minHoldSeconds,
      })
    );
  } catch (e) {
    throw rateLimitError(e, AiRateLimitDetail, (m, retry) => `too many AI requests: ${m.replace(/^rate limit reached: /, '')}; retry in ${retry} s`) ?? e;
  }
  if (interaction.status === 'refused') {
    throw new HttpError('insufficient_credits', `not enough AI credits for this call (${interaction.error ?? 'insufficient credits'}); top up and retry`, {
      interaction_id: interaction.id,
    });
  }
  return interaction;
}

/**
 * How a call that produced output ends: the usage to charge (`estimated` when
 * the provider never reported it: see ai-chat's handler), and what went wrong
 * after the output began (`errorCode`/`error`; null when nothing did).
 */
export interface Outcome {
  usage: AiUsage;
  estimated: boolean;
  finishReason: string | null;
  latencyMs: number;
  ttftMs: number | null;
  clientDisconnected: boolean;
  providerResponseId: string | null;
  errorCode: string | null;
  error: string | null;
}

/**
 * The named arguments that settle_ai_interaction, finish_ai_interaction(_titled)
 * and finish_ai_regeneration share: how the call ended.
 */
function outcomeArgs(a: Outcome) {
  return {
    p_prompt_tokens: a.usage.prompt_tokens,
    p_cached_prompt_tokens: a.usage.cached_prompt_tokens,
    p_completion_tokens: a.usage.completion_tokens,
    p_usage_estimated: a.estimated,
    p_finish_reason: a.finishReason,
    p_latency_ms: a.latencyMs,
    p_time_to_first_token_ms: a.ttftMs,
    p_client_disconnected: a.clientDisconnected,
    p_provider_response_id: a.providerResponseId,
    p_error_code: a.errorCode,
    p_error: a.error,
  };
}

/** private.finish_ai_interaction (store, title, charge) and the chat's title afterwards (private.finish_ai_interaction_titled). */
export async function finishInteraction(
  tx: Tx,
  a: Outcome & { id: string; chatId: string; prompt: string; answer: string },
): Promise<{ interaction: Interaction; chatTitle: string | null }> {
  // One statement: finish_ai_interaction, then the chat's title as it is afterwards (the row's fields flattened).
  const [row] = await tx<(Interaction & { chat_title: string | null })[]>`
    select (f.interaction).*, f.chat_title
    from ${privateCall(tx, 'finish_ai_interaction_titled', {
      p_interaction_id: a.id,
      p_chat_id: a.chatId,
      p_prompt: a.prompt,
      p_answer: a.answer,
      ...outcomeArgs(a),
    })} f`;
  const { chat_title, ...interaction } = row!;
  return { interaction, chatTitle: chat_title ?? null };
}

/** private.settle_ai_interaction: charge without storing anything (finishing failed); the row `incomplete`. */
export async function settleInteraction(tx: Tx, a: Outcome & { id: string }): Promise<Interaction> {
  return callRow(tx, 'settle_ai_interaction', {
    p_interaction_id: a.id,
    ...outcomeArgs(a),
  });
}

/** private.fail_ai_interaction: release the reservation, mark the row failed (only before any output). */
export async function failInteraction(tx: Tx, a: { id: string; code: string; error: string; latencyMs: number | null; ttftMs: number | null }) {
  await callRow(tx, 'fail_ai_interaction', {
    p_interaction_id: a.id, p_error_code: a.code, p_error: a.error, p_latency_ms: a.latencyMs, p_time_to_first_token_ms: a.ttftMs,
  });
}

/**
 * The enabled fallback model of `modelId` (private.ai_model_fallback, table
 * ai_model_fallbacks), or null when none is configured or it is disabled.
 */
export async function fallbackModel(tx: Tx, modelId: string): Promise<ModelRow | null> {
  const [row] = await callRows(tx, 'ai_model_fallback', { p_model_id: modelId });
  return row ? ModelRow.parse(row) : null;
}

/**
 * private.fallback_ai_interaction: records the failed attempt, moves the
 * reservation to the fallback's prices and the row to the fallback model.
 * Null when the call cannot fall back (already did, no longer pending, or not
 * enough credits for the fallback's reservation): nothing changed then.
 */
export async function fallbackInteraction(
  tx: Tx,
  a: { id: string; modelId: string; promptTokens: number; code: string; error: string; latencyMs: number; minHoldSeconds: number },
): Promise<Interaction | null> {
  const [row] = await callRows(tx, 'fallback_ai_interaction', {
    p_interaction_id: a.id,
    p_fallback_model_id: a.modelId,
    p_estimated_prompt_tokens: a.promptTokens,
    p_error_code: a.code,
    p_error: a.error,
    p_latency_ms: a.latencyMs,
    p_min_hold_seconds: a.minHoldSeconds,
  });
  return row ?? null;
}

/**
 * As the caller (RLS): their last prompt in the chat when nothing but AI
 * answers came after it (private.ai_last_prompt), or null: what `regenerate`
 * asks again.
 */
export async function lastPrompt(tx: Tx, chatId: string, userId: string): Promise<{ message_id: string; content: string } | null> {
  const [row] = await callRows(tx, 'ai_last_prompt', { p_chat_id: chatId, p_user_id: userId });
  return row ?? null;
}

/**
 * private.finish_ai_regeneration (edit the prompt if its text changed, store
 * the new answer replying to it, charge) and the chat's title afterwards.
 */
export async function finishRegeneration(
  tx: Tx,
  a: Outcome & { id: string; chatId: string; promptMessageId: string; editedPrompt: string | null; answer: string },
): Promise<{ interaction: Interaction; chatTitle: string | null }> {
  const interaction = await callRow(tx, 'finish_ai_regeneration', {
    p_interaction_id: a.id,
    p_prompt_message_id: a.promptMessageId,
    p_prompt: a.editedPrompt,
    p_answer: a.answer,
    ...outcomeArgs(a),
  });
  const [chat] = await tx<{ title: string | null }[]>`select title from public.chats where id = ${a.chatId}`;
  return { interaction, chatTitle: chat?.title ?? null };
}
