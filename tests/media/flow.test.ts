/**
 * The "Done when" of issue 6, through the local stack: real Deno functions,
 * real PostgreSQL, the Cloudinary stand-in playing Cloudinary. A client signs
 * with media-sign (the shared typed client), uploads to "Cloudinary" with
 * exactly the signed form, Cloudinary posts the signed upload notification to
 * cloudinary-webhook, the client sends an image message referencing the
 * recorded asset, another member reads it, an outsider cannot. Then avatars,
 * files, dynamic folder mode, and the cleanup of a deleted user's assets
 * through the Admin API (scripts/media-cleanup.mjs).
 */
import { buildCloudinaryUploadForm, createFunctionsClient, MediaRow, type MediaSignResponse, UserChannelEvents, userTopic } from '@chat-with-me/shared';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { runMediaCleanup } from '../../scripts/media-cleanup.mjs';
import { startCloudinaryStandin } from '../../stack/standins/cloudinary.mjs';
import { sessionToken } from '../helpers/clerk.js';
import { asService, asUser, broadcastsOn, createUser, owner, startForFile } from '../helpers/db.js';
import { startTestFunctions } from '../helpers/functions.js';
import { gif, png } from './cloudinary.js';

type Standin = Awaited<ReturnType<typeof startCloudinaryStandin>>;
const cld = startForFile(() => startCloudinaryStandin({ cloudName: 'flow-cloud' }));
const fns = startForFile(() => startTestFunctions({ env: cld.env }));

const clientFor = (userId: string) => createFunctionsClient({ url: fns.url, getToken: () => sessionToken(fns.clerk, userId) });

/** Uploads `file` with a signature, as a browser would, to `base` (default: the URL media-sign gave). */
async function uploadWith(sign: MediaSignResponse, file: Buffer, name: string, type: string, uploadUrl = sign.upload_url) {
  const res = await fetch(uploadUrl, { method: 'POST', body: buildCloudinaryUploadForm(sign, new Blob([new Uint8Array(file)], { type }), name) });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

/** Waits for "Cloudinary" to have notified cloudinary-webhook of `publicId`; returns the webhook's answer. */
async function notified(standin: Standin, publicId: string) {
  const d = await standin.waitForDelivery((x) => x.body.includes(JSON.stringify(publicId)));
  expect(d.status, d.response || d.error).toBe(200);
  return JSON.parse(d.response) as { outcome: string; media_id: string | null };
}

/** Sign, upload, wait for the notification: the recorded media id. */
async function uploadAs(userId: string, purpose: 'avatar' | 'chat_image' | 'chat_file', file: Buffer, name: string, type: string) {
  const sign = await clientFor(userId).mediaSign({ purpose });
  const up = await uploadWith(sign, file, name, type);
  expect(up.status, JSON.stringify(up.body)).toBe(200);
  const hook = await notified(cld, up.body.public_id);
  expect(hook.outcome).toBe('created');
  return { id: hook.media_id!, asset: up.body };
}

const history = (who: string, chat: string) => asUser(who, (tx) => tx`select id, kind, content, media_id from public.get_chat_history(${chat})`);
const media = async (who: string, id: string) => (await asUser(who, (tx) => tx`select * from public.media where id = ${id}`))[0];

describe('Done when: sign, upload, notification, image message, read by a member, not by an outsider', () => {
  let alice: string, bob: string, carol: string, chat: string;
  let mediaId: string, asset: Record<string, any>, messageId: string;

  beforeAll(async () => {
    [alice, bob, carol] = [await createUser(), await createUser(), await createUser()];
    chat = (await asUser(alice, (tx) => tx`select id from public.get_or_create_direct_chat(${bob})`))[0]!.id;
  });

  it('alice signs a chat image upload and uploads it straight to Cloudinary', async () => {
    const sign = await clientFor(alice).mediaSign({ purpose: 'chat_image' });
    expect(sign.params.folder).toBe(`chat-with-me/${alice}/chat_image`);
    const up = await uploadWith(sign, png(32, 16), 'cat.png', 'image/png');
    expect(up.status, JSON.stringify(up.body)).toBe(200);
    asset = up.body;
    expect(asset).toMatchObject({ resource_type: 'image', format: 'png', width: 32, height: 16 });
  });

  it('Cloudinary’s signed notification reaches cloudinary-webhook, which records the asset for alice', async () => {
    const hook = await notified(cld, asset.public_id);
    expect(hook.outcome).toBe('created');
    mediaId = hook.media_id!;
    // Alice's client hears it on her private channel.
    const events = (await broadcastsOn(userTopic(alice))).filter((e) => e.event === 'media');
    expect(events.map((e) => UserChannelEvents.media.parse(e.payload))).toContainEqual(
      expect.objectContaining({ public_id: asset.public_id, media_id: mediaId, outcome: 'created' }),
    );
    const raw = (await media(alice, mediaId))!;
    // bigint arrives as a string from postgres.js, as a number from PostgREST's JSON.
    const row = MediaRow.parse(JSON.parse(JSON.stringify({ ...raw, bytes: Number(raw.bytes) })));
    expect(row).toMatchObject({ owner_id: alice, purpose: 'chat_image', public_id: asset.public_id, secure_url: asset.secure_url, bytes: asset.bytes, width: 32, height: 16 });
  });

  it('alice sends an image message referencing it', async () => {
    const [m] = await asUser(alice, (tx) => tx`select * from public.send_message(${chat}, 'a cat', 'image', 'cat-1', null, ${mediaId})`);
    expect(m).toMatchObject({ kind: 'image', media_id: mediaId, sender_id: alice });
    messageId = m!.id;
  });

  it('bob, a member, reads the message and its media', async () => {
    expect(await history(bob, chat)).toContainEqual({ id: messageId, kind: 'image', content: 'a cat', media_id: mediaId });
    expect(await media(bob, mediaId)).toMatchObject({ secure_url: asset.secure_url, width: 32, height: 16 });
  });

  it('carol, an outsider, reads neither', async () => {
    expect(await history(carol, chat)).toEqual([]);
    expect(await asUser(carol, (tx) => tx`select id from public.messages where id = ${messageId}`)).toEqual([]);
    expect(await media(carol, mediaId)).toBeUndefined();
  });

  it('bob cannot send alice’s asset himself', async () => {
    const err = await asUser(bob, (tx) => tx`select public.send_message(${chat}, '', 'image', null, null, ${mediaId})`).catch((e) => e);
    expect(err.code).toBe('42501');
  });
});

describe('avatars and files through the stack', () => {
  let alice: string, bob: string, carol: string, chat: string;
  beforeAll(async () => {
    [alice, bob, carol] = [await createUser(), await createUser(), await createUser()];
    chat = (await asUser(alice, (tx) => tx`select id from public.get_or_create_direct_chat(${bob})`))[0]!.id;
  });

  it('alice uploads an avatar and sets it; anyone signed in sees it', async () => {
    const { id, asset } = await uploadAs(alice, 'avatar', png(96, 96), 'me.png', 'image/png');
    const [u] = await asUser(alice, (tx) => tx`update public.users set avatar_media_id = ${id} where id = ${alice} returning avatar_url`);
    expect(u!.avatar_url).toBe(asset.secure_url);
    expect((await asUser(carol, (tx) => tx`select avatar_url, avatar_media_id from public.users where id = ${alice}`))[0]).toEqual({ avatar_url: asset.secure_url, avatar_media_id: id });
    expect(await media(carol, id)).toMatchObject({ purpose: 'avatar', secure_url: asset.secure_url });
    // …and `me` returns it.
    expect((await clientFor(alice).me()).user).toMatchObject({ avatar_media_id: id, avatar_url: asset.secure_url });
  });

  it('Cloudinary itself refuses a GIF avatar (signed allowed_formats): nothing is notified or recorded', async () => {
    const sign = await clientFor(alice).mediaSign({ purpose: 'avatar' });
    const before = cld.deliveries.length;
    const up = await uploadWith(sign, gif(), 'me.gif', 'image/gif');
    expect(up.status).toBe(400);
    expect(cld.deliveries.length).toBe(before);
  });

  it('bob uploads a file (raw) and sends it; alice reads it, carol does not', async () => {
    const { id, asset } = await uploadAs(bob, 'chat_file', Buffer.from('minutes of the meeting\n'), 'minutes.txt', 'text/plain');
    expect(asset.public_id).toMatch(/\.txt$/);
    await asUser(bob, (tx) => tx`select public.send_message(${chat}, 'minutes.txt', 'file', null, null, ${id})`);
    expect(await media(alice, id)).toMatchObject({ resource_type: 'raw', format: 'txt', original_filename: 'minutes' });
    expect(await media(carol, id)).toBeUndefined();
  });

  it('dynamic folder mode: the same signature posted to an account in dynamic folder mode is recorded from asset_folder', async () => {
    const dyn = await startCloudinaryStandin({ cloudName: 'flow-cloud', apiKey: cld.apiKey, apiSecret: cld.apiSecret, folderMode: 'dynamic' });
    try {
      const sign = await clientFor(alice).mediaSign({ purpose: 'chat_image' });
      const up = await uploadWith(sign, png(), 'd.png', 'image/png', `${dyn.url}/v1_1/flow-cloud/image/upload`);
      expect(up.status).toBe(200);
      expect(up.body.asset_folder).toBe(`chat-with-me/${alice}/chat_image`);
      const hook = await notified(dyn, up.body.public_id);
      expect(hook.outcome).toBe('created');
      expect(await media(alice, hook.media_id!)).toMatchObject({ owner_id: alice, public_id: up.body.public_id });
    } finally {
      await dyn.stop();
    }
  });
});

describe('cleanup: a deleted user’s assets leave Cloudinary (Admin API, scripts/media-cleanup.mjs)', () => {
  it('deleting the user queues their assets; the cleanup deletes them from Cloudinary and marks them done', async () => {
    const dave = await createUser();
    const a = await uploadAs(dave, 'chat_image', png(), 'a.png', 'image/png');
    const b = await uploadAs(dave, 'avatar', png(), 'b.png', 'image/png');
    const keys = [`image/${a.asset.public_id}`, `image/${b.asset.public_id}`];
    for (const k of keys) expect(cld.resources.has(k)).toBe(true);

    await asService((tx) => tx`select private.clerk_delete_user(${`msg_cleanup_${Date.now()}`}, ${dave})`);
    const pending = await owner()`select public_id from private.media_deletions where deleted_at is null and public_id = any(${[a.asset.public_id, b.asset.public_id]})`;
    expect(pending).toHaveLength(2);

    const totals = await runMediaCleanup({ dbUrl: inject('dbUrl'), cloudinaryUrl: cld.cloudinaryUrl });
    expect(totals.failed).toBe(0);
    expect(totals.deleted).toBeGreaterThanOrEqual(2);
    for (const k of keys) expect(cld.resources.has(k)).toBe(false);
    expect(cld.deletions.filter((d) => d.via === 'delete_resources' && keys.includes(`image/${d.public_id}`)).map((d) => d.result)).toEqual(['deleted', 'deleted']);
    const done = await owner()`select deleted_at from private.media_deletions where public_id = any(${[a.asset.public_id, b.asset.public_id]})`;
    expect(done.every((r) => r.deleted_at instanceof Date)).toBe(true);
  });
});
