/**
 * Messaging features (docs/messaging.md): the shapes of the reaction summary
 * and delivery status that messages carry as computed fields
 * (`select('*, reactions, delivery')` on messages or get_chat_history, and
 * get_inbox's last_message_reactions / last_message_delivery), the Realtime
 * events `reaction` and `delivered` on `chat:<chat_id>`, and the payloads of
 * the `mention` and `reply` notifications.
 */
import { z } from 'zod';
import { ClerkUserId, Timestamp, Uuid } from './common.ts';

/** One emoji's reactions on a message: how many users reacted with it, and whether the caller did. */
export const ReactionCount = z.object({ emoji: z.string().min(1).max(16), count: z.number().int().positive(), reacted: z.boolean() });
export type ReactionCount = z.infer<typeof ReactionCount>;

/** public.reactions(messages), add_reaction, remove_reaction: most used first. */
export const ReactionSummary = z.array(ReactionCount);
export type ReactionSummary = z.infer<typeof ReactionSummary>;

/**
 * public.delivery(messages): `recipients` are the members other than the
 * sender who had joined when it was sent; `status` is 'read' when all of them
 * read it, 'delivered' when all have it, else 'sent'.
 */
export const DeliveryStatus = z.object({
  status: z.enum(['sent', 'delivered', 'read']),
  recipients: z.number().int().nonnegative(),
  delivered: z.number().int().nonnegative(),
  read: z.number().int().nonnegative(),
});
export type DeliveryStatus = z.infer<typeof DeliveryStatus>;

/** Arguments of add_reaction / remove_reaction: one emoji, 1-16 characters, no spaces. */
export const ReactionInput = z.object({ p_message_id: Uuid, p_emoji: z.string().min(1).max(16).regex(/^\S+$/u) });
export type ReactionInput = z.infer<typeof ReactionInput>;

/** `chat:<chat_id>` event `reaction`: a member added or removed a reaction (add_reaction / remove_reaction). */
export const ReactionPayload = z.object({
  id: Uuid.optional(),
  message_id: Uuid,
  user_id: ClerkUserId,
  emoji: z.string(),
  action: z.enum(['added', 'removed']),
});
export type ReactionPayload = z.infer<typeof ReactionPayload>;

/** `chat:<chat_id>` event `delivered`: a member's device has the chat's messages up to message_id (mark_delivered). */
export const DeliveredPayload = z.object({
  id: Uuid.optional(),
  user_id: ClerkUserId,
  message_id: Uuid,
  /** created_at of that message. */
  delivered_at: Timestamp,
});
export type DeliveredPayload = z.infer<typeof DeliveredPayload>;

/** `chat:<chat_id>` event `message_pinned`: a member pinned or unpinned a message (pin_message / unpin_message). */
export const MessagePinnedPayload = z.object({
  id: Uuid.optional(),
  message_id: Uuid,
  user_id: ClerkUserId,
  action: z.enum(['pinned', 'unpinned']),
});
export type MessagePinnedPayload = z.infer<typeof MessagePinnedPayload>;

/** Notification kinds `mention` and `reply`: someone mentioned the user, or replied to their message, in a group. */
export const MentionNotificationPayload = z.object({ chat_id: Uuid, message_id: Uuid, sender_id: ClerkUserId });
export type MentionNotificationPayload = z.infer<typeof MentionNotificationPayload>;
