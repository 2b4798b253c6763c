/**
 * createFunctionsClient against a stub server: headers it sends, answers it
 * validates, and the typed errors it raises (the real functions are exercised
 * in tests/platform and the feature folders).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createFunctionsClient, FunctionsError } from '@chat-with-me/shared';
import { z } from 'zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let server: http.Server;
let url: string;
const seen: http.IncomingHttpHeaders[] = [];
let reply: { status: number; body: string; headers?: Record<string, string> } = { status: 200, body: '{}' };

beforeAll(async () => {
  server = http.createServer((req, res) => {
    seen.push(req.headers);
    req.resume();
    res.writeHead(reply.status, { 'content-type': 'application/json', 'x-request-id': 'req-stub-1', ...reply.headers });
    res.end(reply.body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/functions/v1`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe('createFunctionsClient', () => {
  it('sends the Clerk token and apikey, and JSON bodies', async () => {
    reply = { status: 200, body: '{"ok":true}' };
    const client = createFunctionsClient({ url: `${url}/`, getToken: async () => 'tok.en.x', apiKey: 'sb_publishable_x' });
    const out = await client.invoke('thing', { body: { a: 1 }, response: z.object({ ok: z.boolean() }) });
    expect(out).toEqual({ ok: true });
    const h = seen.at(-1)!;
    expect(h.authorization).toBe('Bearer tok.en.x');
    expect(h.apikey).toBe('sb_publishable_x');
    expect(h['content-type']).toBe('application/json');
  });

  it('raises the function’s error shape as a FunctionsError', async () => {
    reply = { status: 402, body: '{"error":"insufficient_credits","message":"top up","details":{"balance":0}}' };
    const err = await createFunctionsClient({ url }).invoke('x', { response: z.object({}) }).catch((e) => e);
    expect(err).toBeInstanceOf(FunctionsError);
    expect(err).toMatchObject({ status: 402, code: 'insufficient_credits', message: 'top up', details: { balance: 0 }, requestId: 'req-stub-1' });
  });

  it('refuses answers that do not match the schema', async () => {
    reply = { status: 200, body: '{"status":"ok"}' };
    const err = await createFunctionsClient({ url }).health().catch((e) => e);
    expect(err).toMatchObject({ code: 'invalid_response', status: 200 });
  });

  it('refuses non-JSON answers and errors without the shape', async () => {
    reply = { status: 502, body: '<html>bad gateway</html>' };
    expect(await createFunctionsClient({ url }).me().catch((e) => e)).toMatchObject({ code: 'invalid_response', status: 502 });
    reply = { status: 401, body: '{"msg":"Invalid JWT"}' };
    expect(await createFunctionsClient({ url }).me().catch((e) => e)).toMatchObject({ code: 'invalid_response', status: 401 });
  });

  it('reports network failures', async () => {
    const err = await createFunctionsClient({ url: 'http://127.0.0.1:1/functions/v1' }).me().catch((e) => e);
    expect(err).toMatchObject({ code: 'network_error', status: 0 });
  });

  it('returns a 503 health report instead of throwing', async () => {
    reply = {
      status: 503,
      body: JSON.stringify({
        status: 'unavailable', time: new Date().toISOString(),
        database: { reachable: false, migrations_applied: null, latest_migration: null },
        providers: { clerk: 'configured', openai: 'missing', deepseek: 'missing', stripe: 'missing', cloudinary: 'local' },
      }),
    };
    expect((await createFunctionsClient({ url }).health()).status).toBe('unavailable');
  });
});
