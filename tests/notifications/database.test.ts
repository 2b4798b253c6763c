/**
 * 06 — notifications, media and admin_config, one section per actor: the
 * owner (or an admin), another signed-in user, a blocked user, a user with no
 * profile yet, anon, and the service role (functions and webhooks).
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asAnon, asService, asUser, closeDb, createUser, newUserId, owner, pgError } from '../helpers/db.js';

afterAll(closeDb);

// =============================================================================
// notifications
// =============================================================================
describe('notifications', () => {
  let me: string, other: string, blocked: string, mine: string, theirs: string;
  beforeAll(async () => {
    [me, other, blocked] = [await createUser(), await createUser(), await createUser()];
    // Real producers: a friend request for `me`, and one for `other`.
    await asUser(other, (tx) => tx`select public.send_friend_request(${me})`);
    await asUser(me, (tx) => tx`select public.send_friend_request(${blocked})`);
    await asUser(blocked, (tx) => tx`select public.block_user(${me})`);
    mine = (await owner()`select id from public.notifications where user_id = ${me} and kind = 'friend_request'`)[0]!.id;
    theirs = (await owner()`select id from public.notifications where user_id = ${blocked} and kind = 'friend_request'`)[0]!.id;
  });

  describe('as the recipient', () => {
    it('reads their notifications, newest first', async () => {
      // (Only the social kinds: other features may add their own notifications.)
      const rows = await asUser(me, (tx) => tx`
        select id, kind, payload from public.notifications where kind like 'friend_%' order by created_at desc`);
      expect(rows).toEqual([{ id: mine, kind: 'friend_request', payload: expect.objectContaining({ from_user_id: other }) }]);
    });

    it('marks one read, and may delete it', async () => {
      const [r] = await asUser(me, (tx) => tx`update public.notifications set read_at = now() where id = ${mine} returning read_at`);
      expect(r!.read_at).toBeInstanceOf(Date);
      const extra = (await asService((tx) => tx`insert into public.notifications (user_id, kind) values (${me}, 'test.note') returning id`))[0]!.id;
      expect(await asUser(me, (tx) => tx`delete from public.notifications where id = ${extra} returning id`)).toEqual([{ id: extra }]);
    });

    it('cannot create notifications or rewrite their content, kind or owner (42501)', async () => {
      for (const q of [
        (tx: any) => tx`insert into public.notifications (user_id, kind) values (${me}, 'fake')`,
        (tx: any) => tx`update public.notifications set kind = 'low_balance' where id = ${mine}`,
        (tx: any) => tx`update public.notifications set payload = '{}' where id = ${mine}`,
        (tx: any) => tx`update public.notifications set user_id = ${other} where id = ${mine}`,
      ]) {
        expect((await pgError(asUser(me, q))).code).toBe('42501');
      }
    });

    it('cannot call private.notify (42501)', async () => {
      expect((await pgError(asUser(me, (tx) => tx`select private.notify(${other}, 'spam', '{}')`))).code).toBe('42501');
    });
  });

  describe('as another signed-in user', () => {
    it('sees none of them, and updates or deletes nothing (0 rows)', async () => {
      expect(await asUser(other, (tx) => tx`select * from public.notifications where user_id = ${me}`)).toEqual([]);
      expect(await asUser(other, (tx) => tx`update public.notifications set read_at = now() where id = ${mine} returning id`)).toEqual([]);
      expect(await asUser(other, (tx) => tx`delete from public.notifications where id = ${mine} returning id`)).toEqual([]);
      expect(await owner()`select 1 from public.notifications where id = ${mine}`).toHaveLength(1);
    });
  });

  describe('as a blocked user', () => {
    it('reads only their own (the blocked request stays theirs), never the blocker’s', async () => {
      // `me` asked `blocked`, who then blocked `me`: the request is gone, its notification is `blocked`'s.
      expect((await asUser(blocked, (tx) => tx`select id from public.notifications where kind like 'friend_%'`)).map((r) => r.id)).toEqual([theirs]);
      expect(await asUser(blocked, (tx) => tx`select id from public.notifications where user_id <> ${blocked}`)).toEqual([]);
      expect(await asUser(me, (tx) => tx`select * from public.notifications where id = ${theirs}`)).toEqual([]);
    });
  });

  describe('as a user with no profile yet', () => {
    it('has none', async () => {
      expect(await asUser(newUserId(), (tx) => tx`select * from public.notifications`)).toEqual([]);
    });
  });

  describe('as anon', () => {
    it('is refused (42501)', async () => {
      expect((await pgError(asAnon((tx) => tx`select * from public.notifications`))).code).toBe('42501');
      expect((await pgError(asAnon((tx) => tx`update public.notifications set read_at = now()`))).code).toBe('42501');
    });
  });

  describe('as the service role', () => {
    it('creates notifications for anyone, directly or with private.notify', async () => {
      const [n] = await asService((tx) => tx`insert into public.notifications (user_id, kind, payload) values (${other}, 'low_balance', '{"balance_micro_usd": 1000}') returning id`);
      const [m] = await asService((tx) => tx`select private.notify(${other}, 'topup_succeeded', '{"amount": 500}') as id`);
      const kinds = await asUser(other, (tx) => tx`select kind from public.notifications where id in (${n!.id}, ${m!.id}) order by kind`);
      expect(kinds.map((r) => r.kind)).toEqual(['low_balance', 'topup_succeeded']);
    });

    it('still cannot store a malformed kind (23514)', async () => {
      expect((await pgError(asService((tx) => tx`insert into public.notifications (user_id, kind) values (${other}, 'Not A Kind')`))).code).toBe('23514');
    });
  });
});

// =============================================================================
// media
// =============================================================================
describe('media', () => {
  let up: string, friend: string, stranger: string, blocked: string, chat: string;
  let sent: string, unsent: string;
  const record = async (ownerId: string) =>
    (await asService((tx) => tx`
      insert into public.media (owner_id, public_id, resource_type, format, bytes, width, height, secure_url)
      values (${ownerId}, ${`u/${ownerId}/${crypto.randomUUID()}`}, 'image', 'jpg', 1000, 10, 10, 'https://res.cloudinary.com/demo/a.jpg')
      returning id`))[0]!.id as string;
  const canSee = async (who: string, id: string) =>
    (await asUser(who, (tx) => tx`select id from public.media where id = ${id}`)).length === 1;

  beforeAll(async () => {
    [up, friend, stranger, blocked] = [await createUser(), await createUser(), await createUser(), await createUser()];
    chat = (await asUser(up, (tx) => tx`select id from public.get_or_create_direct_chat(${friend})`))[0]!.id;
    sent = await record(up);
    unsent = await record(up);
    await asUser(up, (tx) => tx`select public.send_message(${chat}, '', 'image', null, null, ${sent})`);
    await asUser(up, (tx) => tx`select public.block_user(${blocked})`);
  });

  describe('as the owner', () => {
    it('reads all their media, sent or not', async () => {
      expect(await canSee(up, sent)).toBe(true);
      expect(await canSee(up, unsent)).toBe(true);
    });

    it('cannot record or change media: only cloudinary-webhook does (42501)', async () => {
      for (const q of [
        (tx: any) => tx`insert into public.media (owner_id, public_id, resource_type, bytes, secure_url) values (${up}, 'x', 'image', 1, 'https://x')`,
        (tx: any) => tx`update public.media set secure_url = 'https://evil.example/x' where id = ${sent}`,
      ]) {
        expect((await pgError(asUser(up, q))).code).toBe('42501');
      }
    });

    it('deletes their own media (issue 16; the Cloudinary asset is queued for deletion), nobody else does', async () => {
      const mine = await record(up);
      expect(await asUser(friend, (tx) => tx`delete from public.media where id = ${mine} returning id`)).toEqual([]);
      expect(await asUser(up, (tx) => tx`delete from public.media where id = ${mine} returning id`)).toEqual([{ id: mine }]);
    });
  });

  // Alike on purpose: one section per actor (as media/database.test.ts has for media in messages), each with its own assertions.
  describe('as a member of a chat it was sent in', () => {
    it('reads what was sent there, not the owner’s other media', async () => {
      expect(await canSee(friend, sent)).toBe(true);
      expect(await canSee(friend, unsent)).toBe(false);
    });
  });

  describe('as a non-member', () => {
    it('reads none of it', async () => {
      expect(await canSee(stranger, sent)).toBe(false);
      expect(await canSee(stranger, unsent)).toBe(false);
    });
  });

  describe('as a blocked user', () => {
    it('reads none of the blocker’s media, and cannot send it', async () => {
      expect(await canSee(blocked, sent)).toBe(false);
      const own = (await asUser(blocked, (tx) => tx`select id from public.create_group_chat('mine')`))[0]!.id;
      const e = await pgError(asUser(blocked, (tx) => tx`select public.send_message(${own}, '', 'image', null, null, ${unsent})`));
      expect(e.code).toBe('42501');
    });
  });

  describe('as a user with no profile yet', () => {
    it('reads none (of this owner: avatars of any user are readable by every signed-in user, 20261122130000_media_uploads.sql)', async () => {
      expect(await asUser(newUserId(), (tx) => tx`select * from public.media where owner_id = ${up}`)).toEqual([]);
    });
  });

  describe('as anon', () => {
    it('is refused (42501)', async () => {
      expect((await pgError(asAnon((tx) => tx`select * from public.media`))).code).toBe('42501');
    });
  });

  describe('as the service role (cloudinary-webhook)', () => {
    it('records, reads and deletes assets; public_id is unique (23505)', async () => {
      const id = await record(stranger);
      const [row] = await asService((tx) => tx`select public_id from public.media where id = ${id}`);
      expect((await pgError(asService((tx) => tx`
        insert into public.media (owner_id, public_id, resource_type, bytes, secure_url)
        values (${stranger}, ${row!.public_id}, 'image', 1, 'https://x')`))).code).toBe('23505');
      await asService((tx) => tx`delete from public.media where id = ${id}`);
      expect(await owner()`select 1 from public.media where id = ${id}`).toEqual([]);
    });
  });
});

// =============================================================================
// admin_config
// =============================================================================
describe('admin_config', () => {
  const key = `test.k_${randomBytes(6).toString('hex')}`;
  let admin: string, user: string;
  beforeAll(async () => {
    admin = await createUser({ is_admin: true });
    user = await createUser();
    await asService((tx) => tx`insert into public.admin_config (key, value, description) values (${key}, '10', 'Requests per minute')`);
  });
  const row = async () => (await owner()`select * from public.admin_config where key = ${key}`)[0]!;

  describe('as an admin (is_admin in user_accounts)', () => {
    it('reads the settings', async () => {
      const rows = await asUser(admin, (tx) => tx`select value, description from public.admin_config where key = ${key}`);
      expect(rows).toEqual([{ value: 10, description: 'Requests per minute' }]);
    });

    it('changes a value: updated_by is stamped with the admin, updated_at moves', async () => {
      const before = await row();
      const [r] = await asUser(admin, (tx) => tx`update public.admin_config set value = '20' where key = ${key} returning value, updated_by`);
      expect(r).toEqual({ value: 20, updated_by: admin });
      expect((await row()).updated_at.getTime()).toBeGreaterThan(before.updated_at.getTime());
    });

    it('cannot forge updated_by, rename keys, insert or delete settings (42501)', async () => {
      for (const q of [
        (tx: any) => tx`update public.admin_config set updated_by = ${user} where key = ${key}`,
        (tx: any) => tx`update public.admin_config set key = 'other.key' where key = ${key}`,
        (tx: any) => tx`insert into public.admin_config (key, value) values ('x.y', '1')`,
        (tx: any) => tx`delete from public.admin_config where key = ${key}`,
      ]) {
        expect((await pgError(asUser(admin, q))).code).toBe('42501');
      }
    });

    it('a claim in the token does not make an admin: only user_accounts does', async () => {
      const rows = await asUser(user, (tx) => tx`select * from public.admin_config where key = ${key}`, { is_admin: true, public_metadata: { is_admin: true } });
      expect(rows).toEqual([]);
    });
  });

  describe('as a signed-in user who is not an admin', () => {
    it('reads nothing and updates nothing (0 rows)', async () => {
      expect(await asUser(user, (tx) => tx`select * from public.admin_config`)).toEqual([]);
      expect(await asUser(user, (tx) => tx`update public.admin_config set value = '999' where key = ${key} returning key`)).toEqual([]);
      expect((await row()).value).not.toBe(999);
    });
  });

  // Alike on purpose: the same actors for each table (notifications above), each section asserting that table's rules.
  describe('as a user with no profile yet', () => {
    it('reads nothing', async () => {
      expect(await asUser(newUserId(), (tx) => tx`select * from public.admin_config`)).toEqual([]);
    });
  });

  describe('as anon', () => {
    it('is refused (42501)', async () => {
      expect((await pgError(asAnon((tx) => tx`select * from public.admin_config`))).code).toBe('42501');
    });
  });

  describe('as the service role (edge functions)', () => {
    it('reads, inserts, updates (updated_by becomes service_role) and deletes settings', async () => {
      const k2 = `${key}.svc`;
      await asService((tx) => tx`insert into public.admin_config (key, value) values (${k2}, '"gpt-4o-mini"')`);
      const [r] = await asService((tx) => tx`update public.admin_config set value = '"deepseek-chat"' where key = ${k2} returning value, updated_by`);
      expect(r).toEqual({ value: 'deepseek-chat', updated_by: 'service_role' });
      await asService((tx) => tx`delete from public.admin_config where key = ${k2}`);
      expect(await owner()`select 1 from public.admin_config where key = ${k2}`).toEqual([]);
    });

    it('still refuses a malformed key (23514)', async () => {
      expect((await pgError(asService((tx) => tx`insert into public.admin_config (key, value) values ('Bad Key', '1')`))).code).toBe('23514');
    });
  });
});
