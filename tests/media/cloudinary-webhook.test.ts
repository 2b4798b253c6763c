/**
 * cloudinary-webhook over HTTP (real Deno, real PostgreSQL): notifications
 * built from Cloudinary's documented payload and signed here as Cloudinary
 * signs them (node:crypto, not the SDK). Recorded once; bad, stale and future
 * signatures refused with nothing recorded; uploads outside our folders
 * ignored; uploads beyond their purpose's limits refused and queued for
 * deletion; a corpus of malformed requests answered 4xx, never 500.
 */
import { randomBytes } from 'node:crypto';
import { CloudinaryWebhookResponse } from '@chat-with-me/shared';
import { beforeAll, describe, expect, it } from 'vitest';
import { createUser, newUserId, owner, startForFile } from '../helpers/db.js';
import { expectError, startTestFunctions } from '../helpers/functions.js';
import { notificationHeaders, uploadNotification, type UploadFields } from './cloudinary.js';

const SECRET = `cld-secret-${randomBytes(12).toString('hex')}`;
const ENV = {
  CLOUDINARY_CLOUD_NAME: 'hook-test',
  CLOUDINARY_API_KEY: '123456789012345',
  CLOUDINARY_API_SECRET: SECRET,
  CLOUDINARY_UPLOAD_PREFIX: 'http://127.0.0.1:9',
};

const fns = startForFile(() => startTestFunctions({ env: ENV }));

const post = (body: BodyInit, headers: Record<string, string>) => fetch(`${fns.url}/cloudinary-webhook`, { method: 'POST', headers, body });

/** Delivers `payload` signed as Cloudinary signs it; returns the raw response. */
function deliverRaw(payload: unknown, o: { timestamp?: number; secret?: string; algorithm?: 'sha1' | 'sha256' } = {}) {
  const body = JSON.stringify(payload);
  return post(body, notificationHeaders(body, o.secret ?? SECRET, o));
}
async function deliver(payload: unknown) {
  const res = await deliverRaw(payload);
  const text = await res.text();
  expect(res.status, text).toBe(200);
  return CloudinaryWebhookResponse.parse(JSON.parse(text));
}

const leaf = () => randomBytes(10).toString('hex');
const upload = (userId: string, purpose: string, f: Partial<UploadFields> = {}) =>
  uploadNotification({ cloudName: 'hook-test', publicId: `chat-with-me/${userId}/${purpose}/${leaf()}`, ...f });
const mediaRows = (publicId: string) => owner()`select * from public.media where public_id = ${publicId}`;
const events = (subject: string) => owner()`select event_id, type, outcome from public.webhook_events where provider = 'cloudinary' and subject_id = ${subject}`;
const queued = (publicId: string) => owner()`select reason from private.media_deletions where public_id = ${publicId}`;

describe('a verified upload notification', () => {
  let u: string;
  beforeAll(async () => {
    u = await createUser();
  });

  it('records the asset: owner and purpose from the folder, Cloudinary’s fields', async () => {
    const n = upload(u, 'chat_image', { width: 640, height: 480, bytes: 54321, format: 'jpg', originalFilename: 'beach' });
    const r = await deliver(n);
    expect(r).toMatchObject({ received: true, notification_type: 'upload', outcome: 'created', event_id: `upload:${n.asset_id}:${n.version}` });
    const [row] = await mediaRows(n.public_id as string);
    expect(row).toMatchObject({
      id: r.media_id,
      owner_id: u,
      purpose: 'chat_image',
      resource_type: 'image',
      format: 'jpg',
      bytes: '54321',
      width: 640,
      height: 480,
      secure_url: n.secure_url,
      original_filename: 'beach',
    });
    expect(await events(n.public_id as string)).toEqual([{ event_id: r.event_id, type: 'upload', outcome: 'created' }]);
  });

  it('a replayed notification (same body and headers) is answered duplicate: one row, one event', async () => {
    const n = upload(u, 'avatar');
    const body = JSON.stringify(n);
    const headers = notificationHeaders(body, SECRET);
    const first = await post(body, headers);
    const second = await post(body, headers);
    const third = await deliverRaw(n); // a redelivery with a new timestamp
    expect([first.status, second.status, third.status]).toEqual([200, 200, 200]);
    const answers = [await first.json(), await second.json(), await third.json()];
    expect(answers.map((a) => a.outcome)).toEqual(['created', 'duplicate', 'duplicate']);
    expect(new Set(answers.map((a) => a.media_id)).size).toBe(1);
    expect(await mediaRows(n.public_id as string)).toHaveLength(1);
    expect(await events(n.public_id as string)).toHaveLength(1);
  });

  it('concurrent deliveries of one notification record it once', async () => {
    const n = upload(u, 'chat_image');
    const answers = await Promise.all(Array.from({ length: 5 }, () => deliverRaw(n).then((r) => r.json())));
    expect(answers.filter((a) => a.outcome === 'created')).toHaveLength(1);
    expect(answers.filter((a) => a.outcome === 'duplicate')).toHaveLength(4);
    expect(await mediaRows(n.public_id as string)).toHaveLength(1);
  });

  it('accepts a SHA-256 signature when the functions are configured for it (here: SHA-1, so it is refused)', async () => {
    const n = upload(u, 'chat_image');
    await expectError(await deliverRaw(n, { algorithm: 'sha256' }), 400, 'invalid_signature');
    expect(await mediaRows(n.public_id as string)).toHaveLength(0);
  });

  it('raw files (chat_file): format from the public_id’s extension, no dimensions', async () => {
    const n = upload(u, 'chat_file', { publicId: `chat-with-me/${u}/chat_file/${leaf()}.pdf`, resourceType: 'raw', originalFilename: 'report' });
    expect(n).not.toHaveProperty('format');
    const r = await deliver(n);
    expect(r.outcome).toBe('created');
    expect((await mediaRows(n.public_id as string))[0]).toMatchObject({ resource_type: 'raw', format: 'pdf', width: null, height: null, purpose: 'chat_file' });
  });

  it('dynamic folder mode: the owner comes from asset_folder', async () => {
    const n = uploadNotification({ cloudName: 'hook-test', publicId: leaf(), assetFolder: `chat-with-me/${u}/chat_image` });
    const r = await deliver(n);
    expect(r.outcome).toBe('created');
    expect((await mediaRows(n.public_id as string))[0]).toMatchObject({ owner_id: u, purpose: 'chat_image' });
  });
});

describe('verified, but not recorded', () => {
  let u: string;
  beforeAll(async () => {
    u = await createUser();
  });

  it('an upload outside chat-with-me/<user>/<purpose> is acknowledged and ignored, never deleted', async () => {
    for (const publicId of [`elsewhere/${leaf()}`, leaf(), `chat-with-me/${u}/${leaf()}`, `chat-with-me/${u}/banner/${leaf()}`, `chat-with-me/not-a-user/avatar/${leaf()}`, `other/chat-with-me/${u}/avatar/${leaf()}`]) {
      const r = await deliver(uploadNotification({ publicId }));
      expect(r, publicId).toMatchObject({ outcome: 'ignored', media_id: null });
      expect(await mediaRows(publicId)).toHaveLength(0);
      expect(await queued(publicId)).toHaveLength(0);
      expect(await events(publicId)).toEqual([expect.objectContaining({ outcome: 'ignored' })]);
    }
  });

  it('other notification types (delete, rename…) are recorded and ignored', async () => {
    const r = await deliver({ notification_type: 'delete', resources: [{ public_id: 'x', resource_type: 'image', type: 'upload' }], notification_context: {} });
    expect(r).toMatchObject({ notification_type: 'delete', outcome: 'ignored', media_id: null });
    expect(r.event_id).toMatch(/^delete:sha256:[0-9a-f]{64}$/);
  });

  it('more bytes than the purpose allows: refused_too_large, queued for deletion', async () => {
    const n = upload(u, 'avatar', { bytes: 100 * 1024 * 1024 });
    expect(await deliver(n)).toMatchObject({ outcome: 'refused_too_large', media_id: null });
    expect(await mediaRows(n.public_id as string)).toHaveLength(0);
    expect(await queued(n.public_id as string)).toEqual([{ reason: 'refused' }]);
  });

  it('a format the purpose does not allow: refused_format, queued', async () => {
    const n = upload(u, 'avatar', { format: 'gif' });
    expect(await deliver(n)).toMatchObject({ outcome: 'refused_format' });
    expect(await mediaRows(n.public_id as string)).toHaveLength(0);
    expect(await queued(n.public_id as string)).toEqual([{ reason: 'refused' }]);
  });

  it('another resource type than the purpose’s (a chat_file signature posted to /image/upload): refused_resource_type, queued', async () => {
    const n = upload(u, 'chat_file', { resourceType: 'image', format: 'pdf' });
    expect(await deliver(n)).toMatchObject({ outcome: 'refused_resource_type' });
    expect(await queued(n.public_id as string)).toEqual([{ reason: 'refused' }]);
  });

  it('the folder of a user who does not exist: owner_unknown, queued', async () => {
    const n = upload(newUserId(), 'chat_image');
    expect(await deliver(n)).toMatchObject({ outcome: 'owner_unknown' });
    expect(await queued(n.public_id as string)).toEqual([{ reason: 'owner_unknown' }]);
  });
});

describe('bad and stale signatures: 400 invalid_signature, nothing recorded', () => {
  let u: string;
  beforeAll(async () => {
    u = await createUser();
  });

  const nothingRecorded = async (n: Record<string, unknown>) => {
    expect(await mediaRows(n.public_id as string)).toHaveLength(0);
    expect(await events(n.public_id as string)).toHaveLength(0);
    expect(await queued(n.public_id as string)).toHaveLength(0);
  };

  const cases: [string, (n: Record<string, unknown>) => [string, Record<string, string>]][] = [
    ['no Cloudinary headers', (n) => [JSON.stringify(n), { 'content-type': 'application/json' }]],
    ['no X-Cld-Signature', (n) => {
      const body = JSON.stringify(n);
      const { 'x-cld-signature': _, ...h } = notificationHeaders(body, SECRET);
      return [body, h];
    }],
    ['no X-Cld-Timestamp', (n) => {
      const body = JSON.stringify(n);
      const { 'x-cld-timestamp': _, ...h } = notificationHeaders(body, SECRET);
      return [body, h];
    }],
    ['a garbage signature', (n) => {
      const body = JSON.stringify(n);
      return [body, { ...notificationHeaders(body, SECRET), 'x-cld-signature': 'not-hex' }];
    }],
    ['signed with another secret', (n) => {
      const body = JSON.stringify(n);
      return [body, notificationHeaders(body, 'another-secret')];
    }],
    ['a body changed after signing (another owner)', (n) => {
      const body = JSON.stringify(n);
      const h = notificationHeaders(body, SECRET);
      return [body.replaceAll(u, newUserId()), h];
    }],
    ['a body changed after signing (bytes)', (n) => {
      const body = JSON.stringify(n);
      return [body.replace(/"bytes":\d+/, '"bytes":1'), notificationHeaders(body, SECRET)];
    }],
    ['the timestamp header changed after signing', (n) => {
      const body = JSON.stringify(n);
      const h = notificationHeaders(body, SECRET);
      return [body, { ...h, 'x-cld-timestamp': String(Number(h['x-cld-timestamp']) - 1) }];
    }],
    ['a stale timestamp (3 hours old, correctly signed)', (n) => {
      const body = JSON.stringify(n);
      return [body, notificationHeaders(body, SECRET, { timestamp: Math.floor(Date.now() / 1000) - 3 * 3600 })];
    }],
    ['a timestamp an hour in the future (correctly signed)', (n) => {
      const body = JSON.stringify(n);
      return [body, notificationHeaders(body, SECRET, { timestamp: Math.floor(Date.now() / 1000) + 3600 })];
    }],
    ['a non-numeric timestamp', (n) => {
      const body = JSON.stringify(n);
      return [body, { ...notificationHeaders(body, SECRET), 'x-cld-timestamp': 'yesterday' }];
    }],
    ['a timestamp in milliseconds', (n) => {
      const body = JSON.stringify(n);
      const ms = Date.now();
      return [body, { ...notificationHeaders(body, SECRET, { timestamp: ms }) }];
    }],
  ];
  for (const [name, build] of cases) {
    it(name, async () => {
      const n = upload(u, 'chat_image');
      const [body, headers] = build(n);
      await expectError(await post(body, headers), 400, 'invalid_signature');
      await nothingRecorded(n);
    });
  }
});

describe('signed but malformed: 4xx with the error shape, never 500', () => {
  let u: string;
  beforeAll(async () => {
    u = await createUser();
  });

  const bodies: [string, () => string][] = [
    ['malformed JSON', () => '{"notification_type": "upload", '],
    ['an empty body', () => ''],
    ['a JSON array', () => '[]'],
    ['a JSON string', () => '"upload"'],
    ['no notification_type', () => JSON.stringify({ public_id: 'x' })],
    ['an upload without public_id', () => {
      const { public_id: _, ...n } = upload(u, 'chat_image');
      return JSON.stringify(n);
    }],
    ['an upload without bytes', () => {
      const { bytes: _, ...n } = upload(u, 'chat_image');
      return JSON.stringify(n);
    }],
    ['bytes as a string', () => JSON.stringify({ ...upload(u, 'chat_image'), bytes: '12' })],
    ['negative bytes', () => JSON.stringify({ ...upload(u, 'chat_image'), bytes: -1 })],
    ['an unknown resource type', () => JSON.stringify({ ...upload(u, 'chat_image'), resource_type: 'hologram' })],
    ['an http secure_url', () => JSON.stringify({ ...upload(u, 'chat_image'), secure_url: 'http://res.cloudinary.com/x.png' })],
    ['a public_id over 255 characters', () => JSON.stringify({ ...upload(u, 'chat_image'), public_id: `chat-with-me/${u}/chat_image/${'a'.repeat(300)}` })],
    ['a zero width', () => JSON.stringify({ ...upload(u, 'chat_image'), width: 0 })],
    ['SQL in the asset id', () => JSON.stringify({ ...upload(u, 'chat_image'), asset_id: "x'; drop table media;--" })],
  ];
  for (const [name, build] of bodies) {
    it(name, async () => {
      const body = build();
      const err = await expectError(await post(body, notificationHeaders(body, SECRET)), 400, 'invalid_request');
      expect(err.message).toBeTruthy();
    });
  }

  it('415 for text/plain (even when signed), 413 over 1 MiB, 405 for GET', async () => {
    const body = JSON.stringify(upload(u, 'chat_image'));
    await expectError(await post(body, { ...notificationHeaders(body, SECRET), 'content-type': 'text/plain' }), 415, 'unsupported_media_type');
    const big = JSON.stringify({ ...upload(u, 'chat_image'), pad: 'x'.repeat(1100 * 1024) });
    await expectError(await post(big, notificationHeaders(big, SECRET)), 413, 'payload_too_large');
    await expectError(await fetch(`${fns.url}/cloudinary-webhook`), 405, 'method_not_allowed');
  });

  it('none of the above was a bug, and the secret never reached the logs', async () => {
    const logs = await fns.logs();
    expect(logs).toContain('"status":400');
    expect(logs).not.toContain('unhandled error');
    expect(logs).not.toContain('"status":500');
    expect(logs).not.toContain(SECRET);
  });
});
