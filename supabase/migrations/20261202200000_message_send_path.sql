-- =============================================================================
-- The send path: what the database does after a message is stored, in one
-- AFTER INSERT trigger on public.messages.
--
-- Each message moves its chat's last message forward, is broadcast to the
-- chat's private Realtime topic, may queue pushes for the other members, may
-- mention members of a group, and in a website widget's chat counts as the
-- agent's reply. These were five AFTER INSERT triggers, one per feature; they
-- are one function now, defined here because it calls every feature's part
-- (mentions, push and widget migrations define those): one trigger call per
-- message instead of five, the chat row read once (by the update that bumps
-- it) for all of them, and the features a message does not concern skipped
-- before any call (no mention work without an '@' or a reply, nothing of the
-- widget outside widget chats). `npm run bench` (bench/sections/send.mjs)
-- measures the send path and splits it by trigger.
--
-- The BEFORE INSERT checks stay where their rules are told:
-- private.check_message_insert (20261122080600_messages.sql) and
-- private.check_message_media (20261122130000_media_uploads.sql, only for a
-- message with media). Updates and deletes are broadcast by
-- private.broadcast_message_change (20261122080600_messages.sql).
--
-- Alike on purpose: the function header (returns, language, security,
-- search_path) and the trigger declaration after it repeat: each object states
-- its own contract (supabase/migrations/README.md, "Shapes that repeat").
-- =============================================================================

/**
 * AFTER INSERT on messages, in this order (the order of the former separate
 * triggers, so a mention's push still merges into the message's push):
 *  1. the chat's last message moves forward (never back);
 *  2. the message is broadcast to `chat:<chat_id>` (private, event INSERT)
 *     by realtime.broadcast_changes, as private.broadcast_message_change
 *     broadcasts updates and deletes (one payload format, Supabase's:
 *     {old_record: null, record, operation, table, schema});
 *  3. pushes for the other members (private.enqueue_message_push);
 *  4. in a group chat, when the text holds an '@' or the message is a reply:
 *     mentions and the reply's notification (private.resolve_mentions);
 *  5. in a widget chat, a member's message counts as the agent's reply
 *     (private.widget_agent_replied).
 *
 * Writing the realtime.messages row directly would save realtime.send's
 * subtransaction and dynamic `set local` (about 20 µs of server time a
 * message, measured A/B), but migrations touch Realtime's table only through
 * Realtime's functions and policies (tests/platform/contract.test.ts). As ever
 * with realtime.send, a failure (e.g. no realtime.messages partition for
 * today yet) is a warning and never refuses the message.
 */
create or replace function private.message_inserted()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_chat public.chats;
  v_topic text := private.chat_topic(new.chat_id);
begin
  update public.chats c
  set last_message_at = new.created_at, last_message_id = new.id
  where c.id = new.chat_id
    and (c.last_message_at is null or c.last_message_at <= new.created_at)
  returning * into v_chat;
  if not found then
    select * into v_chat from public.chats c where c.id = new.chat_id;
  end if;

  perform realtime.broadcast_changes(v_topic, tg_op, tg_op, tg_table_name, tg_table_schema, new, null);

  perform private.enqueue_message_push(new, v_chat, v_topic);
  if v_chat.kind = 'group' and (new.reply_to_id is not null or position('@' in new.content) > 0) then
    perform private.resolve_mentions(new);
  end if;
  if v_chat.kind = 'widget' and new.sender_id is not null then
    perform private.widget_agent_replied(new);
  end if;
  return null;
end;
$$;

create trigger messages_inserted after insert on public.messages
  for each row execute function private.message_inserted();
