/**
 * cloudinary-webhook: POST from Cloudinary (the `notification_url` media-sign
 * signs) → records uploaded assets in public.media.
 *
 * 1. Verify the notification with the SDK over the raw body
 *    (https://cloudinary.com/documentation/notification_signatures):
 *    X-Cld-Signature = hex sha1/sha256 of body + X-Cld-Timestamp + API secret,
 *    and X-Cld-Timestamp not older than 2 hours (the SDK's default validity;
 *    Cloudinary retries failed deliveries for a while) nor more than 5 minutes
 *    in the future. Missing, malformed, wrong or stale → 400
 *    `invalid_signature`, and nothing unsigned is parsed or recorded.
 * 2. Parse with the shared schemas (a signed payload that does not match → 400).
 *    Notifications other than `upload` are recorded and answered `ignored`.
 * 3. An upload is ours when its folder (asset_folder in dynamic folder mode,
 *    else the folder part of public_id) is `<CLOUDINARY_FOLDER>/<user_id>/<purpose>`;
 *    anything else (another app sharing the account, a Console upload) is
 *    acknowledged and ignored, never deleted.
 * 4. Ours, but not what media-sign allows for the purpose (resource type,
 *    format: refused here; size: refused by the database against
 *    admin_config), or the folder's user does not exist: not recorded, queued
 *    for deletion from Cloudinary (private.media_deletions, worked off by
 *    scripts/media-cleanup.mjs through the Admin API).
 * 5. Otherwise recorded through private.record_cloudinary_upload (service
 *    role), idempotently: the event id is `upload:<asset_id>:<version>`, so a
 *    redelivery answers `duplicate` and changes nothing. The uploader hears
 *    the outcome on Realtime `user:<user_id>`, event `media`.
 * Every verified notification is answered 200 (with the outcome) so that
 * Cloudinary does not retry it; 503 (database unreachable) is retried.
 */
import {
  CloudinaryNotificationEnvelope,
  CloudinaryUploadNotification,
  CloudinaryWebhookResponse,
  CloudinaryWebhookOutcome,
  MEDIA_PURPOSES,
  MediaPurpose,
} from '@chat-with-me/shared';
import { z } from 'zod';
import { cloudinaryEnv, verifyNotification } from '../_shared/cloudinary.ts';
import { callRows, callValue, database } from '../_shared/db.ts';
import { HttpError } from '../_shared/errors.ts';
import { platformEnv } from '../_shared/env.ts';
import { defineFunction, json, parseJson, readJsonText } from '../_shared/http.ts';

const Env = z.object({ ...platformEnv, ...cloudinaryEnv });

/** Upload notifications are a few KB; moderation or add-on results make them larger, not megabytes. */
const MAX_BODY_BYTES = 1024 * 1024;
/** The SDK's default validity of a notification signature (verifyNotificationSignature valid_for). */
const VALID_FOR_SECONDS = 2 * 60 * 60;
const MAX_FUTURE_SECONDS = 5 * 60;

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** Our event id: one per uploaded asset version; for other notifications, a digest of the body. */
async function eventIdOf(type: string, body: string, upload?: CloudinaryUploadNotification): Promise<string> {
  if (upload?.asset_id) return `upload:${upload.asset_id}:${upload.version}`;
  if (upload) return `upload:${(await sha256Hex(`${upload.resource_type}/${upload.public_id}`)).slice(0, 32)}:${upload.version}`;
  return `${type.slice(0, 60)}:sha256:${await sha256Hex(body)}`;
}

/** The folder of an upload: asset_folder (dynamic folder mode), else public_id up to its last '/'. */
function folderOf(n: CloudinaryUploadNotification): string {
  if (n.asset_folder) return n.asset_folder;
  const slash = n.public_id.lastIndexOf('/');
  return slash < 0 ? '' : n.public_id.slice(0, slash);
}

/** The format: Cloudinary's, else (raw files) the extension of public_id, lower-cased. */
function formatOf(n: CloudinaryUploadNotification): string | null {
  if (n.format) return n.format.toLowerCase();
  const leaf = n.public_id.slice(n.public_id.lastIndexOf('/') + 1);
  const dot = leaf.lastIndexOf('.');
  return dot > 0 && dot < leaf.length - 1 ? leaf.slice(dot + 1).toLowerCase() : null;
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export const handler = defineFunction({ name: 'cloudinary-webhook', methods: ['POST'], env: Env }, async (req, { env, log }) => {
  const body = await readJsonText(req, { maxBytes: MAX_BODY_BYTES });

  const timestampHeader = req.headers.get('x-cld-timestamp') ?? '';
  const signature = (req.headers.get('x-cld-signature') ?? '').trim().toLowerCase();
  const missing = [!timestampHeader && 'x-cld-timestamp', !signature && 'x-cld-signature'].filter(Boolean);
  if (missing.length) {
    throw new HttpError('invalid_signature', `missing Cloudinary header(s): ${missing.join(', ')}`, { missing });
  }
  if (!/^[1-9][0-9]{0,11}$/.test(timestampHeader.trim())) {
    throw new HttpError('invalid_signature', 'X-Cld-Timestamp must be Unix seconds');
  }
  const timestamp = Number(timestampHeader.trim());
  if (!/^([0-9a-f]{40}|[0-9a-f]{64})$/.test(signature)) {
    throw new HttpError('invalid_signature', 'X-Cld-Signature must be a hex digest');
  }
  if (!verifyNotification(env, body, timestamp, signature, { validForSeconds: VALID_FOR_SECONDS, maxFutureSeconds: MAX_FUTURE_SECONDS })) {
    throw new HttpError('invalid_signature', 'the notification signature is invalid, or its timestamp is stale (over 2 hours) or in the future');
  }

  const envelope = parseJson(body, CloudinaryNotificationEnvelope);
  const occurredAt = (() => {
    const t = envelope.timestamp ? Date.parse(envelope.timestamp) : NaN;
    return Number.isFinite(t) ? new Date(t).toISOString() : null;
  })();
  const db = database(env.SUPABASE_DB_URL);

  /** Records a notification we do not turn into media (outcome `ignored`). */
  const ignore = async (eventId: string, type: string, subject: string | null, why: string) => {
    const first = await db.asService((tx) =>
      callValue(tx, 'record_webhook_event', {
        p_provider: 'cloudinary', p_event_id: eventId, p_type: type.slice(0, 100),
        p_subject_id: subject, p_occurred_at: occurredAt, p_outcome: 'ignored',
      })
    );
    const outcome: CloudinaryWebhookOutcome = first ? 'ignored' : 'duplicate';
    log.info('cloudinary notification ignored', { event_id: eventId, type, why, outcome });
    return json(CloudinaryWebhookResponse, { received: true, event_id: eventId, notification_type: type, outcome, media_id: null });
  };

  if (envelope.notification_type !== 'upload') {
    return ignore(await eventIdOf(envelope.notification_type, body), envelope.notification_type, null, 'not an upload');
  }

  const upload = parseJson(body, CloudinaryUploadNotification);
  const eventId = await eventIdOf('upload', body, upload);
  const folder = folderOf(upload);
  const match = new RegExp(`^${escapeRegExp(env.CLOUDINARY_FOLDER)}/(user_[A-Za-z0-9]{1,64})/([a-z_]+)$`).exec(folder);
  const purpose = MediaPurpose.safeParse(match?.[2]);
  if (!match || !purpose.success || upload.type !== 'upload') {
    return ignore(eventId, 'upload', upload.public_id, 'outside our folders');
  }

  const ownerId = match[1]!;
  const rules = MEDIA_PURPOSES[purpose.data];
  const format = formatOf(upload);
  const refusal =
    upload.resource_type !== rules.resource_type
      ? 'refused_resource_type'
      : !format || !(rules.formats as readonly string[]).includes(format)
        ? 'refused_format'
        : null;

  const [row] = await db.asService((tx) =>
    callRows(tx, 'record_cloudinary_upload', {
      p_event_id: eventId,
      p_occurred_at: occurredAt,
      p_owner_id: ownerId,
      p_purpose: purpose.data,
      p_public_id: upload.public_id,
      p_resource_type: upload.resource_type,
      p_format: format,
      p_bytes: upload.bytes,
      p_width: upload.width ?? null,
      p_height: upload.height ?? null,
      p_secure_url: upload.secure_url,
      p_original_filename: upload.original_filename ?? null,
      p_refusal: refusal,
    })
  );
  const result = { outcome: CloudinaryWebhookOutcome.parse(row!.outcome), media_id: row!.media_id };
  log.info('cloudinary upload processed', {
    event_id: eventId,
    public_id: upload.public_id,
    owner_id: ownerId,
    purpose: purpose.data,
    bytes: upload.bytes,
    outcome: result.outcome,
  });
  return json(CloudinaryWebhookResponse, {
    received: true,
    event_id: eventId,
    notification_type: 'upload',
    outcome: result.outcome,
    media_id: result.media_id,
  });
});
