/**
 * `clerk-webhook` (POST, called by Clerk through Svix): the subset of Clerk's
 * webhook payloads we read, and our answer.
 *
 * Payload shapes: https://clerk.com/docs/webhooks/overview (event envelope)
 * and https://clerk.com/docs/reference/backend-api/tag/users (User object);
 * the same types ship in @clerk/backend (`UserWebhookEvent`, `UserJSON`,
 * `UserDeletedJSON`). Timestamps in Clerk payloads are Unix epoch milliseconds.
 * Unknown fields are ignored, so Clerk adding fields never breaks us.
 *
 * Text we store (names, username, email, image URL, provider) is REPAIRED,
 * not refused (`repairedText`: NULs removed, lone surrogates replaced with
 * U+FFFD). Decision: the payload is signed by Clerk and describes a user who
 * exists there; a 400 would only make Svix redeliver the same payload until it
 * gives up, leaving the profile unsynced. Client requests, which the caller can
 * correct, are refused instead (`storableText`).
 */
import { z } from 'zod';
import { ClerkUserId, repairedText, storableText, webhookReceipt } from '../common.ts';

/**
 * Verification of an email address or phone number: `status` is `verified`
 * once the user proved they own it (code, link, OAuth provider).
 * https://clerk.com/docs/reference/backend/types/backend-verification
 */
export const ClerkVerification = z.object({ status: z.string() });

/** One of the user's email addresses; the primary one is named by `primary_email_address_id`. */
export const ClerkEmailAddress = z.object({
  id: z.string(),
  email_address: repairedText(),
  verification: ClerkVerification.nullish(),
});

/** One of the user's phone numbers (E.164, e.g. +15555550100). */
export const ClerkPhoneNumber = z.object({
  id: z.string(),
  phone_number: repairedText(),
  verification: ClerkVerification.nullish(),
});

/** An OAuth connection; `provider` is e.g. `oauth_google` (we store `google`). */
export const ClerkExternalAccount = z.object({
  provider: repairedText(),
});

/** Clerk `User` object (`data` of user.created and user.updated). */
export const ClerkUser = z.object({
  id: ClerkUserId,
  object: z.literal('user').optional(),
  username: repairedText().nullish(),
  first_name: repairedText().nullish(),
  last_name: repairedText().nullish(),
  /** Clerk-hosted avatar (https://img.clerk.com/…), present even without an uploaded image. */
  image_url: repairedText().nullish(),
  primary_email_address_id: z.string().nullish(),
  email_addresses: z.array(ClerkEmailAddress).default([]),
  /** Id of the primary phone number among `phone_numbers` (phone sign-in), or null. */
  primary_phone_number_id: z.string().nullish(),
  phone_numbers: z.array(ClerkPhoneNumber).default([]),
  external_accounts: z.array(ClerkExternalAccount).default([]),
  /** Set from the Clerk dashboard or Backend API; `is_admin: true` or `role: "admin"` make an admin. */
  public_metadata: z.record(z.string(), z.unknown()).nullish(),
  /** Epoch milliseconds. */
  created_at: z.number().int(),
  /** Epoch milliseconds: orders deliveries (an older payload never overwrites a newer one). */
  updated_at: z.number().int(),
});
export type ClerkUser = z.infer<typeof ClerkUser>;

/** `data` of user.deleted. */
export const ClerkDeletedUser = z.object({
  id: ClerkUserId,
  object: z.literal('user').optional(),
  deleted: z.literal(true),
});

const envelope = {
  object: z.literal('event'),
  /** Epoch milliseconds when Clerk emitted the event. */
  timestamp: z.number().int().optional(),
  instance_id: z.string().optional(),
};

/** The envelope of any Clerk webhook event (types we do not handle are acknowledged and ignored). */
export const ClerkWebhookEnvelope = z.object({
  ...envelope,
  type: storableText().min(1).max(100),
  data: z.record(z.string(), z.unknown()),
});

/** The user events clerk-webhook applies. */
export const ClerkUserEvent = z.discriminatedUnion('type', [
  z.object({ ...envelope, type: z.literal('user.created'), data: ClerkUser }),
  z.object({ ...envelope, type: z.literal('user.updated'), data: ClerkUser }),
  z.object({ ...envelope, type: z.literal('user.deleted'), data: ClerkDeletedUser }),
]);
export type ClerkUserEvent = z.infer<typeof ClerkUserEvent>;

/**
 * What processing did:
 * - created / updated: the profile was written;
 * - unchanged: a payload with the same updated_at was already applied;
 * - stale: an older payload than the one applied (out-of-order delivery), skipped;
 * - after_delete: the user was already deleted, skipped;
 * - deleted / not_found: user.deleted applied (not_found: there was no profile);
 * - ignored: an event type we do not handle;
 * - duplicate: this event id was already processed (a redelivery), nothing done.
 */
export const ClerkWebhookOutcome = z.enum([
  'created', 'updated', 'unchanged', 'stale', 'after_delete', 'deleted', 'not_found', 'ignored', 'duplicate',
]);
export type ClerkWebhookOutcome = z.infer<typeof ClerkWebhookOutcome>;

/**
 * 200 answer: Svix stops retrying (any 4xx/5xx makes Svix retry with
 * backoff); `event_id` is the Svix message id (`svix-id` header).
 */
export const ClerkWebhookResponse = webhookReceipt(ClerkWebhookOutcome);
export type ClerkWebhookResponse = z.infer<typeof ClerkWebhookResponse>;
