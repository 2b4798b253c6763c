/**
 * media-sign: POST `{"purpose": "avatar" | "chat_image" | "chat_file" | "story_image" | "story_video"}` with a
 * Clerk session token → what the client needs for a signed direct upload to
 * Cloudinary (@chat-with-me/shared `MediaSignResponse`).
 *
 * Only an allow-list of upload parameters is signed, all chosen here:
 *   allowed_formats   the purpose's formats (MEDIA_PURPOSES)
 *   folder            <CLOUDINARY_FOLDER>/<caller's user id>/<purpose>
 *   notification_url  cloudinary-webhook (CLOUDINARY_NOTIFICATION_URL, else
 *                     <SUPABASE_URL>/functions/v1/cloudinary-webhook)
 *   timestamp         now (Unix seconds; Cloudinary accepts it for one hour)
 * Cloudinary checks the signature over every parameter posted except file,
 * cloud_name, resource_type and api_key
 * (https://cloudinary.com/documentation/authentication_signatures), so a
 * client cannot add a public_id, a transformation, eager derivations, another
 * folder or notification URL, or other formats. The resource type is in the
 * URL and not signed: cloudinary-webhook refuses an upload whose resource type
 * does not match its folder's purpose. Cloudinary has no signed size limit;
 * `max_bytes` (admin_config) is enforced by cloudinary-webhook (larger uploads
 * are not recorded and are deleted).
 *
 * The body accepts `purpose` only: any other field is a 400, never signed.
 * Runs as the user: ensure_profile() first (an upload notification for a user
 * without a profile would be refused), the per-user limit (admin_config
 * rate_limit.media_sign.*), then the purpose's size limit.
 * Errors: 400 invalid body; 401 no or invalid token; 429 too many signatures
 * (Retry-After); 503 Cloudinary or the database not configured/reachable.
 */
import { MEDIA_PURPOSES, MediaSignRequest, MediaSignResponse, mediaFolder } from '@chat-with-me/shared';
import { z } from 'zod';
import { clerkSessionEnv, requireClerkKey, requireUser } from '../_shared/auth.ts';
import { cloudinaryEnv, signUploadParams, uploadUrl } from '../_shared/cloudinary.ts';
import { callValue, database } from '../_shared/db.ts';
import { platformEnv } from '../_shared/env.ts';
import { defineFunction, json, readJson } from '../_shared/http.ts';
import { rateLimit } from '../_shared/rate-limit.ts';

/** Cloudinary refuses a signed request whose timestamp is more than an hour old. */
const SIGNATURE_TTL_SECONDS = 3600;

const Env = z
  .object({
    ...platformEnv,
    ...clerkSessionEnv,
    ...cloudinaryEnv,
    /**
     * Public URL of cloudinary-webhook, when Cloudinary cannot reach
     * SUPABASE_URL (e.g. a tunnel to a local stack). Must not contain '&'.
     */
    CLOUDINARY_NOTIFICATION_URL: z.url({ protocol: /^https?$/ }).optional(),
  })
  .superRefine(requireClerkKey)
  .superRefine((env, ctx) => {
    if (env.CLOUDINARY_NOTIFICATION_URL?.includes('&')) {
      ctx.addIssue({ code: 'custom', path: ['CLOUDINARY_NOTIFICATION_URL'], message: "must not contain '&'" });
    }
  });

export const handler = defineFunction({ name: 'media-sign', methods: ['POST'], env: Env }, async (req, { env, log }) => {
  const user = await requireUser(req, env);
  const { purpose } = await readJson(req, MediaSignRequest, { maxBytes: 4 * 1024 });

  const maxBytes = await database(env.SUPABASE_DB_URL).asUser(user.claims, async (tx) => {
    await tx`select 1 from public.ensure_profile()`;
    await rateLimit(tx, 'media_sign');
    return callValue(tx, 'media_max_bytes', { p_purpose: purpose });
  });

  const { resource_type, formats } = MEDIA_PURPOSES[purpose];
  const timestamp = Math.floor(Date.now() / 1000);
  const params = {
    allowed_formats: formats.join(','),
    folder: mediaFolder(user.id, purpose, env.CLOUDINARY_FOLDER),
    notification_url: env.CLOUDINARY_NOTIFICATION_URL ?? `${env.SUPABASE_URL.replace(/\/+$/, '')}/functions/v1/cloudinary-webhook`,
    timestamp,
  };
  const signature = signUploadParams(env, params);
  log.info('upload signed', { user_id: user.id, purpose, folder: params.folder });

  return json(MediaSignResponse, {
    purpose,
    upload_url: uploadUrl(env, purpose),
    cloud_name: env.CLOUDINARY_CLOUD_NAME,
    api_key: env.CLOUDINARY_API_KEY,
    resource_type,
    timestamp,
    signature,
    signature_algorithm: env.CLOUDINARY_SIGNATURE_ALGORITHM,
    params,
    allowed_formats: [...formats],
    max_bytes: maxBytes,
    expires_at: new Date((timestamp + SIGNATURE_TTL_SECONDS) * 1000).toISOString(),
  });
});
