/**
 * Realtime through the real `@supabase/supabase-js` client against the local
 * stack's Realtime stand-in (stack/runtime/realtime.mjs, docs/realtime.md):
 * private channels authorised by the policies on realtime.messages
 * (20261122080700_realtime_authorization.sql) as hosted Realtime runs them
 * (https://supabase.com/docs/guides/realtime/authorization), Broadcast from the
 * database (our triggers' realtime.send / realtime.broadcast_changes, through
 * logical replication), client Broadcast and Presence, token refresh.
 * Written from the attacker's side where a refusal is the point.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { ChatPresenceState, chatPresenceTopic, chatTopic, MessageChangePayload, ReadReceiptPayload, TypingPayload, userTopic } from '@chat-with-me/shared';
import { createClient } from '@supabase/supabase-js';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import ws from 'ws';
import { anonClient, apiUrl, clerkToken, clientAs, clientWithToken, serviceClient, type Client } from '../helpers/client.js';
import { closeDb, createUser, newUserId, owner } from '../helpers/db.js';
import { closeClients, received, settle, watch } from './helpers.js';

const clients: Client[] = [];
const track = <T extends Client>(c: T) => (clients.push(c), c);
afterAll(async () => {
  await closeClients(...clients);
  await closeDb();
});

const ok = <T>(r: { data: T | null; error: unknown }) => {
  expect(r.error).toBeNull();
  return r.data as T;
};

let alice: string, bob: string, carol: string, mallory: string;
let as: Record<'alice' | 'bob' | 'carol' | 'mallory', Client>;
let group: string;

beforeAll(async () => {
  [alice, bob, carol, mallory] = await Promise.all([createUser(), createUser(), createUser(), createUser()]);
  as = { alice: track(clientAs(alice)), bob: track(clientAs(bob)), carol: track(clientAs(carol)), mallory: track(clientAs(mallory)) };
  group = ok(await as.alice.rpc('create_group_chat', { p_title: 'Realtime', p_member_ids: [bob, carol] })).id;
});

describe('chat:<id>: what the database publishes reaches the members', () => {
  it('stored messages, edits, soft and hard deletions and read receipts arrive in commit order, as the shared schemas describe them', async () => {
    const w = await watch(as.bob, chatTopic(group));
    expect(w.first).toEqual({ status: 'SUBSCRIBED', message: undefined });

    const m1 = ok(await as.alice.rpc('send_message', { p_chat_id: group, p_content: 'first', p_client_id: randomUUID() })).id;
    const m2 = ok(await as.alice.rpc('send_message', { p_chat_id: group, p_content: 'second' })).id;
    ok(await as.alice.from('messages').update({ content: 'first, edited' }).eq('id', m1));
    ok(await as.alice.from('messages').update({ deleted_at: new Date().toISOString(), content: '' }).eq('id', m2));
    ok(await as.bob.rpc('mark_chat_read', { p_chat_id: group }));
    ok(await serviceClient().from('messages').delete().eq('id', m1));

    const got = await received(w, 6);
    expect(got.map((b) => b.event)).toEqual(['INSERT', 'INSERT', 'UPDATE', 'UPDATE', 'read', 'DELETE']);
    const [i1, i2, edit, softDelete, read, del] = got;
    expect(MessageChangePayload.parse(i1!.payload).record).toMatchObject({ id: m1, content: 'first', sender_id: alice, chat_id: group });
    expect(MessageChangePayload.parse(i2!.payload).record).toMatchObject({ id: m2, content: 'second' });
    expect(MessageChangePayload.parse(edit!.payload)).toMatchObject({ operation: 'UPDATE', record: { id: m1, content: 'first, edited' }, old_record: { content: 'first' } });
    expect(MessageChangePayload.parse(softDelete!.payload).record).toMatchObject({ id: m2, content: '' });
    expect(MessageChangePayload.parse(softDelete!.payload).record!.deleted_at).toBeTruthy();
    expect(ReadReceiptPayload.parse(read!.payload)).toMatchObject({ user_id: bob, message_id: m2 });
    expect(MessageChangePayload.parse(del!.payload)).toMatchObject({ operation: 'DELETE', record: null, old_record: { id: m1 } });
    // Each database broadcast carries the realtime.messages row id as meta.id, as Realtime sends it.
    for (const b of got) expect(b.meta?.id).toMatch(/^[0-9a-f-]{36}$/);
    await w.channel.unsubscribe();
  });

  it('every member receives, the sender included; the 1.0.0 JSON serializer gets the same broadcasts', async () => {
    const v1 = track(
      createClient(apiUrl(), inject('publishableKey'), {
        accessToken: () => clerkToken(carol),
        realtime: { transport: ws as never, vsn: '1.0.0' } as never,
      }),
    );
    const [wa, wc] = [await watch(as.alice, chatTopic(group)), await watch(v1, chatTopic(group))];
    expect([wa.first.status, wc.first.status]).toEqual(['SUBSCRIBED', 'SUBSCRIBED']);
    const id = ok(await as.alice.rpc('send_message', { p_chat_id: group, p_content: 'to all' })).id;
    for (const w of [wa, wc]) {
      const [b] = await received(w, 1);
      expect(MessageChangePayload.parse(b!.payload).record!.id).toBe(id);
    }
    await Promise.all([wa.channel.unsubscribe(), wc.channel.unsubscribe()]);
  });

  it('a user receives their own user:<id> channel (a notification), and nobody else’s', async () => {
    const mine = await watch(as.bob, userTopic(bob));
    expect(mine.first.status).toBe('SUBSCRIBED');
    const theirs = await watch(as.mallory, userTopic(bob));
    expect(theirs.first).toMatchObject({ status: 'CHANNEL_ERROR', message: `Unauthorized: You do not have permissions to read from this Channel topic: user:${bob}` });
    ok(await as.mallory.rpc('send_friend_request', { p_user_id: bob }));
    const [n] = await received(mine, 1);
    expect(n).toMatchObject({ event: 'notification', payload: { kind: 'friend_request' } });
    await settle(300);
    expect(theirs.broadcasts).toEqual([]);
    await as.mallory.removeChannel(theirs.channel);
    await mine.channel.unsubscribe();
  });
});

describe('refused at join', () => {
  it('a non-member, on the record and on the presence channel', async () => {
    for (const topic of [chatTopic(group), chatPresenceTopic(group)]) {
      const w = await watch(as.mallory, topic);
      expect(w.first).toEqual({ status: 'CHANNEL_ERROR', message: `Unauthorized: You do not have permissions to read from this Channel topic: ${topic}` });
      await as.mallory.removeChannel(w.channel);
    }
  });

  it('the publishable key alone (role anon), a user with no profile, a forged and an expired token', async () => {
    const anon = track(anonClient());
    const w = await watch(anon, chatTopic(group));
    expect(w.first.message).toMatch(/^Unauthorized: /);
    const ghost = track(clientAs(newUserId()));
    expect((await watch(ghost, chatPresenceTopic(group))).first.message).toMatch(/^Unauthorized: /);

    const { generateKeyPairSync } = await import('node:crypto');
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const forged = track(clientWithToken(await clerkToken(bob, { privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() } as never)));
    expect((await watch(forged, chatTopic(group))).first.message).toBe('JwtSignatureError: Failed to validate JWT signature');
    const expired = track(clientWithToken(await clerkToken(bob, { ttlSeconds: -60 })));
    expect((await watch(expired, chatTopic(group))).first.message).toMatch(/^InvalidJWTToken: Token has expired \d+ seconds ago$/);
    await closeClients(anon, ghost, forged, expired);
  });

  it('a suspended user, who joined before, is refused at the next join', async () => {
    const [admin, victim] = [await createUser({ is_admin: true }), await createUser()];
    ok(await as.alice.rpc('add_chat_member', { p_chat_id: group, p_user_id: victim }));
    const client = track(clientAs(victim));
    const before = await watch(client, chatTopic(group));
    expect(before.first.status).toBe('SUBSCRIBED');
    await client.removeChannel(before.channel);
    ok(await track(clientAs(admin)).rpc('admin_suspend_user', { p_user_id: victim, p_reason: 'realtime test' }));
    const after = await watch(client, chatTopic(group));
    expect(after.first.message).toMatch(/^Unauthorized: /);
    await client.removeChannel(after.channel);
  });

  it('public channels: this project requires private channels (PrivateOnly), members included', async () => {
    const w = await watch(as.bob, chatTopic(group), { private: false });
    expect(w.first).toEqual({ status: 'CHANNEL_ERROR', message: 'PrivateOnly: This project only allows private channels' });
    await as.bob.removeChannel(w.channel);
  });

  it('a blocked user keeps the direct chat record (the policy decides so) but cannot publish on its presence channel', async () => {
    const [x, y] = [await createUser(), await createUser()];
    const [cx, cy] = [track(clientAs(x)), track(clientAs(y))];
    const direct = ok(await cx.rpc('get_or_create_direct_chat', { p_user_id: y })).id;
    ok(await cx.rpc('block_user', { p_user_id: y }));
    expect((await watch(cy, chatTopic(direct))).first.status).toBe('SUBSCRIBED');
    const wx = await watch(cx, chatPresenceTopic(direct));
    const wy = await watch(cy, chatPresenceTopic(direct), { ack: true });
    expect([wx.first.status, wy.first.status]).toEqual(['SUBSCRIBED', 'SUBSCRIBED']);
    // The send check refuses: no reply (an ack send times out, as on hosted Realtime), nothing delivered.
    expect(await wy.channel.send({ type: 'broadcast', event: 'typing', payload: { user_id: y, typing: true } }, { timeout: 1500 } as never)).toBe('timed out');
    expect(await wy.channel.track({ user_id: y, online_at: new Date().toISOString() })).toBe('error');
    await settle(300);
    expect(wx.broadcasts).toEqual([]);
    await closeClients(cx, cy);
  });
});

describe('client Broadcast and Presence on chat:<id>:presence', () => {
  it('a member’s typing reaches the other members, not the sender unless `self`; `ack` confirms', async () => {
    const wb = await watch(as.bob, chatPresenceTopic(group));
    const wa = await watch(as.alice, chatPresenceTopic(group), { ack: true });
    const wself = await watch(as.carol, chatPresenceTopic(group), { self: true });
    expect(await wa.channel.send({ type: 'broadcast', event: 'typing', payload: { user_id: alice, typing: true } })).toBe('ok');
    expect(await wself.channel.send({ type: 'broadcast', event: 'typing', payload: { user_id: carol, typing: false } })).toBe('ok');
    const got = await received(wb, 2);
    expect(got.map((b) => TypingPayload.parse(b.payload))).toEqual([{ user_id: alice, typing: true }, { user_id: carol, typing: false }]);
    await received(wself, 2);
    await settle(200);
    expect(wa.broadcasts.map((b) => b.payload.user_id)).toEqual([carol]);
    await Promise.all([wa, wb, wself].map((w) => w.channel.unsubscribe()));
  });

  it('nobody sends on chat:<id>, where the database publishes: a forged message is dropped (ack times out)', async () => {
    const wb = await watch(as.bob, chatTopic(group));
    const wa = await watch(as.alice, chatTopic(group), { ack: true });
    const forged = { operation: 'INSERT', table: 'messages', schema: 'public', old_record: null, record: { id: randomUUID(), chat_id: group, sender_id: carol, content: 'forged' } };
    expect(await wa.channel.send({ type: 'broadcast', event: 'INSERT', payload: forged }, { timeout: 1500 } as never)).toBe('timed out');
    // The REST endpoint (httpSend) runs the same check: accepted (202) as hosted answers, delivered to nobody.
    await expect(wa.channel.httpSend('INSERT', forged)).resolves.toEqual({ success: true });
    await settle();
    expect(wb.broadcasts).toEqual([]);
    await Promise.all([wa.channel.unsubscribe(), wb.channel.unsubscribe()]);
  });

  it('httpSend by a member on the presence channel is delivered', async () => {
    const wb = await watch(as.bob, chatPresenceTopic(group));
    const sender = as.carol.channel(chatPresenceTopic(group), { config: { private: true } });
    await as.carol.realtime.setAuth();
    await expect(sender.httpSend('typing', { user_id: carol, typing: true })).resolves.toEqual({ success: true });
    const [b] = await received(wb, 1);
    expect(b).toMatchObject({ event: 'typing', payload: { user_id: carol, typing: true } });
    await as.carol.removeChannel(sender);
    await wb.channel.unsubscribe();
  });

  it('presence of two clients: each sees both, then the one who leaves goes', async () => {
    const [x, y] = [await createUser(), await createUser()];
    const [cx, cy] = [track(clientAs(x)), track(clientAs(y))];
    const g = ok(await cx.rpc('create_group_chat', { p_title: 'Presence', p_member_ids: [y] })).id;
    const leaves: string[] = [];
    const wx = await watch(cx, chatPresenceTopic(g), {
      presenceKey: x,
      setup: (ch) => ch.on('presence', { event: 'leave' }, ({ key }) => leaves.push(key)),
    });
    const wy = await watch(cy, chatPresenceTopic(g), { presenceKey: y, presence: true });
    expect(await wx.channel.track({ user_id: x, online_at: new Date().toISOString() })).toBe('ok');
    expect(await wy.channel.track({ user_id: y, online_at: new Date().toISOString() })).toBe('ok');
    for (const w of [wx, wy]) {
      await vi.waitFor(() => expect(Object.keys(w.channel.presenceState()).sort()).toEqual([x, y].sort()), { timeout: 5000 });
    }
    const [meta] = (wx.channel.presenceState() as Record<string, any[]>)[y]!;
    expect(ChatPresenceState.parse(meta)).toMatchObject({ user_id: y });
    expect(meta.presence_ref).toBeTruthy();
    await wy.channel.unsubscribe();
    await vi.waitFor(() => expect(Object.keys(wx.channel.presenceState())).toEqual([x]), { timeout: 5000 });
    expect(leaves).toEqual([y]);
    await closeClients(cx, cy);
  });
});

describe('tokens and membership over time', () => {
  it('a token refresh keeps the channel and its deliveries', async () => {
    const client = track(clientWithToken(await clerkToken(bob, { ttlSeconds: 600 })));
    const w = await watch(client, chatTopic(group));
    expect(w.first.status).toBe('SUBSCRIBED');
    await client.realtime.setAuth(await clerkToken(bob, { ttlSeconds: 900 }));
    await settle(300);
    ok(await as.alice.rpc('send_message', { p_chat_id: group, p_content: 'after refresh' }));
    const [b] = await received(w, 1);
    expect(b!.payload.record.content).toBe('after refresh');
    expect(w.statuses.map((s) => s.status)).toEqual(['SUBSCRIBED']);
    await client.removeAllChannels();
  });

  it('a removed member keeps receiving until their next token refresh, as on hosted Realtime; the refresh closes the channel', async () => {
    const victim = await createUser();
    ok(await as.alice.rpc('add_chat_member', { p_chat_id: group, p_user_id: victim }));
    const client = track(clientWithToken(await clerkToken(victim, { ttlSeconds: 600 })));
    const w = await watch(client, chatTopic(group));
    expect(w.first.status).toBe('SUBSCRIBED');
    ok(await as.alice.rpc('remove_chat_member', { p_chat_id: group, p_user_id: victim }));
    // Hosted Realtime checks policies at join and when the token changes
    // (realtime_channel.ex handle_in("access_token")), not per message.
    ok(await as.alice.rpc('send_message', { p_chat_id: group, p_content: 'before the refresh' }));
    await received(w, 1);
    await client.realtime.setAuth(await clerkToken(victim, { ttlSeconds: 900 }));
    await vi.waitFor(() => expect(w.statuses.map((s) => s.status)).toContain('CLOSED'), { timeout: 5000 });
    expect(w.system).toContainEqual(expect.objectContaining({ status: 'error', message: `You do not have permissions to read from this Channel topic: ${chatTopic(group)}` }));
    ok(await as.alice.rpc('send_message', { p_chat_id: group, p_content: 'after the refresh' }));
    await settle();
    expect(w.broadcasts.map((b) => b.payload.record?.content)).toEqual(['before the refresh']);
  });

  it('a token that expires closes the channel at its `exp`', async () => {
    const client = track(clientWithToken(await clerkToken(bob, { ttlSeconds: 3 })));
    const w = await watch(client, chatTopic(group));
    expect(w.first.status).toBe('SUBSCRIBED');
    await vi.waitFor(() => expect(w.statuses.map((s) => s.status)).toContain('CLOSED'), { timeout: 8000 });
    expect(w.system[0]?.message).toMatch(/^Token has expired \d+ seconds ago$/);
  });
});

describe('limits', () => {
  it('a broadcast over the payload limit (256 KB) is refused with an error reply', async () => {
    const wb = await watch(as.bob, chatPresenceTopic(group));
    const wa = await watch(as.alice, chatPresenceTopic(group), { ack: true });
    expect(await wa.channel.send({ type: 'broadcast', event: 'typing', payload: { user_id: alice, pad: 'x'.repeat(300_000) } })).toBe('error');
    await settle(300);
    expect(wb.broadcasts).toEqual([]);
    await Promise.all([wa.channel.unsubscribe(), wb.channel.unsubscribe()]);
  });
});

describe('the socket', () => {
  it('an unknown API key is refused at the upgrade with the gateway’s 401 body', async () => {
    const refusal = (query: string) =>
      new Promise<{ status: number; body: any }>((resolve, reject) => {
        const req = http.get(`${apiUrl()}/realtime/v1/websocket?${query}`, {
          headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' },
        });
        req.on('upgrade', () => reject(new Error('upgraded')));
        req.on('response', (res) => {
          let text = '';
          res.on('data', (c) => (text += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
        });
        req.on('error', reject);
      });
    expect(await refusal('apikey=sb_publishable_nope&vsn=2.0.0')).toEqual({ status: 401, body: expect.objectContaining({ message: 'Invalid API key' }) });
    expect(await refusal('vsn=2.0.0')).toEqual({ status: 401, body: expect.objectContaining({ message: 'No API key found in request' }) });
  });

  it('database rows of a private topic never reach an unjoined socket (owner writes go through replication only to members)', async () => {
    const w = await watch(as.carol, chatTopic(group));
    await owner()`select realtime.send('{"x":1}'::jsonb, 'probe', ${chatTopic(group)}, true)`;
    await owner()`select realtime.send('{"x":2}'::jsonb, 'probe', ${chatTopic(group)}, false)`; // a public row: no private channel gets it
    const got = await received(w, 1);
    await settle(300);
    expect(got.map((b) => b.payload)).toEqual([expect.objectContaining({ x: 1 })]);
    await w.channel.unsubscribe();
  });
});
