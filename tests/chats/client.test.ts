/**
 * chats, chat_members and the chat RPCs through supabase-js, as each actor
 * (20261122080400_chats.sql): get_or_create_direct_chat, create_group_chat,
 * create_assistant_chat, add_chat_member, remove_chat_member,
 * set_chat_member_role, leave_chat. Membership is the unit of access; a chat
 * the caller is not in answers like a chat that does not exist.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { anonClient, clientAs } from '../helpers/client.js';
import { closeDb, owner } from '../helpers/db.js';
import { buildWorld, expectNoPrivilege, expectNotFound, expectRefused, freshUsers, ok, randomUUID, rest, type World } from '../helpers/world.js';

afterAll(closeDb);

let w: World;
beforeAll(async () => {
  w = await buildWorld();
});

const members = async (chat: string) =>
  (await owner()`select user_id, role::text from public.chat_members where chat_id = ${chat} order by user_id`).map((r) => `${r.user_id}:${r.role}`);
const chatRow = async (chat: string) => (await owner()`select id, kind::text, title, avatar_url from public.chats where id = ${chat}`)[0];

describe('chats: read', () => {
  it('members read their chats; an outsider reads none by id, by filter, by count or as CSV', async () => {
    expect(ok(await w.as.bob.from('chats').select('id').in('id', [w.direct, w.group])).map((r) => r.id).sort()).toEqual([w.direct, w.group].sort());
    expect(ok(await w.as.carol.from('chats').select('id').in('id', [w.direct, w.group, w.assistant]))).toEqual([{ id: w.group }]);
    const dave = w.as.dave;
    const byId = await dave.from('chats').select('*', { count: 'exact' }).in('id', [w.direct, w.group, w.assistant]);
    expect([ok(byId), byId.count]).toEqual([[], 0]);
    expect(ok(await dave.from('chats').select('id').like('direct_key', `%${w.alice}%`))).toEqual([]);
    expect(ok(await dave.from('chats').select('id').eq('created_by', w.alice))).toEqual([]);
    expect((ok(await dave.from('chats').select('id').eq('created_by', w.alice).csv()) as unknown as string).trim()).toBe('');
    expectNoPrivilege(await anonClient().from('chats').select('id'), true);
  });

  it('embedding messages and members from chats, and chats from members, stays within the caller\'s chats', async () => {
    const mine = ok(await w.as.carol.from('chats').select('id, messages!messages_chat_id_fkey(id, content), chat_members(user_id, users(id, user_accounts(email)))').eq('id', w.group));
    expect(mine).toHaveLength(1);
    expect(mine[0]!.messages.map((m) => m.id)).toEqual([w.groupMsg]);
    const emails = mine[0]!.chat_members.map((m) => (m.users as { user_accounts: { email: string } | null }).user_accounts);
    expect(emails.filter((e) => e !== null)).toHaveLength(1); // carol's own
    // dave reaches nothing through his own profile row either.
    const viaUser = ok(await w.as.dave.from('users').select('id, chat_members(chat_id, chats(id, messages!messages_chat_id_fkey(content)))').eq('id', w.alice));
    expect(viaUser).toEqual([{ id: w.alice, chat_members: [] }]);
    const viaMessages = ok(await w.as.dave.from('messages').select('id, chats!messages_chat_id_fkey(id)').eq('chat_id', w.direct));
    expect(viaMessages).toEqual([]);
  });

  it('chat_members: members read the members of their chats, an outsider none', async () => {
    expect(ok(await w.as.carol.from('chat_members').select('user_id').eq('chat_id', w.group)).map((r) => r.user_id).sort())
      .toEqual([w.alice, w.bob, w.carol].sort());
    expect(ok(await w.as.carol.from('chat_members').select('user_id').eq('chat_id', w.direct))).toEqual([]);
    const c = await w.as.dave.from('chat_members').select('chat_id, user_id', { count: 'exact', head: true }).eq('user_id', w.alice);
    expect(c.count).toBe(0);
  });
});

describe('chats: write', () => {
  it('insert and upsert are 403: chats are created through RPCs only', async () => {
    expectNoPrivilege(await w.as.dave.from('chats').insert({ kind: 'group', title: 'mine' }).select());
    expectNoPrivilege(await w.as.dave.from('chats').upsert({ id: w.group, kind: 'group', title: 'taken' }, { onConflict: 'id' }));
    expect((await chatRow(w.group))!.title).toBe('World group');
  });

  it('the group owner renames the group; a plain member and an outsider change nothing', async () => {
    expect(ok(await w.as.bob.from('chats').update({ title: 'by bob' }).eq('id', w.group).select())).toEqual([]);
    expect(ok(await w.as.dave.from('chats').update({ title: 'by dave' }).eq('id', w.group).select())).toEqual([]);
    expect((await chatRow(w.group))!.title).toBe('World group');
    expect(ok(await w.as.alice.from('chats').update({ title: 'Renamed' }).eq('id', w.group).select('title'))).toEqual([{ title: 'Renamed' }]);
    ok(await w.as.alice.from('chats').update({ title: 'World group' }).eq('id', w.group));
  });

  it('kind, direct_key, created_by, last_message_id are not writable (403); a direct chat cannot get a title', async () => {
    expectNoPrivilege(await w.as.alice.from('chats').update({ kind: 'direct' }).eq('id', w.group));
    expectNoPrivilege(await w.as.alice.from('chats').update({ direct_key: 'x:y' }).eq('id', w.group));
    expectNoPrivilege(await w.as.alice.from('chats').update({ created_by: w.dave }).eq('id', w.group));
    expectNoPrivilege(await w.as.alice.from('chats').update({ last_message_id: null }).eq('id', w.group));
    expect(ok(await w.as.alice.from('chats').update({ title: 'direct title' }).eq('id', w.direct).select())).toEqual([]);
    expect(await chatRow(w.direct)).toMatchObject({ kind: 'direct', title: null });
  });

  it('a bulk update without a filter reaches only chats the caller manages', async () => {
    const [a] = await freshUsers(1);
    const own = ok(await clientAs(a!).rpc('create_group_chat', { p_title: 'own group' })).id;
    const res = await rest(a!, '/chats', { method: 'PATCH', body: JSON.stringify({ title: 'bulk' }), headers: { prefer: 'return=representation' } });
    if (res.status < 300) expect(res.body.map((r: { id: string }) => r.id)).toEqual([own]);
    else expect(res.status).toBeLessThan(500);
    expect((await chatRow(w.group))!.title).toBe('World group');
  });

  it('delete: an owner deletes their assistant chat; nobody deletes a group or a direct chat; a bulk delete reaches only own assistant chats', async () => {
    const [a] = await freshUsers(1);
    const mine = ok(await clientAs(a!).rpc('create_assistant_chat', {})).id;
    expect(ok(await w.as.alice.from('chats').delete().eq('id', w.group).select())).toEqual([]);
    expect(ok(await w.as.bob.from('chats').delete().eq('id', w.direct).select())).toEqual([]);
    expect(ok(await w.as.dave.from('chats').delete().eq('id', w.assistant).select())).toEqual([]);
    const bulk = await rest(a!, '/chats', { method: 'DELETE', headers: { prefer: 'return=representation' } });
    if (bulk.status < 300) expect(bulk.body.map((r: { id: string }) => r.id)).toEqual([mine]);
    else expect(bulk.status).toBeLessThan(500);
    for (const c of [w.group, w.direct, w.assistant]) expect(await chatRow(c)).toBeDefined();
  });

  it('chat_members: insert, upsert, update of role or read state, and delete are 403', async () => {
    const before = await members(w.group);
    expectNoPrivilege(await w.as.dave.from('chat_members').insert({ chat_id: w.group, user_id: w.dave }));
    expectNoPrivilege(await w.as.bob.from('chat_members').upsert({ chat_id: w.group, user_id: w.bob, role: 'owner' }, { onConflict: 'chat_id,user_id' }));
    expectNoPrivilege(await w.as.bob.from('chat_members').update({ role: 'owner' }).eq('chat_id', w.group).eq('user_id', w.bob));
    expectNoPrivilege(await w.as.bob.from('chat_members').update({ last_read_at: '2999-01-01T00:00:00Z' }).eq('chat_id', w.group));
    expectNoPrivilege(await w.as.alice.from('chat_members').delete().eq('chat_id', w.group).eq('user_id', w.carol));
    expect(await members(w.group)).toEqual(before);
  });
});

describe('chat RPCs', () => {
  it('get_or_create_direct_chat: one chat per pair from either side; self 400; unknown user; blocks refused either way (403, same message)', async () => {
    const [a, b] = await freshUsers(2);
    const c1 = ok(await clientAs(a!).rpc('get_or_create_direct_chat', { p_user_id: b! }));
    const c2 = ok(await clientAs(b!).rpc('get_or_create_direct_chat', { p_user_id: a! }));
    expect(c2.id).toBe(c1.id);
    expectRefused(await clientAs(a!).rpc('get_or_create_direct_chat', { p_user_id: a! }), 400, '22023');
    expectNotFound(await clientAs(a!).rpc('get_or_create_direct_chat', { p_user_id: 'user_doesNotExist000000' }));
    const byBlocked = await w.as.eve.rpc('get_or_create_direct_chat', { p_user_id: w.alice });
    const byBlocker = await w.as.alice.rpc('get_or_create_direct_chat', { p_user_id: w.eve });
    expectRefused(byBlocked, 403, '42501');
    expectRefused(byBlocker, 403, '42501');
    expect(byBlocked.error!.message).toBe(byBlocker.error!.message);
  });

  it('create_group_chat: the caller owns it; unknown, duplicate and blocked ids are skipped; bad titles 400', async () => {
    const g = ok(await w.as.alice.rpc('create_group_chat', { p_title: '  Picnic  ', p_member_ids: [w.bob, w.bob, w.eve, 'user_doesNotExist000000', w.alice] }));
    expect(g).toMatchObject({ kind: 'group', title: 'Picnic', created_by: w.alice });
    expect(await members(g.id)).toEqual([`${w.alice}:owner`, `${w.bob}:member`].sort());
    expectRefused(await w.as.alice.rpc('create_group_chat', { p_title: '   ' }), 400, '22023');
    expectRefused(await w.as.alice.rpc('create_group_chat', { p_title: 'x'.repeat(101) }), 400, '22023');
    expectRefused(await w.as.alice.rpc('create_group_chat', { p_title: 'x', p_member_ids: w.bob } as never), 400, '22P02');
  });

  it('create_assistant_chat: a private chat with the caller as its only member', async () => {
    const c = ok(await w.as.dave.rpc('create_assistant_chat', { p_title: 'Plans' }));
    expect(c).toMatchObject({ kind: 'assistant', title: 'Plans', created_by: w.dave });
    expect(await members(c.id)).toEqual([`${w.dave}:owner`]);
  });

  it('add_chat_member: the owner adds; a plain member 403; an outsider "not found" like a missing chat; owner role 400; admin by an admin 403', async () => {
    const [x, y] = await freshUsers(2);
    expectRefused(await w.as.bob.rpc('add_chat_member', { p_chat_id: w.group, p_user_id: x! }), 403, '42501');
    const outsider = await w.as.dave.rpc('add_chat_member', { p_chat_id: w.group, p_user_id: w.dave });
    const missing = await w.as.dave.rpc('add_chat_member', { p_chat_id: randomUUID(), p_user_id: w.dave });
    expectNotFound(outsider);
    expectNotFound(missing);
    expect(outsider.status).toBe(missing.status);
    expectRefused(await w.as.alice.rpc('add_chat_member', { p_chat_id: w.group, p_user_id: x!, p_role: 'owner' }), 400, '22023');
    expectRefused(await w.as.alice.rpc('add_chat_member', { p_chat_id: w.group, p_user_id: x!, p_role: 'god' as never }), 400, '22P02');
    expectRefused(await w.as.alice.rpc('add_chat_member', { p_chat_id: w.group, p_user_id: w.eve }), 403, '42501');
    expect(ok(await w.as.alice.rpc('add_chat_member', { p_chat_id: w.group, p_user_id: x!, p_role: 'admin' }))).toMatchObject({ user_id: x, role: 'admin' });
    expectRefused(await clientAs(x!).rpc('add_chat_member', { p_chat_id: w.group, p_user_id: y!, p_role: 'admin' }), 403, '42501');
    expect(ok(await clientAs(x!).rpc('add_chat_member', { p_chat_id: w.group, p_user_id: y! }))).toMatchObject({ user_id: y, role: 'member' });
    expect(await members(w.group)).toContain(`${y}:member`);
    ok(await w.as.alice.rpc('remove_chat_member', { p_chat_id: w.group, p_user_id: y! }));
    ok(await w.as.alice.rpc('remove_chat_member', { p_chat_id: w.group, p_user_id: x! }));
  });

  it('remove_chat_member and set_chat_member_role: only managers; never the owner; outsiders get "not found"', async () => {
    const before = await members(w.group);
    expectRefused(await w.as.bob.rpc('remove_chat_member', { p_chat_id: w.group, p_user_id: w.carol }), 403, '42501');
    expectNotFound(await w.as.dave.rpc('remove_chat_member', { p_chat_id: w.group, p_user_id: w.carol }));
    expectRefused(await w.as.bob.rpc('set_chat_member_role', { p_chat_id: w.group, p_user_id: w.bob, p_role: 'admin' }), 403, '42501');
    expectNotFound(await w.as.dave.rpc('set_chat_member_role', { p_chat_id: w.group, p_user_id: w.dave, p_role: 'admin' }));
    expectRefused(await w.as.alice.rpc('set_chat_member_role', { p_chat_id: w.group, p_user_id: w.bob, p_role: 'owner' }), 400, '22023');
    expectRefused(await w.as.alice.rpc('remove_chat_member', { p_chat_id: w.group, p_user_id: w.alice }), 403, '42501');
    expect(await members(w.group)).toEqual(before);
    expectRefused(await w.as.alice.rpc('remove_chat_member', { p_chat_id: w.direct, p_user_id: w.bob }), 400, '22023');
    expect(await members(w.direct)).toHaveLength(2);
  });

  it('leave_chat: a member leaves a group; a direct chat cannot be left (400); an outsider gets "not found"', async () => {
    const [a, b] = await freshUsers(2);
    const g = ok(await clientAs(a!).rpc('create_group_chat', { p_title: 'leavers', p_member_ids: [b!] })).id;
    expectNotFound(await w.as.dave.rpc('leave_chat', { p_chat_id: g }));
    expectRefused(await w.as.bob.rpc('leave_chat', { p_chat_id: w.direct }), 400, '22023');
    ok(await clientAs(a!).rpc('leave_chat', { p_chat_id: g }));
    expect(await members(g)).toEqual([`${b}:owner`]);
  });

  it('anon is refused by every chat RPC (401); wrong argument types 400; extra arguments 404', async () => {
    const anon = anonClient();
    for (const res of [
      await anon.rpc('get_or_create_direct_chat', { p_user_id: w.alice }),
      await anon.rpc('create_group_chat', { p_title: 'anon' }),
      await anon.rpc('create_assistant_chat', {}),
      await anon.rpc('add_chat_member', { p_chat_id: w.group, p_user_id: w.dave }),
      await anon.rpc('remove_chat_member', { p_chat_id: w.group, p_user_id: w.bob }),
      await anon.rpc('set_chat_member_role', { p_chat_id: w.group, p_user_id: w.bob, p_role: 'admin' }),
      await anon.rpc('leave_chat', { p_chat_id: w.group }),
    ]) expectRefused(res, 401, '42501');
    expectRefused(await w.as.dave.rpc('leave_chat', { p_chat_id: 'DROP TABLE chats' }), 400, '22P02');
    expectRefused(await w.as.dave.rpc('add_chat_member', { p_chat_id: w.group, p_user_id: w.dave, p_as_owner: true } as never), 404, 'PGRST202');
    expect(await members(w.group)).not.toContain(`${w.dave}:member`);
  });
});

describe('HTTP status of "not found"', () => {
  // Was a bug: P0002 answered HTTP 500 through PostgREST 12; now PT404 → 404.
  it('leave_chat of a chat the caller is not in: 404 with a PostgREST error body', async () => {
    expectNotFound(await w.as.dave.rpc('leave_chat', { p_chat_id: w.group }));
  });
});
