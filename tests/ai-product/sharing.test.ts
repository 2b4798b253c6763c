/**
 * Shared and featured conversations (issue 18, item 4;
 * 20261202120400_shared_conversations.sql) through supabase-js against the
 * local stack (PostgREST, RLS): a frozen snapshot anon can read and nothing
 * else; unpublish removes it at once; listing, search, de-duplicated views,
 * likes; admin feature / take down / restore, audited; a taken-down
 * conversation cannot be re-published by its owner without an admin.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { anonClient, clientAs } from '../helpers/client.js';
import { asUser, closeDb, createUser, owner } from '../helpers/db.js';
import { expectRefused, ok } from '../helpers/world.js';

afterAll(closeDb);

/** An assistant chat of `userId` holding a prompt and an answer (as ai-chat stores them), plus a deleted message. */
async function conversation(userId: string, prompt: string, answer: string): Promise<string> {
  const [c] = await asUser(userId, (tx) => tx`select id from public.create_assistant_chat(${'Private title ' + randomUUID().slice(0, 4)})`);
  const chat = c!.id as string;
  const [p] = await owner()`
    insert into public.messages (chat_id, sender_id, kind, content, metadata)
    values (${chat}, ${userId}, 'text', ${prompt}, '{"ai_prompt": true}') returning id`;
  await owner()`
    insert into public.messages (chat_id, sender_id, kind, content, reply_to_id, metadata, created_at)
    values (${chat}, null, 'ai', ${answer}, ${p!.id}, '{"model": "gpt-6-luna"}', clock_timestamp())`;
  await owner()`
    insert into public.messages (chat_id, sender_id, kind, content, deleted_at, created_at)
    values (${chat}, ${userId}, 'text', '', now(), clock_timestamp())`;
  return chat;
}

const cat = () => `cat-${randomUUID().slice(0, 8)}`;

describe('publishing a snapshot', () => {
  it('anon reads the frozen snapshot and nothing else; later messages are not in it', async () => {
    const author = await createUser({ display_name: 'Ada Author' });
    const chat = await conversation(author, 'How do I boil an egg?', 'Put it in boiling water for 8 minutes.');
    const category = cat();
    const me = clientAs(author);
    const pub = ok(await me.rpc('publish_conversation', { p_chat_id: chat, p_title: ' Boiling eggs ', p_category: category, p_tags: ['cooking', 'eggs', 'eggs'] }));
    expect(pub).toMatchObject({ title: 'Boiling eggs', category, tags: ['cooking', 'eggs'], status: 'published', author_name: 'Ada Author', message_count: 2 });
    expect(pub.messages).toEqual([
      { role: 'user', content: 'How do I boil an egg?', created_at: expect.any(String) },
      { role: 'assistant', content: 'Put it in boiling water for 8 minutes.', created_at: expect.any(String) },
    ]);

    // Frozen: a later message is not in the published snapshot.
    await owner()`insert into public.messages (chat_id, sender_id, kind, content) values (${chat}, ${author}, 'text', 'a later private note')`;
    const anon = anonClient();
    const read: { messages: unknown } = ok(await anon.from('shared_conversations').select('id, title, messages, author_id, author_name').eq('id', pub.id).single());
    expect(read.messages).toHaveLength(2);
    expect(JSON.stringify(read)).not.toContain('a later private note');
    expect(JSON.stringify(read)).not.toContain(chat);

    // Anon reads nothing of the source: not the chat, its messages, the likes or the views, and no write.
    expectRefused(await anon.from('chats').select('id').eq('id', chat), 401, '42501');
    expectRefused(await anon.from('messages').select('id').eq('chat_id', chat), 401, '42501');
    expectRefused(await anon.from('shared_conversation_views').select('*'), 401, '42501');
    expectRefused(await anon.from('shared_conversation_likes').select('*'), 401, '42501');
    expectRefused(await anon.rpc('publish_conversation', { p_chat_id: chat, p_title: 'x', p_category: category }), 401, '42501');
    expect((await anon.from('shared_conversations').update({ title: 'defaced' }).eq('id', pub.id).select()).data ?? []).toEqual([]);
  });

  it('only the owner of an assistant chat publishes it; bad titles, categories and tags are refused', async () => {
    const author = await createUser();
    const other = await createUser();
    const chat = await conversation(author, 'q', 'a');
    expectRefused(await clientAs(other).rpc('publish_conversation', { p_chat_id: chat, p_title: 'Mine now', p_category: 'misc' }), 404, 'PT404');
    const me = clientAs(author);
    expectRefused(await me.rpc('publish_conversation', { p_chat_id: chat, p_title: '  ', p_category: 'misc' }), 400, '22023');
    expectRefused(await me.rpc('publish_conversation', { p_chat_id: chat, p_title: 'ok', p_category: 'Not A Slug' }), 400, '22023');
    expectRefused(await me.rpc('publish_conversation', { p_chat_id: chat, p_title: 'ok', p_category: 'misc', p_tags: ['<script>'] }), 400, '22023');
  });

  it('unpublish removes it from every reader at once; the author still sees it and may publish again (same id)', async () => {
    const author = await createUser();
    const chat = await conversation(author, 'q1', 'a1');
    const me = clientAs(author);
    const pub = ok(await me.rpc('publish_conversation', { p_chat_id: chat, p_title: 'Temp', p_category: cat() }));
    ok(await me.rpc('unpublish_conversation', { p_shared_id: pub.id }));
    expect(ok(await anonClient().from('shared_conversations').select('id').eq('id', pub.id))).toEqual([]);
    expect(ok(await clientAs(await createUser()).from('shared_conversations').select('id').eq('id', pub.id))).toEqual([]);
    expectRefused(await anonClient().rpc('view_shared_conversation', { p_shared_id: pub.id, p_viewer_id: randomUUID() }), 404, 'PT404');
    expect(ok(await me.from('shared_conversations').select('status').eq('id', pub.id).single())).toEqual({ status: 'unpublished' });
    // Someone else cannot unpublish it.
    const again = ok(await me.rpc('publish_conversation', { p_chat_id: chat, p_title: 'Back', p_category: pub.category }));
    expect(again.id).toBe(pub.id);
    expectRefused(await clientAs(await createUser()).rpc('unpublish_conversation', { p_shared_id: pub.id }), 404, 'PT404');
  });
});

describe('listing, search, views and likes', () => {
  it('lists by category and order; searches the text; counts each viewer once; likes by signed-in users', async () => {
    const a = await createUser();
    const b = await createUser();
    const category = cat();
    const word = `zyx${randomUUID().slice(0, 6)}`;
    const first = ok(await clientAs(a).rpc('publish_conversation', { p_chat_id: await conversation(a, `Tell me about ${word}`, 'It is a word.'), p_title: 'First', p_category: category }));
    const second = ok(await clientAs(b).rpc('publish_conversation', { p_chat_id: await conversation(b, 'Something else', 'Indeed.'), p_title: 'Second', p_category: category }));
    const anon = anonClient();

    const newest = ok(await anon.from('shared_conversations').select('id').eq('category', category).order('published_at', { ascending: false }));
    expect(newest.map((r) => r.id)).toEqual([second.id, first.id]);

    const found = ok(await anon.from('shared_conversations').select('id').textSearch('search', word, { config: 'simple', type: 'websearch' }));
    expect(found.map((r) => r.id)).toEqual([first.id]);

    // Views: one per viewer (anon by its viewer id; a signed-in user by account).
    const viewer = randomUUID();
    for (let i = 0; i < 3; i++) ok(await anon.rpc('view_shared_conversation', { p_shared_id: first.id, p_viewer_id: viewer }));
    ok(await anon.rpc('view_shared_conversation', { p_shared_id: first.id, p_viewer_id: randomUUID() }));
    const signedIn = clientAs(b);
    ok(await signedIn.rpc('view_shared_conversation', { p_shared_id: first.id, p_viewer_id: randomUUID() }));
    const last = ok(await signedIn.rpc('view_shared_conversation', { p_shared_id: first.id, p_viewer_id: randomUUID() }));
    expect(last.view_count).toBe(3);
    const mostViewed = ok(await anon.from('shared_conversations').select('id, view_count').eq('category', category).order('view_count', { ascending: false }));
    expect(mostViewed[0]).toEqual({ id: first.id, view_count: 3 });

    // Likes: signed-in users once each; anon cannot; nobody likes for someone else.
    ok(await clientAs(a).from('shared_conversation_likes').insert({ shared_id: second.id, user_id: a }).select());
    expectRefused(await clientAs(a).from('shared_conversation_likes').insert({ shared_id: second.id, user_id: a }).select(), 409, '23505');
    expectRefused(await clientAs(a).from('shared_conversation_likes').insert({ shared_id: second.id, user_id: b }).select(), 403, '42501');
    expectRefused(await anon.from('shared_conversation_likes').insert({ shared_id: second.id, user_id: a }).select(), 401, '42501');
    const mostLiked = ok(await anon.from('shared_conversations').select('id, like_count').eq('category', category).order('like_count', { ascending: false }));
    expect(mostLiked[0]).toEqual({ id: second.id, like_count: 1 });
    ok(await clientAs(a).from('shared_conversation_likes').delete().eq('shared_id', second.id).select());
    expect(ok(await anon.from('shared_conversations').select('like_count').eq('id', second.id).single())).toEqual({ like_count: 0 });
  });
});

describe('admin moderation', () => {
  it('feature / take down / restore are audited; a taken-down conversation cannot be re-published by its owner until restored', async () => {
    const admin = await createUser({ is_admin: true });
    const author = await createUser();
    const chat = await conversation(author, 'q', 'a');
    const category = cat();
    const me = clientAs(author);
    const pub = ok(await me.rpc('publish_conversation', { p_chat_id: chat, p_title: 'Moderate me', p_category: category }));
    const adm = clientAs(admin);

    // Not an admin: refused.
    expectRefused(await me.rpc('admin_feature_conversation', { p_shared_id: pub.id, p_featured: true, p_reason: 'self promotion' }), 403, '42501');
    expectRefused(await me.rpc('admin_take_down_conversation', { p_shared_id: pub.id, p_taken_down: false, p_reason: 'restore myself' }), 403, '42501');

    const featured = ok(await adm.rpc('admin_feature_conversation', { p_shared_id: pub.id, p_featured: true, p_reason: 'great example' }));
    expect(featured.featured_at).not.toBeNull();
    expect(ok(await anonClient().from('shared_conversations').select('id').not('featured_at', 'is', null).eq('category', category))).toEqual([{ id: pub.id }]);

    ok(await adm.rpc('admin_take_down_conversation', { p_shared_id: pub.id, p_taken_down: true, p_reason: 'copyright complaint' }));
    expect(ok(await anonClient().from('shared_conversations').select('id').eq('id', pub.id))).toEqual([]);
    expectRefused(await me.rpc('publish_conversation', { p_chat_id: chat, p_title: 'Again', p_category: category }), 403, '42501');
    // Unpublishing does not lift it either.
    expect(ok(await me.rpc('unpublish_conversation', { p_shared_id: pub.id })).status).toBe('taken_down');
    expectRefused(await me.rpc('publish_conversation', { p_chat_id: chat, p_title: 'Again', p_category: category }), 403, '42501');

    ok(await adm.rpc('admin_take_down_conversation', { p_shared_id: pub.id, p_taken_down: false, p_reason: 'complaint withdrawn' }));
    expect(ok(await me.rpc('publish_conversation', { p_chat_id: chat, p_title: 'Again', p_category: category })).status).toBe('published');

    const audit = await owner()`select actor, action, reason from public.admin_audit_log where target_id = ${pub.id} order by id`;
    expect(audit).toEqual([
      { actor: admin, action: 'shared.feature', reason: 'great example' },
      { actor: admin, action: 'shared.take_down', reason: 'copyright complaint' },
      { actor: admin, action: 'shared.restore', reason: 'complaint withdrawn' },
    ]);
  });
});
