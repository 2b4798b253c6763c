-- =============================================================================
-- Suspension applies to every table, the ones added after the baseline too.
--
-- The admin migration (20261122140000_admin.sql) gave every public table of
-- the baseline a restrictive policy "Suspended users are locked out". Tables
-- added since (reactions, push devices, websites, …) need the same policy, and
-- so will every later one: private.lock_out_suspended_users(table) (admin
-- migration) adds it,
-- and this migration applies it to each public table that lacks it.
-- A migration that creates a public table calls it right after the
-- `enable row level security` (supabase/migrations/README.md);
-- tests/admin/admin.test.ts fails for a table without it.
-- =============================================================================

-- private.lock_out_suspended_users(table) is defined in the admin migration.
select private.lock_out_suspended_users(c.oid::regclass)
from pg_catalog.pg_class c
join pg_catalog.pg_namespace n on n.oid = c.relnamespace
where n.nspname = 'public' and c.relkind in ('r', 'p');
