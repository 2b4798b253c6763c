/**
 * Push notifications through Firebase Cloud Messaging (HTTP v1): the RPCs'
 * arguments (register_push_device) and `push-dispatch`'s request and answer.
 *
 * push-dispatch (POST, called by a Database Webhook, Supabase Cron or the
 * local stack with `Authorization: Bearer <PUSH_DISPATCH_SECRET>`): drains
 * the push outbox once (docs/push.md). A Database Webhook's own payload
 * (`{type, table, record, …}`) is accepted and ignored.
 */
import { z } from 'zod';

/** Platforms of a registered FCM token: Android, iOS (APNs through FCM), web push through FCM. */
export const PushPlatform = z.enum(['android', 'ios', 'web']);
export type PushPlatform = z.infer<typeof PushPlatform>;

/** Arguments of the `register_push_device` RPC (https://firebase.google.com/docs/cloud-messaging/manage-tokens). */
export const RegisterPushDeviceArgs = z.object({
  p_token: z.string().min(20).max(4096).regex(/^\S+$/, 'an FCM registration token has no spaces'),
  p_platform: PushPlatform,
  p_app_version: z.string().min(1).max(50).optional(),
});
export type RegisterPushDeviceArgs = z.infer<typeof RegisterPushDeviceArgs>;

/** Body of a push-dispatch call: `limit` rows at most (1..500, default 100); other fields are ignored. */
export const PushDispatchRequest = z.looseObject({
  limit: z.int().min(1).max(500).optional(),
});
export type PushDispatchRequest = z.infer<typeof PushDispatchRequest>;

/** What one push-dispatch run did (counts of outbox rows, except `removed_tokens` and `fcm_messages`). */
export const PushDispatchResponse = z.object({
  /** Outbox rows taken. */
  claimed: z.int().min(0),
  /** Rows now sent to every device of their user. */
  sent: z.int().min(0),
  /** Rows scheduled again (FCM 429/5xx or unreachable), after Retry-After or backoff. */
  retried: z.int().min(0),
  /** Rows given up after push.max_attempts. */
  failed: z.int().min(0),
  /** Messages FCM accepted in this run (one per device). */
  fcm_messages: z.int().min(0),
  /** Device tokens removed because FCM reported them UNREGISTERED or invalid. */
  removed_tokens: z.int().min(0),
});
export type PushDispatchResponse = z.infer<typeof PushDispatchResponse>;
