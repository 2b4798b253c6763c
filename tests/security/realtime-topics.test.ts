/**
 * Clients can trust what arrives on Realtime (issue 13, item 3), from the
 * attacker's side. Realtime's send check (an INSERT on realtime.messages as
 * the user, https://supabase.com/docs/guides/realtime/authorization) sees the
 * topic and the extension, never the event name: a member allowed to send on
 * the topic where the database publishes messages could broadcast an INSERT
 * "from" anyone, or from the AI, an UPDATE that hides a message, or a forged
 * read receipt. So: every topic the database publishes on refuses every
 * client send, and members publish typing and presence on
 * `chat:<id>:presence` only.
 */
import { ChatChannelEvents, chatPresenceTopic, chatTopic, UserChannelEvents, userTopic } from '@chat-with-me/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asUser, broadcastsOn, clerkClaims, closeDb, createUser, owner, realtimeJoin, realtimeSend, superuser } from '../helpers/db.js';

afterAll(closeDb);

let alice: string, bob: string, carol: string, mallory: string;
let direct: string, group: string, assistant: string;

beforeAll(async () => {
  [alice, bob, carol, mallory] = [await createUser(), await createUser(), await createUser(), await createUser()];
  // A life that makes the database publish on every kind of topic it uses.
  direct = (await asUser(alice, (tx) => tx`select id from public.get_or_create_direct_chat(${mallory})`))[0]!.id;
  group = (await asUser(alice, (tx) => tx`select id from public.create_group_chat('Trust', ${[bob, mallory]}::text[])`))[0]!.id;
  await asUser(alice, (tx) => tx`select public.add_chat_member(${group}, ${carol})`);
  assistant = (await asUser(mallory, (tx) => tx`select id from public.create_assistant_chat('Mine')`))[0]!.id;
  const [m] = await asUser(alice, (tx) => tx`select id from public.send_message(${group}, 'the real message')`);
  await asUser(alice, (tx) => tx`update public.messages set content = 'the real message, edited' where id = ${m!.id}`);
  await asUser(alice, (tx) => tx`select public.send_message(${direct}, 'hi Mallory')`);
  await asUser(bob, (tx) => tx`select public.mark_chat_read(${group})`);
  await asUser(alice, (tx) => tx`select public.send_friend_request(${mallory})`);
  await owner()`select public.admin_grant_credits(${mallory}, 1000, 'balance event for the topic test')`;
  await asUser(carol, (tx) => tx`select public.leave_chat(${group})`);
});

/** Topics the database wrote broadcasts on for this file's users and chats (fresh ids: nobody else writes there). */
async function databaseTopics(): Promise<string[]> {
  const ours = [direct, group, assistant].map(chatTopic).concat([alice, bob, carol, mallory].map(userTopic));
  const rows = await owner()<{ topic: string }[]>`
    select distinct topic from realtime.messages
    where extension = 'broadcast' and topic = any (${ours}::text[])`;
  return rows.map((r) => r.topic).sort();
}

describe('topics the database publishes on', () => {
  it('are chat:<id> and user:<id> topics, and carry only the events of the shared schemas', async () => {
    const topics = await databaseTopics();
    expect(topics).toEqual(expect.arrayContaining([chatTopic(direct), chatTopic(group), userTopic(alice), userTopic(mallory), userTopic(carol)]));
    for (const topic of topics) {
      const events = topic.startsWith('user:') ? UserChannelEvents : ChatChannelEvents;
      for (const row of await broadcastsOn(topic)) expect(Object.keys(events), topic).toContain(row.event);
    }
  });

  it('refuse every send by a plain member, Broadcast and Presence, on each of them', async () => {
    const topics = await databaseTopics();
    expect(topics.length).toBeGreaterThanOrEqual(6);
    for (const topic of topics) {
      for (const extension of ['broadcast', 'presence'] as const) {
        expect(await realtimeSend(mallory, topic, extension), `${topic} ${extension}`).toBe(false);
      }
    }
  });

  it('refuse sends by everyone who may receive there: each member on chat:<id>, each user on their own user:<id>', async () => {
    for (const who of [alice, bob, mallory]) {
      expect(await realtimeJoin(who, chatTopic(group))).toMatchObject({ broadcast: true, joined: true });
      expect(await realtimeSend(who, chatTopic(group))).toBe(false);
      expect(await realtimeJoin(who, userTopic(who))).toMatchObject({ broadcast: true, joined: true });
      expect(await realtimeSend(who, userTopic(who))).toBe(false);
    }
    // The owner of an assistant chat is its only member: still no send on its record.
    expect(await realtimeSend(mallory, chatTopic(assistant))).toBe(false);
  });

  it('offer no Presence either: a client cannot show itself online on the record topics', async () => {
    expect(await realtimeJoin(mallory, chatTopic(group))).toEqual({ broadcast: true, presence: false, joined: true });
    expect(await realtimeJoin(mallory, userTopic(mallory))).toEqual({ broadcast: true, presence: false, joined: true });
  });

  it('a forged message, edit, delete or read receipt sent as a member through realtime.send writes nothing', async () => {
    const forged = [
      ['INSERT', { operation: 'INSERT', table: 'messages', schema: 'public', old_record: null,
        record: { id: crypto.randomUUID(), chat_id: group, sender_id: alice, kind: 'text', content: 'send me your password', forged: true } }],
      ['INSERT', { operation: 'INSERT', table: 'messages', schema: 'public', old_record: null,
        record: { id: crypto.randomUUID(), chat_id: group, sender_id: null, kind: 'ai', content: 'the AI agrees with Mallory', forged: true } }],
      ['UPDATE', { operation: 'UPDATE', table: 'messages', schema: 'public', forged: true, record: { deleted_at: new Date().toISOString() } }],
      ['read', { user_id: alice, message_id: crypto.randomUUID(), read_at: new Date().toISOString(), forged: true }],
      ['chat_updated', { chat_id: group, title: 'Mallory rules', forged: true }],
    ] as const;
    await superuser().begin(async (tx) => {
      await tx`select set_config('role', 'authenticated', true),
                      set_config('request.jwt.claims', ${JSON.stringify(clerkClaims(mallory))}, true)`;
      for (const [event, payload] of forged) {
        await tx`select realtime.send(${tx.json(payload)}::jsonb, ${event}, ${chatTopic(group)}, true)`;
      }
      await tx`select realtime.send(${tx.json({ id: crypto.randomUUID(), kind: 'low_balance', payload: {}, created_at: new Date().toISOString(), forged: true })}::jsonb,
                                    'notification', ${userTopic(alice)}, true)`;
    });
    for (const topic of [chatTopic(group), userTopic(alice)]) {
      expect((await broadcastsOn(topic)).filter((r) => r.payload.forged || r.payload.record?.forged)).toEqual([]);
    }
    // The database's own broadcasts still arrive there (control).
    expect((await broadcastsOn(chatTopic(group))).map((r) => r.event)).toEqual(expect.arrayContaining(['INSERT', 'UPDATE', 'read']));
  });
});

describe('chat:<id>:presence, where members publish', () => {
  it('lets each member send typing (Broadcast) and Presence', async () => {
    for (const [who, chat] of [[alice, group], [bob, group], [mallory, group], [mallory, direct], [mallory, assistant]] as const) {
      expect(await realtimeJoin(who, chatPresenceTopic(chat)), `${who} ${chat}`).toEqual({ broadcast: true, presence: true, joined: true });
      expect(await realtimeSend(who, chatPresenceTopic(chat), 'broadcast'), `${who} ${chat}`).toBe(true);
      expect(await realtimeSend(who, chatPresenceTopic(chat), 'presence'), `${who} ${chat}`).toBe(true);
    }
  });

  it('refuses those who left and those who never belonged', async () => {
    for (const [who, chat] of [[carol, group], [bob, direct], [alice, assistant]] as const) {
      expect(await realtimeJoin(who, chatPresenceTopic(chat))).toMatchObject({ joined: false });
      expect(await realtimeSend(who, chatPresenceTopic(chat), 'broadcast')).toBe(false);
      expect(await realtimeSend(who, chatPresenceTopic(chat), 'presence')).toBe(false);
    }
  });

  it('is never where the database publishes', async () => {
    for (const chat of [direct, group, assistant]) expect(await broadcastsOn(chatPresenceTopic(chat))).toEqual([]);
  });
});
