/**
 * 03 — friends and its RPCs (send/accept/decline/cancel a request, remove a
 * friend, block/unblock), one section per actor: the requester, the addressee,
 * a third user, a blocked user, a user with no profile yet, anon, service role.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { asAnon, asService, asUser, closeDb, createUser, newUserId, owner, pgError } from '../helpers/db.js';

afterAll(closeDb);

type Row = Record<string, any>;
const send = (from: string, to: string) =>
  asUser(from, async (tx) => (await tx`select * from public.send_friend_request(${to})`)[0] as Row);
const accept = (who: string, id: string) =>
  asUser(who, async (tx) => (await tx`select * from public.accept_friend_request(${id})`)[0] as Row);
const decline = (who: string, id: string) =>
  asUser(who, async (tx) => (await tx`select * from public.decline_friend_request(${id})`)[0] as Row);
const cancel = (who: string, id: string) => asUser(who, (tx) => tx`select public.cancel_friend_request(${id})`);
const removeFriend = (who: string, other: string) => asUser(who, (tx) => tx`select public.remove_friend(${other})`);
const block = (who: string, other: string) =>
  asUser(who, async (tx) => (await tx`select * from public.block_user(${other})`)[0] as Row);
const unblock = (who: string, other: string) => asUser(who, (tx) => tx`select public.unblock_user(${other})`);

/** All rows between two users, as the table owner sees them (bypasses RLS). */
const rowsBetween = (a: string, b: string) => owner()`
  select id, requester_id, addressee_id, status from public.friends
  where (requester_id = ${a} and addressee_id = ${b}) or (requester_id = ${b} and addressee_id = ${a})
  order by created_at`;
/** A user's friend-request notifications (other features may notify them of other things). */
const notificationsOf = (id: string) =>
  owner()`select kind, payload from public.notifications
          where user_id = ${id} and kind like 'friend_request%' order by created_at`;
const visible = (who: string, id: string) => asUser(who, (tx) => tx`select id, status from public.friends where id = ${id}`);

// =============================================================================
describe('as the requester', () => {
  it('sends a request: a pending row, visible to them, and a notification for the addressee', async () => {
    const [a, b] = [await createUser(), await createUser()];
    const req = await send(a, b);
    expect(req).toMatchObject({ requester_id: a, addressee_id: b, status: 'pending', responded_at: null });
    expect(await visible(a, req.id)).toEqual([{ id: req.id, status: 'pending' }]);
    expect(await notificationsOf(b)).toEqual([{ kind: 'friend_request', payload: { request_id: req.id, from_user_id: a } }]);
  });

  it('repeating a pending request returns it unchanged and notifies once', async () => {
    const [a, b] = [await createUser(), await createUser()];
    const first = await send(a, b);
    const again = await send(a, b);
    expect(again.id).toBe(first.id);
    expect(await rowsBetween(a, b)).toHaveLength(1);
    expect(await notificationsOf(b)).toHaveLength(1);
  });

  // Alike on purpose: chats/database.test.ts asks get_or_create_direct_chat the same two refusals; each RPC is tested on its own.
  it('cannot befriend themselves (22023) or an unknown user (PT404)', async () => {
    const a = await createUser();
    expect((await pgError(send(a, a))).code).toBe('22023');
    expect((await pgError(send(a, newUserId()))).code).toBe('PT404');
  });

  it('cancels their pending request: the row is gone', async () => {
    const [a, b] = [await createUser(), await createUser()];
    const req = await send(a, b);
    await cancel(a, req.id);
    expect(await rowsBetween(a, b)).toHaveLength(0);
    expect((await pgError(cancel(a, req.id))).code).toBe('PT404');
  });

  it('cannot accept or decline their own request (PT404)', async () => {
    const [a, b] = [await createUser(), await createUser()];
    const req = await send(a, b);
    expect((await pgError(accept(a, req.id))).code).toBe('PT404');
    expect((await pgError(decline(a, req.id))).code).toBe('PT404');
    expect((await rowsBetween(a, b))[0]!.status).toBe('pending');
  });

  it('cannot write friends rows directly (42501)', async () => {
    const [a, b] = [await createUser(), await createUser()];
    const req = await send(a, b);
    expect((await pgError(asUser(a, (tx) => tx`insert into public.friends (requester_id, addressee_id, status) values (${a}, ${b}, 'accepted')`))).code).toBe('42501');
    expect((await pgError(asUser(a, (tx) => tx`update public.friends set status = 'accepted' where id = ${req.id}`))).code).toBe('42501');
    expect((await pgError(asUser(a, (tx) => tx`delete from public.friends where id = ${req.id}`))).code).toBe('42501');
  });
});

// =============================================================================
describe('as the addressee', () => {
  it('sees the request and accepts it: accepted, responded_at set, the requester notified', async () => {
    const [a, b] = [await createUser(), await createUser()];
    const req = await send(a, b);
    expect(await visible(b, req.id)).toEqual([{ id: req.id, status: 'pending' }]);
    const row = await accept(b, req.id);
    expect(row).toMatchObject({ id: req.id, status: 'accepted' });
    expect(row.responded_at).toBeInstanceOf(Date);
    expect(await notificationsOf(a)).toEqual([{ kind: 'friend_request_accepted', payload: { request_id: req.id, by_user_id: b } }]);
    expect((await pgError(accept(b, req.id))).code).toBe('PT404');
  });

  it('declines it: the row is kept as history for both, the requester notified, and may ask again after the cool-down', async () => {
    const [a, b] = [await createUser(), await createUser()];
    const req = await send(a, b);
    const row = await decline(b, req.id);
    expect(row).toMatchObject({ id: req.id, status: 'declined' });
    expect(await visible(a, req.id)).toEqual([{ id: req.id, status: 'declined' }]);
    expect(await visible(b, req.id)).toEqual([{ id: req.id, status: 'declined' }]);
    expect((await notificationsOf(a)).map((n) => n.kind)).toEqual(['friend_request_declined']);
    // Not at once (friends.decline_cooldown_seconds, 429); once the cool-down has passed, yes.
    expect((await pgError(send(a, b))).code).toBe('PT429');
    await owner()`update public.friends set responded_at = now() - interval '2 days' where id = ${req.id}`;
    const again = await send(a, b);
    expect(again.id).not.toBe(req.id);
    expect((await rowsBetween(a, b)).map((r) => r.status)).toEqual(['declined', 'pending']);
  });

  it('asking back accepts the pending request instead of creating a second one', async () => {
    const [a, b] = [await createUser(), await createUser()];
    const req = await send(a, b);
    const row = await send(b, a);
    expect(row).toMatchObject({ id: req.id, requester_id: a, addressee_id: b, status: 'accepted' });
    expect(await rowsBetween(a, b)).toHaveLength(1);
    expect((await notificationsOf(a)).map((n) => n.kind)).toEqual(['friend_request_accepted']);
  });

  it('cannot cancel a request they received (PT404)', async () => {
    const [a, b] = [await createUser(), await createUser()];
    const req = await send(a, b);
    expect((await pgError(cancel(b, req.id))).code).toBe('PT404');
  });
});

// =============================================================================
describe('as friends', () => {
  it('a new request between friends is a conflict (23505), either way', async () => {
    const [a, b] = [await createUser(), await createUser()];
    await accept(b, (await send(a, b)).id);
    expect((await pgError(send(a, b))).code).toBe('23505');
    expect((await pgError(send(b, a))).code).toBe('23505');
  });

  it('either side removes the friendship; removing again is PT404', async () => {
    const [a, b] = [await createUser(), await createUser()];
    await accept(b, (await send(a, b)).id);
    await removeFriend(b, a);
    expect(await rowsBetween(a, b)).toHaveLength(0);
    expect((await pgError(removeFriend(a, b))).code).toBe('PT404');
  });

  it('remove_friend does not withdraw a pending request (PT404)', async () => {
    const [a, b] = [await createUser(), await createUser()];
    await send(a, b);
    expect((await pgError(removeFriend(a, b))).code).toBe('PT404');
    expect(await rowsBetween(a, b)).toHaveLength(1);
  });
});

// =============================================================================
describe('as a third user', () => {
  it('cannot see other people’s requests or friendships', async () => {
    const [a, b, x] = [await createUser(), await createUser(), await createUser()];
    const req = await send(a, b);
    expect(await visible(x, req.id)).toEqual([]);
    const all = await asUser(x, (tx) => tx`select id from public.friends where requester_id = ${a} or addressee_id = ${b}`);
    expect(all).toEqual([]);
    await accept(b, req.id);
    expect(await visible(x, req.id)).toEqual([]);
  });

  it('cannot accept, decline, cancel or remove what is not theirs (PT404), and nothing changes', async () => {
    const [a, b, x] = [await createUser(), await createUser(), await createUser()];
    const req = await send(a, b);
    expect((await pgError(accept(x, req.id))).code).toBe('PT404');
    expect((await pgError(decline(x, req.id))).code).toBe('PT404');
    expect((await pgError(cancel(x, req.id))).code).toBe('PT404');
    expect((await pgError(removeFriend(x, a))).code).toBe('PT404');
    expect((await rowsBetween(a, b)).map((r) => r.status)).toEqual(['pending']);
  });
});

// =============================================================================
describe('as a blocked user', () => {
  it('blocking ends the friendship; the blocker sees the block, the blocked user does not', async () => {
    const [a, b] = [await createUser(), await createUser()];
    await accept(b, (await send(a, b)).id);
    const blk = await block(a, b);
    expect(blk).toMatchObject({ requester_id: a, addressee_id: b, status: 'blocked' });
    expect((await rowsBetween(a, b)).map((r) => r.status)).toEqual(['blocked']);
    expect(await visible(a, blk.id)).toEqual([{ id: blk.id, status: 'blocked' }]);
    expect(await visible(b, blk.id)).toEqual([]);
    expect(await asUser(b, (tx) => tx`select * from public.friends where requester_id = ${a} or addressee_id = ${a}`)).toEqual([]);
  });

  it('blocking withdraws a pending request, whichever side sent it', async () => {
    const [a, b] = [await createUser(), await createUser()];
    await send(b, a);
    await block(a, b);
    expect((await rowsBetween(a, b)).map((r) => r.status)).toEqual(['blocked']);
  });

  it('cannot send a friend request to the blocker, nor receive one from them (42501)', async () => {
    const [a, b] = [await createUser(), await createUser()];
    await block(a, b);
    const e1 = await pgError(send(b, a));
    expect(e1.code).toBe('42501');
    expect((await pgError(send(a, b))).code).toBe('42501');
    expect(await notificationsOf(a)).toEqual([]);
    expect(await notificationsOf(b)).toEqual([]);
  });

  it('may block back independently; lifting one block leaves the other in force', async () => {
    const [a, b] = [await createUser(), await createUser()];
    await block(a, b);
    const back = await block(b, a);
    expect(back).toMatchObject({ requester_id: b, addressee_id: a, status: 'blocked' });
    await unblock(a, b);
    expect((await rowsBetween(a, b)).map((r) => [r.requester_id, r.status])).toEqual([[b, 'blocked']]);
    expect((await pgError(send(a, b))).code).toBe('42501');
    await unblock(b, a);
    expect((await send(a, b)).status).toBe('pending');
  });

  it('cannot lift the block placed on them', async () => {
    const [a, b] = [await createUser(), await createUser()];
    await block(a, b);
    await unblock(b, a); // a no-op: it is not b's block
    expect((await rowsBetween(a, b)).map((r) => r.status)).toEqual(['blocked']);
  });

  it('block_user is idempotent; blocking oneself is 22023, an unknown user PT404', async () => {
    const [a, b] = [await createUser(), await createUser()];
    const first = await block(a, b);
    expect((await block(a, b)).id).toBe(first.id);
    expect(await rowsBetween(a, b)).toHaveLength(1);
    expect((await pgError(block(a, a))).code).toBe('22023');
    expect((await pgError(block(a, newUserId()))).code).toBe('PT404');
  });
});

// =============================================================================
describe('as a user with no profile yet', () => {
  it('cannot send a request or block before ensure_profile() (PT404), and can after', async () => {
    const [n, b] = [newUserId(), await createUser()];
    expect((await pgError(send(n, b))).code).toBe('PT404');
    expect((await pgError(block(n, b))).code).toBe('PT404');
    await asUser(n, (tx) => tx`select public.ensure_profile()`);
    expect((await send(n, b)).status).toBe('pending');
  });

  it('cannot be asked or blocked while they have no profile (PT404)', async () => {
    const [a, n] = [await createUser(), newUserId()];
    expect((await pgError(send(a, n))).code).toBe('PT404');
    expect((await pgError(block(a, n))).code).toBe('PT404');
  });

  it('sees no friends rows', async () => {
    expect(await asUser(newUserId(), (tx) => tx`select * from public.friends`)).toEqual([]);
  });
});

// =============================================================================
describe('as anon', () => {
  it('cannot read friends or call any friends RPC (42501)', async () => {
    const [a, b] = [await createUser(), await createUser()];
    const req = await send(a, b);
    expect((await pgError(asAnon((tx) => tx`select * from public.friends`))).code).toBe('42501');
    for (const q of [
      (tx: any) => tx`select public.send_friend_request(${a})`,
      (tx: any) => tx`select public.accept_friend_request(${req.id})`,
      (tx: any) => tx`select public.decline_friend_request(${req.id})`,
      (tx: any) => tx`select public.cancel_friend_request(${req.id})`,
      (tx: any) => tx`select public.remove_friend(${a})`,
      (tx: any) => tx`select public.block_user(${a})`,
      (tx: any) => tx`select public.unblock_user(${a})`,
    ]) {
      expect((await pgError(asAnon(q))).code).toBe('42501');
    }
    expect((await rowsBetween(a, b)).map((r) => r.status)).toEqual(['pending']);
  });
});

// =============================================================================
describe('as the service role', () => {
  it('reads every row, blocks included', async () => {
    const [a, b] = [await createUser(), await createUser()];
    const blk = await block(a, b);
    expect(await asService((tx) => tx`select status from public.friends where id = ${blk.id}`)).toEqual([{ status: 'blocked' }]);
  });

  it('has no caller identity for the RPCs (42501 not signed in)', async () => {
    const a = await createUser();
    const err = await pgError(asService((tx) => tx`select public.send_friend_request(${a})`));
    expect(err.code).toBe('42501');
    expect(err.message).toMatch(/not signed in/);
  });

  it('the database still keeps one live row per pair (23505) and no self-friendship (23514)', async () => {
    const [a, b] = [await createUser(), await createUser()];
    await send(a, b);
    expect((await pgError(asService((tx) => tx`insert into public.friends (requester_id, addressee_id) values (${b}, ${a})`))).code).toBe('23505');
    expect((await pgError(asService((tx) => tx`insert into public.friends (requester_id, addressee_id) values (${a}, ${a})`))).code).toBe('23514');
  });
});
