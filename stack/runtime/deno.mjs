/**
 * Deno for the local stack: the binary from the `deno` npm package, the
 * environment every Deno process gets, and the dependency cache step.
 *
 * Functions never download at run time. `cacheFunctions()` runs
 * `deno cache --config=<function>/deno.json <function>/index.ts` for every
 * function (each with its own import map, as `supabase functions deploy`
 * resolves it), and the workers then start with `--cached-only`, so a worker
 * that would need a package not in the cache fails at once with a clear error
 * instead of downloading. The cache lives in DENO_DIR (Deno's default,
 * `~/.cache/deno`, unless set).
 *
 * Certificate authorities: Deno uses its own Mozilla bundle by default, which
 * does not hold a corporate or proxy authority that the operating system
 * trusts. Every Deno process gets `DENO_TLS_CA_STORE=mozilla,system` (Deno's
 * documented switch, https://docs.deno.com/runtime/reference/env_variables/)
 * and, when Node was given extra authorities (`NODE_EXTRA_CA_CERTS`), the same
 * file as `DENO_CERT`.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from './db.mjs';

const execFileAsync = promisify(execFile);

/** The Deno binary installed by `npm install` (npm package `deno`). */
export const DENO = path.join(ROOT, 'node_modules/.bin/deno');

/** Host variables a Deno process needs (paths, cache, proxy, certificates); nothing else leaks in. */
const PASSTHROUGH = [
  'PATH', 'HOME', 'TMPDIR', 'XDG_CACHE_HOME', 'DENO_DIR', 'DENO_CERT', 'DENO_TLS_CA_STORE', 'SSL_CERT_FILE', 'SSL_CERT_DIR',
  'NPM_CONFIG_REGISTRY', 'npm_config_registry', 'HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY', 'http_proxy', 'https_proxy', 'no_proxy',
];

/**
 * The environment of a Deno process started by the stack: the passthrough
 * variables of the host, the system's certificate authorities, no update
 * check, no colours, and no root package.json (as the Supabase CLI's bundler
 * with an import map).
 * @returns {Record<string, string>}
 */
export function denoEnv() {
  /** @type {Record<string, string>} */
  const env = {};
  for (const k of PASSTHROUGH) if (process.env[k] !== undefined) env[k] = /** @type {string} */ (process.env[k]);
  env.DENO_TLS_CA_STORE ??= 'mozilla,system';
  if (!env.DENO_CERT && process.env.NODE_EXTRA_CA_CERTS) env.DENO_CERT = process.env.NODE_EXTRA_CA_CERTS;
  env.DENO_NO_UPDATE_CHECK = '1';
  env.DENO_NO_PACKAGE_JSON = '1';
  env.NO_COLOR = '1';
  return env;
}

/**
 * Caches the `npm:` dependencies of every function, one `deno cache` per
 * function with its own import map (a no-op in ~0.1 s when already cached).
 * @param {{ name: string, entrypoint: string, importMap?: string }[]} functions
 * @throws {Error} naming the function and Deno's output when a download fails
 */
export async function cacheFunctions(functions) {
  for (const fn of functions) {
    const args = ['cache'];
    if (fn.importMap) args.push(/deno\.jsonc?$/.test(fn.importMap) ? `--config=${fn.importMap}` : `--import-map=${fn.importMap}`);
    else args.push('--no-config');
    args.push(fn.entrypoint);
    try {
      await execFileAsync(DENO, args, { cwd: ROOT, env: denoEnv(), maxBuffer: 16 * 1024 * 1024, timeout: 300_000 });
    } catch (err) {
      const e = /** @type {any} */ (err);
      throw new Error(
        `Could not cache the dependencies of function ${fn.name} (deno ${args.join(' ')}):\n${e.stderr ?? e.message}\n` +
          'Deno downloads npm: packages from the npm registry once; check the network or the registry settings (NPM_CONFIG_REGISTRY).',
      );
    }
  }
}
