/**
 * Push notifications end to end (issue 17): devices registered through
 * supabase-js, messages sent through the Data API, the outbox drained by the
 * real push-dispatch function (Deno) against the FCM stand-in
 * (stack/standins/fcm.mjs: OAuth token endpoint + messages:send), which the
 * function reaches through google-auth-library and the service account JSON.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { PushDispatchResponse } from '@chat-with-me/shared';
import { startFcmStandin } from '../../stack/standins/fcm.mjs';
import { clientAs } from '../helpers/client.js';
import { createUser, owner, startForFile } from '../helpers/db.js';
import { expectError, startTestFunctions } from '../helpers/functions.js';

const secret = randomBytes(24).toString('hex');

const fcm = startForFile(() => startFcmStandin({ projectId: 'push-tests' }));
const fns = startForFile(() => startTestFunctions({ env: { ...fcm.env, PUSH_DISPATCH_SECRET: secret } }));

async function dispatch(auth = `Bearer ${secret}`) {
  const res = await fetch(`${fns.url}/push-dispatch`, { method: 'POST', headers: { authorization: auth, 'content-type': 'application/json' }, body: '{}' });
  expect(res.status, await res.clone().text()).toBe(200);
  return PushDispatchResponse.parse(await res.json());
}
const fcmToken = () => `fcm-${randomBytes(48).toString('base64url')}`;

async function register(user: string, platform: 'android' | 'ios' | 'web' = 'android') {
  const token = fcmToken();
  const { data, error } = await clientAs(user).rpc('register_push_device', { p_token: token, p_platform: platform, p_app_version: '1.2.3' });
  expect(error).toBeNull();
  expect(data).toMatchObject({ user_id: user, platform, app_version: '1.2.3' });
  return token;
}
async function send(user: string, chat: string, content: string) {
  const { error } = await clientAs(user).rpc('send_message', { p_chat_id: chat, p_content: content, p_client_id: randomUUID() });
  expect(error).toBeNull();
}
async function group(ownerId: string, members: string[]) {
  const { data, error } = await clientAs(ownerId).rpc('create_group_chat', { p_title: 'Picnic', p_member_ids: members });
  expect(error).toBeNull();
  return (data as { id: string }).id;
}

describe('a message to a group: the unmuted member gets one push, the muted one and the sender none', () => {
  let alice: string, bob: string, carol: string, chat: string;
  let aliceToken: string, bobToken: string, carolToken: string;
  beforeAll(async () => {
    [alice, bob, carol] = [await createUser({ display_name: 'Alice' }), await createUser(), await createUser()];
    [aliceToken, bobToken, carolToken] = [await register(alice), await register(bob, 'ios'), await register(carol, 'web')];
    chat = await group(alice, [bob, carol]);
    await owner()`update public.chat_members set muted_until = 'infinity' where chat_id = ${chat} and user_id = ${carol}`;
    await dispatch(); // nothing from before
    fcm.reset();
  });

  it('two dispatchers running at once send it once, to bob only', async () => {
    await send(alice, chat, 'Bring the blanket');
    const runs = await Promise.all([dispatch(), dispatch()]);
    expect(runs.map((r) => r.claimed).sort()).toEqual([0, 1]);
    expect(fcm.messages(bobToken)).toHaveLength(1);
    expect(fcm.messages(carolToken)).toHaveLength(0);
    expect(fcm.messages(aliceToken)).toHaveLength(0);
    const m = fcm.messages(bobToken)[0]!.message;
    expect(m.notification).toEqual({ title: 'Alice in Picnic', body: 'Bring the blanket' });
    expect(m.data).toMatchObject({ type: 'message', chat_id: chat, event_count: '1', badge: '1' });
    expect(m.apns).toMatchObject({ headers: { 'apns-collapse-id': `chat:${chat}` }, payload: { aps: { badge: 1 } } });
    expect((await dispatch()).claimed).toBe(0);
    expect(fcm.messages(bobToken)).toHaveLength(1);
  });

  it('a dispatcher that crashed after FCM accepted: sent again with the same tag, the device shows one notification', async () => {
    fcm.reset();
    await send(alice, chat, 'And the lemonade');
    expect((await dispatch()).sent).toBe(1);
    // The crash: FCM accepted, but finish_push never committed, and the lease ran out.
    const [row] = await owner()`update private.push_outbox set status = 'sending', sent_at = null, claimed_until = now() - interval '1 second'
                                where user_id = ${bob} and status = 'sent' and data ->> 'chat_id' = ${chat}
                                  and id = (select max(id) from private.push_outbox where user_id = ${bob}) returning id`;
    await owner()`delete from private.push_deliveries where outbox_id = ${row!.id}`;
    expect((await dispatch()).sent).toBe(1);
    expect(fcm.messages(bobToken)).toHaveLength(2);
    expect(fcm.notifications(bobToken)).toHaveLength(1);
    expect(fcm.notifications(bobToken)[0]!.notification.body).toBe('And the lemonade');
  });

  it('a burst of 20 messages is one push with event_count 20 and the unread badge', async () => {
    fcm.reset();
    for (let i = 1; i <= 20; i++) await send(alice, chat, `msg ${i}`);
    const run = await dispatch();
    expect(run).toMatchObject({ claimed: 1, sent: 1, fcm_messages: 1 });
    const [m] = fcm.messages(bobToken);
    expect(fcm.messages(bobToken)).toHaveLength(1);
    expect(m!.message.notification.body).toBe('msg 20');
    expect(m!.message.data).toMatchObject({ event_count: '20', badge: '22' });
  });

  it('FCM 429 with Retry-After: retried after it, then delivered once', async () => {
    fcm.reset();
    fcm.fail(429, { retryAfter: 120, token: bobToken });
    await send(alice, chat, 'Are you there?');
    expect(await dispatch()).toMatchObject({ claimed: 1, retried: 1, sent: 0 });
    const [row] = await owner()`select id, status, extract(epoch from next_attempt_at - now())::int as wait, last_error
                                from private.push_outbox where user_id = ${bob} order by id desc limit 1`;
    expect(row).toMatchObject({ status: 'retry' });
    expect(row!.wait).toBeGreaterThan(100);
    expect(row!.last_error).toMatch(/429 QUOTA_EXCEEDED/);
    expect((await dispatch()).claimed).toBe(0); // not before Retry-After
    await owner()`update private.push_outbox set next_attempt_at = now() where id = ${row!.id}`;
    expect(await dispatch()).toMatchObject({ claimed: 1, sent: 1 });
    expect(fcm.messages(bobToken)).toHaveLength(1);
  });

  it('a 5xx is retried with backoff', async () => {
    fcm.reset();
    fcm.fail(503, { token: bobToken });
    await send(alice, chat, 'Hello?');
    expect(await dispatch()).toMatchObject({ retried: 1 });
    const [row] = await owner()`select extract(epoch from next_attempt_at - now())::int as wait from private.push_outbox where user_id = ${bob} order by id desc limit 1`;
    expect(row!.wait).toBeGreaterThanOrEqual(3);
  });

  it('a token FCM reports UNREGISTERED is removed; an invalid one too', async () => {
    await owner()`update private.push_outbox set status = 'failed' where user_id = ${bob} and status <> 'sent'`;
    fcm.reset();
    fcm.unregister(bobToken);
    await send(alice, chat, 'Gone?');
    expect(await dispatch()).toMatchObject({ claimed: 1, removed_tokens: 1, sent: 1 });
    expect(await owner()`select 1 from public.push_devices where token = ${bobToken}`).toHaveLength(0);

    const bad = `invalid-${randomBytes(20).toString('hex')}`;
    expect((await clientAs(bob).rpc('register_push_device', { p_token: bad, p_platform: 'android' })).error).toBeNull();
    await send(alice, chat, 'Again');
    expect(await dispatch()).toMatchObject({ removed_tokens: 1 });
    expect(await owner()`select 1 from public.push_devices where token = ${bad}`).toHaveLength(0);
  });

  it('the access token comes from the service account once and is cached', () => {
    expect(fcm.counters.tokenRequests).toBe(1);
  });
});

describe('blocks, devices and the dispatcher’s door', () => {
  it('no push to a member who blocked the sender; the other member gets it', async () => {
    const [a, b, c] = [await createUser(), await createUser(), await createUser()];
    const [bTok, cTok] = [await register(b), await register(c)];
    const chat = await group(a, [b, c]);
    expect((await clientAs(b).rpc('block_user', { p_user_id: a })).error).toBeNull();
    await send(a, chat, 'hi all');
    await dispatch();
    expect(fcm.messages(bTok)).toHaveLength(0);
    expect(fcm.messages(cTok)).toHaveLength(1);
  });

  it('a user reads only their own devices, and unregisters only their own token', async () => {
    const [a, b] = [await createUser(), await createUser()];
    const aTok = await register(a);
    await register(b);
    const { data } = await clientAs(b).from('push_devices').select('token');
    expect(data!.map((d) => d.token)).not.toContain(aTok);
    expect((await clientAs(b).rpc('unregister_push_device', { p_token: aTok })).data).toBe(false);
    expect(await owner()`select 1 from public.push_devices where token = ${aTok}`).toHaveLength(1);
    expect((await clientAs(a).rpc('unregister_push_device', { p_token: aTok })).data).toBe(true);
    const ins = await clientAs(b).from('push_devices').insert({ user_id: a, token: fcmToken(), platform: 'android' });
    expect(ins.error?.code).toBe('42501');
  });

  it('register_push_device refuses a bad platform or token (400)', async () => {
    const a = await createUser();
    const r1 = await clientAs(a).rpc('register_push_device', { p_token: fcmToken(), p_platform: 'symbian' });
    expect(r1.status).toBe(400);
    const r2 = await clientAs(a).rpc('register_push_device', { p_token: 'short', p_platform: 'android' });
    expect(r2.status).toBe(400);
  });

  it('push-dispatch refuses a caller without its secret (401), and the outbox is not readable by users', async () => {
    await expectError(await fetch(`${fns.url}/push-dispatch`, { method: 'POST' }), 401, 'unauthorized');
    await expectError(await fetch(`${fns.url}/push-dispatch`, { method: 'POST', headers: { authorization: 'Bearer nope' } }), 401, 'unauthorized');
    const a = await createUser();
    const r = await clientAs(a).schema('private' as never).from('push_outbox').select('*');
    expect(r.error).not.toBeNull();
  });
});
