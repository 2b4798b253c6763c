/**
 * ai-suggest: `POST /functions/v1/ai-suggest` with a Clerk session token.
 * Up to three short replies the caller could send next in a chat they are in
 * (direct, group or assistant), written by the AI from the chat's recent
 * messages as the caller sees them, in the chat's language.
 *
 * Metered and rate-limited like ai-chat (the same per-user limits, the same
 * reservation → settle path, docs/money.md); the same context (same chat and
 * newest message) is answered from the cache, uncharged (`cached: true`).
 * Errors (the shared error shape): 400 invalid body or a chat without
 * messages; 401; 402 insufficient_credits; 404 chat not found (or not a
 * member); 429 rate_limited with Retry-After; 502/503 provider failures
 * (nothing charged).
 */
import { z } from 'zod';
import { Uuid } from '../common.ts';
import { AiModelId, AiProvider, AiUsage } from './ai-chat.ts';

/** Longest suggestion kept, in characters (longer ones are cut). */
export const AI_SUGGESTION_MAX_CHARS = 300;
/** Most suggestions returned. */
export const AI_SUGGESTIONS_MAX = 3;

// Alike on purpose: request and answer schemas are declared field by field, like ai-chat.ts's.

/** Body of `POST ai-suggest`. Unknown fields are refused (400). */
export const AiSuggestRequest = z.strictObject({
  /** The chat to suggest replies in; the caller must be a member. */
  chat_id: Uuid,
  /** An enabled ai_models id; the default model when omitted. */
  model: AiModelId.optional(),
});
export type AiSuggestRequest = z.output<typeof AiSuggestRequest>;

/** Answer of `POST ai-suggest` (200). */
export const AiSuggestResult = z.object({
  chat_id: Uuid,
  /** The newest message of the chat the suggestions answer (the cache key with chat_id). */
  last_message_id: Uuid,
  /** 0 to 3 replies, each 1..300 characters. */
  suggestions: z.array(z.string().min(1).max(AI_SUGGESTION_MAX_CHARS)).max(AI_SUGGESTIONS_MAX),
  /** True when answered from the cache (same chat and newest message as an earlier call): nothing was charged. */
  cached: z.boolean(),
  /** The ai_interactions row that paid for them (null when that row is gone). */
  interaction_id: Uuid.nullable(),
  provider: AiProvider,
  model: AiModelId,
  /** The usage charged by THIS call (null when cached). */
  usage: AiUsage.nullable(),
  /** What THIS call debited, micro-USD (0 when cached). */
  charged_micro_usd: z.number().int().nonnegative(),
});
export type AiSuggestResult = z.infer<typeof AiSuggestResult>;
