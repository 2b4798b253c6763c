/**
 * The report's parts for the client path: the e2e section (bench/sections/e2e.mjs)
 * and Realtime delivery (bench/sections/realtime.mjs). Used by bench/lib/report.mjs.
 */
import { GOALS } from './report.mjs';

const LABEL = {
  floor: 'floor: `schema(\'bench\').rpc(\'noop\')`',
  send_rpc: 'send: `rpc(\'send_message\')`',
  send_insert: 'send: `from(\'messages\').insert().select()`',
  send_bare: 'bare insert into `bench.messages_bare` (no RLS, triggers, FKs)',
  history: 'history page: `rpc(\'get_chat_history\').select(\'*, reactions, delivery\')`',
  history_plain: 'history page without the computed fields: `rpc(\'get_chat_history\')`',
  inbox: 'inbox: `rpc(\'get_inbox\')`',
  search: 'search: `rpc(\'search_messages\')`',
  reaction: 'reaction: `rpc(\'add_reaction\')` / `rpc(\'remove_reaction\')`',
};
const SUMMARY_OPS = ['send_rpc', 'send_insert', 'history', 'inbox', 'search', 'reaction'];
const ms = (v) => `${v.toFixed(1)} ms`;
const pct = (v) => (v == null ? '–' : `${Math.round(v * 100)} %`);
const slash = (values) => values.join(' / ');

/** Summary rows ([measure, result, baseline, ratio, goal, met]) of the client path. */
export function clientPathRows(r) {
  const rows = [];
  const e = r.e2e;
  if (e) {
    const cs = slash(e.results.map((x) => x.concurrency));
    for (const op of SUMMARY_OPS) {
      rows.push([
        `Data API end to end, ${cs} clients: ${LABEL[op]}`,
        `p50 ${slash(e.results.map((x) => x.ops[op].latency_ms.p50.toFixed(1)))} ms; SQL ${slash(e.results.map((x) => pct(x.ops[op].sql?.share)))}`,
        `floor p50 ${slash(e.results.map((x) => x.ops.floor.latency_ms.p50.toFixed(1)))} ms`,
        `${slash(e.results.map((x) => x.ops[op].ratio_p50_to_floor.toFixed(2)))} (p50)`,
        'context',
        '–',
      ]);
    }
    rows.push([
      `Data API end to end, ${cs} clients: send through PostgREST, insert under RLS`,
      `${slash(e.results.map((x) => Math.round(x.ops.send_insert.rate)))} msg/s`,
      `${slash(e.results.map((x) => Math.round(x.ops.send_bare.rate)))} msg/s (bare insert, same requests)`,
      slash(e.results.map((x) => x.send_ratio_insert_to_bare.toFixed(2))),
      `≥ ${GOALS.send_ratio_min}`,
      e.results.every((x) => x.send_ratio_insert_to_bare >= GOALS.send_ratio_min) ? '✅ yes' : '❌ no',
    ]);
  }
  for (const run of r.realtime?.runs ?? []) {
    rows.push([
      `Realtime: commit → delivery, ${run.subscribers} subscriber${run.subscribers > 1 ? 's' : ''} of one chat (${run.deliveries} deliveries${run.missing ? `, ${run.missing} missing` : ''})`,
      `median ${ms(run.after_commit_ms.p50)}, p95 ${ms(run.after_commit_ms.p95)}; last subscriber p95 ${ms(run.last_after_commit_ms.p95)}`,
      `the send itself: p50 ${ms(run.send_ms.p50)}`,
      run.delivery_to_send_p50_ratio.toFixed(2),
      'context',
      run.missing ? '❌ missing deliveries' : '–',
    ]);
  }
  return rows;
}

/**
 * Report sections (markdown lines) of the client path.
 * @param {any} r the run's results
 * @param {(header: string[], rows: unknown[][]) => string} table
 */
export function clientPathSections(r, table) {
  const out = [];
  const e = r.e2e;
  if (e) {
    out.push('## Data API end to end');
    out.push('');
    out.push(
      `supabase-js requests from ${e.clients} simulated users (each its own client and Clerk session token, its own chat), through the API gateway to the real PostgREST 12 (pool of ${e.postgrest_pool} connections) against this database (bench/sections/e2e.mjs). ` +
        `Operations in interleaved rounds (${e.rounds} × ${e.round_ms} ms per operation and concurrency), closed loop; latency of every successful request. ` +
        `**Floor**: the same request shape calling a trivial RPC (\`select 1\`). **SQL**: the mean planning + execution time of the statement PostgREST ran for the operation (${e.sql_share_source ?? 'not measured: pg_stat_statements not loaded'}), and its share of the mean latency the client saw; the envelope (transaction, role and claims) is apart. ` +
        `Search terms are word prefixes taken from each user's chat (median ${e.search_hits.p50} hits).`,
    );
    out.push('');
    for (const x of e.results) {
      out.push(`### ${x.concurrency} client${x.concurrency > 1 ? 's' : ''}`);
      out.push('');
      out.push(table(['operation', 'p50', 'p95', 'requests/s', 'p50 ÷ floor', 'rate ÷ floor', 'SQL mean', 'SQL share', 'errors'],
        Object.entries(x.ops).map(([op, o]) => [
          LABEL[op] ?? op,
          ms(o.latency_ms.p50),
          ms(o.latency_ms.p95),
          Math.round(o.rate),
          o.ratio_p50_to_floor.toFixed(2),
          o.ratio_rate_to_floor.toFixed(2),
          o.sql ? `${o.sql.mean_ms.toFixed(2)} ms` : '–',
          pct(o.sql?.share),
          o.errors ? `${o.errors} (${o.first_error})` : 0,
        ])));
      out.push('');
      out.push(`Send through PostgREST: insert under RLS ÷ bare insert **${x.send_ratio_insert_to_bare.toFixed(2)}**, \`send_message\` ÷ bare insert **${x.send_ratio_rpc_to_bare.toFixed(2)}** (messages/s). ` +
        (x.envelope ? `Envelope statements: ${x.envelope.mean_ms_per_request.toFixed(3)} ms per request. ` : '') +
        (x.wal_flushes ? `A write's commit also waits for its WAL flush, which no statement counts: ${x.wal_flushes.count} flushes, ${x.wal_flushes.mean_ms.toFixed(2)} ms each on average (\`pg_stat_wal\`).` : ''));
      out.push('');
    }
  }
  if (r.realtime?.runs) {
    out.push('## Realtime delivery');
    out.push('');
    out.push(`Messages sent one at a time into a chat of ${r.realtime.chat_members} members with \`send_message\` (the PostgREST envelope in SQL), delivered by the local Realtime stand-in (logical replication of the broadcast row) to supabase-js clients subscribed to \`chat:<id>\` (private channel, each its own Clerk token); each message waits for every subscriber before the next (bench/sections/realtime.mjs). Times from the commit's answer to the sender. The subscribers, the stand-in and the sender share one Node process: the spread from the first to the last subscriber includes decoding every subscriber's frame in that one event loop, which devices do each on their own.`);
    out.push('');
    out.push(table(['subscribers', 'messages', 'deliveries', 'missing', 'send p50', 'after commit p50', 'after commit p95', 'first subscriber p50', 'last subscriber p50', 'last subscriber p95', 'from the send p50'],
      r.realtime.runs.map((x) => [x.subscribers, x.messages, x.deliveries, x.missing, ms(x.send_ms.p50), ms(x.after_commit_ms.p50), ms(x.after_commit_ms.p95), ms(x.first_after_commit_ms.p50), ms(x.last_after_commit_ms.p50), ms(x.last_after_commit_ms.p95), ms(x.delivery_ms.p50)])));
    out.push('');
  }
  return out;
}
