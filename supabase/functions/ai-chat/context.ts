/**
 * What the model sees: the system prompt, the chat's recent messages and the
 * new prompt, within a token budget (admin_config ai.context_token_budget).
 *
 * Token counting (gpt-tokenizer, https://github.com/niieani/gpt-tokenizer):
 * - encoding o200k_base for every model. It is the encoding of OpenAI's
 *   current models (GPT-4o, GPT-4.1, GPT-5 and the o-series per the
 *   gpt-tokenizer README; the GPT-6 family is assumed to keep it), so for
 *   OpenAI the count is what OpenAI bills. DeepSeek uses its own tokenizer,
 *   which gpt-tokenizer does not ship: for DeepSeek models o200k_base is an
 *   estimate, and the reservation adds DEEPSEEK_TOKEN_MARGIN to it;
 * - chat format, after OpenAI's cookbook "How to count tokens with tiktoken"
 *   (https://cookbook.openai.com/examples/how_to_count_tokens_with_tiktoken):
 *   3 tokens per message plus its role and content tokens, plus 3 that prime
 *   the reply. The stand-in (stack/standins/openai.mjs) counts the same way.
 * Whatever the estimate, the charge is the usage the provider reports.
 *
 * Which messages: the newest first, back until the next one would exceed
 * the budget (a contiguous recent window: an older message is never sent
 * without the ones after it), at most MAX_HISTORY_MESSAGES. The system prompt
 * and the new prompt always go (even over the budget). Deleted messages,
 * `system` messages and messages without text are left out; `ai` messages
 * are the assistant's turns; in direct and group chats each person's message
 * starts with their name ("Alice Martin: …"), the new prompt too.
 */
import type { Tables } from '@chat-with-me/shared';
import { countTokens } from 'gpt-tokenizer/encoding/o200k_base';
import type { ChatMessage } from './provider.ts';

/** Most messages of history read per call. */
export const MAX_HISTORY_MESSAGES = 200;

/** Safety margin on DeepSeek prompt estimates (its tokenizer differs from o200k_base): +25%. */
export const DEEPSEEK_TOKEN_MARGIN = 0.25;

/** Tokens of one message in the chat format (see the module comment). */
export function messageTokens(m: ChatMessage): number {
  return 3 + countTokens(m.role) + countTokens(m.content);
}

/** Tokens of a whole request's messages: each message, plus 3 for the reply's priming. */
export function chatTokens(messages: ChatMessage[]): number {
  return messages.reduce((n, m) => n + messageTokens(m), 3);
}

/** A message of the chat as read for context, newest first: public.messages columns and the author's display name. */
export interface HistoryMessage extends Pick<Tables<'messages'>, 'kind' | 'sender_id' | 'content'> {
  /** public.users.display_name of the sender; null for ai/system messages and deleted accounts. */
  sender_name: Tables<'users'>['display_name'] | null;
}

export interface BuiltContext {
  messages: ChatMessage[];
  /** chatTokens(messages): the prompt tokens we expect the provider to count. */
  promptTokens: number;
  /** History messages included. */
  contextMessages: number;
}

function asChatMessage(m: HistoryMessage, named: boolean): ChatMessage | null {
  const text = m.content.trim();
  if (!text || m.kind === 'system') return null;
  if (m.kind === 'ai') return { role: 'assistant', content: text };
  const body = m.kind === 'text' ? text : `[${m.kind}] ${text}`;
  return { role: 'user', content: named ? `${m.sender_name?.trim() || 'Someone'}: ${body}` : body };
}

/**
 * Builds the request messages. `history` is newest first; `named` prefixes
 * people's names (direct and group chats); `budget` in tokens.
 */
export function buildContext(opts: {
  systemPrompt: string;
  history: HistoryMessage[];
  prompt: string;
  callerName: string;
  named: boolean;
  budget: number;
}): BuiltContext {
  const system: ChatMessage | null = opts.systemPrompt.trim() ? { role: 'system', content: opts.systemPrompt.trim() } : null;
  const question: ChatMessage = { role: 'user', content: opts.named ? `${opts.callerName.trim() || 'Someone'}: ${opts.prompt}` : opts.prompt };
  let used = 3 + messageTokens(question) + (system ? messageTokens(system) : 0);
  const included: ChatMessage[] = [];
  for (const h of opts.history.slice(0, MAX_HISTORY_MESSAGES)) {
    const m = asChatMessage(h, opts.named);
    if (!m) continue;
    const t = messageTokens(m);
    if (used + t > opts.budget) break;
    used += t;
    included.push(m);
  }
  const messages = [...(system ? [system] : []), ...included.reverse(), question];
  return { messages, promptTokens: used, contextMessages: included.length };
}

/** Prompt tokens to reserve for: the count, plus the margin for tokenizers we only approximate. */
export function reservedPromptTokens(promptTokens: number, provider: 'openai' | 'deepseek'): number {
  return provider === 'deepseek' ? Math.ceil(promptTokens * (1 + DEEPSEEK_TOKEN_MARGIN)) : promptTokens;
}
