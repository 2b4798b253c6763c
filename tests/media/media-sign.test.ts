/**
 * media-sign over HTTP (real Deno, real PostgreSQL, the Cloudinary stand-in):
 * the signature is Cloudinary's documented one, computed here independently;
 * only the allow-listed parameters are signed, with the caller's own folder and
 * the purpose's formats; nothing the client sends besides the purpose is
 * signed; and a signature cannot be bent to another folder, another purpose's
 * formats or a transformation.
 */
import { MediaSignResponse } from '@chat-with-me/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCloudinaryStandin } from '../../stack/standins/cloudinary.mjs';
import { sessionToken } from '../helpers/clerk.js';
import { createUser, newUserId, owner, startForFile } from '../helpers/db.js';
import { expectError, startTestFunctions, type TestFunctions } from '../helpers/functions.js';
import { documentedSignature, gif, notificationHeaders, png, postUpload, uploadNotification } from './cloudinary.js';

const cld = startForFile(() => startCloudinaryStandin({ cloudName: 'sign-test' }));
const fns = startForFile(() => startTestFunctions({ env: cld.env }));

async function sign(userId: string, body: unknown, headers: Record<string, string> = {}) {
  const token = await sessionToken(fns.clerk, userId);
  return fetch(`${fns.url}/media-sign`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}
async function signed(userId: string, purpose: string) {
  const res = await sign(userId, { purpose });
  const text = await res.text();
  expect(res.status, text).toBe(200);
  return MediaSignResponse.parse(JSON.parse(text));
}
/** The form a client posts: exactly the signed params, api_key and signature. */
const fieldsOf = (s: MediaSignResponse) => ({ ...s.params, api_key: s.api_key, signature: s.signature });

const EXPECTED = {
  avatar: { resource_type: 'image', allowed_formats: 'jpg,png,webp', key: 'media.max_avatar_bytes' },
  chat_image: { resource_type: 'image', allowed_formats: 'jpg,png,gif,webp,heic', key: 'media.max_image_bytes' },
  chat_file: { resource_type: 'raw', allowed_formats: 'pdf,txt,csv,md,rtf,zip,doc,docx,xls,xlsx,ppt,pptx,odt,ods,odp', key: 'media.max_file_bytes' },
} as const;

describe('as a signed-in user', () => {
  let me: string;
  beforeAll(async () => {
    me = await createUser();
  });

  for (const [purpose, want] of Object.entries(EXPECTED)) {
    it(`signs a ${purpose} upload: exactly the allow-listed params, Cloudinary's documented signature`, async () => {
      const s = await signed(me, purpose);
      const functionsBase = fns.url.replace(/\/functions\/v1$/, '');
      expect(Object.keys(s.params).sort()).toEqual(['allowed_formats', 'folder', 'notification_url', 'timestamp']);
      expect(s.params).toEqual({
        allowed_formats: want.allowed_formats,
        folder: `chat-with-me/${me}/${purpose}`,
        notification_url: `${functionsBase}/functions/v1/cloudinary-webhook`,
        timestamp: s.timestamp,
      });
      expect(Math.abs(s.timestamp - Date.now() / 1000)).toBeLessThan(10);
      // Computed here from the documented steps, not with the SDK.
      expect(s.signature).toBe(documentedSignature(s.params, cld.apiSecret, 'sha1'));
      expect(s).toMatchObject({
        purpose,
        resource_type: want.resource_type,
        upload_url: `${cld.url}/v1_1/sign-test/${want.resource_type}/upload`,
        cloud_name: 'sign-test',
        api_key: cld.apiKey,
        signature_algorithm: 'sha1',
        allowed_formats: want.allowed_formats.split(','),
        expires_at: new Date((s.timestamp + 3600) * 1000).toISOString(),
      });
      const [limit] = await owner()`select value from public.admin_config where key = ${want.key}`;
      expect(s.max_bytes).toBe(Number(limit!.value));
      expect(JSON.stringify(s)).not.toContain(cld.apiSecret);
    });
  }

  it('the signature works once posted unchanged to Cloudinary (the stand-in)', async () => {
    const s = await signed(me, 'chat_image');
    const res = await postUpload(s.upload_url, fieldsOf(s), { data: png(), name: 'ok.png' });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.public_id.startsWith(`chat-with-me/${me}/chat_image/`)).toBe(true);
  });

  it('cannot be bent: another user’s folder, another purpose’s formats, a transformation, a public_id, another notification URL (401)', async () => {
    const s = await signed(me, 'avatar');
    const other = await createUser();
    const file = s.params.allowed_formats.includes('gif') ? gif() : png();
    const changes: Record<string, string>[] = [
      { folder: `chat-with-me/${other}/avatar` },
      { folder: `chat-with-me/${me}/chat_file` },
      { allowed_formats: EXPECTED.chat_file.allowed_formats },
      { transformation: 'e_blur:2000' },
      { eager: 'w_4000,h_4000' },
      { public_id: 'someone-elses-id' },
      { overwrite: 'true' },
      { notification_url: 'https://evil.example/hook' },
      { upload_preset: 'unsigned_preset' },
    ];
    for (const change of changes) {
      const res = await postUpload(s.upload_url, { ...fieldsOf(s), ...change }, { data: file, name: 'x.png' });
      expect(res.status, JSON.stringify(change)).toBe(401);
    }
    const gifAsAvatar = await postUpload(s.upload_url, fieldsOf(s), { data: gif(), name: 'x.gif' });
    expect(gifAsAvatar.status).toBe(400);
    expect(gifAsAvatar.body.error.message).toMatch(/format gif not allowed/);
  });

  it('another user gets their own folder, never this one', async () => {
    const other = await createUser();
    const s = await signed(other, 'chat_image');
    expect(s.params.folder).toBe(`chat-with-me/${other}/chat_image`);
  });

  it('follows the admin_config size limit', async () => {
    await owner()`update public.admin_config set value = '7340032' where key = 'media.max_avatar_bytes'`;
    try {
      expect((await signed(me, 'avatar')).max_bytes).toBe(7340032);
    } finally {
      await owner()`update public.admin_config set value = '5242880' where key = 'media.max_avatar_bytes'`;
    }
  });
});

describe('as a user whose Clerk webhook has not arrived yet', () => {
  it('creates the profile from the token first (the upload notification needs it)', async () => {
    const fresh = newUserId();
    const s = await signed(fresh, 'chat_image');
    expect(s.params.folder).toBe(`chat-with-me/${fresh}/chat_image`);
    expect(await owner()`select id from public.users where id = ${fresh}`).toEqual([{ id: fresh }]);
  });
});

describe('refused requests: 4xx with the error shape, nothing signed', () => {
  let me: string;
  beforeAll(async () => {
    me = await createUser();
  });

  it('401 without a token, or with a token signed by another key', async () => {
    const res = await fetch(`${fns.url}/media-sign`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"purpose":"avatar"}' });
    await expectError(res, 401, 'unauthorized');
    const bad = await sessionToken(fns.clerk, me, { wrongKey: true });
    await expectError(
      await fetch(`${fns.url}/media-sign`, { method: 'POST', headers: { authorization: `Bearer ${bad}`, 'content-type': 'application/json' }, body: '{"purpose":"avatar"}' }),
      401,
      'unauthorized',
    );
  });

  const unknownFields: [string, unknown][] = [
    ['a folder', { purpose: 'avatar', folder: 'chat-with-me/user_someoneElse/avatar' }],
    ['a public_id', { purpose: 'avatar', public_id: 'x' }],
    ['a transformation', { purpose: 'chat_image', transformation: 'c_fill,w_9999' }],
    ['eager', { purpose: 'chat_image', eager: 'w_100' }],
    ['allowed_formats', { purpose: 'avatar', allowed_formats: 'svg,pdf' }],
    ['a notification_url', { purpose: 'avatar', notification_url: 'https://evil.example' }],
    ['resource_type', { purpose: 'chat_file', resource_type: 'image' }],
    ['upload_preset', { purpose: 'avatar', upload_preset: 'p' }],
    ['a timestamp', { purpose: 'avatar', timestamp: 1 }],
    ['params', { purpose: 'avatar', params: { folder: 'x' } }],
  ];
  for (const [name, body] of unknownFields) {
    it(`400 for ${name} besides the purpose (never signed)`, async () => {
      const err = await expectError(await sign(me, body), 400, 'invalid_request');
      expect(JSON.stringify(err)).not.toMatch(/"signature"/);
      expect(err.details).toMatchObject({ issues: [expect.objectContaining({ message: expect.stringMatching(/[Uu]nrecognized key/) })] });
    });
  }

  const badPurposes: [string, string][] = [
    ['an unknown purpose', '{"purpose":"banner"}'],
    ['an empty purpose', '{"purpose":""}'],
    ['a null purpose', '{"purpose":null}'],
    ['a number', '{"purpose":1}'],
    ['a list', '{"purpose":["avatar"]}'],
    ['no purpose', '{}'],
    ['a JSON array', '[]'],
    ['a JSON string', '"avatar"'],
    ['malformed JSON', '{"purpose":'],
    ['an empty body', ''],
  ];
  for (const [name, body] of badPurposes) {
    it(`400 for ${name}`, async () => {
      await expectError(await sign(me, body), 400, 'invalid_request');
    });
  }

  it('415 for a body that is not JSON, 413 for one over 4 KiB, 405 for GET', async () => {
    await expectError(await sign(me, '{"purpose":"avatar"}', { 'content-type': 'text/plain' }), 415, 'unsupported_media_type');
    await expectError(await sign(me, JSON.stringify({ purpose: 'avatar', pad: 'x'.repeat(5000) })), 413, 'payload_too_large');
    const res = await fetch(`${fns.url}/media-sign`, { method: 'GET' });
    await expectError(res, 405, 'method_not_allowed');
    expect(res.headers.get('allow')).toBe('POST, OPTIONS');
  });

  it('none of them was a bug, and no secret reached the logs', async () => {
    const logs = await fns.logs();
    expect(logs).not.toContain('unhandled error');
    expect(logs).not.toContain('"status":500');
    expect(logs).not.toContain(cld.apiSecret);
  });
});

describe('configured for SHA-256, another root folder and an explicit notification URL', () => {
  let alt: TestFunctions;
  const root = 'staging/cwm';
  const hook = 'https://hooks.example.test/functions/v1/cloudinary-webhook';
  beforeAll(async () => {
    alt = await startTestFunctions({
      env: { ...cld.env, CLOUDINARY_SIGNATURE_ALGORITHM: 'sha256', CLOUDINARY_FOLDER: root, CLOUDINARY_NOTIFICATION_URL: hook },
    });
  });
  afterAll(() => alt?.stop());

  it('media-sign signs with SHA-256 (documented algorithm), into <root>/<user>/<purpose>, notifying the configured URL', async () => {
    const me = await createUser();
    const token = await sessionToken(alt.clerk, me);
    const res = await fetch(`${alt.url}/media-sign`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: '{"purpose":"chat_image"}',
    });
    const s = MediaSignResponse.parse(await res.json());
    expect(s.signature_algorithm).toBe('sha256');
    expect(s.signature).toMatch(/^[0-9a-f]{64}$/);
    expect(s.signature).toBe(documentedSignature(s.params, cld.apiSecret, 'sha256'));
    expect(s.params).toMatchObject({ folder: `${root}/${me}/chat_image`, notification_url: hook });
    // Cloudinary (the stand-in) accepts it.
    expect((await postUpload(s.upload_url, fieldsOf(s), { data: png(), name: 'a.png' })).status).toBe(200);
  });

  it('cloudinary-webhook verifies SHA-256 notifications (a SHA-1 one is refused) and records under the configured root only', async () => {
    const u = await createUser();
    const n = uploadNotification({ publicId: `${root}/${u}/avatar/${Date.now()}` });
    const body = JSON.stringify(n);
    const send = (algorithm: 'sha1' | 'sha256', b = body) =>
      fetch(`${alt.url}/cloudinary-webhook`, { method: 'POST', headers: notificationHeaders(b, cld.apiSecret, { algorithm }), body: b });
    await expectError(await send('sha1'), 400, 'invalid_signature');
    const ok = await send('sha256');
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ outcome: 'created' });
    const elsewhere = JSON.stringify(uploadNotification({ publicId: `chat-with-me/${u}/avatar/${Date.now()}` }));
    expect(await (await send('sha256', elsewhere)).json()).toMatchObject({ outcome: 'ignored' });
  });
});
