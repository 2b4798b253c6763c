/**
 * Abuse limits from an attacker's side: one user hammering each rate-limited
 * action until refused (PT429, which PostgREST answers as HTTP 429; functions
 * answer 429 with Retry-After), then allowed again once the window has passed;
 * the cool-down after a declined friend request; and profile fields other
 * users see (username, avatar, last seen) that the owner cannot abuse.
 *
 * Limits are admin_config rate_limit.<action>.limit / .window_seconds
 * (20261122080800_admin_config.sql). Test files share one database, so these
 * tests never LOWER a limit (that could refuse another file's requests): they
 * reach the default limit with a fresh user, and only shorten the window
 * (which can only let more through) to see the recovery.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sessionToken } from '../helpers/clerk.js';
import { asService, asUser, closeDb, createUser, owner, pgError } from '../helpers/db.js';
import { expectError, startTestFunctions, type TestFunctions } from '../helpers/functions.js';
import { PACKS, postCheckout, startPaymentsWorld, URLS, type PaymentsWorld } from '../helpers/stripe.js';

let pay: PaymentsWorld;
let media: TestFunctions;
beforeAll(async () => {
  // media-sign only signs locally: a syntactically valid Cloudinary account is enough.
  [pay, media] = await Promise.all([
    startPaymentsWorld(),
    startTestFunctions({ env: { CLOUDINARY_CLOUD_NAME: 'limits-test', CLOUDINARY_API_KEY: '123456789', CLOUDINARY_API_SECRET: 'limits-test-secret' } }),
  ]);
});
afterAll(async () => {
  await Promise.all([pay?.stop(), media?.stop()]);
  await closeDb();
});

const limitOf = async (action: string) =>
  Number((await owner()`select value #>> '{}' as v from public.admin_config where key = ${`rate_limit.${action}.limit`}`)[0]!.v);

/** Runs `fn` with rate_limit.<action>.window_seconds set to `seconds` (a shorter window only ever lets more through). */
async function withWindow<T>(key: string, seconds: number, fn: () => Promise<T>): Promise<T> {
  const [before] = await owner()`select value from public.admin_config where key = ${key}`;
  await owner()`update public.admin_config set value = to_jsonb(${seconds}::int) where key = ${key}`;
  try {
    return await fn();
  } finally {
    await owner()`update public.admin_config set value = ${before!.value} where key = ${key}`;
  }
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A PT429 with a DETAIL saying when to retry. */
async function expectPT429(p: Promise<unknown>, action: string) {
  let err: { code: string; message: string; detail?: string };
  try {
    await p;
    throw new Error(`expected ${action} to be refused with PT429, but it succeeded`);
  } catch (e) {
    err = e as typeof err;
  }
  expect(err.code, err.message).toBe('PT429');
  expect(err.message).toMatch(/retry in \d+ s/);
  const detail = JSON.parse(err.detail ?? '{}');
  expect(detail).toMatchObject({ action });
  expect(detail.retry_after_seconds).toBeGreaterThanOrEqual(1);
  return detail as { retry_after_seconds: number; limit: number; window_seconds: number };
}

/** Reaches the limit with `attempt`, checks the refusal, then the recovery after a 1-second window. */
async function reachThenRecover(action: string, attempt: (i: number) => Promise<unknown>) {
  const limit = await limitOf(action);
  for (let i = 0; i < limit; i++) await attempt(i);
  const detail = await expectPT429(attempt(limit), action);
  expect(detail.limit).toBe(limit);
  // Refused requests do not count, and do not move the window: still refused.
  await expectPT429(attempt(limit + 1), action);
  await withWindow(`rate_limit.${action}.window_seconds`, 1, async () => {
    await sleep(1100);
    await attempt(limit + 2);
  });
}

describe('RPC limits (PT429 → HTTP 429 through PostgREST)', () => {
  it('sending messages: send_message and direct inserts share one limit, then the window passes', async () => {
    const [a, b] = [await createUser(), await createUser()];
    const chat = (await asUser(a, (tx) => tx`select id from public.get_or_create_direct_chat(${b})`))[0]!.id;
    const limit = await limitOf('message_send');
    await reachThenRecover('message_send', (i) =>
      i % 2 && i < limit
        ? asUser(a, (tx) => tx`insert into public.messages (chat_id, content) values (${chat}, ${`direct ${i}`})`)
        : asUser(a, (tx) => tx`select id from public.send_message(${chat}, ${`rpc ${i}`}, 'text', ${randomUUID()})`),
    );
    // The refused sends stored nothing: the limit, plus the one after the window.
    expect(await owner()`select 1 from public.messages where chat_id = ${chat}`).toHaveLength(limit + 1);
    // A direct insert past the limit is refused too.
    await withWindow('rate_limit.message_send.window_seconds', 3600, async () => {
      const [c, d] = [await createUser(), await createUser()];
      const chat2 = (await asUser(c, (tx) => tx`select id from public.get_or_create_direct_chat(${d})`))[0]!.id;
      await owner()`insert into private.rate_limit_counters (user_id, action, window_start, hits) values (${c}, 'message_send', now(), ${limit})`;
      await expectPT429(asUser(c, (tx) => tx`insert into public.messages (chat_id, content) values (${chat2}, 'one too many')`), 'message_send');
      // Another member of the chat is not limited by the first one's count.
      await asUser(d, (tx) => tx`select id from public.send_message(${chat2}, 'hi', 'text', null)`);
    });
  });

  it('friend requests: new requests are limited per sender', async () => {
    const me = await createUser();
    const limit = await limitOf('friend_request');
    const others = await Promise.all(Array.from({ length: limit + 3 }, () => createUser()));
    await reachThenRecover('friend_request', (i) => asUser(me, (tx) => tx`select id from public.send_friend_request(${others[i]!})`));
    expect(await owner()`select 1 from public.friends where requester_id = ${me}`).toHaveLength(limit + 1);
  });

  it('user search', async () => {
    const me = await createUser();
    await reachThenRecover('user_search', () => asUser(me, (tx) => tx`select * from public.search_users('Test', 5)`));
  });
});

describe('the cool-down after a declined friend request', () => {
  it('the sender cannot ask again at once; the one who declined can; after the cool-down the sender can', async () => {
    const [a, b] = [await createUser(), await createUser()];
    await withWindow('friends.decline_cooldown_seconds', 2, async () => {
      const [req] = await asUser(a, (tx) => tx`select id from public.send_friend_request(${b})`);
      await asUser(b, (tx) => tx`select id from public.decline_friend_request(${req!.id})`);
      const detail = await expectPT429(asUser(a, (tx) => tx`select id from public.send_friend_request(${b})`), 'friend_request_after_decline');
      expect(detail.retry_after_seconds).toBeLessThanOrEqual(2);
      // Declining again and again is no way around it: still one declined row, no new pending one.
      expect((await owner()`select status from public.friends where requester_id = ${a} and addressee_id = ${b}`).map((r) => r.status)).toEqual(['declined']);
      await sleep(2100);
      const [again] = await asUser(a, (tx) => tx`select status from public.send_friend_request(${b})`);
      expect(again!.status).toBe('pending');
    });
    // The one who declined could ask at any time (here: accepts the pending request by asking back).
    const [c, d] = [await createUser(), await createUser()];
    const [req] = await asUser(c, (tx) => tx`select id from public.send_friend_request(${d})`);
    await asUser(d, (tx) => tx`select id from public.decline_friend_request(${req!.id})`);
    const [back] = await asUser(d, (tx) => tx`select status from public.send_friend_request(${c})`);
    expect(back!.status).toBe('pending');
  });
});

describe('function limits (429 with Retry-After)', () => {
  async function expect429(res: Response, window: number) {
    const body = await expectError(res, 429, 'rate_limited');
    const retry = Number(res.headers.get('retry-after'));
    expect(retry).toBeGreaterThanOrEqual(1);
    expect(retry).toBeLessThanOrEqual(window);
    expect(body.details).toMatchObject({ retry_after_seconds: retry });
  }
  const windowOf = async (action: string) =>
    Number((await owner()`select value #>> '{}' as v from public.admin_config where key = ${`rate_limit.${action}.window_seconds`}`)[0]!.v);

  it('media-sign', async () => {
    const me = await createUser();
    const token = await sessionToken(media.clerk, me);
    const sign = () => fetch(`${media.url}/media-sign`, {
      method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ purpose: 'chat_image' }),
    });
    const limit = await limitOf('media_sign');
    for (let i = 0; i < limit; i++) {
      const res = await sign();
      expect(res.status, await res.text()).toBe(200);
    }
    await expect429(await sign(), await windowOf('media_sign'));
    await withWindow('rate_limit.media_sign.window_seconds', 1, async () => {
      await sleep(1100);
      const res = await sign();
      expect(res.status, await res.text()).toBe(200);
    });
  });

  it('payments-checkout: no Checkout Session is created past the limit', async () => {
    const me = await createUser();
    const creates = () => pay.stripe.requests.filter((r) => r.method === 'POST' && r.path === '/v1/checkout/sessions').length;
    const go = () => postCheckout(pay, me, { pack_id: PACKS.starter.id, ...URLS });
    const limit = await limitOf('checkout');
    for (let i = 0; i < limit; i++) {
      const res = await go();
      expect(res.status, await res.text()).toBe(200);
    }
    const before = creates();
    await expect429(await go(), await windowOf('checkout'));
    expect(creates()).toBe(before);
    await withWindow('rate_limit.checkout.window_seconds', 1, async () => {
      await sleep(1100);
      const res = await go();
      expect(res.status, await res.text()).toBe(200);
    });
  });
});

describe('profile fields other users see', () => {
  it('a user cannot take a handle through the Data API (usernames are Clerk’s)', async () => {
    const me = await createUser();
    const err = await pgError(asUser(me, (tx) => tx`update public.users set username = ${`squat_${me.slice(-8)}`} where id = ${me}`));
    expect(err.code).toBe('42501');
    expect((await owner()`select username from public.users where id = ${me}`)[0]!.username).toBeNull();
  });

  it('an avatar must be Clerk’s image host or the user’s own upload', async () => {
    const [me, victim] = [await createUser(), await createUser()];
    const [m] = await owner()`
      insert into public.media (owner_id, public_id, resource_type, format, bytes, width, height, secure_url, purpose)
      values (${victim}, ${`chat-with-me/${victim}/avatar/a`}, 'image', 'png', 10, 1, 1, 'https://res.cloudinary.com/demo/image/upload/v1/victim.png', 'avatar')
      returning id, secure_url`;
    for (const url of ['https://evil.example/me.png', 'https://img.clerk.com.evil.example/x.png', 'http://img.clerk.com/x.png', m!.secure_url, 'javascript:alert(1)']) {
      const err = await pgError(asUser(me, (tx) => tx`update public.users set avatar_url = ${url} where id = ${me}`));
      expect(['22023', '23514'], url).toContain(err.code);
    }
    // Someone else's upload cannot be taken as avatar_media_id either.
    expect((await pgError(asUser(me, (tx) => tx`update public.users set avatar_media_id = ${m!.id} where id = ${me}`))).code).toBe('42501');
    const [ok] = await asUser(me, (tx) => tx`update public.users set avatar_url = 'https://img.clerk.com/mine.png' where id = ${me} returning avatar_url`);
    expect(ok!.avatar_url).toBe('https://img.clerk.com/mine.png');
  });

  it('last_seen_at is the server’s clock: a value in the future (or the past) becomes now()', async () => {
    const me = await createUser();
    for (const claimed of ['2999-01-01T00:00:00Z', '2001-01-01T00:00:00Z']) {
      const [r] = await asUser(me, (tx) => tx`
        update public.users set last_seen_at = ${claimed}::timestamptz where id = ${me}
        returning last_seen_at, now() as server_now`);
      expect(r!.last_seen_at.getTime(), claimed).toBe(r!.server_now.getTime());
    }
    // No writer can put it in the future, not even the service role.
    const [s] = await asService((tx) => tx`
      update public.users set last_seen_at = now() + interval '1 day' where id = ${me} returning last_seen_at <= now() as ok`);
    expect(s!.ok).toBe(true);
  });
});
