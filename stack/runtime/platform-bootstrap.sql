-- =============================================================================
-- Platform bootstrap for the Docker-free local stack. NEVER apply this to a
-- Supabase project: a hosted (or `supabase start`) database already has all of
-- it, created by Supabase's own images and services.
--
-- It recreates, small and faithful, the part of a Supabase database that our
-- migrations and tests rely on. Every section names its upstream source; the
-- contract as a whole, with the same sources, is docs/platform.md.
--
-- Applied by the superuser `supabase_admin` (as on Supabase, where init scripts
-- run before `postgres` is demoted), on every start: every statement is
-- idempotent. Migrations then run as `postgres`, which is NOT a superuser, so a
-- migration that would fail on a hosted project fails here too.
-- =============================================================================

-- -----------------------------------------------------------------------------
-- Roles (https://github.com/supabase/postgres/tree/develop/migrations/db:
-- init-scripts/00000000000000-initial-schema.sql,
-- migrations/20230529180330_alter_api_roles_for_inherit.sql,
-- migrations/10000000000000_demote-postgres.sql)
-- -----------------------------------------------------------------------------
do $$
begin
  if not exists (select 1 from pg_roles where rolname = 'anon') then
    create role anon nologin inherit;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'authenticated') then
    create role authenticated nologin inherit;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'service_role') then
    create role service_role nologin inherit bypassrls;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'authenticator') then
    create role authenticator login noinherit password 'postgres';
  end if;
  if not exists (select 1 from pg_roles where rolname = 'postgres') then
    create role postgres login password 'postgres';
  end if;
  if not exists (select 1 from pg_roles where rolname = 'supabase_auth_admin') then
    create role supabase_auth_admin nologin noinherit;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'supabase_realtime_admin') then
    create role supabase_realtime_admin nologin noinherit;
  end if;
end
$$;

-- `postgres` as on a hosted project: not a superuser, but bypasses RLS and may
-- create roles and databases (demote-postgres.sql).
alter role postgres nosuperuser createdb createrole replication bypassrls;
alter role postgres set search_path = "$user", public, extensions;

alter role anon set statement_timeout = '3s';
alter role authenticated set statement_timeout = '8s';
alter role authenticator set statement_timeout = '8s';
alter role authenticator set lock_timeout = '8s';

-- authenticator switches into the API roles per request, as PostgREST does.
grant anon, authenticated, service_role to authenticator;
-- On PG16+ postgres holds the API roles WITH ADMIN OPTION
-- (20250605172253_grant_with_admin_to_postgres_16_and_above.sql).
grant anon, authenticated, service_role to postgres with admin option;
-- supabase_realtime_admin is a member of the API roles (00000000000003-realtime-schema.sql).
grant anon, authenticated, service_role to supabase_realtime_admin;

-- Migrations (and the Supabase CLI's `supabase_migrations` schema) need CREATE
-- on the database, as `postgres` has on a hosted project.
grant create, connect, temporary on database postgres to postgres;

-- -----------------------------------------------------------------------------
-- Schemas and extensions (schema grants of the same initial-schema init script)
-- -----------------------------------------------------------------------------
create schema if not exists extensions;
grant usage on schema extensions to postgres, anon, authenticated, service_role;
grant create on schema extensions to postgres;
create extension if not exists pgcrypto with schema extensions;
create extension if not exists "uuid-ossp" with schema extensions;

grant usage, create on schema public to postgres;
grant usage on schema public to anon, authenticated, service_role;

-- Default privileges in `public` (initial-schema init script): Supabase grants ALL on objects created by
-- postgres to the API roles, and the CLI revokes table, sequence and function
-- privileges again when `[api] auto_expose_new_tables = false`
-- (RevokeDefaultDataApiPrivilegesSql in apps/cli-go/internal/db/start/start.go).
-- Our config.toml sets it to false, so the net effect is: nothing is exposed
-- until a migration grants it. PUBLIC keeps PostgreSQL's default EXECUTE on
-- functions; migrations revoke it explicitly.
alter default privileges for role postgres in schema public
  revoke all on tables from anon, authenticated, service_role;
alter default privileges for role postgres in schema public
  revoke all on sequences from anon, authenticated, service_role;
alter default privileges for role postgres in schema public
  revoke all on functions from anon, authenticated, service_role;

-- -----------------------------------------------------------------------------
-- auth schema: the JWT helpers as GoTrue finally defines them
-- (https://github.com/supabase/auth/tree/master/migrations:
-- 20220224000811_update_auth_functions.up.sql and
-- 20220531120530_add_auth_jwt_function.up.sql). No auth tables: identity is Clerk's.
-- Alike on purpose: auth.uid(), auth.role() and auth.email() are GoTrue's
-- definitions as written upstream (one per claim); they stay verbatim copies so
-- that local behaviour is the hosted platform's, rather than one shared helper.
-- -----------------------------------------------------------------------------
create schema if not exists auth authorization supabase_auth_admin;
grant usage on schema auth to postgres, anon, authenticated, service_role;

create or replace function auth.uid() returns uuid
language sql stable
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim.sub', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
  )::uuid
$$;
comment on function auth.uid() is 'Deprecated. Use auth.jwt() -> ''sub'' instead.';

create or replace function auth.role() returns text
language sql stable
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim.role', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')
  )::text
$$;
comment on function auth.role() is 'Deprecated. Use auth.jwt() -> ''role'' instead.';

create or replace function auth.email() returns text
language sql stable
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim.email', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'email')
  )::text
$$;
comment on function auth.email() is 'Deprecated. Use auth.jwt() -> ''email'' instead.';

create or replace function auth.jwt() returns jsonb
language sql stable
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim', true), ''),
    nullif(current_setting('request.jwt.claims', true), '')
  )::jsonb
$$;

alter function auth.uid() owner to supabase_auth_admin;
alter function auth.role() owner to supabase_auth_admin;
alter function auth.email() owner to supabase_auth_admin;
alter function auth.jwt() owner to supabase_auth_admin;
grant execute on function auth.uid(), auth.role(), auth.email(), auth.jwt()
  to postgres, anon, authenticated, service_role;

-- -----------------------------------------------------------------------------
-- realtime schema contract
-- (https://github.com/supabase/realtime/tree/main/lib/realtime/tenants/repo/migrations)
-- -----------------------------------------------------------------------------
create schema if not exists realtime authorization supabase_realtime_admin;
grant usage on schema realtime to postgres, anon, authenticated, service_role;

-- 20241030150047_messages_partitioning.ex, 20241108114728_messages_using_uuid.ex,
-- 20260514120000_add_binary_payload_to_messages.ex
create table if not exists realtime.messages (
  topic text not null,
  extension text not null,
  payload jsonb,
  event text,
  private boolean default false,
  updated_at timestamp without time zone not null default now(),
  inserted_at timestamp without time zone not null default now(),
  id uuid not null default gen_random_uuid(),
  binary_payload bytea,
  constraint messages_pkey primary key (id, inserted_at)
) partition by range (inserted_at);

do $$
begin
  if not exists (select 1 from pg_constraint where conname = 'messages_payload_exclusive') then
    alter table realtime.messages add constraint messages_payload_exclusive
      check (payload is null or binary_payload is null) not valid;
  end if;
end
$$;

-- 20250905041441_create_messages_replay_index.ex
create index if not exists messages_inserted_at_topic_index
  on realtime.messages (inserted_at desc, topic)
  where extension = 'broadcast' and private is true;

alter table realtime.messages owner to supabase_realtime_admin;
alter table realtime.messages enable row level security;
-- On a hosted project the supautils extension's `policy_grants` lets postgres
-- CREATE/DROP POLICY on realtime.messages (and nothing else: not even COMMENT ON
-- POLICY, supabase/cli#5987). supautils is not in this PostgreSQL build, so the
-- local stack makes postgres a member of the owner role instead. That is wider
-- than hosted: migrations must touch realtime.messages only with CREATE/DROP
-- POLICY (tests/platform/contract.test.ts checks the migration files).
grant supabase_realtime_admin to postgres;
grant select, insert, update on realtime.messages to postgres, anon, authenticated, service_role;

-- Realtime creates daily partitions messages_YYYY_MM_DD from yesterday to
-- today + 3 (lib/realtime/tenants.ex create_messages_partitions). Without a
-- partition covering now(), realtime.send() fails silently.
do $$
declare
  d date;
  part text;
begin
  for d in select generate_series(current_date - 1, current_date + 3, interval '1 day')::date loop
    part := 'messages_' || to_char(d, 'YYYY_MM_DD');
    if not exists (
      select 1 from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'realtime' and c.relname = part
    ) then
      execute format(
        'create table realtime.%I partition of realtime.messages for values from (%L) to (%L)',
        part, d, d + 1
      );
      execute format('alter table realtime.%I owner to supabase_realtime_admin', part);
    end if;
  end loop;
end
$$;

-- 20240523004032_redefine_authorization_tables.ex
create or replace function realtime.topic() returns text
language sql stable
as $$
  select nullif(current_setting('realtime.topic', true), '')::text;
$$;

-- 20260605120000_rename_broadcast_send_warning.ex. Not SECURITY DEFINER: the
-- caller's INSERT grant and RLS apply, and every error becomes a warning.
create or replace function realtime.send(payload jsonb, event text, topic text, private boolean default true)
returns void
language plpgsql
as $$
declare
  generated_id uuid;
  final_payload jsonb;
begin
  begin
    generated_id := gen_random_uuid();
    if payload ? 'id' then
      final_payload := payload;
    else
      final_payload := jsonb_set(payload, '{id}', to_jsonb(generated_id));
    end if;

    execute format('set local realtime.topic to %L', topic);

    insert into realtime.messages (id, payload, event, topic, private, extension)
    values (generated_id, final_payload, event, topic, private, 'broadcast');
  exception
    when others then
      raise warning 'WarnSendingBroadcastMessage: %', sqlerrm;
  end;
end;
$$;

-- 20240919163303_add_payload_to_messages.ex
create or replace function realtime.broadcast_changes(
  topic_name text, event_name text, operation text, table_name text, table_schema text,
  new record, old record, level text default 'ROW'
) returns void
language plpgsql
as $$
declare
  row_data jsonb := '{}'::jsonb;
begin
  if level = 'STATEMENT' then
    raise exception 'function can only be triggered for each row, not for each statement';
  end if;
  if operation = 'INSERT' or operation = 'UPDATE' or operation = 'DELETE' then
    row_data := jsonb_build_object(
      'old_record', old, 'record', new, 'operation', operation,
      'table', table_name, 'schema', table_schema
    );
    perform realtime.send(row_data, event_name, topic_name);
  else
    raise exception 'Unexpected operation type %', operation;
  end if;
end;
$$;

alter function realtime.topic() owner to supabase_realtime_admin;
alter function realtime.send(jsonb, text, text, boolean) owner to supabase_realtime_admin;
alter function realtime.broadcast_changes(text, text, text, text, text, record, record, text)
  owner to supabase_realtime_admin;

-- -----------------------------------------------------------------------------
-- Publication for Postgres Changes (created empty by the initial-schema
-- init script, owned by postgres so projects may ALTER PUBLICATION ... ADD TABLE).
-- -----------------------------------------------------------------------------
do $$
begin
  if not exists (select 1 from pg_publication where pubname = 'supabase_realtime') then
    create publication supabase_realtime;
  end if;
end
$$;
alter publication supabase_realtime owner to postgres;

-- -----------------------------------------------------------------------------
-- PostgREST: the schemas the Data API exposes, as its config sets them
-- (the advisors, https://github.com/supabase/splinter, read
-- current_setting('pgrst.db_schemas')). Matches [api] schemas
-- in supabase/config.toml.
-- -----------------------------------------------------------------------------
alter database postgres set pgrst.db_schemas = 'public,graphql_public';

-- -----------------------------------------------------------------------------
-- Broadcast from the database for the local Realtime stand-in
-- (stack/runtime/realtime.mjs). Realtime creates this publication itself on a
-- hosted project (lib/realtime/tenants/replication_connection.ex:
-- `CREATE PUBLICATION supabase_realtime_messages_publication FOR TABLE
-- realtime.messages`) and streams it on a temporary slot. Here the bootstrap
-- creates it, with publish_via_partition_root so inserts into the daily
-- partitions arrive as rows of realtime.messages.
-- -----------------------------------------------------------------------------
do $$
begin
  if not exists (select 1 from pg_publication where pubname = 'supabase_realtime_messages_publication') then
    create publication supabase_realtime_messages_publication for table realtime.messages
      with (publish_via_partition_root = true);
  end if;
end
$$;
