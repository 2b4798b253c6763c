/**
 * The whole local stack, in the order a hosted project's parts depend on
 * each other: PostgreSQL (migrations and seed applied by the Supabase CLI),
 * the edge functions (real Deno), the Data API (real PostgREST), the Realtime
 * stand-in (stack/runtime/realtime.mjs) and the API gateway in front of them. Used by `npm start` (stack/start.mjs), the test
 * suite (tests/setup/global.ts) and the demo's throw-away stack.
 *
 * What it prints (`env`) follows `supabase status -o env`: API_URL, DB_URL,
 * FUNCTIONS_URL, REST_URL, the publishable and secret keys
 * (PUBLISHABLE_KEY / SECRET_KEY) and the legacy ANON_KEY / SERVICE_ROLE_KEY,
 * JWT_SECRET.
 */
import { createWriteStream } from 'node:fs';
import { chmod, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { exportJWK, importSPKI } from 'jose';
import { dbUrl, freePort, startDatabase } from './db.mjs';
import { withUser } from './data-api.mjs';
import { clerkDomain, readConfig } from './config.mjs';
import { portInUseError, startGateway } from './gateway.mjs';
import { startFunctions } from './functions.mjs';
import { startPostgrest } from './postgrest.mjs';
import { startRealtime } from './realtime.mjs';
import { loadKeys, reapLeftovers, statePaths } from './state.mjs';
import net from 'node:net';

/** Rejects with the port-in-use error when `port` is taken on 127.0.0.1. */
async function assertPortFree(port, variable) {
  const busy = await new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(true));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(false)));
  });
  if (busy) throw await portInUseError(port, variable);
}

/**
 * The JWKS PostgREST verifies tokens with: the local HS256 secret and the
 * Clerk instance's RS256 key (its PEM, or its published JWKS when only
 * CLERK_SECRET_KEY is set: https://clerk.com/docs/backend-requests/manual-jwt).
 */
export async function dataApiJwks(keys, clerkPublicPem, clerkDomain) {
  const jwks = [{ kty: 'oct', k: Buffer.from(keys.jwtSecret).toString('base64url'), alg: 'HS256' }];
  if (clerkPublicPem) {
    jwks.push({ ...(await exportJWK(await importSPKI(clerkPublicPem, 'RS256', { extractable: true }))), alg: 'RS256', use: 'sig' });
  } else if (clerkDomain) {
    const url = process.env.CLERK_JWKS_URL ?? `https://${clerkDomain}/.well-known/jwks.json`;
    const res = await fetch(url).catch((e) => {
      throw new Error(`Could not fetch the Clerk JWKS from ${url} for the Data API: ${e.message}`);
    });
    if (!res.ok) throw new Error(`Could not fetch the Clerk JWKS from ${url}: HTTP ${res.status}`);
    jwks.push(...(/** @type {{ keys: object[] }} */ (await res.json())).keys);
  }
  return { keys: jwks };
}

/**
 * Starts the stack.
 * @param {{
 *   stateDir?: string,
 *   dbPort?: number,
 *   apiPort?: number,
 *   persistent?: boolean,
 *   functions?: Partial<Parameters<typeof startFunctions>[0]>,
 *   onStep?: (label: string) => void,
 *   onChild?: (name: string, pid: number) => void,
 *   onFatal?: (message: string) => void,
 * }} [opts] ports default to free ones; `functions` adds options of startFunctions (env, envFile, stand-ins);
 *   `onFatal` is told when a part the stack cannot run without (PostgreSQL, PostgREST) exits by itself
 */
export async function startStack({ stateDir, dbPort, apiPort, persistent = true, functions: fnOpts = {}, onStep = () => {}, onChild = () => {}, onFatal = () => {} } = {}) {
  const paths = statePaths(stateDir);
  // 0755: run as root, PostgreSQL runs as its own OS user and must reach db/ inside.
  await mkdir(paths.dir, { recursive: true });
  await chmod(paths.dir, 0o755);
  const reaped = await reapLeftovers(paths.dir);
  if (reaped.length) onStep(`stopped leftovers of a killed stack: ${reaped.join(', ')}`);
  const keys = await loadKeys(paths.dir);
  const config = readConfig();
  const db_ = dbPort ?? (await freePort());
  const api = apiPort ?? (await freePort());
  await assertPortFree(db_, 'DB_PORT');
  await assertPortFree(api, 'API_PORT');

  const cleanups = [];
  let stopping = false;
  const stop = async () => {
    stopping = true;
    for (const c of cleanups.splice(0).reverse()) await c().catch((e) => console.error(e));
  };
  try {
    const logLines = [];
    const db = await startDatabase({
      dataDir: paths.db,
      port: db_,
      persistent,
      onStep: (s) => onStep({ postgres: `PostgreSQL 17 on 127.0.0.1:${db_}`, bootstrap: 'platform bootstrap', migrations: 'migrations + seed (supabase db push)' }[s] ?? s),
      onLog: (m) => logLines.push(m),
    });
    cleanups.push(() => db.stop());
    const pgProcess = /** @type {any} */ (db.pg).process;
    if (pgProcess?.pid) onChild('postgres', pgProcess.pid);
    pgProcess?.once('exit', (/** @type {number | null} */ code, /** @type {string | null} */ signal) => {
      if (!stopping) onFatal(`PostgreSQL exited unexpectedly (${signal ?? `code ${code}`}); its data is kept and recovered on the next start.`);
    });

    const apiUrl = `http://127.0.0.1:${api}`;
    const functions = await startFunctions({
      dbUrl: db.url,
      port: await freePort(),
      logDir: paths.logs,
      keys,
      publicUrl: apiUrl,
      clerkStandinDir: paths.clerk,
      onStep,
      ...fnOpts,
    });
    cleanups.push(() => functions.stop());

    const jwks = await dataApiJwks(keys, functions.clerkPublicPem, clerkDomain(config));
    onStep('Data API (PostgREST 12.0.2)');
    const postgrest = await startPostgrest({
      dbUri: withUser(db.url, 'authenticator'),
      port: await freePort(),
      adminPort: await freePort(),
      jwks,
      schemas: config.api?.schemas ?? ['public'],
      extraSearchPath: config.api?.extra_search_path ?? ['public', 'extensions'],
      maxRows: config.api?.max_rows ?? 1000,
      logFile: path.join(paths.logs, 'postgrest.log'),
    });
    cleanups.push(() => postgrest.stop());
    onChild('postgrest', postgrest.pid);
    postgrest.exited.then((code) => {
      if (!stopping) onFatal(`PostgREST exited unexpectedly (code ${code}); see ${path.join(paths.logs, 'postgrest.log')}.`);
    });

    onStep('Realtime (local stand-in)');
    await mkdir(paths.logs, { recursive: true });
    const realtimeLog = createWriteStream(path.join(paths.logs, 'realtime.log'), { flags: 'a' });
    const realtime = await startRealtime({
      dbUrl: db.superuserUrl,
      keys,
      jwks,
      log: (line) => realtimeLog.write(`${new Date().toISOString()} ${line}\n`),
    });
    cleanups.push(async () => {
      await realtime.stop();
      realtimeLog.end();
    });

    const functionsOrigin = new URL(functions.url).origin;
    const gateway = await startGateway({ port: api, postgrestUrl: postgrest.url, functionsUrl: functionsOrigin, keys, realtime });
    // Realtime's sockets first: the gateway's server closes only once upgraded sockets are gone.
    cleanups.push(async () => {
      await realtime.stop();
      await gateway.stop();
    });
    onStep(`API gateway on ${apiUrl}`);

    const env = {
      API_URL: apiUrl,
      REST_URL: `${apiUrl}/rest/v1`,
      FUNCTIONS_URL: `${apiUrl}/functions/v1`,
      DB_URL: dbUrl(db_),
      PUBLISHABLE_KEY: keys.publishableKey,
      SECRET_KEY: keys.secretKey,
      ANON_KEY: keys.anonKey,
      SERVICE_ROLE_KEY: keys.serviceRoleKey,
      JWT_SECRET: keys.jwtSecret,
    };
    return {
      env,
      keys,
      paths,
      db,
      functions,
      postgrest,
      realtime,
      /** The Clerk stand-in's folder when it is in use (tokens for seed users are minted with its key). */
      clerkStandin: functions.env.LOCAL_STANDINS?.split(',').includes('clerk') ? paths.clerk : null,
      summary: functions.summary,
      postgresLog: logLines,
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}
