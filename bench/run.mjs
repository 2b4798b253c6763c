#!/usr/bin/env node
/**
 * `npm run bench`: what users of the chat backend care about, each figure as a
 * ratio to a baseline measured in the same run (see bench/README.md).
 *
 *   npm run bench                 full run (1,000,000 messages; about 10 minutes on 2 cores)
 *   npm run bench -- --quick      small smoke run (50,000 messages, short loops)
 *   npm run bench -- --only send,history,inbox,plans,metering,ai
 *   npm run bench -- --out DIR    where to write (default bench/results, or bench/results/quick with --quick)
 *   npm run bench -- --scale 10m  growth: the read and send figures at 1,000,000 and, after growing the same
 *                                 database, at 10,000,000 messages (sections/growth.mjs; → bench/results/scale-10m;
 *                                 sections named by --only run first, at 1,000,000)
 *
 * A throw-away PostgreSQL 17 (stack/runtime/db.mjs: platform bootstrap, migrations
 * by the Supabase CLI; no seed) on 127.0.0.1, the data set generated in SQL,
 * then the sections in order: history, inbox, plans (read-only, on the
 * freshly vacuumed data), send, metering, ai. Writes report.md, results.json
 * and SVG charts.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os, { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT, startDatabase } from '../stack/runtime/db.mjs';
import { SCALES, SIZES, generateDataset, sampleDataset } from './lib/dataset.mjs';
import { pool } from './lib/db.mjs';
import { machineInfo } from './lib/machine.mjs';
import { summaryTable, writeResults } from './lib/report.mjs';
import { benchAi } from './sections/ai.mjs';
import { benchE2e } from './sections/e2e.mjs';
import { benchMetering } from './sections/metering.mjs';
import { benchGrowth } from './sections/growth.mjs';
import { benchHistory, benchInbox, benchSearch, explainPlans } from './sections/read.mjs';
import { benchRealtime } from './sections/realtime.mjs';
import { benchSend } from './sections/send.mjs';

const ALL = ['history', 'inbox', 'search', 'plans', 'send', 'metering', 'ai', 'e2e', 'realtime'];
const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    out: { type: 'string' },
    scale: { type: 'string' },
    // Also run peer gateways (Portkey) in the ai section: bench/lib/peers.mjs installs them outside the lockfile.
    peers: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (args.help) {
  console.log('usage: npm run bench [-- --quick] [--only history,inbox,search,plans,send,metering,ai] [--out DIR] [--scale 10m] [--peers]');
  process.exit(0);
}
if (args.scale && !SCALES[args.scale]) throw new Error(`unknown scale ${args.scale} (10m)`);
const scale = args.scale ? SCALES[args.scale] : undefined;
// With --scale, only the growth section runs unless --only names sections to run first.
const only = args.only ? args.only.split(',').map((s) => s.trim()) : scale ? [] : ALL;
for (const s of only) if (!ALL.includes(s)) throw new Error(`unknown section ${s} (one of ${ALL.join(', ')})`);
const quick = args.quick;
const outDir = path.resolve(args.out ?? path.join(ROOT, 'bench/results', quick ? 'quick' : '', scale ? `scale-${args.scale}` : ''));
// Growth always starts from the full size (--quick only shortens its loops).
const size = quick && !scale ? SIZES.quick : SIZES.full;

// The whole run is bounded: every loop is bounded in count and time; this is the backstop.
// Growth adds its two sets of figures and the generation: 9,000,000 messages and the indexes of
// 10,000,000, minutes on an idle machine, three quarters of an hour on a busy 2-core one.
const HARD_LIMIT_MS = ((quick ? 5 : 20) + (scale ? 45 : 0)) * 60_000;
const watchdog = setTimeout(() => {
  console.error(`bench: exceeded ${HARD_LIMIT_MS / 60_000} minutes, aborting`);
  process.exit(1);
}, HARD_LIMIT_MS);
watchdog.unref();

const t0 = performance.now();
const elapsed = () => `${((performance.now() - t0) / 1000).toFixed(0)}s`;
const log = (s) => console.log(`[${elapsed()}] ${s}`);

const results = {
  quick,
  started_at: new Date().toISOString(),
  seconds: 0,
  machine: machineInfo(),
  sizes: size,
  notes: [
    'Each figure and its baseline ran interleaved in the same run (throughput: alternating rounds; latency: alternating requests), so a noisy neighbour slows both alike; compare ratios across runs rather than raw rates.',
    'Every request runs as PostgREST runs it (tests/helpers/db.ts): a transaction on an `authenticator` connection, `set_config(\'role\', …, true)` and the Clerk claims in `request.jwt.claims`; statements are prepared (postgres.js default), as PostgREST prepares them.',
    'Clients, the PostgreSQL server, the Deno function, the gateway and the OpenAI stand-in all share the machine\'s cores; at 32 connections the run is CPU-bound on both sides.',
  ],
};

const dataDir = await mkdtemp(path.join(tmpdir(), 'chat-with-me-bench-'));
let db;
let superuser;
try {
  log(`PostgreSQL 17 in ${dataDir} (bootstrap, migrations)…`);
  // pg_stat_statements preloaded, as on hosted projects: the e2e section reads the time spent in our SQL from it.
  const flags = ['-c', 'shared_preload_libraries=pg_stat_statements', '-c', 'pg_stat_statements.track_planning=on'];
  db = await startDatabase({ dataDir, persistent: false, seed: false, flags, onLog: () => {} });
  superuser = pool(db.superuserUrl, 1);
  const [{ version }] = await superuser`select version()`;
  results.machine.postgres = version.replace(/ on .*$/, '');

  log(`generating ${size.messages.toLocaleString('en-US')} messages in ${size.chats.toLocaleString('en-US')} chats among ${size.users.toLocaleString('en-US')} users…`);
  const steps = {};
  const tg = performance.now();
  await generateDataset(superuser, size, (step, sec) => {
    steps[step] = sec;
    log(`  ${step}: ${sec.toFixed(1)}s`);
  });
  // The per-user message limit (admin_config, default 300 a minute) would refuse the send section's
  // thousands of messages per user: raise it to its maximum, so the check still runs on every send.
  // The same for message search (60 a minute by default) and reactions (the Data API section).
  await superuser`update public.admin_config set value = '1000000' where key in ('rate_limit.message_send.limit', 'rate_limit.message_search.limit', 'rate_limit.reaction.limit')`;
  const sample = await sampleDataset(superuser);
  results.dataset = { seconds: (performance.now() - tg) / 1000, steps, stats: sample.stats };
  results.history_samples = sample.history.length;
  log(`data ready: ${JSON.stringify(sample.stats)}`);

  const ctx = { url: db.url, superuserUrl: db.superuserUrl, superuser, quick, users: size.users, log };
  if (only.includes('history')) results.history = await benchHistory({ ...ctx, samples: sample.history });
  if (only.includes('inbox')) results.inbox = await benchInbox(ctx);
  if (only.includes('search')) results.search = await benchSearch(ctx);
  if (only.includes('plans')) {
    log('plans…');
    results.plans = await explainPlans({ superuserUrl: db.superuserUrl, sample: sample.history[0], terms: results.search?.terms });
  }
  if (only.includes('send')) results.send = await benchSend(ctx);
  if (only.includes('metering')) results.metering = await benchMetering(ctx);
  if (only.includes('ai')) {
    try {
      results.ai = await benchAi({ ...ctx, peers: args.peers });
    } catch (e) {
      const reason = /** @type {Error} */ (e).message.split('\n')[0];
      log(`ai: FAILED: ${reason}`);
      results.ai = { pending: `the run through ai-chat failed: ${reason}` };
    }
  }
  if (only.includes('e2e')) results.e2e = await benchE2e(ctx);
  if (only.includes('realtime')) results.realtime = await benchRealtime(ctx);
  if (scale) results.growth = await benchGrowth(ctx, { from: size, to: scale, samples: sample.history, scale: args.scale });
} finally {
  await superuser?.end().catch(() => {});
  await db?.stop().catch(() => {});
  await rm(dataDir, { recursive: true, force: true }).catch(() => {});
}

results.seconds = (performance.now() - t0) / 1000;
results.machine.load_average_end = os.loadavg().map((x) => Math.round(x * 100) / 100);
const files = await writeResults(outDir, results);
console.log('');
console.log(summaryTable(results));
console.log('');
log(`wrote ${files.map((f) => path.relative(process.cwd(), f)).join(', ')}`);
clearTimeout(watchdog);
// Keep-alive sockets of the HTTP clients (fetch, the openai SDK) would hold the process for a while.
process.exit(0);
