import { afterAll, describe, expect, it } from 'vitest';
import { asUser, broadcastsOn, closeDb, createUser, pgError, realtimeJoin, realtimeSend } from '../helpers/db.js';

afterAll(closeDb);

describe('smoke: two friends chat', () => {
  it('works end to end under RLS', async () => {
    const alice = await createUser();
    const bob = await createUser();
    const eve = await createUser();
    const req = await asUser(alice, (tx) => tx`select * from public.send_friend_request(${bob})`);
    expect(req[0]!.status).toBe('pending');
    await asUser(bob, (tx) => tx`select * from public.accept_friend_request(${req[0]!.id})`);
    const [chat] = await asUser(alice, (tx) => tx`select * from public.get_or_create_direct_chat(${bob})`);
    const [msg] = await asUser(alice, (tx) => tx`select * from public.send_message(${chat!.id}, 'hi bob')`);
    expect(msg!.content).toBe('hi bob');
    const seen = await asUser(bob, (tx) => tx`select content from public.messages where chat_id = ${chat!.id}`);
    expect(seen.map((r) => r.content)).toEqual(['hi bob']);
    const hidden = await asUser(eve, (tx) => tx`select content from public.messages where chat_id = ${chat!.id}`);
    expect(hidden).toHaveLength(0);
    const err = await pgError(asUser(eve, (tx) => tx`insert into public.messages (chat_id, sender_id, content) values (${chat!.id}, ${eve}, 'x')`));
    expect(err.code).toBe('42501');
    expect(await realtimeJoin(bob, `chat:${chat!.id}`)).toMatchObject({ joined: true });
    expect(await realtimeJoin(eve, `chat:${chat!.id}`)).toMatchObject({ joined: false });
    // Members publish typing/presence on chat:<id>:presence; only the database publishes on chat:<id>.
    expect(await realtimeSend(bob, `chat:${chat!.id}:presence`)).toBe(true);
    expect(await realtimeSend(bob, `chat:${chat!.id}`)).toBe(false);
    expect(await realtimeSend(eve, `chat:${chat!.id}:presence`)).toBe(false);
    const b = await broadcastsOn(`chat:${chat!.id}`);
    expect(b.map((r) => r.event)).toContain('INSERT');
    const n = await broadcastsOn(`user:${bob}`);
    expect(n.map((r) => r.event)).toContain('notification');
  });
});
