/**
 * Which stack the demo plays on: the one `npm start` runs (its
 * `.local/stack.json`: pid and the `supabase status -o env` lines; the Clerk
 * stand-in's keys in `.local/clerk/`), or a throw-away one
 * (stack/runtime/stack.mjs `startStack` in a temporary folder: free ports,
 * stand-ins for Clerk, OpenAI, DeepSeek, Stripe, Cloudinary and FCM, nothing read
 * from supabase/functions/.env), stopped and deleted at the end, Ctrl-C
 * included.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isAlive } from '../runtime/db.mjs';
import { startStack } from '../runtime/stack.mjs';
import { readState, statePaths } from '../runtime/state.mjs';
import { NeedsStandins } from './transcript.mjs';

/** Providers the demo needs as local stand-ins (health's `providers`). */
export const PROVIDERS = ['clerk', 'openai', 'deepseek', 'stripe', 'cloudinary'];

/**
 * @typedef {object} DemoStack
 * @property {Record<string, string>} env API_URL, FUNCTIONS_URL, DB_URL, PUBLISHABLE_KEY, SECRET_KEY, … (`npm start -o env`)
 * @property {string} clerkDir folder of the Clerk stand-in whose key signs session tokens
 * @property {number} [pid] the `npm start` process, when the stack is that one
 * @property {string} [fcmUrl] the FCM stand-in's URL (stack/standins/fcm.mjs: GET /_standin/messages lists what it
 *   accepted); for `npm start`, from .local/stack.json (`standins.fcm`), or FCM_STANDIN_URL from the demo's environment
 */

/**
 * The stack `npm start` runs, or null when none runs.
 * @returns {DemoStack | null}
 */
export function runningStack() {
  const state = readState();
  if (!state?.pid || !isAlive(state.pid) || !state.env?.API_URL || !state.env?.PUBLISHABLE_KEY) return null;
  return { pid: state.pid, env: state.env, clerkDir: statePaths().clerk, fcmUrl: process.env.FCM_STANDIN_URL || state.standins?.fcm || undefined };
}

/**
 * The throw-away stack: `pending` is its start (Ctrl-C during the start waits
 * for it, then stops what started), `stopping` its stop (once).
 */
const own = { pending: /** @type {Promise<any> | null} */ (null), stateDir: '', stopping: /** @type {Promise<void> | null} */ (null) };

/**
 * Starts a throw-away stack (PostgreSQL, migrations and seed, every function in
 * Deno, PostgREST and the gateway) with a state folder of its own. Stop it with
 * stopOwnStack().
 * @returns {Promise<DemoStack>}
 */
export async function startOwnStack(onStep = (_s) => {}) {
  own.stateDir = await mkdtemp(path.join(tmpdir(), 'chat-with-me-demo-'));
  own.pending = startStack({
    stateDir: own.stateDir,
    persistent: false,
    // FCM stand-in and the push outbox drained every 2 s, as `npm start` does (stack/runtime/functions.mjs).
    functions: { envFile: false, aiStandins: true, cloudinaryStandin: true, stripeStandin: true, fcmStandin: true, pushDrainMs: 2000 },
    onStep: (s) => onStep(String(s)),
  });
  const stack = await own.pending;
  return { env: stack.env, clerkDir: stack.clerkStandin ?? stack.paths.clerk, fcmUrl: stack.functions.env.FCM_API_BASE };
}

/** Stops the throw-away stack (waiting for its start if it is starting) and deletes its folder; later calls wait for the first. */
export function stopOwnStack() {
  own.stopping ??= (async () => {
    const stack = await own.pending?.catch(() => null); // a failed start has stopped what it started
    await stack?.stop().catch((/** @type {unknown} */ e) => console.error(e));
    if (own.stateDir) await rm(own.stateDir, { recursive: true, force: true });
  })();
  return own.stopping;
}

/** Refuses a stack whose providers are not all local stand-ins (exit 2). */
export function requireStandins(health) {
  const real = PROVIDERS.filter((p) => health.providers?.[p] !== 'local');
  if (real.length) {
    throw new NeedsStandins(
      `The running stack does not use the local stand-ins for: ${real.map((p) => `${p} (${health.providers?.[p]})`).join(', ')}.\n` +
        "The demo needs them: it signs Clerk webhooks with the stand-in secret, pays on the Stripe stand-in's\n" +
        'hosted page, uploads to the Cloudinary stand-in, and would spend real AI credits otherwise.\n' +
        'Run it on a throw-away stack of its own instead:  npm run demo -- --own-stack',
    );
  }
}
