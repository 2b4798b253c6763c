/**
 * Conversation control (issue 18, item 3) on ai-chat and the Data API:
 * stop a streamed answer (on_disconnect 'stop': the client aborts; the part
 * produced is stored as such and charged for its tokens), rename and delete
 * an assistant conversation through supabase-js.
 */
import { countTokens } from 'gpt-tokenizer/encoding/o200k_base';
import { describe, expect, it } from 'vitest';
import { clientAs } from '../helpers/client.js';
import { owner } from '../helpers/db.js';
import {
  aiStackForFile,
  aiUser,
  assistantChat,
  caller,
  eventually,
  expectedCost,
  interactionsOf,
  messagesOf,
  modelRow,
  sseEvents,
  wallet,
} from '../ai/helpers.js';

const stack = aiStackForFile();

const LONG = Array.from({ length: 120 }, (_, i) => `word${i}`).join(' ');

/** Posts a streamed call and aborts it once `deltas` delta events arrived; returns the text the client saw. */
async function askAndStop(user: string, chat: string, deltas: number, extra: Record<string, unknown> = {}): Promise<string> {
  const abort = new AbortController();
  const res = await (await caller(stack.fns, user)).post({ chat_id: chat, prompt: 'Write a long list', model: 'gpt-6-luna', ...extra }, { signal: abort.signal });
  expect(res.status).toBe(200);
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  let seen = 0;
  let text = '';
  while (seen < deltas) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += decoder.decode(value, { stream: true });
    let i;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      if (block.startsWith('event: delta')) {
        seen++;
        text += JSON.parse(block.split('\ndata: ')[1]!).text;
      }
    }
  }
  abort.abort();
  await reader.cancel().catch(() => undefined);
  return text;
}

describe('stop a streamed answer', () => {
  it("on_disconnect 'stop': the provider call is aborted, the partial answer is stored as stopped and charged for the tokens produced", async () => {
    const user = await aiUser(2_000_000);
    const chat = await assistantChat(user);
    const before = await wallet(user);
    stack.openai.behave({ reply: LONG, tokensPerChunk: 2, chunkDelayMs: 40 });

    const seen = await askAndStop(user, chat, 3, { on_disconnect: 'stop' });
    expect(seen.length).toBeGreaterThan(0);

    const row = await eventually(async () => {
      const [r] = await interactionsOf(user);
      return r && r.status !== 'pending' ? r : null;
    });
    expect(row).toMatchObject({ status: 'incomplete', error_code: 'stopped', usage_estimated: true, client_disconnected: true });

    // The provider call was aborted (not read to the end).
    await eventually(async () => stack.openai.requests[0]?.clientClosed === true);
    expect(stack.openai.requests[0]!.completed).toBe(false);

    // The partial answer is in the chat, marked as stopped; it starts with what the client saw and is shorter than the reply.
    const msgs = await messagesOf(chat);
    expect(msgs.map((m) => m.kind)).toEqual(['text', 'ai']);
    const answer = msgs[1]!;
    expect(answer.id).toBe(row!.answer_message_id);
    expect(answer.content.startsWith(seen)).toBe(true);
    expect(answer.content.length).toBeLessThan(LONG.length);
    expect(answer.metadata).toMatchObject({ error_code: 'stopped', ai_interaction_id: row!.id });

    // Charged for the tokens produced (prompt as counted + the stored output), at the model's prices.
    expect(row!.completion_tokens).toBe(countTokens(answer.content));
    expect(row!.prompt_tokens).toBe(row!.estimated_prompt_tokens);
    const m = await modelRow('gpt-6-luna');
    const cost = expectedCost(m, { prompt: row!.prompt_tokens, completion: row!.completion_tokens });
    expect(Number(row!.charged_micro_usd)).toBe(cost);
    expect(cost).toBeLessThan(Number(row!.reserved_micro_usd));
    expect(await wallet(user)).toEqual({ balance: before.balance - cost, held: 0 });
  });

  it("default (on_disconnect 'finish'): a client that leaves still gets the whole answer stored and charged", async () => {
    const user = await aiUser(2_000_000);
    const chat = await assistantChat(user);
    stack.openai.behave({ reply: LONG, tokensPerChunk: 20, chunkDelayMs: 30 });
    await askAndStop(user, chat, 1);
    const row = await eventually(async () => {
      const [r] = await interactionsOf(user);
      return r && r.status !== 'pending' ? r : null;
    });
    expect(row).toMatchObject({ status: 'succeeded', client_disconnected: true, error_code: null });
    const msgs = await messagesOf(chat);
    expect(msgs[1]!.content).toBe(LONG);
  });

  it('a stream read to its end is unaffected by on_disconnect stop', async () => {
    const user = await aiUser(2_000_000);
    const chat = await assistantChat(user);
    stack.openai.behave({ reply: 'Short answer.' });
    const res = await (await caller(stack.fns, user)).post({ chat_id: chat, prompt: 'Hi', on_disconnect: 'stop' });
    const events = await sseEvents(res);
    expect(events.at(-1)!.event).toBe('done');
    expect(events.at(-1)!.data).toMatchObject({ content: 'Short answer.', stored: true });
  });

  it('on_disconnect takes only finish or stop (400)', async () => {
    const user = await aiUser(2_000_000);
    const chat = await assistantChat(user);
    const res = await (await caller(stack.fns, user)).post({ chat_id: chat, prompt: 'Hi', on_disconnect: 'pause' });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'invalid_request' });
    expect(stack.openai.requests).toHaveLength(0);
  });
});

describe('regenerate and edit-and-resend', () => {
  it('regenerate: a new answer to the same prompt (same context), both kept, charged as its own call', async () => {
    const user = await aiUser(2_000_000);
    const chat = await assistantChat(user);
    stack.openai.queue({ reply: 'First answer.' }, { reply: 'Second, better answer.' });
    const c = await caller(stack.fns, user);
    const first = await (await c.post({ chat_id: chat, prompt: 'Tell me a fact', stream: false })).json();
    const before = await wallet(user);

    const res = await c.post({ chat_id: chat, regenerate: true, stream: false });
    expect(res.status).toBe(200);
    const second = await res.json();
    expect(second).toMatchObject({ content: 'Second, better answer.', stored: true, prompt_message_id: first.prompt_message_id });
    expect(second.answer_message_id).not.toBe(first.answer_message_id);

    // The provider saw the same conversation as the first time (the old answer is not context).
    expect(stack.openai.requests[1]!.body.messages).toEqual(stack.openai.requests[0]!.body.messages);

    // Both answers kept, replying to the one prompt; the newest is the one to show.
    const msgs = await messagesOf(chat);
    expect(msgs.map((m) => [m.kind, m.content])).toEqual([
      ['text', 'Tell me a fact'], ['ai', 'First answer.'], ['ai', 'Second, better answer.'],
    ]);
    expect(msgs[2]!.reply_to_id).toBe(first.prompt_message_id);
    expect(msgs[2]!.metadata).toMatchObject({ regenerated: true, prompt_message_id: first.prompt_message_id });

    // Charged exactly the second call's usage.
    const m = await modelRow('gpt-6-luna');
    const cost = expectedCost(m, { prompt: second.usage.prompt_tokens, completion: second.usage.completion_tokens });
    expect(second.charged_micro_usd).toBe(cost);
    expect(await wallet(user)).toEqual({ balance: before.balance - cost, held: 0 });
    const rows = await interactionsOf(user);
    expect(rows.map((r) => r.status)).toEqual(['succeeded', 'succeeded']);
    expect(rows[1]!.prompt_message_id).toBe(first.prompt_message_id);
  });

  it('edit and resend: the last prompt is edited (edited_at set) and answered anew', async () => {
    const user = await aiUser(2_000_000);
    const chat = await assistantChat(user);
    const c = await caller(stack.fns, user);
    const first = await (await c.post({ chat_id: chat, prompt: 'Capital of Spain?', stream: false })).json();
    stack.openai.behave({ reply: (body: any) => `You asked: ${body.messages.at(-1).content}` });

    const res = await c.post({ chat_id: chat, regenerate: true, prompt: 'Capital of Portugal?' });
    const events = await sseEvents(res);
    expect(events.at(-1)!.event).toBe('done');
    expect(events.at(-1)!.data).toMatchObject({ content: 'You asked: Capital of Portugal?', prompt_message_id: first.prompt_message_id });
    const msgs = await messagesOf(chat);
    expect(msgs[0]).toMatchObject({ id: first.prompt_message_id, content: 'Capital of Portugal?' });
    expect(msgs[0]!.edited_at).not.toBeNull();
    expect(msgs).toHaveLength(3);
  });

  it('refuses (404, nothing charged) when the last prompt is not the newest message, or there is none', async () => {
    const user = await aiUser(2_000_000);
    const chat = await assistantChat(user);
    const c = await caller(stack.fns, user);
    const none = await c.post({ chat_id: chat, regenerate: true, stream: false });
    expect(none.status).toBe(404);
    await (await c.post({ chat_id: chat, prompt: 'Hello', stream: false })).json();
    // The user writes a plain message after it: nothing to regenerate any more.
    const me = clientAs(user);
    expect((await me.from('messages').insert({ chat_id: chat, content: 'by the way' })).error).toBeNull();
    const res = await c.post({ chat_id: chat, regenerate: true, stream: false });
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: 'not_found' });
    expect((await interactionsOf(user)).length).toBe(1);
  });

  it('a prompt is required unless regenerate (400)', async () => {
    const user = await aiUser(2_000_000);
    const chat = await assistantChat(user);
    const res = await (await caller(stack.fns, user)).post({ chat_id: chat });
    expect(res.status).toBe(400);
  });

  it('another user cannot regenerate in a chat they are not in (404)', async () => {
    const user = await aiUser(2_000_000);
    const other = await aiUser(2_000_000);
    const chat = await assistantChat(user);
    await (await (await caller(stack.fns, user)).post({ chat_id: chat, prompt: 'Mine', stream: false })).json();
    const res = await (await caller(stack.fns, other)).post({ chat_id: chat, regenerate: true, stream: false });
    expect(res.status).toBe(404);
    expect(await interactionsOf(other)).toEqual([]);
  });
});

describe('rename and delete an assistant conversation (Data API)', () => {
  it('the owner renames it; another user cannot; the owner deletes it', async () => {
    const user = await aiUser(0);
    const other = await aiUser(0);
    const chat = await assistantChat(user, 'First title');
    const me = await clientAs(user);
    const renamed = await me.from('chats').update({ title: 'Trip to Lisbon' }).eq('id', chat).select('id, title').single();
    expect(renamed.error).toBeNull();
    expect(renamed.data).toEqual({ id: chat, title: 'Trip to Lisbon' });

    const them = await clientAs(other);
    const theirs = await them.from('chats').update({ title: 'Hijacked' }).eq('id', chat).select('id');
    expect(theirs.data ?? []).toEqual([]);
    const [c] = await owner()`select title from public.chats where id = ${chat}`;
    expect(c!.title).toBe('Trip to Lisbon');

    const del = await me.from('chats').delete().eq('id', chat).select('id');
    expect(del.error).toBeNull();
    expect(del.data).toEqual([{ id: chat }]);
    expect(await owner()`select id from public.chats where id = ${chat}`).toEqual([]);
  });
});
