-- =============================================================================
-- Realtime authorization: who may receive and send on which private channel.
--
-- Realtime checks a join by selecting probe rows from realtime.messages with
-- `realtime.topic()` set, and a client send (Broadcast, Presence) by inserting
-- one (PLATFORM.md §3): SELECT policies control receiving, INSERT policies
-- control sending.
--   chat:<chat_id>   members receive message changes and read receipts, and
--                    send typing indicators (Broadcast) and presence (Presence)
--   user:<user_id>   that user receives notifications, chat membership changes
--                    and balance events; only the database sends there
-- Only CREATE POLICY touches realtime.messages here: on a hosted project that is
-- all supautils lets `postgres` do on it (no COMMENT ON POLICY).
-- =============================================================================

/**
 * True when the caller may receive on `p_topic`: `chat:<uuid>` of a chat they
 * are a member of, or their own `user:<id>`. Malformed topics are refused, not
 * errors.
 */
create or replace function private.can_receive_topic(p_topic text)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select case
    when p_topic ~ '^chat:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then
      exists (
        select 1 from public.chat_members m
        where m.chat_id = substr(p_topic, 6)::uuid and m.user_id = private.current_user_id()
      )
    when p_topic like 'user:%' then
      substr(p_topic, 6) = private.current_user_id()
    else false
  end
$$;

/**
 * True when the caller may send Broadcast/Presence on `p_topic`: only
 * `chat:<uuid>` of their chats, and not a direct chat with a user in a block
 * with them (a client broadcast carries any payload: it would be a message).
 */
create or replace function private.can_send_topic(p_topic text)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select case
    when p_topic not like 'chat:%' or not private.can_receive_topic(p_topic) then false
    else not exists (
      select 1
      from public.chats c join public.chat_members m on m.chat_id = c.id
      where c.id = substr(p_topic, 6)::uuid and c.kind = 'direct'
        and m.user_id <> private.current_user_id()
        and private.is_blocked_between(private.current_user_id(), m.user_id)
    )
  end
$$;

grant execute on function private.can_receive_topic(text) to authenticated;
grant execute on function private.can_send_topic(text) to authenticated;

create policy "Members receive their chats' and their own user channel"
  on realtime.messages for select to authenticated
  using (
    extension in ('broadcast', 'presence')
    and (select private.can_receive_topic((select realtime.topic())))
  );

create policy "Members send typing and presence on their chats' channels"
  on realtime.messages for insert to authenticated
  with check (
    extension in ('broadcast', 'presence')
    and (select private.can_send_topic((select realtime.topic())))
  );
