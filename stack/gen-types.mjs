#!/usr/bin/env node
/**
 * `npm run gen:types`: regenerates packages/shared/src/database.types.ts with
 * `supabase gen types typescript --schema public --schema private` from a
 * database migrated by our migrations (the running local stack, or a
 * throw-away one). `public` types supabase-js; `private` (not exposed by the
 * Data API) types the edge functions' calls of the private functions
 * (supabase/functions/**).
 * tests/platform/types-drift.test.ts fails when the committed file differs.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { ROOT, startDatabase } from './runtime/db.mjs';

export const TYPES_FILE = path.join(ROOT, 'packages/shared/src/database.types.ts');

/** Generated Database types for `dbUrl` (schemas public and private), as the Supabase CLI prints them. */
export async function generateTypes(dbUrl) {
  const { stdout } = await promisify(execFile)(
    path.join(ROOT, 'node_modules/.bin/supabase'),
    ['gen', 'types', 'typescript', `--remote=${dbUrl}`, '--schema', 'public', '--schema', 'private'],
    { cwd: ROOT, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, SUPABASE_TELEMETRY_DISABLED: '1' } },
  );
  return stdout;
}

async function main() {
  const state = path.join(ROOT, '.local/stack.json');
  let url = existsSync(state) ? JSON.parse(await readFile(state, 'utf8')).env?.DB_URL : undefined;
  let db;
  let dir;
  if (!url) {
    dir = await mkdtemp(path.join(tmpdir(), 'chat-with-me-types-'));
    db = await startDatabase({ dataDir: dir, persistent: false, seed: false });
    url = db.url;
  }
  try {
    await writeFile(TYPES_FILE, await generateTypes(url));
    console.log(`wrote ${path.relative(ROOT, TYPES_FILE)}`);
  } finally {
    await db?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
