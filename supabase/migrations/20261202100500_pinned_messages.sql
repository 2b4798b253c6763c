-- =============================================================================
-- Pinned messages in a chat (issue 16 item 6, docs/messaging.md).
--
-- public.pinned_messages: one row per message pinned in a chat, readable by
-- the chat's members (like the messages themselves), written only by the RPCs
-- pin_message / unpin_message. Who may pin: in a group its owner and admins,
-- in a direct chat either side (unless one blocks the other); assistant chats
-- their owner. At most admin_config messages.max_pinned_per_chat pins per
-- chat. Each change is broadcast on chat:<chat_id> as event `message_pinned`
-- {message_id, user_id, action: 'pinned' | 'unpinned'}. Deleting a message
-- unpins it (the foreign key cascades).
--
-- Alike on purpose: function headers (returns, language, security, search_path,
-- the caller's id) and table declarations (grants, RLS, policies) repeat: each
-- object states its own contract (supabase/migrations/README.md, "Shapes that repeat").
-- =============================================================================

-- -----------------------------------------------------------------------------
-- Table
-- -----------------------------------------------------------------------------
create table public.pinned_messages (
  chat_id uuid not null references public.chats (id) on delete cascade,
  message_id uuid not null references public.messages (id) on delete cascade,
  pinned_by public.clerk_user_id references public.users (id) on delete set null,
  pinned_at timestamptz not null default now(),
  primary key (chat_id, message_id)
);
comment on table public.pinned_messages is
  'Messages pinned in a chat (pin_message/unpin_message); readable by the chat''s members. At most messages.max_pinned_per_chat per chat.';
comment on column public.pinned_messages.pinned_by is 'Who pinned it (null once that user is deleted).';
comment on column public.pinned_messages.pinned_at is 'When it was pinned; the chat lists its pins newest first.';

-- Foreign keys (chat_id is the primary key's first column).
create index pinned_messages_message_id_idx on public.pinned_messages (message_id);
create index pinned_messages_pinned_by_idx on public.pinned_messages (pinned_by);

grant select on public.pinned_messages to authenticated;
grant select, insert, update, delete on public.pinned_messages to service_role;

alter table public.pinned_messages enable row level security;
select private.lock_out_suspended_users('public.pinned_messages');

create policy "Members can read the pinned messages of their chats"
  on public.pinned_messages for select to authenticated
  using (chat_id = any ((select private.my_chat_id_array())::uuid[]));

insert into public.admin_config (key, value, description, value_type, min_value, max_value) values
  ('messages.max_pinned_per_chat', '10',
   'Messages a chat may have pinned at once (pin_message); pinning one more is refused (22023).', 'integer', 1, 100)
on conflict (key) do nothing;

-- -----------------------------------------------------------------------------
-- RPCs
-- -----------------------------------------------------------------------------

/**
 * Locks and returns a message the caller (`p_me`) may pin or unpin: a message
 * of a chat they are a member of, with the right to pin there (group:
 * owner/admin; direct: either side, no block between them; assistant: owner).
 * The chat row is locked (FOR NO KEY UPDATE) so that the per-chat limit holds
 * under concurrency.
 * Errors: PT404 message not found (or not the caller's to see); 42501 not
 * owner/admin of the group, or blocked.
 */
create or replace function private.message_for_pinning(p_message_id uuid, p_me text)
returns public.messages
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_msg public.messages;
  v_kind public.chat_kind;
  v_role public.chat_member_role;
begin
  select m.* into v_msg from public.messages m where m.id = p_message_id;
  select cm.role into v_role from public.chat_members cm
  where cm.chat_id = v_msg.chat_id and cm.user_id = p_me;
  if v_msg.id is null or v_role is null then
    raise exception 'message not found' using errcode = 'PT404';
  end if;
  select c.kind into v_kind from public.chats c where c.id = v_msg.chat_id for no key update;
  if v_kind in ('group', 'assistant') and v_role not in ('owner', 'admin') then
    raise exception 'only the group''s owner or admins can pin messages' using errcode = '42501';
  end if;
  if v_kind = 'direct' and private.blocked_in_direct_chat(v_msg.chat_id, p_me) then
    raise exception 'cannot pin in this chat' using errcode = '42501';
  end if;
  return v_msg;
end;
$$;

/**
 * Pins a message in its chat (idempotent: pinning it again changes nothing
 * and broadcasts nothing). Returns the pinned_messages row. Broadcasts event
 * `message_pinned` {message_id, user_id, action: 'pinned'} on chat:<chat_id>.
 * Errors: 42501 not signed in / suspended / not allowed / blocked; PT404
 * message not found; 22023 deleted message, or the chat already has
 * messages.max_pinned_per_chat pins; PT429 (HTTP 429) above
 * rate_limit.message_pin.*.
 */
create or replace function public.pin_message(p_message_id uuid)
returns public.pinned_messages
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_me text := private.require_user_id();
  v_msg public.messages := private.message_for_pinning(p_message_id, v_me);
  v_row public.pinned_messages;
begin
  if v_msg.deleted_at is not null then
    raise exception 'cannot pin a deleted message' using errcode = '22023';
  end if;
  select * into v_row from public.pinned_messages p where p.chat_id = v_msg.chat_id and p.message_id = v_msg.id;
  if v_row.message_id is not null then
    return v_row;
  end if;
  perform private.rate_limit('message_pin');
  if (select count(*) from public.pinned_messages p where p.chat_id = v_msg.chat_id)
     >= private.config_bigint('messages.max_pinned_per_chat', 10) then
    raise exception 'too many pinned messages in this chat' using errcode = '22023';
  end if;
  insert into public.pinned_messages (chat_id, message_id, pinned_by)
  values (v_msg.chat_id, v_msg.id, v_me)
  returning * into v_row;
  perform realtime.send(
    jsonb_build_object('message_id', v_msg.id, 'user_id', v_me, 'action', 'pinned'),
    'message_pinned', private.chat_topic(v_msg.chat_id), true);
  return v_row;
end;
$$;

/**
 * Unpins a message (idempotent). Returns true when it was pinned. Broadcasts
 * event `message_pinned` {message_id, user_id, action: 'unpinned'} on
 * chat:<chat_id> when it was.
 * Errors: as pin_message, except the limit and a deleted message.
 */
create or replace function public.unpin_message(p_message_id uuid)
returns boolean
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_me text := private.require_user_id();
  v_msg public.messages := private.message_for_pinning(p_message_id, v_me);
begin
  delete from public.pinned_messages p where p.chat_id = v_msg.chat_id and p.message_id = v_msg.id;
  if not found then
    return false;
  end if;
  perform realtime.send(
    jsonb_build_object('message_id', v_msg.id, 'user_id', v_me, 'action', 'unpinned'),
    'message_pinned', private.chat_topic(v_msg.chat_id), true);
  return true;
end;
$$;

insert into public.admin_config (key, value, description, value_type, min_value, max_value) values
  ('rate_limit.message_pin.limit', '30', 'Messages a user may pin per window (pin_message).', 'integer', 1, 100000),
  ('rate_limit.message_pin.window_seconds', '60', 'Window of rate_limit.message_pin.limit, in seconds.', 'integer', 1, 86400)
on conflict (key) do nothing;

revoke execute on function private.message_for_pinning(uuid, text) from public, anon, authenticated;
revoke execute on function public.pin_message(uuid), public.unpin_message(uuid) from public, anon;
grant execute on function public.pin_message(uuid), public.unpin_message(uuid) to authenticated, service_role;
