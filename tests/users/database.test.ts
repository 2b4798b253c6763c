/**
 * 02 — users, user_accounts, ensure_profile() and search_users(), one section
 * per actor: the profile's owner, another signed-in user, a blocked user, a
 * user whose webhook has not arrived yet (valid token, no row), anon, and the
 * service role (clerk-webhook).
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asAnon, asService, asUser, closeDb, createUser, newUserId, owner, pgError } from '../helpers/db.js';

afterAll(closeDb);

/** A random lowercase marker, unique to this run, so searches only see this file's users. */
const letters = (n: number) =>
  Array.from(randomBytes(n), (b) => String.fromCharCode(97 + (b % 26))).join('');
const mk = `Zq${letters(8)}`;
const handle = (s: string) => `${mk.toLowerCase()}_${s}`;

let alice: string; // owner of the profile under test
let bob: string; // another signed-in user
let mallory: string; // blocked by alice
let carol: string; // blocks alice

beforeAll(async () => {
  alice = await createUser({ display_name: `${mk} Alice`, username: handle('alice'), email: 'alice@example.com' });
  bob = await createUser({ display_name: `${mk} Bob`, username: handle('bob'), email: 'bob@example.com' });
  mallory = await createUser({ display_name: `${mk} Mallory`, username: handle('mallory'), email: 'mallory@example.com' });
  carol = await createUser({ display_name: `${mk} Carol`, username: handle('carol'), email: 'carol@example.com' });
  await asUser(alice, (tx) => tx`select public.block_user(${mallory})`);
  await asUser(carol, (tx) => tx`select public.block_user(${alice})`);
});

const profileOf = async (id: string) => (await owner()`select * from public.users where id = ${id}`)[0];

// =============================================================================
// users
// =============================================================================
describe('users', () => {
  it('has no email column: emails live in user_accounts only', async () => {
    const cols = await owner()`
      select column_name from information_schema.columns where table_schema = 'public' and table_name = 'users'`;
    expect(cols.map((c) => c.column_name)).toContain('display_name');
    expect(cols.filter((c) => /mail/i.test(c.column_name))).toEqual([]);
  });

  describe('as the profile owner', () => {
    it('reads their own profile and everyone else’s', async () => {
      const rows = await asUser(alice, (tx) => tx`select id from public.users where id in (${alice}, ${bob})`);
      expect(rows.map((r) => r.id).sort()).toEqual([alice, bob].sort());
    });

    it('edits display_name, avatar_url (Clerk image host), about and last_seen_at; updated_at moves', async () => {
      const before = await profileOf(alice);
      const [row] = await asUser(alice, (tx) => tx`
        update public.users
        set display_name = ${`${mk} Alice A.`}, about = 'hello',
            avatar_url = 'https://img.clerk.com/alice.png', last_seen_at = now()
        where id = ${alice}
        returning display_name, about, avatar_url, last_seen_at, updated_at`);
      expect(row).toMatchObject({
        display_name: `${mk} Alice A.`,
        about: 'hello',
        avatar_url: 'https://img.clerk.com/alice.png',
      });
      expect(row!.last_seen_at).toBeInstanceOf(Date);
      expect(row!.updated_at.getTime()).toBeGreaterThan(before!.updated_at.getTime());
      await asUser(alice, (tx) => tx`update public.users set display_name = ${`${mk} Alice`} where id = ${alice}`);
    });

    it('cannot change their username: it is Clerk\'s (column privileges: 42501)', async () => {
      const err = await pgError(asUser(alice, (tx) => tx`update public.users set username = ${handle('alice2')} where id = ${alice}`));
      expect(err.code).toBe('42501');
      expect((await profileOf(alice))!.username).toBe(handle('alice'));
    });

    it('cannot change id or created_at (column privileges: 42501)', async () => {
      for (const q of [
        (tx: any) => tx`update public.users set id = ${newUserId()} where id = ${alice}`,
        (tx: any) => tx`update public.users set created_at = now() - interval '1 year' where id = ${alice}`,
        (tx: any) => tx`update public.users set updated_at = now() - interval '1 year' where id = ${alice}`,
      ]) {
        const err = await pgError(asUser(alice, q));
        expect(err.code).toBe('42501');
        expect(err.message).toMatch(/permission denied/);
      }
    });

    it('cannot set an avatar outside Clerk\'s image host or their own upload (22023)', async () => {
      for (const url of ['http://x/y.png', 'https://evil.example/y.png', 'https://res.cloudinary.com/demo/a.png']) {
        expect((await pgError(asUser(alice, (tx) => tx`update public.users set avatar_url = ${url} where id = ${alice}`))).code).toBe('22023');
      }
    });

    it('cannot insert or delete profiles (42501)', async () => {
      expect((await pgError(asUser(alice, (tx) => tx`insert into public.users (id, display_name) values (${newUserId()}, 'x')`))).code).toBe('42501');
      expect((await pgError(asUser(alice, (tx) => tx`delete from public.users where id = ${alice}`))).code).toBe('42501');
      expect(await profileOf(alice)).toBeDefined();
    });
  });

  describe('as another signed-in user', () => {
    it('reads the profile but updates nothing of it (0 rows)', async () => {
      const [p] = await asUser(bob, (tx) => tx`select display_name from public.users where id = ${alice}`);
      expect(p!.display_name).toBe(`${mk} Alice`);
      const res = await asUser(bob, (tx) => tx`update public.users set display_name = 'pwned' where id = ${alice} returning id`);
      expect(res).toHaveLength(0);
      expect((await profileOf(alice))!.display_name).toBe(`${mk} Alice`);
    });
  });

  describe('as a blocked user', () => {
    it('still cannot edit the blocker’s profile', async () => {
      const res = await asUser(mallory, (tx) => tx`update public.users set about = 'x' where id = ${alice} returning id`);
      expect(res).toHaveLength(0);
    });
  });

  describe('as a user with no profile yet', () => {
    it('reads profiles, and updating their missing row changes nothing', async () => {
      const nobody = newUserId();
      expect(await asUser(nobody, (tx) => tx`select id from public.users where id = ${alice}`)).toHaveLength(1);
      expect(await asUser(nobody, (tx) => tx`update public.users set about = 'x' where id = ${nobody} returning id`)).toHaveLength(0);
      expect(await profileOf(nobody)).toBeUndefined();
    });
  });

  describe('as anon', () => {
    it('reads and writes nothing (42501)', async () => {
      expect((await pgError(asAnon((tx) => tx`select id from public.users`))).code).toBe('42501');
      expect((await pgError(asAnon((tx) => tx`update public.users set about = 'x' where id = ${alice}`))).code).toBe('42501');
      expect((await pgError(asAnon((tx) => tx`insert into public.users (id) values (${newUserId()})`))).code).toBe('42501');
    });
  });

  describe('as the service role (clerk-webhook)', () => {
    it('creates, updates and deletes users; deleting cascades to the account', async () => {
      const id = newUserId();
      await asService(async (tx) => {
        await tx`insert into public.users (id, display_name) values (${id}, 'Webhook User')`;
        await tx`insert into public.user_accounts (user_id, email, auth_provider, is_admin) values (${id}, 'w@example.com', 'google', true)`;
      });
      await asService((tx) => tx`update public.users set display_name = 'Renamed' where id = ${id}`);
      expect((await profileOf(id))!.display_name).toBe('Renamed');
      await asService((tx) => tx`delete from public.users where id = ${id}`);
      expect(await owner()`select 1 from public.user_accounts where user_id = ${id}`).toHaveLength(0);
    });

    it('refuses ids that are not Clerk user ids (23514)', async () => {
      expect((await pgError(asService((tx) => tx`insert into public.users (id) values ('not-a-clerk-id')`))).code).toBe('23514');
    });
  });
});

// =============================================================================
// user_accounts
// =============================================================================
describe('user_accounts', () => {
  describe('as the account owner', () => {
    it('reads their own email, provider and admin flag', async () => {
      const rows = await asUser(alice, (tx) => tx`select user_id, email, auth_provider, is_admin from public.user_accounts`);
      expect(rows).toEqual([{ user_id: alice, email: 'alice@example.com', auth_provider: 'email', is_admin: false }]);
    });

    it('cannot make themselves admin, change their email, insert or delete (42501)', async () => {
      for (const q of [
        (tx: any) => tx`update public.user_accounts set is_admin = true where user_id = ${alice}`,
        (tx: any) => tx`update public.user_accounts set email = 'me@evil.test' where user_id = ${alice}`,
        (tx: any) => tx`insert into public.user_accounts (user_id, is_admin) values (${alice}, true)`,
        (tx: any) => tx`delete from public.user_accounts where user_id = ${alice}`,
      ]) {
        expect((await pgError(asUser(alice, q))).code).toBe('42501');
      }
      expect((await owner()`select is_admin from public.user_accounts where user_id = ${alice}`)[0]!.is_admin).toBe(false);
    });
  });

  describe('as another signed-in user', () => {
    it('cannot see someone else’s account (empty result), only their own', async () => {
      expect(await asUser(bob, (tx) => tx`select * from public.user_accounts where user_id = ${alice}`)).toHaveLength(0);
      const all = await asUser(bob, (tx) => tx`select user_id from public.user_accounts`);
      expect(all.map((r) => r.user_id)).toEqual([bob]);
    });
  });

  describe('as a blocked user', () => {
    it('cannot see the blocker’s account', async () => {
      expect(await asUser(mallory, (tx) => tx`select * from public.user_accounts where user_id = ${alice}`)).toHaveLength(0);
    });
  });

  describe('as a user with no profile yet', () => {
    it('sees no account at all', async () => {
      expect(await asUser(newUserId(), (tx) => tx`select * from public.user_accounts`)).toHaveLength(0);
    });
  });

  describe('as anon', () => {
    it('is refused (42501)', async () => {
      expect((await pgError(asAnon((tx) => tx`select email from public.user_accounts`))).code).toBe('42501');
    });
  });

  describe('as the service role', () => {
    it('reads and updates any account', async () => {
      const [r] = await asService((tx) => tx`update public.user_accounts set auth_provider = 'google' where user_id = ${bob} returning email`);
      expect(r!.email).toBe('bob@example.com');
    });
  });
});

// =============================================================================
// ensure_profile()
// =============================================================================
describe('ensure_profile()', () => {
  describe('as a user with no profile yet', () => {
    it('creates the profile and account from the token claims', async () => {
      const id = newUserId();
      const uname = handle(`n${letters(4)}`);
      const [p] = await asUser(id, (tx) => tx`select * from public.ensure_profile()`, {
        name: 'Nina New',
        username: uname,
        email: 'nina@example.com',
        image_url: 'https://img.clerk.com/nina.png',
      });
      expect(p).toMatchObject({ id, display_name: 'Nina New', username: uname, avatar_url: 'https://img.clerk.com/nina.png' });
      const acc = await asUser(id, (tx) => tx`select email, is_admin, auth_provider from public.user_accounts`);
      expect(acc).toEqual([{ email: 'nina@example.com', is_admin: false, auth_provider: 'email' }]);
    });

    it('falls back to given_name and picture', async () => {
      const id = newUserId();
      const [p] = await asUser(id, (tx) => tx`select * from public.ensure_profile()`, {
        given_name: 'Gina',
        picture: 'https://lh3.googleusercontent.com/g.png',
      });
      // `picture` not on Clerk's image host is dropped (avatars come from img.clerk.com or the user's own upload).
      expect(p).toMatchObject({ display_name: 'Gina', avatar_url: null, username: null });
    });

    it('drops bad claims instead of failing: malformed or taken username, non-https avatar, email without @, is_admin', async () => {
      const id = newUserId();
      const [p] = await asUser(id, (tx) => tx`select * from public.ensure_profile()`, {
        name: 'x'.repeat(150),
        username: 'bad name!',
        email: 'not-an-email',
        image_url: 'http://insecure.example/p.png',
        is_admin: true,
        public_metadata: { is_admin: true },
      });
      expect(p).toMatchObject({ id, username: null, avatar_url: null });
      expect(p!.display_name).toBe('x'.repeat(100));
      const acc = await owner()`select email, is_admin from public.user_accounts where user_id = ${id}`;
      expect(acc).toEqual([{ email: null, is_admin: false }]);

      const id2 = newUserId();
      const [q] = await asUser(id2, (tx) => tx`select * from public.ensure_profile()`, { username: handle('ALICE') });
      expect(q!.username).toBeNull();
    });

    it('works without any optional claim', async () => {
      const id = newUserId();
      const [p] = await asUser(id, (tx) => tx`select * from public.ensure_profile()`);
      expect(p).toMatchObject({ id, display_name: '', username: null, avatar_url: null });
    });

    it('refuses a subject that is not a Clerk user id (23514) and creates nothing', async () => {
      const err = await pgError(asUser('user_', (tx) => tx`select * from public.ensure_profile()`));
      expect(err.code).toBe('23514');
      expect(await owner()`select 1 from public.users where id = 'user_'`).toHaveLength(0);
    });
  });

  describe('as a user whose profile exists', () => {
    it('returns the profile unchanged: the webhook, not the token, owns updates', async () => {
      const [p] = await asUser(alice, (tx) => tx`select * from public.ensure_profile()`, {
        name: 'Someone Else',
        email: 'other@example.com',
      });
      expect(p).toMatchObject({ id: alice, display_name: `${mk} Alice` });
      expect((await owner()`select email from public.user_accounts where user_id = ${alice}`)[0]!.email).toBe('alice@example.com');
    });

    it('is idempotent for a profile it created itself', async () => {
      const id = newUserId();
      await asUser(id, (tx) => tx`select public.ensure_profile()`, { name: 'First' });
      const [p] = await asUser(id, (tx) => tx`select * from public.ensure_profile()`, { name: 'Second' });
      expect(p!.display_name).toBe('First');
      expect(await owner()`select 1 from public.users where id = ${id}`).toHaveLength(1);
    });
  });

  describe('as anon', () => {
    it('is refused (42501)', async () => {
      expect((await pgError(asAnon((tx) => tx`select public.ensure_profile()`))).code).toBe('42501');
    });
  });

  describe('as the service role', () => {
    it('is refused: there is no caller to create (42501)', async () => {
      expect((await pgError(asService((tx) => tx`select public.ensure_profile()`))).code).toBe('42501');
    });
  });
});

// =============================================================================
// search_users()
// =============================================================================
describe('search_users()', () => {
  const search = (who: string, q: string, limit = 20) =>
    asUser(who, (tx) => tx`select * from public.search_users(${q}, ${limit}::int)`);

  describe('as a signed-in user', () => {
    it('finds users by display-name prefix, never the caller', async () => {
      const rows = await search(bob, mk);
      const ids = rows.map((r) => r.id);
      expect(ids).toEqual(expect.arrayContaining([alice, mallory, carol]));
      expect(ids).not.toContain(bob);
    });

    it('finds by username and by a near miss (trigram similarity), best match first', async () => {
      expect((await search(bob, handle('ali'))).map((r) => r.id)[0]).toBe(alice);
      expect((await search(bob, handle('mallory'))).map((r) => r.id)[0]).toBe(mallory);
      expect((await search(bob, `${mk} Alise`)).map((r) => r.id)[0]).toBe(alice);
    });

    it('returns public profile fields only, never an email', async () => {
      const rows = await search(bob, mk);
      expect(rows.length).toBeGreaterThan(0);
      for (const r of rows) {
        expect(Object.keys(r).sort()).toEqual(['about', 'avatar_url', 'display_name', 'id', 'username']);
        expect(JSON.stringify(r)).not.toContain('@');
      }
    });

    it('treats % and _ as literal characters, not wildcards', async () => {
      expect(await search(bob, '%%')).toEqual([]);
      expect(await search(bob, '__')).toEqual([]);
    });

    it('refuses queries shorter than 2 characters (22023)', async () => {
      expect((await pgError(search(bob, ' a '))).code).toBe('22023');
      expect((await pgError(search(bob, ''))).code).toBe('22023');
    });

    it('clamps the limit to 1..50', async () => {
      const crowd = `Zc${letters(8)}`; // its own marker: the crowd must not flood other searches
      await asService((tx) => tx`
        insert into public.users (id, display_name)
        select 'user_' || ${crowd} || g, ${crowd} || ' ' || g from generate_series(1, 55) g`);
      expect(await search(bob, crowd, 0)).toHaveLength(1);
      expect(await search(bob, crowd, 1000)).toHaveLength(50);
      expect(await search(bob, crowd, 7)).toHaveLength(7);
    });
  });

  describe('as a blocked user', () => {
    it('never finds the user who blocked them, nor the other way round', async () => {
      const seenByMallory = (await search(mallory, mk)).map((r) => r.id);
      expect(seenByMallory).toContain(bob);
      expect(seenByMallory).not.toContain(alice);
      const seenByAlice = (await search(alice, mk)).map((r) => r.id);
      expect(seenByAlice).toContain(bob);
      expect(seenByAlice).not.toContain(mallory); // alice blocks mallory
      expect(seenByAlice).not.toContain(carol); // carol blocks alice
      expect((await search(carol, mk)).map((r) => r.id)).not.toContain(alice);
    });

    it('finds them again once every block between them is lifted', async () => {
      const u = await createUser({ display_name: `${mk} Unblocked` });
      await asUser(u, (tx) => tx`select public.block_user(${bob})`);
      expect((await search(bob, `${mk} Unblocked`)).map((r) => r.id)).not.toContain(u);
      await asUser(u, (tx) => tx`select public.unblock_user(${bob})`);
      expect((await search(bob, `${mk} Unblocked`)).map((r) => r.id)[0]).toBe(u);
    });
  });

  describe('as a user with no profile yet', () => {
    it('can search', async () => {
      expect((await search(newUserId(), handle('bob'))).map((r) => r.id)[0]).toBe(bob);
    });
  });

  describe('as anon', () => {
    it('is refused (42501)', async () => {
      expect((await pgError(asAnon((tx) => tx`select * from public.search_users(${mk})`))).code).toBe('42501');
    });
  });

  describe('as the service role', () => {
    it('is refused: search is for a signed-in caller (42501)', async () => {
      expect((await pgError(asService((tx) => tx`select * from public.search_users(${mk})`))).code).toBe('42501');
    });
  });
});

// =============================================================================
describe('a user deleted through Clerk', () => {
  it('cannot come back through ensure_profile() with a still-valid token', async () => {
    const u = await createUser();
    await asService((tx) => tx`select private.clerk_delete_user(${`msg_${u}`}, ${u}, now())`);
    expect(await owner()`select id from public.users where id = ${u}`).toEqual([]);
    const err = await pgError(asUser(u, (tx) => tx`select * from public.ensure_profile()`));
    expect(err.code).toBe('42501');
    expect(await owner()`select id from public.users where id = ${u}`).toEqual([]);
  });
});
