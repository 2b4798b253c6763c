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
