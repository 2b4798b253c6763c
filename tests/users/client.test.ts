/**
 * users, user_accounts and ensure_profile() through supabase-js, as each actor
 * (20261122080100_users.sql, 20261122130000_media_uploads.sql): who reads
 * which profile and account, which columns a user may write, and the
 * PostgREST features an attacker would use to reach another user's email or
 * admin flag (embedding, filters, ordering, counts, CSV, upserts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { anonClient, clientAs, serviceClient } from '../helpers/client.js';
import { closeDb, createUser, newUserId, owner } from '../helpers/db.js';
import { expectNoPrivilege, expectRefused, freshUsers, ok, recordMedia, rest } from '../helpers/world.js';

afterAll(closeDb);

let alice: string;
let bob: string;
const email = (u: string) => `${u.toLowerCase()}@example.com`;
const profile = async (u: string) =>
  (await owner()`select display_name, username::text, avatar_url, avatar_media_id, about, last_seen_at from public.users where id = ${u}`)[0]!;
const account = async (u: string) =>
  (await owner()`select email, is_admin, suspended_at from public.user_accounts where user_id = ${u}`)[0]!;

beforeAll(async () => {
  [alice, bob] = await freshUsers(2);
});

describe('users: read', () => {
  it('a signed-in user reads any profile; anon reads none (401)', async () => {
    const rows = ok(await clientAs(alice).from('users').select('id, display_name').in('id', [alice, bob]));
    expect(rows.map((r) => r.id).sort()).toEqual([alice, bob].sort());
    expectNoPrivilege(await anonClient().from('users').select('id').limit(1), true);
    const head = await anonClient().from('users').select('id', { count: 'exact', head: true });
    expect([head.status, head.count ?? null]).toEqual([401, null]); // HEAD: no body, no count
  });

  it('users has no private column: select=email and ?email=eq. are 400 (unknown column), not an oracle', async () => {
    expectRefused(await clientAs(alice).from('users').select('id, email' as never), 400, '42703');
    expectRefused(await clientAs(alice).from('users').select('id').eq('email' as never, email(bob)), 400, '42703');
  });
});

describe('users: write', () => {
  it('the owner updates display_name and about, with Prefer: return=representation', async () => {
    const rows = ok(await clientAs(alice).from('users').update({ display_name: 'Alice Client', about: 'hi' }).eq('id', alice).select());
    expect(rows).toMatchObject([{ id: alice, display_name: 'Alice Client', about: 'hi' }]);
  });

  it("another user's profile: update by id changes nothing and returns no row", async () => {
    const before = await profile(bob);
    const rows = ok(await clientAs(alice).from('users').update({ display_name: 'pwned', about: 'pwned' }).eq('id', bob).select());
    expect(rows).toEqual([]);
    expect(await profile(bob)).toEqual(before);
  });

  it('a bulk update without a filter reaches only the caller\'s own row', async () => {
    const before = await profile(bob);
    const res = await rest(alice, '/users', { method: 'PATCH', body: JSON.stringify({ about: 'bulk' }), headers: { prefer: 'return=representation' } });
    if (res.status < 300) expect(res.body.map((r: { id: string }) => r.id)).toEqual([alice]);
    else expect(res.status).toBeLessThan(500); // pg-safeupdate on hosted: 400 "UPDATE requires a WHERE clause"
    expect(await profile(bob)).toEqual(before);
  });

  it('username (Clerk\'s), id, created_at: 403 permission denied, nothing changed', async () => {
    const before = await profile(alice);
    expectNoPrivilege(await clientAs(alice).from('users').update({ username: 'squatted_handle' }).eq('id', alice));
    expectNoPrivilege(await clientAs(alice).from('users').update({ id: newUserId() }).eq('id', alice));
    expectNoPrivilege(await clientAs(alice).from('users').update({ created_at: '2000-01-01T00:00:00Z' }).eq('id', alice));
    expect(await profile(alice)).toEqual(before);
  });

  it('insert, upsert (onConflict id) and delete: 403, nothing written', async () => {
    const id = newUserId();
    expectNoPrivilege(await clientAs(id).from('users').insert({ id, display_name: 'self-made' }));
    expectNoPrivilege(await clientAs(alice).from('users').upsert({ id: bob, display_name: 'pwned' }, { onConflict: 'id' }).select());
    expectNoPrivilege(await clientAs(alice).from('users').delete().eq('id', alice));
    expect((await owner()`select count(*)::int as n from public.users where id = ${id}`)[0]!.n).toBe(0);
    expect((await profile(bob)).display_name).not.toBe('pwned');
  });

  it('avatar_url: Clerk\'s image host is accepted, any other URL refused (22023)', async () => {
    ok(await clientAs(alice).from('users').update({ avatar_url: 'https://img.clerk.com/abc.png' }).eq('id', alice));
    expectRefused(await clientAs(alice).from('users').update({ avatar_url: 'https://evil.example/track.png' }).eq('id', alice), 400, '22023');
    expect((await profile(alice)).avatar_url).toBe('https://img.clerk.com/abc.png');
  });

  it("avatar_media_id: one's own avatar upload is accepted; another user's upload or a chat image is refused (42501)", async () => {
    const mine = await recordMedia(alice, 'avatar');
    const theirs = await recordMedia(bob, 'avatar');
    const chatImage = await recordMedia(alice, 'chat_image');
    const rows = ok(await clientAs(alice).from('users').update({ avatar_media_id: mine.id }).eq('id', alice).select('avatar_url'));
    expect(rows).toEqual([{ avatar_url: mine.secure_url }]);
    expectRefused(await clientAs(alice).from('users').update({ avatar_media_id: theirs.id }).eq('id', alice), 403, '42501');
    expectRefused(await clientAs(alice).from('users').update({ avatar_media_id: chatImage.id }).eq('id', alice), 403, '42501');
    expect((await profile(alice)).avatar_media_id).toBe(mine.id);
  });

  it('last_seen_at in the future becomes the server\'s now', async () => {
    ok(await clientAs(alice).from('users').update({ last_seen_at: '2999-01-01T00:00:00Z' }).eq('id', alice));
    const seen = (await profile(alice)).last_seen_at as Date;
    expect(Math.abs(seen.getTime() - Date.now())).toBeLessThan(60_000);
  });
});

describe('user_accounts: only one\'s own, in every PostgREST shape', () => {
  it('select, filters and counts show the caller\'s own account only', async () => {
    const c = clientAs(alice);
    expect(ok(await c.from('user_accounts').select('user_id, email'))).toEqual([{ user_id: alice, email: email(alice) }]);
    expect(ok(await c.from('user_accounts').select('user_id').eq('user_id', bob))).toEqual([]);
    // An email filter is no oracle: the victim's real address answers like an unknown one.
    const real = await c.from('user_accounts').select('user_id', { count: 'exact' }).eq('email', email(bob));
    const fake = await c.from('user_accounts').select('user_id', { count: 'exact' }).eq('email', 'nobody@example.com');
    expect([ok(real), real.count]).toEqual([[], 0]);
    expect([ok(fake), fake.count]).toEqual([[], 0]);
    const head = await c.from('user_accounts').select('*', { count: 'exact', head: true });
    expect(head.count).toBe(1);
    const likeAll = ok(await c.from('user_accounts').select('user_id').like('email', '%@%'));
    expect(likeAll).toEqual([{ user_id: alice }]);
  });

  it('embedding users → user_accounts shows other users\' accounts as null', async () => {
    const rows = ok(await clientAs(alice).from('users').select('id, user_accounts(email, is_admin)').in('id', [alice, bob]).order('id'));
    const byId = Object.fromEntries(rows.map((r) => [r.id, r.user_accounts]));
    expect(byId[alice]).toEqual({ email: email(alice), is_admin: false });
    expect(byId[bob]).toBeNull();
  });

  it('an !inner embed filtered on another user\'s email finds nothing (no oracle)', async () => {
    const hit = ok(await clientAs(alice).from('users').select('id, user_accounts!inner(email)').eq('user_accounts.email', email(bob)));
    expect(hit).toEqual([]);
    const isAdmin = await clientAs(alice).from('users').select('id, user_accounts!inner(is_admin)', { count: 'exact' }).eq('user_accounts.is_admin', true);
    expect(ok(isAdmin)).toEqual([]);
    expect(isAdmin.count).toBe(0);
  });

  it('ordering users by an embedded email does not sort by hidden emails', async () => {
    // Emails sorted the opposite way to ids: if hidden emails leaked into the
    // ORDER BY, the order would be reversed.
    const ids = [newUserId(), newUserId()].sort();
    await createUser({ id: ids[0], email: 'zzz-last@example.com' });
    await createUser({ id: ids[1], email: 'aaa-first@example.com' });
    const rows = ok(await clientAs(alice).from('users').select('id, user_accounts(email)').in('id', ids)
      .order('user_accounts(email)' as never, { ascending: true }).order('id'));
    expect(rows.map((r) => r.id)).toEqual(ids);
    expect(rows.every((r) => r.user_accounts === null)).toBe(true);
  });

  it('CSV output holds the caller\'s own account only', async () => {
    const csv = ok(await clientAs(alice).from('user_accounts').select('user_id, email').csv()) as unknown as string;
    const lines = csv.trim().split('\n');
    expect(lines).toEqual(['user_id,email', `${alice},${email(alice)}`]);
  });

  it('is_admin, email, suspended_at cannot be written: update, upsert, insert, delete are 403', async () => {
    const c = clientAs(alice);
    expectNoPrivilege(await c.from('user_accounts').update({ is_admin: true }).eq('user_id', alice).select());
    expectNoPrivilege(await c.from('user_accounts').upsert({ user_id: alice, is_admin: true }, { onConflict: 'user_id' }).select());
    expectNoPrivilege(await c.from('user_accounts').update({ suspended_at: null }).eq('user_id', alice));
    expectNoPrivilege(await c.from('user_accounts').update({ email: 'taken@example.com' }).eq('user_id', alice));
    expectNoPrivilege(await c.from('user_accounts').delete().eq('user_id', alice));
    const id = newUserId();
    expectNoPrivilege(await clientAs(id).from('user_accounts').insert({ user_id: id, is_admin: true }));
    expect(await account(alice)).toMatchObject({ is_admin: false, email: email(alice) });
  });

  it('anon reads no account (401)', async () => {
    expectNoPrivilege(await anonClient().from('user_accounts').select('email'), true);
    expectNoPrivilege(await anonClient().from('user_accounts').select('email').eq('email', email(alice)), true);
  });

  it('the secret key (service role) reads every account: the server-side path', async () => {
    expect(ok(await serviceClient().from('user_accounts').select('user_id').eq('user_id', bob))).toEqual([{ user_id: bob }]);
  });
});

describe('ensure_profile()', () => {
  it('creates the caller\'s profile from their token once; a second call returns it unchanged', async () => {
    const id = newUserId();
    const first = ok(await clientAs(id, { claims: { name: 'Fresh Person', email: `${id.toLowerCase()}@example.com` } }).rpc('ensure_profile'));
    expect(first).toMatchObject({ id, display_name: 'Fresh Person' });
    const again = ok(await clientAs(id, { claims: { name: 'Renamed In Token' } }).rpc('ensure_profile'));
    expect(again).toMatchObject({ id, display_name: 'Fresh Person' });
    expect(await account(id)).toMatchObject({ email: `${id.toLowerCase()}@example.com`, is_admin: false });
  });

  it('token claims cannot make an admin, squat a taken username or set a foreign avatar', async () => {
    const [holder] = await freshUsers(1);
    const handle = `h${holder!.slice(-10).toLowerCase()}`;
    await owner()`update public.users set username = ${handle} where id = ${holder!}`;
    const id = newUserId();
    const p = ok(await clientAs(id, {
      claims: { is_admin: true, public_metadata: { is_admin: true }, username: handle.toUpperCase(), image_url: 'https://evil.example/x.png' },
    }).rpc('ensure_profile'));
    expect(p).toMatchObject({ id, username: null, avatar_url: null });
    expect(await account(id)).toMatchObject({ is_admin: false });
  });

  it('anon: 401; extra arguments: 404 PGRST202 (no such function), nothing created', async () => {
    expectRefused(await anonClient().rpc('ensure_profile'), 401, '42501');
    const id = newUserId();
    expectRefused(await clientAs(id).rpc('ensure_profile', { p_is_admin: true } as never), 404, 'PGRST202');
    expect((await owner()`select count(*)::int as n from public.users where id = ${id}`)[0]!.n).toBe(0);
  });
});
