/**
 * ai-chat's database work, each step one transaction:
 * - `loadConversation` as the caller (role authenticated, RLS): the chat (only
 *   visible to members), the model (only enabled ones), the caller's name and
 *   the recent history, in one statement (private.ai_chat_conversation);
 * - `startInteraction`, `finishInteraction`, `settleInteraction`, `failInteraction` as the
 *   service role, through the private functions of
 *   20261122120000_ai.sql (rate limits, reservation, settlement, storing).
 * postgres.js returns bigint columns as strings: amounts are converted with
 * Number() (micro-USD amounts stay far below 2^53).
 */
import type { AiChatRequest, AiProvider, AiUsage } from '@chat-with-me/shared';
import { z } from 'zod';
import type { database, Tx } from '../_shared/db.ts';
import { HttpError, isPgError } from '../_shared/errors.ts';
import { type HistoryMessage, MAX_HISTORY_MESSAGES } from './context.ts';

export interface ModelRow {
  id: string;
  provider: AiProvider;
  max_output_tokens: number;
  context_window: number;
  request_options: unknown;
}

export interface Conversation {
  chat: { id: string; kind: 'direct' | 'group' | 'assistant' } | null;
  model: ModelRow | null;
  callerName: string;
  history: HistoryMessage[];
}

/**
 * As the caller: what they may see of the chat and the models (nothing when
 * not a member). One statement, private.ai_chat_conversation (security
 * invoker: the same four reads under RLS, with plans cached per connection).
 */
export async function loadConversation(tx: Tx, userId: string, body: AiChatRequest): Promise<Conversation> {
  const [row] = await tx<{ chat_id: string | null; chat_kind: 'direct' | 'group' | 'assistant' | null; model: ModelRow | null; caller_name: string | null; history: HistoryMessage[] | null }[]>`
    select * from private.ai_chat_conversation(${body.chat_id}, ${body.model || null}, ${userId}, ${MAX_HISTORY_MESSAGES})`;
  if (!row?.chat_id || !row.chat_kind) return { chat: null, model: null, callerName: '', history: [] };
  return { chat: { id: row.chat_id, kind: row.chat_kind }, model: row.model ?? null, callerName: row.caller_name ?? '', history: row.history ?? [] };
}

/** An ai_interactions row as ai-chat uses it (amounts as numbers). */
export interface Interaction {
  id: string;
  status: 'pending' | 'succeeded' | 'incomplete' | 'failed' | 'aborted' | 'refused';
  provider: AiProvider;
  model: string;
  chat_id: string | null;
  estimated_prompt_tokens: number;
  context_messages: number;
  max_output_tokens: number;
  reserved_micro_usd: number;
  cost_micro_usd: number | null;
  charged_micro_usd: number | null;
  prompt_tokens: number | null;
  cached_prompt_tokens: number | null;
  completion_tokens: number | null;
  usage_estimated: boolean;
  prompt_message_id: string | null;
  answer_message_id: string | null;
  error_code: string | null;
  error: string | null;
}

function toInteraction(r: Record<string, unknown>): Interaction {
  const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));
  return {
    id: String(r.id),
    status: r.status as Interaction['status'],
    provider: r.provider as AiProvider,
    model: String(r.model),
    chat_id: (r.chat_id as string | null) ?? null,
    estimated_prompt_tokens: Number(r.estimated_prompt_tokens),
    context_messages: Number(r.context_messages),
    max_output_tokens: Number(r.max_output_tokens),
    reserved_micro_usd: Number(r.reserved_micro_usd),
    cost_micro_usd: num(r.cost_micro_usd),
    charged_micro_usd: num(r.charged_micro_usd),
    prompt_tokens: num(r.prompt_tokens),
    cached_prompt_tokens: num(r.cached_prompt_tokens),
    completion_tokens: num(r.completion_tokens),
    usage_estimated: r.usage_estimated === true,
    prompt_message_id: (r.prompt_message_id as string | null) ?? null,
    answer_message_id: (r.answer_message_id as string | null) ?? null,
    error_code: (r.error_code as string | null) ?? null,
    error: (r.error as string | null) ?? null,
  };
}

const RateLimitDetail = z.object({
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
  let row: Record<string, unknown> | undefined;
  try {
    // Its own transaction, committed before answering: a refused call stays recorded (and counts in the rate limits).
    [row] = await db.asService((tx) => tx`
      select * from private.start_ai_interaction(${a.userId}, ${a.chatId}, ${a.modelId}, ${a.promptTokens},
                                                 ${a.contextMessages}, ${a.stream}, ${a.requestId}, ${a.minHoldSeconds})`);
  } catch (e) {
    if (isPgError(e) && e.code === 'PT429') {
      let detail: z.infer<typeof RateLimitDetail> | undefined;
      try {
        detail = RateLimitDetail.parse(JSON.parse(e.detail ?? ''));
      } catch {
        detail = undefined;
      }
      const retry = detail?.retry_after_seconds ?? 60;
      throw new HttpError('rate_limited', `too many AI requests: ${e.message.replace(/^rate limit reached: /, '')}; retry in ${retry} s`,
        detail ?? { retry_after_seconds: retry }, { 'retry-after': String(retry) });
    }
    throw e;
  }
  const interaction = toInteraction(row!);
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

/** private.finish_ai_interaction (store, title, charge) and the chat's title afterwards (private.finish_ai_interaction_titled). */
export async function finishInteraction(
  tx: Tx,
  a: Outcome & { id: string; chatId: string; prompt: string; answer: string },
): Promise<{ interaction: Interaction; chatTitle: string | null }> {
  // One statement: finish_ai_interaction, then the chat's title as it is afterwards.
  const [row] = await tx`
    select (f.interaction).*, f.chat_title
    from private.finish_ai_interaction_titled(${a.id}, ${a.chatId}, ${a.prompt}, ${a.answer}, ${a.usage.prompt_tokens},
      ${a.usage.cached_prompt_tokens}, ${a.usage.completion_tokens}, ${a.finishReason}, ${a.latencyMs}, ${a.ttftMs},
      ${a.clientDisconnected}, ${a.providerResponseId}, ${a.estimated}, ${a.errorCode}, ${a.error}) f`;
  return { interaction: toInteraction(row!), chatTitle: (row!.chat_title as string | null) ?? null };
}

/** private.settle_ai_interaction: charge without storing anything (finishing failed); the row `incomplete`. */
export async function settleInteraction(tx: Tx, a: Outcome & { id: string }): Promise<Interaction> {
  const [row] = await tx`
    select * from private.settle_ai_interaction(${a.id}, ${a.usage.prompt_tokens}, ${a.usage.cached_prompt_tokens},
      ${a.usage.completion_tokens}, ${a.estimated}, ${a.finishReason}, ${a.latencyMs}, ${a.ttftMs},
      ${a.clientDisconnected}, ${a.providerResponseId}, ${a.errorCode}, ${a.error})`;
  return toInteraction(row!);
}

/** private.fail_ai_interaction: release the reservation, mark the row failed (only before any output). */
export async function failInteraction(tx: Tx, a: { id: string; code: string; error: string; latencyMs: number | null; ttftMs: number | null }) {
  await tx`select 1 from private.fail_ai_interaction(${a.id}, ${a.code}, ${a.error}, ${a.latencyMs}, ${a.ttftMs})`;
}
