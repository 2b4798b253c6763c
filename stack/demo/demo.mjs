#!/usr/bin/env node
/**
 * `npm run demo`: plays the user journey of the product's primary story
 * (sign-up, friends, one-on-one and group chats, read receipts, typing,
 * messages and receipts live on private Realtime channels, the AI assistant
 * paid with credits, top-ups, media) through supabase-js, the way an
 * app uses this backend, printing who does what and what the backend answered.
 * Every step checks what it expects; the first wrong answer stops the demo with
 * exit code 1.
 *
 *   npm start                      # terminal 1: the local stack
 *   npm run demo                   # terminal 2: plays the journey against it
 *   npm run demo -- --own-stack    # or: a throw-away stack of its own, stopped at the end
 *
 * Modules: stack.mjs (which stack), people.mjs (how each actor acts:
 * supabase-js with a Clerk token, the secret key for server reads, signed
 * webhooks), journey.mjs (the steps), realtime.mjs (each person's private
 * Realtime channels, joined through supabase-js), transcript.mjs (printing and
 * checks), picture.mjs (the PNG Bob uploads).
 *
 * The demo signs Clerk webhooks with the stand-in's secret and pays on the
 * Stripe stand-in's hosted page, so a stack wired to real providers is refused
 * (exit 2). Every run makes fresh users (new Clerk-shaped ids and emails), so
 * it can run again and again on the kept database. No secret is printed: not
 * tokens, not keys, not signing secrets, not the database password.
 */
import exitHook from 'async-exit-hook';
import { loadClerkStandin } from '../standins/clerk.mjs';
import { journey } from './journey.mjs';
import { PROVIDERS, requireStandins, runningStack, startOwnStack, stopOwnStack } from './stack.mjs';
import { JourneyError, NeedsStandins, bold, currentStep, dim, green, info, out, red, redact, started } from './transcript.mjs';

const USAGE = `usage: npm run demo [-- --own-stack]

Plays the journey of the primary user story through supabase-js against the
stack \`npm start\` runs, or, when none runs (or with --own-stack), against a
throw-away stack it starts and stops.
Exit codes: 0 the journey completed; 1 a step got a wrong answer (or the stack
failed); 2 the running stack uses real providers (the demo needs the stand-ins).`;

/** Set on Ctrl-C / SIGTERM: the exit hook stops the stack and exits; errors caused by the stop are not the journey's. */
let interrupted = false;

/** @chat-with-me/shared as plain Node imports it (its build, dist/, made by `npm install`). */
async function loadShared() {
  try {
    return await import('@chat-with-me/shared');
  } catch (e) {
    throw new Error(`could not import @chat-with-me/shared (${/** @type {Error} */ (e).message}): run \`npm install\`, which builds packages/shared/dist`);
  }
}

async function main() {
  const argv = process.argv.slice(2);
  if (argv.includes('--help') || argv.includes('-h')) {
    out(USAGE);
    return 0;
  }
  const unknown = argv.filter((a) => a !== '--own-stack');
  if (unknown.length) {
    console.error(`unknown argument(s): ${unknown.join(' ')}\n\n${USAGE}`);
    return 2;
  }

  out(bold('Chat with Me: the primary user journey, played through supabase-js on the local stack'));
  const shared = await loadShared();
  const running = argv.includes('--own-stack') ? null : runningStack();
  let stack;
  if (running) {
    out(`Stack: the running \`npm start\` (pid ${running.pid})`);
    stack = running;
  } else {
    out(`Stack: ${argv.includes('--own-stack') ? '--own-stack' : 'no `npm start` is running'}: starting a throw-away stack (stand-ins for every provider)…`);
    // Ctrl-C (or SIGTERM) while it starts or runs: stop the stack before exiting.
    exitHook((done) => {
      interrupted = true;
      stopOwnStack().finally(done);
    });
    const t0 = Date.now();
    stack = await startOwnStack((s) => info(s));
    info(`ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
  info(`API ${stack.env.API_URL} (Data API /rest/v1, functions /functions/v1); DB ${redact(stack.env.DB_URL)}`);

  try {
    const health = await shared.createFunctionsClient({ url: stack.env.FUNCTIONS_URL }).health();
    if (health.status === 'unavailable') throw new JourneyError(`health: the database is unavailable (${JSON.stringify(health.database)})`);
    requireStandins(health);
    out(`Health: ${health.status}; database migrated to ${health.database.latest_migration} (${health.database.migrations_applied} migrations); providers: ${PROVIDERS.map((p) => `${p} ${health.providers[p]}`).join(', ')}`);
    const clerk = await loadClerkStandin(stack.clerkDir);
    await journey({ env: stack.env, clerk, shared, fcmUrl: stack.fcmUrl });
    out();
    out(green(bold(`✓ The journey completed: ${currentStep()} steps in ${((Date.now() - started) / 1000).toFixed(1)} s.`)));
    return 0;
  } finally {
    if (!running && !interrupted) {
      out(dim('\nStopping the throw-away stack…'));
      await stopOwnStack();
      out(dim('Stopped.'));
    }
  }
}

main()
  .then((code) => process.exit(code))
  .catch((err) => {
    if (interrupted) {
      console.error('\nInterrupted: stopping the throw-away stack…');
      return; // the exit hook exits once the stack is stopped
    }
    process.stdout.write('\n');
    if (err instanceof NeedsStandins) {
      console.error(err.message);
      process.exit(2);
    }
    const stepNo = currentStep();
    if (err instanceof JourneyError) {
      console.error(red(bold(`✗ Step ${stepNo} went wrong: ${err.message}`)));
    } else if (err?.name === 'FunctionsError') {
      console.error(red(bold(`✗ Step ${stepNo}: ${err.status} ${err.code}: ${err.message}${err.details ? ` ${JSON.stringify(err.details)}` : ''}${err.requestId ? ` (request ${err.requestId})` : ''}`)));
    } else {
      console.error(red(bold(`✗ ${stepNo ? `Step ${stepNo} failed` : 'The demo could not start'}: ${err?.code ? `[${err.code}] ` : ''}${err?.message ?? err}`)));
      if (process.env.DEMO_DEBUG) console.error(err?.stack);
    }
    process.exit(1);
  });
