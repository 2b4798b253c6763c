/**
 * `npm start` survives what real machines do to it (issue: the real client
 * path): a busy port names itself, SIGTERM to npm stops everything, a killed
 * stack or a killed PostgreSQL is recovered by the next start with no data
 * lost, and two stacks run side by side. Each test starts the real stack in a
 * state folder of its own (STACK_STATE_DIR) on free ports.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { ROOT, freePort, isAlive } from '../../stack/runtime/db.mjs';

const dirs: string[] = [];
const procs: ChildProcess[] = [];
afterAll(async () => {
  for (const p of procs) if (p.pid && isAlive(p.pid)) p.kill('SIGKILL');
  await new Promise((r) => setTimeout(r, 500));
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function stateDir() {
  const d = await mkdtemp(path.join(tmpdir(), 'chat-with-me-lifecycle-'));
  dirs.push(d);
  return d;
}

interface Started {
  child: ChildProcess;
  output: () => string;
  env: Record<string, string>;
  exited: Promise<number | null>;
}

/** Runs `cmd` (npm start or node stack/start.mjs) and waits until the stack says it runs (or exits). */
async function start(cmd: string[], env: Record<string, string>): Promise<Started> {
  const child = spawn(cmd[0]!, cmd.slice(1), { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  procs.push(child);
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  let done = false;
  exited.then(() => (done = true));
  await vi.waitFor(() => {
    if (!done && !out.includes('Press Ctrl-C to stop.')) throw new Error('not up yet');
  }, { timeout: 150_000, interval: 200 });
  const env2 = Object.fromEntries([...out.matchAll(/^([A-Z_]+)=(.*)$/gm)].map((m) => [m[1], m[2]]));
  return { child, output: () => out, env: env2, exited };
}

async function ports() {
  return { DB_PORT: String(await freePort()), API_PORT: String(await freePort()) };
}

const stackState = async (dir: string) => JSON.parse(await readFile(path.join(dir, 'stack.json'), 'utf8')) as { pid: number; children: { name: string; pid: number }[] };

/**
 * A stack started (node stack/start.mjs) on a fresh state folder, with the
 * user `id` committed; `env` starts another on the same folder and ports.
 */
async function startedWithUser(id: string, displayName: string) {
  const dir = await stateDir();
  const env = { STACK_STATE_DIR: dir, ...(await ports()) };
  const first = await start(['node', 'stack/start.mjs'], env);
  const sql = postgres(first.env.DB_URL!, { max: 1, onnotice: () => {} });
  await sql`insert into public.users (id, display_name) values (${id}, ${displayName})`;
  await sql.end();
  return { dir, env, first };
}

/** The display_name rows of user `id` in the running stack `s`. */
async function displayNames(s: Started, id: string) {
  const sql = postgres(s.env.DB_URL!, { max: 1, onnotice: () => {} });
  try {
    return await sql`select display_name from public.users where id = ${id}`;
  } finally {
    await sql.end();
  }
}

describe('a busy port', () => {
  it('names the port, what holds it and the variable that changes it', { timeout: 120_000 }, async () => {
    const holder = net.createServer();
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', () => r()));
    const busy = (holder.address() as net.AddressInfo).port;
    try {
      const s = await start(['node', 'stack/start.mjs'], { STACK_STATE_DIR: await stateDir(), DB_PORT: String(busy), API_PORT: String(await freePort()) });
      expect(await s.exited).toBe(1);
      expect(s.output()).toContain(`Port ${busy} on 127.0.0.1 is already in use by pid ${process.pid}`);
      expect(s.output()).toContain('DB_PORT=<port> npm start');
      expect(s.output()).not.toContain('undefined');
    } finally {
      holder.close();
    }
  });
});

describe('stopping', () => {
  it('SIGTERM to the npm start process stops the whole stack (nothing keeps running)', { timeout: 240_000 }, async () => {
    const dir = await stateDir();
    // An empty Deno cache too: the stack caches the functions' npm: packages itself before they start with --cached-only.
    const denoDir = await stateDir();
    const s = await start(['npm', 'start'], { STACK_STATE_DIR: dir, DENO_DIR: denoDir, ...(await ports()) });
    const { pid, children } = await stackState(dir);
    expect(children.map((c) => c.name).sort()).toEqual(['postgres', 'postgrest']);
    const res = await fetch(`${s.env.API_URL}/rest/v1/credit_packs?select=id`, { headers: { apikey: s.env.PUBLISHABLE_KEY! } });
    expect(res.status).toBe(200);
    s.child.kill('SIGTERM');
    await vi.waitFor(() => {
      for (const p of [pid, ...children.map((c) => c.pid)]) if (isAlive(p)) throw new Error(`${p} still alive`);
    }, { timeout: 30_000, interval: 250 });
    await expect(fetch(`${s.env.API_URL}/health`)).rejects.toThrow();
  });
});

describe('recovery', () => {
  it('after kill -9 of the stack process, the next start recovers with the data kept', { timeout: 300_000 }, async () => {
    const { env, first } = await startedWithUser('user_lifecycleKill9000000000', 'Survivor');
    first.child.kill('SIGKILL');
    await first.exited;

    const second = await start(['node', 'stack/start.mjs'], env);
    expect(second.output()).toContain('stopped leftovers of a killed stack');
    expect(await displayNames(second, 'user_lifecycleKill9000000000')).toEqual([{ display_name: 'Survivor' }]);
    const res = await fetch(`${second.env.API_URL}/rest/v1/credit_packs?select=id`, { headers: { apikey: second.env.PUBLISHABLE_KEY! } });
    expect(res.status).toBe(200);
    second.child.kill('SIGTERM');
    await second.exited;
  });

  it('after kill -9 of PostgreSQL alone, the stack stops itself and the next start recovers the data', { timeout: 300_000 }, async () => {
    const { dir, env, first } = await startedWithUser('user_lifecyclePgKill00000000', 'Committed');
    const { children } = await stackState(dir);
    process.kill(children.find((c) => c.name === 'postgres')!.pid, 'SIGKILL');
    expect(await first.exited).not.toBe(0);
    expect(first.output()).toContain('PostgreSQL exited unexpectedly');

    const second = await start(['node', 'stack/start.mjs'], env);
    expect(await displayNames(second, 'user_lifecyclePgKill00000000')).toEqual([{ display_name: 'Committed' }]);
    second.child.kill('SIGTERM');
    await second.exited;
  });
});

describe('two checkouts side by side', () => {
  it('two stacks with their own state folders and ports both serve, each with its own keys', { timeout: 300_000 }, async () => {
    const a = await start(['node', 'stack/start.mjs'], { STACK_STATE_DIR: await stateDir(), ...(await ports()) });
    const b = await start(['node', 'stack/start.mjs'], { STACK_STATE_DIR: await stateDir(), ...(await ports()) });
    expect(a.env.API_URL).not.toBe(b.env.API_URL);
    expect(a.env.PUBLISHABLE_KEY).not.toBe(b.env.PUBLISHABLE_KEY);
    for (const s of [a, b]) {
      const res = await fetch(`${s.env.API_URL}/rest/v1/credit_packs?select=id`, { headers: { apikey: s.env.PUBLISHABLE_KEY! } });
      expect(res.status).toBe(200);
    }
    // Keys are per stack: a's key is refused by b.
    const cross = await fetch(`${b.env.API_URL}/rest/v1/credit_packs?select=id`, { headers: { apikey: a.env.PUBLISHABLE_KEY! } });
    expect(cross.status).toBe(401);
    for (const s of [a, b]) s.child.kill('SIGTERM');
    await Promise.all([a.exited, b.exited]);
  });
});
