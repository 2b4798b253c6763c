/**
 * The private Realtime channels and their payloads
 * (20261122080700_realtime_authorization.sql decides who receives and sends;
 * https://supabase.com/docs/guides/realtime/authorization). A client
 * subscribes with `supabase.channel(topic, { config: { private: true } })` and
 * `.on('broadcast', { event }, ({ payload }) => …)`; parse `payload` with the
 * schema of its event.
 *
 * What a client may trust depends on the topic, never on the event name
 * (Realtime's send check sees only the topic):
 * - `chatTopic(id)` and `userTopic(id)`: only the database publishes there (no
 *   client may send, not even a member or the user themselves), so each event
 *   is what the database stored or decided: a message's sender, an AI answer,
 *   a read receipt are real.
 * - `chatPresenceTopic(id)`: every member of the chat publishes there (typing,
 *   Presence), with any payload. Nothing on it is vouched for: a `user_id` in
 *   a typing event or a Presence state is what some member claims. Use it for
 *   hints (who is typing, who is online), show only ids that are members of the
 *   chat, and never take it for a message or a receipt.
 *
 * realtime.send() adds an `id` (uuid of the broadcast) to a payload that has
 * none (https://supabase.com/docs/guides/realtime/broadcast), so every payload
 * the database sends may carry one; the schemas accept and keep it.
 */
import { z } from 'zod';
import { ClerkUserId, JsonValue, Timestamp, Uuid } from './common.ts';
import { Constants } from './database.types.ts';
import { MessageRow } from './rows.ts';
import { MediaEventPayload } from './functions/media.ts';
import { DeliveredPayload, MessagePinnedPayload, ReactionPayload } from './messaging.ts';

/**
 * Topic of a chat's record: message changes, read receipts, chat updates.
 * Members receive (Broadcast only); only the database sends there.
 */
export const chatTopic = (chatId: string) => `chat:${chatId}`;
/**
 * Topic of a user's own events: notifications, membership and balance changes,
 * uploads. That user receives (Broadcast only); only the database sends there.
 */
export const userTopic = (userId: string) => `user:${userId}`;
/**
 * Topic where a chat's members publish about themselves: `typing` (Broadcast)
 * and online state (Presence). Members receive and send (not in a direct chat
 * with a block between the two); the database never publishes there.
 */
export const chatPresenceTopic = (chatId: string) => `chat:${chatId}:presence`;

const broadcastId = { id: Uuid.optional() };

/**
 * `chat:<chat_id>` events INSERT, UPDATE, DELETE: a message changed
 * (realtime.broadcast_changes from the messages trigger, 20261122080600_messages.sql).
 * INSERT has `old_record: null`, DELETE has `record: null`. A soft delete is an
 * UPDATE with `deleted_at` set and content ''.
 */
export const MessageChangePayload = z.object({
  ...broadcastId,
  operation: z.enum(['INSERT', 'UPDATE', 'DELETE']),
  table: z.literal('messages'),
  schema: z.literal('public'),
  record: MessageRow.nullable(),
  old_record: MessageRow.nullable(),
});
export type MessageChangePayload = z.infer<typeof MessageChangePayload>;

/** `chat:<chat_id>` event `read`: a member read the chat up to a message (mark_chat_read). */
export const ReadReceiptPayload = z.object({
  ...broadcastId,
  user_id: ClerkUserId,
  message_id: Uuid,
  /** created_at of that message. */
  read_at: Timestamp,
});
export type ReadReceiptPayload = z.infer<typeof ReadReceiptPayload>;

/**
 * `chat:<chat_id>` event `chat_updated`: the chat's title changed (an untitled
 * assistant chat is named after its first AI exchange, 20261122120000_ai.sql).
 */
export const ChatUpdatedPayload = z.object({ ...broadcastId, chat_id: Uuid, title: z.string().nullable() });
export type ChatUpdatedPayload = z.infer<typeof ChatUpdatedPayload>;

/** `user:<user_id>` event `notification`: a row inserted in public.notifications (20261122080200_notifications.sql). */
export const NotificationPayload = z.object({
  /** The notification's id (so realtime.send adds none). */
  id: Uuid,
  /** friend_request, friend_request_accepted, chat_added, low_balance, topup_succeeded, … */
  kind: z.string(),
  /** Kind-specific data (ids, names, amounts in micro-USD). */
  payload: JsonValue,
  created_at: Timestamp,
});
export type NotificationPayload = z.infer<typeof NotificationPayload>;

export const ChatMemberRole = z.enum(Constants.public.Enums.chat_member_role);

/** `user:<user_id>` event `chat_added`: the user became a member of a chat (20261122080400_chats.sql). */
export const ChatAddedPayload = z.object({ ...broadcastId, chat_id: Uuid, role: ChatMemberRole.optional() });
export type ChatAddedPayload = z.infer<typeof ChatAddedPayload>;

/** `user:<user_id>` event `chat_removed`: the user left or was removed from a chat, or it was deleted. */
export const ChatRemovedPayload = z.object({ ...broadcastId, chat_id: Uuid, role: ChatMemberRole.optional() });
export type ChatRemovedPayload = z.infer<typeof ChatRemovedPayload>;

/** `user:<user_id>` event `balance`: a credit ledger entry moved the wallet (20261122100000_credits.sql). Amounts in micro-USD. */
export const BalancePayload = z.object({
  ...broadcastId,
  balance_micro_usd: z.number().int().nonnegative(),
  change_micro_usd: z.number().int(),
  kind: z.enum(Constants.public.Enums.ledger_entry_kind),
  source: z.string(),
});
export type BalancePayload = z.infer<typeof BalancePayload>;

// Alike on purpose: a payload schema, then the map of a channel's events by name, as ai-chat.ts maps its SSE events.
/** Every event on `chat:<chat_id>` (only the database sends there), by event name. */
export const ChatChannelEvents = {
  INSERT: MessageChangePayload,
  UPDATE: MessageChangePayload,
  DELETE: MessageChangePayload,
  read: ReadReceiptPayload,
  chat_updated: ChatUpdatedPayload,
  /** add_reaction / remove_reaction (messaging.ts). */
  reaction: ReactionPayload,
  /** mark_delivered (messaging.ts). */
  delivered: DeliveredPayload,
  /** pin_message / unpin_message (messaging.ts). */
  message_pinned: MessagePinnedPayload,
} as const;

/** Every event on `user:<user_id>` (only the database sends there), by event name. */
export const UserChannelEvents = {
  notification: NotificationPayload,
  chat_added: ChatAddedPayload,
  chat_removed: ChatRemovedPayload,
  balance: BalancePayload,
  /** An upload recorded or refused by cloudinary-webhook (functions/media.ts). */
  media: MediaEventPayload,
} as const;

/**
 * `chat:<chat_id>:presence` event `typing` (Broadcast), sent by a member's
 * client: `{user_id, typing}`. `user_id` is the sender's claim (any member may
 * send any payload here): show it only for a member of the chat, as a hint.
 */
export const TypingPayload = z.object({ user_id: ClerkUserId, typing: z.boolean() });
export type TypingPayload = z.infer<typeof TypingPayload>;

/** Every Broadcast event on `chat:<chat_id>:presence` (sent by members' clients), by event name. */
export const ChatPresenceEvents = {
  typing: TypingPayload,
} as const;

/**
 * What a member tracks with Presence on `chat:<chat_id>:presence`
 * (`channel.track(state)`; https://supabase.com/docs/guides/realtime/presence):
 * `{user_id, online_at}`. A claim of that member's client, like typing.
 */
export const ChatPresenceState = z.object({ user_id: ClerkUserId, online_at: Timestamp });
export type ChatPresenceState = z.infer<typeof ChatPresenceState>;
