-- =============================================================================
-- Credits: one wallet per user, an append-only ledger, and reservations for
-- AI calls: usage metering, balance checks, recharges, balance alerts (the
-- rules: docs/money.md).
--
-- Units: credits are micro-USD (bigint; 1 USD = 1,000,000), never floats.
-- Invariants, enforced by the database:
--   * the ledger is append-only (no UPDATE, DELETE or TRUNCATE, for any role);
--   * every entry is unique by its source reference (source, source_id), so a
--     redelivered webhook or a retried settlement cannot apply twice;
--   * a wallet's balance changes only through a ledger insert, so
--     balance = sum(ledger) at all times, and it never goes below zero;
--   * reservations hold credits while an AI call runs; they settle to the
--     actual cost, release, or expire. What is held stays in the wallet: a
--     Stripe refund debits only balance - held (apply_payment_refunds,
--     20261122110000_payments.sql), so a reservation made before a refund
--     still settles in full.
-- Writes come from functions as the service role through private functions;
-- users read their own wallet, ledger and reservations.
--
-- Alike on purpose: function headers (returns, language, security, search_path)
-- and table declarations (grants, RLS, policies) repeat, and so does the opening
-- of each money step (its row locked FOR UPDATE, PT404 when missing, returned
-- unchanged when already done): each states its own locks in the order they
-- are taken (supabase/migrations/README.md, "Shapes that repeat"; docs/money.md).
-- =============================================================================

-- -----------------------------------------------------------------------------
-- Types and tables
-- -----------------------------------------------------------------------------
create type public.ledger_entry_kind as enum ('topup', 'ai_usage', 'refund', 'grant', 'adjustment');
create type public.reservation_status as enum ('held', 'settled', 'released', 'expired');

create table public.credit_wallets (
  user_id public.clerk_user_id primary key references public.users (id) on delete cascade,
  balance_micro_usd bigint not null default 0 check (balance_micro_usd >= 0),
  held_micro_usd bigint not null default 0 check (held_micro_usd >= 0),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
comment on table public.credit_wallets is
  'A user''s AI credits. balance = sum of their ledger (enforced); held = credits reserved by running AI calls; available = balance - held.';
comment on column public.credit_wallets.balance_micro_usd is 'Balance in micro-USD (1 USD = 1,000,000). Changed only by ledger inserts.';
comment on column public.credit_wallets.held_micro_usd is 'Sum of held reservations, in micro-USD.';

create table public.credit_ledger (
  id bigint generated always as identity primary key,
  user_id public.clerk_user_id not null,
  kind public.ledger_entry_kind not null,
  amount_micro_usd bigint not null check (amount_micro_usd <> 0),
  balance_after_micro_usd bigint not null check (balance_after_micro_usd >= 0),
  source text not null check (source ~ '^[a-z][a-z0-9_.]{1,40}$'),
  source_id text not null check (char_length(source_id) between 1 and 255),
  description text not null default '',
  metadata jsonb not null default '{}'::jsonb,
  created_at timestamptz not null default now(),
  constraint credit_ledger_source_key unique (source, source_id)
);
comment on table public.credit_ledger is
  'Append-only record of every credit movement. Positive amounts credit, negative debit. Unique by (source, source_id).';
comment on column public.credit_ledger.user_id is
  'Clerk user id. Deliberately no foreign key: accounting records outlive a deleted account (the wallet is deleted with the user).';
comment on column public.credit_ledger.source is
  'What caused the entry: stripe.checkout_session, stripe.refund, ai_interaction, welcome_grant, admin, …';
comment on column public.credit_ledger.source_id is 'Id in that source (Checkout Session id, refund id, AI interaction id, user id, …).';
comment on column public.credit_ledger.balance_after_micro_usd is 'Wallet balance right after this entry.';

create index credit_ledger_user_id_created_at_idx on public.credit_ledger (user_id, created_at desc, id desc);

create table public.credit_reservations (
  id uuid primary key default gen_random_uuid(),
  user_id public.clerk_user_id not null references public.users (id) on delete cascade,
  amount_micro_usd bigint not null check (amount_micro_usd > 0),
  status public.reservation_status not null default 'held',
  purpose text not null default 'ai_chat',
  reference text,
  expires_at timestamptz not null,
  settled_micro_usd bigint check (settled_micro_usd is null or settled_micro_usd >= 0),
  created_at timestamptz not null default now(),
  finished_at timestamptz
);
comment on table public.credit_reservations is
  'Credits held for a running AI call: the maximum it may cost. Settled to the actual cost, released on failure, expired by time.';
comment on column public.credit_reservations.expires_at is 'After this a held reservation is released (a crashed call cannot hold credits forever).';
comment on column public.credit_reservations.settled_micro_usd is 'Actual cost charged at settlement, in micro-USD.';

create index credit_reservations_user_id_idx on public.credit_reservations (user_id, created_at desc);
create index credit_reservations_held_expires_at_idx on public.credit_reservations (expires_at) where status = 'held';

create trigger credit_wallets_set_updated_at before update on public.credit_wallets
  for each row execute function private.set_updated_at();

-- -----------------------------------------------------------------------------
-- Settings used here (editable in admin_config)
-- -----------------------------------------------------------------------------
insert into public.admin_config (key, value, description, value_type, min_value, max_value) values
  ('credits.low_balance_threshold_micro_usd', '500000',
   'Balance (micro-USD) below which the user gets one low-balance alert. 500000 = 0.50 USD.', 'integer', 0, 1000000000),
  ('credits.welcome_grant_micro_usd', '1000000',
   'Credits (micro-USD) granted to a new user, once per verified email or phone (clerk-webhook; 20261122090000_clerk_sync.sql). 1000000 = 1.00 USD. 0 disables the grant.', 'integer', 0, 100000000),
  ('credits.reservation_ttl_seconds', '300',
   'How long an AI call may hold reserved credits before they are released automatically.', 'integer', 10, 86400)
on conflict (key) do nothing;

/**
 * Integer setting from admin_config, or `p_default` when missing or not a
 * number. PL/pgSQL so that its plan is cached per connection: it runs in every
 * reservation and ledger entry, and a security-definer SQL function is planned
 * on every call.
 */
create or replace function private.config_bigint(p_key text, p_default bigint)
returns bigint
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  return coalesce(
    (select case when jsonb_typeof(c.value) = 'number' then (c.value #>> '{}')::numeric::bigint end
     from public.admin_config c where c.key = p_key),
    p_default
  );
end;
$$;

-- -----------------------------------------------------------------------------
-- Invariants
-- -----------------------------------------------------------------------------

/**
 * BEFORE UPDATE OR DELETE (per row) and BEFORE TRUNCATE on an append-only
 * table (the credit ledger; admin_audit_log in the admin migration): refuses
 * the change, whoever asks, with 42501 "<table> is append-only", followed by
 * ": <the trigger's argument>" when it has one (what to do instead).
 */
create or replace function private.refuse_changes()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  raise exception '% is append-only%', tg_table_name, coalesce(': ' || tg_argv[0], '')
    using errcode = '42501';
end;
$$;

create trigger credit_ledger_append_only before update or delete on public.credit_ledger
  for each row execute function private.refuse_changes('record a new entry instead of changing one');
create trigger credit_ledger_no_truncate before truncate on public.credit_ledger
  for each statement execute function private.refuse_changes('record a new entry instead of changing one');

/**
 * BEFORE INSERT on the ledger: locks the wallet (creating it if needed) and
 * records balance_after. A debit larger than the balance raises PT402
 * (PostgREST answers HTTP 402). The wallet itself moves in the AFTER trigger,
 * which fires only for rows really inserted: an entry skipped by
 * ON CONFLICT DO NOTHING (a repeated source reference) changes nothing.
 */
create or replace function private.prepare_ledger_entry()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_balance bigint;
begin
  insert into public.credit_wallets (user_id) values (new.user_id) on conflict (user_id) do nothing;
  select w.balance_micro_usd into v_balance from public.credit_wallets w
  where w.user_id = new.user_id for update;
  if v_balance + new.amount_micro_usd < 0 then
    raise exception 'insufficient credits: balance % micro-USD, debit % micro-USD',
      v_balance, -new.amount_micro_usd
      using errcode = 'PT402';
  end if;
  new.balance_after_micro_usd := v_balance + new.amount_micro_usd;
  return new;
end;
$$;

/**
 * AFTER INSERT on the ledger: moves the wallet to balance_after, refusing any
 * entry computed from a stale balance. Crossing below the low-balance
 * threshold sends one `low_balance` notification; every change is broadcast
 * as event `balance` on `user:<user_id>`.
 */
create or replace function private.apply_ledger_entry()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_threshold bigint := private.config_bigint('credits.low_balance_threshold_micro_usd', 500000);
  v_before bigint := new.balance_after_micro_usd - new.amount_micro_usd;
begin
  perform set_config('private.ledger_apply', 'on', true);
  update public.credit_wallets w set balance_micro_usd = new.balance_after_micro_usd
  where w.user_id = new.user_id and w.balance_micro_usd = v_before;
  if not found then
    raise exception 'ledger entry computed from a stale balance: insert entries one statement at a time'
      using errcode = '40001';
  end if;
  perform set_config('private.ledger_apply', 'off', true);

  -- One alert per crossing: the wallet row is locked, so only the entry that
  -- takes the balance from >= threshold to below it notifies.
  if new.balance_after_micro_usd < v_threshold and v_before >= v_threshold then
    perform private.notify(new.user_id, 'low_balance', jsonb_build_object(
      'balance_micro_usd', new.balance_after_micro_usd, 'threshold_micro_usd', v_threshold));
  end if;
  perform realtime.send(
    jsonb_build_object('balance_micro_usd', new.balance_after_micro_usd, 'change_micro_usd', new.amount_micro_usd,
                       'kind', new.kind, 'source', new.source),
    'balance', private.user_topic(new.user_id), true);
  return null;
end;
$$;

create trigger credit_ledger_prepare before insert on public.credit_ledger
  for each row execute function private.prepare_ledger_entry();
create trigger credit_ledger_apply after insert on public.credit_ledger
  for each row execute function private.apply_ledger_entry();

/** Refuses balance changes that do not come from a ledger insert. */
create or replace function private.guard_wallet_balance()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if tg_op = 'INSERT' then
    if new.balance_micro_usd <> 0 then
      raise exception 'a wallet starts at zero; credit it with a ledger entry' using errcode = '42501';
    end if;
  elsif new.balance_micro_usd is distinct from old.balance_micro_usd
     and coalesce(current_setting('private.ledger_apply', true), '') <> 'on' then
    raise exception 'a wallet balance changes only through credit_ledger entries' using errcode = '42501';
  end if;
  return new;
end;
$$;

create trigger credit_wallets_guard_balance before insert or update on public.credit_wallets
  for each row execute function private.guard_wallet_balance();

-- -----------------------------------------------------------------------------
-- Operations (service role: functions and webhooks)
-- -----------------------------------------------------------------------------

/**
 * Appends a ledger entry (idempotent by (source, source_id)): returns the new
 * entry, or the existing one when that source reference was already recorded.
 * Errors: PT402 when a debit exceeds the balance.
 */
create or replace function private.record_ledger_entry(
  p_user_id text, p_kind public.ledger_entry_kind, p_amount_micro_usd bigint,
  p_source text, p_source_id text, p_description text default '', p_metadata jsonb default '{}'::jsonb
)
returns public.credit_ledger
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_row public.credit_ledger;
begin
  insert into public.credit_ledger (user_id, kind, amount_micro_usd, balance_after_micro_usd,
                                    source, source_id, description, metadata)
  values (p_user_id, p_kind, p_amount_micro_usd, 0, p_source, p_source_id,
          coalesce(p_description, ''), coalesce(p_metadata, '{}'::jsonb))
  on conflict (source, source_id) do nothing
  returning * into v_row;
  if not found then
    select * into v_row from public.credit_ledger l where l.source = p_source and l.source_id = p_source_id;
  end if;
  return v_row;
end;
$$;

/** Releases the caller-independent expired holds of one user (or all users when null). Returns how many. */
create or replace function private.expire_reservations(p_user_id text default null)
returns integer
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_count integer := 0;
  r record;
begin
  for r in
    update public.credit_reservations cr
    set status = 'expired', finished_at = now()
    where cr.status = 'held' and cr.expires_at < now()
      and (p_user_id is null or cr.user_id = p_user_id)
    returning cr.user_id, cr.amount_micro_usd
  loop
    update public.credit_wallets w set held_micro_usd = greatest(0, w.held_micro_usd - r.amount_micro_usd)
    where w.user_id = r.user_id;
    v_count := v_count + 1;
  end loop;
  return v_count;
end;
$$;

/**
 * Holds `p_amount_micro_usd` of the user's available credits (balance - held)
 * for `p_ttl_seconds` (default: admin_config credits.reservation_ttl_seconds).
 * Expired holds of the user are released first. Atomic under concurrency (the
 * wallet row is locked). Errors: PT402 insufficient credits; 22023 amount <= 0.
 */
create or replace function private.reserve_credits(
  p_user_id text, p_amount_micro_usd bigint, p_reference text default null,
  p_ttl_seconds integer default null, p_purpose text default 'ai_chat'
)
returns public.credit_reservations
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_wallet public.credit_wallets;
  v_row public.credit_reservations;
  v_ttl integer := coalesce(p_ttl_seconds,
    private.config_bigint('credits.reservation_ttl_seconds', 300)::integer);
begin
  if p_amount_micro_usd is null or p_amount_micro_usd <= 0 then
    raise exception 'a reservation must be positive' using errcode = '22023';
  end if;
  perform private.expire_reservations(p_user_id);
  insert into public.credit_wallets (user_id) values (p_user_id) on conflict (user_id) do nothing;
  select * into v_wallet from public.credit_wallets w where w.user_id = p_user_id for update;
  if v_wallet.balance_micro_usd - v_wallet.held_micro_usd < p_amount_micro_usd then
    raise exception 'insufficient credits: % micro-USD available, % needed',
      greatest(0, v_wallet.balance_micro_usd - v_wallet.held_micro_usd), p_amount_micro_usd
      using errcode = 'PT402';
  end if;
  update public.credit_wallets w set held_micro_usd = w.held_micro_usd + p_amount_micro_usd
  where w.user_id = p_user_id;
  insert into public.credit_reservations (user_id, amount_micro_usd, reference, purpose, expires_at)
  values (p_user_id, p_amount_micro_usd, p_reference, coalesce(p_purpose, 'ai_chat'),
          now() + make_interval(secs => v_ttl))
  returning * into v_row;
  return v_row;
end;
$$;

/**
 * Settles a reservation to the actual cost: a ledger debit of
 * `p_cost_micro_usd` (source ai_interaction / `p_source_id`), and the hold is
 * released. The debit is capped at the balance (what could not be charged is
 * recorded in the entry's metadata as `uncollected_micro_usd`). Settling twice
 * returns the first settlement. An expired reservation is still charged: the
 * provider was paid. Errors: PT404 unknown reservation; 22023 negative cost.
 */
create or replace function private.settle_reservation(
  p_reservation_id uuid, p_cost_micro_usd bigint, p_source text, p_source_id text,
  p_description text default '', p_metadata jsonb default '{}'::jsonb
)
returns public.credit_reservations
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_res public.credit_reservations;
  v_balance bigint;
  v_charge bigint;
begin
  if p_cost_micro_usd is null or p_cost_micro_usd < 0 then
    raise exception 'cost must be >= 0' using errcode = '22023';
  end if;
  select * into v_res from public.credit_reservations cr where cr.id = p_reservation_id for update;
  if not found then
    raise exception 'reservation not found' using errcode = 'PT404';
  end if;
  if v_res.status = 'settled' then
    return v_res;
  end if;
  select w.balance_micro_usd into v_balance from public.credit_wallets w
  where w.user_id = v_res.user_id for update;
  if v_res.status = 'held' then
    update public.credit_wallets w set held_micro_usd = greatest(0, w.held_micro_usd - v_res.amount_micro_usd)
    where w.user_id = v_res.user_id;
  end if;
  v_charge := least(p_cost_micro_usd, v_balance);
  if v_charge > 0 then
    perform private.record_ledger_entry(
      v_res.user_id, 'ai_usage', -v_charge, p_source, p_source_id, p_description,
      coalesce(p_metadata, '{}'::jsonb) || jsonb_build_object(
        'reservation_id', v_res.id, 'reserved_micro_usd', v_res.amount_micro_usd,
        'cost_micro_usd', p_cost_micro_usd, 'uncollected_micro_usd', p_cost_micro_usd - v_charge));
  end if;
  update public.credit_reservations cr
  set status = 'settled', settled_micro_usd = v_charge, finished_at = now()
  where cr.id = p_reservation_id
  returning * into v_res;
  return v_res;
end;
$$;

/** Releases a held reservation without charging (provider failed). Idempotent. */
create or replace function private.release_reservation(p_reservation_id uuid)
returns public.credit_reservations
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_res public.credit_reservations;
begin
  select * into v_res from public.credit_reservations cr where cr.id = p_reservation_id for update;
  if not found then
    raise exception 'reservation not found' using errcode = 'PT404';
  end if;
  if v_res.status <> 'held' then
    return v_res;
  end if;
  update public.credit_wallets w set held_micro_usd = greatest(0, w.held_micro_usd - v_res.amount_micro_usd)
  where w.user_id = v_res.user_id;
  update public.credit_reservations cr set status = 'released', finished_at = now()
  where cr.id = p_reservation_id
  returning * into v_res;
  return v_res;
end;
$$;

/** Users whose wallet balance differs from the sum of their ledger (always empty). */
create or replace function private.ledger_mismatches()
returns table (user_id text, balance_micro_usd bigint, ledger_sum_micro_usd bigint)
language sql
stable
security definer
set search_path = ''
as $$
  select w.user_id, w.balance_micro_usd, coalesce(sum(l.amount_micro_usd), 0)::bigint
  from public.credit_wallets w
  left join public.credit_ledger l on l.user_id = w.user_id
  group by w.user_id, w.balance_micro_usd
  having w.balance_micro_usd <> coalesce(sum(l.amount_micro_usd), 0)
$$;

grant execute on function
  private.record_ledger_entry(text, public.ledger_entry_kind, bigint, text, text, text, jsonb),
  private.expire_reservations(text),
  private.reserve_credits(text, bigint, text, integer, text),
  private.settle_reservation(uuid, bigint, text, text, text, jsonb),
  private.release_reservation(uuid),
  private.ledger_mismatches(),
  private.config_bigint(text, bigint)
  to service_role;

-- -----------------------------------------------------------------------------
-- Every new user gets a wallet. The welcome grant of a Clerk user is not per
-- account: clerk-webhook gives it once per verified identity
-- (private.grant_welcome_credits, 20261122090000_clerk_sync.sql).
-- -----------------------------------------------------------------------------

/**
 * AFTER INSERT on users: create the wallet. A profile that does not come from
 * Clerk (no Clerk event recorded for it, and not created by the user
 * themself through ensure_profile()) is an operator's, created as the service
 * role or in Studio: it gets the welcome grant here (source welcome_grant /
 * user id). Clients cannot insert users, so this is no way around the
 * once-per-identity rule.
 */
create or replace function private.open_wallet()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_grant bigint := private.config_bigint('credits.welcome_grant_micro_usd', 0);
begin
  insert into public.credit_wallets (user_id) values (new.id) on conflict (user_id) do nothing;
  if v_grant > 0
     and private.current_user_id() is distinct from new.id
     and not exists (select 1 from public.webhook_events e where e.provider = 'clerk' and e.subject_id = new.id) then
    perform private.record_ledger_entry(new.id, 'grant', v_grant, 'welcome_grant', new.id, 'Welcome credits');
  end if;
  return null;
end;
$$;

create trigger users_open_wallet after insert on public.users
  for each row execute function private.open_wallet();

-- -----------------------------------------------------------------------------
-- Grants and RLS policies: users read their own; writes only via the above
-- -----------------------------------------------------------------------------
grant select on public.credit_wallets, public.credit_ledger, public.credit_reservations to authenticated;
grant select on public.credit_wallets, public.credit_ledger, public.credit_reservations to service_role;

alter table public.credit_wallets enable row level security;
alter table public.credit_ledger enable row level security;
alter table public.credit_reservations enable row level security;

create policy "Users can read their own wallet"
  on public.credit_wallets for select to authenticated
  using (user_id = (select auth.jwt()) ->> 'sub');

create policy "Users can read their own ledger"
  on public.credit_ledger for select to authenticated
  using (user_id = (select auth.jwt()) ->> 'sub');

create policy "Users can read their own reservations"
  on public.credit_reservations for select to authenticated
  using (user_id = (select auth.jwt()) ->> 'sub');
