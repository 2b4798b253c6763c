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
import { startStack } from '../../stack/runtime/stack.mjs';

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
