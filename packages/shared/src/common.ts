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

/** True when A and B are the same type (compile-time drift checks against the generated Database types). */
export type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
