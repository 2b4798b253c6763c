-- =============================================================================
-- Clerk sync: the one narrow door through which the clerk-webhook function
-- writes profiles, and the provider-event log that makes webhook deliveries
-- idempotent.
--
-- Why: Clerk delivers webhooks through Svix at least once, possibly out of
-- order and concurrently (https://docs.svix.com/retries). So:
--   * every processed event id is recorded in `webhook_events` (unique per
--     provider): a redelivery of the same event is a no-op;
--   * a user.created / user.updated payload is applied only when its Clerk
--     `updated_at` is newer than the one last applied
--     (user_accounts.clerk_updated_at): an old payload never regresses a newer
--     profile;
--   * a user.deleted is final: Clerk never reuses a user id, so a created or
--     updated payload for a deleted id arriving late is ignored.
-- Clerk is the source of truth for the name, username, avatar, email, sign-in
-- provider and admin flag: each applied payload overwrites them (clients change
-- them through Clerk). `about` and `last_seen_at` are ours and never touched.
--
-- Deleting a user deletes the `users` row; the foreign keys then remove their
-- account, friendships, memberships, notifications and media, and keep their
-- messages with sender_id = null (messages.sender_id on delete set null). Before
-- that, their assistant chats are deleted (nobody else can read them) and each
-- group they own passes to a successor as in leave_chat(), or is deleted when
-- they were its last member. Direct chats stay for the other member.
--
-- Only the service role (the webhook functions) may call these functions; the
-- event log has RLS enabled and no grants to client roles.
-- =============================================================================

-- -----------------------------------------------------------------------------
-- Tables
-- -----------------------------------------------------------------------------
create table public.webhook_events (
  provider text not null check (provider in ('clerk', 'stripe', 'cloudinary')),
  event_id text not null check (char_length(event_id) between 1 and 255),
  type text not null check (char_length(type) between 1 and 100),
  subject_id text check (subject_id is null or char_length(subject_id) <= 255),
  occurred_at timestamptz,
  received_at timestamptz not null default now(),
  outcome text check (outcome is null or char_length(outcome) <= 50),
  primary key (provider, event_id)
);
comment on table public.webhook_events is
  'Every verified webhook event processed, one row per provider event id: a redelivery finds its row and does nothing. Written by webhook functions (service role) only.';
comment on column public.webhook_events.provider is 'Who sent it: clerk (via Svix), stripe, cloudinary.';
comment on column public.webhook_events.event_id is
  'The provider''s event id: Svix `svix-id` header for Clerk (msg_…), Stripe `event.id` (evt_…), Cloudinary notification id.';
comment on column public.webhook_events.type is 'Provider event type, e.g. user.created, checkout.session.completed.';
comment on column public.webhook_events.subject_id is
  'Id of the object the event is about (Clerk user id, Stripe object id, Cloudinary public_id), when known.';
comment on column public.webhook_events.occurred_at is 'When the provider says the event happened (Clerk/Stripe event timestamp).';
comment on column public.webhook_events.outcome is
  'What processing did: created, updated, unchanged, stale, deleted, not_found, after_delete, ignored.';

-- Tombstone lookups (was this Clerk user deleted?) and per-object history.
create index webhook_events_subject_idx on public.webhook_events (provider, subject_id, type)
  where subject_id is not null;

-- -----------------------------------------------------------------------------
-- Grants and RLS: service role only
-- -----------------------------------------------------------------------------
revoke all on public.webhook_events from anon, authenticated;
grant select, insert, update on public.webhook_events to service_role;

alter table public.webhook_events enable row level security;
-- No policies: client roles have no grants and nothing to see.

-- -----------------------------------------------------------------------------
-- Functions (service role only)
-- -----------------------------------------------------------------------------

/**
 * Records a verified webhook event. Returns true the first time the event id
 * is seen for the provider, false for a redelivery (the caller then does
 * nothing). Concurrent deliveries of one event serialize on the primary key:
 * exactly one of them gets true.
 */
create or replace function private.record_webhook_event(
  p_provider text,
  p_event_id text,
  p_type text,
  p_subject_id text default null,
  p_occurred_at timestamptz default null,
  p_outcome text default null
)
returns boolean
language plpgsql
security definer
set search_path = ''
as $$
begin
  insert into public.webhook_events (provider, event_id, type, subject_id, occurred_at, outcome)
  values (p_provider, p_event_id, p_type, p_subject_id, p_occurred_at, p_outcome)
  on conflict (provider, event_id) do nothing;
  return found;
end;
$$;
comment on function private.record_webhook_event(text, text, text, text, timestamptz, text) is
  'Records a verified webhook event; true the first time, false for a redelivery of the same provider event id.';

/**
 * Applies a Clerk user.created / user.updated payload (fields already
 * extracted by clerk-webhook) in one transaction:
 *   1. records the event (a redelivery returns 'duplicate' and changes nothing);
 *   2. ignores users already deleted ('after_delete');
 *   3. applies the payload only if `p_clerk_updated_at` is newer than the last
 *      applied one ('stale' if older, 'unchanged' if equal);
 *   4. upserts users + user_accounts ('created' or 'updated').
 * Values the tables would refuse are dropped rather than failing the delivery:
 * display name cut to 100 characters, a username outside
 * ^[A-Za-z0-9_.-]{3,32}$ and a non-https avatar become null, an email without
 * '@' becomes null. A username still held by another user goes to whichever
 * payload is newer (Clerk keeps usernames unique at any one time).
 * Errors: 22023 invalid user id or missing updated_at.
 * Returns the outcome, also stored in webhook_events.outcome.
 */
create or replace function private.clerk_upsert_user(
  p_event_id text,
  p_event_type text,
  p_user_id text,
  p_clerk_updated_at timestamptz,
  p_display_name text,
  p_username text,
  p_email text,
  p_auth_provider text,
  p_avatar_url text,
  p_is_admin boolean,
  p_occurred_at timestamptz default null
)
returns text
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_prev_at timestamptz;
  v_username text := nullif(btrim(coalesce(p_username, '')), '');
  v_avatar text := nullif(btrim(coalesce(p_avatar_url, '')), '');
  v_email text := nullif(btrim(coalesce(p_email, '')), '');
  v_holder text;
  v_holder_at timestamptz;
  v_inserted boolean;
  v_outcome text;
begin
  if p_user_id is null or p_user_id !~ '^user_[A-Za-z0-9]{1,64}$' then
    raise exception 'invalid Clerk user id: %', p_user_id using errcode = '22023';
  end if;
  if p_clerk_updated_at is null then
    raise exception 'a Clerk user payload needs updated_at' using errcode = '22023';
  end if;
  if not private.record_webhook_event('clerk', p_event_id, p_event_type, p_user_id, p_occurred_at) then
    return 'duplicate';
  end if;

  -- One writer per user at a time: concurrent deliveries of different events
  -- for the same user are applied one after the other, each seeing the last.
  perform pg_advisory_xact_lock(hashtextextended('clerk-user:' || p_user_id, 0));

  if exists (
    select 1 from public.webhook_events e
    where e.provider = 'clerk' and e.subject_id = p_user_id and e.type = 'user.deleted'
  ) then
    v_outcome := 'after_delete';
  else
    select a.clerk_updated_at into v_prev_at
    from public.user_accounts a where a.user_id = p_user_id;
    if v_prev_at is not null and v_prev_at > p_clerk_updated_at then
      v_outcome := 'stale';
    elsif v_prev_at is not null and v_prev_at = p_clerk_updated_at then
      v_outcome := 'unchanged';
    end if;
  end if;

  if v_outcome is not null then
    update public.webhook_events e set outcome = v_outcome
    where e.provider = 'clerk' and e.event_id = p_event_id;
    return v_outcome;
  end if;

  if v_username is not null and v_username !~ '^[A-Za-z0-9_.-]{3,32}$' then
    v_username := null;
  end if;
  if v_avatar is not null and v_avatar !~ '^https://' then
    v_avatar := null;
  end if;
  if v_email is not null and position('@' in v_email) <= 1 then
    v_email := null;
  end if;

  if v_username is not null then
    select u.id, a.clerk_updated_at into v_holder, v_holder_at
    from public.users u left join public.user_accounts a on a.user_id = u.id
    -- citext's own `=` (search_path is empty: a bare `=` compares as text, case-sensitively).
    where u.username operator(extensions.=) v_username::extensions.citext and u.id <> p_user_id;
    if v_holder is not null then
      if v_holder_at is null or v_holder_at < p_clerk_updated_at then
        -- Newer than what we know of the holder: Clerk has moved the handle to
        -- this user; the holder's own (newer) webhook brings their new one.
        update public.users u set username = null where u.id = v_holder;
      else
        v_username := null;
      end if;
    end if;
  end if;

  insert into public.users as u (id, display_name, username, avatar_url)
  values (p_user_id, left(coalesce(btrim(p_display_name), ''), 100), v_username, v_avatar)
  on conflict (id) do update
    set display_name = excluded.display_name,
        username = excluded.username,
        avatar_url = excluded.avatar_url
  returning (u.xmax = 0) into v_inserted;

  insert into public.user_accounts as a (user_id, email, auth_provider, is_admin, clerk_updated_at)
  values (p_user_id, v_email, coalesce(nullif(btrim(p_auth_provider), ''), 'email'),
          coalesce(p_is_admin, false), p_clerk_updated_at)
  on conflict (user_id) do update
    set email = excluded.email,
        auth_provider = excluded.auth_provider,
        is_admin = excluded.is_admin,
        clerk_updated_at = excluded.clerk_updated_at;

  v_outcome := case when v_inserted then 'created' else 'updated' end;
  update public.webhook_events e set outcome = v_outcome
  where e.provider = 'clerk' and e.event_id = p_event_id;
  return v_outcome;
end;
$$;
comment on function private.clerk_upsert_user(text, text, text, timestamptz, text, text, text, text, text, boolean, timestamptz) is
  'clerk-webhook: applies a user.created/updated payload once and in order (newer clerk_updated_at wins). Returns the outcome.';

/**
 * Applies a Clerk user.deleted event in one transaction: records the event
 * ('duplicate' on redelivery), deletes the user's assistant chats, hands each
 * group they own to a successor (longest-standing admin, else member, as
 * leave_chat() does) or deletes it when they were its last member, then
 * deletes the users row; foreign keys cascade to the account, friendships,
 * memberships, notifications and media, and set messages.sender_id to null.
 * The recorded event is the tombstone that stops late created/updated
 * payloads from bringing the user back.
 * Errors: 22023 invalid user id.
 * Returns 'deleted', or 'not_found' when there was no profile.
 */
create or replace function private.clerk_delete_user(
  p_event_id text,
  p_user_id text,
  p_occurred_at timestamptz default null
)
returns text
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_chat uuid;
  v_next text;
  v_deleted integer;
  v_outcome text;
begin
  if p_user_id is null or p_user_id !~ '^user_[A-Za-z0-9]{1,64}$' then
    raise exception 'invalid Clerk user id: %', p_user_id using errcode = '22023';
  end if;
  if not private.record_webhook_event('clerk', p_event_id, 'user.deleted', p_user_id, p_occurred_at) then
    return 'duplicate';
  end if;
  perform pg_advisory_xact_lock(hashtextextended('clerk-user:' || p_user_id, 0));

  delete from public.chats c
  where c.kind = 'assistant'
    and c.id in (select m.chat_id from public.chat_members m where m.user_id = p_user_id and m.role = 'owner');

  for v_chat in
    select m.chat_id from public.chat_members m
    join public.chats c on c.id = m.chat_id
    where m.user_id = p_user_id and m.role = 'owner' and c.kind = 'group'
  loop
    select m.user_id into v_next from public.chat_members m
    where m.chat_id = v_chat and m.user_id <> p_user_id
    order by (m.role = 'admin') desc, m.joined_at, m.user_id
    limit 1;
    if v_next is null then
      delete from public.chats c where c.id = v_chat;
    else
      update public.chat_members m set role = 'owner' where m.chat_id = v_chat and m.user_id = v_next;
    end if;
  end loop;

  delete from public.users u where u.id = p_user_id;
  get diagnostics v_deleted = row_count;
  v_outcome := case when v_deleted > 0 then 'deleted' else 'not_found' end;
  update public.webhook_events e set outcome = v_outcome
  where e.provider = 'clerk' and e.event_id = p_event_id;
  return v_outcome;
end;
$$;
comment on function private.clerk_delete_user(text, text, timestamptz) is
  'clerk-webhook: applies user.deleted once (deletes the profile; cascades; groups pass to a successor). Returns the outcome.';

revoke execute on function
  private.record_webhook_event(text, text, text, text, timestamptz, text),
  private.clerk_upsert_user(text, text, text, timestamptz, text, text, text, text, text, boolean, timestamptz),
  private.clerk_delete_user(text, text, timestamptz)
  from public, anon, authenticated;
grant execute on function
  private.record_webhook_event(text, text, text, text, timestamptz, text),
  private.clerk_upsert_user(text, text, text, timestamptz, text, text, text, text, text, boolean, timestamptz),
  private.clerk_delete_user(text, text, timestamptz)
  to service_role;

-- -----------------------------------------------------------------------------
-- A deletion is final on every path
-- -----------------------------------------------------------------------------

/**
 * BEFORE INSERT on users: refuses to re-create a Clerk user whose user.deleted
 * was recorded (Clerk never reuses ids), whether the insert comes from a late
 * webhook, ensure_profile() with a still-valid token, or anything else.
 * Errors: 42501.
 */
create or replace function private.refuse_deleted_user()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if exists (
    select 1 from public.webhook_events e
    where e.provider = 'clerk' and e.subject_id = new.id and e.type = 'user.deleted'
  ) then
    raise exception 'user % was deleted', new.id using errcode = '42501';
  end if;
  return new;
end;
$$;

create trigger users_refuse_deleted before insert on public.users
  for each row execute function private.refuse_deleted_user();
