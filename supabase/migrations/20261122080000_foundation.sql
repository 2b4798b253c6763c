-- =============================================================================
-- Foundation: the `private` schema, locked-down defaults and the helpers every
-- later migration uses.
--
-- Why: the Data API exposes only `public` (config.toml [api] schemas). Security
-- definer helpers, trigger functions and anything clients must not call live in
-- `private`, which PostgREST never exposes. Nothing is reachable by accident:
-- default EXECUTE is revoked and every table and function is granted explicitly.
-- Identity is Clerk's: a user id is the token's `sub` claim (text, `user_…`),
-- read with auth.jwt(), never auth.uid() (a uuid cast that raises on Clerk ids).
-- =============================================================================

-- -----------------------------------------------------------------------------
-- Extensions (in `extensions`, never `public`: advisor 0014 extension_in_public)
-- -----------------------------------------------------------------------------
create extension if not exists pg_trgm with schema extensions;
create extension if not exists citext with schema extensions;

-- -----------------------------------------------------------------------------
-- Lock down, then grant
-- -----------------------------------------------------------------------------
-- PostgreSQL grants EXECUTE on new functions to PUBLIC. Revoke it for every
-- function postgres creates from now on (the global form: a per-schema ALTER
-- DEFAULT PRIVILEGES cannot take back a built-in default), so that every
-- function must be granted to the roles that need it.
alter default privileges revoke execute on functions from public;

create schema if not exists private;
comment on schema private is
  'Helpers, trigger functions and security-definer code. Not exposed by the Data API.';
-- Policies call private helpers as the querying role, so the API roles need USAGE.
grant usage on schema private to authenticated, service_role;

-- -----------------------------------------------------------------------------
-- Clerk user ids
-- -----------------------------------------------------------------------------
-- Every column that holds a user id has this type, and the RPCs that take one
-- from a webhook check it with private.assert_clerk_user_id
-- (20261122090000_clerk_sync.sql: pg_input_is_valid against this domain):
-- the format is written here only. Clerk ids are `user_` + base62
-- (https://clerk.com/docs/reference/backend/types/backend-user `id`); the same
-- rule is ClerkUserId in packages/shared/src/common.ts.
create domain public.clerk_user_id as text
  constraint clerk_user_id_format check (value ~ '^user_[A-Za-z0-9]{1,64}$');
comment on domain public.clerk_user_id is
  'A Clerk user id: user_ followed by 1 to 64 letters or digits (the sub claim of a Clerk session token).';

-- -----------------------------------------------------------------------------
-- Identity helpers
-- -----------------------------------------------------------------------------

/**
 * The Clerk user id of the caller (`sub` claim of the session token), or null
 * for anon and service-role requests without a subject.
 */
-- PL/pgSQL, not SQL: with `set search_path` a SQL function is never inlined,
-- so it would be planned again in every statement that calls it; a PL/pgSQL
-- function keeps its plan for the connection (bench/README.md).
create or replace function private.current_user_id()
returns text
language plpgsql
stable
set search_path = ''
as $$
begin
  return nullif(auth.jwt() ->> 'sub', '');
end;
$$;
comment on function private.current_user_id() is
  'Clerk user id (`sub` claim) of the caller, or null. Use instead of auth.uid(), which raises on Clerk ids.';

grant execute on function private.current_user_id() to authenticated, service_role;

-- -----------------------------------------------------------------------------
-- Trigger helpers
-- -----------------------------------------------------------------------------

/** Sets `updated_at` to now() on every update (BEFORE UPDATE trigger). */
create or replace function private.set_updated_at()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  new.updated_at := now();
  return new;
end;
$$;

-- -----------------------------------------------------------------------------
-- Realtime topics the database publishes on (docs/realtime-topics.md; who may
-- join which topic: 20261122080700_realtime_authorization.sql)
-- -----------------------------------------------------------------------------

/** `chat:<chat_id>`: a chat's record (message changes, read receipts, chat_updated). */
create or replace function private.chat_topic(p_chat_id uuid)
returns text
language sql
immutable
set search_path = ''
as $$
  select 'chat:' || p_chat_id::text
$$;

/** `user:<user_id>`: one user's own events (notifications, chat_added/removed, balance, media). */
create or replace function private.user_topic(p_user_id text)
returns text
language sql
immutable
set search_path = ''
as $$
  select 'user:' || p_user_id
$$;

grant execute on function private.chat_topic(uuid), private.user_topic(text) to authenticated, service_role;
