/**
 * @chat-with-me/shared from plain Node 20+ (no TypeScript loader, no bundler):
 * what an app's server or a script gets from `import('@chat-with-me/shared')`
 * through the package's `exports` (`import` → dist/index.js, `types` →
 * dist/index.d.ts, built by `npm install` with packages/shared/tsconfig.build.json).
 * Deno and the functions import src/ through their import maps instead.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, inject, it } from 'vitest';
import { ROOT } from '../../stack/runtime/db.mjs';

const run = promisify(execFile);
const SHARED = path.join(ROOT, 'packages/shared');

/** Runs `code` (an ES module) with plain `node`, with the test stack's API URL in the environment; returns its stdout. */
async function node(code: string, env: Record<string, string> = {}) {
  // NODE_OPTIONS cleared: vitest's own loader hooks must not help the child.
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', code], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', NODE_OPTIONS: '', ...env },
    timeout: 30_000,
  });
  return stdout;
}

/** Every file under `dir`, relative, sorted. */
async function files(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) out.push(path.relative(dir, path.join(e.parentPath, e.name)));
  }
  return out.sort();
}

describe('@chat-with-me/shared in plain Node', () => {
  it('resolves to the built ESM (dist/*.js) with types (dist/*.d.ts), not to .ts sources', async () => {
    const out = await node(`
      console.log(import.meta.resolve('@chat-with-me/shared'));
      console.log(import.meta.resolve('@chat-with-me/shared/database'));
    `);
    const [main, database] = out.trim().split('\n');
    expect(main).toMatch(/\/packages\/shared\/dist\/index\.js$/);
    expect(database).toMatch(/\/packages\/shared\/dist\/database\.types\.js$/);
    const pkg = JSON.parse(await readFile(path.join(SHARED, 'package.json'), 'utf8'));
    expect(pkg.exports['.'].types).toBe('./dist/index.d.ts');
    await expect(readFile(path.join(SHARED, 'dist/index.d.ts'), 'utf8')).resolves.toMatch(/createFunctionsClient|from '\.\/client\.js'/);
    // Relative specifiers in the output name .js files (Node cannot load .ts from a package).
    const emitted = await readFile(path.join(SHARED, 'dist/realtime.js'), 'utf8');
    expect(emitted).not.toMatch(/from '\.[^']*\.ts'/);
  });

  it('dist/ is what the sources build to today (a stale build would hide changes from plain-Node users)', async () => {
    const out = await mkdtemp(path.join(tmpdir(), 'shared-build-'));
    try {
      await run(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', path.join(SHARED, 'tsconfig.build.json'), '--outDir', out], {
        cwd: ROOT,
        timeout: 60_000,
      });
      const fresh = await files(out);
      const dist = await files(path.join(SHARED, 'dist'));
      expect(dist, 'packages/shared/dist has the files of a fresh build: run `npm run build`').toEqual(fresh);
      for (const f of fresh) {
        const [a, b] = await Promise.all([readFile(path.join(out, f), 'utf8'), readFile(path.join(SHARED, 'dist', f), 'utf8')]);
        expect(b, `packages/shared/dist/${f} is stale: run \`npm run build\``).toBe(a);
      }
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  }, 90_000);

  it('validates with a shared schema and calls a function with createFunctionsClient', async () => {
    const out = await node(
      `
      const shared = await import('@chat-with-me/shared');
      const { createFunctionsClient, FunctionsError, TypingPayload, chatTopic } = shared;
      const ok = TypingPayload.safeParse({ user_id: 'user_2abcdefghijklmnopqrstuvwxyz', typing: true });
      const bad = TypingPayload.safeParse({ user_id: 'not-a-clerk-id', typing: 'yes' });
      const fns = createFunctionsClient({ url: process.env.FUNCTIONS_URL });
      const health = await fns.health();
      let unauthorized;
      try { await fns.me(); } catch (e) { unauthorized = e instanceof FunctionsError ? { status: e.status, code: e.code } : String(e); }
      console.log(JSON.stringify({ ok: ok.success, bad: bad.success, topic: chatTopic('c1'), health: health.status, migrations: health.database.migrations_applied, unauthorized }));
    `,
      { FUNCTIONS_URL: `${inject('apiUrl')}/functions/v1` },
    );
    const result = JSON.parse(out.trim().split('\n').at(-1) ?? '{}');
    expect(result).toMatchObject({ ok: true, bad: false, topic: 'chat:c1', unauthorized: { status: 401 } });
    expect(['ok', 'degraded']).toContain(result.health);
    expect(result.migrations).toBeGreaterThan(0);
  });

  it('is typed from the built declarations (tsc on a consumer file, NodeNext, no source condition)', async () => {
    // Under node_modules/ so the consumer resolves @chat-with-me/shared as an installed package.
    await mkdir(path.join(ROOT, 'node_modules/.cache'), { recursive: true });
    const dir = await mkdtemp(path.join(ROOT, 'node_modules/.cache/consumer-'));
    try {
      await writeFile(
        path.join(dir, 'app.ts'),
        `import { createFunctionsClient, TypingPayload, type Database } from '@chat-with-me/shared';
const fns = createFunctionsClient({ url: 'http://127.0.0.1:54321/functions/v1' });
export const me: Promise<{ user: { id: string } }> = fns.me();
export const typing: { user_id: string; typing: boolean } = TypingPayload.parse({});
export type Inbox = Database['public']['Functions']['get_inbox']['Returns'];
// @ts-expect-error a misspelt function is not on the client
fns.mee();
`,
      );
      await writeFile(
        path.join(dir, 'tsconfig.json'),
        JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', strict: true, noEmit: true, skipLibCheck: false, types: [] }, files: ['app.ts'] }),
      );
      const res = await run(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', path.join(dir, 'tsconfig.json'), '--traceResolution'], { cwd: dir, timeout: 60_000 }).catch((e) => e);
      const trace = String(res.stdout ?? '');
      expect(res.code ?? 0, trace.split('\n').filter((l) => /error TS/.test(l)).join('\n')).toBe(0);
      expect(trace).toMatch(/'@chat-with-me\/shared' was successfully resolved to '[^']*packages\/shared\/dist\/index\.d\.ts'/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 90_000);
});
