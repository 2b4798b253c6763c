#!/usr/bin/env node
/**
 * `npm start`: the Docker-free local stack (stack/runtime/stack.mjs), kept
 * running until Ctrl-C or SIGTERM, which stop every part of it.
 *
 *   npm start              summary, then KEY=value lines like `supabase status -o env`
 *   npm start -- -o env    only the KEY=value lines; with a stack already running it prints
 *                          that stack's lines and exits 0, so a second terminal can
 *                          `eval "$(npm start -s -- -o env)"`
 *
 * Environment: DB_PORT (default 54322), API_PORT (default 54321; FUNCTIONS_PORT
 * is accepted as its old name). State in .local/ (stack/runtime/state.mjs).
 * A second `npm start` while one runs prints the running stack's env and exits 1.
 */
import exitHook from 'async-exit-hook';
import { isAlive } from './runtime/db.mjs';
import { startStack } from './runtime/stack.mjs';
import { LOCAL_DIR, clearState, readState, statePaths, writeState } from './runtime/state.mjs';
import { SEED_USERS } from './standins/clerk.mjs';
import { ensureDemoWebsite } from './runtime/widget-static.mjs';

const envOnly = process.argv.slice(2).join(' ').replace('--output', '-o').includes('-o env');
const say = envOnly ? () => {} : (/** @type {string} */ line) => console.log(line);
const DB_PORT = Number(process.env.DB_PORT ?? 54322);
const API_PORT = Number(process.env.API_PORT ?? process.env.FUNCTIONS_PORT ?? 54321);

const step = (() => {
  const started = Date.now();
  return (label) => say(`  • ${label.padEnd(52)} ${((Date.now() - started) / 1000).toFixed(1)}s`);
})();

/** Prints the env lines (and in full mode the summary). */
function printEnv(env) {
  for (const [k, v] of Object.entries(env)) console.log(`${k}=${v}`);
}

async function main() {
  const running = readState();
  if (running?.pid && running.pid !== process.pid && isAlive(running.pid)) {
    if (envOnly) {
      printEnv(running.env ?? {});
      process.exit(0);
    }
    console.error(`The local stack is already running (pid ${running.pid}). Stop it with Ctrl-C in its terminal, or kill ${running.pid}.`);
    printEnv(running.env ?? {});
    process.exit(1);
  }
  say('Starting Chat with Me local stack…');
  /** @type {{ name: string, pid: number }[]} */
  const children = [];
  let stack;
  let stopping = false;
  // Ctrl-C / SIGTERM while starting: stop what is up, then exit.
  exitHook((done) => {
    stopping = true;
    say('\nStopping…');
    const finish = () =>
      clearState()
        .then(() => say('Stopped.'))
        .finally(done);
    if (stack) stack.stop().finally(finish);
    else finish();
  });
  watchParent();
  stack = await startStack({
    dbPort: DB_PORT,
    apiPort: API_PORT,
    onStep: step,
    onFatal: (message) => {
      console.error(`\n${message}\nStopping the stack; run \`npm start\` again.`);
      process.exitCode = 1;
      process.kill(process.pid, 'SIGTERM');
    },
    onChild: (name, pid) => {
      children.push({ name, pid });
      void writeState({ pid: process.pid, children, env: {} });
    },
  });
  if (stopping) return;
  // `standins`: where the local provider stand-ins listen (the demo reads the FCM stand-in's log of pushes).
  const fcm = stack.functions.env.LOCAL_STANDINS?.split(',').includes('fcm') ? stack.functions.env.FCM_API_BASE : undefined;
  await writeState({ pid: process.pid, children, env: stack.env, ...(fcm ? { standins: { fcm } } : {}) });

  if (!envOnly) {
    const rel = (p) => p.replace(`${process.cwd()}/`, '');
    console.log('\nChat with Me local stack is running.\n');
    console.log(`        API URL: ${stack.env.API_URL}   (Data API: /rest/v1, functions: /functions/v1)`);
    console.log(`         DB URL: ${stack.env.DB_URL}`);
    console.log(`Publishable key: ${stack.env.PUBLISHABLE_KEY}`);
    console.log(`     Secret key: ${stack.env.SECRET_KEY}   (server only: bypasses RLS)`);
    for (const line of stack.summary) console.log(`  ${line}`);
    if (stack.clerkStandin) {
      console.log('  Seed users (sign in with `npm run clerk:token -- <id>`):');
      for (const u of SEED_USERS) console.log(`    ${u.id}  ${u.name}${u.admin ? '  (admin)' : ''}`);
    }
    console.log(`  Data (kept): ${rel(statePaths(LOCAL_DIR).db)}  (npm run reset to start over); logs: ${rel(statePaths(LOCAL_DIR).logs)}/`);
    const widgetPage = await ensureDemoWebsite(stack.env.DB_URL, stack.env.API_URL).catch((e) => `(not available: ${e?.message ?? e})`);
    if (widgetPage) console.log(`  Website chat widget example page (Alice's "Demo shop"; README "Website chat widget"): ${widgetPage}`);
    console.log('  Realtime: local stand-in on /realtime/v1 (private channels; docs/realtime.md). Not served: Studio, Supabase Auth, Storage.\n');
  }
  printEnv(stack.env);
  say('\nPress Ctrl-C to stop.');
}

/**
 * Under `npm start`, SIGTERM sent to npm ends npm without reaching this
 * process (it is re-parented instead). So when the process that started us
 * goes away, stop as on SIGTERM: nothing keeps running behind a stopped npm.
 */
function watchParent() {
  if (!process.env.npm_lifecycle_event) return;
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) process.kill(process.pid, 'SIGTERM');
  }, 500).unref();
}

main().catch(async (err) => {
  console.error(`\nThe local stack failed to start:\n${err?.message ?? err}`);
  if (String(err?.message).includes('supabase db push failed')) {
    console.error(
      'If migrations that this local database already applied have changed since (e.g. after a pull),\n' +
        'start over from the migrations and the seed with `npm run reset`, then `npm start`.',
    );
  }
  await clearState().catch(() => {});
  process.exit(1);
});
