/**
 * 04 — chats, chat_members and the chat RPCs (direct, group and assistant
 * chats; add/remove members, roles, leaving), one section per actor: a group's
 * owner, an admin, a plain member, a non-member, a blocked user, a user with no
 * profile yet, anon, and the service role.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asAnon, asService, asUser, closeDb, createUser, newUserId, owner, pgError } from '../helpers/db.js';

afterAll(closeDb);

type Row = Record<string, any>;
const direct = (me: string, other: string) =>
  asUser(me, async (tx) => (await tx`select * from public.get_or_create_direct_chat(${other})`)[0] as Row);
const group = (me: string, title: string, members: string[] = []) =>
  asUser(me, async (tx) => (await tx`select * from public.create_group_chat(${title}, ${members}::text[])`)[0] as Row);
const assistant = (me: string, title: string | null = null) =>
  asUser(me, async (tx) => (await tx`select * from public.create_assistant_chat(${title})`)[0] as Row);
const addMember = (me: string, chat: string, user: string, role = 'member') =>
  asUser(me, async (tx) => (await tx`select * from public.add_chat_member(${chat}, ${user}, ${role}::public.chat_member_role)`)[0] as Row);
const removeMember = (me: string, chat: string, user: string) =>
  asUser(me, (tx) => tx`select public.remove_chat_member(${chat}, ${user})`);
const setRole = (me: string, chat: string, user: string, role: string) =>
  asUser(me, async (tx) => (await tx`select * from public.set_chat_member_role(${chat}, ${user}, ${role}::public.chat_member_role)`)[0] as Row);
const leave = (me: string, chat: string) => asUser(me, (tx) => tx`select public.leave_chat(${chat})`);

/** Members of a chat as the table owner sees them: { user_id: role }. */
const membersOf = async (chat: string) =>
  Object.fromEntries(
    (await owner()`select user_id, role from public.chat_members where chat_id = ${chat}`).map((r) => [r.user_id, r.role]),
  );
const chatRow = async (chat: string) => (await owner()`select * from public.chats where id = ${chat}`)[0];
const notificationKinds = async (id: string) =>
  (await owner()`select kind from public.notifications where user_id = ${id} and kind like 'chat_%' order by created_at`).map((r) => r.kind);

/** A group with an owner, an admin and a plain member. */
async function groupWorld() {
  const [ownerId, admin, member, outsider] = [await createUser(), await createUser(), await createUser(), await createUser()];
  const chat = await group(ownerId, 'Team', [member]);
  await addMember(ownerId, chat.id, admin, 'admin');
  return { owner: ownerId, admin, member, outsider, chat: chat.id as string };
}

// =============================================================================
describe('get_or_create_direct_chat()', () => {
  it('opens one direct chat per pair, the same from either side, with exactly the two as members', async () => {
    const [a, b] = [await createUser(), await createUser()];
    const c1 = await direct(a, b);
    const c2 = await direct(b, a);
    const c3 = await direct(a, b);
    expect(c1.kind).toBe('direct');
    expect(c2.id).toBe(c1.id);
    expect(c3.id).toBe(c1.id);
    expect(c1.direct_key).toBe([a, b].sort().join(':'));
    expect(await membersOf(c1.id)).toEqual({ [a]: 'member', [b]: 'member' });
  });

  it('refuses oneself (22023) and unknown users (PT404)', async () => {
    const a = await createUser();
    expect((await pgError(direct(a, a))).code).toBe('22023');
    expect((await pgError(direct(a, newUserId()))).code).toBe('PT404');
  });

  it('a direct chat has no title to edit, cannot be left and cannot be deleted by a member', async () => {
    const [a, b] = [await createUser(), await createUser()];
    const c = await direct(a, b);
    expect(await asUser(a, (tx) => tx`update public.chats set title = 'x' where id = ${c.id} returning id`)).toEqual([]);
    expect((await pgError(leave(a, c.id))).code).toBe('22023');
    expect(await asUser(a, (tx) => tx`delete from public.chats where id = ${c.id} returning id`)).toEqual([]);
    expect(await chatRow(c.id)).toBeDefined();
  });
});

describe('create_group_chat() and create_assistant_chat()', () => {
  it('creates a group owned by the caller; skips the caller, duplicates and unknown ids; trims the title', async () => {
    const [a, b, c] = [await createUser(), await createUser(), await createUser()];
    const g = await group(a, '  Climbing  ', [b, b, a, c, newUserId()]);
    expect(g).toMatchObject({ kind: 'group', title: 'Climbing', created_by: a, direct_key: null });
    expect(await membersOf(g.id)).toEqual({ [a]: 'owner', [b]: 'member', [c]: 'member' });
  });

  it('refuses an empty or over-long title (22023)', async () => {
    const a = await createUser();
    expect((await pgError(group(a, '   '))).code).toBe('22023');
    expect((await pgError(group(a, 'x'.repeat(101)))).code).toBe('22023');
    expect((await pgError(asUser(a, (tx) => tx`select public.create_group_chat(null)`))).code).toBe('22023');
  });

  it('creates an assistant chat only its creator is in; the owner renames and deletes it', async () => {
    const [a, b] = [await createUser(), await createUser()];
    const c = await assistant(a);
    expect(c).toMatchObject({ kind: 'assistant', title: null });
    expect(await membersOf(c.id)).toEqual({ [a]: 'owner' });
    expect(await asUser(b, (tx) => tx`select id from public.chats where id = ${c.id}`)).toEqual([]);
    expect(await asUser(a, (tx) => tx`update public.chats set title = 'Trip plans' where id = ${c.id} returning title`)).toEqual([{ title: 'Trip plans' }]);
    expect(await asUser(b, (tx) => tx`delete from public.chats where id = ${c.id} returning id`)).toEqual([]);
    expect(await asUser(a, (tx) => tx`delete from public.chats where id = ${c.id} returning id`)).toEqual([{ id: c.id }]);
    expect(await chatRow(c.id)).toBeUndefined();
    expect((await assistant(a, '  ')).title).toBeNull();
  });
});

// =============================================================================
describe('as a group owner', () => {
  let w: Awaited<ReturnType<typeof groupWorld>>;
  beforeAll(async () => {
    w = await groupWorld();
  });

  it('reads the chat and all its members', async () => {
    expect(await asUser(w.owner, (tx) => tx`select title from public.chats where id = ${w.chat}`)).toEqual([{ title: 'Team' }]);
    const m = await asUser(w.owner, (tx) => tx`select user_id from public.chat_members where chat_id = ${w.chat}`);
    expect(m.map((r) => r.user_id).sort()).toEqual([w.owner, w.admin, w.member].sort());
  });

  it('renames the group and sets its avatar, but changes nothing else of it (42501)', async () => {
    const [r] = await asUser(w.owner, (tx) => tx`
      update public.chats set title = 'Team 2', avatar_url = 'https://res.cloudinary.com/x.png' where id = ${w.chat} returning title`);
    expect(r!.title).toBe('Team 2');
    for (const q of [
      (tx: any) => tx`update public.chats set kind = 'direct' where id = ${w.chat}`,
      (tx: any) => tx`update public.chats set created_by = ${w.member} where id = ${w.chat}`,
      (tx: any) => tx`update public.chats set last_message_at = now() where id = ${w.chat}`,
      (tx: any) => tx`insert into public.chats (kind, title) values ('group', 'mine')`,
    ]) {
      expect((await pgError(asUser(w.owner, q))).code).toBe('42501');
    }
  });

  it('cannot delete a group directly (0 rows): groups end when the last member leaves', async () => {
    expect(await asUser(w.owner, (tx) => tx`delete from public.chats where id = ${w.chat} returning id`)).toEqual([]);
  });

  it('adds a member, who is notified once; adding again returns the membership', async () => {
    const u = await createUser();
    const m = await addMember(w.owner, w.chat, u);
    expect(m).toMatchObject({ chat_id: w.chat, user_id: u, role: 'member' });
    const again = await addMember(w.owner, w.chat, u, 'admin');
    expect(again.role).toBe('member');
    expect(await notificationKinds(u)).toEqual(['chat_added']);
  });

  it('adds an admin, never a second owner (22023), never an unknown user (PT404)', async () => {
    const u = await createUser();
    expect((await addMember(w.owner, w.chat, u, 'admin')).role).toBe('admin');
    expect((await pgError(addMember(w.owner, w.chat, await createUser(), 'owner'))).code).toBe('22023');
    expect((await pgError(addMember(w.owner, w.chat, newUserId()))).code).toBe('PT404');
  });

  it('changes roles of others, never their own nor to owner (22023), nor of a non-member (PT404)', async () => {
    const u = await createUser();
    await addMember(w.owner, w.chat, u);
    expect((await setRole(w.owner, w.chat, u, 'admin')).role).toBe('admin');
    expect((await setRole(w.owner, w.chat, u, 'member')).role).toBe('member');
    expect((await pgError(setRole(w.owner, w.chat, w.owner, 'member'))).code).toBe('22023');
    expect((await pgError(setRole(w.owner, w.chat, u, 'owner'))).code).toBe('22023');
    expect((await pgError(setRole(w.owner, w.chat, w.outsider, 'admin'))).code).toBe('PT404');
  });

  it('removes admins and members, never themselves (42501) nor non-members (PT404)', async () => {
    const [u, v] = [await createUser(), await createUser()];
    await addMember(w.owner, w.chat, u, 'admin');
    await addMember(w.owner, w.chat, v);
    await removeMember(w.owner, w.chat, u);
    await removeMember(w.owner, w.chat, v);
    const m = await membersOf(w.chat);
    expect(m[u]).toBeUndefined();
    expect(m[v]).toBeUndefined();
    expect((await pgError(removeMember(w.owner, w.chat, w.owner))).code).toBe('42501');
    expect((await pgError(removeMember(w.owner, w.chat, w.outsider))).code).toBe('PT404');
  });

  it('cannot manage the members of a direct chat (22023)', async () => {
    const [a, b] = [await createUser(), await createUser()];
    const c = await direct(a, b);
    expect((await pgError(addMember(a, c.id, w.outsider))).code).toBe('22023');
    expect((await pgError(removeMember(a, c.id, b))).code).toBe('22023');
  });
});

// =============================================================================
describe('as a group admin', () => {
  let w: Awaited<ReturnType<typeof groupWorld>>;
  beforeAll(async () => {
    w = await groupWorld();
  });

  it('renames the group', async () => {
    expect(await asUser(w.admin, (tx) => tx`update public.chats set title = 'By admin' where id = ${w.chat} returning title`)).toEqual([{ title: 'By admin' }]);
  });

  it('adds and removes plain members', async () => {
    const u = await createUser();
    expect((await addMember(w.admin, w.chat, u)).role).toBe('member');
    await removeMember(w.admin, w.chat, u);
    expect((await membersOf(w.chat))[u]).toBeUndefined();
  });

  it('cannot add an admin, remove an admin or the owner, or change roles (42501)', async () => {
    const other = await createUser();
    await addMember(w.owner, w.chat, other, 'admin');
    expect((await pgError(addMember(w.admin, w.chat, await createUser(), 'admin'))).code).toBe('42501');
    expect((await pgError(removeMember(w.admin, w.chat, other))).code).toBe('42501');
    expect((await pgError(removeMember(w.admin, w.chat, w.owner))).code).toBe('42501');
    expect((await pgError(setRole(w.admin, w.chat, w.member, 'admin'))).code).toBe('42501');
    expect((await pgError(setRole(w.admin, w.chat, w.admin, 'owner'))).code).toBe('42501');
    expect(await membersOf(w.chat)).toMatchObject({ [w.owner]: 'owner', [w.admin]: 'admin', [other]: 'admin', [w.member]: 'member' });
  });
});

// =============================================================================
describe('as a plain member', () => {
  let w: Awaited<ReturnType<typeof groupWorld>>;
  beforeAll(async () => {
    w = await groupWorld();
  });

  it('reads the chat and its members', async () => {
    expect(await asUser(w.member, (tx) => tx`select id from public.chats where id = ${w.chat}`)).toHaveLength(1);
    expect(await asUser(w.member, (tx) => tx`select user_id from public.chat_members where chat_id = ${w.chat}`)).toHaveLength(3);
  });

  it('cannot rename or delete the group (0 rows)', async () => {
    expect(await asUser(w.member, (tx) => tx`update public.chats set title = 'mine' where id = ${w.chat} returning id`)).toEqual([]);
    expect(await asUser(w.member, (tx) => tx`delete from public.chats where id = ${w.chat} returning id`)).toEqual([]);
    expect((await chatRow(w.chat))!.title).toBe('Team');
  });

  it('cannot raise their own role: no UPDATE on chat_members (42501), set_chat_member_role refused (42501)', async () => {
    const e = await pgError(asUser(w.member, (tx) => tx`update public.chat_members set role = 'owner' where chat_id = ${w.chat} and user_id = ${w.member}`));
    expect(e.code).toBe('42501');
    expect((await pgError(setRole(w.member, w.chat, w.member, 'admin'))).code).toBe('42501');
    expect((await membersOf(w.chat))[w.member]).toBe('member');
  });

  it('cannot add (42501) or remove (42501) members, nor insert or delete memberships directly (42501)', async () => {
    const u = await createUser();
    expect((await pgError(addMember(w.member, w.chat, u))).code).toBe('42501');
    expect((await pgError(removeMember(w.member, w.chat, w.admin))).code).toBe('42501');
    expect((await pgError(asUser(w.member, (tx) => tx`insert into public.chat_members (chat_id, user_id) values (${w.chat}, ${u})`))).code).toBe('42501');
    expect((await pgError(asUser(w.member, (tx) => tx`delete from public.chat_members where chat_id = ${w.chat} and user_id = ${w.admin}`))).code).toBe('42501');
    expect(Object.keys(await membersOf(w.chat))).toHaveLength(3);
  });
});

// =============================================================================
describe('leave_chat()', () => {
  it('a member leaves: gone from the members, the chat no longer visible to them', async () => {
    const w = await groupWorld();
    await leave(w.member, w.chat);
    expect((await membersOf(w.chat))[w.member]).toBeUndefined();
    expect(await asUser(w.member, (tx) => tx`select id from public.chats where id = ${w.chat}`)).toEqual([]);
    expect((await pgError(leave(w.member, w.chat))).code).toBe('PT404');
  });

  it('the owner leaves: the longest-standing admin becomes owner, even if a member joined earlier', async () => {
    const [o, early, admin1, admin2] = [await createUser(), await createUser(), await createUser(), await createUser()];
    const g = await group(o, 'Handover', [early]);
    await addMember(o, g.id, admin1, 'admin');
    await addMember(o, g.id, admin2, 'admin');
    await leave(o, g.id);
    expect(await membersOf(g.id)).toEqual({ [early]: 'member', [admin1]: 'owner', [admin2]: 'admin' });
  });

  it('the owner leaves a group without admins: the longest-standing member becomes owner', async () => {
    const [o, first, second] = [await createUser(), await createUser(), await createUser()];
    const g = await group(o, 'Handover 2');
    await addMember(o, g.id, first);
    await addMember(o, g.id, second);
    await leave(o, g.id);
    expect(await membersOf(g.id)).toEqual({ [first]: 'owner', [second]: 'member' });
    // The new owner has the owner's powers.
    expect((await setRole(first, g.id, second, 'admin')).role).toBe('admin');
  });

  it('the last member leaving deletes the group', async () => {
    const [o, m] = [await createUser(), await createUser()];
    const g = await group(o, 'Short-lived', [m]);
    await leave(m, g.id);
    expect(await chatRow(g.id)).toBeDefined();
    await leave(o, g.id);
    expect(await chatRow(g.id)).toBeUndefined();
  });

  it('an assistant chat is not left but deleted (22023)', async () => {
    const a = await createUser();
    const c = await assistant(a);
    expect((await pgError(leave(a, c.id))).code).toBe('22023');
  });
});

// =============================================================================
describe('as a non-member', () => {
  let w: Awaited<ReturnType<typeof groupWorld>>;
  beforeAll(async () => {
    w = await groupWorld();
  });

  it('sees neither the chat nor its members', async () => {
    expect(await asUser(w.outsider, (tx) => tx`select * from public.chats where id = ${w.chat}`)).toEqual([]);
    expect(await asUser(w.outsider, (tx) => tx`select chat_id, user_id, role from public.chat_members where chat_id = ${w.chat}`)).toEqual([]);
  });

  it('cannot join uninvited: insert refused (42501), add_chat_member of themselves refused (PT404)', async () => {
    expect((await pgError(asUser(w.outsider, (tx) => tx`insert into public.chat_members (chat_id, user_id, role) values (${w.chat}, ${w.outsider}, 'owner')`))).code).toBe('42501');
    expect((await pgError(addMember(w.outsider, w.chat, w.outsider))).code).toBe('PT404');
    expect((await membersOf(w.chat))[w.outsider]).toBeUndefined();
  });

  it('cannot rename, delete, manage or leave the chat', async () => {
    expect(await asUser(w.outsider, (tx) => tx`update public.chats set title = 'x' where id = ${w.chat} returning id`)).toEqual([]);
    expect(await asUser(w.outsider, (tx) => tx`delete from public.chats where id = ${w.chat} returning id`)).toEqual([]);
    expect((await pgError(removeMember(w.outsider, w.chat, w.member))).code).toBe('PT404');
    expect((await pgError(setRole(w.outsider, w.chat, w.member, 'admin'))).code).toBe('PT404');
    expect((await pgError(leave(w.outsider, w.chat))).code).toBe('PT404');
  });

  it('a removed member is a non-member from then on', async () => {
    const u = await createUser();
    await addMember(w.owner, w.chat, u);
    await removeMember(w.owner, w.chat, u);
    expect(await asUser(u, (tx) => tx`select * from public.chats where id = ${w.chat}`)).toEqual([]);
    expect(await asUser(u, (tx) => tx`select chat_id, user_id, role from public.chat_members where chat_id = ${w.chat}`)).toEqual([]);
  });
});

// =============================================================================
describe('as a blocked user', () => {
  it('cannot open a direct chat with the blocker, nor be opened by them (42501)', async () => {
    const [a, b] = [await createUser(), await createUser()];
    await asUser(a, (tx) => tx`select public.block_user(${b})`);
    expect((await pgError(direct(b, a))).code).toBe('42501');
    expect((await pgError(direct(a, b))).code).toBe('42501');
    expect(await owner()`select 1 from public.chats where direct_key = ${[a, b].sort().join(':')}`).toEqual([]);
  });

  it('is not added to the blocker’s groups: skipped by create_group_chat, refused by add_chat_member (42501)', async () => {
    const [a, b, c] = [await createUser(), await createUser(), await createUser()];
    await asUser(b, (tx) => tx`select public.block_user(${a})`);
    const g = await group(a, 'No b', [b, c]);
    expect(await membersOf(g.id)).toEqual({ [a]: 'owner', [c]: 'member' });
    expect((await pgError(addMember(a, g.id, b))).code).toBe('42501');
    // A block is between two people: an admin who is in no block with b may add them.
    await setRole(a, g.id, c, 'admin');
    expect((await addMember(c, g.id, b)).role).toBe('member');
  });

  it('keeps an existing direct chat visible (history), but cannot reopen it', async () => {
    const [a, b] = [await createUser(), await createUser()];
    const c = await direct(a, b);
    await asUser(a, (tx) => tx`select public.block_user(${b})`);
    expect(await asUser(b, (tx) => tx`select id from public.chats where id = ${c.id}`)).toHaveLength(1);
    expect((await pgError(direct(b, a))).code).toBe('42501');
  });
});

// =============================================================================
describe('as a user with no profile yet', () => {
  it('cannot create chats until ensure_profile() (PT404)', async () => {
    const [n, b] = [newUserId(), await createUser()];
    expect((await pgError(direct(n, b))).code).toBe('PT404');
    expect((await pgError(group(n, 'G', [b]))).code).toBe('PT404');
    expect((await pgError(assistant(n))).code).toBe('PT404');
    await asUser(n, (tx) => tx`select public.ensure_profile()`);
    expect((await direct(n, b)).kind).toBe('direct');
  });

  it('cannot be the peer of a direct chat (PT404) and sees no chats', async () => {
    const [a, n] = [await createUser(), newUserId()];
    expect((await pgError(direct(a, n))).code).toBe('PT404');
    expect(await asUser(n, (tx) => tx`select * from public.chats`)).toEqual([]);
    expect(await asUser(n, (tx) => tx`select chat_id, user_id, role from public.chat_members`)).toEqual([]);
  });
});

// =============================================================================
describe('as anon', () => {
  it('cannot read chats or members, nor call any chat RPC (42501)', async () => {
    const w = await groupWorld();
    for (const q of [
      (tx: any) => tx`select * from public.chats`,
      (tx: any) => tx`select * from public.chat_members`,
      (tx: any) => tx`select public.get_or_create_direct_chat(${w.owner})`,
      (tx: any) => tx`select public.create_group_chat('x')`,
      (tx: any) => tx`select public.create_assistant_chat()`,
      (tx: any) => tx`select public.add_chat_member(${w.chat}, ${w.outsider})`,
      (tx: any) => tx`select public.remove_chat_member(${w.chat}, ${w.member})`,
      (tx: any) => tx`select public.set_chat_member_role(${w.chat}, ${w.member}, 'admin')`,
      (tx: any) => tx`select public.leave_chat(${w.chat})`,
    ]) {
      expect((await pgError(asAnon(q))).code).toBe('42501');
    }
  });
});

// =============================================================================
describe('as the service role', () => {
  it('reads and writes chats and memberships directly', async () => {
    const w = await groupWorld();
    const rows = await asService((tx) => tx`select user_id from public.chat_members where chat_id = ${w.chat}`);
    expect(rows).toHaveLength(3);
    await asService((tx) => tx`insert into public.chat_members (chat_id, user_id) values (${w.chat}, ${w.outsider})`);
    expect((await membersOf(w.chat))[w.outsider]).toBe('member');
  });

  it('has no caller identity for the chat RPCs (42501)', async () => {
    const a = await createUser();
    expect((await pgError(asService((tx) => tx`select public.get_or_create_direct_chat(${a})`))).code).toBe('42501');
    expect((await pgError(asService((tx) => tx`select public.create_group_chat('x')`))).code).toBe('42501');
  });

  it('the database refuses a second direct chat for a pair (23505) and a titled direct chat (23514)', async () => {
    const [a, b] = [await createUser(), await createUser()];
    const c = await direct(a, b);
    expect((await pgError(asService((tx) => tx`insert into public.chats (kind, direct_key) values ('direct', ${c.direct_key})`))).code).toBe('23505');
    expect((await pgError(asService((tx) => tx`update public.chats set title = 'x' where id = ${c.id}`))).code).toBe('23514');
  });
});
