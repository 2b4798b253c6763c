/**
 * The report's parts for message search (bench/sections/read.mjs, benchSearch)
 * and growth (bench/sections/growth.mjs, `--scale`). Used by bench/lib/report.mjs.
 */
import { GOALS, renderPlans } from './report.mjs';

const yes = (ok) => (ok ? '✅ yes' : '❌ no');
const n0 = (v) => Math.round(v).toLocaleString('en-US');
const ms = (v) => `${v.toFixed(2)} ms`;
const ratio = (v) => v.toFixed(2);
const termLabel = (t) => `"${t.term}" (${n0(t.user_hits)} of the user's messages, ${n0(t.table_hits)} in all)`;

const READ_LABEL = {
  history_latest_rpc: 'history, latest 50, `get_chat_history` RPC',
  history_before_rpc: 'history, 50 before a cursor, `get_chat_history` RPC',
  history_latest_table: 'history, latest 50, table select',
  history_before_table: 'history, 50 before a cursor, table select',
  inbox: 'inbox, `get_inbox()` for a user in 200 chats',
  search_common: 'search, common term, `search_messages`',
  search_rare: 'search, rare term, `search_messages`',
};

/** Summary rows ([measure, result, baseline, ratio, goal, met]) of search and growth. */
export function growthRows(r) {
  const rows = [];
  for (const k of ['common', 'rare']) {
    const s = r.search?.[k];
    if (!s) continue;
    rows.push([
      `3b. Search: \`search_messages\` for a user in 200 chats, ${k} term ${termLabel(r.search.terms[k])}`,
      `p50 ${ms(s.rls.statement.p50)}, p95 ${ms(s.rls.statement.p95)}`,
      `owner, no RLS: p50 ${ms(s.owner.statement.p50)}, p95 ${ms(s.owner.statement.p95)}`,
      `${ratio(s.ratio_p50)} (p95 ${ratio(s.ratio_p95)})`,
      'context',
      '–',
    ]);
  }
  const g = r.growth;
  if (!g) return rows;
  const sizes = `${n0(g.from.messages)} → ${n0(g.to.messages)} messages`;
  for (const [k, v] of Object.entries(g.reads)) {
    rows.push([
      `Growth, ${sizes}: ${READ_LABEL[k] ?? k}, p50 under RLS`,
      `${ms(v.from)} → ${ms(v.to)}`,
      `the same at ${n0(g.from.messages)}`,
      ratio(v.ratio),
      `≤ ${GOALS.growth_read_ratio_max}`,
      yes(v.ratio <= GOALS.growth_read_ratio_max),
    ]);
  }
  for (const s of g.send) {
    rows.push([
      `Growth, ${sizes}: send, ${s.concurrency} conn., insert under RLS (normalised by the bare insert in the same envelope)`,
      `${n0(s.from)} → ${n0(s.to)} msg/s`,
      `the same at ${n0(g.from.messages)}; raw ratio ${ratio(s.ratio)}`,
      ratio(s.ratio_normalised),
      `≥ ${GOALS.growth_send_ratio_min}`,
      yes(s.ratio_normalised >= GOALS.growth_send_ratio_min),
    ]);
  }
  return rows;
}

/** The search and growth sections of the report (markdown lines). */
export function growthSections(r, table) {
  const out = [];
  if (r.search) {
    out.push('## 3b. Message search');
    out.push('');
    out.push('`search_messages(term)` (first page, 20 rows, over all of the caller\'s chats) for the user in 200 chats, as `authenticated` (RLS) and, interleaved, the identical call on a `postgres` (table owner) connection where RLS does not apply (bench/sections/read.mjs). Every term is a prefix match.');
    out.push('');
    out.push(table(['term', 'RLS p50', 'RLS p95', 'owner p50', 'owner p95', 'ratio p50', 'request p50 (RLS / owner)'],
      ['common', 'rare'].filter((k) => r.search[k]).map((k) => {
        const s = r.search[k];
        return [termLabel(r.search.terms[k]), ms(s.rls.statement.p50), ms(s.rls.statement.p95), ms(s.owner.statement.p50), ms(s.owner.statement.p95),
          ratio(s.ratio_p50), `${ms(s.rls.request.p50)} / ${ms(s.owner.request.p50)}`];
      })));
    out.push('');
  }
  const g = r.growth;
  if (!g) return out;
  const [a, b] = [n0(g.from.messages), n0(g.to.messages)];
  out.push(`## Growth: ${a} → ${b} messages`);
  out.push('');
  out.push(`The same database measured at ${a} messages (${n0(g.from.chats)} chats, ${n0(g.from.users)} users), then grown in SQL to ${b} messages (${n0(g.to.stats.chats)} chats, ${n0(g.to.stats.users)} users, ${n0(g.to.stats.memberships)} memberships; messages ${g.to.stats.messages_size} with their indexes, database ${g.to.stats.database_size}) in ${g.generation.seconds.toFixed(0)} s (${Object.entries(g.generation.steps).map(([k, v]) => `${k} ${v.toFixed(1)} s`).join(', ')}), then measured again: the same history pages of the same chats, the same inbox user (200 chats), the same search terms (bench/sections/growth.mjs). The two measurements are minutes apart and cannot be interleaved: a trivial request (\`select 1\` in the request envelope) measured at both sizes shows how much the machine drifted (p50 ${ms(g.before.floor.p50)} → ${ms(g.after.floor.p50)}, ratio ${ratio(g.floor_ratio)}; load average ${g.before.load_average.join(', ')} → ${g.after.load_average.join(', ')}).`);
  out.push('');
  out.push(table(['read, p50 under RLS', `at ${a}`, `at ${b}`, `${b} / ${a}`, 'goal', 'met', `p95 at ${a} / ${b}`, `buffers in the plan at ${a} / ${b}`],
    Object.entries(g.reads).map(([k, v]) => {
      const p95 = (m) => {
        if (k === 'inbox') return m.inbox.inbox.statement.p95;
        if (k.startsWith('search_')) return m.search[k.slice(7)].rls.statement.p95;
        return m.history[k.slice(8)].rls.statement.p95;
      };
      return [READ_LABEL[k] ?? k, ms(v.from), ms(v.to), ratio(v.ratio), `≤ ${GOALS.growth_read_ratio_max}`, yes(v.ratio <= GOALS.growth_read_ratio_max),
        `${ms(p95(g.before))} / ${ms(p95(g.after))}`, v.buffers ? `${n0(v.buffers.from ?? NaN)} / ${n0(v.buffers.to ?? NaN)}` : '–'];
    })));
  out.push('');
  out.push(`The buffers are those of \`explain (analyze, buffers)\` of each statement at each size (history: the first sample's chat): the work the plan does, which the machine's load does not change; the plans at ${b} are below.`);
  out.push('');
  out.push(`Search terms at ${b}: ${Object.values(g.to.terms).map(termLabel).join('; ')}.`);
  out.push('');
  out.push(table(['send, insert under RLS', `at ${a}`, `at ${b}`, 'raw ratio', `insert / bare in the envelope at ${a} → ${b}`, 'normalised ratio', 'goal', 'met'],
    g.send.map((s, i) => [`${s.concurrency} conn.`, `${n0(s.from)} msg/s`, `${n0(s.to)} msg/s`, ratio(s.ratio),
      `${ratio(g.before.send.results[i].ratio_insert_rls_vs_bare_request)} → ${ratio(g.after.send.results[i].ratio_insert_rls_vs_bare_request)}`,
      ratio(s.ratio_normalised), `≥ ${GOALS.growth_send_ratio_min}`, yes(s.ratio_normalised >= GOALS.growth_send_ratio_min)])));
  out.push('');
  out.push(`The send figures come from bench/sections/send.mjs run at each size (its bare table \`bench.messages_bare\` is created empty each time, so the normalised ratio — insert under RLS over the bare insert in the same envelope, at ${b} over at ${a} — isolates what the bigger \`public.messages\` costs each insert).`);
  out.push('');
  const [fa, fb] = [g.before.footprint, g.after.footprint];
  if (fa && fb) {
    out.push(`Per message (${fb.messages_sent} messages of ${fb.content_chars} characters sent one at a time through the real path, at ${a} / ${b}): ${n0(fa.wal_bytes_per_message)} / ${n0(fb.wal_bytes_per_message)} bytes of WAL, ${fa.realtime_rows_per_message} / ${fb.realtime_rows_per_message} \`realtime.messages\` rows (${n0(fa.realtime_bytes_per_row ?? 0)} / ${n0(fb.realtime_bytes_per_row ?? 0)} bytes each with their indexes); \`public.messages\` holds ${n0(fa.stored_bytes_per_message)} / ${n0(fb.stored_bytes_per_message)} bytes per stored message with all its indexes (generated messages average about 40 characters).`);
    out.push('');
  }
  out.push(`### Plans at ${b}`);
  out.push('');
  out.push(...renderPlans(g.plans));
  return out;
}
