#!/usr/bin/env node
/**
 * `npm run functions:import-maps`: writes every supabase/functions/<name>/deno.json
 * from the one source, the root deno.json (imports, compiler options), with
 * relative paths rebased onto the function's folder.
 *
 * Why copies at all: `supabase functions deploy` bundles each function with
 * its own import map (<name>/deno.json, https://supabase.com/docs/guides/functions/dependencies),
 * and a function folder cannot import outside supabase/ through a shared
 * file. So the copies stay, generated: tests/platform/functions-runtime.test.ts fails
 * when one differs from what this script writes.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ROOT } from './runtime/db.mjs';
import { discoverFunctions } from './runtime/functions.mjs';

/**
 * The deno.json text of a function in `dir`, derived from the root deno.json.
 * @param {string} dir the function's folder
 */
export async function importMapFor(dir) {
  const root = JSON.parse(await readFile(path.join(ROOT, 'deno.json'), 'utf8'));
  const imports = Object.fromEntries(
    Object.entries(/** @type {Record<string, string>} */ (root.imports)).map(([k, v]) => [
      k,
      v.startsWith('.') ? path.relative(dir, path.resolve(ROOT, v)) : v,
    ]),
  );
  return `${JSON.stringify({ ...root, imports }, null, 2)}\n`;
}

async function main() {
  for (const fn of await discoverFunctions()) {
    const file = path.join(fn.dir, 'deno.json');
    const text = await importMapFor(fn.dir);
    const before = await readFile(file, 'utf8').catch(() => '');
    if (before !== text) {
      await writeFile(file, text);
      console.log(`wrote ${path.relative(ROOT, file)}`);
    }
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
