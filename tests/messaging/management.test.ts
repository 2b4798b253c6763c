/**
 * The rest of issue 16 through supabase-js, as each actor (member, non-member,
 * removed member, blocked user, suspended user; docs/messaging.md): pinned
 * messages (20261202100500_pinned_messages.sql), group description, deleting a
 * group, deleting one's own media (20261202100510_group_management.sql) and the
 * privacy of per-member chat state (20261202100520_member_state_privacy.sql).
 */
import { MessagePinnedPayload } from '@chat-with-me/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientAs, type Client } from '../helpers/client.js';
import { broadcastsOn, closeDb, createUser, owner } from '../helpers/db.js';
import { expectNoPrivilege, expectNotFound, expectRefused, ok, randomUUID, recordMedia } from '../helpers/world.js';

afterAll(closeDb);

let alice: string, bob: string, carol: string, dave: string, eve: string, sam: string, rita: string;
let as: Record<'alice' | 'bob' | 'carol' | 'dave' | 'eve' | 'sam' | 'rita', Client>;
/** alice+bob direct, alice+eve direct (alice then blocks eve); group owned by alice with bob (admin), carol, eve, sam, rita; rita removed; sam suspended. */
let direct: string, blockedDirect: string, group: string;
let dm: string, gm: string, em: string;
const tag = randomUUID().slice(0, 8);

const send = async (c: Client, chat: string, content: string) =>
  ok(await c.rpc('send_message', { p_chat_id: chat, p_content: content })) as { id: string };

beforeAll(async () => {
  const u = (name: string) => createUser({ display_name: `${name} ${tag}`, username: `${name}_${tag}` });
  [alice, bob, carol, dave, eve, sam, rita] = await Promise.all([u('alice'), u('bob'), u('carol'), u('dave'), u('eve'), u('sam'), u('rita')]);
  as = Object.fromEntries(Object.entries({ alice, bob, carol, dave, eve, sam, rita }).map(([k, v]) => [k, clientAs(v)])) as typeof as;
  for (const other of [bob, eve]) {
    const req = ok(await as.alice.rpc('send_friend_request', { p_user_id: other }));
    ok(await clientAs(other).rpc('accept_friend_request', { p_request_id: req.id }));
  }
  direct = ok(await as.alice.rpc('get_or_create_direct_chat', { p_user_id: bob })).id;
  blockedDirect = ok(await as.alice.rpc('get_or_create_direct_chat', { p_user_id: eve })).id;
  group = ok(await as.alice.rpc('create_group_chat', { p_title: 'Pins', p_member_ids: [bob, carol, eve, sam, rita] })).id;
  ok(await as.alice.rpc('set_chat_member_role', { p_chat_id: group, p_user_id: bob, p_role: 'admin' }));
  dm = (await send(as.bob, direct, 'pin me')).id;
  gm = (await send(as.carol, group, 'group rules')).id;
  em = (await send(as.eve, blockedDirect, 'before the block')).id;
  ok(await as.alice.rpc('block_user', { p_user_id: eve }));
  ok(await as.alice.rpc('remove_chat_member', { p_chat_id: group, p_user_id: rita }));
  await owner()`update public.user_accounts set suspended_at = now() where user_id = ${sam}`;
});

describe('pinned messages', () => {
  it('either side pins in a direct chat; members read the pins; events on chat:<id>; idempotent', async () => {
    const row = ok(await as.bob.rpc('pin_message', { p_message_id: dm }));
    expect(row).toMatchObject({ chat_id: direct, message_id: dm, pinned_by: bob });
    ok(await as.alice.rpc('pin_message', { p_message_id: dm }));
    expect(ok(await as.alice.from('pinned_messages').select('message_id, pinned_by').eq('chat_id', direct))).toEqual([{ message_id: dm, pinned_by: bob }]);
    expect(ok(await as.alice.rpc('unpin_message', { p_message_id: dm }))).toBe(true);
    expect(ok(await as.alice.rpc('unpin_message', { p_message_id: dm }))).toBe(false);
    const events = (await broadcastsOn(`chat:${direct}`)).filter((b) => b.event === 'message_pinned');
    expect(events.map((e) => MessagePinnedPayload.parse(e.payload)).map((p) => [p.user_id, p.message_id, p.action])).toEqual([[bob, dm, 'pinned'], [alice, dm, 'unpinned']]);
  });

  it('in a group only the owner and admins pin; members read them, outsiders and removed members see nothing', async () => {
    expectRefused(await as.carol.rpc('pin_message', { p_message_id: gm }), 403, '42501');
    ok(await as.bob.rpc('pin_message', { p_message_id: gm }));
    expect(ok(await as.carol.from('pinned_messages').select('message_id').eq('chat_id', group))).toEqual([{ message_id: gm }]);
    for (const c of [as.dave, as.rita]) {
      expectNotFound(await c.rpc('pin_message', { p_message_id: gm }));
      expectNotFound(await c.rpc('unpin_message', { p_message_id: gm }));
      expect(ok(await c.from('pinned_messages').select('message_id').eq('chat_id', group))).toEqual([]);
    }
    expectNotFound(await as.alice.rpc('pin_message', { p_message_id: randomUUID() }));
  });

  it('a blocked pair cannot pin in their direct chat; a suspended member is refused and reads nothing', async () => {
    expectRefused(await as.eve.rpc('pin_message', { p_message_id: em }), 403, '42501');
    expectRefused(await as.alice.rpc('pin_message', { p_message_id: em }), 403, '42501');
    expectRefused(await as.sam.rpc('pin_message', { p_message_id: gm }), [401, 403], '42501');
    expect((await as.sam.from('pinned_messages').select('message_id')).data ?? []).toEqual([]);
  });

  it('at most messages.max_pinned_per_chat pins per chat, also when pinned at once; deleting a message unpins it', async () => {
    await owner()`update public.admin_config set value = '3' where key = 'messages.max_pinned_per_chat'`;
    try {
      const ids = await Promise.all([1, 2, 3, 4].map(async (i) => (await send(as.carol, group, `more ${i}`)).id));
      // gm is pinned already: 2 more fit, 2 are refused, whichever order they commit in.
      const results = await Promise.all(ids.map((id, i) => (i % 2 ? as.alice : as.bob).rpc('pin_message', { p_message_id: id })));
      expect(results.filter((r) => r.error === null)).toHaveLength(2);
      for (const r of results.filter((r) => r.error !== null)) expectRefused(r, 400, '22023');
      const pinned = ok(await as.carol.from('pinned_messages').select('message_id').eq('chat_id', group));
      expect(pinned).toHaveLength(3);
      await owner()`delete from public.messages where id = ${gm}`;
      expect(ok(await as.carol.from('pinned_messages').select('message_id').eq('message_id', gm))).toEqual([]);
    } finally {
      await owner()`update public.admin_config set value = '10' where key = 'messages.max_pinned_per_chat'`;
    }
  });
});

describe('group description, leaving and deleting a group', () => {
  it('owner and admins set the description; members, outsiders and the suspended cannot', async () => {
    ok(await as.bob.from('chats').update({ description: 'All about pins' }).eq('id', group).select('id'));
    expect(ok(await as.carol.from('chats').select('description').eq('id', group))).toEqual([{ description: 'All about pins' }]);
    for (const c of [as.carol, as.dave, as.rita, as.sam]) {
      const r = await c.from('chats').update({ description: 'hijacked' }).eq('id', group).select('id');
      if (r.error) expectRefused(r, [401, 403], '42501');
      else expect(r.data).toEqual([]);
    }
    expect(ok(await as.alice.from('chats').select('description').eq('id', group))).toEqual([{ description: 'All about pins' }]);
    expectRefused(await as.alice.from('chats').update({ description: 'x'.repeat(501) }).eq('id', group).select('id'), 400, '23514');
    // Direct chats have no description: the update policy does not reach them.
    expect(ok(await as.alice.from('chats').update({ description: 'direct' }).eq('id', direct).select('id'))).toEqual([]);
    expect(ok(await as.alice.from('chats').select('description').eq('id', direct))).toEqual([{ description: null }]);
  });

  it('only the owner deletes a group: admins and members are refused, outsiders get 404; members are told', async () => {
    const g = ok(await as.alice.rpc('create_group_chat', { p_title: 'Doomed', p_member_ids: [bob, carol] })).id;
    ok(await as.alice.rpc('set_chat_member_role', { p_chat_id: g, p_user_id: bob, p_role: 'admin' }));
    await send(as.carol, g, 'soon gone');
    expectRefused(await as.bob.rpc('delete_group_chat', { p_chat_id: g }), 403, '42501');
    expectRefused(await as.carol.rpc('delete_group_chat', { p_chat_id: g }), 403, '42501');
    expectNotFound(await as.dave.rpc('delete_group_chat', { p_chat_id: g }));
    expectRefused(await as.alice.rpc('delete_group_chat', { p_chat_id: direct }), 400, '22023');
    ok(await as.alice.rpc('delete_group_chat', { p_chat_id: g }));
    expect(ok(await as.carol.from('chats').select('id').eq('id', g))).toEqual([]);
    expect(ok(await as.carol.from('messages').select('id').eq('chat_id', g))).toEqual([]);
    const removed = (await broadcastsOn(`user:${carol}`)).filter((b) => b.event === 'chat_removed' && b.payload.chat_id === g);
    expect(removed).toHaveLength(1);
    expectRefused(await as.sam.rpc('delete_group_chat', { p_chat_id: group }), [401, 403], '42501');
  });

  it('a member leaves a group and no longer reads it', async () => {
    const g = ok(await as.alice.rpc('create_group_chat', { p_title: 'Leavers', p_member_ids: [carol] })).id;
    ok(await as.carol.rpc('leave_chat', { p_chat_id: g }));
    expect(ok(await as.carol.from('chats').select('id').eq('id', g))).toEqual([]);
    expectNotFound(await as.carol.rpc('leave_chat', { p_chat_id: g }));
  });
});

describe("a user's own media", () => {
  it('the owner deletes their media: the asset is queued for deletion from Cloudinary; others cannot delete it', async () => {
    const mine = await recordMedia(carol);
    for (const c of [as.alice, as.dave, as.bob]) {
      const r = await c.from('media').delete().eq('id', mine.id).select('id');
      expect(ok(r)).toEqual([]);
    }
    expect((await owner()`select 1 from public.media where id = ${mine.id}`).length).toBe(1);
    expect(ok(await as.carol.from('media').delete().eq('id', mine.id).select('id'))).toEqual([{ id: mine.id }]);
    const queued = await owner()`select reason from private.media_deletions where public_id like ${`%/${mine.id}`}`;
    expect(queued.map((q) => q.reason)).toEqual(['media_deleted']);

    const suspended = await recordMedia(sam);
    const r = await as.sam.from('media').delete().eq('id', suspended.id).select('id');
    if (r.error) expectRefused(r, [401, 403], '42501');
    else expect(r.data).toEqual([]);
    expect((await owner()`select 1 from public.media where id = ${suspended.id}`).length).toBe(1);
  });
});

describe('privacy of per-member chat state', () => {
  it("members read each other's membership and read pointers, never each other's settings; each reads their own", async () => {
    ok(await as.bob.rpc('mute_chat', { p_chat_id: group, p_until: 'infinity' }));
    ok(await as.bob.rpc('set_chat_archived', { p_chat_id: group, p_archived: true }));
    ok(await as.bob.rpc('clear_chat_history', { p_chat_id: group }));
    for (const col of ['muted_until', 'archived_at', 'pinned_at', 'cleared_at', '*']) {
      expectNoPrivilege(await as.carol.from('chat_members').select(col).eq('chat_id', group).eq('user_id', bob));
    }
    const visible = ok(await as.carol.from('chat_members').select('user_id, role, last_read_at, last_delivered_at').eq('chat_id', group).eq('user_id', bob));
    expect(visible).toHaveLength(1);
    expect(visible[0]).toMatchObject({ user_id: bob, role: 'admin' });
    expect(Object.keys(visible[0]!).sort()).toEqual(['last_delivered_at', 'last_read_at', 'role', 'user_id']);
    const mine = ok(await as.bob.rpc('my_chat_settings', { p_chat_id: group }));
    expect(mine).toEqual([{ chat_id: group, archived_at: expect.any(String), muted_until: 'infinity', pinned_at: null, cleared_at: expect.any(String) }]);
    expect(ok(await as.carol.rpc('my_chat_settings', { p_chat_id: group }))).toEqual([{ chat_id: group, archived_at: null, muted_until: null, pinned_at: null, cleared_at: null }]);
    expect(ok(await as.dave.rpc('my_chat_settings', { p_chat_id: group }))).toEqual([]);
  });

  it('history and search still hide what the caller cleared (they read cleared_at through a definer helper)', async () => {
    const before = await send(as.carol, group, `wombat ${tag}`);
    ok(await as.carol.rpc('clear_chat_history', { p_chat_id: group }));
    const after = await send(as.alice, group, `wombat again ${tag}`);
    const page = ok(await as.carol.rpc('get_chat_history', { p_chat_id: group })) as { id: string }[];
    expect(page.map((m) => m.id)).toEqual([after.id]);
    const found = ok(await as.carol.rpc('search_messages', { p_query: `wombat ${tag}` })) as { id: string }[];
    expect(found.map((m) => m.id)).toEqual([after.id]);
    const others = ok(await as.alice.rpc('search_messages', { p_query: `wombat ${tag}` })) as { id: string }[];
    expect(others.map((m) => m.id).sort()).toEqual([before.id, after.id].sort());
  });
});
