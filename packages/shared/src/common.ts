/**
 * Building blocks shared by every schema: ids and timestamps as they travel in
 * JSON (function bodies, Realtime payloads).
 */
import { z } from 'zod';
import type { Json } from './database.types.ts';

/**
 * A Clerk user id (`user_` + base62), the `sub` claim of a session token and
 * the primary key of public.users (same pattern as its CHECK constraint).
 * Source: https://clerk.com/docs/references/backend/types/backend-user
 */
export const ClerkUserId = z.string().regex(/^user_[A-Za-z0-9]{1,64}$/, 'expected a Clerk user id (user_…)');
export type ClerkUserId = z.infer<typeof ClerkUserId>;

/** A uuid (database primary keys of chats, messages, notifications…). */
export const Uuid = z.uuid();

/**
 * An ISO 8601 timestamp with a time zone, as JSON carries a `timestamptz`:
 * `2026-11-22T08:00:00.123Z` from the functions, `2026-11-22T08:00:00.123456+00:00`
 * from Postgres' own JSON (Realtime payloads).
 */
export const Timestamp = z.iso.datetime({ offset: true });

/** Any JSON value (a `jsonb` column). */
export const JsonValue: z.ZodType<Json> = z.json();

/**
 * The 200 answer of a webhook function (clerk-webhook, stripe-webhook): the
 * provider stops retrying on 200 (any other status makes it retry with
 * backoff). `event_id` is the provider's id of the delivery, `type` its event
 * type, `outcome` what handling it did (each webhook's own enum).
 */
export function webhookReceipt<Outcome extends z.ZodType>(outcome: Outcome) {
  return z.object({ received: z.literal(true), event_id: z.string(), type: z.string(), outcome });
}

/** True when A and B are the same type (compile-time drift checks against the generated Database types). */
export type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;

// -----------------------------------------------------------------------------
// Storable text
// -----------------------------------------------------------------------------

/**
 * `String.prototype.isWellFormed` / `toWellFormed` (ES2024; Node 20+, Deno,
 * browsers since 2023), typed here because the package compiles against an
 * ES2022 library. https://tc39.es/ecma262/#sec-string.prototype.iswellformed
 */
const wellFormed = String.prototype as unknown as { isWellFormed(this: string): boolean; toWellFormed(this: string): string };

/**
 * True when PostgreSQL can store `s` as `text` unchanged: no NUL character
 * (U+0000; PostgreSQL text cannot hold it: https://www.postgresql.org/docs/current/datatype-character.html)
 * and valid Unicode (no lone UTF-16 surrogate such as '\ud800', which has no
 * UTF-8 encoding: it would be stored as U+FFFD, or refused).
 */
export function isStorableText(s: string): boolean {
  return !s.includes('\u0000') && wellFormed.isWellFormed.call(s);
}

/** Message of the 400 for text that cannot be stored. */
export const UNSTORABLE_TEXT_MESSAGE = 'text must be valid Unicode without NUL characters (U+0000)';

/**
 * A string a client sends that we will store: refused (a Zod issue, so a 400
 * with the issues) unless `isStorableText`. Chain the usual checks after it,
 * e.g. `storableText().trim().min(1).max(8000)`. Used by every request schema
 * that carries text, so unstorable text is refused before any provider call
 * or database write.
 */
export function storableText() {
  return z.string().refine(isStorableText, { message: UNSTORABLE_TEXT_MESSAGE });
}

/**
 * Makes text storable instead of refusing it: NULs removed, lone surrogates
 * replaced with U+FFFD (`toWellFormed`). For text we do not control and must
 * keep: a provider's answer before it is stored, and names in signed webhooks
 * (clerk-webhook, cloudinary-webhook) where a refusal would only make the
 * sender retry the same payload forever.
 */
export function toStorableText(s: string): string {
  return wellFormed.toWellFormed.call(s.replaceAll('\u0000', ''));
}

/** A string repaired with `toStorableText` (for text from signed webhooks; see there). */
export function repairedText() {
  return z.string().transform(toStorableText);
}
