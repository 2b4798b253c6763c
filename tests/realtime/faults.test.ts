/**
 * Faults and limits of the Realtime stand-in (stack/runtime/realtime.mjs) on a
 * database of its own, so it can be restarted and the limits set low without
 * touching the shared test stack: a PostgreSQL 17 with the platform bootstrap
 * (realtime.messages, its publication) and permissive test policies, a
 * stand-in with small limits behind a bare HTTP server, supabase-js clients.
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createClient } from '@supabase/supabase-js';
import { SignJWT } from 'jose';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { applyBootstrap, dbUrl, freePort, SUPERUSER, startPostgres } from '../../stack/runtime/db.mjs';
import { startRealtime } from '../../stack/runtime/realtime.mjs';
import { closeClients, received, watch } from './helpers.js';

const secret = 'realtime-faults-test-secret-0123456789abcdef';
const keys = { publishableKey: 'sb_publishable_faults', secretKey: 'sb_secret_faults', anonKey: 'x.anon', serviceRoleKey: 'x.service', jwtSecret: secret };
const jwks = { keys: [{ kty: 'oct', k: Buffer.from(secret).toString('base64url'), alg: 'HS256' }] };
const token = (sub: string) =>
  new SignJWT({ sub, role: 'authenticated' }).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setIssuedAt().setExpirationTime('1h').sign(new TextEncoder().encode(secret));

let dataDir: string;
let port: number;
let pg: Awaited<ReturnType<typeof startPostgres>>;
let rt: Awaited<ReturnType<typeof startRealtime>>;
let server: http.Server;
let url: string;
let su: postgres.Sql;
const clients: any[] = [];
const client = (sub: string) => {
  const c = createClient(url, keys.publishableKey, { accessToken: () => token(sub), realtime: { transport: WebSocket as never } });
  clients.push(c);
  return c;
};

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'realtime-faults-'));
  await chmod(dataDir, 0o755); // PostgreSQL runs as its own OS user when the tests run as root
  port = await freePort();
  pg = await startPostgres({ dataDir: path.join(dataDir, 'db'), port, persistent: true });
  await applyBootstrap(port);
  su = postgres(dbUrl(port, SUPERUSER), { max: 2, onnotice: () => {} });
  // Test policies: any signed-in user reads and sends on any topic (the real ones are tested in channels.test.ts).
  await su`create policy "test read" on realtime.messages for select to authenticated using (true)`;
  await su`create policy "test send" on realtime.messages for insert to authenticated with check (true)`;
  rt = await startRealtime({
    dbUrl: dbUrl(port, SUPERUSER),
    keys,
    jwks,
    limits: { maxChannelsPerClient: 3, maxBufferedBytes: 1024 * 1024, maxConcurrentUsers: 20 },
  });
  server = http.createServer((req, res) => void rt.handleHttp(req, res));
  server.on('upgrade', (req, socket, head) => rt.handleUpgrade(req, socket, head));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}, 120_000);

afterAll(async () => {
  await closeClients(...(clients as never[]));
  await rt?.stop();
  if (server) await new Promise((r) => server.close(r));
  await su?.end();
  await pg?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

const send = (topic: string, payload: object, event = 'ev') => su`select realtime.send(${su.json(payload as never)}::jsonb, ${event}, ${topic}, true)`;

describe('limits', () => {
  it('channels per connection: the join beyond the limit is refused (ChannelRateLimitReached), a leave frees a place', async () => {
    const c = client('user_limit');
    const joined = [await watch(c as never, 'a'), await watch(c as never, 'b'), await watch(c as never, 'c')];
    expect(joined.map((w) => w.first.status)).toEqual(['SUBSCRIBED', 'SUBSCRIBED', 'SUBSCRIBED']);
    const refused = await watch(c as never, 'd');
    expect(refused.first).toEqual({ status: 'CHANNEL_ERROR', message: 'ChannelRateLimitReached: Too many channels' });
    await c.removeChannel(refused.channel);
    await joined[0]!.channel.unsubscribe();
    expect((await watch(c as never, 'e')).first.status).toBe('SUBSCRIBED');
    await c.removeAllChannels();
  });
});

describe('a slow client', () => {
  it('does not stall the others: it is dropped once too much is queued for it, the others get everything in order', async () => {
    const fast = client('user_fast');
    const w = await watch(fast as never, 'flood');
    // A raw socket that joins, then stops reading.
    const slow = new WebSocket(`${url.replace('http', 'ws')}/realtime/v1/websocket?apikey=${keys.publishableKey}&vsn=1.0.0`);
    await new Promise((r) => slow.once('open', r));
    const joinedReply = new Promise((r) => slow.once('message', r));
    slow.send(JSON.stringify({ topic: 'realtime:flood', event: 'phx_join', ref: '1', join_ref: '1', payload: { config: { private: true }, access_token: await token('user_slow') } }));
    expect(JSON.parse(String(await joinedReply))).toMatchObject({ event: 'phx_reply', payload: { status: 'ok' } });
    const closed = new Promise((r) => slow.once('close', r));
    (slow as any)._socket.pause();
    expect(rt.connections).toBe(2);

    const n = 40;
    const pad = 'x'.repeat(200_000);
    for (let i = 0; i < n; i++) await send('flood', { i, pad });
    const got = await received(w, n, 20_000);
    expect(got.map((b) => b.payload.i)).toEqual(Array.from({ length: n }, (_, i) => i));
    await vi.waitFor(() => expect(rt.connections).toBe(1), { timeout: 10_000 });
    (slow as any)._socket.resume();
    await closed;
    await fast.removeAllChannels();
  }, 60_000);
});

describe('a database restart', () => {
  it('is survived: channels are told (phx_error), realtime-js rejoins once the database is back, broadcasts flow again', async () => {
    const c = client('user_restart');
    const w = await watch(c as never, 'restart');
    expect(w.first.status).toBe('SUBSCRIBED');
    await send('restart', { n: 1 });
    await received(w, 1);

    await pg.stop();
    try {
      await vi.waitFor(() => expect(w.statuses.map((s) => s.status)).toContain('CHANNEL_ERROR'), { timeout: 15_000 });
      expect(rt.ready).toBe(false);
    } finally {
      // Back up whatever happened, so the next test does not inherit a stopped database.
      pg = await startPostgres({ dataDir: path.join(dataDir, 'db'), port, persistent: true });
    }
    await vi.waitFor(() => expect(rt.ready).toBe(true), { timeout: 20_000 });
    await vi.waitFor(() => expect(w.statuses.at(-1)?.status).toBe('SUBSCRIBED'), { timeout: 20_000 });
    await send('restart', { n: 2 });
    const got = await received(w, 2);
    expect(got.map((b) => b.payload.n)).toEqual([1, 2]);
    await c.removeAllChannels();
  }, 90_000);
});

describe('stop', () => {
  // Alike on purpose: each fault starts from a channel of its own, subscribed, as the restart test above does.
  it('closes every socket and refuses new ones', async () => {
    const c = client('user_stop');
    const w = await watch(c as never, 'stop');
    expect(w.first.status).toBe('SUBSCRIBED');
    await rt.stop();
    expect(rt.connections).toBe(0);
    const refused = await new Promise<number>((resolve) => {
      const s = new WebSocket(`${url.replace('http', 'ws')}/realtime/v1/websocket?apikey=${keys.publishableKey}&vsn=2.0.0`);
      s.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      s.on('open', () => resolve(101));
      s.on('error', () => {});
    });
    expect(refused).toBe(503);
    await c.removeAllChannels();
  });
});
