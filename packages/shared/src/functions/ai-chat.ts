/**
 * The AI assistant: the `ai-chat` function's request, its JSON answer, the
 * server-sent events of a streamed answer, and the rows clients read through
 * the Data API (`ai_models`, `ai_interactions`; migration 20261122120000_ai.sql).
 *
 * `POST ai-chat` with a Clerk session token and `AiChatRequest`:
 * - `stream: true` (default): `200 text/event-stream` (format below), or an
 *   error answer (`ErrorBody`) when the call cannot start;
 * - `stream: false`: `200 application/json` `AiChatResult`, or an error answer.
 * Errors before anything is sent: 400 invalid body or unknown/disabled model,
 * 401 no/invalid token, 402 not enough credits for the reservation (nothing
 * was called), 403 blocked in a direct chat, 404 not a member of the chat (or
 * no such chat), 429 rate limited (`Retry-After` header, seconds; details
 * `{retry_after_seconds, window: minute | day, limit}`) or the provider is
 * rate limiting us, 502 the provider failed, 503 the provider is not
 * configured or refuses our key.
 *
 * Server-sent events (https://html.spec.whatwg.org/multipage/server-sent-events.html),
 * each `event: <name>\ndata: <one JSON line>\n\n`, in this order:
 *   start  (once)  `AiChatStart`: the call is running and credits are held;
 *   delta  (0..n)  `{text}`: the next piece of the answer, to append;
 *   done   (once)  `AiChatResult`: the answer is complete, stored and charged
 *          (`usage_estimated` when the provider reported no usage);
 *   error  (once, instead of done) `ErrorBody`: the call stopped. Before any
 *          delta: nothing was charged or stored. After deltas (the provider
 *          cut the answer, the deadline, or we could not store it): the
 *          caller pays for the output received and the part received is kept;
 *          `details` then carry `interaction_id`, `charged_micro_usd`,
 *          `usage_estimated`, `stored` and `answer_message_id`.
 * Lines starting with `:` are keep-alive comments (sent every 15 s of silence).
 * Once `done` arrives, the prompt and the answer are also messages of the chat
 * (INSERT events on `chat:<chat_id>` for every member).
 *
 * Every answer has a `Server-Timing` header (https://www.w3.org/TR/server-timing/):
 * `auth`, `db`, `provider`, `settle`, `other` and `total` in milliseconds, each
 * with a `desc`, phases without time left out; a streamed answer's header is
 * sent before the stream (so it ends at the provider's answer headers); the
 * whole split is `server_timing` (`AiServerTiming`) of the JSON answer and of `done`.
 *
 * Amounts are integers: tokens, and micro-USD (1 USD = 1,000,000).
 */
import { z } from 'zod';
import { type Equals, JsonValue, storableText, Timestamp, Uuid } from '../common.ts';
import { Constants, type Tables } from '../database.types.ts';
import { ErrorBody } from '../errors.ts';

// -----------------------------------------------------------------------------
// Request
// -----------------------------------------------------------------------------

/** An ai_models id (the provider's model id), e.g. `gpt-6-luna`, `deepseek-v4-flash`. */
export const AiModelId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$/, 'expected a model id such as gpt-6-luna');

/** Longest prompt, in characters: a prompt is stored as a chat message (messages.content ≤ 8000). */
export const AI_PROMPT_MAX_CHARS = 8000;

/** Body of `POST ai-chat`. Unknown fields are refused (400). */
export const AiChatRequest = z.strictObject({
  /** The chat to ask in: direct, group or assistant; the caller must be a member. */
  chat_id: Uuid,
  /**
   * The question, 1..8000 characters after trimming, storable (no NUL, valid Unicode: `storableText`, else 400
   * before any provider call). Stored as the caller's text message with the answer.
   */
  prompt: storableText().trim().min(1, 'the prompt is empty').max(AI_PROMPT_MAX_CHARS, `at most ${AI_PROMPT_MAX_CHARS} characters`).optional(),
  /**
   * Ask again for the caller's LAST prompt in the chat (404 when there is none, or someone wrote after it): without
   * `prompt`, a new answer to the same prompt (regenerate); with `prompt`, the prompt message is edited to it first
   * (edit and resend). The new answer replies to that prompt message (metadata.regenerated); earlier answers are kept
   * and the newest reply to a prompt is the one to show. A new call: reserved, charged and rate-limited like any other.
   */
  regenerate: z.boolean().default(false),
  /** An enabled ai_models id; the default model when omitted. */
  model: AiModelId.optional(),
  /** Stream the answer as server-sent events (default) or answer with one JSON body. */
  stream: z.boolean().default(true),
  /**
   * What a streamed call does when the client closes the stream before `done`:
   * - `finish` (default): the answer is generated to the end, stored and charged (it is in the chat when the user
   *   comes back);
   * - `stop` (a "stop generating" button: the client aborts the request): the provider call is aborted at once, the
   *   part produced so far is stored as the answer (kind `ai`, metadata.error_code `stopped`) and charged for the
   *   tokens produced (gpt-tokenizer o200k_base count of the prompt as sent and of the output received, capped at the
   *   reservation; the row is `incomplete`, error_code `stopped`, usage_estimated). Stopped before any output:
   *   nothing is charged or stored (the row is `failed`, error_code `stopped`).
   */
  on_disconnect: z.enum(['finish', 'stop']).default('finish'),
}).refine((r) => r.regenerate || r.prompt !== undefined, { path: ['prompt'], message: 'a prompt is required (unless regenerate is true)' });
export type AiChatRequest = z.output<typeof AiChatRequest>;
export type AiChatRequestInput = z.input<typeof AiChatRequest>;

// -----------------------------------------------------------------------------
// Answers
// -----------------------------------------------------------------------------

export const AiProvider = z.enum(Constants.public.Enums.ai_provider);
export type AiProvider = z.infer<typeof AiProvider>;

/** A token count (non-negative integer). */
const Tokens = z.number().int().nonnegative();
/** Milliseconds (non-negative integer). */
const Millis = z.number().int().nonnegative();
/** Credits in micro-USD (non-negative integer). */
const Credits = z.number().int().nonnegative();

// Alike on purpose: each wire object below (and in ai-suggest.ts) is its own Zod schema, declared field by field
// with the field's unit and meaning; their shapes rhyme, their fields and documentation differ.

/** Token usage as the provider reported it (its final usage chunk, or the JSON answer's `usage`). */
export const AiUsage = z.object({
  prompt_tokens: Tokens,
  /** Part of prompt_tokens served from the provider's prompt cache (billed at the cached-input price). */
  cached_prompt_tokens: Tokens,
  /** Answer tokens, reasoning included. */
  completion_tokens: Tokens,
});
export type AiUsage = z.infer<typeof AiUsage>;

/**
 * The attempt that failed before any output when the call fell back to another model (ai_model_fallbacks; at most one
 * fallback per call, nothing charged for the failed attempt): its provider, model and why it failed
 * (ai_interaction_attempts.error_code: provider_error, provider_rate_limited, provider_unavailable, timeout, connection_failed).
 */
export const AiFallbackFrom = z.object({
  provider: AiProvider,
  model: AiModelId,
  error_code: z.string(),
});
export type AiFallbackFrom = z.infer<typeof AiFallbackFrom>;

/** SSE `start`: the call is running; `reserved_micro_usd` of the caller's credits are held until it ends. */
export const AiChatStart = z.object({
  interaction_id: Uuid,
  chat_id: Uuid,
  provider: AiProvider,
  model: AiModelId,
  /** Most the call can cost: (estimated prompt tokens, max_output_tokens) at the model's prices. */
  reserved_micro_usd: Credits,
  /** Prompt tokens counted before the call (system prompt + context + prompt; o200k_base). */
  estimated_prompt_tokens: Tokens,
  /** Earlier messages of the chat sent as context. */
  context_messages: z.number().int().nonnegative(),
  max_output_tokens: Tokens,
  /** Set when the first model failed before any output and `model` (the fallback) answers instead; null otherwise. */
  fallback_from: AiFallbackFrom.nullable(),
});
export type AiChatStart = z.infer<typeof AiChatStart>;

/** SSE `delta`: the next piece of the answer. */
export const AiChatDelta = z.object({ text: z.string() });
export type AiChatDelta = z.infer<typeof AiChatDelta>;

/** Milliseconds measured in the function, 0.1 ms precision. */
const Duration = z.number().nonnegative();

/**
 * Where the function's time went for this call (`server_timing` of the answer; the same phases, so far, in the
 * `Server-Timing` header of every ai-chat answer, W3C Server Timing https://www.w3.org/TR/server-timing/). In
 * milliseconds with 0.1 ms precision, measured in the function; the phases add up to `total_ms`.
 */
export const AiServerTiming = z.object({
  /** Verifying the Clerk session token. */
  auth_ms: Duration,
  /** Database work before the provider call: the caller's reads (as the caller), settings, the rate limits and the reservation. */
  db_ms: Duration,
  /** Waiting for the provider: from the request to its last byte (a streamed answer's deltas are relayed meanwhile). */
  provider_ms: Duration,
  /** Database work after the answer, before this was sent: storing both messages, charging, the title. */
  settle_ms: Duration,
  /** The rest: the body, the context and its token count, the server-sent events, validating what is sent. */
  other_ms: Duration,
  /** From the request reaching the function to this answer (the JSON body, or the `done` event). */
  total_ms: Duration,
});
export type AiServerTiming = z.infer<typeof AiServerTiming>;

/** The complete answer: the JSON body of a non-streamed call, and the SSE `done` event. */
export const AiChatResult = z.object({
  interaction_id: Uuid,
  chat_id: Uuid,
  provider: AiProvider,
  model: AiModelId,
  /** The whole answer text. */
  content: z.string(),
  /** Why the model stopped: stop, length (max_output_tokens reached), content_filter… */
  finish_reason: z.string().nullable(),
  /** Whether the prompt and answer were stored as messages (false if the caller lost access to the chat meanwhile). */
  stored: z.boolean(),
  /** The caller's question as a message of the chat (kind text). */
  prompt_message_id: Uuid.nullable(),
  /** The answer as a message of the chat (kind ai; the first part when it exceeds 8000 characters). */
  answer_message_id: Uuid.nullable(),
  /** The chat's title afterwards (an untitled assistant chat is named after its first prompt). */
  chat_title: z.string().nullable(),
  /** The usage charged: the provider's report, or the estimate when `usage_estimated`. */
  usage: AiUsage,
  /**
   * True when the provider reported no usage: `usage` is our own count (gpt-tokenizer o200k_base: the prompt as sent
   * and the answer received) and the cost is capped at `reserved_micro_usd`.
   */
  usage_estimated: z.boolean(),
  reserved_micro_usd: Credits,
  /** Price of `usage` at the model's prices, rounded up to the micro-USD. */
  cost_micro_usd: Credits,
  /** What the wallet was debited (the cost, capped at the balance). */
  charged_micro_usd: Credits,
  /** Milliseconds from the request to the provider to its last byte. */
  latency_ms: Millis,
  /** Milliseconds to the first answer text (streamed calls); null otherwise. */
  time_to_first_token_ms: Millis.nullable(),
  /** Set when the first model failed before any output and `model` (the fallback) answered; null otherwise. */
  fallback_from: AiFallbackFrom.nullable(),
  /** Where the function's time went (the overhead a proxy adds is `total_ms − provider_ms`). */
  server_timing: AiServerTiming,
});
export type AiChatResult = z.infer<typeof AiChatResult>;

/** SSE event names and the schema of each one's `data`. */
export const AiChatEvents = {
  start: AiChatStart,
  delta: AiChatDelta,
  done: AiChatResult,
  error: ErrorBody,
} as const;
export type AiChatEventName = keyof typeof AiChatEvents;

/** A parsed event of a streamed answer (`error` is raised as a FunctionsError by the client instead). */
export type AiChatEvent =
  | { event: 'start'; data: AiChatStart }
  | { event: 'delta'; data: AiChatDelta }
  | { event: 'done'; data: AiChatResult };

// -----------------------------------------------------------------------------
// Rows (Data API)
// -----------------------------------------------------------------------------

/** public.ai_models: signed-in users read the enabled models; admins edit them. Prices in micro-USD per 1M tokens. */
export const AiModel = z.object({
  id: AiModelId,
  provider: AiProvider,
  display_name: z.string(),
  input_micro_usd_per_mtok: Credits,
  cached_input_micro_usd_per_mtok: Credits.nullable(),
  output_micro_usd_per_mtok: Credits,
  context_window: Tokens,
  max_output_tokens: Tokens,
  enabled: z.boolean(),
  is_default: z.boolean(),
  request_options: JsonValue,
  price_source: z.string(),
  created_at: Timestamp,
  updated_at: Timestamp,
});
export type AiModel = z.infer<typeof AiModel>;

export const AiInteractionStatus = z.enum(Constants.public.Enums.ai_interaction_status);
export type AiInteractionStatus = z.infer<typeof AiInteractionStatus>;

/** public.ai_interactions: one row per AI call; users read their own. */
export const AiInteraction = z.object({
  id: Uuid,
  user_id: z.string(),
  chat_id: Uuid.nullable(),
  provider: AiProvider,
  model: z.string(),
  status: AiInteractionStatus,
  stream: z.boolean(),
  context_messages: z.number().int().nonnegative(),
  estimated_prompt_tokens: Tokens,
  max_output_tokens: Tokens,
  prompt_tokens: Tokens.nullable(),
  cached_prompt_tokens: Tokens.nullable(),
  completion_tokens: Tokens.nullable(),
  /** The provider reported no usage: the tokens are our own count and the cost is capped at the reservation. */
  usage_estimated: z.boolean(),
  input_micro_usd_per_mtok: Credits,
  cached_input_micro_usd_per_mtok: Credits.nullable(),
  output_micro_usd_per_mtok: Credits,
  reserved_micro_usd: Credits,
  cost_micro_usd: Credits.nullable(),
  charged_micro_usd: Credits.nullable(),
  reservation_id: Uuid.nullable(),
  prompt_message_id: Uuid.nullable(),
  answer_message_id: Uuid.nullable(),
  finish_reason: z.string().nullable(),
  client_disconnected: z.boolean(),
  latency_ms: Millis.nullable(),
  time_to_first_token_ms: Millis.nullable(),
  error_code: z.string().nullable(),
  error: z.string().nullable(),
  provider_response_id: z.string().nullable(),
  request_id: z.string().nullable(),
  created_at: Timestamp,
  finished_at: Timestamp.nullable(),
});
export type AiInteraction = z.infer<typeof AiInteraction>;

/** The ai_interactions columns the `start` event carries as they are. */
type StartColumns = 'provider' | 'reserved_micro_usd' | 'estimated_prompt_tokens' | 'context_messages' | 'max_output_tokens';
/** The ai_interactions columns a result carries as they are (the rest are renamed, derived, or non-null once charged). */
type ResultColumns = 'provider' | 'model' | 'finish_reason' | 'prompt_message_id' | 'answer_message_id' | 'usage_estimated' | 'reserved_micro_usd';

// Compile-time drift checks against the generated Database types (the row that
// private.start_ai_interaction / finish_ai_interaction return is an ai_interactions row).
const aiRowChecks: [
  Equals<Omit<AiModel, 'request_options'>, Omit<Tables<'ai_models'>, 'request_options'>>,
  Equals<AiInteraction, Tables<'ai_interactions'>>,
  Equals<Pick<AiChatStart, StartColumns>, Pick<Tables<'ai_interactions'>, StartColumns>>,
  Equals<Pick<AiChatResult, ResultColumns>, Pick<Tables<'ai_interactions'>, ResultColumns>>,
  Equals<AiChatResult['chat_title'], Tables<'chats'>['title']>,
] = [true, true, true, true, true];
void aiRowChecks;
