/**
 * clerk-webhook over HTTP (real Deno, real PostgreSQL): Svix-signed Clerk
 * events keep users + user_accounts in sync, exactly once and in order.
 */
import { ClerkWebhookResponse } from '@chat-with-me/shared';
import { describe, expect, it } from 'vitest';
import { clerkEvent, clerkUser, clerkUserDeleted, svixHeaders, svixId, type ClerkUserFields } from '../helpers/clerk.js';
import { asUser, createUser, newUserId, owner, startForFile } from '../helpers/db.js';
import { startTestFunctions } from '../helpers/functions.js';

const fns = startForFile(() => startTestFunctions());

async function deliver(event: unknown, opts: { id?: string } = {}) {
  const body = JSON.stringify(event);
  const res = await fetch(`${fns.url}/clerk-webhook`, { method: 'POST', headers: svixHeaders(fns.clerk, body, opts), body });
  const text = await res.text();
  expect(res.status, text).toBe(200);
  return ClerkWebhookResponse.parse(JSON.parse(text));
}

const userEvent = (type: 'user.created' | 'user.updated', f: ClerkUserFields) => clerkEvent(type, clerkUser(f));

async function profile(id: string) {
  const [u] = await owner()`select * from public.users where id = ${id}`;
  const [a] = await owner()`select * from public.user_accounts where user_id = ${id}`;
  return { user: u, account: a };
}

describe('user.created', () => {
  it('creates the profile from Clerk’s payload shape', async () => {
    const id = newUserId();
    const r = await deliver(
      userEvent('user.created', {
        id,
        first_name: 'Ada',
        last_name: 'Lovelace',
        username: 'ada_l',
        email: 'ada@example.org',
        provider: 'oauth_google',
        image_url: 'https://img.clerk.com/ada',
        public_metadata: { role: 'admin' },
        updated_at: 1_700_000_000_000,
      }),
    );
    expect(r).toMatchObject({ received: true, type: 'user.created', outcome: 'created' });
    const p = await profile(id);
    expect(p.user).toMatchObject({ display_name: 'Ada Lovelace', username: 'ada_l', avatar_url: 'https://img.clerk.com/ada', about: '' });
    expect(p.account).toMatchObject({ email: 'ada@example.org', auth_provider: 'google', is_admin: true });
    expect(p.account!.clerk_updated_at.toISOString()).toBe(new Date(1_700_000_000_000).toISOString());
  });

  it('maps an email sign-up without names or metadata', async () => {
    const id = newUserId();
    await deliver(userEvent('user.created', { id, first_name: null, last_name: null, username: 'plainuser', email: 'plain@example.org', public_metadata: { is_admin: 'yes' } }));
    const p = await profile(id);
    expect(p.user).toMatchObject({ display_name: 'plainuser', username: 'plainuser' });
    expect(p.account).toMatchObject({ email: 'plain@example.org', auth_provider: 'email', is_admin: false });
  });

  it('fills in a profile created earlier from the token (ensure_profile)', async () => {
    const id = newUserId();
    await asUser(id, (tx) => tx`select public.ensure_profile()`, { name: 'From Token' });
    const r = await deliver(userEvent('user.created', { id, first_name: 'Real', last_name: 'Name', email: 'real@example.org' }));
    expect(r.outcome).toBe('updated');
    const p = await profile(id);
    expect(p.user!.display_name).toBe('Real Name');
    expect(p.account!.email).toBe('real@example.org');
  });

  it('drops values the tables refuse instead of failing the delivery', async () => {
    const id = newUserId();
    const r = await deliver(userEvent('user.created', { id, first_name: 'x'.repeat(150), username: 'a b', image_url: 'http://insecure.example/a.png', email: 'not-an-email' }));
    expect(r.outcome).toBe('created');
    const p = await profile(id);
    expect(p.user!.display_name).toHaveLength(100);
    expect(p.user).toMatchObject({ username: null, avatar_url: null });
    expect(p.account!.email).toBeNull();
  });
});

describe('redeliveries and ordering', () => {
  it('applies the same delivery once, even 20 times concurrently', async () => {
    const id = newUserId();
    const event = userEvent('user.created', { id, first_name: 'Once' });
    const msgId = svixId();
    const results = await Promise.all(Array.from({ length: 20 }, () => deliver(event, { id: msgId })));
    const outcomes = results.map((r) => r.outcome).sort();
    expect(outcomes.filter((o) => o === 'created')).toHaveLength(1);
    expect(outcomes.filter((o) => o === 'duplicate')).toHaveLength(19);
    const [events] = await owner()<{ count: number }[]>`select count(*)::int as count from public.webhook_events where provider = 'clerk' and event_id = ${msgId}`;
    expect(events!.count).toBe(1);
    const [users] = await owner()<{ n: number }[]>`select count(*)::int as n from public.users where id = ${id}`;
    expect(users!.n).toBe(1);
  });

  it('never lets an older user.updated regress a newer profile', async () => {
    const id = newUserId();
    const t = Date.now() - 60_000;
    await deliver(userEvent('user.created', { id, first_name: 'V1', username: 'ordered1', updated_at: t }));
    await deliver(userEvent('user.updated', { id, first_name: 'V3', username: 'ordered3', updated_at: t + 3000 }));
    const stale = await deliver(userEvent('user.updated', { id, first_name: 'V2', username: 'ordered2', updated_at: t + 2000 }));
    expect(stale.outcome).toBe('stale');
    const same = await deliver(userEvent('user.updated', { id, first_name: 'V3', username: 'ordered3', updated_at: t + 3000 }));
    expect(same.outcome).toBe('unchanged');
    const p = await profile(id);
    expect(p.user).toMatchObject({ display_name: 'V3 User', username: 'ordered3' });
    expect(p.account!.clerk_updated_at.getTime()).toBe(t + 3000);
  });

  it('converges to the newest payload whatever the arrival order', async () => {
    const id = newUserId();
    const t = Date.now() - 60_000;
    const events = [1, 2, 3, 4, 5].map((i) =>
      userEvent(i === 1 ? 'user.created' : 'user.updated', { id, first_name: `N${i}`, updated_at: t + i * 1000 }),
    );
    await Promise.all([events[3], events[1], events[4], events[0], events[2]].map((e) => deliver(e)));
    expect((await profile(id)).user!.display_name).toBe('N5 User');
  });

  it('gives a username to the newer payload when two users swap handles', async () => {
    const a = newUserId();
    const b = newUserId();
    const handle = `swap_${Date.now().toString(36)}`;
    const t = Date.now() - 60_000;
    await deliver(userEvent('user.created', { id: a, username: handle, updated_at: t }));
    // a renamed, then b took the handle; b's webhook arrives before a's.
    await deliver(userEvent('user.created', { id: b, username: handle.toUpperCase(), updated_at: t + 2000 }));
    await deliver(userEvent('user.updated', { id: a, username: `${handle}_new`, updated_at: t + 1000 }));
    expect((await profile(a)).user!.username).toBe(`${handle}_new`);
    expect((await profile(b)).user!.username).toBe(handle.toUpperCase());
  });
});

describe('user.deleted', () => {
  it('deletes the user; cascades remove their world, messages stay without a sender', async () => {
    const gone = newUserId();
    await deliver(userEvent('user.created', { id: gone, first_name: 'Leaving' }));
    const friend = await createUser();
    const member = await createUser();
    const req = await asUser(gone, (tx) => tx`select * from public.send_friend_request(${friend})`);
    await asUser(friend, (tx) => tx`select public.accept_friend_request(${req[0]!.id})`);
    const [direct] = await asUser(gone, (tx) => tx`select * from public.get_or_create_direct_chat(${friend})`);
    const [msg] = await asUser(gone, (tx) => tx`select * from public.send_message(${direct!.id}, 'bye')`);
    const [group] = await asUser(gone, (tx) => tx`select * from public.create_group_chat('Club', ${[friend, member]})`);
    const [solo] = await asUser(gone, (tx) => tx`select * from public.create_group_chat('Alone', ${[]})`);
    const [assistant] = await asUser(gone, (tx) => tx`select * from public.create_assistant_chat('Mine')`);

    const r = await deliver(clerkUserDeleted(gone));
    expect(r).toMatchObject({ type: 'user.deleted', outcome: 'deleted' });

    const o = owner();
    expect(await o`select 1 from public.users where id = ${gone}`).toHaveLength(0);
    expect(await o`select 1 from public.user_accounts where user_id = ${gone}`).toHaveLength(0);
    expect(await o`select 1 from public.friends where requester_id = ${gone} or addressee_id = ${gone}`).toHaveLength(0);
    expect(await o`select 1 from public.chat_members where user_id = ${gone}`).toHaveLength(0);
    expect(await o`select 1 from public.notifications where user_id = ${gone}`).toHaveLength(0);
    const [kept] = await o`select sender_id, content from public.messages where id = ${msg!.id}`;
    expect(kept).toMatchObject({ sender_id: null, content: 'bye' });
    // The group passes to a successor; a group left empty and the assistant chat are gone.
    const owners = await o`select user_id from public.chat_members where chat_id = ${group!.id} and role = 'owner'`;
    expect(owners).toHaveLength(1);
    expect([friend, member]).toContain(owners[0]!.user_id);
    expect(await o`select 1 from public.chats where id in (${solo!.id}, ${assistant!.id})`).toHaveLength(0);
  });

  it('is final: redelivery is a no-op and late created/updated payloads do not bring the user back', async () => {
    const id = newUserId();
    const t = Date.now() - 60_000;
    await deliver(userEvent('user.created', { id, updated_at: t }));
    const deletion = clerkUserDeleted(id);
    const msgId = svixId();
    expect((await deliver(deletion, { id: msgId })).outcome).toBe('deleted');
    expect((await deliver(deletion, { id: msgId })).outcome).toBe('duplicate');
    expect((await deliver(userEvent('user.updated', { id, updated_at: t + 5000 }))).outcome).toBe('after_delete');
    expect(await owner()`select 1 from public.users where id = ${id}`).toHaveLength(0);
  });

  it('answers not_found for a user who never had a profile', async () => {
    expect((await deliver(clerkUserDeleted(newUserId()))).outcome).toBe('not_found');
  });
});

describe('other events', () => {
  it('acknowledges and records event types it does not handle', async () => {
    const msgId = svixId();
    const event = clerkEvent('session.created', { id: 'sess_123', object: 'session', user_id: newUserId() });
    expect((await deliver(event, { id: msgId })).outcome).toBe('ignored');
    expect((await deliver(event, { id: msgId })).outcome).toBe('duplicate');
  });
});

describe('the event log', () => {
  it('is invisible to clients', async () => {
    const someone = await createUser();
    const err = await asUser(someone, (tx) => tx`select * from public.webhook_events`).catch((e) => e);
    expect(err.code).toBe('42501');
    const fn = await asUser(someone, (tx) => tx`select private.clerk_delete_user('x', ${someone})`).catch((e) => e);
    expect(fn.code).toBe('42501');
  });
});
