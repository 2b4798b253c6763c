-- =============================================================================
-- Push notifications through Firebase Cloud Messaging (FCM HTTP v1).
--
-- Why an outbox: a push must follow the event that caused it (a message, a
-- friend request, a payment result) at least once, and never twice for one
-- event. The row that asks for the push is written by the same transaction as
-- the event (triggers below), so a rolled-back event pushes nothing and a
-- committed one is never forgotten; the `push-dispatch` edge function drains
-- the outbox and calls FCM
-- (https://firebase.google.com/docs/reference/fcm/rest/v1/projects.messages/send).
--
-- What this adds:
--   * public.push_devices: a user's FCM registration tokens (several per user:
--     Android, iOS through FCM, web push through FCM), each with its platform
--     and app version; registered and unregistered through RPCs, read by their
--     owner only. A token belongs to one device: registering a token that
--     another user had registered moves it (the device signed in as someone
--     else);
--   * private.push_outbox: one pending notification per recipient and collapse
--     key (`chat:<chat_id>` for messages, `notification:<id>` otherwise). A
--     new event for a recipient whose notification of that key is still
--     pending (not yet taken by a dispatcher) updates that row instead (title,
--     body, data of the latest event, event_count + 1): a burst of messages in
--     one chat is one push;
--   * private.push_deliveries: which device got which outbox row, so that a
--     retry after a partial failure (one device 429, another delivered) sends
--     only to the devices still owed;
--   * who gets a message's push: every member of the chat but the sender,
--     except members who muted the chat (chat_members.muted_until > now(),
--     docs/messaging.md), members who block the sender or are blocked by them,
--     and users without a device;
--   * notifications of kinds mention and reply (issue 16: written for a
--     mentioned member even when they muted the chat) are pushed under the
--     chat's collapse key, so a mention that is also an unmuted member's
--     message push stays one push; friend_request, friend_request_accepted,
--     topup_succeeded, topup_failed and topup_refunded are pushed one each;
--   * the badge is the recipient's number of unread messages in all their
--     chats (the sum of get_inbox's unread_count), computed when the push is
--     sent.
--
-- Delivery (functions push-dispatch, docs/push.md):
--   claim_push_batch() takes due rows with `for update skip locked` and a lease
--   (status `sending`, claimed_until): two dispatchers running at once never
--   take the same row. finish_push() records the devices reached, removes the
--   tokens FCM reported UNREGISTERED (or as an invalid token), and either marks
--   the row `sent` or schedules a retry (`retry`, next_attempt_at from FCM's
--   Retry-After or exponential backoff) up to push.max_attempts, then `failed`.
--   A dispatcher that crashes after FCM accepted a message but before
--   finish_push leaves the row `sending`; when its lease ends the row is
--   taken again and sent again with the same collapse key and notification tag
--   (`push:<id>`), so the device replaces the notification instead of showing
--   a second one (at least once on the wire, once on the screen).
-- In production the function is invoked by a Database Webhook (pg_net) on
-- push_outbox inserts or by Supabase Cron every few seconds; locally the stack
-- invokes it on an interval (docs/push.md).
--
-- Alike on purpose: function headers (returns, language, security, search_path,
-- the caller's id) and table declarations (grants, RLS, policies) repeat: each
-- object states its own contract (supabase/migrations/README.md, "Shapes that repeat").
-- =============================================================================

-- -----------------------------------------------------------------------------
-- Tables
-- -----------------------------------------------------------------------------
create table public.push_devices (
  id uuid primary key default gen_random_uuid(),
  user_id public.clerk_user_id not null references public.users (id) on delete cascade,
  token text not null unique check (char_length(token) between 20 and 4096 and token !~ '\s'),
  platform text not null check (platform in ('android', 'ios', 'web')),
  app_version text check (app_version is null or char_length(app_version) between 1 and 50),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
comment on table public.push_devices is
  'FCM registration tokens of a user''s devices (register_push_device / unregister_push_device). The owner reads their own; push-dispatch sends to them and removes tokens FCM reports unregistered.';
comment on column public.push_devices.token is
  'FCM registration token (https://firebase.google.com/docs/cloud-messaging/manage-tokens); unique: a token is one app install.';
comment on column public.push_devices.platform is 'android, ios (APNs through FCM) or web (web push through FCM).';
comment on column public.push_devices.app_version is 'Version of the app that registered the token, as the app reports it.';
comment on column public.push_devices.updated_at is 'Last registration of this token (apps re-register on start, FCM recommends monthly at least).';

create index push_devices_user_id_idx on public.push_devices (user_id);

create trigger push_devices_set_updated_at before update on public.push_devices
  for each row execute function private.set_updated_at();

grant select on public.push_devices to authenticated;
grant select, insert, update, delete on public.push_devices to service_role;
alter table public.push_devices enable row level security;
select private.lock_out_suspended_users('public.push_devices');

create policy "Users can read their own push devices"
  on public.push_devices for select to authenticated
  using (user_id = (select private.current_user_id()));

create table private.push_outbox (
  id bigint generated always as identity primary key,
  user_id public.clerk_user_id not null references public.users (id) on delete cascade,
  collapse_key text not null check (char_length(collapse_key) between 1 and 100),
  kind text not null check (kind ~ '^[a-z][a-z0-9_.]{1,63}$'),
  title text not null check (char_length(title) <= 200),
  body text not null check (char_length(body) <= 500),
  data jsonb not null default '{}'::jsonb check (jsonb_typeof(data) = 'object'),
  event_count integer not null default 1 check (event_count >= 1),
  status text not null default 'pending' check (status in ('pending', 'sending', 'retry', 'sent', 'failed')),
  attempts integer not null default 0 check (attempts >= 0),
  next_attempt_at timestamptz not null default now(),
  claimed_until timestamptz,
  last_error text check (last_error is null or char_length(last_error) <= 500),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  sent_at timestamptz
);
comment on table private.push_outbox is
  'Push notifications to send, written in the transaction of their event; drained by push-dispatch (claim_push_batch / finish_push).';
comment on column private.push_outbox.collapse_key is
  'chat:<chat_id> or notification:<id>: events of one key pending for one user are one push; also FCM''s collapse key and the notification tag.';
comment on column private.push_outbox.kind is 'message, mention, reply, friend_request, friend_request_accepted, topup_succeeded, topup_failed, topup_refunded.';
comment on column private.push_outbox.data is 'FCM data payload (string values): ids the app needs to open the right screen.';
comment on column private.push_outbox.event_count is 'Events merged into this push (messages of a burst).';
comment on column private.push_outbox.status is
  'pending (new, still merging), sending (taken by a dispatcher until claimed_until), retry (due at next_attempt_at), sent, failed (push.max_attempts reached).';
comment on column private.push_outbox.claimed_until is 'End of the dispatcher''s lease; a row still sending after it is taken again (the dispatcher crashed).';

-- One pending (mergeable) row per recipient and key: the target of the merge upsert.
create unique index push_outbox_pending_key_idx on private.push_outbox (user_id, collapse_key) where status = 'pending';
-- The dispatcher's scan of due rows.
create index push_outbox_due_idx on private.push_outbox (next_attempt_at) where status in ('pending', 'sending', 'retry');
-- Foreign key to users (the pending index covers only pending rows).
create index push_outbox_user_id_idx on private.push_outbox (user_id);

alter table private.push_outbox enable row level security;
-- No policies and no grants: only the security-definer functions below touch it.

create table private.push_deliveries (
  outbox_id bigint not null references private.push_outbox (id) on delete cascade,
  device_id uuid not null references public.push_devices (id) on delete cascade,
  fcm_message_name text not null check (char_length(fcm_message_name) <= 300),
  sent_at timestamptz not null default now(),
  primary key (outbox_id, device_id)
);
comment on table private.push_deliveries is 'Devices FCM accepted an outbox row for (a retry skips them).';
comment on column private.push_deliveries.fcm_message_name is 'FCM''s id of the sent message: projects/<project>/messages/<id>.';
create index push_deliveries_device_id_idx on private.push_deliveries (device_id);
alter table private.push_deliveries enable row level security;

insert into public.admin_config (key, value, description, value_type, min_value, max_value) values
  ('push.max_attempts', '8',
   'Times push-dispatch tries one notification (FCM 429/5xx are retried with backoff) before marking it failed.', 'integer', 1, 100),
  ('push.lease_seconds', '60',
   'How long a dispatcher holds a notification it took; after it, a crashed dispatcher''s rows are taken again.', 'integer', 5, 3600),
  ('rate_limit.push_register.limit', '30',
   'Push token registrations (register_push_device) a user may make per window; above it 429.', 'integer', 1, 1000000),
  ('rate_limit.push_register.window_seconds', '3600',
   'Length of the push_register window, in seconds.', 'integer', 1, 86400)
on conflict (key) do nothing;

-- -----------------------------------------------------------------------------
-- Devices: RPCs
-- -----------------------------------------------------------------------------

/**
 * Registers (or refreshes) the caller's FCM registration token for this
 * device. `p_platform`: android | ios | web; `p_app_version` optional (1..50
 * characters). A token registered by another user moves to the caller (one
 * token is one app install, now signed in as the caller). Returns the row.
 * Errors: 22023 on a bad token or platform; PT429 beyond
 * rate_limit.push_register (30 per hour by default).
 * Tokens: https://firebase.google.com/docs/cloud-messaging/manage-tokens
 */
create or replace function public.register_push_device(p_token text, p_platform text, p_app_version text default null)
returns public.push_devices
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_me text := private.require_user_id();
  v_row public.push_devices;
begin
  if p_token is null or char_length(p_token) not between 20 and 4096 or p_token ~ '\s' then
    raise exception 'token must be an FCM registration token (20 to 4096 characters, no spaces)' using errcode = '22023';
  end if;
  if p_platform is null or p_platform not in ('android', 'ios', 'web') then
    raise exception 'platform must be android, ios or web' using errcode = '22023';
  end if;
  if p_app_version is not null and char_length(p_app_version) not between 1 and 50 then
    raise exception 'app_version must be 1 to 50 characters' using errcode = '22023';
  end if;
  perform private.rate_limit('push_register');
  insert into public.push_devices as d (user_id, token, platform, app_version)
  values (v_me, p_token, p_platform, p_app_version)
  on conflict (token) do update
    set user_id = excluded.user_id, platform = excluded.platform, app_version = excluded.app_version
  returning d.* into v_row;
  return v_row;
end;
$$;

/**
 * Removes the caller's device with this token (sign-out). Returns whether a
 * device of the caller's was removed; another user's token is left alone.
 */
create or replace function public.unregister_push_device(p_token text)
returns boolean
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_me text := private.require_user_id();
begin
  delete from public.push_devices d where d.token = p_token and d.user_id = v_me;
  return found;
end;
$$;

revoke execute on function public.register_push_device(text, text, text), public.unregister_push_device(text) from public, anon;
grant execute on function public.register_push_device(text, text, text), public.unregister_push_device(text) to authenticated, service_role;

-- -----------------------------------------------------------------------------
-- Enqueueing (in the event's transaction)
-- -----------------------------------------------------------------------------

/**
 * Adds an event to `p_user_id`'s pending push of `p_collapse_key`, or starts
 * one: the latest event's title, body and data win, event_count counts them.
 * Users without a device get nothing queued.
 */
create or replace function private.enqueue_push(
  p_user_id text, p_collapse_key text, p_kind text, p_title text, p_body text, p_data jsonb
)
returns void
language plpgsql
security definer
set search_path = ''
as $$
begin
  if not exists (select 1 from public.push_devices d where d.user_id = p_user_id) then
    return;
  end if;
  insert into private.push_outbox as o (user_id, collapse_key, kind, title, body, data)
  values (p_user_id, p_collapse_key, p_kind, left(coalesce(p_title, ''), 200), left(coalesce(p_body, ''), 500),
          coalesce(p_data, '{}'::jsonb))
  on conflict (user_id, collapse_key) where status = 'pending' do update
    set kind = excluded.kind, title = excluded.title, body = excluded.body, data = excluded.data,
        event_count = o.event_count + 1, updated_at = now();
end;
$$;

/**
 * For a message just stored (called by the AFTER INSERT trigger
 * private.message_inserted, 20261202200000_message_send_path.sql, with the
 * message's chat and its topic `chat:<chat_id>`, the collapse key): for text,
 * image and file messages, a push for every member but the sender, skipping
 * members who muted the chat (muted_until > now()), members who block the
 * sender or whom the sender blocks (mentions reach muted members through
 * their `mention` notification) and members without a device. Title: the
 * sender's display name (" in <group title>" for groups); body: the text
 * (first 200 characters), or "Photo" / "File". One statement for all
 * recipients, merged into their pending push as private.enqueue_push merges
 * one; when no other member has a device, one query and nothing written.
 */
create or replace function private.enqueue_message_push(p_message public.messages, p_chat public.chats, p_collapse_key text)
returns void
language plpgsql
security definer
set search_path = ''
as $$
begin
  if p_message.kind not in ('text', 'image', 'file') or p_message.sender_id is null or p_message.deleted_at is not null then
    return;
  end if;
  -- Most sends reach nobody with a device: one index probe per member decides
  -- that, without setting up the upsert below.
  if not exists (
    select 1 from public.chat_members cm join public.push_devices d on d.user_id = cm.user_id
    where cm.chat_id = p_message.chat_id and cm.user_id <> p_message.sender_id
  ) then
    return;
  end if;
  insert into private.push_outbox as o (user_id, collapse_key, kind, title, body, data)
  select cm.user_id, p_collapse_key, 'message',
         left(coalesce((select coalesce(nullif(u.display_name, ''), u.username) from public.users u where u.id = p_message.sender_id),
                       'Someone')
              || case when p_chat.kind = 'group' and p_chat.title is not null then ' in ' || p_chat.title else '' end, 200),
         case p_message.kind when 'image' then 'Photo' when 'file' then 'File' else left(p_message.content, 200) end,
         jsonb_build_object('type', 'message', 'chat_id', p_message.chat_id::text, 'message_id', p_message.id::text)
  from public.chat_members cm
  where cm.chat_id = p_message.chat_id and cm.user_id <> p_message.sender_id
    and (cm.muted_until is null or cm.muted_until <= now())
    and exists (select 1 from public.push_devices d where d.user_id = cm.user_id)
    -- private.is_blocked_between inlined (one plan for all members, no call per member).
    and not exists (
      select 1 from public.friends f
      where f.status = 'blocked'
        and ((f.requester_id = cm.user_id and f.addressee_id = p_message.sender_id)
          or (f.requester_id = p_message.sender_id and f.addressee_id = cm.user_id)))
  on conflict (user_id, collapse_key) where status = 'pending' do update
    set kind = excluded.kind, title = excluded.title, body = excluded.body, data = excluded.data,
        event_count = o.event_count + 1, updated_at = now();
end;
$$;

/**
 * AFTER INSERT on notifications: mentions and replies (issue 16) are pushed
 * under their chat's collapse key (title "<sender> mentioned you in <group>",
 * body the message); friend requests and their acceptance, and payment
 * results, are pushed to the notification's user (one push each).
 * A friend request from a user the recipient blocks is never created
 * (send_friend_request refuses it), so no block check is needed here.
 */
create or replace function private.enqueue_notification_push()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_from text;
  v_chat_title text;
  v_title text;
  v_body text;
begin
  if new.kind in ('mention', 'reply') then
    select coalesce(nullif(u.display_name, ''), u.username) into v_from
    from public.users u where u.id = new.payload ->> 'sender_id';
    select c.title into v_chat_title from public.chats c where c.id = (new.payload ->> 'chat_id')::uuid;
    select left(m.content, 200) into v_body from public.messages m where m.id = (new.payload ->> 'message_id')::uuid;
    perform private.enqueue_push(
      new.user_id, private.chat_topic((new.payload ->> 'chat_id')::uuid), new.kind,
      coalesce(v_from, 'Someone') || case new.kind when 'mention' then ' mentioned you' else ' replied to you' end
        || coalesce(' in ' || v_chat_title, ''),
      coalesce(v_body, ''),
      jsonb_build_object('type', new.kind, 'chat_id', new.payload ->> 'chat_id', 'message_id', new.payload ->> 'message_id',
                         'notification_id', new.id::text)
    );
    return null;
  end if;
  if new.kind not in ('friend_request', 'friend_request_accepted', 'topup_succeeded', 'topup_failed', 'topup_refunded') then
    return null;
  end if;
  if new.kind like 'friend_request%' then
    select coalesce(nullif(u.display_name, ''), u.username) into v_from
    from public.users u
    where u.id = coalesce(new.payload ->> 'from_user_id', new.payload ->> 'by_user_id', new.payload ->> 'user_id');
  end if;
  v_title := case new.kind
    when 'friend_request' then 'New friend request'
    when 'friend_request_accepted' then 'Friend request accepted'
    when 'topup_succeeded' then 'Credits added'
    when 'topup_failed' then 'Payment failed'
    else 'Payment refunded' end;
  v_body := case new.kind
    when 'friend_request' then coalesce(v_from, 'Someone') || ' wants to be your friend'
    when 'friend_request_accepted' then coalesce(v_from, 'Someone') || ' accepted your friend request'
    when 'topup_succeeded' then 'Your credit top-up was paid'
    when 'topup_failed' then 'Your credit top-up did not go through'
    else 'Your credit top-up was refunded' end;
  perform private.enqueue_push(
    new.user_id, 'notification:' || new.id, new.kind, v_title, v_body,
    jsonb_build_object('type', new.kind, 'notification_id', new.id::text)
  );
  return null;
end;
$$;

create trigger notifications_enqueue_push after insert on public.notifications
  for each row execute function private.enqueue_notification_push();

-- -----------------------------------------------------------------------------
-- Dispatch (service role: push-dispatch)
-- -----------------------------------------------------------------------------

/** Unread messages of `p_user_id` in all their chats (from others, not deleted, after their read mark). */
create or replace function private.unread_message_total(p_user_id text)
returns integer
language sql
stable
security definer
set search_path = ''
as $$
  select coalesce(sum((
    select count(*) from public.messages m
    where m.chat_id = cm.chat_id
      and m.created_at > coalesce(cm.last_read_at, '-infinity'::timestamptz)
      and m.sender_id is distinct from p_user_id
      and m.deleted_at is null
  )), 0)::integer
  from public.chat_members cm
  where cm.user_id = p_user_id
$$;

/**
 * Takes up to `p_limit` (1..500) due outbox rows for one dispatcher: pending
 * and retry rows whose next_attempt_at has come, and sending rows whose lease
 * ended (a crashed dispatcher). Rows locked by another dispatcher are skipped
 * (`for update skip locked`); each taken row is `sending` for
 * push.lease_seconds and its attempt counted. Returns each row with the
 * recipient's badge (unread total) and the devices it still owes
 * (`devices`: [{id, token, platform}], those of push_deliveries excluded).
 */
create or replace function private.claim_push_batch(p_limit integer default 100)
returns table (
  id bigint, user_id text, collapse_key text, kind text, title text, body text, data jsonb,
  event_count integer, attempts integer, badge integer, devices jsonb
)
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_lease interval := make_interval(secs => private.config_bigint('push.lease_seconds', 60));
begin
  return query
  with due as (
    select o.id from private.push_outbox o
    where (o.status in ('pending', 'retry') and o.next_attempt_at <= now())
       or (o.status = 'sending' and o.claimed_until < now())
    order by o.next_attempt_at, o.id
    limit greatest(1, least(coalesce(p_limit, 100), 500))
    for update skip locked
  ), taken as (
    update private.push_outbox o
    set status = 'sending', claimed_until = now() + v_lease, attempts = o.attempts + 1, updated_at = now()
    from due where o.id = due.id
    returning o.*
  )
  select t.id, t.user_id::text, t.collapse_key, t.kind, t.title, t.body, t.data, t.event_count, t.attempts,
         private.unread_message_total(t.user_id),
         coalesce((
           select jsonb_agg(jsonb_build_object('id', d.id, 'token', d.token, 'platform', d.platform) order by d.created_at)
           from public.push_devices d
           where d.user_id = t.user_id
             and not exists (select 1 from private.push_deliveries pd where pd.outbox_id = t.id and pd.device_id = d.id)
         ), '[]'::jsonb)
  from taken t
  order by t.id;
end;
$$;

/**
 * Reports what FCM answered for one claimed row:
 * - `p_delivered` / `p_message_names`: devices FCM accepted (same order) →
 *   push_deliveries;
 * - `p_removed`: devices whose token FCM reported UNREGISTERED or invalid →
 *   deleted;
 * - `p_retry_after_seconds`: null when nothing is left to retry (the row is
 *   `sent`); otherwise the row is `retry` at now() + that many seconds, or
 *   `failed` once push.max_attempts attempts were made. `p_error` (cut to 500
 *   characters) is kept in last_error.
 * Only the dispatcher holding the row (status sending) changes it; returns
 * the new status, or null when the row was not its to finish.
 */
create or replace function private.finish_push(
  p_id bigint,
  p_delivered uuid[] default '{}',
  p_message_names text[] default '{}',
  p_removed uuid[] default '{}',
  p_retry_after_seconds integer default null,
  p_error text default null
)
returns text
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_row private.push_outbox;
  v_status text;
begin
  select * into v_row from private.push_outbox o where o.id = p_id and o.status = 'sending' for update;
  if not found then
    return null;
  end if;
  insert into private.push_deliveries (outbox_id, device_id, fcm_message_name)
  select p_id, d.id, left(n.name, 300)
  from unnest(coalesce(p_delivered, '{}'), coalesce(p_message_names, '{}')) as n(device_id, name)
  join public.push_devices d on d.id = n.device_id
  on conflict do nothing;
  delete from public.push_devices d where d.id = any (coalesce(p_removed, '{}')) and d.user_id = v_row.user_id;

  v_status := case
    when p_retry_after_seconds is null then 'sent'
    when v_row.attempts >= private.config_bigint('push.max_attempts', 8) then 'failed'
    else 'retry' end;
  update private.push_outbox o
  set status = v_status,
      claimed_until = null,
      next_attempt_at = case when v_status = 'retry' then now() + make_interval(secs => greatest(0, p_retry_after_seconds)) else o.next_attempt_at end,
      sent_at = case when v_status = 'sent' then now() end,
      last_error = left(p_error, 500),
      updated_at = now()
  where o.id = p_id;
  return v_status;
end;
$$;

revoke execute on function
  private.enqueue_push(text, text, text, text, text, jsonb),
  private.unread_message_total(text),
  private.claim_push_batch(integer),
  private.finish_push(bigint, uuid[], text[], uuid[], integer, text)
  from public, anon, authenticated;
grant execute on function
  private.claim_push_batch(integer),
  private.finish_push(bigint, uuid[], text[], uuid[], integer, text)
  to service_role;
