/**
 * Growth (`npm run bench -- --scale 10m`): the read and write figures at the
 * full size (1,000,000 messages, 10,000 chats, 5,000 users) and again after
 * the same database has grown tenfold (10,000,000 messages, 100,000 chats,
 * 50,000 users), in one run on one machine.
 *
 * Method: the run generates the full data set as always; this section
 * measures (1) history pages (bench/sections/read.mjs: latest 50 and the 50
 * before a cursor, RPC and table select, RLS against the owner), the inbox of
 * the user in 200 chats, message search for that user (a common and a rare
 * term) and send throughput (bench/sections/send.mjs at 1, 8 and 32
 * connections); then (2) grows the database in SQL with triggers off
 * (bench/lib/dataset.mjs, `from` = the full size; VACUUM ANALYZE after), and
 * (3) measures the same figures again, with the same history samples (the
 * existing chats get no new messages, so each page is the same page of the
 * same chat), the same inbox user (still 200 chats) and the same search
 * terms; and at each size `explain (analyze, buffers)` of history, inbox and
 * search: the buffers each plan touches are the work done, compared at both
 * sizes free of the machine's noise (the report shows the plans at the grown
 * size).
 *
 * Figures: each p50 at both sizes and the ratio grown / full, goal ≤ 1.2 for
 * reads (the cost is O(log n) in the table size, not O(n)); send throughput
 * (`insert_rls` messages/s) at both sizes, goal ratio ≥ 0.9, reported both
 * raw and normalised by the bare insert in the same request envelope measured
 * interleaved with it (a table that does not grow: the normalised ratio
 * cancels the drift of a shared machine between the two measurements, which
 * are minutes apart and cannot be interleaved). A trivial request (`select 1`
 * in the same envelope) measured at both sizes shows that drift for the reads.
 *
 * Bounded: every measurement loop stops at a count and a time; generation is
 * one SQL statement per step.
 */
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { generateDataset } from '../lib/dataset.mjs';
import { asUser, pool, withUser } from '../lib/db.mjs';
import { interleavedLatency, round } from '../lib/measure.mjs';
import { benchHistory, benchInbox, benchSearch, explainPlans, searchTerms } from './read.mjs';
import { benchSend } from './send.mjs';

/** The trivial request: the envelope's and the round trip's cost alone, as a drift gauge. */
async function floor({ url, samples, iterations, maxMs }) {
  const auth = pool(withUser(url, 'authenticator'), 1);
  try {
    const r = await interleavedLatency({
      variants: {
        floor: async (i) => {
          let statement = 0;
          await asUser(auth, samples[i % samples.length].user_id, async (tx) => {
            const t = performance.now();
            await tx`select 1`;
            statement = performance.now() - t;
          });
          return statement;
        },
      },
      iterations,
      warmup: 20,
      maxMs,
    });
    return r.floor.statement;
  } finally {
    await auth.end();
  }
}

/**
 * What one message costs on disk, for the scaling note (docs/scaling.md): the
 * WAL written per message sent through the real path (insert under RLS, its
 * triggers, the chat bump, the Realtime broadcast row), one at a time into a
 * send chat, and the bytes per stored message of `public.messages` (heap,
 * TOAST and every index) and of `realtime.messages` (all its partitions).
 */
async function footprint({ superuser, url }, n) {
  const auth = pool(withUser(url, 'authenticator'), 1);
  const content = 'A chat message of sixty-four characters, about the usual length.';
  try {
    const [c] = await superuser`select chat_id, sender_id from bench.send_chats order by w limit 1`;
    const [a] = await superuser`select pg_current_wal_insert_lsn() as lsn, (select count(*) from realtime.messages)::int as rt`;
    for (let i = 0; i < n; i++) {
      await asUser(auth, c.sender_id, (tx) => tx`
        insert into public.messages (chat_id, sender_id, kind, content, client_id)
        values (${c.chat_id}, ${c.sender_id}, 'text', ${content}, ${randomUUID()})`, { path: '/rest/v1/messages' });
    }
    const [b] = await superuser`
      select pg_wal_lsn_diff(pg_current_wal_insert_lsn(), ${a.lsn})::float8 as wal,
             (select count(*) from realtime.messages)::int as rt,
             pg_total_relation_size('public.messages')::float8 as messages_bytes,
             (select count(*) from public.messages)::float8 as messages_rows,
             (select sum(pg_total_relation_size(inhrelid)) from pg_inherits where inhparent = 'realtime.messages'::regclass)::float8 as rt_bytes`;
    return {
      messages_sent: n,
      content_chars: content.length,
      wal_bytes_per_message: Math.round(b.wal / n),
      realtime_rows_per_message: round((b.rt - a.rt) / n, 2),
      stored_bytes_per_message: Math.round(b.messages_bytes / b.messages_rows),
      realtime_bytes_per_row: b.rt > 0 ? Math.round(b.rt_bytes / b.rt) : null,
    };
  } finally {
    await auth.end();
  }
}

/** One set of figures at the current size. */
async function measureAt(ctx, label, { samples, terms, users }) {
  const { quick, log } = ctx;
  const loops = { iterations: quick ? 100 : 500, maxMs: quick ? 8_000 : 20_000 };
  log(`growth: measuring at ${label}…`);
  const load = os.loadavg().map((x) => round(x, 2));
  const floorR = await floor({ ...ctx, samples, ...loops });
  const history = await benchHistory({ ...ctx, samples, ...loops });
  const inbox = await benchInbox({ ...ctx, ...loops });
  const search = await benchSearch({ ...ctx, terms, ...loops });
  // Only the rates compare across sizes: the send section's breakdown (EXPLAIN, statistics) is left out.
  const send = await benchSend({ ...ctx, users }, { breakdown: false });
  const disk = await footprint(ctx, quick ? 100 : 300);
  log(`growth: per message ${JSON.stringify(disk)}`);
  const plans = await explainPlans({ superuserUrl: ctx.superuserUrl, sample: samples[0], terms });
  return { label, load_average: load, floor: floorR, history, inbox, search, send, footprint: disk, plans };
}

const ratio = (a, b) => round(a / b);

/** Buffers (shared hit + read) of a plan's top node: the work done, which machine load does not change. */
function buffers(plan) {
  const m = /Buffers: shared(?: hit=(\d+))?(?: read=(\d+))?/.exec(plan?.top ?? '');
  return m ? Number(m[1] ?? 0) + Number(m[2] ?? 0) : null;
}

/**
 * @param {{ url: string, superuserUrl: string, superuser: import('postgres').Sql, quick: boolean, log: (s: string) => void }} ctx
 * @param {{ from: { users: number, chats: number, messages: number, inboxChats: number }, to: { users: number, chats: number, messages: number, inboxChats: number }, samples: any[], scale: string }} o
 */
export async function benchGrowth(ctx, { from, to, samples, scale }) {
  const { superuser, log } = ctx;
  const terms = await searchTerms(superuser);
  const before = await measureAt(ctx, `${from.messages.toLocaleString('en-US')} messages`, { samples, terms, users: from.users });

  log(`growth: growing to ${to.messages.toLocaleString('en-US')} messages in ${to.chats.toLocaleString('en-US')} chats among ${to.users.toLocaleString('en-US')} users…`);
  const steps = {};
  const t0 = performance.now();
  await generateDataset(superuser, to, (step, sec) => {
    steps[step] = round(sec, 1);
    log(`  ${step}: ${sec.toFixed(1)}s`);
  }, { from });
  const generation = { seconds: round((performance.now() - t0) / 1000, 1), steps };
  const [stats] = await superuser`
    select (select count(*) from public.users)::int as users, (select count(*) from public.chats)::int as chats,
           (select count(*) from public.chat_members)::int as memberships, (select count(*) from public.messages)::int as messages,
           pg_size_pretty(pg_total_relation_size('public.messages')) as messages_size,
           pg_size_pretty(pg_database_size(current_database())) as database_size`;
  // The terms' frequencies at the grown size (same terms).
  const grownTerms = await searchTerms(superuser);
  for (const k of Object.keys(terms)) grownTerms[k] = { ...grownTerms[k], term: terms[k].term };
  log(`growth: grown in ${generation.seconds}s: ${JSON.stringify(stats)}`);

  const after = await measureAt(ctx, `${to.messages.toLocaleString('en-US')} messages`, { samples, terms, users: to.users });

  const reads = {};
  for (const k of Object.keys(before.history)) {
    reads[`history_${k}`] = { from: before.history[k].rls.statement.p50, to: after.history[k].rls.statement.p50 };
  }
  reads.inbox = { from: before.inbox.inbox.statement.p50, to: after.inbox.inbox.statement.p50 };
  for (const k of Object.keys(terms)) reads[`search_${k}`] = { from: before.search[k].rls.statement.p50, to: after.search[k].rls.statement.p50 };
  for (const [k, v] of Object.entries(reads)) {
    v.ratio = ratio(v.to, v.from);
    v.buffers = { from: buffers(before.plans[k]), to: buffers(after.plans[k]) };
  }
  const send = before.send.results.map((b, i) => {
    const a = after.send.results[i];
    return {
      concurrency: b.concurrency,
      from: b.rates.insert_rls,
      to: a.rates.insert_rls,
      ratio: ratio(a.rates.insert_rls, b.rates.insert_rls),
      ratio_normalised: ratio(a.ratio_insert_rls_vs_bare_request, b.ratio_insert_rls_vs_bare_request),
    };
  });
  const floorRatio = ratio(after.floor.p50, before.floor.p50);
  log(`growth: reads p50 ${to.messages}/${from.messages}: ${Object.entries(reads).map(([k, v]) => `${k} ${v.ratio} (buffers ${v.buffers.from} → ${v.buffers.to})`).join(', ')}; floor ${floorRatio}`);
  log(`growth: send ${send.map((s) => `c=${s.concurrency} ${s.ratio} (normalised ${s.ratio_normalised})`).join(', ')}`);
  return {
    scale,
    from: { ...from, terms },
    to: { ...to, stats, terms: grownTerms },
    generation,
    before,
    after,
    reads,
    send,
    floor_ratio: floorRatio,
    plans: after.plans,
  };
}
