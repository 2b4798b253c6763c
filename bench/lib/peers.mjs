/**
 * Peer gateways for `npm run bench -- --peers`: other software that teams put
 * between their app and an OpenAI-compatible provider, run on this machine
 * against the same stand-in, so that ai-chat's overhead can be read next to
 * theirs.
 *
 * Portkey's open-source AI gateway (npm `@portkey-ai/gateway`,
 * https://github.com/Portkey-AI/gateway; MIT): installed only here, outside
 * the project's lockfile, into `bench/.peers/portkey` (gitignored) with
 * `npm install --no-save`, then started with Node as its package's
 * `start-server.js` (the gateway's documented `npx @portkey-ai/gateway`) on a
 * free port. Requests name the provider and where it is with Portkey's
 * documented headers (`x-portkey-provider: openai`,
 * `x-portkey-custom-host: <stand-in>/v1`, https://portkey.ai/docs/api-reference/inference-api/headers).
 *
 * It runs with a preload ([`portkey-preload.mjs`](portkey-preload.mjs)) and
 * Portkey's code unchanged; the preload (1) binds its server to 127.0.0.1
 * (it listens on every interface otherwise) and (2) hands it fetch responses
 * whose headers may be changed. Without (2) every streamed answer fails with
 * `TypeError: immutable` in Node 20 and Deno alike: the gateway adds its
 * `x-portkey-*` headers to the response it built from the provider's, and
 * @hono/node-server's lightweight `Response` (which the gateway's server
 * installs as the global one) keeps the provider response's own Headers
 * object, which fetch made immutable (https://fetch.spec.whatwg.org/#concept-headers-guard).
 */
import { spawn } from 'node:child_process';
import { access, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { ROOT, freePort } from '../../stack/runtime/db.mjs';

export const PORTKEY_VERSION = '1.15.2';
const PEERS_DIR = path.join(ROOT, 'bench/.peers');

/** Runs a command to its end (bounded), rejecting with its output on failure. */
function run(cmd, args, { cwd, timeoutMs }) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${cmd} ${args.join(' ')} exited with ${code}: ${out.slice(-2000)}`));
    });
  });
}

/** Installs @portkey-ai/gateway@PORTKEY_VERSION once (outside the project's package.json and lockfile); returns its entry point. */
async function installPortkey(log) {
  const dir = path.join(PEERS_DIR, `portkey-${PORTKEY_VERSION}`);
  const entry = path.join(dir, 'node_modules/@portkey-ai/gateway/build/start-server.js');
  try {
    await access(entry);
    return entry;
  } catch {
    // not installed yet
  }
  log(`peers: installing @portkey-ai/gateway@${PORTKEY_VERSION} into ${path.relative(ROOT, dir)}…`);
  await mkdir(dir, { recursive: true });
  await run('npm', ['install', '--no-save', '--no-package-lock', '--no-audit', '--no-fund', '--prefix', dir, `@portkey-ai/gateway@${PORTKEY_VERSION}`], {
    cwd: dir,
    timeoutMs: 180_000,
  });
  await access(entry);
  return entry;
}

/** Waits until something answers HTTP at `url` (bounded). */
async function waitForHttp(url, child, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the peer exited with ${child.exitCode}`);
    try {
      await fetch(url, { signal: AbortSignal.timeout(1000) });
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`the peer did not answer at ${url} within ${timeoutMs / 1000} s`);
}

/**
 * Portkey's gateway on 127.0.0.1, for an OpenAI-compatible provider at `providerUrl` (e.g. http://127.0.0.1:1234/v1).
 * @param {{ providerUrl: string, log: (s: string) => void }} o
 * @returns {Promise<{ name: string, version: string, baseURL: string, headers: Record<string, string>, stop(): Promise<void> }>}
 */
export async function startPortkey({ providerUrl, log }) {
  const entry = await installPortkey(log);
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', path.join(ROOT, 'bench/lib/portkey-preload.mjs'), entry, `--port=${port}`, '--headless'], {
    cwd: path.dirname(entry),
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, NODE_ENV: 'production' },
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
  try {
    await waitForHttp(`http://127.0.0.1:${port}/`, child, 30_000);
  } catch (e) {
    child.kill('SIGTERM');
    throw new Error(`${/** @type {Error} */ (e).message}: ${stderr}`);
  }
  return {
    name: 'Portkey AI gateway',
    version: PORTKEY_VERSION,
    baseURL: `http://127.0.0.1:${port}/v1`,
    headers: { 'x-portkey-provider': 'openai', 'x-portkey-custom-host': providerUrl },
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
    },
  };
}
