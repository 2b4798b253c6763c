/**
 * Type checks as part of `npm test`: every function with `deno check` (Deno's
 * own resolution: import map, npm: packages, the shared package), and the
 * Node side (tests, packages/shared, stack) with `tsc --noEmit`.
 */
import { execFile } from 'node:child_process';
import { readdirSync, existsSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../../stack/runtime/db.mjs';
import { DENO, denoEnv } from '../../stack/runtime/deno.mjs';

const run = promisify(execFile);

async function exitCode(cmd: string, args: string[], env: Record<string, string> = {}) {
  try {
    await run(cmd, args, { cwd: ROOT, env: { ...process.env, NO_COLOR: '1', ...env }, maxBuffer: 32 * 1024 * 1024 });
    return { code: 0, output: '' };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: err.code ?? 1, output: `${err.stdout ?? ''}${err.stderr ?? ''}` };
  }
}

describe('type checks', () => {
  it('deno check supabase/functions/*/index.ts', { timeout: 240_000 }, async () => {
    const entries = readdirSync(path.join(ROOT, 'supabase/functions'))
      .filter((d) => !d.startsWith('_') && !d.startsWith('.') && existsSync(path.join(ROOT, 'supabase/functions', d, 'index.ts')))
      .map((d) => `supabase/functions/${d}/index.ts`);
    expect(entries.length).toBeGreaterThan(0);
    const { code, output } = await exitCode(DENO, ['check', ...entries], denoEnv());
    expect(code, output).toBe(0);
  });

  it('deno check of each function with its own deno.json (what `supabase functions deploy` resolves)', { timeout: 240_000 }, async () => {
    const dirs = readdirSync(path.join(ROOT, 'supabase/functions')).filter((d) => existsSync(path.join(ROOT, 'supabase/functions', d, 'deno.json')));
    expect(dirs.length).toBeGreaterThan(0);
    for (const d of dirs) {
      const { code, output } = await exitCode(
        DENO,
        ['check', `--config=supabase/functions/${d}/deno.json`, `supabase/functions/${d}/index.ts`],
        denoEnv(),
      );
      expect(code, `${d}: ${output}`).toBe(0);
    }
  });

  it('tsc --noEmit -p .', { timeout: 240_000 }, async () => {
    const { code, output } = await exitCode(path.join(ROOT, 'node_modules/.bin/tsc'), ['--noEmit', '-p', '.']);
    expect(code, output).toBe(0);
  });
});
