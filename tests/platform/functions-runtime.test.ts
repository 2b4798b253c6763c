/**
 * The local functions platform (stack/runtime/functions.mjs): Supabase's URL layout,
 * per-function Deno workers with the edge runtime's environment only, the
 * gateway's verify_jwt, CORS and request ids, restarts, a clean stop; and the
 * deploy layout (config.toml, per-function import maps) the Supabase CLI reads.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ROOT } from '../../stack/runtime/db.mjs';
import { importMapFor } from '../../stack/gen-import-maps.mjs';
import { parse } from 'smol-toml';
import { functionsConfig, readConfig } from '../../stack/runtime/config.mjs';
import { discoverFunctions, LOCAL_KEYS } from '../../stack/runtime/functions.mjs';
import { sessionToken } from '../helpers/clerk.js';
import { createUser, startForFile } from '../helpers/db.js';
import { expectError, startTestFunctions, type TestFunctions } from '../helpers/functions.js';

const fns = startForFile(() => startTestFunctions());

describe('URL layout', () => {
  it('serves under /functions/v1/<name> on 127.0.0.1', () => {
    expect(new URL(fns.url)).toMatchObject({ hostname: '127.0.0.1', pathname: '/functions/v1' });
  });

  it('answers an unknown function like the Supabase gateway', async () => {
    const res = await fetch(`${fns.url}/no-such-function`);
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ code: 'NOT_FOUND', message: 'Requested function was not found' });
    expect((await fetch(fns.url.replace('/functions/v1', '/rest/v1/users'))).status).toBe(404);
  });

  it('routes sub-paths and query strings to the function', async () => {
    const res = await fetch(`${fns.url}/health/anything?verbose=1`);
    expect(res.status).toBe(200);
  });
});

describe('CORS and request ids', () => {
  for (const [fn, method] of [['health', 'GET'], ['me', 'GET'], ['clerk-webhook', 'POST']] as const) {
    it(`answers the preflight of ${fn}`, async () => {
      const res = await fetch(`${fns.url}/${fn}`, {
        method: 'OPTIONS',
        headers: { origin: 'https://app.example', 'access-control-request-method': method, 'access-control-request-headers': 'authorization, content-type' },
      });
      expect(res.status).toBe(204);
      expect(res.headers.get('access-control-allow-origin')).toBe('*');
      expect(res.headers.get('access-control-allow-headers')).toMatch(/authorization/);
      expect(res.headers.get('access-control-allow-methods')).toContain(method);
    });
  }

  it('puts CORS headers and x-request-id on errors too', async () => {
    const res = await fetch(`${fns.url}/me`);
    await expectError(res, 401);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-expose-headers')).toContain('x-request-id');
  });

  it('keeps a valid incoming x-request-id and replaces an invalid one', async () => {
    const kept = await fetch(`${fns.url}/health`, { headers: { 'x-request-id': 'client-req-12345678' } });
    expect(kept.headers.get('x-request-id')).toBe('client-req-12345678');
    const replaced = await fetch(`${fns.url}/health`, { headers: { 'x-request-id': 'bad id with spaces\u00e9' } });
    expect(replaced.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(await fns.logs()).toContain('"request_id":"client-req-12345678"');
  });
});

describe('structured logs', () => {
  it('one JSON line per request with function, request id, status and duration; no headers or bodies', async () => {
    const id = await createUser();
    const token = await sessionToken(fns.clerk, id);
    await fetch(`${fns.url}/me`, { headers: { authorization: `Bearer ${token}`, 'x-request-id': 'log-check-0001' } });
    const line = (await fns.logs()).split('\n').find((l) => l.includes('"request_id":"log-check-0001"') && l.includes('"msg":"request"'));
    expect(line).toBeTruthy();
    expect(JSON.parse(line!)).toMatchObject({ level: 'info', fn: 'me', method: 'GET', path: '/me', status: 200 });
    expect(typeof JSON.parse(line!).duration_ms).toBe('number');
    const logs = await fns.logs();
    expect(logs).not.toContain(token.split('.')[1]!);
    expect(logs).not.toContain(fns.clerk.webhookSecret);
  });
});

describe('workers', () => {
  it('runs one Deno process per function and starts a dead one again on its next request', async () => {
    const workers = fns.workers();
    expect(workers.map((w) => w.name).sort()).toEqual(['ai-chat', 'ai-suggest', 'api-docs', 'clerk-webhook', 'cloudinary-webhook', 'health', 'me', 'media-sign', 'payments-checkout', 'push-dispatch', 'stripe-webhook', 'widget']);
    const health = workers.find((w) => w.name === 'health')!;
    expect(health.pid).toBeGreaterThan(0);
    process.kill(health.pid!, 'SIGKILL');
    await vi.waitFor(() => expect(fns.workers().find((w) => w.name === 'health')!.pid).toBeNull(), { timeout: 5000, interval: 20 });
    const res = await fetch(`${fns.url}/health`);
    expect(res.status).toBe(200);
    const again = fns.workers().find((w) => w.name === 'health')!;
    expect(again.pid).not.toBe(health.pid);
  });
});

describe('a scratch project (environment, verify_jwt, stop)', () => {
  let dir: string;
  let scratch: TestFunctions;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'chat-with-me-scratch-'));
    await mkdir(path.join(dir, 'functions/env-echo'), { recursive: true });
    await mkdir(path.join(dir, 'functions/gated'), { recursive: true });
    await mkdir(path.join(dir, 'functions/_shared'), { recursive: true });
    await mkdir(path.join(dir, 'functions/off'), { recursive: true });
    const echo = `Deno.serve((req) => Response.json({ path: new URL(req.url).pathname, names: Object.keys(Deno.env.toObject()).sort(), db: Deno.env.get('SUPABASE_DB_URL'), keys: Deno.env.get('SUPABASE_SECRET_KEYS') }));\n`;
    await writeFile(path.join(dir, 'functions/env-echo/index.ts'), echo);
    await writeFile(path.join(dir, 'functions/gated/index.ts'), `Deno.serve(() => Response.json({ ok: true }));\n`);
    await writeFile(path.join(dir, 'functions/_shared/index.ts'), `throw new Error('not a function');\n`);
    await writeFile(path.join(dir, 'functions/off/index.ts'), `Deno.serve(() => new Response('off'));\n`);
    await writeFile(
      path.join(dir, 'config.toml'),
      `[functions.env-echo]\nverify_jwt = false\n\n[functions.off]\nenabled = false\n# gated is not declared: verify_jwt defaults to true\n`,
    );
    process.env.HOST_ONLY_SECRET = 'must-not-leak';
    scratch = await startTestFunctions({ functionsDir: path.join(dir, 'functions'), configFile: path.join(dir, 'config.toml'), env: { MY_SECRET: 'from-env-file' } });
  });
  afterAll(async () => {
    await scratch?.stop();
    await rm(dir, { recursive: true, force: true });
    delete process.env.HOST_ONLY_SECRET;
  });

  it('serves only folders with index.ts, not _shared, not disabled ones', () => {
    expect(scratch.workers().map((w) => w.name).sort()).toEqual(['env-echo', 'gated']);
  });

  it('gives a function the edge runtime’s variables and our secrets, nothing of the host', async () => {
    const res = await fetch(`${scratch.url}/env-echo/sub`);
    const body = await res.json();
    expect(body.path).toBe('/env-echo/sub');
    for (const name of ['SUPABASE_URL', 'SUPABASE_DB_URL', 'SUPABASE_ANON_KEY', 'SUPABASE_SERVICE_ROLE_KEY', 'SUPABASE_PUBLISHABLE_KEYS', 'SUPABASE_SECRET_KEYS', 'SUPABASE_JWKS', 'CLERK_JWT_KEY', 'CLERK_WEBHOOK_SECRET', 'MY_SECRET']) {
      expect(body.names).toContain(name);
    }
    expect(body.names).not.toContain('HOST_ONLY_SECRET');
    expect(body.names).not.toContain('TEST_DB_URL');
    expect(body.db).toMatch(/^postgresql:\/\/postgres:/);
    expect(JSON.parse(body.keys)).toEqual({ default: LOCAL_KEYS.secretKey });
  });

  it('plays the gateway for verify_jwt = true (the default): no valid JWT, 401 {"msg":"Invalid JWT"}', async () => {
    const denied = await fetch(`${scratch.url}/gated`);
    expect(denied.status).toBe(401);
    expect(await denied.json()).toEqual({ msg: 'Invalid JWT' });
    expect((await fetch(`${scratch.url}/gated`, { headers: { authorization: 'Bearer nope' } })).status).toBe(401);
    expect((await fetch(`${scratch.url}/gated`, { headers: { authorization: `Bearer ${LOCAL_KEYS.anonKey}` } })).status).toBe(200);
    const clerkToken = await sessionToken(scratch.clerk, 'user_gatewaycheck');
    expect((await fetch(`${scratch.url}/gated`, { headers: { authorization: `Bearer ${clerkToken}` } })).status).toBe(200);
    expect((await fetch(`${scratch.url}/gated`, { method: 'OPTIONS' })).status).not.toBe(401);
  });

  it('stops cleanly: the port closes and the workers exit', async () => {
    const pids = scratch.workers().map((w) => w.pid!);
    await scratch.stop();
    await expect(fetch(`${scratch.url}/env-echo`)).rejects.toThrow();
    for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow();
    scratch = undefined as unknown as TestFunctions;
  });
});

describe('deploy layout read by the Supabase CLI', () => {
  it('declares verify_jwt = false for every function in config.toml', async () => {
    const config = functionsConfig(readConfig(path.join(ROOT, 'supabase/config.toml')));
    const fns = await discoverFunctions();
    expect(fns.map((f: { name: string }) => f.name).sort()).toEqual(['ai-chat', 'ai-suggest', 'api-docs', 'clerk-webhook', 'cloudinary-webhook', 'health', 'me', 'media-sign', 'payments-checkout', 'push-dispatch', 'stripe-webhook', 'widget']);
    for (const f of fns) expect(config[f.name], f.name).toMatchObject({ verify_jwt: false });
  });

  it('gives each function its own deno.json, generated from the root deno.json (npm run functions:import-maps)', async () => {
    for (const f of await discoverFunctions()) {
      expect(await readFile(path.join(f.dir, 'deno.json'), 'utf8'), `${f.name}/deno.json differs: run npm run functions:import-maps`).toBe(await importMapFor(f.dir));
    }
  });

  it("resolves each function's imports to the root deno.json's targets, npm versions pinned", async () => {
    const root = JSON.parse(await readFile(path.join(ROOT, 'deno.json'), 'utf8'));
    const resolve = (base: string, target: string) => (target.startsWith('.') ? path.resolve(base, target) : target);
    const rootImports = Object.fromEntries(Object.entries(root.imports as Record<string, string>).map(([k, v]) => [k, resolve(ROOT, v)]));
    for (const f of await discoverFunctions()) {
      expect(f.importMap, f.name).toBe(path.join(f.dir, 'deno.json'));
      const own = JSON.parse(await readFile(f.importMap!, 'utf8'));
      const imports = Object.fromEntries(Object.entries(own.imports as Record<string, string>).map(([k, v]) => [k, resolve(f.dir, v)]));
      expect(imports, f.name).toEqual(rootImports);
      for (const v of Object.values(imports)) {
        expect(v.startsWith('npm:') || existsSync(v), `${f.name}: ${v}`).toBe(true);
        if (v.startsWith('npm:')) expect(v, 'pin exact versions (no lockfile)').toMatch(/@\d+\.\d+\.\d+$/);
      }
    }
  });

  it('pins the same versions the Node side installs', async () => {
    const root = JSON.parse(await readFile(path.join(ROOT, 'deno.json'), 'utf8'));
    for (const [name, spec] of Object.entries(root.imports as Record<string, string>)) {
      if (!spec.startsWith('npm:')) continue;
      const version = spec.slice(spec.lastIndexOf('@') + 1);
      const installed = JSON.parse(await readFile(path.join(ROOT, 'node_modules', name, 'package.json'), 'utf8')).version;
      expect(version, name).toBe(installed);
    }
  });

  it('reads [functions.<slug>] sections like the CLI', () => {
    expect(
      functionsConfig(parse('[api]\nport = 1\n[functions.a]\nverify_jwt = false # note\nimport_map = "./functions/a/deno.json"\n[functions."b-c"]\nenabled = false\n')),
    ).toEqual({ a: { verify_jwt: false, import_map: './functions/a/deno.json' }, 'b-c': { enabled: false } });
  });
});
