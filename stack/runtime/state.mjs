/**
 * The one owner of the local stack's state folder (`.local/`, git-ignored):
 *
 *   .local/db/            PostgreSQL data (kept between runs; `npm run reset` deletes it)
 *   .local/keys.json      the API keys and JWT secret, generated on first start (mode 0600)
 *   .local/clerk/         the Clerk stand-in's key pair and webhook secret (stack/standins/clerk.mjs)
 *   .local/stack.json     the running stack: its pid, its children's pids, the printed env
 *   .local/logs/          postgres.log, postgrest.log, functions/<name>.log
 *
 * A state folder can be another path (tests use a temporary one), so two
 * stacks never share state.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { SignJWT } from 'jose';
import { ROOT, isAlive } from './db.mjs';

/** The state folder of `npm start`: `.local/` of this checkout, or STACK_STATE_DIR when set (tests). */
export const LOCAL_DIR = process.env.STACK_STATE_DIR ? path.resolve(process.env.STACK_STATE_DIR) : path.join(ROOT, '.local');

/**
 * @typedef {object} ApiKeys
 * @property {string} publishableKey `sb_publishable_…`: maps to the `anon` role
 * @property {string} secretKey `sb_secret_…`: maps to `service_role`; refused from browsers
 * @property {string} anonKey legacy `anon` key: an HS256 JWT `{ role: 'anon' }`
 * @property {string} serviceRoleKey legacy `service_role` key: an HS256 JWT `{ role: 'service_role' }`
 * @property {string} jwtSecret the HS256 secret of the legacy keys and of the tokens the gateway mints
 */

/** Paths inside a state folder. */
export function statePaths(dir = LOCAL_DIR) {
  return {
    dir,
    db: path.join(dir, 'db'),
    keys: path.join(dir, 'keys.json'),
    clerk: path.join(dir, 'clerk'),
    stack: path.join(dir, 'stack.json'),
    logs: path.join(dir, 'logs'),
  };
}

const base62 = (n) => {
  const abc = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  return [...randomBytes(n)].map((b) => abc[b % 62]).join('');
};

/**
 * The API keys of a state folder, generated on first use as Supabase issues
 * them (https://supabase.com/docs/guides/api/api-keys): a publishable and a
 * secret key, plus the legacy `anon` / `service_role` JWTs signed with a
 * random JWT secret. Kept in keys.json (0600), so clients keep working across
 * restarts.
 * @returns {Promise<ApiKeys>}
 */
export async function loadKeys(dir = LOCAL_DIR) {
  const file = statePaths(dir).keys;
  if (existsSync(file)) return JSON.parse(await readFile(file, 'utf8'));
  const jwtSecret = base62(40);
  const secret = new TextEncoder().encode(jwtSecret);
  const legacy = (role) =>
    new SignJWT({ role })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuer('supabase-local')
      .setIssuedAt()
      .setExpirationTime('10y')
      .sign(secret);
  /** @type {ApiKeys} */
  const keys = {
    publishableKey: `sb_publishable_${base62(30)}`,
    secretKey: `sb_secret_${base62(30)}`,
    anonKey: await legacy('anon'),
    serviceRoleKey: await legacy('service_role'),
    jwtSecret,
  };
  // 0755: PostgreSQL (its own OS user when run as root) must traverse it to reach db/.
  await mkdir(dir, { recursive: true });
  await writeFile(file, `${JSON.stringify(keys, null, 2)}\n`, { mode: 0o600 });
  return keys;
}

/**
 * @typedef {object} StackState
 * @property {number} pid the `npm start` process
 * @property {{ name: string, pid: number }[]} children processes it started (postgres, postgrest)
 * @property {Record<string, string>} env the lines `npm start -o env` prints
 * @property {{ fcm?: string }} [standins] URLs of local provider stand-ins in use (the demo reads the FCM one)
 */

/** @returns {StackState | null} */
export function readState(dir = LOCAL_DIR) {
  try {
    return JSON.parse(readFileSync(statePaths(dir).stack, 'utf8'));
  } catch {
    return null;
  }
}

/** @param {StackState} state */
export async function writeState(state, dir = LOCAL_DIR) {
  await mkdir(dir, { recursive: true });
  await writeFile(statePaths(dir).stack, `${JSON.stringify(state, null, 2)}\n`);
}

export async function clearState(dir = LOCAL_DIR) {
  await rm(statePaths(dir).stack, { force: true });
}

/** The command line of process `pid` (Linux /proc), or '' when unknown. */
function cmdline(pid) {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

/**
 * Stops what a stack killed with SIGKILL left behind: the children listed in
 * its state (only while their command line still names the program, so a
 * reused pid is never signalled), and a PostgreSQL still running on this
 * state's data folder (fast shutdown: its data is kept; WAL makes it
 * consistent). Stale lock files go too.
 * @returns {Promise<string[]>} what was stopped, for the log
 */
export async function reapLeftovers(dir = LOCAL_DIR) {
  const stopped = [];
  const state = readState(dir);
  const pids = [];
  for (const c of state?.children ?? []) {
    if (isAlive(c.pid) && cmdline(c.pid).includes(c.name)) pids.push({ ...c, signal: c.name === 'postgres' ? 'SIGINT' : 'SIGTERM' });
  }
  const pidFile = path.join(statePaths(dir).db, 'postmaster.pid');
  if (existsSync(pidFile)) {
    const pgPid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
    if (pgPid && isAlive(pgPid) && cmdline(pgPid).includes('postgres') && !pids.some((p) => p.pid === pgPid)) {
      pids.push({ name: 'postgres', pid: pgPid, signal: 'SIGINT' });
    }
  }
  for (const p of pids) {
    try {
      process.kill(p.pid, p.signal);
    } catch {
      continue;
    }
    for (let i = 0; i < 200 && isAlive(p.pid); i++) await new Promise((r) => setTimeout(r, 50));
    if (isAlive(p.pid)) process.kill(p.pid, 'SIGKILL');
    stopped.push(`${p.name} (pid ${p.pid})`);
  }
  if (existsSync(pidFile)) {
    const pgPid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
    if (!isAlive(pgPid)) await rm(pidFile, { force: true });
  }
  return stopped;
}
