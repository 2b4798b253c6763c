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
-- The welcome grant (credits.welcome_grant_micro_usd) is given here, once per
-- verified identity rather than per account: the first applied payload that
-- carries a verified email or phone number (Clerk `verification.status`
-- "verified") not yet seen on another account gets it, within a daily budget
-- for all welcome grants (credits.welcome_grant_daily_budget_micro_usd). A
-- deleted and re-created account, or a second account with the same verified
-- email, gets nothing. Identities are kept only as keyed hashes
-- (HMAC-SHA-256 of the normalised address), never in clear.
--
-- Only the service role (the webhook functions) may call these functions; the
-- event log has RLS enabled and no grants to client roles.
--
-- Alike on purpose: function headers (returns, language, security, search_path)
-- and the opening of each webhook step (the user id checked, the event recorded
-- once, its lock taken) repeat: each states its own contract and lock order
-- (supabase/migrations/README.md, "Shapes that repeat").
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

-- Welcome grants: which verified identities have been seen, and the day's spend.
create table private.welcome_identities (
  identity_hash bytea primary key,
  user_id public.clerk_user_id not null,
  first_seen_at timestamptz not null default now()
);
comment on table private.welcome_identities is
  'Verified emails and phone numbers seen on Clerk accounts, as keyed hashes (private.identity_hash): one account per identity may get the welcome grant. Kept after the account is deleted.';
comment on column private.welcome_identities.identity_hash is
  'HMAC-SHA-256 (key private.identity_hash_key) of "email:<normalised address>" or "phone:<+digits>".';
comment on column private.welcome_identities.user_id is
  'Clerk id of the first account the identity was verified on (no foreign key: outlives the account).';
create index welcome_identities_user_id_idx on private.welcome_identities (user_id);

create table private.identity_hash_key (
  id boolean primary key default true check (id),
  key bytea not null default extensions.gen_random_bytes(32)
);
comment on table private.identity_hash_key is
  'The one secret key of private.identity_hash, generated when the migration runs: the hashes cannot be matched against a list of addresses without it.';
insert into private.identity_hash_key (id) values (true) on conflict (id) do nothing;

create table private.welcome_grant_days (
  day date primary key,
  granted_micro_usd bigint not null check (granted_micro_usd >= 0)
);
comment on table private.welcome_grant_days is
  'Welcome credits granted per UTC day (micro-USD), held under credits.welcome_grant_daily_budget_micro_usd.';

alter table private.welcome_identities enable row level security;
alter table private.identity_hash_key enable row level security;
alter table private.welcome_grant_days enable row level security;
-- No policies and no grants: only the security-definer functions below use them.

insert into public.admin_config (key, value, description, value_type, min_value, max_value) values
  ('credits.welcome_grant_daily_budget_micro_usd', '1000000000',
   'Most welcome credits (micro-USD) granted in one UTC day, all users together; a new user past it gets their account but no grant. 1000000000 = 1,000 USD. 0 stops welcome grants.',
   'integer', 0, 1000000000000)
on conflict (key) do nothing;

-- -----------------------------------------------------------------------------
-- Functions (service role only)
-- -----------------------------------------------------------------------------

/**
 * Raises 22023 "invalid Clerk user id: <id>" unless `p_user_id` is a valid
 * public.clerk_user_id (the domain says the format): the first check of the
 * service functions that take a user id from a webhook or a function.
 */
create or replace function private.assert_clerk_user_id(p_user_id text)
returns void
language plpgsql
stable
set search_path = ''
as $$
begin
  if p_user_id is null or not pg_input_is_valid(p_user_id, 'public.clerk_user_id') then
    raise exception 'invalid Clerk user id: %', p_user_id using errcode = '22023';
  end if;
end;
$$;

/**
 * Keyed hash of a verified identity, `email:<address>` or `phone:<number>`
 * (other kinds: null). Normalised first: an email is trimmed and lower-cased
 * and a "+tag" of its local part dropped (user+x@example.com is
 * user@example.com); a phone number keeps its digits and a leading "+".
 * Returns HMAC-SHA-256 with private.identity_hash_key, or null when nothing is
 * left to hash.
 */
create or replace function private.identity_hash(p_identity text)
returns bytea
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  v_kind text := split_part(coalesce(p_identity, ''), ':', 1);
  v_value text := lower(btrim(substr(coalesce(p_identity, ''), char_length(v_kind) + 2)));
begin
  if v_kind = 'email' then
    if position('@' in v_value) <= 1 then
      return null;
    end if;
    v_value := regexp_replace(split_part(v_value, '@', 1), '\+.*$', '') || '@' || substr(v_value, position('@' in v_value) + 1);
  elsif v_kind = 'phone' then
    v_value := case when left(v_value, 1) = '+' then '+' else '' end || regexp_replace(v_value, '[^0-9]', '', 'g');
    if v_value !~ '[0-9]{4,}' then
      return null;
    end if;
  else
    return null;
  end if;
  return extensions.hmac(convert_to(v_kind || ':' || v_value, 'UTF8'),
                         (select k.key from private.identity_hash_key k where k.id), 'sha256');
end;
$$;

/**
 * Gives `p_user_id` the welcome grant (credits.welcome_grant_micro_usd, one
 * ledger entry source welcome_grant / user id) if they have not had it, none
 * of their verified identities (`email:<address>`, `phone:<number>`) was seen
 * on another account, and the day's budget
 * (credits.welcome_grant_daily_budget_micro_usd, UTC day) still covers it.
 * Every identity is recorded for this account if no other account had it.
 * Concurrency: the identities are inserted in hash order on their primary
 * key, so parallel deliveries for two accounts with one address serialise on
 * it and only the first account gets the grant; the day's total is one
 * atomic upsert.
 * Returns granted, already_granted, disabled, no_verified_identity,
 * identity_used or budget_exhausted.
 */
create or replace function private.grant_welcome_credits(p_user_id text, p_identities text[])
returns text
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_amount bigint := private.config_bigint('credits.welcome_grant_micro_usd', 0);
  v_budget bigint := private.config_bigint('credits.welcome_grant_daily_budget_micro_usd', 0);
  v_hashes bytea[];
  v_day date := (now() at time zone 'utc')::date;
begin
  if v_amount <= 0 then
    return 'disabled';
  end if;
  if exists (select 1 from public.credit_ledger l where l.source = 'welcome_grant' and l.source_id = p_user_id) then
    return 'already_granted';
  end if;
  select array_agg(distinct h order by h) into v_hashes
  from unnest(coalesce(p_identities, '{}'::text[])) i, private.identity_hash(i) h
  where h is not null;
  if v_hashes is null then
    return 'no_verified_identity';
  end if;

  insert into private.welcome_identities (identity_hash, user_id)
  select h, p_user_id from unnest(v_hashes) h order by h
  on conflict (identity_hash) do nothing;
  if exists (select 1 from private.welcome_identities w
             where w.identity_hash = any (v_hashes) and w.user_id <> p_user_id) then
    return 'identity_used';
  end if;

  if v_amount > v_budget then
    return 'budget_exhausted';
  end if;
  insert into private.welcome_grant_days as d (day, granted_micro_usd) values (v_day, v_amount)
  on conflict (day) do update set granted_micro_usd = d.granted_micro_usd + excluded.granted_micro_usd
    where d.granted_micro_usd + excluded.granted_micro_usd <= v_budget;
  if not found then
    return 'budget_exhausted';
  end if;

  perform private.record_ledger_entry(p_user_id, 'grant', v_amount, 'welcome_grant', p_user_id, 'Welcome credits');
  return 'granted';
end;
$$;
comment on function private.grant_welcome_credits(text, text[]) is
  'Welcome grant once per verified identity, within the daily budget. Returns the outcome (granted, identity_used, budget_exhausted, …).';

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
 * ^[A-Za-z0-9_.-]{3,32}$ and an avatar not on Clerk's image host
 * (https://img.clerk.com/…) become null, an email without
 * '@' becomes null. A username still held by another user goes to whichever
 * payload is newer (Clerk keeps usernames unique at any one time).
 * Then the welcome grant, once per verified identity (private.grant_welcome_credits
 * with `p_verified_identities`: `email:<address>` / `phone:<number>` of the
 * payload's addresses whose verification status is "verified").
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
  p_occurred_at timestamptz default null,
  p_verified_identities text[] default '{}'
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
  perform private.assert_clerk_user_id(p_user_id);
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
  if v_avatar is not null and v_avatar !~ '^https://img\.clerk\.com/' then
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

  perform private.grant_welcome_credits(p_user_id, p_verified_identities);

  v_outcome := case when v_inserted then 'created' else 'updated' end;
  update public.webhook_events e set outcome = v_outcome
  where e.provider = 'clerk' and e.event_id = p_event_id;
  return v_outcome;
end;
$$;
comment on function private.clerk_upsert_user(text, text, text, timestamptz, text, text, text, text, text, boolean, timestamptz, text[]) is
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
  perform private.assert_clerk_user_id(p_user_id);
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
  delete from private.rate_limit_counters r where r.user_id = p_user_id;
  v_outcome := case when v_deleted > 0 then 'deleted' else 'not_found' end;
  update public.webhook_events e set outcome = v_outcome
  where e.provider = 'clerk' and e.event_id = p_event_id;
  return v_outcome;
end;
$$;
comment on function private.clerk_delete_user(text, text, timestamptz) is
  'clerk-webhook: applies user.deleted once (deletes the profile; cascades; groups pass to a successor). Returns the outcome.';

revoke execute on function
  private.identity_hash(text),
  private.grant_welcome_credits(text, text[]),
  private.record_webhook_event(text, text, text, text, timestamptz, text),
  private.clerk_upsert_user(text, text, text, timestamptz, text, text, text, text, text, boolean, timestamptz, text[]),
  private.clerk_delete_user(text, text, timestamptz)
  from public, anon, authenticated;
grant execute on function
  private.record_webhook_event(text, text, text, text, timestamptz, text),
  private.clerk_upsert_user(text, text, text, timestamptz, text, text, text, text, text, boolean, timestamptz, text[]),
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
