/**
 * The Realtime payload schemas of @chat-with-me/shared against what the
 * database really broadcasts (realtime.messages rows written by our triggers
 * and RPCs): every event on chat:<id> and user:<id> parses with the schema of
 * its event name; the topic builders name the channels the Realtime policies
 * authorise (database topics receive-only, chat:<id>:presence for members).
 */
import {
  ChatChannelEvents,
  ChatPresenceEvents,
  ChatPresenceState,
  chatPresenceTopic,
  chatTopic,
  UserChannelEvents,
  userTopic,
} from '@chat-with-me/shared';
import { afterAll, describe, expect, it } from 'vitest';
import { asUser, broadcastsOn, closeDb, createUser, realtimeJoin, realtimeSend } from '../helpers/db.js';

afterAll(closeDb);

describe('Realtime payload schemas', () => {
  it('parse every broadcast of a chat’s life', async () => {
    const [alice, bob, carol] = [await createUser(), await createUser(), await createUser()];
    const [group] = await asUser(alice, (tx) => tx`select * from public.create_group_chat('Schemas', ${[bob]}::text[])`);
    const chat = group!.id as string;
    await asUser(alice, (tx) => tx`select public.add_chat_member(${chat}, ${carol})`);
    const [m1] = await asUser(alice, (tx) => tx`select * from public.send_message(${chat}, 'hello')`);
    await asUser(bob, (tx) => tx`select * from public.send_message(${chat}, 'hi', 'text', 'client-1', ${m1!.id})`);
    await asUser(alice, (tx) => tx`update public.messages set content = 'hello!' where id = ${m1!.id}`);
    await asUser(alice, (tx) => tx`update public.messages set deleted_at = now() where id = ${m1!.id}`);
    await asUser(bob, (tx) => tx`select public.mark_chat_read(${chat})`);
    await asUser(carol, (tx) => tx`select public.leave_chat(${chat})`);

    const chatEvents = await broadcastsOn(chatTopic(chat));
    expect(chatEvents.map((e) => e.event)).toEqual(expect.arrayContaining(['INSERT', 'UPDATE', 'read']));
    for (const e of chatEvents) {
      const schema = ChatChannelEvents[e.event as keyof typeof ChatChannelEvents];
      expect(schema, `unknown event ${e.event}`).toBeDefined();
      const parsed = schema.safeParse(e.payload);
      expect(parsed.success, `${e.event}: ${JSON.stringify(parsed.error?.issues)}`).toBe(true);
    }
    const insert = ChatChannelEvents.INSERT.parse(chatEvents.find((e) => e.event === 'INSERT')!.payload);
    expect(insert).toMatchObject({ operation: 'INSERT', table: 'messages', schema: 'public', old_record: null });
    expect(insert.record!.content).toBe('hello');

    for (const user of [alice, bob, carol]) {
      const events = await broadcastsOn(userTopic(user));
      for (const e of events) {
        const schema = UserChannelEvents[e.event as keyof typeof UserChannelEvents];
        expect(schema, `unknown event ${e.event}`).toBeDefined();
        const parsed = schema.safeParse(e.payload);
        expect(parsed.success, `${e.event}: ${JSON.stringify(parsed.error?.issues)}`).toBe(true);
      }
    }
    const carolEvents = (await broadcastsOn(userTopic(carol))).map((e) => e.event);
    expect(carolEvents).toEqual(expect.arrayContaining(['chat_added', 'notification', 'chat_removed']));
  });
});

describe('Realtime topic builders', () => {
  it('name the channels the policies authorise: database topics receive-only, the presence topic for members', async () => {
    const [alice, bob] = [await createUser(), await createUser()];
    const chat = (await asUser(alice, (tx) => tx`select id from public.get_or_create_direct_chat(${bob})`))[0]!.id as string;
    expect(chatTopic(chat)).toBe(`chat:${chat}`);
    expect(userTopic(alice)).toBe(`user:${alice}`);
    expect(chatPresenceTopic(chat)).toBe(`chat:${chat}:presence`);
    for (const topic of [chatTopic(chat), userTopic(alice)]) {
      expect(await realtimeJoin(alice, topic), topic).toEqual({ broadcast: true, presence: false, joined: true });
      expect(await realtimeSend(alice, topic), topic).toBe(false);
    }
    expect(await realtimeJoin(alice, chatPresenceTopic(chat))).toEqual({ broadcast: true, presence: true, joined: true });
    expect(await realtimeSend(alice, chatPresenceTopic(chat), 'broadcast')).toBe(true);
    expect(await realtimeSend(alice, chatPresenceTopic(chat), 'presence')).toBe(true);
  });

  it('type what members publish on the presence topic', () => {
    expect(ChatPresenceEvents.typing.parse({ user_id: 'user_abc123', typing: true })).toEqual({ user_id: 'user_abc123', typing: true });
    expect(ChatPresenceEvents.typing.safeParse({ user_id: 'not-a-user', typing: 'yes' }).success).toBe(false);
    expect(ChatPresenceState.safeParse({ user_id: 'user_abc123', online_at: '2026-11-22T08:00:00.000Z' }).success).toBe(true);
  });
});
