/**
 * Table rows as the functions return them in JSON, checked at compile time
 * against the generated Database types (database.types.ts): a migration that
 * changes a column breaks `npm run typecheck` here until the schema follows.
 */
import { z } from 'zod';
import { ClerkUserId, type Equals, JsonValue, Timestamp, Uuid } from './common.ts';
import { Constants, type Tables } from './database.types.ts';

/** public.users: the public profile every signed-in user may read. */
export const UserProfile = z.object({
  id: ClerkUserId,
  /** Shown name (≤ 100 characters; may be empty). */
  display_name: z.string(),
  /** Unique handle, 3-32 of [A-Za-z0-9_.-], case-insensitive; null until chosen. */
  username: z.string().nullable(),
  /** HTTPS avatar URL (Clerk image_url or a Cloudinary secure_url). */
  avatar_url: z.string().nullable(),
  /** The avatar uploaded through media-sign (a media row with purpose avatar), when avatar_url comes from one. */
  avatar_media_id: Uuid.nullable(),
  about: z.string(),
  last_seen_at: Timestamp.nullable(),
  created_at: Timestamp,
  updated_at: Timestamp,
});
export type UserProfile = z.infer<typeof UserProfile>;

/** public.user_accounts: account data only its owner reads. */
export const UserAccount = z.object({
  user_id: ClerkUserId,
  /** Primary email from Clerk, null when the account has none. */
  email: z.string().nullable(),
  /** `email`, or the OAuth provider without Clerk's `oauth_` prefix (google, apple, …). */
  auth_provider: z.string(),
  /** From Clerk public metadata `is_admin: true` or `role: "admin"`. */
  is_admin: z.boolean(),
  /** Clerk `updated_at` of the last applied webhook payload; null while only ensure_profile() created it. */
  clerk_updated_at: Timestamp.nullable(),
  /** Set while an admin has suspended the account (admin_suspend_user); every table, RPC and function refuses it. */
  suspended_at: Timestamp.nullable(),
  /** The admin's reason for the suspension. */
  suspended_reason: z.string().nullable(),
  /** Verified phone number from Clerk in E.164 ("+14155550100"), null without one (20261202110600_contact_discovery.sql). */
  phone_number: z.string().nullable(),
  /** Opt-in to being found by phone number through discover_contacts; default false (set_phone_discoverable). */
  discoverable_by_phone: z.boolean(),
  created_at: Timestamp,
  updated_at: Timestamp,
});
export type UserAccount = z.infer<typeof UserAccount>;

export const MessageKind = z.enum(Constants.public.Enums.message_kind);

/** public.messages, as broadcast on `chat:<chat_id>` by realtime.broadcast_changes (row_to_json). */
export const MessageRow = z.object({
  id: Uuid,
  chat_id: Uuid,
  /** Author; null for ai/system messages and after the author's account is deleted. */
  sender_id: z.string().nullable(),
  kind: MessageKind,
  /** ≤ 8000 characters; '' once deleted. */
  content: z.string(),
  reply_to_id: Uuid.nullable(),
  forwarded: z.boolean(),
  media_id: Uuid.nullable(),
  /** The sender's idempotency key. */
  client_id: z.string().nullable(),
  metadata: JsonValue,
  created_at: Timestamp,
  edited_at: Timestamp.nullable(),
  deleted_at: Timestamp.nullable(),
});
export type MessageRow = z.infer<typeof MessageRow>;

// Compile-time drift checks: each schema's output type is exactly the table's Row.
const rowChecks: [
  Equals<UserProfile, Tables<'users'>>,
  Equals<UserAccount, Tables<'user_accounts'>>,
  // reactions and delivery are computed fields (docs/messaging.md), not stored columns: selected on demand, never in a Realtime record.
  Equals<Omit<MessageRow, 'metadata'>, Omit<Tables<'messages'>, 'metadata' | 'reactions' | 'delivery'>>,
] = [true, true, true];
void rowChecks;
