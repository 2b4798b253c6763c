/**
 * Vitest global setup: starts a throw-away local database (stack/runtime/db.mjs) on a
 * free port and hands its URLs to the tests through `inject('dbUrl')`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { startDatabase } from '../../stack/runtime/db.mjs';

declare module 'vitest' {
  export interface ProvidedContext {
    dbUrl: string;
    superuserUrl: string;
  }
}

export default async function setup(project: TestProject) {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'chat-with-me-test-'));
  const db = await startDatabase({ dataDir, persistent: false, onLog: () => {} });
  project.provide('dbUrl', db.url);
  project.provide('superuserUrl', db.superuserUrl);
  process.env.TEST_DB_URL = db.url;
  return async () => {
    await db.stop();
    await rm(dataDir, { recursive: true, force: true });
  };
}
