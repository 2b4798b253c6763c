/**
 * The assistant in group and direct chats (issue 18, item 2): a member's
 * explicit call (ai-chat with the group's chat_id) is answered as a kind `ai`
 * message every member reads through the Data API; the asker pays; owners
 * and admins turn it off (public.set_chat_assistant), then calls are refused.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { clientAs } from '../helpers/client.js';
import { asUser } from '../helpers/db.js';
import { aiStackForFile, aiUser, caller, expectedCost, interactionsOf, modelRow, wallet } from '../ai/helpers.js';

const stack = aiStackForFile();

async function group(ownerId: string, members: string[]): Promise<string> {
  const [g] = await asUser(ownerId, (tx) => tx`select id from public.create_group_chat(${'Team ' + randomUUID().slice(0, 6)}, ${members})`);
  return g!.id as string;
}

describe('the assistant in a group chat', () => {
  it('a member asks: every member reads the answer (kind ai); only the asker pays', async () => {
    const alice = await aiUser(2_000_000, { display_name: 'Alice' });
    const bob = await aiUser(2_000_000, { display_name: 'Bob' });
    const chat = await group(alice, [bob]);
    const bobBefore = await wallet(bob);
    const aliceBefore = await wallet(alice);
    stack.openai.behave({ reply: 'The meeting is at 10.' });

    const res = await (await caller(stack.fns, bob)).post({ chat_id: chat, prompt: '@assistant when is the meeting?', stream: false });
    expect(res.status).toBe(200);
    const done = await res.json();
    expect(done).toMatchObject({ stored: true, content: 'The meeting is at 10.' });
    // In a group, the model sees who is asking.
    expect(stack.openai.requests[0]!.body.messages.at(-1)).toEqual({ role: 'user', content: 'Bob: @assistant when is the meeting?' });

    // Alice (another member) reads the prompt and the answer through the Data API.
    const { data, error } = await clientAs(alice).from('messages').select('id, kind, sender_id, content').eq('chat_id', chat).order('created_at');
    expect(error).toBeNull();
    expect(data).toEqual([
      { id: done.prompt_message_id, kind: 'text', sender_id: bob, content: '@assistant when is the meeting?' },
      { id: done.answer_message_id, kind: 'ai', sender_id: null, content: 'The meeting is at 10.' },
    ]);

    // Bob paid; Alice did not.
    const m = await modelRow('gpt-6-luna');
    const cost = expectedCost(m, { prompt: done.usage.prompt_tokens, completion: done.usage.completion_tokens });
    expect(await wallet(bob)).toEqual({ balance: bobBefore.balance - cost, held: 0 });
    expect(await wallet(alice)).toEqual(aliceBefore);
    expect(await interactionsOf(alice)).toEqual([]);
  });

  it('owners/admins turn it off: calls are refused (403, no provider call, nothing held); a plain member cannot change it', async () => {
    const alice = await aiUser(2_000_000);
    const bob = await aiUser(2_000_000);
    const carol = await aiUser(0);
    const chat = await group(alice, [bob, carol]);
    await asUser(alice, (tx) => tx`select public.set_chat_member_role(${chat}, ${carol}, 'admin')`);

    // A plain member cannot turn it off.
    const refused = await clientAs(bob).rpc('set_chat_assistant', { p_chat_id: chat, p_enabled: false });
    expect(refused.error?.code).toBe('42501');

    // An admin can; every member reads the setting.
    const off = await clientAs(carol).rpc('set_chat_assistant', { p_chat_id: chat, p_enabled: false });
    expect(off.error).toBeNull();
    expect(off.data).toMatchObject({ chat_id: chat, assistant_enabled: false, updated_by: carol });
    const seen = await clientAs(bob).from('chat_ai_settings').select('assistant_enabled').eq('chat_id', chat).single();
    expect(seen.data).toEqual({ assistant_enabled: false });

    const before = await wallet(bob);
    const res = await (await caller(stack.fns, bob)).post({ chat_id: chat, prompt: '@assistant hi', stream: false });
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ error: 'forbidden' });
    expect(stack.openai.requests).toHaveLength(0);
    expect(await interactionsOf(bob)).toEqual([]);
    expect(await wallet(bob)).toEqual(before);

    // The owner turns it back on.
    expect((await clientAs(alice).rpc('set_chat_assistant', { p_chat_id: chat, p_enabled: true })).error).toBeNull();
    const again = await (await caller(stack.fns, bob)).post({ chat_id: chat, prompt: '@assistant hi', stream: false });
    expect(again.status).toBe(200);
  });

  it('outsiders neither read nor change the setting; assistant chats cannot turn it off', async () => {
    const alice = await aiUser(0);
    const bob = await aiUser(0);
    const eve = await aiUser(0);
    const chat = await group(alice, [bob]);
    expect((await clientAs(alice).rpc('set_chat_assistant', { p_chat_id: chat, p_enabled: false })).error).toBeNull();
    const eveSets = await clientAs(eve).rpc('set_chat_assistant', { p_chat_id: chat, p_enabled: true });
    expect(eveSets.error?.code).toBe('PT404');
    expect((await clientAs(eve).from('chat_ai_settings').select('*').eq('chat_id', chat)).data).toEqual([]);
    expect((await clientAs(eve).from('chat_ai_settings').insert({ chat_id: chat, assistant_enabled: true })).error).not.toBeNull();

    const [a] = await asUser(alice, (tx) => tx`select id from public.create_assistant_chat(null)`);
    const res = await clientAs(alice).rpc('set_chat_assistant', { p_chat_id: a!.id, p_enabled: false });
    expect(res.error?.code).toBe('22023');
  });

  it('in a direct chat either member may turn it off', async () => {
    const alice = await aiUser(2_000_000);
    const bob = await aiUser(0);
    const direct = await clientAs(alice).rpc('get_or_create_direct_chat', { p_user_id: bob });
    expect(direct.error).toBeNull();
    const chatId = (direct.data as { id: string }).id;
    expect((await clientAs(bob).rpc('set_chat_assistant', { p_chat_id: chatId, p_enabled: false })).error).toBeNull();
    const res = await (await caller(stack.fns, alice)).post({ chat_id: chatId, prompt: 'hi', stream: false });
    expect(res.status).toBe(403);
  });
});
