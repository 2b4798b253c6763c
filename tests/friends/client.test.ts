/**
 * friends and its RPCs through supabase-js, as each actor
 * (20261122080300_friends.sql): send_friend_request, accept_friend_request,
 * decline_friend_request, cancel_friend_request, remove_friend, block_user,
 * unblock_user, search_users. Rows change only through the RPCs; a blocked
 * user never reads the block row; someone else's request answers like no
 * request.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { anonClient, clientAs } from '../helpers/client.js';
import { closeDb, owner } from '../helpers/db.js';
import { buildWorld, expectNoPrivilege, expectNotFound, expectRefused, freshUsers, ok, randomUUID, type World } from '../helpers/world.js';

afterAll(closeDb);

let w: World;
beforeAll(async () => {
  w = await buildWorld();
});

const rowsBetween = async (a: string, b: string) =>
  (await owner()`select status::text from public.friends
                 where (requester_id = ${a} and addressee_id = ${b}) or (requester_id = ${b} and addressee_id = ${a})
                 order by status`).map((r) => r.status as string);

describe('friends table', () => {
  it('both sides read their friendship; an outsider reads nothing, even by id or with a count', async () => {
    expect(ok(await w.as.alice.from('friends').select('id, status').eq('id', w.friendship))).toEqual([{ id: w.friendship, status: 'accepted' }]);
    expect(ok(await w.as.bob.from('friends').select('id').eq('id', w.friendship))).toHaveLength(1);
    const outsider = await w.as.dave.from('friends').select('id', { count: 'exact' }).eq('id', w.friendship);
    expect([ok(outsider), outsider.count]).toEqual([[], 0]);
    expect(ok(await w.as.dave.from('friends').select('id').or(`requester_id.eq.${w.alice},addressee_id.eq.${w.alice}`))).toEqual([]);
  });

  it('the blocker reads the block; the blocked user does not, in any shape (filter, count, embed, CSV)', async () => {
    expect(ok(await w.as.alice.from('friends').select('status').eq('addressee_id', w.eve))).toEqual([{ status: 'blocked' }]);
    const eve = w.as.eve;
    const count = await eve.from('friends').select('*', { count: 'exact', head: true });
    expect(count.count).toBe(0);
    expect(ok(await eve.from('friends').select('id').eq('status', 'blocked'))).toEqual([]);
    expect(ok(await eve.from('users').select('id, blocks:friends!requester_id(status)').eq('id', w.alice))).toEqual([{ id: w.alice, blocks: [] }]);
    expect(['', 'id,status']).toContain((ok(await eve.from('friends').select('id, status').csv()) as unknown as string).trim());
  });

  it('embedding a friend\'s profile never embeds their account (email null)', async () => {
    const rows = ok(await w.as.alice.from('friends')
      .select('id, addressee:users!addressee_id(id, user_accounts(email)), requester:users!requester_id(id)').eq('id', w.friendship));
    expect(rows).toEqual([{ id: w.friendship, addressee: { id: w.bob, user_accounts: null }, requester: { id: w.alice } }]);
  });

  it('insert, update, upsert (onConflict id) and delete are 403 for members; 401 for anon; nothing changes', async () => {
    expectNoPrivilege(await w.as.dave.from('friends').insert({ requester_id: w.dave, addressee_id: w.alice, status: 'accepted' }).select());
    expectNoPrivilege(await w.as.eve.from('friends').update({ status: 'accepted' }).eq('addressee_id', w.eve));
    expectNoPrivilege(await w.as.eve.from('friends').upsert({ id: w.friendship, requester_id: w.eve, addressee_id: w.alice, status: 'accepted' }, { onConflict: 'id' }));
    expectNoPrivilege(await w.as.eve.from('friends').delete().eq('addressee_id', w.eve));
    expectNoPrivilege(await w.as.bob.from('friends').delete().eq('id', w.friendship));
    expectNoPrivilege(await anonClient().from('friends').select('id'), true);
    expect(await rowsBetween(w.alice, w.eve)).toEqual(['blocked']);
    expect(await rowsBetween(w.alice, w.bob)).toEqual(['accepted']);
    expect(await rowsBetween(w.dave, w.alice)).toEqual([]);
  });
});

describe('friend request RPCs', () => {
  it('send → accept; the requester cannot accept their own request; a third user cannot either (404 like no request)', async () => {
    const [a, b, c] = await freshUsers(3);
    const req = ok(await clientAs(a!).rpc('send_friend_request', { p_user_id: b! }));
    expect(req).toMatchObject({ requester_id: a, addressee_id: b, status: 'pending' });
    expectNotFound(await clientAs(a!).rpc('accept_friend_request', { p_request_id: req.id }));
    const stranger = await clientAs(c!).rpc('accept_friend_request', { p_request_id: req.id });
    const none = await clientAs(c!).rpc('accept_friend_request', { p_request_id: randomUUID() });
    expectNotFound(stranger);
    expectNotFound(none);
    expect(stranger.error!.message.replace(req.id, 'X')).toBe(none.error!.message.replace(/[0-9a-f-]{36}/, 'X'));
    expect(ok(await clientAs(b!).rpc('accept_friend_request', { p_request_id: req.id }))).toMatchObject({ status: 'accepted' });
    expectRefused(await clientAs(a!).rpc('send_friend_request', { p_user_id: b! }), 409, '23505');
  });

  it('decline and cancel: only the addressee declines, only the requester cancels', async () => {
    const [a, b, c] = await freshUsers(3);
    const r1 = ok(await clientAs(a!).rpc('send_friend_request', { p_user_id: b! }));
    expectNotFound(await clientAs(c!).rpc('decline_friend_request', { p_request_id: r1.id }));
    expectNotFound(await clientAs(a!).rpc('decline_friend_request', { p_request_id: r1.id }));
    expectNotFound(await clientAs(b!).rpc('cancel_friend_request', { p_request_id: r1.id }));
    expectNotFound(await clientAs(c!).rpc('cancel_friend_request', { p_request_id: r1.id }));
    expect(await rowsBetween(a!, b!)).toEqual(['pending']);
    ok(await clientAs(a!).rpc('cancel_friend_request', { p_request_id: r1.id }));
    expect(await rowsBetween(a!, b!)).toEqual([]);
    const r2 = ok(await clientAs(b!).rpc('send_friend_request', { p_user_id: a! }));
    expect(ok(await clientAs(a!).rpc('decline_friend_request', { p_request_id: r2.id }))).toMatchObject({ status: 'declined' });
  });

  it('to oneself: 400; to an unknown user: 404; across a block either way: 403 with the same message', async () => {
    expectRefused(await w.as.dave.rpc('send_friend_request', { p_user_id: w.dave }), 400, '22023');
    expectNotFound(await w.as.dave.rpc('send_friend_request', { p_user_id: 'user_doesNotExist000000' }));
    const byBlocked = await w.as.eve.rpc('send_friend_request', { p_user_id: w.alice });
    const byBlocker = await w.as.alice.rpc('send_friend_request', { p_user_id: w.eve });
    expectRefused(byBlocked, 403, '42501');
    expectRefused(byBlocker, 403, '42501');
    expect(byBlocked.error!.message).toBe(byBlocker.error!.message);
    expect(await rowsBetween(w.alice, w.eve)).toEqual(['blocked']);
  });

  it('remove_friend: only between friends (404 otherwise); ends the friendship for both', async () => {
    const [a, b, c] = await freshUsers(3);
    const r = ok(await clientAs(a!).rpc('send_friend_request', { p_user_id: b! }));
    ok(await clientAs(b!).rpc('accept_friend_request', { p_request_id: r.id }));
    expectNotFound(await clientAs(c!).rpc('remove_friend', { p_user_id: a! }));
    expect(await rowsBetween(a!, b!)).toEqual(['accepted']);
    ok(await clientAs(b!).rpc('remove_friend', { p_user_id: a! }));
    expect(await rowsBetween(a!, b!)).toEqual([]);
  });

  it('block_user ends a friendship and is idempotent; unblock_user lifts only the caller\'s own block', async () => {
    const [a, b] = await freshUsers(2);
    const r = ok(await clientAs(a!).rpc('send_friend_request', { p_user_id: b! }));
    ok(await clientAs(b!).rpc('accept_friend_request', { p_request_id: r.id }));
    const block = ok(await clientAs(a!).rpc('block_user', { p_user_id: b! }));
    expect(ok(await clientAs(a!).rpc('block_user', { p_user_id: b! }))).toMatchObject({ id: block.id, status: 'blocked' });
    expect(await rowsBetween(a!, b!)).toEqual(['blocked']);
    // The blocked side "unblocks": their call succeeds (idempotent) but lifts nothing.
    ok(await clientAs(b!).rpc('unblock_user', { p_user_id: a! }));
    expect(await rowsBetween(a!, b!)).toEqual(['blocked']);
    ok(await clientAs(a!).rpc('unblock_user', { p_user_id: b! }));
    expect(await rowsBetween(a!, b!)).toEqual([]);
    expectRefused(await clientAs(a!).rpc('block_user', { p_user_id: a! }), 400, '22023');
    expectNotFound(await clientAs(a!).rpc('block_user', { p_user_id: 'user_doesNotExist000000' }));
  });

  it('anon is refused by every friends RPC (401)', async () => {
    const anon = anonClient();
    const id = randomUUID();
    for (const res of [
      await anon.rpc('send_friend_request', { p_user_id: w.alice }),
      await anon.rpc('accept_friend_request', { p_request_id: id }),
      await anon.rpc('decline_friend_request', { p_request_id: id }),
      await anon.rpc('cancel_friend_request', { p_request_id: id }),
      await anon.rpc('remove_friend', { p_user_id: w.alice }),
      await anon.rpc('block_user', { p_user_id: w.alice }),
      await anon.rpc('unblock_user', { p_user_id: w.alice }),
      await anon.rpc('search_users', { p_query: 'Client' }),
    ]) expectRefused(res, 401, '42501');
  });

  it('unexpected argument types, extra and missing arguments: 400 / 404, never 5xx', async () => {
    expectRefused(await w.as.dave.rpc('accept_friend_request', { p_request_id: 'not-a-uuid' }), 400, '22P02');
    expectRefused(await w.as.dave.rpc('accept_friend_request', { p_request_id: 42 } as never), 400, '22P02');
    expectRefused(await w.as.dave.rpc('send_friend_request', { p_user_id: w.alice, p_status: 'accepted' } as never), 404, 'PGRST202');
    expectRefused(await w.as.dave.rpc('send_friend_request', {} as never), 404, 'PGRST202');
    // An array where text is expected arrives as its JSON text: an unknown user.
    expectNotFound(await w.as.dave.rpc('block_user', { p_user_id: [w.alice] } as never));
    expect(await rowsBetween(w.dave, w.alice)).toEqual([]);
  });
});

describe('HTTP status of "not found"', () => {
  // Was a bug: P0002 answered HTTP 500 through PostgREST 12 (P0* except P0001
  // → 500); "not found" is now PT404 → 404.
  it('send_friend_request to an unknown user, accept of an unknown request: 404 with a PostgREST error body', async () => {
    expectNotFound(await w.as.dave.rpc('send_friend_request', { p_user_id: 'user_doesNotExist000000' }));
    expectNotFound(await w.as.dave.rpc('accept_friend_request', { p_request_id: randomUUID() }));
  });
});

describe('search_users', () => {
  it('finds by name, never the caller, never users in a block either way, never an email', async () => {
    const tag = `Zq${randomUUID().slice(0, 6)}`;
    const [me, other, blocker, blockedByMe] = await freshUsers(4);
    for (const u of [me, other, blocker, blockedByMe]) await owner()`update public.users set display_name = ${`${tag} person`} where id = ${u!}`;
    ok(await clientAs(blocker!).rpc('block_user', { p_user_id: me! }));
    ok(await clientAs(me!).rpc('block_user', { p_user_id: blockedByMe! }));
    const found = ok(await clientAs(me!).rpc('search_users', { p_query: tag }));
    expect(found.map((r) => r.id)).toEqual([other]);
    expect(Object.keys(found[0]!).sort()).toEqual(['about', 'avatar_url', 'display_name', 'id', 'username']);
    // The blocker does not find the blocked user either.
    expect(ok(await clientAs(blocker!).rpc('search_users', { p_query: tag })).map((r) => r.id).sort()).toEqual([other, blockedByMe].sort());
  });

  it('p_limit is clamped to 1..50; a query under 2 characters is 400', async () => {
    const [me] = await freshUsers(1);
    expect(ok(await clientAs(me!).rpc('search_users', { p_query: 'Client', p_limit: 100000 })).length).toBeLessThanOrEqual(50);
    expect(ok(await clientAs(me!).rpc('search_users', { p_query: 'Client', p_limit: -5 }))).toHaveLength(1);
    expectRefused(await clientAs(me!).rpc('search_users', { p_query: ' a ' }), 400, '22023');
    expectRefused(await clientAs(me!).rpc('search_users', { p_query: 'Client', p_limit: 'many' } as never), 400, '22P02');
  });

  it('called with GET (a read-only transaction) it is refused, not run without its rate limit', async () => {
    const [me] = await freshUsers(1);
    const res = await clientAs(me!).rpc('search_users', { p_query: 'Client' }, { get: true });
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(res.error?.code).toBe('25006');
  });
});
