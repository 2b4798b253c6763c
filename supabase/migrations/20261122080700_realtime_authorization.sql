-- =============================================================================
-- Realtime authorization: who may receive and send on which private channel.
--
-- Realtime checks a join by selecting probe rows from realtime.messages with
-- `realtime.topic()` set, and a client send (Broadcast, Presence) by inserting
-- one: SELECT policies control receiving, INSERT policies control sending
-- (https://supabase.com/docs/guides/realtime/authorization). The send check
-- sees the topic and the extension, never the event name, so whatever the
-- database publishes goes on topics no client may send on, and what clients
-- publish goes on topics of its own:
--   chat:<chat_id>           the chat's record, published only by the database
--                            (message INSERT/UPDATE/DELETE, `read` receipts,
--                            `chat_updated`): members receive (Broadcast), nobody
--                            sends
--   user:<user_id>           that user's events, published only by the
--                            database (notifications, chat_added/chat_removed,
--                            balance, media): that user receives, nobody sends
--   chat:<chat_id>:presence  what members say about themselves (typing as
--                            Broadcast, online state as Presence): members
--                            receive and send, except in a direct chat with a
--                            block between the two
-- The database publishes with realtime.send() from security-definer functions
-- owned by `postgres` (BYPASSRLS), so the INSERT policy never applies to it.
-- Only CREATE POLICY touches realtime.messages here: on a hosted project that is
-- all supautils lets `postgres` do on it (no COMMENT ON POLICY).
--
-- Alike on purpose: function headers (returns, language, security, search_path,
-- the caller's id) and table declarations (grants, RLS, policies) repeat: each
-- object states its own contract (supabase/migrations/README.md, "Shapes that repeat").
-- =============================================================================

/**
 * The caller's chat behind a `chat:<uuid>` or `chat:<uuid>:presence` topic:
 * the chat id when the caller is a member of it, else null (also for any
 * other or malformed topic). Lower-case uuids only, as private.chat_topic()
 * writes them.
 */
create or replace function private.realtime_member_chat(p_topic text)
returns uuid
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  v_chat uuid;
begin
  if p_topic is null or p_topic !~ '^chat:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(:presence)?$' then
    return null;
  end if;
  v_chat := substr(p_topic, 6, 36)::uuid;
  if exists (
    select 1 from public.chat_members m
    where m.chat_id = v_chat and m.user_id = nullif(auth.jwt() ->> 'sub', '')
  ) then
    return v_chat;
  end if;
  return null;
end;
$$;

/**
 * The extensions ('broadcast', 'presence') on which the caller may receive
 * `p_topic`: `{broadcast}` on `chat:<id>` of their chats and on their own
 * `user:<id>`; `{broadcast,presence}` on `chat:<id>:presence` of their chats;
 * `{}` otherwise (malformed topics included: refused, not errors).
 */
create or replace function private.realtime_receive_extensions(p_topic text)
returns text[]
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  if p_topic like 'user:%' then
    return case when substr(p_topic, 6) = nullif(auth.jwt() ->> 'sub', '') then array['broadcast'] else '{}' end;
  end if;
  if private.realtime_member_chat(p_topic) is null then
    return '{}';
  end if;
  return case when p_topic like '%:presence' then array['broadcast', 'presence'] else array['broadcast'] end;
end;
$$;

/**
 * The extensions on which the caller may send on `p_topic`: `{broadcast,presence}`
 * on `chat:<id>:presence` of their chats, unless it is a direct chat with a
 * block between the two members (a client broadcast carries any payload: it
 * would be a message); `{}` on every other topic, `chat:<id>` and `user:<id>`
 * included, whoever asks.
 */
create or replace function private.realtime_send_extensions(p_topic text)
returns text[]
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  v_chat uuid;
  v_me text := nullif(auth.jwt() ->> 'sub', '');
begin
  if p_topic not like 'chat:%:presence' then
    return '{}';
  end if;
  v_chat := private.realtime_member_chat(p_topic);
  if v_chat is null or private.blocked_in_direct_chat(v_chat, v_me) then
    return '{}';
  end if;
  return array['broadcast', 'presence'];
end;
$$;

grant execute on function private.realtime_member_chat(text) to authenticated;
grant execute on function private.realtime_receive_extensions(text) to authenticated;
grant execute on function private.realtime_send_extensions(text) to authenticated;

create policy "Members receive their chats' channels, users their own channel"
  on realtime.messages for select to authenticated
  using (extension = any ((select private.realtime_receive_extensions((select realtime.topic())))::text[]));

create policy "Members send typing and presence on their chats' presence channels"
  on realtime.messages for insert to authenticated
  with check (extension = any ((select private.realtime_send_extensions((select realtime.topic())))::text[]));
