/**
 * Media on Cloudinary: signed direct uploads (`media-sign`), upload
 * notifications (`cloudinary-webhook`) and the `media` rows they produce.
 *
 * The flow a client follows:
 * 1. `POST media-sign {"purpose": "chat_image"}` with the Clerk session token →
 *    a `MediaSignResponse`;
 * 2. `POST <upload_url>` as multipart/form-data with exactly `params`, plus
 *    `api_key`, `signature` and `file` (`buildCloudinaryUploadForm` does it).
 *    Adding, dropping or changing any parameter breaks the signature, so a
 *    client cannot choose another folder, other formats, a transformation or
 *    another notification URL
 *    (https://cloudinary.com/documentation/authentication_signatures,
 *    https://cloudinary.com/documentation/upload_images#authenticated_requests);
 * 3. Cloudinary answers with the asset and posts an upload notification to
 *    `cloudinary-webhook`, which records it in `public.media` (the client finds
 *    the row by `public_id`, or with Realtime/polling); then the client sends an
 *    image or file message with `media_id`, or sets `users.avatar_media_id`.
 */
import { z } from 'zod';
import { ClerkUserId, type Equals, repairedText, storableText, Timestamp, Uuid } from '../common.ts';
import type { Tables } from '../database.types.ts';

// -----------------------------------------------------------------------------
// Purposes
// -----------------------------------------------------------------------------

/** What an upload is for; it decides the folder, resource type, formats and size limit. */
export const MediaPurpose = z.enum(['avatar', 'chat_image', 'chat_file', 'story_image', 'story_video']);
export type MediaPurpose = z.infer<typeof MediaPurpose>;

/** Cloudinary resource types (https://cloudinary.com/documentation/upload_parameters#resource_type). */
export const CloudinaryResourceType = z.enum(['image', 'video', 'raw']);
export type CloudinaryResourceType = z.infer<typeof CloudinaryResourceType>;

/**
 * Per purpose: the Cloudinary resource type to upload as, and the formats
 * signed as `allowed_formats` (image formats as Cloudinary detects them; for
 * raw files, file extensions). The size limit is a setting
 * (admin_config `media.max_avatar_bytes`, `media.max_image_bytes`,
 * `media.max_file_bytes`, `media.max_story_image_bytes`,
 * `media.max_story_video_bytes`), returned by media-sign as `max_bytes`.
 * story_image / story_video are status updates (`post_story`,
 * 20261202110500_stories.sql).
 */
export const MEDIA_PURPOSES = {
  avatar: { resource_type: 'image', formats: ['jpg', 'png', 'webp'] },
  chat_image: { resource_type: 'image', formats: ['jpg', 'png', 'gif', 'webp', 'heic'] },
  chat_file: {
    resource_type: 'raw',
    formats: ['pdf', 'txt', 'csv', 'md', 'rtf', 'zip', 'doc', 'docx', 'xls', 'xlsx', 'ppt', 'pptx', 'odt', 'ods', 'odp'],
  },
  story_image: { resource_type: 'image', formats: ['jpg', 'png', 'gif', 'webp', 'heic'] },
  // Video formats as Cloudinary detects them (https://cloudinary.com/documentation/formats_supported_for_transformation#supported_video_formats).
  story_video: { resource_type: 'video', formats: ['mp4', 'mov', 'webm'] },
} as const satisfies Record<MediaPurpose, { resource_type: CloudinaryResourceType; formats: readonly string[] }>;

/** Root folder of every upload: `<root>/<user_id>/<purpose>` (media-sign's default root). */
export const MEDIA_FOLDER_ROOT = 'chat-with-me';

/** The folder media-sign signs for `userId` and `purpose`. */
export const mediaFolder = (userId: string, purpose: MediaPurpose, root = MEDIA_FOLDER_ROOT) => `${root}/${userId}/${purpose}`;

// -----------------------------------------------------------------------------
// media-sign
// -----------------------------------------------------------------------------

/** Body of `POST media-sign`. Nothing else is accepted: unknown fields are refused (400), never signed. */
export const MediaSignRequest = z.strictObject({ purpose: MediaPurpose });
export type MediaSignRequest = z.infer<typeof MediaSignRequest>;

/**
 * Exactly the parameters media-sign signed (Cloudinary upload parameters,
 * https://cloudinary.com/documentation/image_upload_api_reference#upload):
 * post them unchanged.
 */
export const MediaSignedParams = z.strictObject({
  /** Comma-separated formats Cloudinary accepts for this upload (others are rejected by Cloudinary). */
  allowed_formats: z.string().min(1),
  /** `chat-with-me/<user_id>/<purpose>`: the caller's own folder. */
  folder: z.string().min(1),
  /** cloudinary-webhook's URL: Cloudinary posts the signed upload notification there. */
  notification_url: z.url(),
  /** Unix time (seconds) of the signature; Cloudinary refuses it after one hour. */
  timestamp: z.number().int().positive(),
});
export type MediaSignedParams = z.infer<typeof MediaSignedParams>;

/** Answer of `media-sign`. */
export const MediaSignResponse = z.object({
  purpose: MediaPurpose,
  /** Where to POST the upload: `<api base>/v1_1/<cloud_name>/<resource_type>/upload`. */
  upload_url: z.url(),
  cloud_name: z.string().min(1),
  /** The account's API key (public; it names the key whose secret signed). */
  api_key: z.string().min(1),
  resource_type: CloudinaryResourceType,
  /** Same as `params.timestamp`. */
  timestamp: z.number().int().positive(),
  /** Hex digest (sha1: 40 characters, sha256: 64) over `params` and the API secret. */
  signature: z.string().regex(/^([0-9a-f]{40}|[0-9a-f]{64})$/),
  signature_algorithm: z.enum(['sha1', 'sha256']),
  params: MediaSignedParams,
  /** `params.allowed_formats` as a list, to check a file before uploading. */
  allowed_formats: z.array(z.string()),
  /** Largest upload recorded for this purpose, in bytes: a larger one is refused and deleted. */
  max_bytes: z.number().int().positive(),
  /** When Cloudinary stops accepting the signature (timestamp + 1 hour). */
  expires_at: Timestamp,
});
export type MediaSignResponse = z.infer<typeof MediaSignResponse>;

/**
 * The multipart form of a signed direct upload: exactly the signed params,
 * `api_key`, `signature` and the file. POST it to `sign.upload_url`.
 */
export function buildCloudinaryUploadForm(sign: MediaSignResponse, file: Blob, filename?: string): FormData {
  const form = new FormData();
  for (const [k, v] of Object.entries(sign.params)) form.append(k, String(v));
  form.append('api_key', sign.api_key);
  form.append('signature', sign.signature);
  if (filename !== undefined) form.append('file', file, filename);
  else form.append('file', file);
  return form;
}

// -----------------------------------------------------------------------------
// cloudinary-webhook
// -----------------------------------------------------------------------------

/**
 * Any Cloudinary notification: `notification_type` tells which
 * (https://cloudinary.com/documentation/notifications). Only `upload` is
 * recorded; the others are acknowledged and ignored. Unknown fields are kept.
 */
export const CloudinaryNotificationEnvelope = z.looseObject({
  notification_type: storableText().min(1).max(100),
  /** ISO 8601 time the notification was generated. */
  timestamp: z.string().optional(),
  request_id: z.string().max(200).optional(),
});

/**
 * The subset of an upload notification we read: the upload response
 * (https://cloudinary.com/documentation/image_upload_api_reference#upload_response)
 * plus notification_type, timestamp and request_id
 * (https://cloudinary.com/documentation/notifications). Raw files have no
 * format, width or height (their extension is part of public_id). In fixed
 * folder mode public_id starts with the folder; in dynamic folder mode the
 * folder is `asset_folder` (https://cloudinary.com/documentation/folder_modes).
 */
export const CloudinaryUploadNotification = z.looseObject({
  notification_type: z.literal('upload'),
  timestamp: z.string().optional(),
  request_id: z.string().max(200).optional(),
  asset_id: z.string().regex(/^[0-9a-zA-Z]{1,64}$/).optional(),
  /** Refused (400) unless storable: Cloudinary derives it from our signed folder, never from free text. */
  public_id: storableText().min(1).max(255),
  version: z.number().int().nonnegative(),
  resource_type: CloudinaryResourceType,
  /** Delivery type: `upload` for our signed uploads. */
  type: storableText().min(1),
  format: storableText().max(20).optional(),
  /** Size in bytes. */
  bytes: z.number().int().nonnegative(),
  width: z.number().int().positive().optional(),
  height: z.number().int().positive().optional(),
  secure_url: storableText().regex(/^https:\/\/\S+$/, 'expected an https URL'),
  asset_folder: storableText().max(255).optional(),
  /** The uploader's file name (their free text): repaired (`repairedText`), not refused. */
  original_filename: repairedText().optional(),
  created_at: z.string().optional(),
});
export type CloudinaryUploadNotification = z.infer<typeof CloudinaryUploadNotification>;

/**
 * What cloudinary-webhook did with a verified notification (also stored in
 * webhook_events.outcome):
 * - created / updated: the asset is in `media` (updated: a new version of it);
 * - duplicate: this notification was processed before (nothing changed);
 * - ignored: not an upload notification, or not an upload of ours (outside
 *   `chat-with-me/<user_id>/<purpose>`);
 * - owner_unknown: uploaded into the folder of a user who does not exist: deleted;
 * - refused_too_large / refused_format / refused_resource_type: beyond the
 *   purpose's limits (size, allowed formats, resource type): not recorded, deleted;
 * - conflict: the public_id is recorded for another owner or type (not expected).
 */
export const CloudinaryWebhookOutcome = z.enum([
  'created',
  'updated',
  'duplicate',
  'ignored',
  'owner_unknown',
  'refused_too_large',
  'refused_format',
  'refused_resource_type',
  'conflict',
]);
export type CloudinaryWebhookOutcome = z.infer<typeof CloudinaryWebhookOutcome>;

/** Answer of `cloudinary-webhook` (200 for every verified notification, recorded or not). */
export const CloudinaryWebhookResponse = z.object({
  received: z.literal(true),
  /** Our id of the notification in webhook_events: `upload:<asset_id>:<version>`, else a digest of the body. */
  event_id: z.string(),
  notification_type: z.string(),
  outcome: CloudinaryWebhookOutcome,
  /** The media row (created, updated or already recorded), else null. */
  media_id: Uuid.nullable(),
});
export type CloudinaryWebhookResponse = z.infer<typeof CloudinaryWebhookResponse>;

/**
 * `user:<user_id>` event `media` (Realtime, private channel): cloudinary-webhook
 * processed an upload of this user's: recorded (`media_id` set) or refused
 * (`refused_*`, media_id null; the asset is deleted from Cloudinary).
 * Sent by private.record_cloudinary_upload (20261122130000_media_uploads.sql).
 */
export const MediaEventPayload = z.object({
  id: Uuid.optional(),
  public_id: z.string(),
  media_id: Uuid.nullable(),
  purpose: MediaPurpose,
  outcome: z.enum(['created', 'updated', 'refused_too_large', 'refused_format', 'refused_resource_type', 'conflict']),
});
export type MediaEventPayload = z.infer<typeof MediaEventPayload>;

// -----------------------------------------------------------------------------
// Rows
// -----------------------------------------------------------------------------

/** public.media: a recorded Cloudinary asset, as functions return it. */
export const MediaRow = z.object({
  id: Uuid,
  owner_id: ClerkUserId,
  public_id: z.string(),
  resource_type: CloudinaryResourceType,
  format: z.string().nullable(),
  bytes: z.number().int().nonnegative(),
  width: z.number().int().nullable(),
  height: z.number().int().nullable(),
  secure_url: z.string(),
  purpose: MediaPurpose,
  original_filename: z.string().nullable(),
  created_at: Timestamp,
});
export type MediaRow = z.infer<typeof MediaRow>;

// Compile-time drift check against the generated types (resource_type and purpose are text with CHECKs there).
type Widened<T> = { [K in keyof T]: K extends 'resource_type' | 'purpose' ? string : T[K] };
const mediaRowCheck: Equals<Widened<MediaRow>, Tables<'media'>> = true;
void mediaRowCheck;
