-- =============================================================================
-- Suspension applies to every table, the ones added after the baseline too.
--
-- The admin migration (20261122140000_admin.sql) gave every public table of
-- the baseline a restrictive policy "Suspended users are locked out". Tables
-- added since (reactions, push devices, websites, …) need the same policy, and
-- so will every later one: private.lock_out_suspended_users(table) adds it,
-- and this migration applies it to each public table that lacks it.
-- A migration that creates a public table calls it right after the
-- `enable row level security` (supabase/migrations/README.md);
-- tests/admin/admin.test.ts fails for a table without it.
-- =============================================================================

/**
 * Adds the restrictive policy "Suspended users are locked out" to `p_table`
 * (for all commands, to authenticated: a suspended caller's token sees and
 * changes nothing there, whatever the permissive policies allow). Idempotent.
 */
create or replace function private.lock_out_suspended_users(p_table regclass)
returns void
language plpgsql
set search_path = ''
as $$
begin
  if exists (select 1 from pg_catalog.pg_policy p
             where p.polrelid = p_table and p.polname = 'Suspended users are locked out') then
    return;
  end if;
  execute format(
    'create policy "Suspended users are locked out" on %s as restrictive for all to authenticated '
    'using (not (select private.caller_is_suspended())) with check (not (select private.caller_is_suspended()))',
    p_table);
end;
$$;

revoke all on function private.lock_out_suspended_users(regclass) from public, anon, authenticated, service_role;

select private.lock_out_suspended_users(c.oid::regclass)
from pg_catalog.pg_class c
join pg_catalog.pg_namespace n on n.oid = c.relnamespace
where n.nspname = 'public' and c.relkind in ('r', 'p');
