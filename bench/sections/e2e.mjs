/**
 * End to end through the Data API (issue 20 item 1): what a client sees.
 * supabase-js requests from simulated users, each with its own client and
 * Clerk session token (RS256, verified by PostgREST through its JWKS), through
 * the local API gateway to the real PostgREST 12 against the bench database
 * (bench/lib/data-api.mjs), at 1, 8 and 32 concurrent clients.
 *
 * Operations, as the app calls them (README, docs/messaging.md):
 *  - `send_rpc`: `rpc('send_message', { p_chat_id, p_content, p_client_id })`;
 *  - `send_insert`: `from('messages').insert({…}).select()` (RLS, triggers,
 *    the Realtime broadcast row);
 *  - `send_bare`: the same insert into `bench.messages_bare`, a table of the
 *    same shape without RLS, triggers or foreign keys (as bench/sections/send.mjs
 *    has it): the end-to-end send ratio real / bare;
 *  - `history`: `rpc('get_chat_history', { p_chat_id, p_limit: 50 }).select('*, reactions, delivery')`,
 *    the latest page with the computed fields the app shows; `history_plain`:
 *    the same page without them (what the computed fields cost);
 *  - `inbox`: `rpc('get_inbox')` (first page, the user's own chats);
 *  - `search`: `rpc('search_messages', { p_query })` with a word prefix taken
 *    from a message of the user's chat (so it matches);
 *  - `reaction`: `rpc('add_reaction')` / `rpc('remove_reaction')` alternately
 *    on the latest message of the user's chat.
 * Baseline, in the same run: **the floor**, the same request shape calling a
 * trivial RPC, `schema('bench').rpc('noop')` (`select 1`): the gateway,
 * PostgREST's token check, its transaction and settings, and the JSON round
 * trip with nothing of ours. Every figure is compared with it.
 *
 * Method: per concurrency, every worker is its own user with its own chat
 * (bench users in a chat of ≥ 50 messages, distinct chats); operations run
 * in interleaved rounds (bench/lib/measure.mjs `interleavedThroughput`, the
 * order rotating each round), each round a closed loop of `c` workers for a
 * fixed time; every successful request's latency is recorded. Rate limits
 * the operations meet (`message_send`, `reaction`, `message_search`) are
 * raised to their maximum so the checks still run on every call.
 *
 * Share spent in our SQL: the bench database preloads `pg_stat_statements`
 * (as hosted projects do), reset after the warm-up of each concurrency; the
 * statement PostgREST runs for an operation (the RPC call or the insert,
 * with everything it runs inside) is told apart by its text; share = its mean
 * planning + execution time / the operation's mean latency seen by the
 * client. The envelope's statement (the `set_config` of role, claims and
 * headers) is reported apart, per request. A write's commit also waits for
 * its WAL flush, which no statement counts: `pg_stat_wal` (with
 * `track_wal_io_timing`, switched on for this section) gives the flushes
 * and their mean time over the same interval.
 *
 * PostgREST runs with the stack's pool of 10 connections: at 32 clients,
 * requests queue for a connection, as they would on a hosted project of that
 * pool size. Clients, gateway, PostgREST and PostgreSQL share the machine's
 * cores. Bounded: rounds of `roundMs`, at most 5,000 requests a round.
 */
import { randomUUID } from 'node:crypto';
import { dataOf, startClientPath } from '../lib/data-api.mjs';
import { pgStatStatements } from '../lib/db.mjs';
import { interleavedThroughput, median, round, runLoad, summarize } from '../lib/measure.mjs';

export const E2E_CONCURRENCY = [1, 8, 32];

/** Which operation a statement of PostgREST's belongs to, by its text. */
const STATEMENT_OF = {
  floor: /"bench"\."noop"/,
  send_rpc: /"public"\."send_message"/,
  send_insert: /INSERT INTO "public"\."messages"/i,
  send_bare: /INSERT INTO "bench"\."messages_bare"/i,
  history: /"public"\."get_chat_history".*\b(reactions|delivery)\b/s,
  history_plain: /"public"\."get_chat_history"/,
  inbox: /"public"\."get_inbox"/,
  search: /"public"\."search_messages"/,
  reaction: /"public"\."(add|remove)_reaction"/,
};
const ENVELOPE = /set_config\(|^\s*(BEGIN|COMMIT|ROLLBACK|START TRANSACTION)\b/i;
const OPS = Object.keys(STATEMENT_OF);

/**
 * @param {{ superuser: import('postgres').Sql, superuserUrl: string, url: string, quick: boolean, log: (s: string) => void }} ctx
 */
export async function benchE2e({ superuser, superuserUrl, url, quick, log }) {
  const maxC = Math.max(...E2E_CONCURRENCY);
  await superuser.unsafe(`
    create schema if not exists bench;
    grant usage on schema bench to authenticated;
    create or replace function bench.noop() returns integer language sql as 'select 1';
    grant execute on function bench.noop() to authenticated;
    create table if not exists bench.messages_bare (like public.messages including defaults including constraints including indexes);
    grant insert, select on bench.messages_bare to authenticated;
  `);
  const pgss = await statementStats(superuser);
  // One (user, chat) per worker: distinct users, distinct chats of at least 50 messages;
  // the chat's latest message (reactions) and a word prefix of one of its messages (search).
  const workers = await superuser`
    with big as (
      select chat_id from public.messages group by chat_id having count(*) >= 50
    ), pick as (
      select distinct on (cm.user_id) cm.user_id, cm.chat_id
      from public.chat_members cm join big using (chat_id)
      where cm.user_id like 'user_bench%'
      order by cm.user_id, md5(cm.chat_id::text)
    ), one as (
      select distinct on (chat_id) user_id, chat_id from pick order by chat_id, md5(user_id)
    )
    select o.user_id, o.chat_id, l.id as message_id, t.term
    from one o
    cross join lateral (
      select m.id from public.messages m where m.chat_id = o.chat_id and m.deleted_at is null
      order by m.created_at desc, m.id desc limit 1
    ) l
    cross join lateral (
      select left(split_part(m.content, ' ', 2), 5) as term from public.messages m
      where m.chat_id = o.chat_id and m.deleted_at is null and split_part(m.content, ' ', 2) ~ '^[a-f][0-9a-f]{4}'
      limit 1
    ) t
    order by md5(o.chat_id::text)
    limit ${maxC}`;
  if (workers.length < maxC) throw new Error(`e2e: only ${workers.length} (user, chat) pairs for ${maxC} clients`);

  const path = await startClientPath({ url, superuserUrl, extraSchemas: ['bench'] });
  try {
    const clients = await Promise.all(workers.map((w) => path.client(w.user_id)));
    const text = (w, i) => `E2E bench message ${i} from client ${w}: the quick brown fox jumps over the lazy dog`;
    const row = (w, i) => ({ chat_id: workers[w].chat_id, sender_id: workers[w].user_id, kind: 'text', content: text(w, i), client_id: randomUUID() });
    /** @type {Record<string, (w: number, i: number) => PromiseLike<{ data: any, error: any }>>} */
    const ops = {
      floor: (w) => clients[w].schema('bench').rpc('noop'),
      send_rpc: (w, i) => clients[w].rpc('send_message', { p_chat_id: workers[w].chat_id, p_content: text(w, i), p_client_id: randomUUID() }),
      send_insert: (w, i) => clients[w].from('messages').insert(row(w, i)).select(),
      send_bare: (w, i) => clients[w].schema('bench').from('messages_bare').insert(row(w, i)).select(),
      history: (w) => clients[w].rpc('get_chat_history', { p_chat_id: workers[w].chat_id, p_limit: 50 }).select('*, reactions, delivery'),
      history_plain: (w) => clients[w].rpc('get_chat_history', { p_chat_id: workers[w].chat_id, p_limit: 50 }),
      inbox: (w) => clients[w].rpc('get_inbox'),
      search: (w) => clients[w].rpc('search_messages', { p_query: workers[w].term }),
      reaction: (w, i) => clients[w].rpc(i % 2 ? 'remove_reaction' : 'add_reaction', { p_message_id: workers[w].message_id, p_emoji: '👍' }),
    };

    // Sanity: every operation answers for every client, and the search terms match.
    const found = [];
    for (let w = 0; w < maxC; w++) {
      for (const name of OPS) dataOf(await ops[name](w, 0));
      found.push(dataOf(await ops.search(w, 0)).length);
      dataOf(await ops.reaction(w, 1));
    }
    const searchHits = summarize(found);
    if (!searchHits.p50) throw new Error('e2e: the search terms match nothing');

    const roundMs = quick ? 300 : 1000;
    const rounds = quick ? 2 : 3;
    const warmupMs = quick ? 100 : 300;
    const results = [];
    for (const concurrency of E2E_CONCURRENCY) {
      /** latencies of successful requests, per operation */
      const lat = Object.fromEntries(OPS.map((n) => [n, /** @type {number[]} */ ([])]));
      let recording = false;
      const variants = Object.fromEntries(
        OPS.map((n) => [
          n,
          async (w, i) => {
            const t0 = performance.now();
            dataOf(await ops[n](w, i));
            if (recording) lat[n].push(performance.now() - t0);
          },
        ]),
      );
      for (const n of OPS) await runLoad({ concurrency, durationMs: warmupMs, maxOps: 5000, op: variants[n] });
      await pgss?.reset();
      recording = true;
      const tp = await interleavedThroughput({ variants, concurrency, rounds, roundMs, maxOpsPerRound: 5000 });
      recording = false;
      const sql = pgss ? await pgss.read() : null;
      const floorP50 = median(lat.floor);
      const floorRate = tp.floor.rate;
      const perOp = {};
      for (const n of OPS) {
        const latency = summarize(lat[n]);
        const s = sql?.[n];
        perOp[n] = {
          rate: tp[n].rate,
          errors: tp[n].errors,
          first_error: tp[n].firstError,
          latency_ms: latency,
          ratio_p50_to_floor: round(latency.p50 / floorP50, 2),
          ratio_rate_to_floor: round(tp[n].rate / floorRate, 2),
          sql: s ? { calls: s.calls, mean_ms: round(s.ms / s.calls), share: round(s.ms / s.calls / latency.mean, 2) } : null,
        };
      }
      const requests = OPS.reduce((a, n) => a + (sql?.[n]?.calls ?? 0), 0);
      const envelope = sql?.envelope && requests ? { statements: sql.envelope.calls, mean_ms_per_request: round(sql.envelope.ms / requests) } : null;
      const res = {
        concurrency,
        ops: perOp,
        envelope,
        other_statements: sql?.statements,
        wal_flushes: sql ? { count: sql.wal_sync.syncs, mean_ms: round(sql.wal_sync.ms / (sql.wal_sync.syncs || 1)) } : null,
        send_ratio_insert_to_bare: round(tp.send_insert.rate / tp.send_bare.rate, 2),
        send_ratio_rpc_to_bare: round(tp.send_rpc.rate / tp.send_bare.rate, 2),
      };
      results.push(res);
      log(
        `e2e ${concurrency} client${concurrency > 1 ? 's' : ''}: ` +
          OPS.map((n) => `${n} p50 ${perOp[n].latency_ms.p50} ms, ${Math.round(perOp[n].rate)}/s${perOp[n].sql ? `, SQL ${Math.round(perOp[n].sql.share * 100)} %` : ''}${perOp[n].errors ? ` (${perOp[n].errors} errors: ${perOp[n].first_error})` : ''}`).join('; ') +
          `; send insert/bare ${res.send_ratio_insert_to_bare}, rpc/bare ${res.send_ratio_rpc_to_bare}`,
      );
    }
    return {
      clients: maxC,
      round_ms: roundMs,
      rounds,
      postgrest_pool: 10,
      search_terms: workers.map((w) => w.term),
      search_hits: searchHits,
      sql_share_source: pgss ? 'pg_stat_statements' : null,
      results,
    };
  } finally {
    await path.stop();
    await pgss?.stop().catch(() => {});
  }
}

/**
 * pg_stat_statements as the superuser, when the server preloads it (bench/run.mjs
 * starts the bench database with it); null otherwise.
 * @param {import('postgres').Sql} sql
 */
async function statementStats(sql) {
  if (!(await pgStatStatements(sql))) return null;
  // WAL flush timing (pg_stat_wal.wal_sync_time): the commit of a write waits for it, outside any statement.
  await sql`alter system set track_wal_io_timing = on`;
  await sql`select pg_reload_conf()`;
  const wal = async () => (await sql`select wal_sync::float8 as syncs, wal_sync_time::float8 as ms from pg_stat_wal`)[0];
  let walBefore = await wal();
  return {
    async reset() {
      await sql`select extensions.pg_stat_statements_reset()`;
      walBefore = await wal();
    },
    /**
     * Per operation (and `envelope`): calls and total planning + execution ms of the statements PostgREST ran;
     * `statements`: the envelope's and any others, one by one; `wal_sync`: WAL flushes since the reset and their ms.
     */
    async read() {
      const walAfter = await wal();
      const rows = await sql`
        select query, calls::int as calls, total_exec_time + total_plan_time as ms
        from extensions.pg_stat_statements
        where dbid = (select oid from pg_database where datname = current_database())
          and query not like '%pg_stat_statements%'`;
      /** @type {Record<string, any>} */
      const out = { wal_sync: { syncs: walAfter.syncs - walBefore.syncs, ms: walAfter.ms - walBefore.ms } };
      /** the envelope's and any other statements, for the results file */
      const statements = [];
      for (const r of rows) {
        const op = OPS.find((n) => STATEMENT_OF[n].test(r.query)) ?? (ENVELOPE.test(r.query) ? 'envelope' : null);
        if (op === 'envelope' || !op) statements.push({ query: r.query.replace(/\s+/g, ' ').slice(0, 160), calls: r.calls, mean_ms: round(r.ms / r.calls) });
        if (!op) continue;
        out[op] ??= { calls: 0, ms: 0 };
        out[op].calls += r.calls;
        out[op].ms += r.ms;
      }
      return { ...out, statements };
    },
    stop: async () => {
      await sql`alter system reset track_wal_io_timing`;
      await sql`select pg_reload_conf()`;
    },
  };
}
