/**
 * ai-suggest: POST with a Clerk session token and `AiSuggestRequest`
 * (@chat-with-me/shared) → `AiSuggestResult`: up to three short replies the
 * caller could send next in the chat.
 *
 * Top-down:
 *   1. the caller's token, the body (400 with the issues);
 *   2. as the caller, under RLS (ai-chat's loadConversation): the chat (404
 *      unless a member: a chat the caller left is not readable), the model,
 *      the recent history, and the chat's newest message (400 when none);
 *   3. the cache (ai_suggestions, per caller + chat + newest message): a hit
 *      is answered at once, uncharged;
 *   4. private.start_ai_interaction: the SAME per-user rate limits as ai-chat
 *      (429 + Retry-After) and the reservation (402 without credits);
 *   5. one non-streamed chat completion (JSON mode) through the openai SDK,
 *      with the history within ai.context_token_budget and the instruction
 *      to answer in the chat's language;
 *   6. private.settle_ai_interaction charges the reported usage (the estimate,
 *      capped at the reservation, when the provider reported none) and the
 *      suggestions are cached, in one transaction. A provider failure before
 *      any answer releases the hold (fail_ai_interaction): nothing charged.
 * Nothing is stored in the chat. Two identical calls at the same instant may
 * both be charged (the cache is filled by the first to finish).
 */
import { AI_SUGGESTION_MAX_CHARS, AI_SUGGESTIONS_MAX, AiSuggestRequest, AiSuggestResult, type AiUsage, toStorableText } from '@chat-with-me/shared';
import { countTokens } from 'gpt-tokenizer/encoding/o200k_base';
import { z } from 'zod';
import { clerkSessionEnv, requireClerkKey, requireUser } from '../_shared/auth.ts';
import { settings } from '../_shared/config.ts';
import { database } from '../_shared/db.ts';
import { platformEnv } from '../_shared/env.ts';
import { HttpError } from '../_shared/errors.ts';
import { defineFunction, json, readJson } from '../_shared/http.ts';
import { buildContext, reservedPromptTokens } from '../ai-chat/context.ts';
import { failInteraction, loadConversation, settleInteraction, startInteraction } from '../ai-chat/metering.ts';
import { type ChatCompletion, classifyProviderError, completionParams, providerClient, providerEnv, readUsage } from '../ai-chat/provider.ts';

const Env = z.object({ ...platformEnv, ...clerkSessionEnv, ...providerEnv }).superRefine(requireClerkKey);

/** What the model is told (system message); the history follows, then SUGGEST_PROMPT. */
const INSTRUCTIONS = 'You suggest replies in a chat app. Read the conversation and propose up to three short, natural replies '
  + 'that the person asking could send next, in the language of the conversation, each under 200 characters. '
  + 'Answer with a JSON object only: {"suggestions": ["…", "…", "…"]}.';
const SUGGEST_PROMPT = 'Suggest up to three replies I could send next (JSON).';

export const handler = defineFunction({ name: 'ai-suggest', methods: ['POST'], env: Env }, async (req, { env, requestId, log }) => {
  const user = await requireUser(req, env);
  const body = await readJson(req, AiSuggestRequest);
  const db = database(env.SUPABASE_DB_URL);

  const conv = await db.asUser(user.claims, async (tx) => {
    const c = await loadConversation(tx, user.id, body);
    if (!c.chat) return { ...c, lastMessageId: null };
    const [last] = await tx<{ id: string }[]>`
      select m.id from public.messages m where m.chat_id = ${c.chat.id} and m.deleted_at is null
      order by m.created_at desc, m.id desc limit 1`;
    return { ...c, lastMessageId: last?.id ?? null };
  }, { readOnly: true });
  if (!conv.chat) throw new HttpError('not_found', 'chat not found', { chat_id: body.chat_id });
  const model = conv.model;
  if (!model) {
    throw body.model
      ? new HttpError('invalid_request', `unknown or disabled model: ${body.model}`, { model: body.model })
      : new HttpError('unavailable', 'no default AI model is set (ai_models.is_default)');
  }
  if (!conv.lastMessageId) throw new HttpError('invalid_request', 'the chat has no messages to reply to yet', { chat_id: body.chat_id });
  const chatId = conv.chat.id;
  const lastMessageId = conv.lastMessageId;

  // The same context again: the stored suggestions, uncharged.
  const [hit] = await db.asService((tx) =>
    tx<{ suggestions: string[]; interaction_id: string | null; model: string; provider: 'openai' | 'deepseek' | null }[]>`
      select s.suggestions, s.interaction_id, s.model, m.provider
      from public.ai_suggestions s left join public.ai_models m on m.id = s.model
      where s.user_id = ${user.id} and s.chat_id = ${chatId} and s.last_message_id = ${lastMessageId}`
  );
  if (hit) {
    return json(AiSuggestResult, {
      chat_id: chatId, last_message_id: lastMessageId, suggestions: hit.suggestions, cached: true,
      interaction_id: hit.interaction_id, provider: hit.provider ?? model.provider, model: hit.model, usage: null, charged_micro_usd: 0,
    });
  }

  const client = providerClient(model.provider, env);
  const config = await settings(env.SUPABASE_DB_URL);
  const context = buildContext({
    systemPrompt: INSTRUCTIONS,
    history: conv.history,
    prompt: SUGGEST_PROMPT,
    callerName: conv.callerName,
    named: conv.chat.kind !== 'assistant',
    budget: config.getOr('ai.context_token_budget', z.number().int().positive(), 4000),
  });
  const reserveFor = reservedPromptTokens(context.promptTokens, model.provider);
  if (reserveFor + model.max_output_tokens > model.context_window) {
    throw new HttpError('invalid_request', `the conversation is too long for ${model.id}`, { prompt_tokens: context.promptTokens });
  }
  const interaction = await startInteraction(db, {
    userId: user.id,
    chatId,
    modelId: model.id,
    promptTokens: reserveFor,
    contextMessages: context.contextMessages,
    stream: false,
    requestId,
    minHoldSeconds: Math.ceil(env.AI_PROVIDER_TIMEOUT_MS / 1000) + 60,
  });

  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  const abort = new AbortController();
  let timedOut = false;
  const deadline = setTimeout(() => {
    timedOut = true;
    abort.abort();
  }, env.AI_PROVIDER_TIMEOUT_MS);
  let completion: ChatCompletion;
  try {
    completion = await client.chat.completions.create(
      { ...completionParams(model, context.messages, false), response_format: { type: 'json_object' } },
      { signal: abort.signal },
    );
  } catch (e) {
    const fault = classifyProviderError(e, model.provider, 'request', timedOut);
    log.warn('ai-suggest failed', { interaction_id: interaction.id, error_code: fault.code });
    await db.asService((tx) => failInteraction(tx, { id: interaction.id, code: fault.code, error: fault.http.message, latencyMs: elapsed(), ttftMs: null }))
      .catch((err) => log.error('could not release the reservation', { error: String(err) }));
    throw fault.http;
  } finally {
    clearTimeout(deadline);
  }

  const text = completion.choices?.[0]?.message?.content ?? '';
  const reported = readUsage(completion.usage);
  if (!reported && !text) {
    await db.asService((tx) => failInteraction(tx, { id: interaction.id, code: 'truncated_stream', error: 'no answer and no usage', latencyMs: elapsed(), ttftMs: null }));
    throw new HttpError('provider_error', 'the provider sent no answer; nothing was charged', { provider: model.provider });
  }
  const suggestions = parseSuggestions(text);
  const usage: AiUsage = reported ?? { prompt_tokens: context.promptTokens, cached_prompt_tokens: 0, completion_tokens: countTokens(text) };
  // Charged and cached in one transaction.
  const done = await db.asService(async (tx) => {
    const row = await settleInteraction(tx, {
      id: interaction.id,
      usage,
      estimated: !reported,
      finishReason: completion.choices?.[0]?.finish_reason ?? null,
      latencyMs: elapsed(),
      ttftMs: null,
      clientDisconnected: false,
      providerResponseId: completion.id ? toStorableText(completion.id) : null,
      errorCode: reported ? null : 'usage_missing',
      error: reported ? null : 'the provider reported no usage: charged the estimate',
    });
    await tx`
      insert into public.ai_suggestions (user_id, chat_id, last_message_id, interaction_id, model, suggestions)
      values (${user.id}, ${chatId}, ${lastMessageId}, ${interaction.id}, ${model.id}, ${suggestions})
      on conflict (user_id, chat_id, last_message_id) do nothing`;
    return row;
  });
  log.info('ai-suggest succeeded', { interaction_id: done.id, suggestions: suggestions.length, charged_micro_usd: done.charged_micro_usd });
  return json(AiSuggestResult, {
    chat_id: chatId, last_message_id: lastMessageId, suggestions, cached: false, interaction_id: done.id,
    provider: model.provider, model: model.id, usage, charged_micro_usd: done.charged_micro_usd ?? 0,
  });
});

/**
 * The suggestions in the model's answer: `{"suggestions": [...]}` or a JSON
 * array (a ```json fence tolerated), else one per non-empty line (list
 * markers removed). Made storable, trimmed, cut at 300 characters, at most 3.
 */
export function parseSuggestions(text: string): string[] {
  let items: unknown = null;
  try {
    const parsed: unknown = JSON.parse(text.trim().replace(/^```(?:json)?\s*/i, '').replace(/\s*```$/, ''));
    items = Array.isArray(parsed) ? parsed : (parsed as { suggestions?: unknown } | null)?.suggestions;
  } catch {
    items = null;
  }
  const list = Array.isArray(items)
    ? items.filter((x): x is string => typeof x === 'string')
    : text.split('\n').map((l) => l.replace(/^\s*(?:[-*•]|\d+[.)])\s*/, ''));
  return list
    .map((s) => toStorableText(s).trim().replace(/^"(.*)"$/s, '$1').trim())
    .filter((s) => s.length > 0)
    .map((s) => toStorableText(s.slice(0, AI_SUGGESTION_MAX_CHARS)))
    .slice(0, AI_SUGGESTIONS_MAX);
}
