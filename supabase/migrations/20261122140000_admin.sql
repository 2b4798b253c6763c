-- =============================================================================
-- Administration: typed settings, suspension, and audited admin operations.
--
-- Admins are users whose Clerk public metadata marks them admin (synced into
-- user_accounts.is_admin by clerk-webhook). They work in Supabase Studio (as
-- `postgres`, no JWT) or call the operations below as RPCs with their Clerk
-- token. Every operation writes an audit row; audit rows can be neither
-- changed nor deleted, by anyone.
--   * an admin's token passes the same account check as every RPC first
--     (private.require_admin → private.require_user_id): a suspended admin is
--     refused by every operation, and private.is_admin() (the admin policies
--     of admin_config, ai_models, credit_packs and admin_audit_log) is false
--     for them; nobody suspends, restores, credits or debits their own account
--     through the API (private.require_admin_over), and the admin flag comes
--     only from Clerk (clerk-webhook, service role): no client may write it;
--   * every admin_config change is audited (its values are typed and
--     validated on write since the admin_config migration);
--   * a suspended user is refused by every table (a restrictive policy added
--     here), by every RPC (private.require_user_id, users migration) and by
--     the edge functions;
--   * grant/deduct credits go through the ledger (kind grant / adjustment).
--
-- Alike on purpose: function headers (returns, language, security, search_path,
-- the caller's id) and table declarations (grants, RLS, policies) repeat: each
-- object states its own contract (supabase/migrations/README.md, "Shapes that repeat").
-- =============================================================================

-- -----------------------------------------------------------------------------
-- Who is acting
-- -----------------------------------------------------------------------------

/**
 * The acting admin for an operation: the caller's Clerk id when the request
 * carries the JWT of an admin; 'studio:<session user>' for SQL run in Studio or
 * psql as postgres/supabase_admin (no JWT). A signed-in caller passes the same
 * check as every ordinary RPC first (private.require_user_id(), users
 * migration: 42501 'account suspended'), then private.is_admin() (false for a
 * suspended account too). Anyone else: 42501 'admin only'.
 */
create or replace function private.require_admin()
returns text
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  v_sub text := private.current_user_id();
begin
  if v_sub is null then
    if session_user in ('postgres', 'supabase_admin') and coalesce((select auth.jwt()) ->> 'role', '') = '' then
      return 'studio:' || session_user;
    end if;
    raise exception 'admin only' using errcode = '42501';
  end if;
  v_sub := private.require_user_id();
  if not private.is_admin() then
    raise exception 'admin only' using errcode = '42501';
  end if;
  return v_sub;
end;
$$;

/**
 * private.require_admin() for an operation on the account of `p_user_id`:
 * nobody suspends, restores, credits or debits their own account through the
 * API (another admin does, or Studio). Returns the acting admin.
 * Errors: 42501 not an admin, suspended, or acting on their own account.
 */
create or replace function private.require_admin_over(p_user_id text)
returns text
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  v_actor text := private.require_admin();
begin
  if p_user_id = v_actor then
    raise exception 'admins cannot act on their own account' using errcode = '42501',
      hint = 'Another admin, or SQL in Studio, can.';
  end if;
  return v_actor;
end;
$$;

-- -----------------------------------------------------------------------------
-- Audit log
-- -----------------------------------------------------------------------------
create table public.admin_audit_log (
  id bigint generated always as identity primary key,
  actor text not null,
  action text not null check (action ~ '^[a-z][a-z_.]{1,63}$'),
  target_user_id public.clerk_user_id,
  target_id text,
  reason text not null check (char_length(btrim(reason)) between 3 and 1000),
  details jsonb not null default '{}'::jsonb,
  created_at timestamptz not null default now()
);
comment on table public.admin_audit_log is
  'Every admin operation: who (admin Clerk id or studio:<user>), what, on whom, why, when. Append-only for everyone.';
comment on column public.admin_audit_log.actor is 'Clerk id of the admin, or studio:<db user> for SQL run in Studio.';
comment on column public.admin_audit_log.action is 'credits.grant, credits.deduct, user.suspend, user.restore, message.delete, config.set.';
comment on column public.admin_audit_log.target_user_id is 'The user acted on (no foreign key: the record outlives the account).';
comment on column public.admin_audit_log.target_id is 'Other object acted on (message id, config key, ledger entry id).';

create index admin_audit_log_target_user_id_idx on public.admin_audit_log (target_user_id, created_at desc);
create index admin_audit_log_created_at_idx on public.admin_audit_log (created_at desc);

-- Append-only for everyone (private.refuse_changes, credits migration).
create trigger admin_audit_log_append_only before update or delete on public.admin_audit_log
  for each row execute function private.refuse_changes();
create trigger admin_audit_log_no_truncate before truncate on public.admin_audit_log
  for each statement execute function private.refuse_changes();

/** Writes one audit row; returns its id. Callers have already checked require_admin(). */
create or replace function private.audit(
  p_actor text, p_action text, p_target_user_id text, p_target_id text, p_reason text, p_details jsonb default '{}'::jsonb
)
returns bigint
language sql
security definer
set search_path = ''
as $$
  insert into public.admin_audit_log (actor, action, target_user_id, target_id, reason, details)
  values (p_actor, p_action, p_target_user_id, p_target_id, p_reason, coalesce(p_details, '{}'::jsonb))
  returning id
$$;

grant select on public.admin_audit_log to authenticated;
alter table public.admin_audit_log enable row level security;
create policy "Admins can read the audit log"
  on public.admin_audit_log for select to authenticated
  using ((select private.is_admin()));

-- -----------------------------------------------------------------------------
-- Suspension (user_accounts.suspended_at, private.caller_is_suspended() and the
-- check in private.require_user_id() are in the users migration)
-- -----------------------------------------------------------------------------
/**
 * Adds the restrictive policy "Suspended users are locked out" to `p_table`
 * (ANDed with the permissive ones, for all commands, to authenticated: a
 * suspended caller's token sees and changes nothing there, whatever the
 * permissive policies allow). Idempotent. Every migration that creates a
 * public table calls it right after `enable row level security`
 * (supabase/migrations/README.md); tests/admin/admin.test.ts checks every table.
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

-- Every public table of the baseline so far; later tables call it themselves.
select private.lock_out_suspended_users(c.oid::regclass)
from pg_catalog.pg_class c
join pg_catalog.pg_namespace n on n.oid = c.relnamespace
where n.nspname = 'public' and c.relkind in ('r', 'p');

create policy "Suspended users are locked out of Realtime"
  on realtime.messages as restrictive for all to authenticated
  using (not (select private.caller_is_suspended()))
  with check (not (select private.caller_is_suspended()));

-- -----------------------------------------------------------------------------
-- Operations: RPCs for admins (Clerk token) and SQL for Studio
-- -----------------------------------------------------------------------------

/**
 * The one door for admin credit changes: checks the admin, the amount (> 0
 * micro-USD) and the user, writes the audit row, then the ledger entry
 * (grant: +amount, kind grant, source admin.grant; deduct: -amount, kind
 * adjustment, source admin.deduct; source_id = the audit row id). Returns the
 * ledger entry id. Errors: 42501 not an admin, suspended, or the caller's own
 * account (private.require_admin_over); 22023 bad amount; 23514 reason
 * shorter than 3 characters; PT404 unknown user; PT402 a deduction below zero
 * (nothing is written).
 */
create or replace function private.admin_change_credits(
  p_user_id text, p_amount_micro_usd bigint, p_reason text, p_deduct boolean
)
returns bigint
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_actor text := private.require_admin_over(p_user_id);
  v_action text := case when p_deduct then 'credits.deduct' else 'credits.grant' end;
  v_audit bigint;
  v_entry public.credit_ledger;
begin
  if p_amount_micro_usd is null or p_amount_micro_usd <= 0 then
    raise exception 'amount must be a positive number of micro-USD' using errcode = '22023';
  end if;
  perform private.assert_user_exists(p_user_id);
  v_audit := private.audit(v_actor, v_action, p_user_id, null, p_reason,
    jsonb_build_object('amount_micro_usd', p_amount_micro_usd));
  v_entry := private.record_ledger_entry(
    p_user_id,
    case when p_deduct then 'adjustment' else 'grant' end::public.ledger_entry_kind,
    case when p_deduct then -p_amount_micro_usd else p_amount_micro_usd end,
    case when p_deduct then 'admin.deduct' else 'admin.grant' end,
    v_audit::text, left(p_reason, 500), jsonb_build_object('audit_id', v_audit, 'actor', v_actor));
  return v_entry.id;
end;
$$;

-- Alike on purpose: each admin RPC is a thin wrapper that names its operation
-- (grant/deduct credits, suspend/restore a user); the work is in one private door.
/** Grants credits to a user with a reason (ledger kind grant). See private.admin_change_credits. */
create or replace function public.admin_grant_credits(p_user_id text, p_amount_micro_usd bigint, p_reason text)
returns bigint
language sql
security definer
set search_path = ''
as $$
  select private.admin_change_credits(p_user_id, p_amount_micro_usd, p_reason, false)
$$;

/** Deducts credits from a user with a reason, never below zero (ledger kind adjustment). See private.admin_change_credits. */
create or replace function public.admin_deduct_credits(p_user_id text, p_amount_micro_usd bigint, p_reason text)
returns bigint
language sql
security definer
set search_path = ''
as $$
  select private.admin_change_credits(p_user_id, p_amount_micro_usd, p_reason, true)
$$;

/**
 * The one door for suspension: checks the admin and the user, writes the
 * audit row (user.suspend or user.restore, with `p_reason`), then sets or
 * clears user_accounts.suspended_at / suspended_reason (a suspension keeps
 * the time it began). Idempotent.
 * Errors: 42501 not an admin, suspended, or the caller's own account
 * (private.require_admin_over); PT404 unknown user.
 */
create or replace function private.admin_set_suspension(p_user_id text, p_reason text, p_suspend boolean)
returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_actor text := private.require_admin_over(p_user_id);
begin
  perform private.assert_user_exists(p_user_id);
  perform private.audit(v_actor, case when p_suspend then 'user.suspend' else 'user.restore' end, p_user_id, null, p_reason);
  update public.user_accounts a
  set suspended_at = case when p_suspend then coalesce(a.suspended_at, now()) end,
      suspended_reason = case when p_suspend then p_reason end
  where a.user_id = p_user_id;
end;
$$;

/**
 * Suspends a user: every table, RPC, Realtime channel and edge function
 * refuses their token until restore_user. Idempotent. Errors: 42501 not an
 * admin, suspended, or the caller's own account; PT404 unknown user.
 * See private.admin_set_suspension.
 */
create or replace function public.admin_suspend_user(p_user_id text, p_reason text)
returns void
language sql
security definer
set search_path = ''
as $$
  select private.admin_set_suspension(p_user_id, p_reason, true)
$$;

/**
 * Lifts a suspension. Idempotent. Nobody restores themselves: a suspended
 * admin is refused by require_admin before anything else, and a restore of the
 * caller's own account is refused for every admin (another admin or Studio
 * restores). Errors: 42501 not an admin, suspended, or the caller's own
 * account; PT404 unknown user. See private.admin_set_suspension.
 */
create or replace function public.admin_restore_user(p_user_id text, p_reason text)
returns void
language sql
security definer
set search_path = ''
as $$
  select private.admin_set_suspension(p_user_id, p_reason, false)
$$;

/**
 * Deletes a message for moderation (soft delete: content and media cleared,
 * broadcast as UPDATE to the chat like a sender's delete), keeping who and
 * why in the audit log. Errors: 42501; PT404 unknown message.
 */
create or replace function public.admin_delete_message(p_message_id uuid, p_reason text)
returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_actor text := private.require_admin();
  v_msg public.messages;
begin
  select * into v_msg from public.messages m where m.id = p_message_id;
  if not found then
    raise exception 'message not found' using errcode = 'PT404';
  end if;
  perform private.audit(v_actor, 'message.delete', v_msg.sender_id, p_message_id::text, p_reason,
    jsonb_build_object('chat_id', v_msg.chat_id));
  if v_msg.deleted_at is null then
    update public.messages m set deleted_at = now(),
      metadata = m.metadata || jsonb_build_object('moderated', true)
    where m.id = p_message_id;
  end if;
end;
$$;

/**
 * AFTER UPDATE on admin_config: every change is audited (config.set), whether
 * it comes from admin_set_config (its reason) or a direct edit in Studio or
 * through the Data API (reason "direct edit").
 */
create or replace function private.audit_config_change()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if new.value is distinct from old.value then
    perform private.audit(new.updated_by, 'config.set', null, new.key,
      coalesce(nullif(current_setting('private.audit_reason', true), ''), 'direct edit'),
      jsonb_build_object('old', old.value, 'new', new.value));
  end if;
  return null;
end;
$$;
create trigger admin_config_audit after update on public.admin_config
  for each row execute function private.audit_config_change();

/**
 * Changes a setting with a reason (validated against its type; audited by
 * the trigger above). Errors: 42501; PT404 unknown key; 22023 invalid value.
 */
create or replace function public.admin_set_config(p_key text, p_value jsonb, p_reason text)
returns public.admin_config
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_row public.admin_config;
begin
  perform private.require_admin();
  if p_reason is null or char_length(btrim(p_reason)) < 3 then
    raise exception 'a reason of at least 3 characters is required' using errcode = '22023';
  end if;
  perform set_config('private.audit_reason', p_reason, true);
  update public.admin_config c set value = p_value where c.key = p_key returning * into v_row;
  if not found then
    raise exception 'unknown setting' using errcode = 'PT404';
  end if;
  perform set_config('private.audit_reason', '', true);
  return v_row;
end;
$$;

revoke execute on function
  public.admin_grant_credits(text, bigint, text), public.admin_deduct_credits(text, bigint, text),
  public.admin_suspend_user(text, text), public.admin_restore_user(text, text),
  public.admin_delete_message(uuid, text), public.admin_set_config(text, jsonb, text)
  from public, anon;
grant execute on function
  public.admin_grant_credits(text, bigint, text), public.admin_deduct_credits(text, bigint, text),
  public.admin_suspend_user(text, text), public.admin_restore_user(text, text),
  public.admin_delete_message(uuid, text), public.admin_set_config(text, jsonb, text)
  to authenticated;
