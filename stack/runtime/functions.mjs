/**
 * The edge functions of supabase/functions/, served locally the way Supabase
 * serves them (nothing here is deployed; `supabase functions deploy` takes the
 * same folders unchanged).
 *
 * How: one real Deno process per function, each on an internal loopback port
 * it picks itself (DENO_SERVE_ADDRESS=tcp:127.0.0.1:0, read back from Deno's
 * "Listening on" line), behind a small Node HTTP proxy on 127.0.0.1:<port> that routes
 * /functions/v1/<name>/… to it with the /functions/v1 prefix stripped (the
 * function sees /<name>/…, as behind Supabase's gateway).
 * Why one process per function rather than one Deno router importing every
 * handler: Supabase runs each function in its own isolate with its own import
 * map (supabase/functions/<name>/deno.json), its own environment and its own
 * crash domain; one process each reproduces all three, runs the unchanged
 * index.ts (its `Deno.serve(handler)` bound to the internal port through
 * DENO_SERVE_ADDRESS), and a function that fails to boot takes no other down.
 *
 * Per function, as the Supabase CLI resolves it (docs/platform.md "Edge runtime";
 * apps/cli-go/internal/functions/deploy/deploy.go):
 * - slugs: every supabase/functions/<name>/index.ts (not `_shared`, not
 *   dot/underscore folders), minus those with `enabled = false`;
 * - import map: [functions.<name>] import_map in config.toml, else
 *   <name>/deno.json, else <name>/deno.jsonc, else none; DENO_NO_PACKAGE_JSON=1
 *   as the CLI's bundler sets when an import map is used;
 * - verify_jwt (default true): the proxy plays the gateway and refuses
 *   requests without a valid JWT with 401 {"msg":"Invalid JWT"} (HS256 local
 *   API keys, or RS256 by the Clerk key), except OPTIONS;
 * - environment: only what the edge runtime gives (SUPABASE_URL,
 *   SUPABASE_DB_URL, SUPABASE_ANON_KEY, SUPABASE_SERVICE_ROLE_KEY,
 *   SUPABASE_PUBLISHABLE_KEYS, SUPABASE_SECRET_KEYS, SUPABASE_JWKS, with the
 *   CLI's well-known local values) plus supabase/functions/.env (names
 *   starting with SUPABASE_ are skipped, as the CLI does), plus `env`;
 * - permissions: net, env, sys, read of the repository and the temp dir,
 *   write of the temp dir only (the edge runtime allows writes to /tmp only).
 * Without real Clerk keys, a local Clerk stand-in (stack/standins/clerk.mjs)
 * provides CLERK_JWT_KEY, CLERK_ISSUER, CLERK_AUTHORIZED_PARTIES and
 * CLERK_WEBHOOK_SECRET, and LOCAL_STANDINS=clerk tells health so.
 * Without OPENAI_API_KEY / DEEPSEEK_API_KEY (and unless `aiStandins: false`,
 * the default with `envFile: false`, as in tests, which start their own), a
 * local OpenAI-compatible stand-in per provider (stack/standins/openai.mjs)
 * provides the key and OPENAI_BASE_URL / DEEPSEEK_BASE_URL, and
 * LOCAL_STANDINS lists openai / deepseek.
 * Without CLOUDINARY_CLOUD_NAME / _API_KEY / _API_SECRET (and unless
 * `cloudinaryStandin: false`, the default with `envFile: false`), the local
 * Cloudinary stand-in (stack/standins/cloudinary.mjs: signed uploads, signed
 * upload notifications to cloudinary-webhook, Admin API delete) provides them
 * and CLOUDINARY_UPLOAD_PREFIX, and LOCAL_STANDINS lists cloudinary.
 * Without STRIPE_SECRET_KEY (and unless `stripeStandin: false`, the default
 * with `envFile: false`), the local Stripe stand-in (stack/standins/stripe.mjs:
 * Checkout Sessions, a hosted-page stand-in at each session's URL that pays,
 * fails or expires it and posts the signed event to stripe-webhook) provides
 * STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET and STRIPE_API_BASE, and
 * LOCAL_STANDINS lists stripe.
 *
 * Without FCM_SERVICE_ACCOUNT_JSON (and unless `fcmStandin: false`, the
 * default with `envFile: false`), the local FCM stand-in
 * (stack/standins/fcm.mjs: OAuth token endpoint, messages:send) provides it
 * and FCM_API_BASE, and LOCAL_STANDINS lists fcm. With `pushDrainMs` (2000
 * unless `envFile: false`) the push outbox is drained by calling push-dispatch
 * on that interval, with PUSH_DISPATCH_SECRET (generated when not set).
 *
 * Logs: <logDir>/functions/<name>.log (each function's stdout and stderr).
 * A Deno process whose parent disappears exits (its stdin closes), so no
 * worker outlives the stack; a worker that died is started again on its next
 * request.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, readFileSync } from 'node:fs';
import { appendFile, mkdir, readdir, readFile } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseEnv } from 'node:util';
import { exportJWK, importSPKI, jwtVerify } from 'jose';
import { LOCAL_AUTHORIZED_PARTIES, STANDIN_DIR, loadClerkStandin } from '../standins/clerk.mjs';
import { ROOT } from './db.mjs';
import { DENO, cacheFunctions, denoEnv } from './deno.mjs';
import { CONFIG_FILE, functionsConfig, readConfig } from './config.mjs';

const FUNCTIONS_DIR = path.join(ROOT, 'supabase/functions');
const LAUNCHER = path.join(ROOT, 'stack/runtime/deno-launcher.js');

/**
 * Well-known local keys printed by `supabase start` (not secrets: identical on
 * every machine). The legacy JWTs are HS256 with the local JWT secret.
 */
export const LOCAL_KEYS = {
  jwtSecret: 'super-secret-jwt-token-with-at-least-32-characters-long',
  anonKey:
    'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZS1kZW1vIiwicm9sZSI6ImFub24iLCJleHAiOjE5ODM4MTI5OTZ9.CRXP1A7WOeoJeXxjNni43kdQwgnWNReilDMblYTn_I0',
  serviceRoleKey:
    'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZS1kZW1vIiwicm9sZSI6InNlcnZpY2Vfcm9sZSIsImV4cCI6MTk4MzgxMjk5Nn0.EGIM96RAZx35lJzdJsyH-qQwv8Hdp7fsn3W0YpN81IU',
  publishableKey: 'sb_publishable_ACJWlzQHlZjBrEguHvfOxg_3BJgxAaH',
  secretKey: 'sb_secret_N7UND0UgjKTVK-Uodkm0Hg_xSvEMPvz',
};

/**
 * Functions to serve: [{ name, dir, entrypoint, importMap, verifyJwt }].
 * `functionsDir` and `configFile` default to supabase/functions and
 * supabase/config.toml; config paths are relative to the config's folder.
 * @param {{ functionsDir?: string, configFile?: string }} [opts]
 * @returns {Promise<{ name: string, dir: string, entrypoint: string, importMap: string | undefined, verifyJwt: boolean }[]>}
 */
export async function discoverFunctions({ functionsDir = FUNCTIONS_DIR, configFile = CONFIG_FILE } = {}) {
  const config = functionsConfig(readConfig(configFile));
  const supabaseDir = path.dirname(configFile);
  const names = new Set();
  for (const entry of await readdir(functionsDir, { withFileTypes: true }).catch(() => [])) {
    if (entry.isDirectory() && /^[A-Za-z0-9][A-Za-z0-9_-]*$/.test(entry.name) && existsSync(path.join(functionsDir, entry.name, 'index.ts'))) {
      names.add(entry.name);
    }
  }
  for (const name of Object.keys(config)) names.add(name);
  const fns = [];
  for (const name of [...names].sort()) {
    const c = config[name] ?? {};
    if (c.enabled === false) continue;
    const dir = path.join(functionsDir, name);
    const entrypoint = c.entrypoint ? path.resolve(supabaseDir, c.entrypoint) : path.join(dir, 'index.ts');
    if (!existsSync(entrypoint)) continue;
    let importMap = c.import_map ? path.resolve(supabaseDir, c.import_map) : undefined;
    if (!importMap) importMap = ['deno.json', 'deno.jsonc'].map((f) => path.join(dir, f)).find((f) => existsSync(f));
    fns.push({ name, dir, entrypoint, importMap, verifyJwt: c.verify_jwt !== false });
  }
  return fns;
}

/** supabase/functions/.env as an object, without SUPABASE_* names (the CLI skips them too). */
function readEnvFile(file) {
  if (!file || !existsSync(file)) return { values: {}, skipped: [], found: false };
  const parsed = parseEnv(readFileSync(file, 'utf8'));
  const values = {};
  const skipped = [];
  for (const [k, v] of Object.entries(parsed)) {
    if (k.startsWith('SUPABASE_')) skipped.push(k);
    else values[k] = v;
  }
  return { values, skipped, found: true };
}

/** A timer that never keeps the process alive by itself (it only bounds waits). */
const sleep = (ms) => new Promise((r) => setTimeout(r, ms).unref());

async function tail(file, lines = 30) {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

/**
 * Starts every function; see the module comment.
 * @param {{
 *   dbUrl: string,
 *   port: number,
 *   logDir: string,
 *   onStep?: (label: string) => void,
 *   env?: Record<string, string>,
 *   envFile?: string | false,
 *   aiStandins?: boolean,
 *   cloudinaryStandin?: boolean,
 *   stripeStandin?: boolean,
 *   fcmStandin?: boolean,
 *   pushDrainMs?: number,
 *   readyTimeoutMs?: number,
 *   functionsDir?: string,
 *   configFile?: string,
 *   keys?: import('./state.mjs').ApiKeys,
 *   publicUrl?: string,
 *   clerkStandinDir?: string,
 * }} opts `env` overrides everything (tests); `envFile: false` reads no .env;
 *   `aiStandins` (default: true unless `envFile: false`) serves OpenAI/DeepSeek locally when their keys are missing.
 *   `cloudinaryStandin` (same default) serves Cloudinary locally when its credentials are missing.
 *   `stripeStandin` (same default) serves Stripe locally when STRIPE_SECRET_KEY is missing.
 *   `keys`: the API keys (default: the Supabase CLI's well-known local keys); `publicUrl`: SUPABASE_URL
 *   (default: this server's own origin; the stack passes its gateway's); `clerkStandinDir`: where the Clerk
 *   stand-in keeps its keys when no real Clerk keys are set.
 * @returns {Promise<{ url: string, summary: string[], env: Record<string, string>, clerkPublicPem: string | undefined, workers: () => { name: string, pid: number | null, port: number }[], stop: () => Promise<void> }>}
 */
export async function startFunctions({
  dbUrl,
  port,
  logDir,
  onStep = () => {},
  env = {},
  envFile = path.join(FUNCTIONS_DIR, '.env'),
  aiStandins = envFile !== false,
  cloudinaryStandin = envFile !== false,
  stripeStandin = envFile !== false,
  fcmStandin = envFile !== false,
  pushDrainMs = envFile !== false ? 2000 : 0,
  readyTimeoutMs = 120_000,
  functionsDir = FUNCTIONS_DIR,
  configFile = CONFIG_FILE,
  keys = LOCAL_KEYS,
  publicUrl,
  clerkStandinDir = STANDIN_DIR,
}) {
  const functions = await discoverFunctions({ functionsDir, configFile });
  const fnLogDir = path.join(logDir, 'functions');
  await mkdir(fnLogDir, { recursive: true });
  const summary = [];

  // ---- environment: platform < .env < explicit env; Clerk stand-in fills the gaps
  const apiUrl = publicUrl ?? `http://127.0.0.1:${port}`;
  const platform = {
    SUPABASE_URL: apiUrl,
    SUPABASE_DB_URL: dbUrl,
    SUPABASE_ANON_KEY: keys.anonKey,
    SUPABASE_SERVICE_ROLE_KEY: keys.serviceRoleKey,
    SUPABASE_PUBLISHABLE_KEYS: JSON.stringify({ default: keys.publishableKey }),
    SUPABASE_SECRET_KEYS: JSON.stringify({ default: keys.secretKey }),
    SB_REGION: 'local',
  };
  const fromFile = readEnvFile(envFile);
  const secrets = { ...fromFile.values, ...env };
  if (fromFile.found) {
    summary.push(`Secrets: ${Object.values(fromFile.values).filter(Boolean).length} set in ${path.relative(ROOT, envFile)}`);
  } else if (envFile) {
    summary.push(`Secrets: none (copy supabase/functions/.env.example to supabase/functions/.env to add real keys)`);
  }
  if (fromFile.skipped.length) summary.push(`Skipped in .env (reserved SUPABASE_ names): ${fromFile.skipped.join(', ')}`);

  const standins = [];
  let clerkPublicPem = secrets.CLERK_JWT_KEY?.replace(/\\n/g, '\n');
  if (!secrets.CLERK_JWT_KEY && !secrets.CLERK_SECRET_KEY) {
    const standin = await loadClerkStandin(clerkStandinDir);
    secrets.CLERK_JWT_KEY = standin.publicKeyPem;
    clerkPublicPem = standin.publicKeyPem;
    secrets.CLERK_ISSUER ||= standin.issuer;
    secrets.CLERK_AUTHORIZED_PARTIES ||= LOCAL_AUTHORIZED_PARTIES.join(',');
    secrets.CLERK_WEBHOOK_SECRET ||= standin.webhookSecret;
    standins.push('clerk');
    summary.push(
      `Clerk: LOCAL STAND-IN (no real Clerk keys): key pair and webhook secret in ${path.relative(ROOT, standin.dir)}/, ` +
        `issuer ${secrets.CLERK_ISSUER}; mint a session token with \`npm run clerk:token -- user_…\``,
    );
  } else {
    summary.push(`Clerk: ${secrets.CLERK_JWT_KEY ? 'CLERK_JWT_KEY (networkless)' : 'CLERK_SECRET_KEY (JWKS from Clerk)'}`);
  }
  // AI providers without a key: a local OpenAI-compatible stand-in each (canned answers, counted usage).
  const aiServers = [];
  if (aiStandins && !(secrets.OPENAI_API_KEY && secrets.DEEPSEEK_API_KEY)) {
    const { startOpenAIStandin } = await import('../standins/openai.mjs');
    for (const [provider, label, keyVar, urlVar] of [
      ['openai', 'OpenAI', 'OPENAI_API_KEY', 'OPENAI_BASE_URL'],
      ['deepseek', 'DeepSeek', 'DEEPSEEK_API_KEY', 'DEEPSEEK_BASE_URL'],
    ]) {
      if (secrets[keyVar]) continue;
      const apiKey = `sk-local-${provider}-standin`;
      const server = await startOpenAIStandin({ flavor: provider, apiKey });
      aiServers.push(server);
      secrets[keyVar] = apiKey;
      secrets[urlVar] = server.url;
      standins.push(provider);
      summary.push(`${label}: LOCAL STAND-IN (no ${keyVar}) at ${server.url}: canned answers, token usage counted like the real API`);
    }
  }
  // Cloudinary without credentials: the local stand-in (stopped with the AI stand-ins below).
  if (cloudinaryStandin && !(secrets.CLOUDINARY_CLOUD_NAME && secrets.CLOUDINARY_API_KEY && secrets.CLOUDINARY_API_SECRET)) {
    const { startCloudinaryStandin } = await import('../standins/cloudinary.mjs');
    const server = await startCloudinaryStandin({ cloudName: 'local-standin' });
    aiServers.push(server);
    Object.assign(secrets, server.env);
    standins.push('cloudinary');
    summary.push(
      `Cloudinary: LOCAL STAND-IN (no CLOUDINARY_API_SECRET) at ${server.url}: signed uploads, upload notifications to cloudinary-webhook, Admin API delete; assets kept in memory`,
    );
  }
  // Stripe without a secret key: the local stand-in, delivering signed events to stripe-webhook.
  if (stripeStandin && !secrets.STRIPE_SECRET_KEY) {
    const { startStripeStandin } = await import('../standins/stripe.mjs');
    const server = await startStripeStandin({
      webhookUrl: `${apiUrl}/functions/v1/stripe-webhook`,
      ...(secrets.STRIPE_WEBHOOK_SECRET ? { webhookSecret: secrets.STRIPE_WEBHOOK_SECRET } : {}),
    });
    aiServers.push(server);
    Object.assign(secrets, server.env);
    standins.push('stripe');
    summary.push(
      `Stripe: LOCAL STAND-IN (no STRIPE_SECRET_KEY) at ${server.url}: Checkout Sessions; open a session's checkout_url to pay, fail or expire it (the signed event goes to stripe-webhook)`,
    );
  }
  // FCM without a service account: the local stand-in (OAuth token endpoint + messages:send, docs/push.md).
  if (fcmStandin && !secrets.FCM_SERVICE_ACCOUNT_JSON) {
    const { startFcmStandin } = await import('../standins/fcm.mjs');
    const server = await startFcmStandin();
    aiServers.push(server);
    Object.assign(secrets, server.env);
    standins.push('fcm');
    summary.push(`FCM: LOCAL STAND-IN (no FCM_SERVICE_ACCOUNT_JSON) at ${server.url}: OAuth token endpoint and messages:send; open it to see the pushes sent`);
  }
  // push-dispatch's caller secret: generated for this run when not set (the local drain below is its caller).
  if (pushDrainMs > 0 && !secrets.PUSH_DISPATCH_SECRET) secrets.PUSH_DISPATCH_SECRET = randomBytes(24).toString('hex');
  const stopAiServers = () => Promise.all(aiServers.map((s) => s.stop()));
  if (standins.length) secrets.LOCAL_STANDINS = [...new Set([...(secrets.LOCAL_STANDINS ?? '').split(',').filter(Boolean), ...standins])].join(',');

  // SUPABASE_JWKS as the CLI builds it: the third-party (Clerk) keys the gateway accepts.
  let clerkKey;
  if (clerkPublicPem) {
    try {
      clerkKey = await importSPKI(clerkPublicPem, 'RS256', { extractable: true });
      platform.SUPABASE_JWKS = JSON.stringify({ keys: [{ ...(await exportJWK(clerkKey)), alg: 'RS256', use: 'sig' }] });
    } catch {
      clerkKey = undefined;
    }
  }
  const fnEnv = { ...platform, ...secrets };

  const hostEnv = denoEnv();
  const tmp = tmpdir();

  // ---- workers
  /** @type {Map<string, { fn: any, port: number | null, child: import('node:child_process').ChildProcess | null, log: string, starting: Promise<void> | null }>} */
  const workers = new Map();
  let stopping = false;

  async function startWorker(w) {
    const readable = [...new Set([ROOT, functionsDir, tmp])].join(',');
    const args = ['run', '--cached-only', '--no-prompt', '--allow-net', '--allow-env', '--allow-sys', `--allow-read=${readable}`, `--allow-write=${tmp}`];
    if (w.fn.importMap) {
      // A deno.json(c) is a config file with an import map inside; anything else is a bare import map.
      args.push(/deno\.jsonc?$/.test(w.fn.importMap) ? `--config=${w.fn.importMap}` : `--import-map=${w.fn.importMap}`);
    } else {
      args.push('--no-config');
    }
    args.push(LAUNCHER, w.fn.entrypoint);
    await appendFile(w.log, `${JSON.stringify({ time: new Date().toISOString(), level: 'info', msg: 'worker starting', fn: w.fn.name })}\n`);
    const log = createWriteStream(w.log, { flags: 'a' });
    // Port 0: Deno binds a free port itself (no race with other processes
    // between choosing a port and binding it) and announces it on stdout.
    const child = spawn(DENO, args, {
      cwd: w.fn.dir,
      env: {
        ...hostEnv,
        ...fnEnv,
        DENO_SERVE_ADDRESS: 'tcp:127.0.0.1:0',
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    w.child = child;
    w.port = null;
    const listening = new Promise((resolve) => {
      let seen = '';
      const scan = (chunk) => {
        if (w.port) return;
        seen = (seen + chunk.toString()).slice(-4096);
        const m = /Listening on https?:\/\/127\.0\.0\.1:(\d+)\//.exec(seen);
        if (m) resolve(Number(m[1]));
      };
      child.stdout.on('data', scan);
      child.stderr.on('data', scan);
    });
    child.stdout.pipe(log, { end: false });
    child.stderr.pipe(log, { end: false });
    const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    exited.then(({ code, signal }) => {
      if (w.child === child) {
        w.child = null;
        w.port = null;
      }
      const done = () => log.end();
      if (!stopping) log.write(`${JSON.stringify({ time: new Date().toISOString(), level: 'error', msg: 'worker exited', fn: w.fn.name, code, signal })}\n`, done);
      else done();
    });
    const timeout = sleep(readyTimeoutMs).then(() => 'timeout');
    const first = await Promise.race([listening, exited.then(() => 'exited'), timeout]);
    if (typeof first === 'number') {
      w.port = first;
      return;
    }
    if (first === 'timeout') child.kill('SIGKILL');
    await sleep(50);
    throw new Error(
      first === 'timeout'
        ? `function ${w.fn.name} did not listen within ${readyTimeoutMs / 1000}s:\n${await tail(w.log)}`
        : `function ${w.fn.name} failed to start:\n${await tail(w.log)}`,
    );
  }

  /** Ensures the worker runs (starting it again if it died); rejects if it cannot boot. */
  function ensureWorker(w) {
    if (w.child && w.child.exitCode === null && w.port && !w.starting) return Promise.resolve();
    w.starting ??= startWorker(w).finally(() => {
      w.starting = null;
    });
    return w.starting;
  }

  onStep(`edge functions (${functions.length}): caching npm: dependencies`);
  try {
    await cacheFunctions(functions);
  } catch (e) {
    await stopAiServers();
    throw e;
  }
  onStep(`edge functions (${functions.length}): starting Deno`);
  for (const fn of functions) {
    workers.set(fn.name, { fn, port: null, child: null, log: path.join(fnLogDir, `${fn.name}.log`), starting: null });
  }
  const stopWorkers = async () => {
    stopping = true;
    await Promise.all(
      [...workers.values()].map(async (w) => {
        const child = w.child;
        if (!child || child.exitCode !== null) return;
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        if (!(await Promise.race([exited.then(() => true), sleep(5000).then(() => false)]))) {
          child.kill('SIGKILL');
          await exited;
        }
      }),
    );
  };
  try {
    await Promise.all([...workers.values()].map((w) => ensureWorker(w)));
  } catch (e) {
    await stopWorkers();
    await stopAiServers();
    throw e;
  }

  // ---- gateway
  const hsKey = new TextEncoder().encode(keys.jwtSecret);
  async function gatewayAccepts(req) {
    const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    if (!m) return false;
    const alg = (() => {
      try {
        return JSON.parse(Buffer.from(m[1].split('.')[0], 'base64url').toString()).alg;
      } catch {
        return undefined;
      }
    })();
    try {
      if (alg === 'HS256') await jwtVerify(m[1], hsKey, { algorithms: ['HS256'] });
      else if (alg === 'RS256' && clerkKey) await jwtVerify(m[1], clerkKey, { algorithms: ['RS256'] });
      else return false;
      return true;
    } catch {
      return false;
    }
  }

  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const sendJson = (res, status, body) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const m = /^\/functions\/v1\/([^/?#]+)(\/.*)?$/.exec(url.pathname);
    const w = m ? workers.get(decodeURIComponent(m[1])) : undefined;
    if (!w) return sendJson(res, 404, { code: 'NOT_FOUND', message: 'Requested function was not found' });
    if (w.fn.verifyJwt && req.method !== 'OPTIONS' && !(await gatewayAccepts(req))) {
      return sendJson(res, 401, { msg: 'Invalid JWT' });
    }
    try {
      await ensureWorker(w);
    } catch {
      return sendJson(res, 503, { code: 'BOOT_ERROR', message: 'Function failed to start (please check logs)' });
    }
    const upstream = http.request(
      {
        host: '127.0.0.1',
        port: w.port,
        method: req.method,
        path: `/${m[1]}${m[2] ?? ''}${url.search}`,
        headers: { ...req.headers, 'x-forwarded-for': req.socket.remoteAddress ?? '127.0.0.1', 'x-forwarded-proto': 'http' },
        agent,
      },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', () => {
      if (!res.headersSent) sendJson(res, 502, { code: 'WORKER_ERROR', message: 'Function exited while handling the request (please check logs)' });
      else res.destroy();
    });
    req.on('aborted', () => upstream.destroy());
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
  });
  server.keepAliveTimeout = 5000;
  try {
    await new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', resolve);
    });
  } catch (e) {
    agent.destroy();
    await stopWorkers();
    await stopAiServers();
    throw e;
  }

  const url = `http://127.0.0.1:${port}/functions/v1`;
  const gated = functions.filter((f) => f.verifyJwt).map((f) => f.name);
  summary.unshift(
    `Functions: ${functions.map((f) => f.name).join(', ')} (Deno ${await denoVersion()}, one process each; logs ${fnLogDir.startsWith(ROOT) ? path.relative(ROOT, fnLogDir) : fnLogDir}/<name>.log)`,
    ...(gated.length ? [`verify_jwt on (gateway checks the JWT): ${gated.join(', ')}`] : []),
  );
  onStep(`edge functions ready on 127.0.0.1:${port}`);

  // The push outbox drained locally: push-dispatch every pushDrainMs (hosted: a
  // Database Webhook through pg_net or Supabase Cron, docs/push.md). One call at a time.
  let drain;
  if (pushDrainMs > 0 && functions.some((f) => f.name === 'push-dispatch')) {
    let busy = false;
    drain = setInterval(async () => {
      if (busy || stopping) return;
      busy = true;
      try {
        await fetch(`http://127.0.0.1:${port}/functions/v1/push-dispatch`, {
          method: 'POST',
          headers: { authorization: `Bearer ${fnEnv.PUSH_DISPATCH_SECRET}`, 'content-type': 'application/json' },
          body: '{}',
          signal: AbortSignal.timeout(30_000),
        }).then((r) => r.arrayBuffer());
      } catch {
        // the next tick tries again; the function logs its own failures
      } finally {
        busy = false;
      }
    }, pushDrainMs);
    drain.unref();
    summary.push(`Push: outbox drained by push-dispatch every ${pushDrainMs} ms`);
  }

  return {
    url,
    summary,
    /** The environment given to the functions (tests read the local keys from it). */
    env: fnEnv,
    /** The Clerk instance's public key (PEM) the functions trust, when known: the Data API trusts it too. */
    clerkPublicPem,
    /** The running workers: name, pid (null if not running) and internal port. */
    workers: () => [...workers.values()].map((w) => ({ name: w.fn.name, pid: w.child?.pid ?? null, port: w.port })),
    async stop() {
      if (drain) clearInterval(drain);
      await new Promise((resolve) => {
        server.close(() => resolve(undefined));
        server.closeAllConnections();
      });
      agent.destroy();
      await stopWorkers();
      await stopAiServers();
    },
  };
}

let cachedVersion;
async function denoVersion() {
  if (cachedVersion) return cachedVersion;
  cachedVersion = await new Promise((resolve) => {
    const child = spawn(DENO, ['--version'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('close', () => resolve(/deno (\S+)/.exec(out)?.[1] ?? '?'));
    child.on('error', () => resolve('?'));
  });
  return cachedVersion;
}
