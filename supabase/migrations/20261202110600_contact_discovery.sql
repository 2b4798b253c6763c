-- =============================================================================
-- Phone sign-in and contact discovery (issue 17, item 3).
--
-- Why: users sign in with a phone number (Clerk sends and checks the OTP:
-- https://clerk.com/docs/authentication/configuration/sign-up-sign-in-options)
-- and want to learn which people of their address book already use the app,
-- without the app learning the address book or anyone being able to list who
-- owns which number.
--
-- What this adds:
--   * public.user_accounts gains the user's verified phone number in E.164
--     (`phone_number`) and the opt-in `discoverable_by_phone` (default false: nobody is findable by
--     number until they say so). Like the email, the row is readable by its
--     owner only ("Users can read their own account"); only clerk-webhook
--     writes the number (private.clerk_sync_phone), only the owner the opt-in
--     (public.set_phone_discoverable); its keyed lookup hash lives in
--     private.phone_lookup_hashes, which no client role can read;
--   * public.discover_contacts(p_phone_hashes): the caller uploads SHA-256
--     digests (lower-case hex) of E.164 numbers, normalised on the client with
--     libphonenumber-js (packages/shared `contactPhoneHash`), and gets back the
--     users whose verified number matches and who allow discovery. The
--     database keys each digest with a secret it never reveals
--     (private.phone_lookup_hash: HMAC-SHA-256 with private.identity_hash_key)
--     and compares it with the stored keyed hash; the upload is neither stored
--     nor logged. Bounded: at most contacts.discover_max_batch digests per call
--     and rate_limit.discover_contacts calls per window per user (429), so the
--     number space cannot be walked from one account.
--
-- Normalisation happens on the client: only the client knows the region a
-- local number ("0612 345 678") belongs to. The key stays secret in the
-- database, so no edge function is needed to hold it.
--
-- Alike on purpose: function headers (returns, language, security, search_path,
-- the caller's id) and table declarations (grants, RLS, policies) repeat: each
-- object states its own contract (supabase/migrations/README.md, "Shapes that repeat").
-- =============================================================================

-- -----------------------------------------------------------------------------
-- Columns
-- -----------------------------------------------------------------------------
alter table public.user_accounts
  add column phone_number text check (phone_number is null or phone_number ~ '^\+[1-9][0-9]{6,14}$'),
  add column discoverable_by_phone boolean not null default false;
comment on column public.user_accounts.phone_number is
  'The user''s verified phone number in E.164 (+<country code><number>, at most 15 digits), from Clerk (primary phone number if verified, else the first verified one); null without one. Readable by its owner only; written by clerk-webhook.';
comment on column public.user_accounts.discoverable_by_phone is
  'Opt-in (default false): whether people who have this user''s verified number in their address book find them through discover_contacts. Set by the user with set_phone_discoverable.';

-- -----------------------------------------------------------------------------
-- Lookup hashes (private: no client role reads them, not even the owner)
-- -----------------------------------------------------------------------------
create table private.phone_lookup_hashes (
  user_id public.clerk_user_id primary key references public.users (id) on delete cascade,
  phone_hash bytea not null
);
comment on table private.phone_lookup_hashes is
  'One row per user with a verified phone number: private.phone_lookup_hash of the SHA-256 hex digest of user_accounts.phone_number, what discover_contacts matches uploads against. Written by private.clerk_sync_phone only.';
comment on column private.phone_lookup_hashes.phone_hash is
  'HMAC-SHA-256 (key private.identity_hash_key) of "phone-lookup:" || sha256_hex(E.164 number).';
-- discover_contacts looks users up by keyed hash.
create index phone_lookup_hashes_phone_hash_idx on private.phone_lookup_hashes (phone_hash);
alter table private.phone_lookup_hashes enable row level security;
-- No policies and no grants: only the security-definer functions below use it.

insert into public.admin_config (key, value, description, value_type, min_value, max_value) values
  ('contacts.discover_max_batch', '500',
   'Most phone-number hashes discover_contacts accepts in one call; a larger upload is refused (400), the client sends it in several calls.', 'integer', 1, 10000),
  ('rate_limit.discover_contacts.limit', '20',
   'discover_contacts calls a user may make per window; above it 429. With contacts.discover_max_batch it bounds how many numbers one account can test.', 'integer', 1, 1000000),
  ('rate_limit.discover_contacts.window_seconds', '86400',
   'Length of the discover_contacts window, in seconds.', 'integer', 1, 86400)
on conflict (key) do nothing;

-- -----------------------------------------------------------------------------
-- Functions
-- -----------------------------------------------------------------------------

/**
 * Keyed lookup hash of a phone number given as the SHA-256 digest of its
 * E.164 form, lower-case hex (64 characters): HMAC-SHA-256 of
 * "phone-lookup:<hex>" with private.identity_hash_key. Null for anything that
 * is not 64 hex digits. Without the key, the stored hashes cannot be matched
 * against a list of numbers.
 */
create or replace function private.phone_lookup_hash(p_sha256_hex text)
returns bytea
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  if p_sha256_hex is null or p_sha256_hex !~ '^[0-9a-f]{64}$' then
    return null;
  end if;
  return extensions.hmac(convert_to('phone-lookup:' || p_sha256_hex, 'UTF8'),
                         (select k.key from private.identity_hash_key k where k.id), 'sha256');
end;
$$;

/**
 * clerk-webhook, after an applied user.created / user.updated
 * (private.clerk_upsert_user returned created or updated), in the same
 * transaction: stores the user's verified phone number `p_phone_number`
 * (E.164, normalised by the function with libphonenumber-js) and its lookup
 * hash, or clears both when null or not E.164 (the number was removed or is
 * no longer verified). The opt-in is left as the user set it.
 * Returns true when the account row exists.
 */
create or replace function private.clerk_sync_phone(p_user_id text, p_phone_number text)
returns boolean
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_phone text := case when p_phone_number ~ '^\+[1-9][0-9]{6,14}$' then p_phone_number end;
begin
  update public.user_accounts a set phone_number = v_phone where a.user_id = p_user_id;
  if not found then
    return false;
  end if;
  if v_phone is null then
    delete from private.phone_lookup_hashes h where h.user_id = p_user_id;
  else
    insert into private.phone_lookup_hashes as h (user_id, phone_hash)
    values (p_user_id, private.phone_lookup_hash(encode(extensions.digest(convert_to(v_phone, 'UTF8'), 'sha256'), 'hex')))
    on conflict (user_id) do update set phone_hash = excluded.phone_hash;
  end if;
  return true;
end;
$$;
comment on function private.clerk_sync_phone(text, text) is
  'clerk-webhook: stores the verified E.164 phone number and its keyed lookup hash (or clears them).';

/**
 * Opts the caller in to (true) or out of (false) discovery by phone number:
 * whether discover_contacts returns them to people who have their verified
 * number. Default is out. Returns the new setting.
 * Errors: 22023 when p_enabled is null; 401/42501 when not signed in.
 */
create or replace function public.set_phone_discoverable(p_enabled boolean)
returns boolean
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_me text := private.require_user_id();
begin
  if p_enabled is null then
    raise exception 'p_enabled must be true or false' using errcode = '22023';
  end if;
  update public.user_accounts a set discoverable_by_phone = p_enabled where a.user_id = v_me;
  if not found then
    raise exception 'no account' using errcode = 'PT404';
  end if;
  return p_enabled;
end;
$$;
comment on function public.set_phone_discoverable(boolean) is
  'Opt in/out of being found by phone number through discover_contacts (default out). Returns the new setting.';

/**
 * Which of the caller's contacts use the app.
 * `p_phone_hashes`: SHA-256 digests, lower-case hex, of E.164 numbers
 * ("+14155550100"), at most contacts.discover_max_batch (default 500) per call
 * (packages/shared `contactPhoneHash` computes them with libphonenumber-js).
 * Returns one row per matched user: the uploaded digest that matched
 * (`phone_hash`, so the client maps it back to its contact) and their public
 * profile fields. Only users with a verified number (synced from Clerk) who
 * opted in (discoverable_by_phone), not the caller, not suspended, and neither
 * blocking nor blocked by the caller. The upload is not stored.
 * Errors: 22023 when p_phone_hashes is null, too long or holds anything but
 * 64 lower-case hex digits; PT429 past rate_limit.discover_contacts (default
 * 20 calls per 24 h; counted before validation, so every call counts).
 */
create or replace function public.discover_contacts(p_phone_hashes text[])
returns table (phone_hash text, user_id text, display_name text, username text, avatar_url text)
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_me text := private.require_user_id();
  v_max bigint := private.config_bigint('contacts.discover_max_batch', 500);
begin
  perform private.rate_limit('discover_contacts');
  if p_phone_hashes is null then
    raise exception 'p_phone_hashes is required' using errcode = '22023';
  end if;
  if cardinality(p_phone_hashes) > v_max then
    raise exception 'p_phone_hashes: at most % hashes per call', v_max using errcode = '22023';
  end if;
  if exists (select 1 from unnest(p_phone_hashes) h where h is null or h !~ '^[0-9a-f]{64}$') then
    raise exception 'p_phone_hashes: each item must be a SHA-256 digest in lower-case hex (64 characters)' using errcode = '22023';
  end if;

  return query
  select distinct on (a.user_id) q.h, u.id::text, u.display_name, u.username::text, u.avatar_url
  from (select distinct h, private.phone_lookup_hash(h) as k from unnest(p_phone_hashes) h) q
  join private.phone_lookup_hashes p on p.phone_hash = q.k
  join public.user_accounts a on a.user_id = p.user_id
  join public.users u on u.id = a.user_id
  where a.user_id <> v_me
    and a.discoverable_by_phone
    and a.suspended_at is null
    and not private.is_blocked_between(v_me, a.user_id)
  order by a.user_id, q.h;
end;
$$;
comment on function public.discover_contacts(text[]) is
  'Address-book matching: SHA-256 hex digests of E.164 numbers in, opted-in users with that verified number out. Bounded batch, rate-limited.';

revoke execute on function
  private.phone_lookup_hash(text),
  private.clerk_sync_phone(text, text),
  public.set_phone_discoverable(boolean),
  public.discover_contacts(text[])
  from public, anon, authenticated;
grant execute on function private.clerk_sync_phone(text, text) to service_role;
grant execute on function public.set_phone_discoverable(boolean), public.discover_contacts(text[]) to authenticated;
