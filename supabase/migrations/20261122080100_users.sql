-- =============================================================================
-- Users: Clerk-synced profiles.
--
-- `users` is the public profile every signed-in user may read (name, handle,
-- avatar, about, last seen). Account data only its owner may read (email, auth
-- provider, admin flag) lives in `user_accounts`, so that `select *` on users
-- never needs column tricks and another user's email is never readable.
-- Both are written by the clerk-webhook function (service role); a user whose
-- webhook has not arrived yet creates a minimal profile from the claims of
-- their own token with `ensure_profile()`. A user id is a
-- public.clerk_user_id (foundation migration). users.avatar_media_id is
-- declared here; its foreign key to media is added by the media migration and
-- the trigger that checks it (users_sync_avatar) by the media uploads one.
--
-- Alike on purpose: function headers (returns, language, security, search_path,
-- the caller's id) and table declarations (grants, RLS, policies) repeat: each
-- object states its own contract (supabase/migrations/README.md, "Shapes that repeat").
-- =============================================================================

-- -----------------------------------------------------------------------------
-- Tables
-- -----------------------------------------------------------------------------
create table public.users (
  id public.clerk_user_id primary key,
  display_name text not null default ''
    check (char_length(display_name) <= 100),
  username extensions.citext unique
    check (username ~ '^[A-Za-z0-9_.-]{3,32}$'),
  avatar_url text
    check (avatar_url is null or avatar_url ~ '^https://'),
  about text not null default ''
    check (char_length(about) <= 500),
  last_seen_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  -- Foreign key to public.media: added by 20261122080500_media.sql (media.owner_id references users).
  avatar_media_id uuid
);
comment on table public.users is
  'Public profile of a Clerk user, readable by every signed-in user. Synced by clerk-webhook; owner edits display_name, avatar_url (img.clerk.com or their own upload), about, and touches last_seen_at.';
comment on column public.users.id is 'Clerk user id (`user_…`), the `sub` claim of the session token.';
comment on column public.users.username is
  'Unique handle, case-insensitive, 3-32 of [A-Za-z0-9_.-]; null until chosen. Clerk''s username only (webhook or the session token): users change it in Clerk, never through the Data API.';
comment on column public.users.avatar_url is
  'HTTPS URL of the avatar: Clerk''s image_url (https://img.clerk.com/…) or the secure_url of the user''s own avatar upload (avatar_media_id).';
comment on column public.users.last_seen_at is
  'Server time of the user''s last presence heartbeat (any value the user writes becomes now()); never in the future. Shown as "last seen".';
comment on column public.users.avatar_media_id is
  'The avatar, when uploaded through media-sign: one of the user''s own media with purpose avatar. Setting it sets avatar_url to its secure_url; clearing it clears avatar_url.';

create table public.user_accounts (
  user_id public.clerk_user_id primary key references public.users (id) on delete cascade,
  email text check (email is null or position('@' in email) > 1),
  auth_provider text not null default 'email',
  is_admin boolean not null default false,
  clerk_updated_at timestamptz,
  suspended_at timestamptz,
  suspended_reason text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
comment on table public.user_accounts is
  'Account data of a user, readable by that user only: primary email, sign-in provider, admin flag. Written by clerk-webhook (service role).';
comment on column public.user_accounts.auth_provider is
  'How the user signs in: `email`, or the Clerk OAuth provider without its `oauth_` prefix (google, facebook, apple, …).';
comment on column public.user_accounts.is_admin is
  'From Clerk public metadata `is_admin` (or `role: "admin"`); only the webhook sets it.';
comment on column public.user_accounts.suspended_at is
  'Set by an admin (admin_suspend_user): the user''s token is refused by every table, RPC and function until restored.';
comment on column public.user_accounts.suspended_reason is 'The admin''s reason for the suspension.';
comment on column public.user_accounts.clerk_updated_at is
  'Clerk `updated_at` of the last applied webhook payload: an older payload never overwrites a newer one.';

-- Search by name or handle (search_users): trigram indexes.
create index users_display_name_trgm_idx on public.users using gin (display_name extensions.gin_trgm_ops);
create index users_username_trgm_idx on public.users using gin ((username::text) extensions.gin_trgm_ops);
-- Foreign key, and the media read policy ("is someone's avatar").
create index users_avatar_media_id_idx on public.users (avatar_media_id) where avatar_media_id is not null;

create trigger users_set_updated_at before update on public.users
  for each row execute function private.set_updated_at();

/**
 * BEFORE INSERT/UPDATE on users: what the user writes on their own row (the
 * Data API, or ensure_profile() from their token) cannot be abused by others'
 * screens:
 * - last_seen_at becomes the server's now() whatever value the user sent, and
 *   no writer may set it in the future (clamped to now());
 * - avatar_url set by the user must be Clerk's image host
 *   (https://img.clerk.com/…, https://clerk.com/docs/reference/backend/types/backend-user
 *   `imageUrl`) or the secure_url of their own avatar upload
 *   (avatar_media_id, media-sign); anything else is refused on UPDATE
 *   (22023) and dropped on INSERT (ensure_profile drops bad claims likewise).
 * The username is not writable by clients at all (column privileges below):
 * it is Clerk's. Writes by the service role (clerk-webhook) and by triggers
 * without a caller are not restricted here beyond the future clamp.
 */
create or replace function private.guard_user_profile()
returns trigger
language plpgsql
set search_path = ''
as $$
declare
  v_by_user boolean := private.current_user_id() is not distinct from new.id;
  v_avatar_ok boolean;
begin
  if v_by_user and (tg_op = 'INSERT' or new.last_seen_at is distinct from old.last_seen_at) and new.last_seen_at is not null then
    new.last_seen_at := now();
  elsif new.last_seen_at > now() then
    new.last_seen_at := now();
  end if;

  if v_by_user and new.avatar_url is not null
     and (tg_op = 'INSERT' or new.avatar_url is distinct from old.avatar_url) then
    v_avatar_ok := new.avatar_url ~ '^https://img\.clerk\.com/'
      or (new.avatar_media_id is not null and exists (
            select 1 from public.media md
            where md.id = new.avatar_media_id and md.owner_id = new.id and md.secure_url = new.avatar_url));
    if not v_avatar_ok then
      if tg_op = 'INSERT' then
        new.avatar_url := null;
      else
        raise exception 'avatar_url must be an image on https://img.clerk.com/ (your Clerk image)'
          using errcode = '22023',
                hint = 'To use your own picture, upload it with media-sign purpose "avatar" and set avatar_media_id.';
      end if;
    end if;
  end if;
  return new;
end;
$$;

create trigger users_guard_profile before insert or update on public.users
  for each row execute function private.guard_user_profile();
create trigger user_accounts_set_updated_at before update on public.user_accounts
  for each row execute function private.set_updated_at();

-- -----------------------------------------------------------------------------
-- Grants
-- -----------------------------------------------------------------------------
grant select on public.users to authenticated;
-- Not username: handles are Clerk's (no squatting one through the Data API).
-- avatar_media_id: checked and mirrored into avatar_url by the users_sync_avatar trigger (20261122130000_media_uploads.sql).
grant update (display_name, avatar_url, about, last_seen_at, avatar_media_id) on public.users to authenticated;
grant select on public.user_accounts to authenticated;
grant select, insert, update, delete on public.users, public.user_accounts to service_role;

-- -----------------------------------------------------------------------------
-- RLS policies
-- -----------------------------------------------------------------------------
alter table public.users enable row level security;
alter table public.user_accounts enable row level security;

create policy "Signed-in users can read profiles"
  on public.users for select to authenticated
  using (true);

create policy "Users can update their own profile"
  on public.users for update to authenticated
  using (id = (select auth.jwt()) ->> 'sub')
  with check (id = (select auth.jwt()) ->> 'sub');

create policy "Users can read their own account"
  on public.user_accounts for select to authenticated
  using (user_id = (select auth.jwt()) ->> 'sub');

-- -----------------------------------------------------------------------------
-- Helpers
-- -----------------------------------------------------------------------------

/**
 * True when the caller's account carries the admin flag (from Clerk public
 * metadata) and is not suspended: a suspended admin is no admin, in the
 * policies that use this (admin_config, ai_models, credit_packs,
 * admin_audit_log) as in private.require_admin() (admin migration).
 */
create or replace function private.is_admin()
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select coalesce(
    (select a.is_admin and a.suspended_at is null
     from public.user_accounts a where a.user_id = private.current_user_id()),
    false
  )
$$;
grant execute on function private.is_admin() to authenticated, service_role;

/**
 * True when the caller's account is suspended. PL/pgSQL, not SQL: every
 * statement a user runs evaluates it once (the restrictive policies of the
 * admin migration),
 * and a security-definer SQL function is planned again on each of them (it is
 * never inlined), which cost more than the rest of a history page
 * (bench/results/report.md). The caller's id is private.current_user_id()'s
 * body inlined, for the same reason.
 */
create or replace function private.caller_is_suspended()
returns boolean
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  return exists (
    select 1 from public.user_accounts a
    where a.user_id = nullif(auth.jwt() ->> 'sub', '') and a.suspended_at is not null
  );
end;
$$;
grant execute on function private.caller_is_suspended() to authenticated, service_role;

/**
 * The caller's Clerk user id, for every RPC; raises 42501 (PostgREST: 401
 * for anon, 403 otherwise) when the request carries no subject or the
 * account is suspended.
 */
create or replace function private.require_user_id()
returns text
language plpgsql
stable
set search_path = ''
as $$
declare
  v_id text := private.current_user_id();
begin
  if v_id is null then
    raise exception 'not signed in'
      using errcode = '42501', hint = 'Send a Clerk session token as the Authorization bearer.';
  end if;
  if private.caller_is_suspended() then
    raise exception 'account suspended' using errcode = '42501';
  end if;
  return v_id;
end;
$$;

grant execute on function private.require_user_id() to authenticated, service_role;

-- -----------------------------------------------------------------------------
-- RPCs
-- -----------------------------------------------------------------------------

/**
 * Creates the caller's profile from the claims of their own Clerk session token
 * when the user.created webhook has not arrived yet; returns the profile either
 * way. Reads optional claims `name`, `username`, `image_url`/`picture`, `email`
 * (present only if the Clerk session token template adds them). The webhook
 * later fills in and overrides everything.
 * Errors: 42501 when not signed in.
 */
create or replace function public.ensure_profile()
returns public.users
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_id text := private.require_user_id();
  v_claims jsonb := (select auth.jwt());
  v_profile public.users;
  v_username text := v_claims ->> 'username';
  v_avatar text := coalesce(v_claims ->> 'image_url', v_claims ->> 'picture');
begin
  if v_username is not null and v_username !~ '^[A-Za-z0-9_.-]{3,32}$' then
    v_username := null;
  end if;
  if v_avatar is not null and v_avatar !~ '^https://' then
    v_avatar := null;
  end if;
  insert into public.users (id, display_name, username, avatar_url)
  values (
    v_id,
    left(coalesce(v_claims ->> 'name', v_claims ->> 'given_name', ''), 100),
    -- citext's own `=` (search_path is empty: a bare `=` would compare as text,
    -- case-sensitively, and a taken handle in another case would raise 23505).
    case when v_username is not null
      and not exists (
        select 1 from public.users u
        where u.username operator(extensions.=) v_username::extensions.citext
      )
      then v_username end,
    v_avatar
  )
  on conflict (id) do nothing;

  insert into public.user_accounts (user_id, email)
  values (
    v_id,
    case when position('@' in coalesce(v_claims ->> 'email', '')) > 1 then v_claims ->> 'email' end
  )
  on conflict (user_id) do nothing;

  select * into v_profile from public.users where id = v_id;
  return v_profile;
end;
$$;
comment on function public.ensure_profile() is
  'Creates the caller''s profile from their token claims if the Clerk webhook has not arrived yet; returns the profile.';
grant execute on function public.ensure_profile() to authenticated;
