/**
 * Media in the database (migration 20261122130000_media_uploads.sql), one
 * section per actor, every request run as PostgREST runs it: the webhook's
 * door (service role), avatars, image and file messages, who reads which media
 * row, what deleting a media row, a message or a user leaves behind, and the
 * Cloudinary deletion queue.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UserChannelEvents, userTopic } from '@chat-with-me/shared';
import { asAnon, asService, asUser, broadcastsOn, closeDb, createUser, newUserId, owner, pgError } from '../helpers/db.js';

afterAll(closeDb);

type Purpose = 'avatar' | 'chat_image' | 'chat_file';

interface UploadOpts {
  eventId?: string;
  resourceType?: 'image' | 'raw' | 'video';
  format?: string;
  bytes?: number;
  refusal?: string | null;
  publicId?: string;
}

/** What cloudinary-webhook calls for a verified upload notification (service role). */
async function recordUpload(ownerId: string, purpose: Purpose, o: UploadOpts = {}) {
  const publicId = o.publicId ?? `chat-with-me/${ownerId}/${purpose}/${randomBytes(8).toString('hex')}${purpose === 'chat_file' ? '.pdf' : ''}`;
  const resourceType = o.resourceType ?? (purpose === 'chat_file' ? 'raw' : 'image');
  const [r] = await asService((tx) => tx`
    select outcome, media_id from private.record_cloudinary_upload(
      p_event_id => ${o.eventId ?? `upload:${randomBytes(16).toString('hex')}:1`},
      p_occurred_at => now(),
      p_owner_id => ${ownerId},
      p_purpose => ${purpose},
      p_public_id => ${publicId},
      p_resource_type => ${resourceType},
      p_format => ${o.format ?? (purpose === 'chat_file' ? 'pdf' : 'png')},
      p_bytes => ${o.bytes ?? 1234},
      p_width => ${resourceType === 'image' ? 40 : null},
      p_height => ${resourceType === 'image' ? 30 : null},
      p_secure_url => ${`https://res.cloudinary.com/demo/${resourceType}/upload/v1/${publicId}`},
      p_original_filename => 'photo',
      p_refusal => ${o.refusal ?? null}
    )`);
  return { outcome: r!.outcome as string, id: r!.media_id as string | null, publicId, resourceType };
}
const uploaded = async (ownerId: string, purpose: Purpose) => {
  const r = await recordUpload(ownerId, purpose);
  expect(r.outcome).toBe('created');
  return r.id!;
};
const canSee = async (who: string, id: string) => (await asUser(who, (tx) => tx`select id from public.media where id = ${id}`)).length === 1;
const queued = async (publicId: string) =>
  (await owner()`select reason, deleted_at from private.media_deletions where public_id = ${publicId}`)[0] as { reason: string; deleted_at: Date | null } | undefined;
const profile = async (id: string) => (await owner()`select avatar_media_id, avatar_url from public.users where id = ${id}`)[0]!;
const directChat = async (a: string, b: string) =>
  (await asUser(a, (tx) => tx`select id from public.get_or_create_direct_chat(${b})`))[0]!.id as string;
const send = (who: string, chat: string, kind: string, media: string | null, content = '') =>
  asUser(who, async (tx) => (await tx`select * from public.send_message(${chat}, ${content}, ${kind}::public.message_kind, null, null, ${media})`)[0]!);

// =============================================================================
describe('the webhook door: private.record_cloudinary_upload (service role)', () => {
  let u: string;
  beforeAll(async () => {
    u = await createUser();
  });

  it('records an upload once per event: a redelivery is a duplicate and changes nothing', async () => {
    const eventId = `upload:${randomBytes(16).toString('hex')}:7`;
    const first = await recordUpload(u, 'chat_image', { eventId });
    expect(first.outcome).toBe('created');
    const again = await recordUpload(u, 'chat_image', { eventId, publicId: first.publicId, bytes: 9 });
    expect(again).toMatchObject({ outcome: 'duplicate', id: first.id });
    const rows = await owner()`select owner_id, purpose, resource_type, format, bytes, width, height, original_filename from public.media where public_id = ${first.publicId}`;
    expect(rows).toEqual([{ owner_id: u, purpose: 'chat_image', resource_type: 'image', format: 'png', bytes: '1234', width: 40, height: 30, original_filename: 'photo' }]);
    expect(await owner()`select outcome, type, subject_id from public.webhook_events where provider = 'cloudinary' and event_id = ${eventId}`).toEqual([
      { outcome: 'created', type: 'upload', subject_id: first.publicId },
    ]);
  });

  it('tells the uploader on user:<id> (event media), once, recorded or refused', async () => {
    const v = await createUser();
    const ok = await recordUpload(v, 'chat_image', { eventId: `upload:${randomBytes(16).toString('hex')}:1` });
    const refused = await recordUpload(v, 'avatar', { bytes: 1024 ** 3 });
    await recordUpload(newUserId(), 'avatar'); // owner_unknown: nobody to tell
    const events = (await broadcastsOn(userTopic(v))).filter((e) => e.event === 'media');
    expect(events.map((e) => UserChannelEvents.media.parse(e.payload))).toEqual([
      expect.objectContaining({ public_id: ok.publicId, media_id: ok.id, purpose: 'chat_image', outcome: 'created' }),
      expect.objectContaining({ public_id: refused.publicId, media_id: null, purpose: 'avatar', outcome: 'refused_too_large' }),
    ]);
    expect(events.every((e) => e.private)).toBe(true);
  });

  it('a new version of a recorded asset (another event) updates it', async () => {
    const first = await recordUpload(u, 'chat_image');
    const next = await recordUpload(u, 'chat_image', { publicId: first.publicId, bytes: 4321 });
    expect(next).toMatchObject({ outcome: 'updated', id: first.id });
  });

  it('refuses more bytes than the purpose allows (admin_config), and queues the asset for deletion', async () => {
    const { max } = (await asService((tx) => tx`select private.media_max_bytes('avatar') as max`))[0] as { max: string };
    expect(Number(max)).toBe(5 * 1024 * 1024);
    const over = await recordUpload(u, 'avatar', { bytes: Number(max) + 1 });
    expect(over).toMatchObject({ outcome: 'refused_too_large', id: null });
    expect(await queued(over.publicId)).toMatchObject({ reason: 'refused' });
    expect(await owner()`select 1 from public.media where public_id = ${over.publicId}`).toEqual([]);
    expect((await recordUpload(u, 'avatar', { bytes: Number(max) })).outcome).toBe('created');
  });

  it('reads the limits from admin_config (typed: integers within bounds), falling back to the default when a setting is missing', async () => {
    // In a transaction rolled back at the end: other suites running now must not see these settings.
    const rollback = new Error('rollback');
    const seen: Record<string, unknown> = {};
    await owner()
      .begin(async (tx) => {
        await tx`update public.admin_config set value = '2048' where key = 'media.max_file_bytes'`;
        await tx`delete from public.admin_config where key = 'media.max_image_bytes'`;
        await tx`select set_config('role', 'service_role', true)`;
        seen.file = (await tx`select private.media_max_bytes('chat_file') as m`)[0]!.m;
        seen.image = (await tx`select private.media_max_bytes('chat_image') as m`)[0]!.m;
        seen.outcome = (await tx`
          select outcome from private.record_cloudinary_upload('upload:limit-test:1', now(), ${u}, 'chat_file',
            ${`chat-with-me/${u}/chat_file/limit.pdf`}, 'raw', 'pdf', 2049, null, null, 'https://res.cloudinary.com/x', null)`)[0]!.outcome;
        throw rollback;
      })
      .catch((e) => {
        if (e !== rollback) throw e;
      });
    expect(seen).toEqual({ file: '2048', image: String(10 * 1024 * 1024), outcome: 'refused_too_large' });
    expect((await pgError(asService((tx) => tx`select private.media_max_bytes('banner')`))).code).toBe('22023');
    // The type is enforced on write: no string, no fraction, nothing outside 1 KiB..100 MiB for images.
    for (const value of ['"lots"', '1.5', '0', '104857601']) {
      const e = await pgError(owner()`update public.admin_config set value = ${value}::jsonb where key = 'media.max_image_bytes'`);
      expect(e.code, value).toBe('22023');
    }
  });

  it('a refusal from the function (format, resource type) is recorded as such and queued', async () => {
    const r = await recordUpload(u, 'chat_image', { format: 'svg', refusal: 'refused_format' });
    expect(r).toMatchObject({ outcome: 'refused_format', id: null });
    expect(await queued(r.publicId)).toMatchObject({ reason: 'refused' });
    expect((await pgError(recordUpload(u, 'chat_image', { refusal: 'because' }))).code).toBe('22023');
  });

  it('an upload into the folder of a user who does not exist is not recorded, and is queued', async () => {
    const ghost = newUserId();
    const r = await recordUpload(ghost, 'avatar');
    expect(r).toMatchObject({ outcome: 'owner_unknown', id: null });
    expect(await queued(r.publicId)).toMatchObject({ reason: 'owner_unknown' });
  });

  it('is closed to signed-in users and anon (42501)', async () => {
    const call = (tx: any) => tx`select * from private.record_cloudinary_upload('e', now(), ${u}, 'avatar', 'p', 'image', 'png', 1, 1, 1, 'https://x', null)`;
    expect((await pgError(asUser(u, call))).code).toBe('42501');
    expect((await pgError(asAnon(call))).code).toBe('42501');
  });
});

// =============================================================================
describe('avatars', () => {
  let me: string, other: string, avatar: string, chatImage: string, theirAvatar: string;
  beforeAll(async () => {
    [me, other] = [await createUser(), await createUser()];
    avatar = await uploaded(me, 'avatar');
    chatImage = await uploaded(me, 'chat_image');
    theirAvatar = await uploaded(other, 'avatar');
  });

  describe('as the owner', () => {
    it('sets their avatar to their own avatar upload: avatar_url follows', async () => {
      const [row] = await asUser(me, (tx) => tx`update public.users set avatar_media_id = ${avatar} where id = ${me} returning avatar_media_id, avatar_url`);
      const [m] = await owner()`select secure_url from public.media where id = ${avatar}`;
      expect(row).toEqual({ avatar_media_id: avatar, avatar_url: m!.secure_url });
    });

    it('cannot use someone else’s upload, a chat image, or an unknown id (42501)', async () => {
      for (const id of [theirAvatar, chatImage, crypto.randomUUID()]) {
        const e = await pgError(asUser(me, (tx) => tx`update public.users set avatar_media_id = ${id} where id = ${me}`));
        expect(e.code).toBe('42501');
      }
      expect((await profile(me)).avatar_media_id).toBe(avatar);
    });

    it('cannot send an avatar upload as a message (22023)', async () => {
      const chat = await directChat(me, other);
      expect((await pgError(send(me, chat, 'image', avatar))).code).toBe('22023');
      expect((await pgError(send(me, chat, 'file', avatar))).code).toBe('22023');
    });
  });

  describe('as another signed-in user', () => {
    it('reads the media row of someone’s avatar, not their other media', async () => {
      expect(await canSee(other, avatar)).toBe(true);
      expect(await canSee(other, chatImage)).toBe(false);
    });

    it('cannot set someone else’s avatar (0 rows), nor their own to another’s upload (42501)', async () => {
      expect(await asUser(other, (tx) => tx`update public.users set avatar_media_id = ${theirAvatar} where id = ${me} returning id`)).toEqual([]);
      expect((await pgError(asUser(other, (tx) => tx`update public.users set avatar_media_id = ${avatar} where id = ${other}`))).code).toBe('42501');
    });
  });

  describe('as a user with no profile yet, and anon', () => {
    it('a profile-less user reads avatars (every profile is readable), anon nothing (42501)', async () => {
      expect(await canSee(newUserId(), avatar)).toBe(true);
      expect((await pgError(asAnon((tx) => tx`select * from public.media where id = ${avatar}`))).code).toBe('42501');
    });
  });

  describe('keeping avatar_media_id and avatar_url together', () => {
    let u: string, a1: string;
    beforeAll(async () => {
      u = await createUser();
      a1 = await uploaded(u, 'avatar');
      await asUser(u, (tx) => tx`update public.users set avatar_media_id = ${a1} where id = ${u}`);
    });

    it('a Clerk user.updated does not replace an uploaded avatar with Clerk’s image_url', async () => {
      const before = await profile(u);
      const outcome = await asService(async (tx) => (await tx`
        select private.clerk_upsert_user(${`msg_${randomBytes(8).toString('hex')}`}, 'user.updated', ${u}, now(),
          'New Name', null, null, 'email', 'https://img.clerk.com/new', false) as o`)[0]!.o);
      expect(outcome).toBe('updated');
      expect(await profile(u)).toEqual(before);
      expect((await owner()`select display_name from public.users where id = ${u}`)[0]!.display_name).toBe('New Name');
    });

    it('the user setting avatar_url themself replaces the upload; the upload is no longer readable by others', async () => {
      await asUser(u, (tx) => tx`update public.users set avatar_url = 'https://img.clerk.com/mine' where id = ${u}`);
      expect(await profile(u)).toEqual({ avatar_media_id: null, avatar_url: 'https://img.clerk.com/mine' });
      expect(await canSee(other, a1)).toBe(false);
      expect(await canSee(u, a1)).toBe(true);
    });

    it('clearing avatar_media_id clears avatar_url', async () => {
      await asUser(u, (tx) => tx`update public.users set avatar_media_id = ${a1} where id = ${u}`);
      await asUser(u, (tx) => tx`update public.users set avatar_media_id = null where id = ${u}`);
      expect(await profile(u)).toEqual({ avatar_media_id: null, avatar_url: null });
    });

    it('deleting the media row clears the avatar and queues the asset for deletion', async () => {
      const a2 = await uploaded(u, 'avatar');
      await asUser(u, (tx) => tx`update public.users set avatar_media_id = ${a2} where id = ${u}`);
      const { public_id } = (await owner()`select public_id from public.media where id = ${a2}`)[0] as { public_id: string };
      await asService((tx) => tx`delete from public.media where id = ${a2}`);
      expect(await profile(u)).toEqual({ avatar_media_id: null, avatar_url: null });
      expect(await queued(public_id)).toMatchObject({ reason: 'media_deleted' });
    });
  });
});

// =============================================================================
describe('image and file messages', () => {
  let sender: string, member: string, outsider: string, chat: string, group: string;
  let image: string, file: string, unsent: string, theirs: string;
  beforeAll(async () => {
    [sender, member, outsider] = [await createUser(), await createUser(), await createUser()];
    chat = await directChat(sender, member);
    group = (await asUser(outsider, (tx) => tx`select id from public.create_group_chat('elsewhere', ${[sender]}::text[])`))[0]!.id;
    image = await uploaded(sender, 'chat_image');
    file = await uploaded(sender, 'chat_file');
    unsent = await uploaded(sender, 'chat_image');
    theirs = await uploaded(outsider, 'chat_image');
  });

  describe('as the sender', () => {
    it('sends an image message with a chat image and a file message with a file', async () => {
      expect((await send(sender, chat, 'image', image, 'look')).media_id).toBe(image);
      expect((await send(sender, chat, 'file', file, 'report.pdf')).media_id).toBe(file);
    });

    it('cannot attach someone else’s media (42501), nor send a file as an image (22023)', async () => {
      expect((await pgError(send(sender, chat, 'image', theirs))).code).toBe('42501');
      expect((await pgError(asUser(sender, (tx) => tx`insert into public.messages (chat_id, kind, media_id) values (${chat}, 'image', ${theirs})`))).code).toBe('42501');
      expect((await pgError(send(sender, chat, 'image', file))).code).toBe('22023');
    });
  });

  describe('as a member of the chat', () => {
    it('reads the media sent there, not the sender’s other media', async () => {
      expect(await canSee(member, image)).toBe(true);
      expect(await canSee(member, file)).toBe(true);
      expect(await canSee(member, unsent)).toBe(false);
    });
  });

  describe('as an outsider', () => {
    it('reads none of it, even with the sender in another chat with them', async () => {
      expect(await canSee(outsider, image)).toBe(false);
      expect(await canSee(outsider, file)).toBe(false);
      expect(await asUser(outsider, (tx) => tx`select id from public.media where owner_id = ${sender}`)).toEqual([]);
    });

    it('sees it once it is sent in a chat they are in', async () => {
      await send(sender, group, 'image', unsent);
      expect(await canSee(outsider, unsent)).toBe(true);
    });
  });

  describe('deleting', () => {
    it('a soft-deleted message no longer references its media: members lose it, the owner keeps it', async () => {
      const mid = await uploaded(sender, 'chat_image');
      const m = await send(sender, chat, 'image', mid);
      await asUser(sender, (tx) => tx`update public.messages set deleted_at = now() where id = ${m.id}`);
      expect((await owner()`select media_id from public.messages where id = ${m.id}`)[0]!.media_id).toBeNull();
      expect(await canSee(member, mid)).toBe(false);
      expect(await canSee(sender, mid)).toBe(true);
    });

    it('a deleted media row leaves messages without a dangling reference, and is queued for Cloudinary', async () => {
      const mid = await uploaded(sender, 'chat_image');
      const m = await send(sender, chat, 'image', mid);
      const { public_id } = (await owner()`select public_id from public.media where id = ${mid}`)[0] as { public_id: string };
      await asService((tx) => tx`delete from public.media where id = ${mid}`);
      expect((await owner()`select media_id from public.messages where id = ${m.id}`)[0]!.media_id).toBeNull();
      expect(await queued(public_id)).toMatchObject({ reason: 'media_deleted' });
    });

    it('deleting a user (Clerk user.deleted) deletes their media, keeps their messages without it, queues every asset', async () => {
      const leaver = await createUser();
      const c = await directChat(leaver, member);
      const mid = await uploaded(leaver, 'chat_image');
      const av = await uploaded(leaver, 'avatar');
      await asUser(leaver, (tx) => tx`update public.users set avatar_media_id = ${av} where id = ${leaver}`);
      const m = await send(leaver, c, 'image', mid);
      const ids = (await owner()`select public_id from public.media where owner_id = ${leaver}`).map((r) => r.public_id as string);
      expect(ids).toHaveLength(2);
      await asService((tx) => tx`select private.clerk_delete_user(${`msg_${randomBytes(8).toString('hex')}`}, ${leaver})`);
      expect(await owner()`select 1 from public.media where owner_id = ${leaver}`).toEqual([]);
      expect((await owner()`select sender_id, media_id from public.messages where id = ${m.id}`)[0]).toEqual({ sender_id: null, media_id: null });
      for (const id of ids) expect(await queued(id)).toMatchObject({ reason: 'media_deleted' });
    });
  });
});

// =============================================================================
describe('the Cloudinary deletion queue', () => {
  it('is claimed, retried after a failure, and done once Cloudinary confirms', async () => {
    // In one transaction rolled back at the end: a cleanup run by another suite must not take these rows.
    const u = await createUser();
    const rollback = new Error('rollback');
    const seen: unknown[] = [];
    await owner()
      .begin(async (tx) => {
        await tx`select set_config('role', 'service_role', true)`;
        await tx`insert into public.media (owner_id, public_id, resource_type, bytes, secure_url)
                 values (${u}, 'queue-test/a', 'image', 1, 'https://res.cloudinary.com/x')`;
        await tx`delete from public.media where public_id = 'queue-test/a'`;
        const mine = (rows: any[]) => rows.filter((r) => r.public_id === 'queue-test/a');
        seen.push(mine(await tx`select * from private.claim_media_deletions(1000)`));
        seen.push(mine(await tx`select * from private.claim_media_deletions(1000)`));
        await tx`select private.finish_media_deletion('image', 'queue-test/a', 'HTTP 500 from Cloudinary')`;
        // Eleven minutes later (now() is fixed inside a transaction: move the attempt back instead).
        await tx`reset role`;
        await tx`update private.media_deletions set last_attempt_at = last_attempt_at - interval '11 minutes' where public_id = 'queue-test/a'`;
        await tx`select set_config('role', 'service_role', true)`;
        seen.push(mine(await tx`select * from private.claim_media_deletions(1000)`));
        await tx`select private.finish_media_deletion('image', 'queue-test/a')`;
        await tx`reset role`;
        seen.push((await tx`select attempts, last_error, deleted_at is not null as done from private.media_deletions where public_id = 'queue-test/a'`)[0]);
        await tx`select set_config('role', 'service_role', true)`;
        seen.push(mine(await tx`select * from private.claim_media_deletions(1000, interval '0 seconds')`));
        throw rollback;
      })
      .catch((e) => {
        if (e !== rollback) throw e;
      });
    expect(seen).toEqual([
      [{ resource_type: 'image', public_id: 'queue-test/a', attempts: 1 }],
      [], // attempted less than 10 minutes ago
      [{ resource_type: 'image', public_id: 'queue-test/a', attempts: 2 }],
      { attempts: 2, last_error: null, done: true },
      [], // done
    ]);
  });

  it('is invisible and closed to signed-in users and anon (42501)', async () => {
    const u = await createUser();
    for (const q of [
      (tx: any) => tx`select * from private.media_deletions`,
      (tx: any) => tx`select * from private.claim_media_deletions(1)`,
      (tx: any) => tx`select private.finish_media_deletion('image', 'x')`,
      (tx: any) => tx`select private.queue_media_deletion('image', 'x', 'refused')`,
    ]) {
      expect((await pgError(asUser(u, q))).code).toBe('42501');
      expect((await pgError(asAnon(q))).code).toBe('42501');
    }
  });
});

// =============================================================================
describe('schema', () => {
  it('media has exactly one SELECT policy for authenticated (advisor 0006: no multiple permissive policies)', async () => {
    const rows = await owner()`select policyname, roles::text[] as roles from pg_policies where schemaname = 'public' and tablename = 'media' and cmd = 'SELECT'`;
    expect(rows).toEqual([{ policyname: 'Users can read own media, avatars and media sent in their chats', roles: ['authenticated'] }]);
  });

  it('signed-in users may update only avatar_media_id among the new columns', async () => {
    const [r] = await owner()`
      select has_column_privilege('authenticated', 'public.users', 'avatar_media_id', 'update') as avatar,
             has_column_privilege('authenticated', 'public.media', 'original_filename', 'update') as filename`;
    expect(r).toEqual({ avatar: true, filename: false });
  });

  it('the media size limits are settings with defaults', async () => {
    const rows = await owner()`select key, value from public.admin_config where key like 'media.max_%' order by key`;
    expect(rows.map((r) => r.key)).toEqual([
      'media.max_avatar_bytes', 'media.max_file_bytes', 'media.max_image_bytes', 'media.max_story_image_bytes', 'media.max_story_video_bytes',
    ]);
  });
});
