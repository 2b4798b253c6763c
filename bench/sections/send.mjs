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
 *    `authenticated`: insert policy (sender = sub, member of the chat) and the
 *    suspension policy, check_message_insert (block check, rate limit),
 *    foreign keys, then the one AFTER INSERT trigger message_inserted (chat
 *    bump, the realtime.messages broadcast row, push outbox for members with a
 *    device, mentions in groups when the text has an '@', widget counters in
 *    widget chats).
 *  - `send_message_rpc`: the same through `rpc('send_message')` (idempotent
 *    insert … on conflict do nothing returning *).
 *
 * Where the time goes (`breakdown`, after the throughput runs, on one
 * connection of chat 0):
 *  - `explain (analyze, buffers, timing)` of the insert as `authenticated`
 *    inside the envelope, and of the bare insert, the mean over `explainRuns`
 *    statements: each trigger's time ("Trigger …: time=… calls=…", the
 *    foreign-key checks included), the insert node (heap, indexes, policies,
 *    BEFORE triggers) and the statement's execution time;
 *  - `track_functions = 'pl'` (pg_stat_user_functions) and, when the server
 *    preloads pg_stat_statements (bench/run.mjs), `pg_stat_statements.track =
 *    all` (the statements run inside functions and triggers), both set for
 *    the `authenticator` role during this step only: calls, total and self
 *    time of each function and mean time of each statement, per message, over
 *    `statRuns` interleaved sends of each variant.
 * EXPLAIN's clock costs time of its own: read it as proportions.
 */
import { randomUUID } from 'node:crypto';
import { benchUserId } from '../lib/dataset.mjs';
import { asUser, pgStatStatements, pool, withUser } from '../lib/db.mjs';
import { interleavedThroughput, round } from '../lib/measure.mjs';

export const SEND_CONCURRENCY = [1, 8, 32];

/**
 * @param {{ superuser: import('postgres').Sql, url: string, quick: boolean, users: number, log: (s: string) => void }} ctx
 */
export async function benchSend({ superuser, url, quick, users, log }, { breakdown: withBreakdown = true } = {}) {
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
  const breakdown = withBreakdown ? await sendBreakdown({ superuser, url, chat: chats[0], quick, log }) : undefined;
  return { results, check, breakdown };
}

/** Mean per message of each "Trigger …" line, the insert node and the execution time in EXPLAIN ANALYZE output. */
function explainTimes(plans) {
  const sum = { triggers: {}, insert_node_ms: 0, execution_ms: 0, planning_ms: 0 };
  for (const lines of plans) {
    for (const line of lines) {
      let m = line.match(/^Trigger (.+?): time=([\d.]+) calls=(\d+)/);
      if (m) sum.triggers[m[1]] = (sum.triggers[m[1]] ?? 0) + Number(m[2]);
      else if ((m = line.match(/^(Planning|Execution) Time: ([\d.]+) ms/))) sum[`${m[1].toLowerCase()}_ms`] += Number(m[2]);
      else if ((m = line.match(/^\s*Insert on \S+ .*actual time=[\d.]+\.\.([\d.]+)/))) sum.insert_node_ms += Number(m[1]);
    }
  }
  const n = plans.length;
  const mean = (v) => round(v / n, 4);
  return {
    triggers: Object.fromEntries(Object.entries(sum.triggers).sort(([, a], [, b]) => b - a).map(([k, v]) => [k, mean(v)])),
    insert_node_ms: mean(sum.insert_node_ms), execution_ms: mean(sum.execution_ms), planning_ms: mean(sum.planning_ms),
  };
}

/**
 * Where the send path's time goes, on one connection of `chat` (see the file's docstring).
 * @param {{ superuser: import('postgres').Sql, url: string, chat: { chat_id: string, sender_id: string }, quick: boolean, log: (s: string) => void }} ctx
 */
async function sendBreakdown({ superuser, url, chat: c, quick, log }) {
  const explainRuns = quick ? 20 : 100;
  const statRuns = quick ? 50 : 300;
  const content = (i) => `Breakdown message ${i}: the quick brown fox jumps over the lazy dog`;
  const insert = (tx, table, i) => tx`
    insert into ${tx(table)} (chat_id, sender_id, kind, content, client_id)
    values (${c.chat_id}, ${c.sender_id}, 'text', ${content(i)}, ${randomUUID()})`;
  const explain = (tx, table, i) => tx`
    explain (analyze, buffers, timing)
    insert into ${tx(table)} (chat_id, sender_id, kind, content, client_id)
    values (${c.chat_id}, ${c.sender_id}, 'text', ${content(i)}, ${randomUUID()})`;

  // 1. EXPLAIN ANALYZE, alternating the real insert and the bare one.
  const plans = { insert_rls: [], bare_request: [] };
  const auth = pool(withUser(url, 'authenticator'), 1);
  try {
    for (let i = 0; i < explainRuns + 5; i++) {
      for (const [name, table] of [['insert_rls', 'public.messages'], ['bare_request', 'bench.messages_bare']]) {
        const rows = await asUser(auth, c.sender_id, (tx) => explain(tx, table, i));
        if (i >= 5) plans[name].push(rows.map((r) => r['QUERY PLAN']));
      }
    }
  } finally {
    await auth.end();
  }
  const explained = { runs: explainRuns, insert_rls: explainTimes(plans.insert_rls), bare_request: explainTimes(plans.bare_request) };

  // 2. Function and statement statistics, collected for the authenticator role only while this runs.
  const pgss = await pgStatStatements(superuser);
  await superuser`alter role authenticator set track_functions = 'pl'`;
  if (pgss) await superuser.unsafe(`alter role authenticator set pg_stat_statements.track = 'all'`);
  let functions = [];
  let statements = [];
  try {
    const stats = pool(withUser(url, 'authenticator'), 1);
    const before = await superuser`select funcid, calls, total_time, self_time from pg_stat_user_functions`;
    try {
      for (let i = 0; i < 5; i++) await asUser(stats, c.sender_id, (tx) => insert(tx, 'public.messages', i));
      if (pgss) await superuser`select extensions.pg_stat_statements_reset()`;
      for (let i = 0; i < statRuns; i++) {
        await asUser(stats, c.sender_id, (tx) => insert(tx, 'public.messages', i));
        await asUser(stats, c.sender_id, (tx) => tx`select id from public.send_message(${c.chat_id}, ${content(i)}, 'text', ${randomUUID()})`);
      }
    } finally {
      await stats.end(); // a closing backend flushes its function statistics
    }
    const perMessage = 2 * statRuns;
    const prev = new Map(before.map((b) => [b.funcid, b]));
    for (let i = 0; i < 50; i++) {
      await superuser`select pg_stat_clear_snapshot()`;
      const after = await superuser`
        select f.funcid, f.schemaname || '.' || f.funcname as name, f.calls, f.total_time, f.self_time
        from pg_stat_user_functions f`;
      functions = after
        .map((a) => {
          const b = prev.get(a.funcid) ?? { calls: 0, total_time: 0, self_time: 0 };
          return { name: a.name, calls_per_message: round((Number(a.calls) - Number(b.calls)) / perMessage, 2),
            total_ms_per_message: round((a.total_time - b.total_time) / perMessage, 4), self_ms_per_message: round((a.self_time - b.self_time) / perMessage, 4) };
        })
        .filter((f) => f.calls_per_message > 0)
        .sort((a, b) => b.total_ms_per_message - a.total_ms_per_message);
      if (functions.length) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    if (pgss) {
      statements = (await superuser`
        select toplevel, calls, total_exec_time, regexp_replace(query, '[[:space:]]+', ' ', 'g') as query
        from extensions.pg_stat_statements
        where userid <> (select oid from pg_roles where rolname = current_user) and calls >= ${statRuns}
        order by total_exec_time desc
        limit 25`).map((s) => ({
        toplevel: s.toplevel, calls_per_message: round(Number(s.calls) / perMessage, 2),
        mean_ms: round(s.total_exec_time / Number(s.calls), 4), ms_per_message: round(s.total_exec_time / perMessage, 4),
        query: s.query.length > 140 ? `${s.query.slice(0, 140)}…` : s.query,
      }));
    }
  } finally {
    await superuser`alter role authenticator reset track_functions`;
    if (pgss) await superuser.unsafe(`alter role authenticator reset pg_stat_statements.track`);
  }
  log(`send breakdown: insert_rls ${explained.insert_rls.execution_ms} ms vs bare ${explained.bare_request.execution_ms} ms per statement (EXPLAIN ANALYZE); ` +
    `top triggers ${Object.entries(explained.insert_rls.triggers).slice(0, 3).map(([k, v]) => `${k} ${v} ms`).join(', ')}`);
  return { explain: explained, stat_runs: statRuns, functions, statements, pg_stat_statements: pgss };
}
