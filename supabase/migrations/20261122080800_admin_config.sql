-- =============================================================================
-- admin_config: parameter/value settings (seed 000 ADMIN_CONFIG) read by the
-- edge functions and edited by admins in Studio or through the Data API.
--
-- Values are jsonb so a number stays a number; every key is documented in its
-- row's description. Functions read it as the service role.
-- =============================================================================

create table public.admin_config (
  key text primary key check (key ~ '^[a-z][a-z0-9_.]{1,63}$'),
  value jsonb not null,
  description text not null default '',
  updated_at timestamptz not null default now(),
  updated_by text default (auth.jwt() ->> 'sub')
);
comment on table public.admin_config is
  'Backend settings (rate limits, low-balance threshold, default model, context budget, …): one row per parameter. Admins edit them; functions read them.';
comment on column public.admin_config.value is 'The setting''s value as JSON (numbers in the unit the description names).';
comment on column public.admin_config.updated_by is 'Clerk user id of the admin who changed it last (null from Studio or migrations).';

create or replace function private.stamp_admin_config()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  new.updated_at := now();
  new.updated_by := (select auth.jwt()) ->> 'sub';
  return new;
end;
$$;
create trigger admin_config_stamp before update on public.admin_config
  for each row execute function private.stamp_admin_config();

grant select, update (value, description) on public.admin_config to authenticated;
grant select, insert, update, delete on public.admin_config to service_role;

alter table public.admin_config enable row level security;

create policy "Admins can read settings"
  on public.admin_config for select to authenticated
  using ((select private.is_admin()));

create policy "Admins can change settings"
  on public.admin_config for update to authenticated
  using ((select private.is_admin()))
  with check ((select private.is_admin()));
