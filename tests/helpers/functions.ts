/**
 * Starts the edge functions (stack/runtime/functions.mjs: real Deno, one process per
 * function, behind the local gateway) against the test database, trusting a
 * fresh Clerk test instance. Use in beforeAll / afterAll of a test file.
 */
import { mkdir, mkdtemp, readFile, readdir, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ErrorBody } from '@chat-with-me/shared';
import { expect, inject } from 'vitest';
import { freePort, ROOT } from '../../stack/runtime/db.mjs';
import { startFunctions } from '../../stack/runtime/functions.mjs';
import { type ClerkTestInstance, clerkEnv, createClerkTestInstance } from './clerk.js';

export interface TestFunctions {
  url: string;
  clerk: ClerkTestInstance;
  logDir: string;
  /** All function log lines written so far. */
  logs(): Promise<string>;
  /** Running workers (name, pid, internal port). */
  workers(): { name: string; pid: number | null; port: number }[];
  stop(): Promise<void>;
}

/**
 * A functions folder with only the named functions and _shared (symlinks to
 * the real ones), laid out like the repository (<base>/supabase/functions,
 * <base>/packages) so that each function's own deno.json resolves unchanged.
 */
export async function functionsFolder(names: string[]): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const base = await mkdtemp(path.join(tmpdir(), 'chat-with-me-fns-'));
  const dir = path.join(base, 'supabase/functions');
  await mkdir(dir, { recursive: true });
  for (const n of [...names, '_shared']) await symlink(path.join(ROOT, 'supabase/functions', n), path.join(dir, n));
  await symlink(path.join(ROOT, 'packages'), path.join(base, 'packages'));
  return { dir, cleanup: () => rm(base, { recursive: true, force: true }) };
}

export async function startTestFunctions(
  opts: {
    env?: Record<string, string>;
    dbUrl?: string;
    clerk?: ClerkTestInstance;
    /**
     * Serve only these functions (a functionsFolder, removed by stop()), so
     * that other functions' state cannot stop them from booting.
     */
    only?: string[];
    /** Serve another folder of functions / read another config.toml (platform tests). */
    functionsDir?: string;
    configFile?: string;
  } = {},
): Promise<TestFunctions> {
  const clerk = opts.clerk ?? (await createClerkTestInstance());
  const logDir = await mkdtemp(path.join(tmpdir(), 'chat-with-me-fn-'));
  const folder = opts.only ? await functionsFolder(opts.only) : undefined;
  const start = async () =>
    startFunctions({
      dbUrl: opts.dbUrl ?? inject('dbUrl'),
      port: await freePort(),
      logDir,
      envFile: false,
      env: { ...clerkEnv(clerk), ...opts.env },
      functionsDir: folder?.dir ?? opts.functionsDir,
      configFile: opts.configFile,
    });
  const removeFolders = () => Promise.all([rm(logDir, { recursive: true, force: true }), folder?.cleanup()]);
  // freePort() closes the port before the gateway binds it: another process may take it meanwhile.
  let fns: Awaited<ReturnType<typeof startFunctions>> | undefined;
  for (let attempt = 1; !fns; attempt++) {
    try {
      fns = await start();
    } catch (e) {
      if ((e as { code?: string }).code !== 'EADDRINUSE' || attempt >= 3) {
        await removeFolders();
        throw e;
      }
    }
  }
  return {
    url: fns.url,
    clerk,
    logDir,
    async logs() {
      const dir = path.join(logDir, 'functions');
      const files = await readdir(dir).catch(() => []);
      return (await Promise.all(files.map((f) => readFile(path.join(dir, f), 'utf8')))).join('\n');
    },
    workers: () => fns.workers(),
    async stop() {
      await fns.stop();
      await removeFolders();
    },
  };
}

/** Asserts `res` is an error answer with `status` and the shared error shape; returns the body. */
export async function expectError(res: Response, status: number, code?: string): Promise<ErrorBody> {
  const text = await res.text();
  expect(res.status, `expected ${status}, got ${res.status}: ${text}`).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  const parsed = ErrorBody.safeParse(JSON.parse(text));
  expect(parsed.success, `not the error shape: ${text}`).toBe(true);
  if (code) expect(parsed.data!.error).toBe(code);
  expect(res.headers.get('x-request-id')).toBeTruthy();
  return parsed.data!;
}
