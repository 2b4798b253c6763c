/**
 * 1. Message send: messages per second sent as `authenticated` users through
 * the real path, against a bare insert into a table of the same shape without
 * RLS or triggers, at 1, 8 and 32 concurrent connections.
 *
 * Variants (each worker sends into its own group chat as one of its members;
 * every message carries a fresh client_id, the idempotency key clients send):
 *  - `bare`: the baseline. `insert into bench.messages_bare …` (LIKE
 *    public.messages including defaults, constraints and indexes; no RLS, no
 *    triggers, no foreign keys) as a single autocommit statement by the owner.
 *  - `bare_request`: the same bare insert inside the PostgREST request envelope
 *    (authenticator, transaction, role and claims set): what the envelope
 *    alone costs, with no policy or trigger.
 *  - `insert_rls`: the real path as supabase-js `.from('messages').insert()`
 *    runs it: the envelope, then `insert into public.messages` as
 *    `authenticated`: insert policy (sender = sub, member of the chat),
 *    check_message_insert, foreign keys, bump_chat_last_message,
 *    broadcast_message_change → realtime.send → a realtime.messages row.
 *  - `send_message_rpc`: the same through `rpc('send_message')` (idempotent
 *    insert … on conflict do nothing returning *).
 */
import { randomUUID } from 'node:crypto';
import { benchUserId } from '../lib/dataset.mjs';
import { asUser, pool, withUser } from '../lib/db.mjs';
import { interleavedThroughput, round } from '../lib/measure.mjs';

export const SEND_CONCURRENCY = [1, 8, 32];

/**
 * @param {{ superuser: import('postgres').Sql, url: string, quick: boolean, users: number, log: (s: string) => void }} ctx
 */
export async function benchSend({ superuser, url, quick, users, log }) {
  const maxC = Math.max(...SEND_CONCURRENCY);
  // Dedicated group chats: chat w has sender = bench user (2 + w) and three other members.
  await superuser.unsafe(`
    create schema if not exists bench;
    grant usage on schema bench to postgres, authenticated;
    drop table if exists bench.messages_bare;
    create table bench.messages_bare (like public.messages including defaults including constraints including indexes);
    grant insert, select on bench.messages_bare to postgres, authenticated;
    create table if not exists bench.send_chats (w int primary key, chat_id uuid not null, sender_id text not null);
    truncate bench.send_chats;
    grant select on bench.send_chats to postgres;
  `);
  await superuser.unsafe(`
    with c as (
      insert into public.chats (kind, title, created_by)
      select 'group', 'Send bench ' || w, 'user_bench' || lpad((2 + w)::text, 19, '0')
      from generate_series(0, ${maxC - 1}) w
      returning id, title
    )
    insert into bench.send_chats (w, chat_id, sender_id)
    select split_part(c.title, ' ', 3)::int, c.id, 'user_bench' || lpad((2 + split_part(c.title, ' ', 3)::int)::text, 19, '0')
    from c;
    insert into public.chat_members (chat_id, user_id, role)
    select s.chat_id, 'user_bench' || lpad(u::text, 19, '0'), case when k = 0 then 'owner' else 'member' end::public.chat_member_role
    from bench.send_chats s
    cross join lateral (select k, 2 + ((s.w + k * 97) % ${users - 2}) as u from generate_series(0, 3) k) m;
  `);
  const chats = await superuser`select w, chat_id, sender_id from bench.send_chats order by w`;
  if (chats.some((c, i) => c.sender_id !== benchUserId(2 + i))) throw new Error('send chats not as expected');

  const roundMs = quick ? 400 : 2500;
  const rounds = quick ? 1 : 3;
  const results = [];
  for (const concurrency of SEND_CONCURRENCY) {
    const auth = pool(withUser(url, 'authenticator'), concurrency);
    const owner = pool(url, concurrency);
    try {
      const content = (w, i) => `Bench message ${i} from worker ${w}: the quick brown fox jumps over the lazy dog`;
      const variants = {
        bare: (w, i) => {
          const c = chats[w];
          return owner`insert into bench.messages_bare (chat_id, sender_id, kind, content, client_id)
                       values (${c.chat_id}, ${c.sender_id}, 'text', ${content(w, i)}, ${randomUUID()})`;
        },
        bare_request: (w, i) => {
          const c = chats[w];
          return asUser(auth, c.sender_id, (tx) => tx`
            insert into bench.messages_bare (chat_id, sender_id, kind, content, client_id)
            values (${c.chat_id}, ${c.sender_id}, 'text', ${content(w, i)}, ${randomUUID()})`, { path: '/rest/v1/messages_bare' });
        },
        insert_rls: (w, i) => {
          const c = chats[w];
          return asUser(auth, c.sender_id, (tx) => tx`
            insert into public.messages (chat_id, sender_id, kind, content, client_id)
            values (${c.chat_id}, ${c.sender_id}, 'text', ${content(w, i)}, ${randomUUID()})`, { path: '/rest/v1/messages' });
        },
        send_message_rpc: (w, i) => {
          const c = chats[w];
          return asUser(auth, c.sender_id, (tx) => tx`
            select * from public.send_message(${c.chat_id}, ${content(w, i)}, 'text', ${randomUUID()})`,
            { path: '/rest/v1/rpc/send_message' });
        },
      };
      const r = await interleavedThroughput({
        variants, concurrency, rounds, roundMs, maxOpsPerRound: quick ? 5000 : 100_000, warmupMs: quick ? 100 : 500,
      });
      const errors = Object.entries(r).filter(([, v]) => v.errors > 0);
      if (errors.length) throw new Error(`send errors: ${errors.map(([n, v]) => `${n}: ${v.errors} (${v.firstError})`).join('; ')}`);
      const row = {
        concurrency,
        rates: Object.fromEntries(Object.entries(r).map(([n, v]) => [n, v.rate])),
        rounds: Object.fromEntries(Object.entries(r).map(([n, v]) => [n, v.rounds])),
        ratio_insert_rls: round(r.insert_rls.rate / r.bare.rate),
        ratio_send_message_rpc: round(r.send_message_rpc.rate / r.bare.rate),
        ratio_bare_request: round(r.bare_request.rate / r.bare.rate),
        ratio_insert_rls_vs_bare_request: round(r.insert_rls.rate / r.bare_request.rate),
        ratio_send_message_rpc_vs_bare_request: round(r.send_message_rpc.rate / r.bare_request.rate),
      };
      log(`send c=${concurrency}: ${Object.entries(row.rates).map(([n, v]) => `${n} ${v}/s`).join(', ')}`);
      results.push(row);
    } finally {
      await Promise.all([auth.end(), owner.end()]);
    }
  }

  // What the real path wrote besides the messages (sanity: one broadcast row per message).
  const [check] = await superuser`
    select (select count(*) from public.messages m join bench.send_chats s on s.chat_id = m.chat_id)::int as messages,
           (select count(*) from realtime.messages r join bench.send_chats s on r.topic = 'chat:' || s.chat_id
             where r.event = 'INSERT')::int as broadcasts,
           (select count(*) from bench.send_chats s join public.chats c on c.id = s.chat_id
             where c.last_message_id = (select m.id from public.messages m where m.chat_id = s.chat_id
                                        order by m.created_at desc, m.id desc limit 1))::int as chats_bumped,
           (select count(*) from bench.send_chats)::int as chats`;
  return { results, check };
}
