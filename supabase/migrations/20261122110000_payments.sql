-- =============================================================================
-- Payments: prepaid AI credits bought with Stripe Checkout: transactions,
-- recharges, refunds (the rules: docs/money.md).
--
-- The flow:
--   1. payments-checkout (as the user) picks an active credit pack, creates a
--      Stripe Checkout Session in payment mode and records a `pending` payment
--      keyed by the session id (private.create_pending_payment);
--   2. stripe-webhook (service role) applies Stripe's signed events through
--      the private functions below, each in one transaction that also records
--      the event id in public.webhook_events, so a redelivery is a no-op:
--        checkout.session.completed            paid → credit; unpaid → wait
--        checkout.session.async_payment_succeeded  → credit
--        checkout.session.async_payment_failed     → failed
--        checkout.session.expired                  → expired
--        charge.refunded                           → debit the refunded share
--      https://docs.stripe.com/checkout/fulfillment
--
-- Stripe delivers events at least once, in no guaranteed order, possibly
-- concurrently (https://docs.stripe.com/webhooks#handle-duplicate-events,
-- https://docs.stripe.com/webhooks#event-ordering). We do not re-fetch objects
-- from Stripe: every event is applied as a monotone fact, so any order of any
-- number of deliveries converges to the same state:
--   * status only moves up  pending < expired < failed < paid (< refunds);
--     an event that would move it down is recorded and changes nothing;
--   * the top-up is one ledger entry unique by (stripe.checkout_session,
--     session id): credited once whatever the number of deliveries;
--   * refunds are cumulative: a charge.refunded carries the charge's total
--     `amount_refunded`; we keep the largest seen per charge
--     (public.stripe_charge_refunds) and debit only the difference between the
--     credits owed back for that total and what was already accounted for. A
--     refund seen before its payment was credited is applied when it is.
--   * a refund debits only AVAILABLE credits (balance - held): credits held
--     by running AI calls (credit_reservations) stay in the wallet so that
--     each call can still settle to its cost; what the refund could not debit
--     is recorded on the payment as credits_unrecovered_micro_usd (the same
--     column as credits already spent). The wallet never goes below zero nor
--     below its holds because of a refund, and balance = sum(ledger) holds
--     (private.ledger_mismatches() stays empty).
--
-- Money is integers only: prices and refunds in the currency's minor unit
-- (cents; yen have none: https://docs.stripe.com/currencies#zero-decimal),
-- credits in micro-USD (1 USD = 1,000,000).
--
-- Alike on purpose: function headers (returns, language, security, search_path)
-- and table declarations (grants, RLS, policies) repeat, and so does the opening
-- of each money step (its row locked FOR UPDATE, PT404 when missing, returned
-- unchanged when already done): each states its own locks in the order they
-- are taken (supabase/migrations/README.md, "Shapes that repeat"; docs/money.md).
-- =============================================================================

-- -----------------------------------------------------------------------------
-- Types
-- -----------------------------------------------------------------------------

/** Where a payment stands. Only moves up: pending < expired < failed < paid < partially_refunded < refunded. */
create type public.payment_status as enum ('pending', 'paid', 'failed', 'expired', 'refunded', 'partially_refunded');

-- -----------------------------------------------------------------------------
-- Tables
-- -----------------------------------------------------------------------------

/** What users can buy: a price in a currency and the credits it gives. Admins edit them. */
create table public.credit_packs (
  id uuid primary key default gen_random_uuid(),
  name text not null check (char_length(btrim(name)) between 1 and 80),
  description text not null default '' check (char_length(description) <= 500),
  -- Stripe charges at most 99,999,999 minor units (https://docs.stripe.com/currencies#minimum-and-maximum-charge-amounts).
  price_minor bigint not null check (price_minor between 1 and 99999999),
  currency text not null check (currency ~ '^[a-z]{3}$'),
  credits_micro_usd bigint not null check (credits_micro_usd > 0),
  stripe_price_id text check (stripe_price_id is null or stripe_price_id ~ '^price_[A-Za-z0-9_]{1,250}$'),
  active boolean not null default true,
  sort_order integer not null default 0,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
comment on table public.credit_packs is
  'Credit packs users can buy with Stripe Checkout. Clients see the active ones; admins see and edit all (deactivate rather than delete a pack that was sold).';
comment on column public.credit_packs.price_minor is
  'Price in the currency''s minor unit (cents; yen have none): what Stripe''s unit_amount takes. 500 usd = 5.00 USD.';
comment on column public.credit_packs.currency is 'Three-letter ISO currency code, lower case as Stripe writes it (usd, eur, jpy).';
comment on column public.credit_packs.credits_micro_usd is 'AI credits the pack gives, in micro-USD (1 USD = 1,000,000), whatever the currency paid.';
comment on column public.credit_packs.stripe_price_id is
  'Optional Stripe Price (price_…) used as the Checkout line item; its amount and currency must equal price_minor and currency. Null: price_data is built from this row.';
comment on column public.credit_packs.sort_order is 'Display order, ascending.';

-- Behind the client SELECT policies (active) and the listing order.
create index credit_packs_active_sort_idx on public.credit_packs (active, sort_order);

/** One Stripe Checkout Session for one pack: the user's top-up history. Written only through the private functions below. */
create table public.payments (
  id uuid primary key default gen_random_uuid(),
  user_id public.clerk_user_id not null,
  pack_id uuid not null references public.credit_packs (id) on delete restrict,
  status public.payment_status not null default 'pending',
  amount_minor bigint not null check (amount_minor > 0),
  currency text not null check (currency ~ '^[a-z]{3}$'),
  credits_micro_usd bigint not null check (credits_micro_usd > 0),
  stripe_checkout_session_id text not null unique check (stripe_checkout_session_id ~ '^cs_[A-Za-z0-9_]{1,250}$'),
  stripe_payment_intent_id text check (stripe_payment_intent_id is null or stripe_payment_intent_id ~ '^pi_[A-Za-z0-9_]{1,250}$'),
  amount_refunded_minor bigint not null default 0 check (amount_refunded_minor >= 0),
  credits_refunded_micro_usd bigint not null default 0 check (credits_refunded_micro_usd >= 0),
  credits_unrecovered_micro_usd bigint not null default 0 check (credits_unrecovered_micro_usd >= 0),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  paid_at timestamptz,
  failed_at timestamptz,
  expired_at timestamptz,
  refunded_at timestamptz,
  constraint payments_refund_within_amount check (amount_refunded_minor <= amount_minor),
  constraint payments_refund_within_credits
    check (credits_refunded_micro_usd + credits_unrecovered_micro_usd <= credits_micro_usd)
);
comment on table public.payments is
  'Credit top-ups through Stripe Checkout, one row per Checkout Session. Users read their own; only stripe-webhook (service role) changes them.';
comment on column public.payments.user_id is
  'Clerk user id of the buyer. No foreign key, like credit_ledger: payment records outlive a deleted account.';
comment on column public.payments.pack_id is 'The pack bought; its price and credits are copied below as they were at checkout.';
comment on column public.payments.status is
  'pending (session open or async payment processing), paid (credited), failed (async payment failed), expired (session expired unpaid), partially_refunded, refunded.';
comment on column public.payments.amount_minor is 'Amount charged, in the currency''s minor unit (the session''s amount_total once paid).';
comment on column public.payments.credits_micro_usd is 'Credits this payment adds to the wallet when paid, in micro-USD.';
comment on column public.payments.stripe_checkout_session_id is 'Stripe Checkout Session id (cs_…).';
comment on column public.payments.stripe_payment_intent_id is 'Stripe PaymentIntent id (pi_…), known once the session completes; charge.refunded events name it.';
comment on column public.payments.amount_refunded_minor is 'Total refunded so far by Stripe, in minor units (never decreases).';
comment on column public.payments.credits_refunded_micro_usd is 'Credits debited from the wallet for refunds so far, in micro-USD.';
comment on column public.payments.credits_unrecovered_micro_usd is
  'Credits owed back for refunds that could not be debited, in micro-USD: already spent, or held by running AI calls when the refund '
  'arrived (a refund debits only balance - held, so those calls can settle).';
comment on column public.payments.refunded_at is 'When the last refund was applied.';

create index payments_user_id_created_at_idx on public.payments (user_id, created_at desc);
create index payments_pack_id_idx on public.payments (pack_id);
create unique index payments_stripe_payment_intent_id_key on public.payments (stripe_payment_intent_id)
  where stripe_payment_intent_id is not null;

/**
 * The largest refund total seen per Stripe charge (from charge.refunded), so a
 * refund delivered before its payment is known is applied once it is, and a
 * stale delivery never lowers the total. Service role only.
 */
create table public.stripe_charge_refunds (
  charge_id text primary key check (char_length(charge_id) between 4 and 255),
  payment_intent_id text not null check (payment_intent_id ~ '^pi_[A-Za-z0-9_]{1,250}$'),
  currency text not null check (currency ~ '^[a-z]{3}$'),
  amount_minor bigint not null check (amount_minor > 0),
  amount_refunded_minor bigint not null check (amount_refunded_minor >= 0),
  last_event_id text not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint stripe_charge_refunds_within_amount check (amount_refunded_minor <= amount_minor)
);
comment on table public.stripe_charge_refunds is
  'Refund state of each Stripe charge seen in charge.refunded: the largest cumulative amount_refunded. Written by stripe-webhook only.';
comment on column public.stripe_charge_refunds.amount_refunded_minor is 'Charge.amount_refunded (cumulative, minor units): the largest value delivered.';
comment on column public.stripe_charge_refunds.last_event_id is 'The Stripe event (evt_…) that last raised the total.';

create index stripe_charge_refunds_payment_intent_id_idx on public.stripe_charge_refunds (payment_intent_id);

create trigger credit_packs_set_updated_at before update on public.credit_packs
  for each row execute function private.set_updated_at();
create trigger payments_set_updated_at before update on public.payments
  for each row execute function private.set_updated_at();
create trigger stripe_charge_refunds_set_updated_at before update on public.stripe_charge_refunds
  for each row execute function private.set_updated_at();

-- -----------------------------------------------------------------------------
-- Defaults (editable: packs by admins, settings in admin_config)
-- -----------------------------------------------------------------------------
insert into public.credit_packs (id, name, description, price_minor, currency, credits_micro_usd, sort_order) values
  ('00000000-0000-4000-8000-00000000c001', 'Starter', '5 USD of AI credits', 500, 'usd', 5000000, 10),
  ('00000000-0000-4000-8000-00000000c002', 'Standard', '21 USD of AI credits for 20 USD', 2000, 'usd', 21000000, 20),
  ('00000000-0000-4000-8000-00000000c003', 'Pro', '55 USD of AI credits for 50 USD', 5000, 'usd', 55000000, 30)
on conflict (id) do nothing;

insert into public.admin_config (key, value, description, value_type) values
  ('payments.allowed_redirect_urls', '["http://localhost:3000", "http://127.0.0.1:3000"]',
   'Origins (scheme://host[:port]) allowed as Stripe Checkout success and cancel URLs; add your apps'' origins.', 'url_array')
on conflict (key) do nothing;

-- -----------------------------------------------------------------------------
-- Internal helpers (no grants: called by the service functions below)
-- -----------------------------------------------------------------------------

/** Stores what processing did in the event's webhook_events row. */
create or replace function private.stripe_event_outcome(p_event_id text, p_outcome text)
returns text
language sql
security definer
set search_path = ''
as $$
  update public.webhook_events e set outcome = p_outcome
  where e.provider = 'stripe' and e.event_id = p_event_id
  returning p_outcome
$$;

/**
 * The payment of a Checkout Session, locked for update (null when unknown).
 * When the event names the PaymentIntent, first takes a transaction lock on
 * it (the same lock charge.refunded takes, always before the row lock), and
 * records it on the payment if not known yet.
 */
create or replace function private.stripe_lock_payment(p_session_id text, p_payment_intent_id text)
returns public.payments
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_payment public.payments;
begin
  if p_payment_intent_id is not null then
    perform pg_advisory_xact_lock(hashtextextended('stripe-payment-intent:' || p_payment_intent_id, 0));
  end if;
  select * into v_payment from public.payments p where p.stripe_checkout_session_id = p_session_id for update;
  if found and v_payment.stripe_payment_intent_id is null and p_payment_intent_id is not null then
    update public.payments p set stripe_payment_intent_id = p_payment_intent_id
    where p.id = v_payment.id
    returning * into v_payment;
  end if;
  return v_payment;
end;
$$;

/**
 * Applies the refunds known for a locked payment's PaymentIntent
 * (stripe_charge_refunds). Rule, in integer arithmetic:
 *   refunded = min(sum of the charges' amount_refunded, amount_minor), never decreasing;
 *   owed     = floor(credits_micro_usd × refunded / amount_minor)   (all of it on a full refund);
 *   delta    = owed − (credits_refunded + credits_unrecovered)        (what this call must account for);
 *   debit    = min(delta, wallet balance − held): a ledger entry kind refund,
 *              source stripe.refund / '<session id>:<owed>' (unique per step);
 *   the rest of delta is recorded in credits_unrecovered (spent credits are never taken below zero).
 * Why balance − held (rule of the credits README section): credits held by
 * running AI calls are promised to those calls; the provider is already being
 * paid for them. Debiting them would leave a call's settlement short (its
 * debit is capped at the balance), so a refund that arrives mid-call takes
 * what is available and records the held part as unrecovered, never
 * breaking a settlement. The wallet row is locked (FOR UPDATE), the same lock
 * reserve_credits and settle_reservation take, so a concurrent reservation or
 * settlement sees the refund or is seen by it, never half of it.
 * Nothing is debited while the payment is not paid (the amount is kept and
 * applied when it is). Notifies topup_refunded when something was accounted.
 * Returns refunded | partially_refunded | unchanged | awaiting_payment.
 */
create or replace function private.apply_payment_refunds(p_payment_id uuid, p_event_id text)
returns text
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_p public.payments;
  v_total bigint;
  v_refunded bigint;
  v_owed bigint;
  v_delta bigint;
  v_balance bigint;
  v_held bigint;
  v_debit bigint := 0;
  v_status public.payment_status;
  v_user_exists boolean;
begin
  select * into v_p from public.payments p where p.id = p_payment_id for update;
  if v_p.stripe_payment_intent_id is null then
    return 'unchanged';
  end if;
  select coalesce(sum(r.amount_refunded_minor), 0) into v_total
  from public.stripe_charge_refunds r where r.payment_intent_id = v_p.stripe_payment_intent_id;
  v_refunded := greatest(v_p.amount_refunded_minor, least(v_total, v_p.amount_minor));

  if v_p.status not in ('paid', 'partially_refunded', 'refunded') then
    if v_refunded > v_p.amount_refunded_minor then
      update public.payments p set amount_refunded_minor = v_refunded where p.id = v_p.id;
    end if;
    return 'awaiting_payment';
  end if;

  -- Exact integer division (div truncates; all operands are >= 0, so it is the floor): numeric
  -- cannot overflow where bigint × bigint could, and the rounding favours the user by < 1 micro-USD.
  v_owed := div(v_p.credits_micro_usd::numeric * v_refunded, v_p.amount_minor)::bigint;
  v_delta := v_owed - (v_p.credits_refunded_micro_usd + v_p.credits_unrecovered_micro_usd);
  v_status := case
    when v_refunded >= v_p.amount_minor then 'refunded'
    when v_refunded > 0 then 'partially_refunded'
    else v_p.status
  end::public.payment_status;

  if v_delta <= 0 then
    if v_status is distinct from v_p.status or v_refunded <> v_p.amount_refunded_minor then
      update public.payments p set status = v_status, amount_refunded_minor = v_refunded, refunded_at = now()
      where p.id = v_p.id;
      return v_status::text;
    end if;
    return 'unchanged';
  end if;

  v_user_exists := exists (select 1 from public.users u where u.id = v_p.user_id);
  if v_user_exists and exists (
    select 1 from public.credit_ledger l
    where l.source = 'stripe.checkout_session' and l.source_id = v_p.stripe_checkout_session_id
  ) then
    select w.balance_micro_usd, w.held_micro_usd into v_balance, v_held
    from public.credit_wallets w where w.user_id = v_p.user_id for update;
    v_debit := least(v_delta, greatest(coalesce(v_balance, 0) - coalesce(v_held, 0), 0));
  end if;
  if v_debit > 0 then
    perform private.record_ledger_entry(
      v_p.user_id, 'refund', -v_debit, 'stripe.refund', v_p.stripe_checkout_session_id || ':' || v_owed,
      'Refund of a credit top-up',
      jsonb_build_object(
        'payment_id', v_p.id, 'stripe_event_id', p_event_id,
        'amount_refunded_minor', v_refunded, 'currency', v_p.currency,
        'owed_micro_usd', v_delta, 'unrecovered_micro_usd', v_delta - v_debit, 'held_micro_usd', coalesce(v_held, 0)));
  end if;

  update public.payments p
  set status = v_status,
      amount_refunded_minor = v_refunded,
      credits_refunded_micro_usd = p.credits_refunded_micro_usd + v_debit,
      credits_unrecovered_micro_usd = p.credits_unrecovered_micro_usd + (v_delta - v_debit),
      refunded_at = now()
  where p.id = v_p.id;

  if v_user_exists then
    perform private.notify(v_p.user_id, 'topup_refunded', jsonb_build_object(
      'payment_id', v_p.id,
      'pack_id', v_p.pack_id,
      'status', v_status,
      'currency', v_p.currency,
      'amount_minor', v_p.amount_minor,
      'amount_refunded_minor', v_refunded,
      'credits_debited_micro_usd', v_debit,
      'credits_unrecovered_micro_usd', v_delta - v_debit,
      'balance_micro_usd', coalesce((select w.balance_micro_usd from public.credit_wallets w where w.user_id = v_p.user_id), 0)));
  end if;
  return v_status::text;
end;
$$;

/**
 * Marks a locked payment paid and credits it once: a ledger entry kind topup,
 * source stripe.checkout_session / session id (unique: a second call finds it
 * and adds nothing). `p_amount_total` (the session's amount_total, minor
 * units) replaces amount_minor when given. Notifies topup_succeeded, then
 * applies refunds that arrived first. A payment already paid is left as is.
 * Returns credited | already_paid | user_deleted (paid, but the account is
 * gone: nothing to credit).
 */
create or replace function private.mark_payment_paid(p_payment_id uuid, p_event_id text, p_amount_total bigint)
returns text
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_p public.payments;
  v_entry public.credit_ledger;
  v_pack_name text;
begin
  select * into v_p from public.payments p where p.id = p_payment_id for update;
  if v_p.status in ('paid', 'partially_refunded', 'refunded') then
    return 'already_paid';
  end if;
  update public.payments p
  set status = 'paid',
      paid_at = now(),
      amount_minor = case when p_amount_total > 0 then p_amount_total else p.amount_minor end,
      amount_refunded_minor = least(p.amount_refunded_minor,
                                    case when p_amount_total > 0 then p_amount_total else p.amount_minor end)
  where p.id = v_p.id
  returning * into v_p;

  if not exists (select 1 from public.users u where u.id = v_p.user_id) then
    return 'user_deleted';
  end if;
  select cp.name into v_pack_name from public.credit_packs cp where cp.id = v_p.pack_id;
  v_entry := private.record_ledger_entry(
    v_p.user_id, 'topup', v_p.credits_micro_usd, 'stripe.checkout_session', v_p.stripe_checkout_session_id,
    'Credit top-up: ' || coalesce(v_pack_name, 'credit pack'),
    jsonb_build_object('payment_id', v_p.id, 'pack_id', v_p.pack_id, 'amount_minor', v_p.amount_minor,
                       'currency', v_p.currency, 'stripe_event_id', p_event_id));
  perform private.notify(v_p.user_id, 'topup_succeeded', jsonb_build_object(
    'payment_id', v_p.id,
    'pack_id', v_p.pack_id,
    'pack_name', v_pack_name,
    'currency', v_p.currency,
    'amount_minor', v_p.amount_minor,
    'credits_micro_usd', v_p.credits_micro_usd,
    'balance_micro_usd', v_entry.balance_after_micro_usd));
  perform private.apply_payment_refunds(v_p.id, p_event_id);
  return 'credited';
end;
$$;

/**
 * Applies a checkout.session.* event to its payment, once per event id, in
 * the same order for every type: records the event
 * (private.record_webhook_event: a redelivery returns `duplicate` and changes
 * nothing), locks the payment (private.stripe_lock_payment: the
 * PaymentIntent's lock first, then the row), then moves its status only up:
 *   completed / async_payment_succeeded: payment_status `paid` credits the
 *     payment once (private.mark_payment_paid); otherwise already_paid,
 *     already_failed, or awaiting_payment (a delayed method is processing);
 *   async_payment_failed: status failed and a topup_failed notification,
 *     unless already paid or failed;
 *   expired: status expired from pending only (no notification), else
 *     already_expired / already_failed / already_paid.
 * Every type: unknown_session when no payment has the session id. The
 * outcome is stored on the event's webhook_events row and returned.
 */
create or replace function private.stripe_session_event(
  p_event_id text, p_event_type text, p_session_id text, p_payment_status text,
  p_payment_intent_id text, p_amount_total bigint, p_occurred_at timestamptz
)
returns text
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_payment public.payments;
  v_outcome text;
begin
  if not private.record_webhook_event('stripe', p_event_id, p_event_type, p_session_id, p_occurred_at) then
    return 'duplicate';
  end if;
  v_payment := private.stripe_lock_payment(p_session_id, p_payment_intent_id);
  if v_payment.id is null then
    v_outcome := 'unknown_session';
  elsif p_event_type = 'checkout.session.expired' then
    if v_payment.status = 'pending' then
      update public.payments p set status = 'expired', expired_at = now() where p.id = v_payment.id;
      v_outcome := 'expired';
    else
      v_outcome := case v_payment.status
        when 'expired' then 'already_expired'
        when 'failed' then 'already_failed'
        else 'already_paid'
      end;
    end if;
  elsif p_event_type <> 'checkout.session.async_payment_failed' and p_payment_status = 'paid' then
    v_outcome := private.mark_payment_paid(v_payment.id, p_event_id, p_amount_total);
  elsif v_payment.status in ('paid', 'partially_refunded', 'refunded') then
    v_outcome := 'already_paid';
  elsif v_payment.status = 'failed' then
    v_outcome := 'already_failed';
  elsif p_event_type = 'checkout.session.async_payment_failed' then
    update public.payments p set status = 'failed', failed_at = now() where p.id = v_payment.id;
    if exists (select 1 from public.users u where u.id = v_payment.user_id) then
      perform private.notify(v_payment.user_id, 'topup_failed', jsonb_build_object(
        'payment_id', v_payment.id,
        'pack_id', v_payment.pack_id,
        'currency', v_payment.currency,
        'amount_minor', v_payment.amount_minor,
        'credits_micro_usd', v_payment.credits_micro_usd));
    end if;
    v_outcome := 'failed';
  else
    -- unpaid: a delayed payment method (bank debit…) is processing; async_payment_* follows.
    v_outcome := 'awaiting_payment';
  end if;
  return private.stripe_event_outcome(p_event_id, v_outcome);
end;
$$;

-- -----------------------------------------------------------------------------
-- Service functions (service role only: payments-checkout and stripe-webhook)
-- -----------------------------------------------------------------------------

/**
 * payments-checkout: records the pending payment of a Checkout Session just
 * created for `p_user_id` and pack `p_pack_id`, with the amount (minor units),
 * currency and credits (micro-USD) the session was created with. Idempotent
 * by session id: the same session returns the same row (a retried request
 * with the same idempotency key gets the same session from Stripe).
 * Errors: 23503 unknown pack; 23505 the session belongs to another user;
 * 22023 invalid amounts or ids (CHECK constraints: 23514).
 */
create or replace function private.create_pending_payment(
  p_user_id text, p_pack_id uuid, p_session_id text,
  p_amount_minor bigint, p_currency text, p_credits_micro_usd bigint
)
returns public.payments
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_row public.payments;
begin
  perform private.assert_clerk_user_id(p_user_id);
  insert into public.payments (user_id, pack_id, amount_minor, currency, credits_micro_usd, stripe_checkout_session_id)
  values (p_user_id, p_pack_id, p_amount_minor, lower(p_currency), p_credits_micro_usd, p_session_id)
  on conflict (stripe_checkout_session_id) do nothing
  returning * into v_row;
  if not found then
    select * into v_row from public.payments p where p.stripe_checkout_session_id = p_session_id;
    if v_row.user_id <> p_user_id then
      raise exception 'Checkout Session % belongs to another user', p_session_id using errcode = '23505';
    end if;
  end if;
  return v_row;
end;
$$;

-- Alike on purpose: one entry point per Stripe event type, named after it and
-- stating its outcomes (stripe-webhook calls them by name); the work is
-- private.stripe_session_event's.
/**
 * stripe-webhook, checkout.session.completed
 * (https://docs.stripe.com/api/events/types#event_types-checkout.session.completed):
 * payment_status `paid` credits the payment once; `unpaid` (a delayed payment
 * method) only records the PaymentIntent and waits for async_payment_*.
 * Returns credited | awaiting_payment | already_paid | already_failed |
 * user_deleted | unknown_session | duplicate (this event id was processed).
 */
create or replace function private.stripe_checkout_completed(
  p_event_id text, p_session_id text, p_payment_status text,
  p_payment_intent_id text, p_amount_total bigint, p_occurred_at timestamptz default null
)
returns text
language sql
security definer
set search_path = ''
as $$
  select private.stripe_session_event(p_event_id, 'checkout.session.completed', p_session_id,
    p_payment_status, p_payment_intent_id, p_amount_total, p_occurred_at)
$$;

/**
 * stripe-webhook, checkout.session.async_payment_succeeded: the delayed
 * payment succeeded (payment_status paid) → credited once, whether or not
 * checkout.session.completed was seen before. Outcomes as stripe_checkout_completed.
 */
create or replace function private.stripe_async_payment_succeeded(
  p_event_id text, p_session_id text, p_payment_status text,
  p_payment_intent_id text, p_amount_total bigint, p_occurred_at timestamptz default null
)
returns text
language sql
security definer
set search_path = ''
as $$
  select private.stripe_session_event(p_event_id, 'checkout.session.async_payment_succeeded', p_session_id,
    p_payment_status, p_payment_intent_id, p_amount_total, p_occurred_at)
$$;

/**
 * stripe-webhook, checkout.session.async_payment_failed: the delayed payment
 * failed → status failed (from pending or expired) and a topup_failed
 * notification; never undoes a paid payment.
 * Returns failed | already_failed | already_paid | unknown_session | duplicate.
 */
create or replace function private.stripe_async_payment_failed(
  p_event_id text, p_session_id text, p_payment_intent_id text, p_occurred_at timestamptz default null
)
returns text
language sql
security definer
set search_path = ''
as $$
  select private.stripe_session_event(p_event_id, 'checkout.session.async_payment_failed', p_session_id,
    null, p_payment_intent_id, null, p_occurred_at)
$$;

/**
 * stripe-webhook, checkout.session.expired: a session left unpaid
 * (https://docs.stripe.com/api/checkout/sessions/object#checkout_session_object-status)
 * → status expired, from pending only. No notification (the user walked away).
 * Returns expired | already_expired | already_failed | already_paid | unknown_session | duplicate.
 */
create or replace function private.stripe_checkout_expired(
  p_event_id text, p_session_id text, p_occurred_at timestamptz default null
)
returns text
language sql
security definer
set search_path = ''
as $$
  select private.stripe_session_event(p_event_id, 'checkout.session.expired', p_session_id, null, null, null, p_occurred_at)
$$;

/**
 * stripe-webhook, charge.refunded (https://docs.stripe.com/api/events/types#event_types-charge.refunded):
 * `p_amount_refunded_minor` is the charge's cumulative amount_refunded. Keeps
 * the largest total seen for the charge, then applies the refunds of the
 * PaymentIntent's payment (private.apply_payment_refunds: proportional,
 * cumulative, never below zero). A charge whose PaymentIntent matches no
 * payment yet is kept and applied when the session completes.
 * Returns refunded | partially_refunded | unchanged | awaiting_payment |
 * unknown_payment | duplicate. Errors: 22023 amounts out of range.
 */
create or replace function private.stripe_charge_refunded(
  p_event_id text, p_charge_id text, p_payment_intent_id text,
  p_amount_minor bigint, p_amount_refunded_minor bigint, p_currency text,
  p_occurred_at timestamptz default null
)
returns text
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_payment_id uuid;
  v_outcome text;
begin
  if p_amount_minor is null or p_amount_minor <= 0 or p_amount_refunded_minor is null
     or p_amount_refunded_minor < 0 or p_amount_refunded_minor > p_amount_minor then
    raise exception 'charge amounts out of range: amount %, amount_refunded %', p_amount_minor, p_amount_refunded_minor
      using errcode = '22023';
  end if;
  if not private.record_webhook_event('stripe', p_event_id, 'charge.refunded', p_charge_id, p_occurred_at) then
    return 'duplicate';
  end if;
  perform pg_advisory_xact_lock(hashtextextended('stripe-payment-intent:' || p_payment_intent_id, 0));

  insert into public.stripe_charge_refunds as r
    (charge_id, payment_intent_id, currency, amount_minor, amount_refunded_minor, last_event_id)
  values (p_charge_id, p_payment_intent_id, lower(p_currency), p_amount_minor, p_amount_refunded_minor, p_event_id)
  on conflict (charge_id) do update
    set amount_refunded_minor = excluded.amount_refunded_minor, last_event_id = excluded.last_event_id
    where r.amount_refunded_minor < excluded.amount_refunded_minor;

  select p.id into v_payment_id from public.payments p
  where p.stripe_payment_intent_id = p_payment_intent_id for update;
  if v_payment_id is null then
    v_outcome := 'unknown_payment';
  else
    v_outcome := private.apply_payment_refunds(v_payment_id, p_event_id);
  end if;
  return private.stripe_event_outcome(p_event_id, v_outcome);
end;
$$;

revoke execute on function
  private.stripe_event_outcome(text, text),
  private.stripe_lock_payment(text, text),
  private.apply_payment_refunds(uuid, text),
  private.mark_payment_paid(uuid, text, bigint),
  private.stripe_session_event(text, text, text, text, text, bigint, timestamptz),
  private.create_pending_payment(text, uuid, text, bigint, text, bigint),
  private.stripe_checkout_completed(text, text, text, text, bigint, timestamptz),
  private.stripe_async_payment_succeeded(text, text, text, text, bigint, timestamptz),
  private.stripe_async_payment_failed(text, text, text, timestamptz),
  private.stripe_checkout_expired(text, text, timestamptz),
  private.stripe_charge_refunded(text, text, text, bigint, bigint, text, timestamptz)
  from public, anon, authenticated;
grant execute on function
  private.create_pending_payment(text, uuid, text, bigint, text, bigint),
  private.stripe_checkout_completed(text, text, text, text, bigint, timestamptz),
  private.stripe_async_payment_succeeded(text, text, text, text, bigint, timestamptz),
  private.stripe_async_payment_failed(text, text, text, timestamptz),
  private.stripe_checkout_expired(text, text, timestamptz),
  private.stripe_charge_refunded(text, text, text, bigint, bigint, text, timestamptz)
  to service_role;

-- -----------------------------------------------------------------------------
-- Grants and RLS policies
-- -----------------------------------------------------------------------------
revoke all on public.credit_packs, public.payments, public.stripe_charge_refunds from anon, authenticated;

grant select on public.credit_packs to anon, authenticated, service_role;
grant insert (name, description, price_minor, currency, credits_micro_usd, stripe_price_id, active, sort_order),
      update (name, description, price_minor, currency, credits_micro_usd, stripe_price_id, active, sort_order),
      delete
  on public.credit_packs to authenticated;
grant select on public.payments to authenticated, service_role;
grant select on public.stripe_charge_refunds to service_role;

alter table public.credit_packs enable row level security;
alter table public.payments enable row level security;
alter table public.stripe_charge_refunds enable row level security;
-- stripe_charge_refunds: no policies; client roles have no grants and nothing to see.

create policy "Anyone can read active credit packs"
  on public.credit_packs for select to anon
  using (active);

create policy "Users can read active credit packs, admins all"
  on public.credit_packs for select to authenticated
  using (active or (select private.is_admin()));

select private.let_admins_edit('public.credit_packs', 'credit packs');

create policy "Users can read their own payments"
  on public.payments for select to authenticated
  using (user_id = (select auth.jwt()) ->> 'sub');
