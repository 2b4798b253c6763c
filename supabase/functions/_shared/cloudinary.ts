/**
 * Cloudinary for the functions (media-sign, cloudinary-webhook): configuration
 * from the environment, and the `cloudinary` Node SDK's signing utilities.
 *
 * The SDK runs in Deno through `npm:` (node: built-ins): its pure utilities,
 * `utils.api_sign_request` (upload signatures,
 * https://cloudinary.com/documentation/authentication_signatures) and
 * `utils.verifyNotificationSignature` (notification signatures,
 * https://cloudinary.com/documentation/notification_signatures), are all the
 * functions use. Its HTTP calls (uploader, Admin API) also run in Deno, but the
 * SDK picks node:http or node:https once, when its modules load, from
 * CLOUDINARY_URL's `upload_prefix`; the functions make no Cloudinary calls, and
 * deletions go through scripts/media-cleanup.mjs (Node) instead.
 *
 * Variables (supabase/functions/.env.example):
 * - CLOUDINARY_CLOUD_NAME, CLOUDINARY_API_KEY, CLOUDINARY_API_SECRET (required);
 * - CLOUDINARY_UPLOAD_PREFIX: API base, the SDK's `upload_prefix` option
 *   (default https://api.cloudinary.com; the local stand-in's URL locally);
 * - CLOUDINARY_SIGNATURE_ALGORITHM: sha1 (default) or sha256, the SDK's
 *   `signature_algorithm`; must match the account's setting;
 * - CLOUDINARY_FOLDER: root folder of uploads (default chat-with-me), so that
 *   several environments can share one Cloudinary account.
 * The API secret never leaves this module's callers and is never logged.
 */
import { v2 as cloudinary } from 'cloudinary';
import { MEDIA_FOLDER_ROOT, MEDIA_PURPOSES, type MediaPurpose } from '@chat-with-me/shared';
import { z } from 'zod';
import type { EnvOf } from './env.ts';

/** Environment of a function that signs or verifies Cloudinary requests. */
export const cloudinaryEnv = {
  /** Cloud name (Console → Settings → API Keys). */
  CLOUDINARY_CLOUD_NAME: z.string().regex(/^[A-Za-z0-9_-]{1,100}$/, 'expected a Cloudinary cloud name'),
  /** API key (public: it is sent with every signed upload). */
  CLOUDINARY_API_KEY: z.string().regex(/^[A-Za-z0-9_-]{1,100}$/, 'expected a Cloudinary API key'),
  /** API secret: signs uploads, verifies notifications. */
  CLOUDINARY_API_SECRET: z.string().min(8, 'expected a Cloudinary API secret'),
  /** API base URL (the SDK's upload_prefix), without a trailing slash. */
  CLOUDINARY_UPLOAD_PREFIX: z
    .url({ protocol: /^https?$/ })
    .default('https://api.cloudinary.com')
    .transform((u) => u.replace(/\/+$/, '')),
  CLOUDINARY_SIGNATURE_ALGORITHM: z.enum(['sha1', 'sha256']).default('sha1'),
  /** Root folder: uploads go to <root>/<user_id>/<purpose>. */
  CLOUDINARY_FOLDER: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,50}(\/[A-Za-z0-9_-]{1,50}){0,3}$/, 'expected a folder path like chat-with-me')
    .default(MEDIA_FOLDER_ROOT),
};

/** The validated Cloudinary variables. */
export type CloudinaryEnv = EnvOf<typeof cloudinaryEnv>;

/**
 * Configures the SDK's global config (the signing utilities read the secret
 * and the algorithm from it). Idempotent; call before signing or verifying.
 */
export function configureCloudinary(env: CloudinaryEnv): typeof cloudinary {
  cloudinary.config({
    cloud_name: env.CLOUDINARY_CLOUD_NAME,
    api_key: env.CLOUDINARY_API_KEY,
    api_secret: env.CLOUDINARY_API_SECRET,
    upload_prefix: env.CLOUDINARY_UPLOAD_PREFIX,
    signature_algorithm: env.CLOUDINARY_SIGNATURE_ALGORITHM,
    secure: true,
  });
  return cloudinary;
}

/** Upload parameters we sign: values are strings or integers. */
export type SignableParams = Record<string, string | number>;

/**
 * Signs upload parameters with the SDK (`utils.api_sign_request`): sorted by
 * name, `name=value` joined with `&`, the API secret appended, hex digest with
 * the configured algorithm. A value containing `&` is refused: the SDK (v2.7+)
 * escapes it as %26 before signing (against parameter smuggling), which the
 * documented algorithm does not, so such a signature would be ambiguous.
 */
export function signUploadParams(env: CloudinaryEnv, params: SignableParams): string {
  for (const [k, v] of Object.entries(params)) {
    if (String(v).includes('&')) throw new Error(`refusing to sign ${k}: its value contains '&'`);
  }
  return configureCloudinary(env).utils.api_sign_request(params, env.CLOUDINARY_API_SECRET);
}

/**
 * Verifies a notification with the SDK (`utils.verifyNotificationSignature`):
 * hex digest of body + X-Cld-Timestamp + API secret equals X-Cld-Signature,
 * and the timestamp is not older than `validForSeconds`. The SDK does not
 * refuse timestamps in the future; `maxFutureSeconds` does.
 */
export function verifyNotification(
  env: CloudinaryEnv,
  body: string,
  timestamp: number,
  signature: string,
  { validForSeconds, maxFutureSeconds }: { validForSeconds: number; maxFutureSeconds: number },
): boolean {
  if (timestamp > Math.floor(Date.now() / 1000) + maxFutureSeconds) return false;
  return configureCloudinary(env).utils.verifyNotificationSignature(body, timestamp, signature, validForSeconds);
}

/** Where a purpose's uploads go: `<upload prefix>/v1_1/<cloud>/<resource_type>/upload`. */
export function uploadUrl(env: CloudinaryEnv, purpose: MediaPurpose): string {
  const resourceType = MEDIA_PURPOSES[purpose].resource_type;
  return `${env.CLOUDINARY_UPLOAD_PREFIX}/v1_1/${encodeURIComponent(env.CLOUDINARY_CLOUD_NAME)}/${resourceType}/upload`;
}
