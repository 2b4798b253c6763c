/**
 * Messaging features of issue 16 through supabase-js, as each actor (member,
 * non-member, removed member, blocked user, suspended user; docs/messaging.md):
 * reactions (20261202100000_reactions.sql), message search
 * (20261202100100_message_search.sql), delivery status and chat management
 * (20261202100200_member_state.sql), mentions (20261202100300_mentions.sql)
 * and the inbox (20261202100400_inbox.sql).
 */
import { DeliveredPayload, DeliveryStatus, MentionNotificationPayload, ReactionPayload, ReactionSummary } from '@chat-with-me/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { anonClient, clientAs, type Client } from '../helpers/client.js';
import { broadcastsOn, closeDb, createUser, owner } from '../helpers/db.js';
import { expectNotFound, expectRefused, ok, randomUUID } from '../helpers/world.js';

afterAll(closeDb);

const chatTopic = (id: string) => `chat:${id}`;

let alice: string, bob: string, carol: string, dave: string, eve: string, sam: string;
let as: Record<'alice' | 'bob' | 'carol' | 'dave' | 'eve' | 'sam', Client>;
/** alice+bob direct; alice (owner), bob, carol, eve, sam group; alice blocks eve; sam is suspended after setup. */
let direct: string, group: string;
let dm: string, gm: string;
const tag = randomUUID().slice(0, 8);

const send = async (c: Client, chat: string, content: string, extra: Record<string, unknown> = {}) =>
  ok(await c.rpc('send_message', { p_chat_id: chat, p_content: content, ...extra }));

beforeAll(async () => {
  const u = (name: string) => createUser({ display_name: `${name} ${tag}`, username: `${name}_${tag}` });
  [alice, bob, carol, dave, eve, sam] = await Promise.all([u('alice'), u('bob'), u('carol'), u('dave'), u('eve'), u('sam')]);
  as = { alice: clientAs(alice), bob: clientAs(bob), carol: clientAs(carol), dave: clientAs(dave), eve: clientAs(eve), sam: clientAs(sam) };
  const req = ok(await as.alice.rpc('send_friend_request', { p_user_id: bob }));
  ok(await as.bob.rpc('accept_friend_request', { p_request_id: req.id }));
  direct = ok(await as.alice.rpc('get_or_create_direct_chat', { p_user_id: bob })).id;
  group = ok(await as.alice.rpc('create_group_chat', { p_title: 'Messaging', p_member_ids: [bob, carol, eve, sam] })).id;
  dm = (await send(as.alice, direct, 'hello bob, the zebra crossing')).id;
  gm = (await send(as.alice, group, 'group hello about quokkas')).id;
  ok(await as.alice.rpc('block_user', { p_user_id: eve }));
  await owner()`update public.user_accounts set suspended_at = now() where user_id = ${sam}`;
});

describe('reactions', () => {
  it('members add and remove reactions; history and messages carry counts and "reacted" in the same query; events on chat:<id>', async () => {
    const after = ok(await as.bob.rpc('add_reaction', { p_message_id: gm, p_emoji: '👍' }));
    expect(after).toEqual([{ emoji: '👍', count: 1, reacted: true }]);
    ok(await as.carol.rpc('add_reaction', { p_message_id: gm, p_emoji: '👍' }));
    ok(await as.carol.rpc('add_reaction', { p_message_id: gm, p_emoji: '🎉' }));
    // Idempotent.
    ok(await as.carol.rpc('add_reaction', { p_message_id: gm, p_emoji: '🎉' }));
    const page = ok(await as.bob.rpc('get_chat_history', { p_chat_id: group }).select('id, reactions'));
    expect(page.find((m) => m.id === gm)!.reactions).toEqual([{ emoji: '👍', count: 2, reacted: true }, { emoji: '🎉', count: 1, reacted: false }]);
    const viaTable = ok(await as.carol.from('messages').select('id, reactions').eq('id', gm))[0]!;
    expect(viaTable.reactions).toEqual([{ emoji: '👍', count: 2, reacted: true }, { emoji: '🎉', count: 1, reacted: true }]);

    expect(ok(await as.carol.rpc('remove_reaction', { p_message_id: gm, p_emoji: '🎉' }))).toEqual([{ emoji: '👍', count: 2, reacted: true }]);
    const events = (await broadcastsOn(chatTopic(group))).filter((b) => b.event === 'reaction' && b.payload.message_id === gm);
    expect(events.map((e) => [e.payload.user_id, e.payload.emoji, e.payload.action])).toEqual([
      [bob, '👍', 'added'], [carol, '👍', 'added'], [carol, '🎉', 'added'], [carol, '🎉', 'removed'],
    ]);
    expect(events.every((e) => e.private)).toBe(true);
    events.forEach((e) => ReactionPayload.parse(e.payload));
    ReactionSummary.parse(viaTable.reactions);
  });

  it('an outsider, anon, a suspended member and a blocked peer are refused; nothing stored; outsiders read no reactions', async () => {
    const count = async () => (await owner()`select count(*)::int as n from public.message_reactions where message_id in (${gm}, ${dm})`)[0]!.n;
    const before = await count();
    expectNotFound(await as.dave.rpc('add_reaction', { p_message_id: gm, p_emoji: '😈' }));
    expectNotFound(await as.carol.rpc('add_reaction', { p_message_id: dm, p_emoji: '😈' }));
    expectNotFound(await as.dave.rpc('add_reaction', { p_message_id: randomUUID(), p_emoji: '😈' }));
    expectRefused(await anonClient().rpc('add_reaction', { p_message_id: gm, p_emoji: '😈' }), 401, '42501');
    expectRefused(await as.sam.rpc('add_reaction', { p_message_id: gm, p_emoji: '😈' }), 403, '42501');
    expectRefused(await as.bob.rpc('add_reaction', { p_message_id: gm, p_emoji: 'two words' }), 400, '22023');
    expectRefused(await as.bob.rpc('add_reaction', { p_message_id: gm, p_emoji: '' }), 400, '22023');
    // Nobody writes the table directly.
    expectRefused(await as.bob.from('message_reactions').insert({ message_id: gm, user_id: bob, emoji: '😈', chat_id: group } as never), [401, 403], '42501');
    expect(await count()).toBe(before);
    expect(ok(await as.dave.from('message_reactions').select('emoji').eq('message_id', gm))).toEqual([]);
    expect(ok(await as.sam.from('message_reactions').select('emoji').eq('message_id', gm))).toEqual([]);
    // A blocked direct chat: bob blocks alice's ... here alice blocks a direct peer.
    const [x, y] = await Promise.all([createUser(), createUser()]);
    const cx = clientAs(x);
    const req = ok(await cx.rpc('send_friend_request', { p_user_id: y }));
    ok(await clientAs(y).rpc('accept_friend_request', { p_request_id: req.id }));
    const d = ok(await cx.rpc('get_or_create_direct_chat', { p_user_id: y })).id;
    const m = (await send(cx, d, 'before the block')).id;
    ok(await cx.rpc('block_user', { p_user_id: y }));
    expectRefused(await clientAs(y).rpc('add_reaction', { p_message_id: m, p_emoji: '👍' }), 403, '42501');
  });

  it('a removed member can no longer react or read reactions', async () => {
    const [x] = await Promise.all([createUser()]);
    ok(await as.alice.rpc('add_chat_member', { p_chat_id: group, p_user_id: x }));
    const cx = clientAs(x);
    ok(await cx.rpc('add_reaction', { p_message_id: gm, p_emoji: '👀' }));
    ok(await as.alice.rpc('remove_chat_member', { p_chat_id: group, p_user_id: x }));
    expectNotFound(await cx.rpc('remove_reaction', { p_message_id: gm, p_emoji: '👀' }));
    expect(ok(await cx.from('message_reactions').select('emoji').eq('message_id', gm))).toEqual([]);
  });

  it('the distinct-emoji limit holds when members react at once; one emoji is counted once per user under a race', async () => {
    const m = (await send(as.alice, group, 'react to me')).id;
    await owner()`update public.admin_config set value = '3' where key = 'messages.max_distinct_reactions'`;
    try {
      const emoji = ['🍎', '🍐', '🍊', '🍋', '🍌', '🍉'];
      const results = await Promise.all(emoji.map((e, i) => [as.alice, as.bob, as.carol][i % 3]!.rpc('add_reaction', { p_message_id: m, p_emoji: e })));
      expect(results.filter((r) => r.error === null)).toHaveLength(3);
      for (const r of results.filter((r) => r.error !== null)) expectRefused(r, 400, '22023');
      // Reacting with an emoji already there still works at the limit.
      const present = (await owner()`select emoji from public.message_reactions where message_id = ${m} limit 1`)[0]!.emoji as string;
      const same = await Promise.all([as.alice, as.bob, as.carol, as.alice, as.bob].map((c) => c.rpc('add_reaction', { p_message_id: m, p_emoji: present })));
      same.forEach((r) => ok(r));
      const rows = await owner()`select emoji, count(*)::int as n from public.message_reactions where message_id = ${m} group by emoji`;
      expect(rows).toHaveLength(3);
      expect(rows.find((r) => r.emoji === present)!.n).toBe(3);
    } finally {
      await owner()`update public.admin_config set value = '20' where key = 'messages.max_distinct_reactions'`;
    }
  });

  it('no reaction to a deleted message', async () => {
    const m = (await send(as.alice, group, 'soon gone')).id;
    ok(await as.alice.from('messages').update({ deleted_at: new Date().toISOString() }).eq('id', m));
    expectRefused(await as.bob.rpc('add_reaction', { p_message_id: m, p_emoji: '👍' }), 400, '22023');
  });
});

describe('message search', () => {
  it('finds words in any language, prefixes, phrases and exclusions, ranked; only in the caller\'s chats', async () => {
    const c = group;
    const ru = (await send(as.bob, c, `Привет мир ${tag} встреча завтра`)).id;
    const ja = (await send(as.bob, c, `東京 ${tag} meeting`)).id;
    const plain = (await send(as.carol, c, `Running late ${tag}, meeting moved`)).id;
    const r1 = ok(await as.alice.rpc('search_messages', { p_query: `встреча ${tag}` }));
    expect(r1.map((r) => r.id)).toEqual([ru]);
    // Prefix: "meet" finds "meeting"; "runn" finds "Running" (no English stemming needed).
    expect(ok(await as.alice.rpc('search_messages', { p_query: `meet ${tag}` })).map((r) => r.id).sort()).toEqual([ja, plain].sort());
    expect(ok(await as.alice.rpc('search_messages', { p_query: `runn ${tag}` })).map((r) => r.id)).toEqual([plain]);
    // websearch: exclusion and phrase.
    expect(ok(await as.alice.rpc('search_messages', { p_query: `meeting ${tag} -late` })).map((r) => r.id)).toEqual([ja]);
    expect(ok(await as.alice.rpc('search_messages', { p_query: `"meeting moved" ${tag}` })).map((r) => r.id)).toEqual([plain]);
    // Filters: sender and chat.
    expect(ok(await as.alice.rpc('search_messages', { p_query: `${tag}`, p_sender_id: carol })).map((r) => r.id)).toEqual([plain]);
    expect(ok(await as.alice.rpc('search_messages', { p_query: 'zebra', p_chat_id: group }))).toEqual([]);
    expect(ok(await as.alice.rpc('search_messages', { p_query: 'zebra', p_chat_id: direct })).map((r) => r.id)).toEqual([dm]);
    // Trigram where full text fails: a misspelt word.
    expect(ok(await as.alice.rpc('search_messages', { p_query: 'quokas', p_chat_id: group })).map((r) => r.id)).toContain(gm);
  });

  it('outsiders, removed members, anon and suspended users never get a message; deleted messages never match', async () => {
    expect(ok(await as.dave.rpc('search_messages', { p_query: 'quokkas' }))).toEqual([]);
    expect(ok(await as.dave.rpc('search_messages', { p_query: 'zebra', p_chat_id: direct }))).toEqual([]);
    expect(ok(await as.carol.rpc('search_messages', { p_query: 'zebra' }))).toEqual([]);
    expectRefused(await anonClient().rpc('search_messages', { p_query: 'zebra' }), 401, '42501');
    expectRefused(await as.sam.rpc('search_messages', { p_query: 'quokkas' }), 403, '42501');
    // Removed: x finds the group message while a member, nothing after removal.
    const x = await createUser();
    ok(await as.alice.rpc('add_chat_member', { p_chat_id: group, p_user_id: x }));
    expect(ok(await clientAs(x).rpc('search_messages', { p_query: 'quokkas' })).map((r) => r.id)).toContain(gm);
    ok(await as.alice.rpc('remove_chat_member', { p_chat_id: group, p_user_id: x }));
    expect(ok(await clientAs(x).rpc('search_messages', { p_query: 'quokkas' }))).toEqual([]);
    // Deleted.
    const m = (await send(as.bob, group, `ephemeral-${tag} secret`)).id;
    expect(ok(await as.carol.rpc('search_messages', { p_query: `ephemeral-${tag}` })).map((r) => r.id)).toEqual([m]);
    ok(await as.bob.from('messages').update({ deleted_at: new Date().toISOString() }).eq('id', m));
    expect(ok(await as.carol.rpc('search_messages', { p_query: `ephemeral-${tag}` }))).toEqual([]);
    // Bad queries: 400.
    expectRefused(await as.bob.rpc('search_messages', { p_query: '   ' }), 400, '22023');
    expectRefused(await as.bob.rpc('search_messages', { p_query: 'x'.repeat(201) }), 400, '22023');
    expect(ok(await as.bob.rpc('search_messages', { p_query: '!!! & | ()' }))).toEqual([]);
  });

  it('pages with the (rank, created_at, id) cursor without gaps or repeats', async () => {
    const word = `paging${tag}`;
    const ids = [];
    for (let i = 0; i < 5; i++) ids.push((await send(as.carol, group, `${word} number ${i}`)).id);
    const seen: string[] = [];
    let cursor: { p_cursor_rank?: number; p_cursor_created_at?: string; p_cursor_id?: string } = {};
    for (let i = 0; i < 4; i++) {
      const page = ok(await as.bob.rpc('search_messages', { p_query: word, p_limit: 2, ...cursor }));
      if (page.length === 0) break;
      seen.push(...page.map((r) => r.id));
      const last = page[page.length - 1]!;
      cursor = { p_cursor_rank: last.rank, p_cursor_created_at: last.created_at, p_cursor_id: last.id };
    }
    expect(seen.sort()).toEqual(ids.sort());
  });
});

describe('delivery status', () => {
  it('direct: sent → delivered (batch ack) → read, seen by the sender, with `delivered` events', async () => {
    const m1 = (await send(as.alice, direct, 'tick one')).id;
    const m2 = (await send(as.alice, direct, 'tick two')).id;
    const status = async (id: string) => ok(await as.alice.from('messages').select('id, delivery').eq('id', id))[0]!.delivery;
    expect(await status(m2)).toEqual({ status: 'sent', recipients: 1, delivered: 0, read: 0 });
    const acked = ok(await as.bob.rpc('mark_delivered', { p_message_ids: [m1, m2, gm, randomUUID()] }));
    expect(acked.find((r) => r.chat_id === direct)).toMatchObject({ message_id: m2 });
    expect(await status(m1)).toEqual({ status: 'delivered', recipients: 1, delivered: 1, read: 0 });
    expect(await status(m2)).toEqual({ status: 'delivered', recipients: 1, delivered: 1, read: 0 });
    // A second ack of the same messages moves nothing and broadcasts nothing.
    expect(ok(await as.bob.rpc('mark_delivered', { p_message_ids: [m1] }))).toEqual([]);
    ok(await as.bob.rpc('mark_chat_read', { p_chat_id: direct }));
    expect(await status(m2)).toEqual({ status: 'read', recipients: 1, delivered: 1, read: 1 });
    const events = (await broadcastsOn(chatTopic(direct))).filter((b) => b.event === 'delivered');
    expect(events.map((e) => [e.payload.user_id, e.payload.message_id])).toEqual([[bob, m2]]);
    events.forEach((e) => DeliveredPayload.parse(e.payload));
    DeliveryStatus.parse(await status(m2));
  });

  it('group: counts; acks racing a read never move a pointer back', async () => {
    const m = (await send(as.alice, group, 'count me')).id;
    const answers = await Promise.all([
      as.bob.rpc('mark_delivered', { p_message_ids: [m] }),
      as.bob.rpc('mark_chat_read', { p_chat_id: group }),
      as.carol.rpc('mark_delivered', { p_message_ids: [m] }),
      as.carol.rpc('mark_delivered', { p_message_ids: [gm] }),
    ]);
    answers.forEach((a) => ok<unknown>(a));
    const d = ok(await as.alice.rpc('get_chat_history', { p_chat_id: group, p_limit: 1 }).select('id, delivery'))[0]!;
    expect(d.id).toBe(m);
    // Recipients: bob, carol, eve, sam (eve and sam have not acknowledged).
    expect(d.delivery).toEqual({ status: 'sent', recipients: 4, delivered: 2, read: 1 });
    const carolRow = (await owner()`select last_delivered_at from public.chat_members where chat_id = ${group} and user_id = ${carol}`)[0]!;
    const mRow = (await owner()`select created_at from public.messages where id = ${m}`)[0]!;
    expect(carolRow.last_delivered_at).toEqual(mRow.created_at);
  });

  it('outsiders acknowledge nothing and read no status; anon and suspended are refused; too many ids 400', async () => {
    const m = (await send(as.alice, direct, 'not for dave')).id;
    expect(ok(await as.dave.rpc('mark_delivered', { p_message_ids: [m] }))).toEqual([]);
    expect(ok(await as.dave.from('messages').select('id, delivery').eq('id', m))).toEqual([]);
    expectRefused(await anonClient().rpc('mark_delivered', { p_message_ids: [m] }), 401, '42501');
    expectRefused(await as.sam.rpc('mark_delivered', { p_message_ids: [gm] }), 403, '42501');
    expectRefused(await as.bob.rpc('mark_delivered', { p_message_ids: Array.from({ length: 501 }, () => randomUUID()) }), 400, '22023');
    // The sender's own messages do not count as delivered to them.
    expect(ok(await as.alice.rpc('mark_delivered', { p_message_ids: [m] }))).toEqual([]);
  });
});

describe('chat management and the inbox', () => {
  it('archive, mute until, pin and clear history are the caller\'s own; the inbox honours them', async () => {
    const [u1, u2, u3] = await Promise.all([createUser(), createUser(), createUser()]);
    const c1 = clientAs(u1);
    const g1 = ok(await c1.rpc('create_group_chat', { p_title: 'one', p_member_ids: [u2] })).id;
    const g2 = ok(await c1.rpc('create_group_chat', { p_title: 'two', p_member_ids: [u2] })).id;
    const g3 = ok(await c1.rpc('create_group_chat', { p_title: 'three', p_member_ids: [u2, u3] })).id;
    await send(clientAs(u2), g1, 'in one');
    await send(clientAs(u2), g2, 'in two');
    await send(clientAs(u2), g3, 'in three');
    // Activity order: g3, g2, g1. Pin g1, archive g2, mute g3.
    expect(ok(await c1.rpc('set_chat_pinned', { p_chat_id: g1, p_pinned: true })).pinned_at).not.toBeNull();
    expect(ok(await c1.rpc('set_chat_archived', { p_chat_id: g2, p_archived: true })).archived_at).not.toBeNull();
    const until = new Date(Date.now() + 3600_000).toISOString();
    expect(new Date(ok(await c1.rpc('mute_chat', { p_chat_id: g3, p_until: until })).muted_until!).toISOString()).toBe(until);
    const inbox = ok(await c1.rpc('get_inbox'));
    expect(inbox.map((r) => r.chat_id)).toEqual([g1, g3]);
    expect(inbox[1]).toMatchObject({ muted_until: expect.any(String), unread_count: 1 });
    expect(ok(await c1.rpc('get_inbox', { p_archived: true })).map((r) => r.chat_id)).toEqual([g2]);
    // Later pages hold no pinned chat.
    expect(ok(await c1.rpc('get_inbox', { p_before: inbox[1]!.activity_at, p_before_chat_id: g3 }))).toEqual([]);
    // The other member's inbox is unchanged.
    const other = ok(await clientAs(u2).rpc('get_inbox'));
    expect(other.map((r) => r.chat_id)).toEqual([g3, g2, g1]);
    expect(other.every((r) => r.archived_at === null && r.muted_until === null && r.pinned_at === null)).toBe(true);
    // Unmute with a past time; unpin; unarchive.
    expect(ok(await c1.rpc('mute_chat', { p_chat_id: g3, p_until: '2000-01-01T00:00:00Z' })).muted_until).toBeNull();
    ok(await c1.rpc('set_chat_pinned', { p_chat_id: g1, p_pinned: false }));
    ok(await c1.rpc('set_chat_archived', { p_chat_id: g2, p_archived: false }));
    expect(ok(await c1.rpc('get_inbox')).map((r) => r.chat_id)).toEqual([g3, g2, g1]);
    // Clear history for oneself.
    ok(await c1.rpc('clear_chat_history', { p_chat_id: g3 }));
    expect(ok(await c1.rpc('get_chat_history', { p_chat_id: g3 }))).toEqual([]);
    expect(ok(await clientAs(u3).rpc('get_chat_history', { p_chat_id: g3 })).map((m) => m.content)).toEqual(['in three']);
    expect(ok(await c1.rpc('get_inbox')).find((r) => r.chat_id === g3)!.unread_count).toBe(0);
    const later = (await send(clientAs(u2), g3, 'after the clear')).id;
    expect(ok(await c1.rpc('get_chat_history', { p_chat_id: g3 })).map((m) => m.id)).toEqual([later]);
  });

  it('settings RPCs: a non-member gets 404, anon 401, suspended 403; the pin limit holds', async () => {
    for (const [fn, args] of [
      ['set_chat_archived', { p_chat_id: direct, p_archived: true }],
      ['mute_chat', { p_chat_id: direct, p_until: 'infinity' }],
      ['set_chat_pinned', { p_chat_id: direct, p_pinned: true }],
      ['clear_chat_history', { p_chat_id: direct }],
    ] as const) {
      expectNotFound(await as.carol.rpc(fn, args as never));
      expectRefused(await anonClient().rpc(fn, args as never), 401, '42501');
      expectRefused(await as.sam.rpc(fn, { ...args, p_chat_id: group } as never), 403, '42501');
    }
    const me = await createUser();
    const c = clientAs(me);
    const chats = await Promise.all(Array.from({ length: 6 }, (_, i) => c.rpc('create_group_chat', { p_title: `pin ${i}` })));
    const results = await Promise.all(chats.map((r) => c.rpc('set_chat_pinned', { p_chat_id: ok(r).id, p_pinned: true })));
    expect(results.filter((r) => r.error === null)).toHaveLength(5);
    expectRefused(results.find((r) => r.error !== null)!, 400, '22023');
  });

  it('unread counts leave out the caller\'s own messages and the assistant\'s answers to their prompts', async () => {
    const me = await createUser();
    const c = clientAs(me);
    const chat = ok(await c.rpc('create_assistant_chat', { p_title: 'mine' })).id;
    const prompt = (await send(c, chat, 'my question')).id;
    await owner()`insert into public.messages (chat_id, sender_id, kind, content, reply_to_id) values (${chat}, null, 'ai', 'the answer', ${prompt})`;
    await owner()`insert into public.messages (chat_id, sender_id, kind, content) values (${chat}, null, 'system', 'a notice')`;
    expect(ok(await c.rpc('get_inbox')).find((r) => r.chat_id === chat)!.unread_count).toBe(1);
  });

  it('the inbox\'s last message carries reactions and delivery status', async () => {
    const m = (await send(as.alice, direct, 'last one')).id;
    ok(await as.bob.rpc('add_reaction', { p_message_id: m, p_emoji: '❤️' }));
    ok(await as.bob.rpc('mark_delivered', { p_message_ids: [m] }));
    const row = ok(await as.alice.rpc('get_inbox')).find((r) => r.chat_id === direct)!;
    expect(row).toMatchObject({
      last_message_id: m,
      last_message_reactions: [{ emoji: '❤️', count: 1, reacted: false }],
      last_message_delivery: { status: 'delivered', recipients: 1, delivered: 1, read: 0 },
    });
  });
});

describe('mentions', () => {
  it('@username in a group is resolved by the server; the member is notified even when muted; the inbox counts unread mentions', async () => {
    ok(await as.carol.rpc('mute_chat', { p_chat_id: group, p_until: 'infinity' }));
    ok(await as.carol.rpc('mark_chat_read', { p_chat_id: group }));
    const m = (await send(as.bob, group, `hey @carol_${tag}, and @dave_${tag} and @nobody_${tag}. Also @CAROL_${tag}.`)).id;
    expect(ok(await as.carol.from('message_mentions').select('user_id').eq('message_id', m))).toEqual([{ user_id: carol }]);
    const n = ok(await as.carol.from('notifications').select('kind, payload').eq('kind', 'mention'));
    expect(n).toContainEqual({ kind: 'mention', payload: { chat_id: group, message_id: m, sender_id: bob } });
    n.forEach((x) => MentionNotificationPayload.parse(x.payload));
    // dave is no member: no mention, no notification.
    expect(ok(await as.dave.from('notifications').select('id').eq('kind', 'mention'))).toEqual([]);
    const row = ok(await as.carol.rpc('get_inbox')).find((r) => r.chat_id === group)!;
    expect(row.unread_mention_count).toBe(1);
    ok(await as.carol.rpc('mark_chat_read', { p_chat_id: group }));
    expect(ok(await as.carol.rpc('get_inbox')).find((r) => r.chat_id === group)!.unread_mention_count).toBe(0);
    ok(await as.carol.rpc('mute_chat', { p_chat_id: group, p_until: null as never }));
  });

  it('clients cannot write mentions; blocked users are not mentioned; outsiders read none; deleting the message removes them', async () => {
    expectRefused(await as.bob.from('message_mentions').insert({ message_id: gm, user_id: carol, chat_id: group, created_at: new Date().toISOString() } as never), [401, 403], '42501');
    // alice blocks eve: eve's mention of alice resolves to nobody.
    const m = (await send(as.eve, group, `@alice_${tag} hi`)).id;
    expect(await owner()`select user_id from public.message_mentions where message_id = ${m}`).toEqual([]);
    const m2 = (await send(as.bob, group, `@carol_${tag} again`)).id;
    expect(ok(await as.dave.from('message_mentions').select('user_id').eq('message_id', m2))).toEqual([]);
    ok(await as.bob.from('messages').update({ deleted_at: new Date().toISOString() }).eq('id', m2));
    expect(await owner()`select user_id from public.message_mentions where message_id = ${m2}`).toEqual([]);
  });

  it('a reply in a group notifies the quoted author', async () => {
    const m = (await send(as.carol, group, 'quoted', { p_reply_to_id: gm })).id;
    const n = ok(await as.alice.from('notifications').select('kind, payload').eq('kind', 'reply'));
    expect(n).toContainEqual({ kind: 'reply', payload: { chat_id: group, message_id: m, sender_id: carol } });
  });
});
