/**
 * messages and the message RPCs through supabase-js, as each actor
 * (20261122080600_messages.sql): send_message, get_chat_history,
 * mark_chat_read, get_inbox, and direct inserts and updates under RLS and
 * column privileges (a sender edits `content` or sets `deleted_at`, nothing
 * else; nobody hard-deletes).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { anonClient, clientAs } from '../helpers/client.js';
import { closeDb, owner } from '../helpers/db.js';
import { buildWorld, expectNoPrivilege, expectNotFound, expectRefused, freshUsers, ok, randomUUID, recordMedia, rest, type World } from '../helpers/world.js';

afterAll(closeDb);

let w: World;
beforeAll(async () => {
  w = await buildWorld();
});

const msg = async (id: string) =>
  (await owner()`select chat_id, sender_id, kind::text, content, edited_at, deleted_at, metadata from public.messages where id = ${id}`)[0];
const countIn = async (chat: string) => (await owner()`select count(*)::int as n from public.messages where chat_id = ${chat}`)[0]!.n as number;

describe('messages: read', () => {
  it('members read their chats\' messages; an outsider reads none by id, chat, sender, count, CSV or text search', async () => {
    expect(ok(await w.as.bob.from('messages').select('id').eq('chat_id', w.direct)).map((m) => m.id).sort()).toEqual([w.directMsg, w.replyMsg].sort());
    expect(ok(await w.as.carol.from('messages').select('id').in('id', [w.directMsg, w.groupMsg]))).toEqual([{ id: w.groupMsg }]);
    const d = w.as.dave;
    const counted = await d.from('messages').select('*', { count: 'exact' }).eq('sender_id', w.alice);
    expect([ok(counted), counted.count]).toEqual([[], 0]);
    expect(ok(await d.from('messages').select('id').ilike('content', '%hello%'))).toEqual([]);
    expect(ok(await d.from('messages').select('id').eq('id', w.directMsg))).toEqual([]);
    expect((ok(await d.from('messages').select('id,content').eq('chat_id', w.direct).csv()) as unknown as string).trim()).toBe('');
    expectNoPrivilege(await anonClient().from('messages').select('id'), true);
  });

  it('embedding replies, senders and accounts exposes nothing beyond the chat', async () => {
    const rows = ok(await w.as.bob.from('messages')
      .select('id, replies:messages!reply_to_id(id, content), sender:users!sender_id(id, user_accounts(email))').eq('id', w.directMsg));
    expect(rows).toEqual([{ id: w.directMsg, replies: [{ id: w.replyMsg, content: 'hi alice' }], sender: { id: w.alice, user_accounts: null } }]);
    const outsider = ok(await w.as.dave.from('users').select('id, messages!sender_id(id)').eq('id', w.alice));
    expect(outsider).toEqual([{ id: w.alice, messages: [] }]);
    const alices = ok(await w.as.bob.from('messages').select('id, sender:users!sender_id(user_accounts(email))').eq('id', w.directMsg));
    expect(alices).toEqual([{ id: w.directMsg, sender: { user_accounts: null } }]);
    // Ordering by a column of another chat's message gives no signal to an outsider.
    expect(ok(await w.as.dave.from('messages').select('id').order('content').limit(1).eq('chat_id', w.group))).toEqual([]);
  });

  it('get_chat_history: members page through history; an outsider gets no rows; anon 401', async () => {
    const page = ok(await w.as.bob.rpc('get_chat_history', { p_chat_id: w.direct, p_limit: 1 }));
    expect(page.map((m) => m.id)).toEqual([w.replyMsg]);
    const next = ok(await w.as.bob.rpc('get_chat_history', { p_chat_id: w.direct, p_before_created_at: page[0]!.created_at, p_before_id: page[0]!.id }));
    expect(next.map((m) => m.id)).toEqual([w.directMsg]);
    expect(ok(await w.as.dave.rpc('get_chat_history', { p_chat_id: w.direct }))).toEqual([]);
    expect(ok(await w.as.carol.rpc('get_chat_history', { p_chat_id: w.direct, p_limit: 100000 }))).toEqual([]);
    expectRefused(await anonClient().rpc('get_chat_history', { p_chat_id: w.direct }), 401, '42501');
    expectRefused(await w.as.bob.rpc('get_chat_history', { p_chat_id: w.direct, p_before_created_at: 'yesterday-ish' }), 400, '22007');
  });

  it('get_inbox: the caller\'s chats only, with unread counts; anon 401', async () => {
    const inbox = ok(await w.as.bob.rpc('get_inbox'));
    expect(inbox.map((r) => r.chat_id).sort()).toEqual([w.direct, w.group].sort());
    expect(inbox.find((r) => r.chat_id === w.direct)).toMatchObject({ kind: 'direct', peer_id: w.alice });
    expect(ok(await w.as.dave.rpc('get_inbox'))).toEqual([]);
    expectRefused(await anonClient().rpc('get_inbox'), 401, '42501');
    expectRefused(await w.as.bob.rpc('get_inbox', { p_limit: 'ten' } as never), 400, '22P02');
  });
});

describe('messages: send', () => {
  it('send_message: a member sends once per client_id (a retry returns the same message)', async () => {
    const key = randomUUID();
    const m1 = ok(await w.as.carol.rpc('send_message', { p_chat_id: w.group, p_content: 'once', p_client_id: key }));
    const m2 = ok(await w.as.carol.rpc('send_message', { p_chat_id: w.group, p_content: 'twice', p_client_id: key }));
    expect(m2.id).toBe(m1.id);
    expect(await msg(m1.id)).toMatchObject({ sender_id: w.carol, content: 'once' });
  });

  it('send_message: an outsider is refused with 403 (42501) whether the chat exists or not; nothing stored', async () => {
    const before = await countIn(w.direct);
    const real = await w.as.dave.rpc('send_message', { p_chat_id: w.direct, p_content: 'let me in' });
    const fake = await w.as.dave.rpc('send_message', { p_chat_id: randomUUID(), p_content: 'let me in' });
    expectRefused(real, 403, '42501');
    expect([fake.status, fake.error?.code]).toEqual([real.status, real.error!.code]);
    // Quoting a message of the chat, or naming media, changes nothing in the answer.
    const quoting = await w.as.dave.rpc('send_message', { p_chat_id: w.direct, p_content: 'q', p_reply_to_id: w.directMsg });
    expect([quoting.status, quoting.error?.code]).toEqual([403, '42501']);
    expect(await countIn(w.direct)).toBe(before);
  });

  it('send_message: kind ai/system is 403; a reply into another chat 400; blocked in a direct chat 403; anon 401', async () => {
    expectRefused(await w.as.alice.rpc('send_message', { p_chat_id: w.group, p_content: 'I am the AI', p_kind: 'ai' }), 403, '42501');
    expectRefused(await w.as.alice.rpc('send_message', { p_chat_id: w.group, p_content: 'sys', p_kind: 'system' }), 403, '42501');
    expectRefused(await w.as.alice.rpc('send_message', { p_chat_id: w.group, p_content: 'r', p_reply_to_id: w.directMsg }), 400, '22023');
    expectRefused(await anonClient().rpc('send_message', { p_chat_id: w.group, p_content: 'anon' }), 401, '42501');
    const [x, y] = await freshUsers(2);
    const chat = ok(await clientAs(x!).rpc('get_or_create_direct_chat', { p_user_id: y! })).id;
    ok(await clientAs(y!).rpc('block_user', { p_user_id: x! }));
    expectRefused(await clientAs(x!).rpc('send_message', { p_chat_id: chat, p_content: 'still there?' }), 403, '42501');
    expect(await countIn(chat)).toBe(0);
  });

  it('send_message: someone else\'s media is 403; an avatar as a chat image 400', async () => {
    const theirs = await recordMedia(w.bob, 'chat_image');
    const avatar = await recordMedia(w.alice, 'avatar');
    expectRefused(await w.as.alice.rpc('send_message', { p_chat_id: w.group, p_content: '', p_kind: 'image', p_media_id: theirs.id }), 403, '42501');
    expectRefused(await w.as.alice.rpc('send_message', { p_chat_id: w.group, p_content: '', p_kind: 'image', p_media_id: avatar.id }), 400, '22023');
  });

  it('send_message: wrong argument types 400, extra arguments (p_sender_id, p_metadata) 404', async () => {
    expectRefused(await w.as.alice.rpc('send_message', { p_chat_id: 42, p_content: 'x' } as never), 400, '22P02');
    expectRefused(await w.as.alice.rpc('send_message', { p_chat_id: w.group, p_content: 'x', p_kind: 'html' } as never), 400, '22P02');
    expectRefused(await w.as.alice.rpc('send_message', { p_chat_id: w.group, p_content: 'x', p_forwarded: 'maybe' } as never), 400, '22P02');
    expectRefused(await w.as.alice.rpc('send_message', { p_chat_id: w.group, p_content: 'x', p_sender_id: w.bob } as never), 404, 'PGRST202');
    expectRefused(await w.as.alice.rpc('send_message', { p_chat_id: w.group, p_content: 'x', p_metadata: { moderated: true } } as never), 404, 'PGRST202');
    expectRefused(await w.as.alice.rpc('send_message', { p_content: 'x' } as never), 404, 'PGRST202');
  });

  it('direct insert: a member inserts as themselves with return=representation; as someone else, as the AI, or into a foreign chat 403', async () => {
    const row = ok(await w.as.carol.from('messages').insert({ chat_id: w.group, content: 'direct insert' }).select().single());
    expect(row).toMatchObject({ sender_id: w.carol, kind: 'text', content: 'direct insert' });
    const before = await countIn(w.group);
    expectRefused(await w.as.carol.from('messages').insert({ chat_id: w.group, content: 'as alice', sender_id: w.alice }).select(), 403, '42501');
    expectRefused(await w.as.carol.from('messages').insert({ chat_id: w.group, content: 'as AI', kind: 'ai' }).select(), 403, '42501');
    expectRefused(await w.as.carol.from('messages').insert({ chat_id: w.group, content: 'no sender', sender_id: null }).select(), 403, '42501');
    expectRefused(await w.as.carol.from('messages').insert({ chat_id: w.direct, content: 'foreign' }).select(), 403, '42501');
    expectNoPrivilege(await w.as.carol.from('messages').insert({ chat_id: w.group, content: 'meta', metadata: { moderated: true } }));
    expectNoPrivilege(await w.as.carol.from('messages').insert({ chat_id: w.group, content: 'old', created_at: '2000-01-01T00:00:00Z' }));
    expectNoPrivilege(await w.as.carol.from('messages').insert({ id: randomUUID(), chat_id: w.group, content: 'chosen id' }));
    expect(await countIn(w.group)).toBe(before);
  });

  it('upsert onConflict id over someone else\'s message is 403 and changes nothing', async () => {
    const before = await msg(w.groupMsg);
    expectNoPrivilege(await w.as.carol.from('messages').upsert({ id: w.groupMsg, chat_id: w.group, content: 'hijack' }, { onConflict: 'id' }));
    const viaClientId = await w.as.carol.from('messages')
      .upsert({ chat_id: w.group, content: 'hijack', sender_id: w.alice, client_id: 'x' }, { onConflict: 'sender_id,client_id' });
    expect(viaClientId.status).toBeGreaterThanOrEqual(400);
    expect(viaClientId.status).toBeLessThan(500);
    expect(await msg(w.groupMsg)).toEqual(before);
  });
});

describe('messages: edit and delete', () => {
  it('the sender edits content (edited_at set) and soft-deletes (content cleared)', async () => {
    const m = ok(await w.as.bob.rpc('send_message', { p_chat_id: w.group, p_content: 'typo' }));
    expect(ok(await w.as.bob.from('messages').update({ content: 'fixed' }).eq('id', m.id).select('content, edited_at'))[0])
      .toMatchObject({ content: 'fixed', edited_at: expect.any(String) });
    ok(await w.as.bob.from('messages').update({ deleted_at: '2000-01-01T00:00:00Z' }).eq('id', m.id));
    const after = await msg(m.id);
    expect(after).toMatchObject({ content: '' });
    expect(Math.abs((after!.deleted_at as Date).getTime() - Date.now())).toBeLessThan(60_000);
    expectRefused(await w.as.bob.from('messages').update({ content: 'undead', deleted_at: null }).eq('id', m.id), 400, '22023');
  });

  it('another member or an outsider edits or deletes nothing; a bulk update reaches only the caller\'s own messages', async () => {
    const before = await msg(w.groupMsg);
    expect(ok(await w.as.carol.from('messages').update({ content: 'forged' }).eq('id', w.groupMsg).select())).toEqual([]);
    expect(ok(await w.as.dave.from('messages').update({ deleted_at: new Date().toISOString() }).eq('id', w.groupMsg).select())).toEqual([]);
    const [u] = await freshUsers(1);
    const res = await rest(u!, '/messages', { method: 'PATCH', body: JSON.stringify({ content: 'bulk' }), headers: { prefer: 'return=representation' } });
    if (res.status < 300) expect(res.body).toEqual([]);
    else expect(res.status).toBeLessThan(500);
    expect(await msg(w.groupMsg)).toEqual(before);
  });

  it('chat_id, sender_id, kind, metadata, created_at are not writable (403); hard delete is 403 for everyone', async () => {
    const before = await msg(w.groupMsg);
    const a = w.as.alice;
    expectNoPrivilege(await a.from('messages').update({ chat_id: w.direct }).eq('id', w.groupMsg));
    expectNoPrivilege(await a.from('messages').update({ sender_id: w.bob }).eq('id', w.groupMsg));
    expectNoPrivilege(await a.from('messages').update({ kind: 'ai' }).eq('id', w.groupMsg));
    expectNoPrivilege(await a.from('messages').update({ metadata: { moderated: true } }).eq('id', w.groupMsg));
    expectNoPrivilege(await a.from('messages').update({ created_at: '2999-01-01T00:00:00Z' }).eq('id', w.groupMsg));
    expectNoPrivilege(await a.from('messages').delete().eq('id', w.groupMsg));
    expectNoPrivilege(await a.from('messages').delete().eq('chat_id', w.group));
    expect(await msg(w.groupMsg)).toEqual(before);
  });
});

describe('mark_chat_read', () => {
  it('a member marks read; an outsider and a message of another chat are "not found"; anon 401', async () => {
    const row = ok(await w.as.alice.rpc('mark_chat_read', { p_chat_id: w.direct }));
    expect(row).toMatchObject({ chat_id: w.direct, user_id: w.alice, last_read_message_id: w.replyMsg });
    expectNotFound(await w.as.dave.rpc('mark_chat_read', { p_chat_id: w.direct }));
    expectNotFound(await w.as.carol.rpc('mark_chat_read', { p_chat_id: w.group, p_message_id: w.directMsg }));
    expectRefused(await anonClient().rpc('mark_chat_read', { p_chat_id: w.direct }), 401, '42501');
    const dave = (await owner()`select count(*)::int as n from public.chat_members where user_id = ${w.dave}`)[0]!.n;
    expect(dave).toBe(0);
  });
});
