/**
 * 08 — races between concurrent requests, each in its own transaction as
 * PostgREST runs them: opening the same direct chat from both sides, friend
 * requests crossing each other, and retried sends with one client_id.
 * Bounded: ROUNDS rounds of CALLS parallel calls; the harness pool has 4
 * connections, so calls really overlap.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { asUser, closeDb, createUser, owner } from '../helpers/db.js';

afterAll(closeDb);

const ROUNDS = 10;
const CALLS = 8;

describe('two users racing to open the same direct chat', () => {
  it('get exactly one chat with exactly two members', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const [a, b] = [await createUser(), await createUser()];
      const results = await Promise.all(
        Array.from({ length: CALLS }, (_, i) => {
          const [me, other] = i % 2 ? [a, b] : [b, a];
          return asUser(me, (tx) => tx`select id from public.get_or_create_direct_chat(${other})`);
        }),
      );
      const ids = new Set(results.map((r) => r[0]!.id));
      expect(ids.size, `round ${round}`).toBe(1);
      const chats = await owner()`select id from public.chats where direct_key = ${[a, b].sort().join(':')}`;
      expect(chats).toHaveLength(1);
      expect(chats[0]!.id).toBe([...ids][0]);
      const members = await owner()`select user_id, role from public.chat_members where chat_id = ${chats[0]!.id} order by user_id`;
      expect(members).toEqual([a, b].sort().map((user_id) => ({ user_id, role: 'member' })));
    }
  });
});

describe('two users sending each other a friend request at the same time', () => {
  it('end with one live row, and since both asked, they are friends', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const [a, b] = [await createUser(), await createUser()];
      const results = await Promise.all([
        asUser(a, (tx) => tx`select id, status from public.send_friend_request(${b})`),
        asUser(b, (tx) => tx`select id, status from public.send_friend_request(${a})`),
      ]);
      const rows = await owner()`
        select id, status from public.friends
        where least(requester_id, addressee_id) = ${[a, b].sort()[0]!}
          and greatest(requester_id, addressee_id) = ${[a, b].sort()[1]!}`;
      expect(rows, `round ${round}`).toHaveLength(1);
      // Whichever order the two requests are applied in, the second one accepts the first.
      expect(rows[0]!.status, `round ${round}`).toBe('accepted');
      // Both callers were answered with that one row.
      expect(results.map((r) => r[0]!.id)).toEqual([rows[0]!.id, rows[0]!.id]);
    }
  });

  it('repeated requests from one side in parallel stay one pending row, notified once', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const [a, b] = [await createUser(), await createUser()];
      await Promise.all(Array.from({ length: CALLS }, () => asUser(a, (tx) => tx`select public.send_friend_request(${b})`)));
      const rows = await owner()`select status from public.friends where requester_id = ${a} and addressee_id = ${b}`;
      expect(rows).toEqual([{ status: 'pending' }]);
      expect(await owner()`select 1 from public.notifications where user_id = ${b} and kind = 'friend_request'`).toHaveLength(1);
    }
  });
});

describe('a client retrying send_message with the same client_id in parallel', () => {
  it('creates one message, and every retry returns it', async () => {
    const [a, b] = [await createUser(), await createUser()];
    const chat = (await asUser(a, (tx) => tx`select id from public.get_or_create_direct_chat(${b})`))[0]!.id;
    for (let round = 0; round < ROUNDS; round++) {
      const key = `retry-${round}-${crypto.randomUUID()}`;
      const results = await Promise.all(
        Array.from({ length: CALLS }, () =>
          asUser(a, (tx) => tx`select id from public.send_message(${chat}, ${`hello ${round}`}, 'text', ${key})`),
        ),
      );
      const ids = new Set(results.map((r) => r[0]!.id));
      expect(ids.size, `round ${round}`).toBe(1);
      expect([...ids][0]).not.toBeNull();
      const rows = await owner()`select id from public.messages where sender_id = ${a} and client_id = ${key}`;
      expect(rows.map((r) => r.id)).toEqual([...ids]);
    }
    expect(await owner()`select 1 from public.messages where chat_id = ${chat}`).toHaveLength(ROUNDS);
  });
});
