/**
 * A corpus of bad requests against every function (real Deno over HTTP):
 * each is answered 4xx with the shared error shape, never 500, and nothing
 * reaches the database.
 */
import { describe, expect, it } from 'vitest';
import { clerkEvent, clerkUser, svixHeaders, svixId } from '../helpers/clerk.js';
import { newUserId, owner, startForFile } from '../helpers/db.js';
import { expectError, startTestFunctions } from '../helpers/functions.js';

const fns = startForFile(() => startTestFunctions());

const post = (body: BodyInit | null, headers: Record<string, string>) =>
  fetch(`${fns.url}/clerk-webhook`, { method: 'POST', headers, body });

/** Posts `body` to clerk-webhook, correctly signed. */
const signed = (body: string, headers: Record<string, string> = {}) => post(body, { ...svixHeaders(fns.clerk, body), ...headers });

const validUserEvent = (id = newUserId()) => JSON.stringify(clerkEvent('user.created', clerkUser({ id })));

describe('wrong methods: 405 with Allow', () => {
  const cases: [string, string][] = [
    ['health', 'POST'], ['health', 'DELETE'], ['health', 'PUT'],
    ['me', 'POST'], ['me', 'PATCH'], ['me', 'DELETE'],
    ['clerk-webhook', 'GET'], ['clerk-webhook', 'PUT'], ['clerk-webhook', 'DELETE'],
  ];
  for (const [fn, method] of cases) {
    it(`${method} /${fn}`, async () => {
      const res = await fetch(`${fns.url}/${fn}`, { method, body: method === 'GET' ? undefined : '{}', headers: { 'content-type': 'application/json' } });
      await expectError(res, 405, 'method_not_allowed');
      expect(res.headers.get('allow')).toContain('OPTIONS');
    });
  }
});

describe('clerk-webhook: content type and size', () => {
  it('415 for text/plain, even when signed', async () => {
    const body = validUserEvent();
    await expectError(await post(body, { ...svixHeaders(fns.clerk, body), 'content-type': 'text/plain' }), 415, 'unsupported_media_type');
  });

  it('415 without a content type', async () => {
    const body = validUserEvent();
    const { 'content-type': _, ...headers } = svixHeaders(fns.clerk, body);
    await expectError(await post(new Blob([body]), headers), 415, 'unsupported_media_type');
  });

  it('413 for a body over 256 KiB (Content-Length)', async () => {
    const body = JSON.stringify({ ...clerkEvent('user.created', clerkUser({ id: newUserId() })), pad: 'x'.repeat(300 * 1024) });
    await expectError(await signed(body), 413, 'payload_too_large');
  });

  it('413 for a chunked body over 256 KiB (no Content-Length)', async () => {
    const chunk = new TextEncoder().encode('x'.repeat(64 * 1024));
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 8) controller.enqueue(chunk);
        else controller.close();
      },
    });
    const res = await fetch(`${fns.url}/clerk-webhook`, {
      method: 'POST',
      headers: svixHeaders(fns.clerk, 'x'),
      body: stream,
      duplex: 'half',
    } as RequestInit);
    await expectError(res, 413, 'payload_too_large');
  });

  it('400 for a body that is not UTF-8', async () => {
    const headers = svixHeaders(fns.clerk, 'x');
    await expectError(await post(new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]), headers), 400, 'invalid_request');
  });
});

describe('clerk-webhook: signatures (400 invalid_signature)', () => {
  it('no Svix headers at all', async () => {
    await expectError(await post(validUserEvent(), { 'content-type': 'application/json' }), 400, 'invalid_signature');
  });

  for (const header of ['svix-id', 'svix-timestamp', 'svix-signature']) {
    it(`missing ${header}`, async () => {
      const body = validUserEvent();
      const { [header]: _, ...headers } = svixHeaders(fns.clerk, body);
      const err = await expectError(await post(body, headers), 400, 'invalid_signature');
      expect(err.details).toMatchObject({ missing: [header] });
    });
  }

  it('a garbage signature', async () => {
    const body = validUserEvent();
    await expectError(await signed(body, { 'svix-signature': 'v1,bm90IGEgc2lnbmF0dXJl' }), 400, 'invalid_signature');
  });

  it('signed with another secret', async () => {
    const body = validUserEvent();
    const headers = svixHeaders(fns.clerk, body, { secret: `whsec_${Buffer.from('another secret of 32 bytes......').toString('base64')}` });
    await expectError(await post(body, headers), 400, 'invalid_signature');
  });

  it('a body changed after signing', async () => {
    const id = newUserId();
    const body = validUserEvent(id);
    const headers = svixHeaders(fns.clerk, body);
    await expectError(await post(body.replace('"Example"', '"Mallory"'), headers), 400, 'invalid_signature');
    expect(await owner()`select 1 from public.users where id = ${id}`).toHaveLength(0);
  });

  it('another svix-id than the one signed (replay under a new id)', async () => {
    const body = validUserEvent();
    await expectError(await signed(body, { 'svix-id': svixId() }), 400, 'invalid_signature');
  });

  it('a stale timestamp (10 minutes old)', async () => {
    const body = validUserEvent();
    const headers = svixHeaders(fns.clerk, body, { timestamp: new Date(Date.now() - 10 * 60_000) });
    await expectError(await post(body, headers), 400, 'invalid_signature');
  });

  it('a timestamp 10 minutes in the future', async () => {
    const body = validUserEvent();
    const headers = svixHeaders(fns.clerk, body, { timestamp: new Date(Date.now() + 10 * 60_000) });
    await expectError(await post(body, headers), 400, 'invalid_signature');
  });

  it('a non-numeric timestamp', async () => {
    const body = validUserEvent();
    await expectError(await signed(body, { 'svix-timestamp': 'yesterday' }), 400, 'invalid_signature');
  });
});

describe('clerk-webhook: signed but malformed payloads (400 invalid_request)', () => {
  const userWithout = (key: string) => {
    const u: Record<string, unknown> = clerkUser({ id: newUserId() });
    delete u[key];
    return JSON.stringify(clerkEvent('user.created', u));
  };
  const cases: [string, string][] = [
    ['malformed JSON', '{"type": "user.created", "data": {'],
    ['an empty body', ''],
    ['a JSON array', '[]'],
    ['a JSON string', '"user.created"'],
    ['no type', JSON.stringify({ object: 'event', data: {} })],
    ['no data', JSON.stringify({ object: 'event', type: 'user.created' })],
    ['not an event object', JSON.stringify({ ...clerkEvent('user.created', clerkUser({ id: newUserId() })), object: 'list' })],
    ['a user without id', userWithout('id')],
    ['a user without updated_at', userWithout('updated_at')],
    ['a user id that is not a Clerk id', JSON.stringify(clerkEvent('user.updated', clerkUser({ id: 'user_' + 'x'.repeat(70) })))],
    ['a user id with SQL in it', JSON.stringify(clerkEvent('user.updated', { ...clerkUser({ id: newUserId() }), id: "user_x'; drop table users;--" }))],
    ['email_addresses that is not a list', JSON.stringify(clerkEvent('user.created', { ...clerkUser({ id: newUserId() }), email_addresses: 'a@b.c' }))],
    ['updated_at as a string', JSON.stringify(clerkEvent('user.created', { ...clerkUser({ id: newUserId() }), updated_at: '2026-01-01' }))],
    ['user.deleted with deleted: false', JSON.stringify(clerkEvent('user.deleted', { id: newUserId(), object: 'user', deleted: false }))],
    ['user.deleted without id', JSON.stringify(clerkEvent('user.deleted', { object: 'user', deleted: true }))],
  ];
  for (const [name, body] of cases) {
    it(name, async () => {
      const err = await expectError(await signed(body), 400, 'invalid_request');
      expect(err.message).toBeTruthy();
    });
  }

  it('lists the failing fields in details.issues', async () => {
    const err = await expectError(await signed(userWithout('updated_at')), 400, 'invalid_request');
    expect(err.details).toMatchObject({ issues: [{ path: 'data.updated_at' }] });
  });

  it('an svix-id longer than 255 characters', async () => {
    const body = validUserEvent();
    await expectError(await post(body, svixHeaders(fns.clerk, body, { id: `msg_${'a'.repeat(300)}` })), 400, 'invalid_request');
  });
});

describe('control: the same requests done right succeed', () => {
  it('accepts application/json; charset=utf-8', async () => {
    const body = validUserEvent();
    const res = await signed(body, { 'content-type': 'application/json; charset=utf-8' });
    expect(res.status).toBe(200);
  });
});

describe('none of the above was a bug', () => {
  it('no request was logged as an unhandled error', async () => {
    const logs = await fns.logs();
    expect(logs).toContain('"status":400');
    expect(logs).not.toContain('unhandled error');
    expect(logs).not.toContain('"status":500');
  });
});
