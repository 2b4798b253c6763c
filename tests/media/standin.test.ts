/**
 * The Cloudinary stand-in (stack/standins/cloudinary.mjs) against Cloudinary's
 * documentation, with signatures computed independently (tests/media/cloudinary.ts):
 * signed uploads accepted or refused as Cloudinary does, the documented upload
 * response, allowed_formats and folder applied, notifications signed as
 * Cloudinary signs them, and the Admin API delete.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCloudinaryStandin } from '../../stack/standins/cloudinary.mjs';
import { documentedSignature, documentedStringToSign, gif, png, postUpload } from './cloudinary.js';

type Standin = Awaited<ReturnType<typeof startCloudinaryStandin>>;
let cld: Standin;
let dynamic: Standin;
let receiver: http.Server;
let receiverUrl: string;
const received: { headers: http.IncomingHttpHeaders; body: string }[] = [];

beforeAll(async () => {
  receiver = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/functions/v1/cloudinary-webhook`;
  cld = await startCloudinaryStandin({ cloudName: 'test-cloud' });
  dynamic = await startCloudinaryStandin({ cloudName: 'dyn-cloud', folderMode: 'dynamic' });
});
afterAll(async () => {
  await cld?.stop();
  await dynamic?.stop();
  await new Promise<void>((r) => receiver.close(() => r()));
});

const now = () => Math.floor(Date.now() / 1000);
const uploadUrl = (s: Standin, type = 'image') => `${s.url}/v1_1/${s.cloudName}/${type}/upload`;

/** Fields of a signed upload: params + api_key + signature (documented algorithm). */
function signed(s: Standin, params: Record<string, string | number>, algorithm: 'sha1' | 'sha256' = 'sha1') {
  return { ...params, api_key: s.apiKey, signature: documentedSignature(params, s.apiSecret, algorithm) };
}

describe('signed uploads', () => {
  it('accepts a documented SHA-1 signature and answers the documented upload response', async () => {
    const params = { allowed_formats: 'jpg,png', folder: 'chat-with-me/user_a/chat_image', timestamp: now() };
    const res = await postUpload(uploadUrl(cld), signed(cld, params), { data: png(7, 5), name: 'holiday.png', type: 'image/png' });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(Object.keys(res.body).sort()).toEqual(
      ['api_key', 'asset_id', 'bytes', 'created_at', 'etag', 'format', 'height', 'original_filename', 'pages', 'placeholder',
       'public_id', 'resource_type', 'secure_url', 'signature', 'tags', 'type', 'url', 'version', 'version_id', 'width'].sort(),
    );
    expect(res.body).toMatchObject({
      resource_type: 'image',
      type: 'upload',
      format: 'png',
      width: 7,
      height: 5,
      bytes: png(7, 5).length,
      original_filename: 'holiday',
      api_key: cld.apiKey,
    });
    expect(res.body.public_id).toMatch(/^chat-with-me\/user_a\/chat_image\/[a-z0-9]+$/);
    expect(res.body.secure_url).toBe(`https://res.cloudinary.com/test-cloud/image/upload/v${res.body.version}/${res.body.public_id}.png`);
    // The response signature, as https://cloudinary.com/documentation/response_signatures documents it.
    expect(res.body.signature).toBe(createHash('sha1').update(`public_id=${res.body.public_id}&version=${res.body.version}${cld.apiSecret}`).digest('hex'));
  });

  it('accepts a documented SHA-256 signature', async () => {
    const params = { folder: 'x', timestamp: now() };
    expect((await postUpload(uploadUrl(cld), signed(cld, params, 'sha256'), { data: gif(), name: 'a.gif' })).status).toBe(200);
  });

  it('refuses a parameter added after signing (a transformation), another folder, other formats: 401 Invalid Signature', async () => {
    const params = { allowed_formats: 'png', folder: 'chat-with-me/user_a/avatar', timestamp: now() };
    const good = signed(cld, params);
    for (const fields of [
      { ...good, transformation: 'c_crop,w_10' },
      { ...good, eager: 'w_2000' },
      { ...good, folder: 'chat-with-me/user_b/avatar' },
      { ...good, allowed_formats: 'png,svg' },
      { ...good, notification_url: 'https://evil.example/hook' },
      { ...good, signature: '0'.repeat(40) },
    ]) {
      const res = await postUpload(uploadUrl(cld), fields, { data: png(), name: 'a.png' });
      expect(res.status).toBe(401);
      expect(res.body.error.message).toMatch(/^Invalid Signature/);
    }
    // The message shows the string Cloudinary signed: the documented one.
    const res = await postUpload(uploadUrl(cld), { ...good, signature: '0'.repeat(40) }, { data: png(), name: 'a.png' });
    expect(res.body.error.message).toContain(`String to sign - '${documentedStringToSign(params)}'`);
  });

  it('refuses an unknown api_key, a missing signature, and a timestamp over an hour old', async () => {
    const params = { folder: 'x', timestamp: now() };
    expect((await postUpload(uploadUrl(cld), { ...signed(cld, params), api_key: '999' }, { data: png(), name: 'a.png' })).status).toBe(401);
    const { signature: _, ...unsigned } = signed(cld, params);
    expect((await postUpload(uploadUrl(cld), unsigned, { data: png(), name: 'a.png' })).status).toBe(400);
    const stale = await postUpload(uploadUrl(cld), signed(cld, { folder: 'x', timestamp: now() - 3700 }), { data: png(), name: 'a.png' });
    expect(stale.status).toBe(400);
    expect(stale.body.error.message).toMatch(/^Stale request/);
  });

  it('enforces the signed allowed_formats (detected from the content, not the file name)', async () => {
    const params = { allowed_formats: 'jpg,png', folder: 'x', timestamp: now() };
    const res = await postUpload(uploadUrl(cld), signed(cld, params), { data: gif(), name: 'pretend.png' });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toBe('Image format gif not allowed');
    expect((await postUpload(uploadUrl(cld), signed(cld, params), { data: Buffer.from('not an image'), name: 'a.png' })).status).toBe(400);
  });

  it('raw files: format from the extension, kept in public_id; no format, width or height in the answer', async () => {
    const params = { allowed_formats: 'pdf,txt', folder: 'chat-with-me/user_a/chat_file', timestamp: now() };
    const res = await postUpload(uploadUrl(cld, 'raw'), signed(cld, params), { data: Buffer.from('hello'), name: 'notes.txt' });
    expect(res.status).toBe(200);
    expect(res.body.public_id).toMatch(/^chat-with-me\/user_a\/chat_file\/[a-z0-9]+\.txt$/);
    expect(res.body).not.toHaveProperty('format');
    expect(res.body).not.toHaveProperty('width');
    const bad = await postUpload(uploadUrl(cld, 'raw'), signed(cld, params), { data: Buffer.from('x'), name: 'run.exe' });
    expect(bad.status).toBe(400);
  });

  it('dynamic folder mode: the folder becomes asset_folder, public_id stays random', async () => {
    const params = { folder: 'chat-with-me/user_a/avatar', timestamp: now() };
    const res = await postUpload(uploadUrl(dynamic), signed(dynamic, params), { data: png(), name: 'me.png' });
    expect(res.status).toBe(200);
    expect(res.body.asset_folder).toBe('chat-with-me/user_a/avatar');
    expect(res.body.public_id).toMatch(/^[a-z0-9]+$/);
  });
});

describe('upload notifications', () => {
  it('posts the upload notification to notification_url, signed as Cloudinary documents', async () => {
    const params = { folder: 'chat-with-me/user_n/chat_image', notification_url: receiverUrl, timestamp: now() };
    const res = await postUpload(uploadUrl(cld), signed(cld, params), { data: png(), name: 'n.png' });
    expect(res.status).toBe(200);
    const delivery = await cld.waitForDelivery((d) => d.body.includes(res.body.public_id));
    expect(delivery.status).toBe(200);
    const got = received.find((r) => r.body.includes(res.body.public_id))!;
    const ts = got.headers['x-cld-timestamp'] as string;
    expect(Math.abs(Number(ts) - now())).toBeLessThan(5);
    expect(got.headers['x-cld-signature']).toBe(createHash('sha1').update(got.body + ts + cld.apiSecret).digest('hex'));
    expect(got.headers['content-type']).toBe('application/json');
    const body = JSON.parse(got.body);
    expect(body).toMatchObject({ notification_type: 'upload', public_id: res.body.public_id, asset_id: res.body.asset_id, bytes: res.body.bytes });
    expect(typeof body.timestamp).toBe('string');
    expect(typeof body.request_id).toBe('string');
  });
});

describe('deleting', () => {
  it('destroy (signed) and Admin API delete_resources (Basic auth)', async () => {
    const up = async () =>
      (await postUpload(uploadUrl(cld), signed(cld, { folder: 'del', timestamp: now() }), { data: png(), name: 'd.png' })).body.public_id as string;
    const [a, b] = [await up(), await up()];
    const destroy = await fetch(`${cld.url}/v1_1/${cld.cloudName}/image/destroy`, {
      method: 'POST',
      body: new URLSearchParams({ ...Object.fromEntries(Object.entries(signed(cld, { public_id: a, timestamp: now() })).map(([k, v]) => [k, String(v)])) }),
    });
    expect(await destroy.json()).toEqual({ result: 'ok' });
    const auth = `Basic ${Buffer.from(`${cld.apiKey}:${cld.apiSecret}`).toString('base64')}`;
    const del = await fetch(`${cld.url}/v1_1/${cld.cloudName}/resources/image/upload?public_ids[]=${encodeURIComponent(b)}&public_ids[]=gone`, {
      method: 'DELETE',
      headers: { authorization: auth },
    });
    expect(await del.json()).toMatchObject({ deleted: { [b]: 'deleted', gone: 'not_found' }, partial: false });
    const wrong = await fetch(`${cld.url}/v1_1/${cld.cloudName}/resources/image/upload?public_ids[]=x`, { method: 'DELETE' });
    expect(wrong.status).toBe(401);
    expect(cld.resources.has(`image/${a}`)).toBe(false);
    expect(cld.resources.has(`image/${b}`)).toBe(false);
  });
});
