/**
 * ai-suggest (issue 18, item 1): up to three reply suggestions in a chat the
 * caller is in, metered like ai-chat, cached per caller + chat + newest
 * message, never reading a chat the caller cannot see. Real Deno (ai-suggest
 * and ai-chat only), real PostgreSQL, the openai SDK against the stand-ins.
 */
import { randomUUID } from 'node:crypto';
import { AiSuggestResult } from '@chat-with-me/shared';
import { beforeEach, describe, expect, it } from 'vitest';
import { sessionToken } from '../helpers/clerk.js';
import { asUser, owner } from '../helpers/db.js';
import { aiStackForFile, aiUser, assistantChat, expectedCost, interactionsOf, modelRow, wallet } from '../ai/helpers.js';

const stack = aiStackForFile({}, ['ai-chat', 'ai-suggest']);
beforeEach(() => {
  stack.openai.behave({ reply: JSON.stringify({ suggestions: ['Sounds good!', 'What time?', 'I cannot make it, sorry.', 'extra one'] }) });
});

async function suggest(userId: string, body: unknown): Promise<Response> {
  const token = await sessionToken(stack.fns.clerk, userId, { expiresIn: 600 });
  return fetch(`${stack.fns.url}/ai-suggest`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

/** A group of `owner` with `members`, and messages (sender, text) in order. */
async function groupWith(ownerId: string, members: string[], messages: [string, string][]): Promise<string> {
  const [g] = await asUser(ownerId, (tx) => tx`select id from public.create_group_chat(${'Picnic ' + randomUUID().slice(0, 6)}, ${members})`);
  for (const [sender, text] of messages) await asUser(sender, (tx) => tx`insert into public.messages (chat_id, content) values (${g!.id}, ${text})`);
  return g!.id as string;
}

describe('ai-suggest', () => {
  it('suggests up to three replies from the chat as the caller sees it, charged once per context', async () => {
    const alice = await aiUser(2_000_000, { display_name: 'Alice' });
    const bob = await aiUser(0, { display_name: 'Bob' });
    const chat = await groupWith(alice, [bob], [[alice, 'Picnic on Saturday?'], [bob, 'Yes! Shall we meet at noon?']]);
    const before = await wallet(alice);

    const res = await suggest(alice, { chat_id: chat });
    expect(res.status).toBe(200);
    const first = AiSuggestResult.parse(await res.json());
    expect(first).toMatchObject({ chat_id: chat, cached: false, provider: 'openai', model: 'gpt-6-luna', suggestions: ['Sounds good!', 'What time?', 'I cannot make it, sorry.'] });
    const [last] = await owner()`select id from public.messages where chat_id = ${chat} order by created_at desc limit 1`;
    expect(first.last_message_id).toBe(last!.id);

    // The model saw the chat's messages with their authors, and the JSON instruction.
    const sent = stack.openai.requests[0]!.body;
    expect(sent.response_format).toEqual({ type: 'json_object' });
    const contents = sent.messages.map((m: { content: string }) => m.content);
    expect(contents).toContain('Alice: Picnic on Saturday?');
    expect(contents).toContain('Bob: Yes! Shall we meet at noon?');

    // Charged exactly the reported usage, through the ordinary metering.
    const m = await modelRow('gpt-6-luna');
    const cost = expectedCost(m, { prompt: first.usage!.prompt_tokens, completion: first.usage!.completion_tokens });
    expect(first.charged_micro_usd).toBe(cost);
    expect(await wallet(alice)).toEqual({ balance: before.balance - cost, held: 0 });
    const [row] = await interactionsOf(alice);
    expect(row).toMatchObject({ id: first.interaction_id, status: 'succeeded', chat_id: chat, prompt_message_id: null, answer_message_id: null });
    // Nothing was posted in the chat.
    expect((await owner()`select count(*)::int as n from public.messages where chat_id = ${chat}`)[0]!.n).toBe(2);

    // Same context again: from the cache, not charged, no provider call.
    const again = AiSuggestResult.parse(await (await suggest(alice, { chat_id: chat })).json());
    expect(again).toMatchObject({ cached: true, charged_micro_usd: 0, usage: null, suggestions: first.suggestions, interaction_id: first.interaction_id });
    expect(stack.openai.requests).toHaveLength(1);
    expect(await wallet(alice)).toEqual({ balance: before.balance - cost, held: 0 });

    // A new message is a new context: charged again.
    await asUser(bob, (tx) => tx`insert into public.messages (chat_id, content) values (${chat}, ${'Bring drinks?'})`);
    const third = AiSuggestResult.parse(await (await suggest(alice, { chat_id: chat })).json());
    expect(third.cached).toBe(false);
    expect(third.charged_micro_usd).toBeGreaterThan(0);
    expect(stack.openai.requests).toHaveLength(2);

    // The cache is the caller's own: Bob asking for the same context pays for his (and has no credits: 402).
    const bobs = await suggest(bob, { chat_id: chat });
    expect(bobs.status).toBe(402);
    expect(await bobs.json()).toMatchObject({ error: 'insufficient_credits' });
    expect(stack.openai.requests).toHaveLength(2);
  });

  it('never reads a chat the caller left (404, no provider call, nothing charged)', async () => {
    const alice = await aiUser(2_000_000);
    const bob = await aiUser(2_000_000);
    const chat = await groupWith(alice, [bob], [[alice, 'secret plans'], [bob, 'more secrets']]);
    await asUser(bob, (tx) => tx`select public.leave_chat(${chat})`);
    await asUser(alice, (tx) => tx`insert into public.messages (chat_id, content) values (${chat}, ${'after bob left'})`);

    const res = await suggest(bob, { chat_id: chat });
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: 'not_found' });
    expect(stack.openai.requests).toHaveLength(0);
    expect(await interactionsOf(bob)).toEqual([]);
    // Nor does he read any suggestion cached for that chat through the Data API.
    expect(await asUser(bob, (tx) => tx`select * from public.ai_suggestions where chat_id = ${chat}`)).toEqual([]);
  });

  it('refuses without credits (402) before any provider call', async () => {
    const user = await aiUser(0);
    const chat = await assistantChat(user);
    await asUser(user, (tx) => tx`insert into public.messages (chat_id, content) values (${chat}, ${'hello'})`);
    const res = await suggest(user, { chat_id: chat });
    expect(res.status).toBe(402);
    expect(stack.openai.requests).toHaveLength(0);
    const [row] = await interactionsOf(user);
    expect(row).toMatchObject({ status: 'refused', error_code: 'insufficient_credits' });
  });

  it('shares ai-chat\'s per-user rate limit (429 with Retry-After)', async () => {
    const user = await aiUser(2_000_000);
    const chat = await assistantChat(user);
    await asUser(user, (tx) => tx`insert into public.messages (chat_id, content) values (${chat}, ${'hello'})`);
    const [lim] = await owner()`select (value #>> '{}')::int as n from public.admin_config where key = 'ai.rate_limit_per_minute'`;
    // Calls already started this minute (as ai-chat would have recorded them).
    await owner()`
      insert into public.ai_interactions (user_id, chat_id, provider, model, status, stream, estimated_prompt_tokens, max_output_tokens,
                                          input_micro_usd_per_mtok, output_micro_usd_per_mtok, finished_at)
      select ${user}, ${chat}, 'openai', 'gpt-6-luna', 'failed', true, 1, 1, 0, 0, now() from generate_series(1, ${lim!.n})`;
    const res = await suggest(user, { chat_id: chat });
    expect(res.status).toBe(429);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(stack.openai.requests).toHaveLength(0);
  });

  it('reads plain-text answers too, and refuses a chat without messages (400) or a bad body (400)', async () => {
    const user = await aiUser(2_000_000);
    const chat = await assistantChat(user);
    expect((await suggest(user, { chat_id: chat })).status).toBe(400);
    expect((await suggest(user, { chat_id: 'nope' })).status).toBe(400);
    await asUser(user, (tx) => tx`insert into public.messages (chat_id, content) values (${chat}, ${'¿Vienes mañana?'})`);
    stack.openai.behave({ reply: '1. ¡Sí, claro!\n2. No puedo.\n' });
    const r = AiSuggestResult.parse(await (await suggest(user, { chat_id: chat })).json());
    expect(r.suggestions).toEqual(['¡Sí, claro!', 'No puedo.']);
  });

  it('a provider failure releases the hold: nothing charged, nothing cached', async () => {
    const user = await aiUser(2_000_000);
    const chat = await assistantChat(user);
    await asUser(user, (tx) => tx`insert into public.messages (chat_id, content) values (${chat}, ${'hi'})`);
    const before = await wallet(user);
    stack.openai.behave({ error: { status: 400, message: 'bad', type: 'invalid_request_error' } });
    const res = await suggest(user, { chat_id: chat });
    expect(res.status).toBe(502);
    expect(await wallet(user)).toEqual({ ...before, held: 0 });
    expect(await owner()`select * from public.ai_suggestions where chat_id = ${chat}`).toEqual([]);
    const [row] = await interactionsOf(user);
    expect(row).toMatchObject({ status: 'failed' });
  });
});
