-- =============================================================================
-- Per-member chat state: delivery status and chat management (issue 16,
-- docs/messaging.md).
--
-- chat_members gains, per member: a delivery pointer (last_delivered_at, the
-- created_at of the newest message the member's device acknowledged, like the
-- read pointer last_read_at), and their own settings: archived_at,
-- muted_until, pinned_at, cleared_at (added here, their one definition: the
-- feature that needs them tells their story; supabase/migrations/README.md).
--
-- Delivery status is derived, never stored per message: a recipient has a
-- message when their delivery or read pointer is at or past its created_at,
-- and has read it when their read pointer is. public.delivery(messages) counts
-- that over the chat's members (one indexed scan of a chat's members per
-- message; no row per message per member). A client acknowledges many
-- messages in one call (mark_delivered); each pointer that moves is broadcast
-- as event `delivered` on chat:<chat_id>, as mark_chat_read broadcasts `read`.
--
-- Also here: the settings RPCs (archive, mute until, pin, clear history for
-- oneself). get_chat_history and search_messages, which hide what the caller
-- cleared, are defined in 20261202100520_member_state_privacy.sql, and
-- get_inbox, which lists these settings, in 20261202100400_inbox.sql.
--
-- Alike on purpose: function headers (returns, language, security, search_path,
-- the caller's id) and table declarations (grants, RLS, policies) repeat: each
-- object states its own contract (supabase/migrations/README.md, "Shapes that repeat").
-- =============================================================================

-- -----------------------------------------------------------------------------
-- Columns
-- -----------------------------------------------------------------------------
alter table public.chat_members
  add column last_delivered_at timestamptz,
  add column archived_at timestamptz,
  add column muted_until timestamptz,
  add column pinned_at timestamptz,
  add column cleared_at timestamptz;
-- Members read each other's delivery pointer (delivery ticks); the settings
-- columns are the member's own business and granted to nobody: a member reads
-- theirs through get_inbox or my_chat_settings
-- (20261202100520_member_state_privacy.sql).
grant select (last_delivered_at) on public.chat_members to authenticated;
comment on column public.chat_members.last_delivered_at is
  'created_at of the newest message this member''s device acknowledged (mark_delivered); never moves back. A message is delivered to the member when this or last_read_at is at or past its created_at.';
comment on column public.chat_members.archived_at is 'When the member archived the chat (set_chat_archived); null when not archived. get_inbox lists archived chats only when asked.';
comment on column public.chat_members.muted_until is
  'The chat is muted for this member while muted_until > now() (''infinity'': for good); null: not muted. Read by push notifications; mentions notify even when muted.';
comment on column public.chat_members.pinned_at is 'When the member pinned the chat (set_chat_pinned); pinned chats head the first page of get_inbox. At most chats.max_pinned per member.';
comment on column public.chat_members.cleared_at is
  'The member cleared the chat''s history up to this time (clear_chat_history): get_chat_history, search_messages and unread counts ignore messages at or before it, for this member only.';

-- Pinned chats of a member (the first page of get_inbox).
create index chat_members_user_id_pinned_idx on public.chat_members (user_id, pinned_at) where pinned_at is not null;

insert into public.admin_config (key, value, description, value_type, min_value, max_value) values
  ('chats.max_pinned', '5',
   'Chats a member may pin (set_chat_pinned); pinning one more is refused (22023).', 'integer', 1, 100)
on conflict (key) do nothing;

-- -----------------------------------------------------------------------------
-- Delivery status
-- -----------------------------------------------------------------------------

/**
 * A message's delivery status as JSON {status, recipients, delivered, read}:
 * `recipients` the members other than the sender who had joined by the time
 * it was sent; `delivered`/`read` how many of them have it / have read it;
 * `status` 'read' when all recipients read it, 'delivered' when all have it,
 * else 'sent' (in a direct chat, the one recipient's status). A computed field
 * (https://docs.postgrest.org/en/v12/references/api/computed_fields.html):
 * `supabase.from('messages').select('*, delivery')` or on get_chat_history.
 * Null for a message of a chat the caller is not a member of, or when the
 * caller is suspended (the same rule as the read policy of chat_members).
 */
create or replace function public.delivery(m public.messages)
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  v_recipients bigint;
  v_delivered bigint;
  v_read bigint;
begin
  -- The caller's own guard instead of RLS: security invoker re-ran the read
  -- policies of chat_members for every row of a history page, about 0.25 ms
  -- a message (PL/pgSQL and security definer: one primary-key probe, plans
  -- cached per connection).
  if private.my_chat_role(m.chat_id) is null or private.caller_is_suspended() then
    return null;
  end if;
  select count(*),
         count(*) filter (where greatest(cm.last_delivered_at, cm.last_read_at) >= m.created_at),
         count(*) filter (where cm.last_read_at >= m.created_at)
  into v_recipients, v_delivered, v_read
  from public.chat_members cm
  where cm.chat_id = m.chat_id
    and cm.user_id is distinct from m.sender_id
    and cm.joined_at <= m.created_at;
  return jsonb_build_object(
    'status', case when v_recipients > 0 and v_read = v_recipients then 'read'
                   when v_recipients > 0 and v_delivered = v_recipients then 'delivered'
                   else 'sent' end,
    'recipients', v_recipients, 'delivered', v_delivered, 'read', v_read);
end;
$$;

/**
 * Acknowledges delivery of messages to the caller's device, in one call for
 * many (1-500 ids, any chats). For each chat, the caller's delivery pointer
 * moves to the newest acknowledged message of that chat (never back); ids of
 * messages the caller may not see, or sent by the caller, are ignored.
 * Returns one row per chat whose pointer moved (chat_id, message_id,
 * delivered_at), each also broadcast as event `delivered`
 * {user_id, message_id, delivered_at} on chat:<chat_id>.
 * Errors: 42501 not signed in / suspended; 22023 more than 500 ids.
 */
create or replace function public.mark_delivered(p_message_ids uuid[])
returns table (chat_id uuid, message_id uuid, delivered_at timestamptz)
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_me text := private.require_user_id();
  r record;
begin
  if coalesce(cardinality(p_message_ids), 0) > 500 then
    raise exception 'at most 500 message ids per call' using errcode = '22023';
  end if;
  for r in
    select distinct on (m.chat_id) m.chat_id, m.id, m.created_at
    from public.messages m
    join public.chat_members cm on cm.chat_id = m.chat_id and cm.user_id = v_me
    where m.id = any (coalesce(p_message_ids, '{}'))
      and m.sender_id is distinct from v_me
    order by m.chat_id, m.created_at desc, m.id desc
  loop
    update public.chat_members cm
    set last_delivered_at = r.created_at
    where cm.chat_id = r.chat_id and cm.user_id = v_me
      and (cm.last_delivered_at is null or cm.last_delivered_at < r.created_at);
    if found then
      perform realtime.send(
        jsonb_build_object('user_id', v_me, 'message_id', r.id, 'delivered_at', r.created_at),
        'delivered', private.chat_topic(r.chat_id), true);
      chat_id := r.chat_id;
      message_id := r.id;
      delivered_at := r.created_at;
      return next;
    end if;
  end loop;
end;
$$;

-- -----------------------------------------------------------------------------
-- Chat management (the caller's own membership row)
-- -----------------------------------------------------------------------------

/** The caller's membership row of `p_chat_id`, locked; PT404 when not a member. */
create or replace function private.my_membership_for_update(p_chat_id uuid, p_me text)
returns public.chat_members
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_row public.chat_members;
begin
  select * into v_row from public.chat_members cm
  where cm.chat_id = p_chat_id and cm.user_id = p_me
  for update;
  if v_row.chat_id is null then
    raise exception 'chat not found' using errcode = 'PT404';
  end if;
  return v_row;
end;
$$;

/**
 * Stores a member's own settings (archived_at, muted_until, pinned_at,
 * cleared_at) from `p_row`, a row of private.my_membership_for_update changed
 * by the caller's setter, and returns the stored row.
 */
create or replace function private.save_my_chat_settings(p_row public.chat_members)
returns public.chat_members
language sql
security definer
set search_path = ''
as $$
  update public.chat_members cm
  set archived_at = p_row.archived_at, muted_until = p_row.muted_until,
      pinned_at = p_row.pinned_at, cleared_at = p_row.cleared_at
  where cm.chat_id = p_row.chat_id and cm.user_id = p_row.user_id
  returning *;
$$;

-- Alike on purpose: each setter below is a thin RPC with its own contract
-- (arguments, rule, errors); the lookup and the write are the two helpers
-- above (supabase/migrations/README.md, "Shapes that repeat").

/**
 * Archives (`p_archived` true) or unarchives a chat for the caller only.
 * Returns the caller's membership row. Errors: 42501; PT404 not a member.
 */
create or replace function public.set_chat_archived(p_chat_id uuid, p_archived boolean)
returns public.chat_members
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_row public.chat_members := private.my_membership_for_update(p_chat_id, private.require_user_id());
begin
  v_row.archived_at := case when coalesce(p_archived, false) then coalesce(v_row.archived_at, now()) end;
  return private.save_my_chat_settings(v_row);
end;
$$;

/**
 * Mutes a chat for the caller until `p_until` ('infinity' for good); null or a
 * time already past unmutes. Mentions of the caller still notify.
 * Returns the caller's membership row. Errors: 42501; PT404 not a member.
 */
create or replace function public.mute_chat(p_chat_id uuid, p_until timestamptz)
returns public.chat_members
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_row public.chat_members := private.my_membership_for_update(p_chat_id, private.require_user_id());
begin
  v_row.muted_until := case when p_until > now() then p_until end;
  return private.save_my_chat_settings(v_row);
end;
$$;

/**
 * Pins (`p_pinned` true) or unpins a chat for the caller; pinned chats head
 * the first page of get_inbox, most recently pinned first.
 * Errors: 42501; PT404 not a member; 22023 already at admin_config
 * chats.max_pinned pinned chats.
 */
create or replace function public.set_chat_pinned(p_chat_id uuid, p_pinned boolean)
returns public.chat_members
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_me text := private.require_user_id();
  v_row public.chat_members := private.my_membership_for_update(p_chat_id, v_me);
begin
  if coalesce(p_pinned, false) and v_row.pinned_at is null then
    -- Serialise the caller's pins so that the limit holds under concurrency.
    perform pg_advisory_xact_lock(hashtext('chat_pins:' || v_me));
    if (select count(*) from public.chat_members cm where cm.user_id = v_me and cm.pinned_at is not null)
       >= private.config_bigint('chats.max_pinned', 5) then
      raise exception 'too many pinned chats' using errcode = '22023';
    end if;
  end if;
  v_row.pinned_at := case when coalesce(p_pinned, false) then coalesce(v_row.pinned_at, now()) end;
  return private.save_my_chat_settings(v_row);
end;
$$;

/**
 * Clears the chat's history for the caller only: messages sent up to now no
 * longer appear in their get_chat_history, search_messages or unread counts
 * (other members keep theirs). Also marks the chat read.
 * Returns the caller's membership row. Errors: 42501; PT404 not a member.
 */
create or replace function public.clear_chat_history(p_chat_id uuid)
returns public.chat_members
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_row public.chat_members := private.my_membership_for_update(p_chat_id, private.require_user_id());
begin
  v_row.cleared_at := now();
  return private.save_my_chat_settings(v_row);
end;
$$;

revoke execute on function
  private.my_membership_for_update(uuid, text), private.save_my_chat_settings(public.chat_members)
  from public, anon, authenticated;
revoke execute on function
  public.delivery(public.messages),
  public.mark_delivered(uuid[]),
  public.set_chat_archived(uuid, boolean),
  public.mute_chat(uuid, timestamptz),
  public.set_chat_pinned(uuid, boolean),
  public.clear_chat_history(uuid)
  from public, anon;
grant execute on function
  public.delivery(public.messages),
  public.mark_delivered(uuid[]),
  public.set_chat_archived(uuid, boolean),
  public.mute_chat(uuid, timestamptz),
  public.set_chat_pinned(uuid, boolean),
  public.clear_chat_history(uuid)
  to authenticated, service_role;
