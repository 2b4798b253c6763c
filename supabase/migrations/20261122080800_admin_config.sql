-- =============================================================================
-- admin_config: parameter/value settings (seed 000 ADMIN_CONFIG) read by the
-- edge functions and edited by admins in Studio or through the Data API.
--
-- Values are jsonb so a number stays a number; every key is documented in its
-- row's description and declares a type (value_type, min_value, max_value)
-- that every write is validated against: a bad value is refused by the
-- database with a message naming the key. The migration that introduces a
-- setting inserts it with its default and type. Functions read it as the
-- service role (one cached accessor in supabase/functions/_shared/config.ts).
-- =============================================================================

create table public.admin_config (
  key text primary key check (key ~ '^[a-z][a-z0-9_.]{1,63}$'),
  value jsonb not null,
  description text not null default '',
  value_type text not null default 'json'
    check (value_type in ('integer', 'boolean', 'string', 'string_array', 'url_array', 'json')),
  min_value bigint,
  max_value bigint,
  updated_at timestamptz not null default now(),
  updated_by text
);
comment on table public.admin_config is
  'Backend settings (rate limits, low-balance threshold, default model, context budget, …): one row per parameter. Admins edit them; functions read them.';
comment on column public.admin_config.value is 'The setting''s value as JSON (numbers in the unit the description names).';
comment on column public.admin_config.value_type is
  'Type every write of value is checked against: integer (within min_value..max_value), boolean, string, string_array, url_array (http(s) origins), json (anything; no setting the backend reads keeps it).';
comment on column public.admin_config.min_value is 'Smallest allowed integer value (integer settings).';
comment on column public.admin_config.max_value is 'Largest allowed integer value (integer settings).';
comment on column public.admin_config.updated_by is 'Who changed it last: the admin''s Clerk id, or studio:<database user> for SQL run in Studio or migrations.';

/**
 * BEFORE INSERT/UPDATE on admin_config: refuses a value that does not match
 * the row's value_type (22023, with the key, the expected type and the value),
 * and stamps updated_at and updated_by: the admin's Clerk id, `service_role`
 * for functions, or studio:<database user> for SQL run in Studio or migrations.
 */
create or replace function private.stamp_admin_config()
returns trigger
language plpgsql
set search_path = ''
as $$
declare
  v_t text := jsonb_typeof(new.value);
  v_ok boolean;
  v_n numeric;
begin
  v_ok := case new.value_type
    when 'integer' then v_t = 'number' and (new.value #>> '{}')::numeric = trunc((new.value #>> '{}')::numeric)
    when 'boolean' then v_t = 'boolean'
    when 'string' then v_t = 'string' and char_length(new.value #>> '{}') between 1 and 500
    when 'string_array' then v_t = 'array'
      and not exists (select 1 from jsonb_array_elements(new.value) e where jsonb_typeof(e) <> 'string')
    when 'url_array' then v_t = 'array'
      and not exists (select 1 from jsonb_array_elements(new.value) e
                      where jsonb_typeof(e) <> 'string' or (e #>> '{}') !~ '^https?://[^/\s]+$')
    else true
  end;
  if not v_ok then
    raise exception 'admin_config %: expected %, got %', new.key, new.value_type, new.value::text
      using errcode = '22023',
            hint = case new.value_type
              when 'url_array' then 'A JSON array of origins such as ["https://app.example.com"].'
              when 'integer' then 'A JSON number without decimals.'
              else 'See the description column.' end;
  end if;
  if new.value_type = 'integer' then
    v_n := (new.value #>> '{}')::numeric;
    if (new.min_value is not null and v_n < new.min_value) or (new.max_value is not null and v_n > new.max_value) then
      raise exception 'admin_config %: % is outside % .. %', new.key, v_n,
        coalesce(new.min_value::text, '-∞'), coalesce(new.max_value::text, '∞')
        using errcode = '22023';
    end if;
  end if;
  new.updated_at := now();
  new.updated_by := coalesce(
    private.current_user_id(),
    case when (select auth.jwt()) ->> 'role' = 'service_role' then 'service_role' end,
    'studio:' || session_user);
  return new;
end;
$$;

create trigger admin_config_stamp before insert or update on public.admin_config
  for each row execute function private.stamp_admin_config();

grant select, update (value) on public.admin_config to authenticated;
grant select, insert, update, delete on public.admin_config to service_role;

alter table public.admin_config enable row level security;

create policy "Admins can read settings"
  on public.admin_config for select to authenticated
  using ((select private.is_admin()));

create policy "Admins can change settings"
  on public.admin_config for update to authenticated
  using ((select private.is_admin()))
  with check ((select private.is_admin()));
