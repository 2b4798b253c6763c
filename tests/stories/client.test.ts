/**
 * Status updates (stories), issue 17 item 2, through supabase-js
 * (20261202110500_stories.sql): audience, expiry (time moved in SQL by
 * rewriting the row's created_at/expires_at as the owner role), viewers,
 * blocks, suspension, Realtime announcements and the purge.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientAs } from '../helpers/client.js';
import { broadcastsOn, closeDb, owner } from '../helpers/db.js';
import { expectNotFound, expectRefused, freshUsers, ok, randomUUID } from '../helpers/world.js';

afterAll(async () => {
  await closeDb();
});

async function befriend(a: string, b: string) {
  const request = ok(await clientAs(a).rpc('send_friend_request', { p_user_id: b })) as { id: string };
  ok(await clientAs(b).rpc('accept_friend_request', { p_request_id: request.id }));
}
/** `n` fresh users, the first (alice) a friend of each of the others. */
async function withFriendsOfFirst(n: number) {
  const users = await freshUsers(n);
  for (const friend of users.slice(1, n)) await befriend(users[0], friend);
  return users;
}
async function post(author: string, args: Record<string, unknown> = {}) {
  return ok(await clientAs(author).rpc('post_story', { p_kind: 'text', p_body: `hello ${randomUUID()}`, ...args } as never)) as unknown as {
    id: string; created_at: string; expires_at: string;
  };
}
async function visibleIds(user: string) {
  const rows = ok(await clientAs(user).from('stories').select('id').order('created_at', { ascending: false }));
  return rows!.map((r) => r.id);
}
/** Moves a status `seconds` into the past (created_at and expires_at), as the table owner. */
async function age(storyId: string, seconds: number) {
  await owner()`update public.stories
                set created_at = created_at - make_interval(secs => ${seconds}),
                    expires_at = expires_at - make_interval(secs => ${seconds})
                where id = ${storyId}`;
}

describe('audience', () => {
  let alice: string, bob: string, carol: string, dave: string;
  beforeAll(async () => {
    [alice, bob, carol, dave] = await freshUsers(4);
    await befriend(alice, bob);
    await befriend(carol, alice);
  });

  it('all friends: every friend sees it, a stranger does not, the author does', async () => {
    const s = await post(alice);
    expect(await visibleIds(bob)).toContain(s.id);
    expect(await visibleIds(carol)).toContain(s.id);
    expect(await visibleIds(alice)).toContain(s.id);
    expect(await visibleIds(dave)).not.toContain(s.id);
    expectNotFound(await clientAs(dave).rpc('mark_story_viewed', { p_story_id: s.id }));
  });

  it('all friends except a list: the excluded friend sees nothing and cannot read the exclusion list', async () => {
    const s = await post(alice, { p_audience: 'friends_except', p_excluded_user_ids: [carol] });
    expect(await visibleIds(bob)).toContain(s.id);
    expect(await visibleIds(carol)).not.toContain(s.id);
    expect(ok(await clientAs(carol).from('story_audience_exclusions').select('*'))).toEqual([]);
    expect(ok(await clientAs(alice).from('story_audience_exclusions').select('user_id').eq('story_id', s.id))).toEqual([{ user_id: carol }]);
    expectNotFound(await clientAs(carol).rpc('mark_story_viewed', { p_story_id: s.id }));
    const feed = ok(await clientAs(carol).rpc('get_story_feed', {})) as { id: string }[];
    expect(feed.map((r) => r.id)).not.toContain(s.id);
  });

  it('refuses bad audiences and content with 400, and clients cannot insert rows directly', async () => {
    expectRefused(await clientAs(alice).rpc('post_story', { p_kind: 'text', p_body: 'x', p_audience: 'friends_except' } as never), 400, '22023');
    expectRefused(await clientAs(alice).rpc('post_story', { p_kind: 'text', p_body: 'x', p_audience: 'friends_except', p_excluded_user_ids: [dave] } as never), 400, '22023');
    expectRefused(await clientAs(alice).rpc('post_story', { p_kind: 'text' } as never), 400, '22023');
    expectRefused(await clientAs(alice).rpc('post_story', { p_kind: 'poll', p_body: 'x' } as never), 400, '22023');
    const direct = await clientAs(alice).from('stories').insert({ author_id: alice, kind: 'text', body: 'x', expires_at: new Date(Date.now() + 1e9).toISOString() } as never);
    expect(direct.error).not.toBeNull();
    expect([401, 403]).toContain(direct.status);
  });

  it('image statuses need one of the author’s own story_image uploads', async () => {
    const media = randomUUID();
    const publicId = `chat-with-me/${alice}/story_image/${media}`;
    await owner()`insert into public.media (id, owner_id, public_id, resource_type, format, bytes, secure_url, purpose)
                  values (${media}, ${alice}, ${publicId}, 'image', 'png', 10, ${`https://res.cloudinary.com/demo/image/upload/${publicId}.png`}, 'story_image')`;
    expectRefused(await clientAs(bob).rpc('post_story', { p_kind: 'image', p_media_id: media } as never), 403, '42501');
    expectRefused(await clientAs(alice).rpc('post_story', { p_kind: 'video', p_media_id: media } as never), 403, '42501');
    const s = await post(alice, { p_kind: 'image', p_body: null, p_media_id: media });
    const feed = ok(await clientAs(bob).rpc('get_story_feed', {})) as { id: string; media_url: string | null; kind: string }[];
    expect(feed.find((r) => r.id === s.id)).toMatchObject({ kind: 'image', media_url: `https://res.cloudinary.com/demo/image/upload/${publicId}.png` });
    const strangerFeed = ok(await clientAs(dave).rpc('get_story_feed', {})) as { id: string }[];
    expect(strangerFeed.map((r) => r.id)).not.toContain(s.id);
  });
});

describe('feed, views and viewers', () => {
  let alice: string, bob: string, carol: string;
  beforeAll(async () => {
    [alice, bob, carol] = await withFriendsOfFirst(3);
  });

  it('lists friends’ statuses newest first; viewing is recorded once; only the author sees who viewed', async () => {
    const first = await post(alice);
    await age(first.id, 3600);
    const second = await post(alice);
    const feed = ok(await clientAs(bob).rpc('get_story_feed', {})) as { id: string; viewed: boolean; view_count: number | null }[];
    expect(feed.map((r) => r.id)).toEqual([second.id, first.id]);
    expect(feed.every((r) => r.viewed === false && r.view_count === null)).toBe(true);

    expect(ok(await clientAs(bob).rpc('mark_story_viewed', { p_story_id: second.id }))).toBe(true);
    expect(ok(await clientAs(bob).rpc('mark_story_viewed', { p_story_id: second.id }))).toBe(false);
    expect(ok(await clientAs(alice).rpc('mark_story_viewed', { p_story_id: second.id }))).toBe(false);

    const mine = ok(await clientAs(alice).rpc('get_story_feed', {})) as { id: string; view_count: number | null }[];
    expect(mine.find((r) => r.id === second.id)?.view_count).toBe(1);
    expect(ok(await clientAs(alice).from('story_views').select('viewer_id').eq('story_id', second.id))).toEqual([{ viewer_id: bob }]);
    // Another viewer does not learn who else viewed.
    ok(await clientAs(carol).rpc('mark_story_viewed', { p_story_id: second.id }));
    expect(ok(await clientAs(carol).from('story_views').select('viewer_id').eq('story_id', second.id))).toEqual([{ viewer_id: carol }]);
    const bobFeed = ok(await clientAs(bob).rpc('get_story_feed', {})) as { id: string; viewed: boolean }[];
    expect(bobFeed.find((r) => r.id === second.id)?.viewed).toBe(true);
  });

  it('announces a new status on each friend’s user topic in the audience, not to the excluded one', async () => {
    const s = await post(alice, { p_audience: 'friends_except', p_excluded_user_ids: [carol] });
    const toBob = (await broadcastsOn(`user:${bob}`)).filter((m) => m.event === 'story');
    expect(toBob.some((m) => m.payload.id === s.id && m.payload.author_id === alice && m.private)).toBe(true);
    const toCarol = (await broadcastsOn(`user:${carol}`)).filter((m) => m.event === 'story');
    expect(toCarol.some((m) => m.payload.id === s.id)).toBe(false);
  });
});

describe('expiry and purge', () => {
  let alice: string, bob: string;
  beforeAll(async () => {
    [alice, bob] = await withFriendsOfFirst(2);
  });

  it('expires at 24 h: visible at 23 h 59, gone from every query at 24 h (author included), purged later', async () => {
    const s = await post(alice);
    expect(new Date(s.expires_at).getTime() - new Date(s.created_at).getTime()).toBe(24 * 3600 * 1000);
    ok(await clientAs(bob).rpc('mark_story_viewed', { p_story_id: s.id }));
    await owner()`update public.stories set created_at = now() - interval '23 hours 59 minutes',
                  expires_at = now() + interval '1 minute' where id = ${s.id}`;
    expect(await visibleIds(bob)).toContain(s.id);
    await age(s.id, 61);
    expect(await visibleIds(bob)).not.toContain(s.id);
    expect(await visibleIds(alice)).not.toContain(s.id);
    expect(ok(await clientAs(alice).from('story_views').select('*').eq('story_id', s.id))).toEqual([]);
    expect((ok(await clientAs(alice).rpc('get_story_feed', {})) as { id: string }[]).map((r) => r.id)).not.toContain(s.id);
    expectNotFound(await clientAs(bob).rpc('mark_story_viewed', { p_story_id: s.id }));

    // The purge is not callable by clients; as the service (Supabase Cron) it deletes the row.
    expect((await clientAs(alice).rpc('purge_expired_stories' as never)).error).not.toBeNull();
    const [purged] = await owner()<{ n: number }[]>`select private.purge_expired_stories() as n`;
    expect(purged!.n).toBeGreaterThanOrEqual(1);
    expect(await owner()`select 1 from public.stories where id = ${s.id}`).toHaveLength(0);
  });

  it('the lifetime is the admin_config setting stories.lifetime_seconds', async () => {
    await owner()`update public.admin_config set value = '3600' where key = 'stories.lifetime_seconds'`;
    try {
      const s = await post(alice);
      expect(new Date(s.expires_at).getTime() - new Date(s.created_at).getTime()).toBe(3600 * 1000);
    } finally {
      await owner()`update public.admin_config set value = '86400' where key = 'stories.lifetime_seconds'`;
    }
  });
});

describe('blocks and suspension', () => {
  // Alike on purpose: a world of its own, as each section has (a block here must not reach the feed tests).
  let alice: string, bob: string, carol: string;
  beforeAll(async () => {
    [alice, bob, carol] = await withFriendsOfFirst(3);
  });

  it('a blocked user never sees the blocker’s statuses, nor the blocker theirs, and gets no announcement', async () => {
    const before = await post(alice);
    const bobs = await post(bob);
    ok(await clientAs(alice).rpc('block_user', { p_user_id: bob }));
    expect(await visibleIds(bob)).not.toContain(before.id);
    expect(await visibleIds(alice)).not.toContain(bobs.id);
    expectNotFound(await clientAs(bob).rpc('mark_story_viewed', { p_story_id: before.id }));
    const after = await post(alice);
    expect(await visibleIds(bob)).not.toContain(after.id);
    expect((await broadcastsOn(`user:${bob}`)).some((m) => m.event === 'story' && m.payload.id === after.id)).toBe(false);
  });

  it('a suspended user can neither read nor post statuses', async () => {
    const s = await post(alice);
    expect(await visibleIds(carol)).toContain(s.id);
    await owner()`update public.user_accounts set suspended_at = now() where user_id = ${carol}`;
    try {
      expect(await visibleIds(carol)).toEqual([]);
      expectRefused(await clientAs(carol).rpc('post_story', { p_kind: 'text', p_body: 'hi' } as never), 403, '42501');
      expectRefused(await clientAs(carol).rpc('mark_story_viewed', { p_story_id: s.id }), 403, '42501');
    } finally {
      await owner()`update public.user_accounts set suspended_at = null where user_id = ${carol}`;
    }
  });
});
