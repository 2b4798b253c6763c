-- =============================================================================
-- Messages and read state: text, image and file messages, replies, forwards,
-- edits and soft deletes.
--
-- A member sends text, image and file messages (insert under RLS, or the
-- idempotent `send_message` RPC); `ai` and `system` messages come from
-- functions as the service role. A sender edits `content` or soft-deletes by
-- setting `deleted_at`: nothing else of a message can change (column
-- privileges). History pages by the cursor (created_at, id), never by offset.
-- Every insert, update and delete is broadcast to the private topic
-- `chat:<chat_id>` (realtime.broadcast_changes' payload; event =
-- INSERT/UPDATE/DELETE). What an insert does after the row is stored (the
-- chat's last message, the broadcast, pushes, mentions, widget counters) is
-- one trigger, private.message_inserted, in 20261202200000_message_send_path.sql.
-- Also here: the foreign keys of chats.last_message_id and
-- chat_members.last_read_message_id (messages did not exist before). The read
-- policy of media, which reads messages, is in the media uploads migration.
-- The history and inbox RPCs read per-member state added later: each is
-- defined once, get_inbox in 20261202100400_inbox.sql and get_chat_history in
-- 20261202100520_member_state_privacy.sql.
--
-- Alike on purpose: function headers (returns, language, security, search_path,
-- the caller's id) and table declarations (grants, RLS, policies) repeat: each
-- object states its own contract (supabase/migrations/README.md, "Shapes that repeat").
-- =============================================================================

-- -----------------------------------------------------------------------------
-- Types and table
-- -----------------------------------------------------------------------------
create type public.message_kind as enum ('text', 'image', 'file', 'ai', 'system');

create table public.messages (
  id uuid primary key default gen_random_uuid(),
  chat_id uuid not null references public.chats (id) on delete cascade,
  sender_id public.clerk_user_id default (auth.jwt() ->> 'sub') references public.users (id) on delete set null,
  kind public.message_kind not null default 'text',
  content text not null default '' check (char_length(content) <= 8000),
  reply_to_id uuid references public.messages (id) on delete set null,
  forwarded boolean not null default false,
  media_id uuid references public.media (id) on delete set null,
  client_id text check (client_id is null or char_length(client_id) between 1 and 100),
  metadata jsonb not null default '{}'::jsonb,
  created_at timestamptz not null default now(),
  edited_at timestamptz,
  deleted_at timestamptz,
  constraint messages_text_not_empty check (kind <> 'text' or deleted_at is not null or char_length(btrim(content)) > 0),
  constraint messages_sender_client_id_key unique (sender_id, client_id)
);
comment on table public.messages is
  'Chat messages. Members read them; a sender edits content or soft-deletes; every change is broadcast to chat:<chat_id>.';
comment on column public.messages.sender_id is 'Author (Clerk user id); null for ai/system messages and once the author''s account is deleted.';
comment on column public.messages.kind is 'text, image, file (with media_id), ai (assistant answer), system (membership and other events).';
comment on column public.messages.client_id is
  'Client-generated idempotency key: a retried send with the same (sender, client_id) returns the first message instead of duplicating it.';
comment on column public.messages.metadata is 'Kind-specific data, e.g. for ai: provider, model, ai_interaction_id, prompt_message_id.';
comment on column public.messages.edited_at is 'Set by the database when content changes.';
comment on column public.messages.deleted_at is 'Set (to now) when the sender deletes the message; content and media are cleared.';

-- History pages and the inbox's unread counts (cursor order).
create index messages_chat_id_created_at_idx on public.messages (chat_id, created_at desc, id desc);
-- Foreign keys and the media read policy.
create index messages_reply_to_id_idx on public.messages (reply_to_id) where reply_to_id is not null;
create index messages_media_id_idx on public.messages (media_id) where media_id is not null;
-- Foreign key to users (the unique (sender_id, client_id) constraint leads with sender_id).

-- chats.last_message_id and chat_members.last_read_message_id (declared, and
-- indexed, with their tables in 20261122080400_chats.sql) point at a message:
-- their foreign keys are added here, as messages.chat_id references chats.
alter table public.chats
  add constraint chats_last_message_id_fkey foreign key (last_message_id)
  references public.messages (id) on delete set null;
alter table public.chat_members
  add constraint chat_members_last_read_message_id_fkey foreign key (last_read_message_id)
  references public.messages (id) on delete set null;

-- -----------------------------------------------------------------------------
-- Triggers
-- -----------------------------------------------------------------------------

/**
 * True when the signed-in caller may not post `p_sender_id`'s message into
 * `p_chat_id` (not themselves, or not a member); false without a signed-in
 * caller (service role, Studio) and for a sender-less row (AI and system
 * messages). Such an insert is refused by the insert policy of messages
 * (42501, row-level security) whatever the chat holds.
 */
create or replace function private.caller_is_outsider(p_chat_id uuid, p_sender_id text)
returns boolean
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  v_me text := nullif(auth.jwt() ->> 'sub', '');
begin
  return v_me is not null and p_sender_id is not null and (
    p_sender_id <> v_me
    or not exists (select 1 from public.chat_members m where m.chat_id = p_chat_id and m.user_id = v_me)
  );
end;
$$;

/**
 * BEFORE INSERT: a reply must quote a message of the same chat; image and file
 * messages need media the sender owns; nobody messages a user in a block with
 * them in a direct chat; the caller's own sends are rate limited
 * (private.rate_limit 'message_send'). Errors: 22023 invalid reference; 42501
 * blocked or not the media's owner; PT429 (HTTP 429) too many messages.
 * A caller who may not post here at all (private.caller_is_outsider) gets the
 * insert policy's answer (42501, row-level security) instead of any of these,
 * so that the answer never tells an outsider what the chat holds (whether a
 * message belongs to it, who its members block). The check runs only on the
 * way to an error: the send path of a member costs nothing more.
 */
create or replace function private.check_message_insert()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  -- (The reply and media checks test the column first, in an IF of their own:
  -- a query whose condition folds to false for most messages would be
  -- planned anew on every message.)
  if new.reply_to_id is not null then
    if not exists (select 1 from public.messages m where m.id = new.reply_to_id and m.chat_id = new.chat_id) then
      if private.caller_is_outsider(new.chat_id, new.sender_id) then
        return new; -- refused by the insert policy
      end if;
      raise exception 'reply_to_id must be a message of the same chat' using errcode = '22023';
    end if;
  end if;

  if new.kind in ('image', 'file') and new.media_id is null then
    raise exception '% messages need a media_id', new.kind using errcode = '22023';
  end if;
  if new.media_id is not null and new.sender_id is not null then
    if not exists (select 1 from public.media md where md.id = new.media_id and md.owner_id = new.sender_id) then
      if private.caller_is_outsider(new.chat_id, new.sender_id) then
        return new; -- refused by the insert policy
      end if;
      raise exception 'media % is not yours to send', new.media_id using errcode = '42501';
    end if;
  end if;

  -- A block between the sender and the other member of a direct chat, either
  -- way (private.is_blocked_between inlined: one query with a cached plan, on
  -- the path of every message; a group chat stops at the chats row).
  if new.sender_id is not null and exists (
    select 1
    from public.chats c
    join public.chat_members m on m.chat_id = c.id and m.user_id <> new.sender_id
    join public.friends f on f.status = 'blocked'
      and ((f.requester_id = new.sender_id and f.addressee_id = m.user_id)
        or (f.requester_id = m.user_id and f.addressee_id = new.sender_id))
    where c.id = new.chat_id and c.kind = 'direct'
  ) then
    if private.caller_is_outsider(new.chat_id, new.sender_id) then
      return new; -- refused by the insert policy
    end if;
    raise exception 'cannot send messages to this user' using errcode = '42501';
  end if;

  -- The caller's own sends, through send_message or a direct insert, count
  -- against admin_config rate_limit.message_send.* (PT429 above it); ai and
  -- system messages written by functions (no caller) do not. (The caller's id
  -- is private.current_user_id()'s body inlined: one call less per message.)
  if new.sender_id is not null and new.sender_id = nullif(auth.jwt() ->> 'sub', '') then
    perform private.rate_limit('message_send');
  end if;
  return new;
end;
$$;

/**
 * BEFORE UPDATE: deleting sets deleted_at = now() and clears content and media;
 * a deleted message cannot be edited or restored; a content change sets
 * edited_at. Errors: 22023 editing a deleted message.
 */
create or replace function private.guard_message_update()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if old.deleted_at is not null then
    if new.deleted_at is null or new.content is distinct from old.content then
      raise exception 'message % was deleted and cannot change', old.id using errcode = '22023';
    end if;
    new.deleted_at := old.deleted_at;
    return new;
  end if;
  if new.deleted_at is not null then
    new.deleted_at := now();
    new.content := '';
    new.media_id := null;
  elsif new.content is distinct from old.content then
    new.edited_at := now();
  end if;
  return new;
end;
$$;

/**
 * AFTER UPDATE/DELETE: broadcast the change to `chat:<chat_id>` (private). On
 * a soft delete the old record's content and media are blanked. Text sent
 * earlier stays in that day's realtime.messages partition until Realtime drops
 * it (partitions are kept a few days). An insert is broadcast, with the same
 * payload, by private.message_inserted (20261202200000_message_send_path.sql),
 * the one AFTER INSERT trigger of the send path.
 */
create or replace function private.broadcast_message_change()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_old public.messages := old;
begin
  -- A soft delete must not ship the deleted text to the channel again.
  if tg_op = 'UPDATE' and new.deleted_at is not null then
    v_old.content := '';
    v_old.media_id := null;
  end if;
  perform realtime.broadcast_changes(
    private.chat_topic(coalesce(new.chat_id, old.chat_id)),
    tg_op, tg_op, tg_table_name, tg_table_schema, new, v_old
  );
  return null;
end;
$$;

create trigger messages_check_insert before insert on public.messages
  for each row execute function private.check_message_insert();
create trigger messages_guard_update before update on public.messages
  for each row execute function private.guard_message_update();
create trigger messages_broadcast after update or delete on public.messages
  for each row execute function private.broadcast_message_change();

-- -----------------------------------------------------------------------------
-- Grants and RLS policies
-- -----------------------------------------------------------------------------
grant select on public.messages to authenticated;
grant insert (chat_id, sender_id, kind, content, reply_to_id, forwarded, media_id, client_id)
  on public.messages to authenticated;
grant update (content, deleted_at) on public.messages to authenticated;
grant select, insert, update, delete on public.messages to service_role;

alter table public.messages enable row level security;

-- Reads: membership as `chat_id = any (<the caller's chat ids, once per
-- statement>)` (private.my_chat_id_array, 20261122080400_chats.sql): an index
-- condition, so a history page stays an ordered index scan with LIMIT under
-- RLS. Writes touch one row: one membership probe (private.my_chat_role).
create policy "Members can read their chats' messages"
  on public.messages for select to authenticated
  using (chat_id = any ((select private.my_chat_id_array())::uuid[]));

create policy "Members can send messages as themselves"
  on public.messages for insert to authenticated
  with check (
    sender_id = (select auth.jwt()) ->> 'sub'
    and kind in ('text', 'image', 'file')
    and private.my_chat_role(chat_id) is not null
  );

create policy "Senders can edit or delete their messages"
  on public.messages for update to authenticated
  using (
    sender_id = (select auth.jwt()) ->> 'sub'
    and private.my_chat_role(chat_id) is not null
  )
  with check (
    sender_id = (select auth.jwt()) ->> 'sub'
    and private.my_chat_role(chat_id) is not null
  );

-- -----------------------------------------------------------------------------
-- RPCs
-- -----------------------------------------------------------------------------

/**
 * Sends a message as the caller (security invoker: the insert policy applies).
 * With `p_client_id`, a retry returns the message already sent with that key
 * instead of sending it twice.
 * Errors: 42501 not a member / blocked / not the media owner; 22023 invalid
 * reply or empty text; 23514 content too long; PT429 (HTTP 429) more than
 * admin_config rate_limit.message_send.limit sends per window (a retry with
 * the same p_client_id counts as a request too).
 */
create or replace function public.send_message(
  p_chat_id uuid,
  p_content text,
  p_kind public.message_kind default 'text',
  p_client_id text default null,
  p_reply_to_id uuid default null,
  p_media_id uuid default null,
  p_forwarded boolean default false
)
returns public.messages
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_me text := private.require_user_id();
  v_row public.messages;
begin
  insert into public.messages (chat_id, sender_id, kind, content, reply_to_id, media_id, forwarded, client_id)
  values (p_chat_id, v_me, p_kind, coalesce(p_content, ''), p_reply_to_id, p_media_id,
          coalesce(p_forwarded, false), p_client_id)
  on conflict (sender_id, client_id) do nothing
  returning * into v_row;
  if not found then
    select * into v_row from public.messages m
    where m.sender_id = v_me and m.client_id = p_client_id;
  end if;
  return v_row;
end;
$$;

/**
 * Marks a chat read up to `p_message_id` (default: its newest message) for the
 * caller. Read state never moves backwards. Broadcasts event `read`
 * ({user_id, message_id, read_at}) to `chat:<chat_id>` as a read receipt.
 * Errors: PT404 not a member, or the message is not in the chat.
 */
create or replace function public.mark_chat_read(p_chat_id uuid, p_message_id uuid default null)
returns public.chat_members
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_me text := private.require_user_id();
  v_msg_id uuid;
  v_msg_at timestamptz;
  v_row public.chat_members;
begin
  if private.my_chat_role(p_chat_id) is null then
    raise exception 'chat not found' using errcode = 'PT404';
  end if;
  if p_message_id is null then
    select m.id, m.created_at into v_msg_id, v_msg_at from public.messages m
    where m.chat_id = p_chat_id order by m.created_at desc, m.id desc limit 1;
  else
    select m.id, m.created_at into v_msg_id, v_msg_at from public.messages m
    where m.id = p_message_id and m.chat_id = p_chat_id;
    if v_msg_id is null then
      raise exception 'message not found in this chat' using errcode = 'PT404';
    end if;
  end if;

  update public.chat_members cm
  set last_read_message_id = v_msg_id, last_read_at = v_msg_at
  where cm.chat_id = p_chat_id and cm.user_id = v_me and v_msg_id is not null
    and (cm.last_read_at is null or cm.last_read_at < v_msg_at)
  returning * into v_row;

  if found then
    perform realtime.send(
      jsonb_build_object('user_id', v_me, 'message_id', v_msg_id, 'read_at', v_msg_at),
      'read', private.chat_topic(p_chat_id), true);
  else
    select * into v_row from public.chat_members cm where cm.chat_id = p_chat_id and cm.user_id = v_me;
  end if;
  return v_row;
end;
$$;

revoke execute on function
  public.send_message(uuid, text, public.message_kind, text, uuid, uuid, boolean),
  public.mark_chat_read(uuid, uuid)
  from public, anon;
grant execute on function
  public.send_message(uuid, text, public.message_kind, text, uuid, uuid, boolean),
  public.mark_chat_read(uuid, uuid)
  to authenticated, service_role;
