-- =============================================================================
-- Analytics: the figures admins read in Supabase Studio (dashboards and
-- statistics per day).
--
-- Views live in the schema `analytics`, which the Data API does not expose and
-- which no client role may use: only Studio (postgres) and service-role code
-- read them. Each view and column has a comment that Studio shows. Days are
-- UTC calendar days; money is integer (Stripe minor units per currency, AI
-- credits in micro-USD). Time-range scans are served by BRIN indexes on the
-- append-mostly tables (cheap to maintain on the message send path).
--
-- Alike on purpose: the per-day views share their shape (UTC day, group by,
-- a comment per column): each view states what it counts (supabase/migrations/README.md,
-- "Shapes that repeat").
-- =============================================================================

create schema if not exists analytics;
comment on schema analytics is
  'Admin analytics views (Studio). Not exposed by the Data API; no grants to anon or authenticated.';
revoke all on schema analytics from public, anon, authenticated;
grant usage on schema analytics to service_role;

-- Time-range scans for the per-day views.
create index messages_created_at_brin_idx on public.messages using brin (created_at);
create index ai_interactions_created_at_brin_idx on public.ai_interactions using brin (created_at);
create index payments_created_at_brin_idx on public.payments using brin (created_at);
create index friends_created_at_brin_idx on public.friends using brin (created_at);

-- -----------------------------------------------------------------------------
-- Activity
-- -----------------------------------------------------------------------------
create view analytics.daily_active_users with (security_invoker = true) as
with activity as (
  select m.sender_id as user_id, (m.created_at at time zone 'utc')::date as day
  from public.messages m where m.sender_id is not null
  union
  select a.user_id, (a.created_at at time zone 'utc')::date
  from public.ai_interactions a
)
select day,
       count(distinct user_id)::bigint as active_users
from activity
group by day;
comment on view analytics.daily_active_users is
  'DAU: users who sent a message or asked the AI, per UTC day. Filter by day, e.g. where day > current_date - 30.';
comment on column analytics.daily_active_users.day is 'UTC calendar day.';
comment on column analytics.daily_active_users.active_users is 'Distinct users who sent at least one message or AI request that day.';

create view analytics.monthly_active_users with (security_invoker = true) as
with activity as (
  select m.sender_id as user_id, date_trunc('month', m.created_at at time zone 'utc')::date as month
  from public.messages m where m.sender_id is not null
  union
  select a.user_id, date_trunc('month', a.created_at at time zone 'utc')::date
  from public.ai_interactions a
)
select month, count(distinct user_id)::bigint as active_users
from activity
group by month;
comment on view analytics.monthly_active_users is 'MAU: users who sent a message or asked the AI, per UTC calendar month.';
comment on column analytics.monthly_active_users.month is 'First day of the UTC month.';
comment on column analytics.monthly_active_users.active_users is 'Distinct active users that month.';

create view analytics.messages_per_day with (security_invoker = true) as
select (m.created_at at time zone 'utc')::date as day,
       c.kind as chat_kind,
       count(*)::bigint as messages,
       count(*) filter (where m.kind = 'ai')::bigint as ai_messages,
       count(*) filter (where m.kind in ('image', 'file'))::bigint as media_messages,
       count(distinct m.sender_id)::bigint as senders
from public.messages m
join public.chats c on c.id = m.chat_id
group by 1, 2;
comment on view analytics.messages_per_day is 'Messages sent per UTC day and chat kind (direct, group, assistant).';
comment on column analytics.messages_per_day.messages is 'All messages, including AI answers and deleted ones.';
comment on column analytics.messages_per_day.ai_messages is 'AI answers (kind ai).';
comment on column analytics.messages_per_day.media_messages is 'Image and file messages.';
comment on column analytics.messages_per_day.senders is 'Distinct human senders.';

create view analytics.new_friendships_per_day with (security_invoker = true) as
select (coalesce(f.responded_at, f.created_at) at time zone 'utc')::date as day,
       count(*) filter (where f.status = 'accepted')::bigint as friendships,
       count(*) filter (where f.status = 'declined')::bigint as declined_requests,
       count(*) filter (where f.status = 'pending')::bigint as pending_requests,
       count(*) filter (where f.status = 'blocked')::bigint as blocks
from public.friends f
group by 1;
comment on view analytics.new_friendships_per_day is
  'Friend requests by outcome, per UTC day of the answer (or of the request while pending). Removed friendships are not counted.';
comment on column analytics.new_friendships_per_day.friendships is 'Requests accepted that day (still friends).';
comment on column analytics.new_friendships_per_day.declined_requests is 'Requests declined that day.';
comment on column analytics.new_friendships_per_day.pending_requests is 'Requests sent that day and still unanswered.';
comment on column analytics.new_friendships_per_day.blocks is 'Blocks made that day and still in place.';

-- -----------------------------------------------------------------------------
-- AI
-- -----------------------------------------------------------------------------
create view analytics.ai_usage_per_day with (security_invoker = true) as
select (a.created_at at time zone 'utc')::date as day,
       a.provider, a.model,
       count(*)::bigint as requests,
       count(*) filter (where a.status = 'succeeded')::bigint as succeeded,
       coalesce(sum(a.prompt_tokens), 0)::bigint as prompt_tokens,
       coalesce(sum(a.completion_tokens), 0)::bigint as completion_tokens,
       coalesce(sum(a.cost_micro_usd), 0)::bigint as cost_micro_usd,
       coalesce(sum(a.charged_micro_usd), 0)::bigint as charged_micro_usd,
       (percentile_cont(0.5) within group (order by a.latency_ms))::integer as median_latency_ms
from public.ai_interactions a
group by 1, 2, 3;
comment on view analytics.ai_usage_per_day is 'AI requests, tokens and spend per UTC day, provider and model.';
comment on column analytics.ai_usage_per_day.prompt_tokens is 'Prompt (input) tokens reported by the provider.';
comment on column analytics.ai_usage_per_day.completion_tokens is 'Completion (output) tokens reported by the provider.';
comment on column analytics.ai_usage_per_day.cost_micro_usd is 'Cost at our model prices, micro-USD (1 USD = 1,000,000).';
comment on column analytics.ai_usage_per_day.charged_micro_usd is 'What users were charged, micro-USD (cost capped by their balance).';
comment on column analytics.ai_usage_per_day.median_latency_ms is 'Median total latency of the calls, milliseconds.';

create view analytics.ai_error_rates with (security_invoker = true) as
select (a.created_at at time zone 'utc')::date as day,
       a.provider, a.model,
       count(*)::bigint as requests,
       count(*) filter (where a.status = 'failed')::bigint as failed,
       count(*) filter (where a.status = 'refused')::bigint as refused,
       count(*) filter (where a.status = 'aborted')::bigint as aborted,
       round(100.0 * count(*) filter (where a.status = 'failed') / nullif(count(*), 0), 2) as failed_pct,
       mode() within group (order by a.error_code) filter (where a.error_code is not null) as most_common_error
from public.ai_interactions a
group by 1, 2, 3;
comment on view analytics.ai_error_rates is 'AI call outcomes per UTC day, provider and model: provider failures, refusals (credits, rate limits), aborts.';
comment on column analytics.ai_error_rates.failed_pct is 'Percentage of requests that failed at the provider (0-100, 2 decimals).';
comment on column analytics.ai_error_rates.most_common_error is 'The most frequent error_code that day.';

create view analytics.top_spenders with (security_invoker = true) as
select a.user_id,
       u.display_name,
       u.username::text as username,
       count(*)::bigint as requests,
       coalesce(sum(a.charged_micro_usd), 0)::bigint as spent_micro_usd,
       max(a.created_at) as last_request_at
from public.ai_interactions a
left join public.users u on u.id = a.user_id
where a.created_at > now() - interval '30 days'
group by a.user_id, u.display_name, u.username;
comment on view analytics.top_spenders is
  'AI spend per user over the last 30 days; order by spent_micro_usd desc to see the top spenders.';
comment on column analytics.top_spenders.spent_micro_usd is 'Credits charged for AI calls in the last 30 days, micro-USD.';

-- -----------------------------------------------------------------------------
-- Money
-- -----------------------------------------------------------------------------
create view analytics.revenue_per_day with (security_invoker = true) as
select (p.paid_at at time zone 'utc')::date as day,
       p.currency,
       count(*)::bigint as payments,
       sum(p.amount_minor)::bigint as gross_minor,
       sum(p.amount_refunded_minor)::bigint as refunded_minor,
       (sum(p.amount_minor) - sum(p.amount_refunded_minor))::bigint as net_minor,
       sum(p.credits_micro_usd)::bigint as credits_sold_micro_usd
from public.payments p
where p.paid_at is not null
group by 1, 2;
comment on view analytics.revenue_per_day is
  'Top-up revenue per UTC day of payment and currency, in the currency''s minor unit (cents for USD). Refunds are netted on the day of the payment.';
comment on column analytics.revenue_per_day.gross_minor is 'Amount paid, minor units.';
comment on column analytics.revenue_per_day.refunded_minor is 'Amount refunded since, minor units.';
comment on column analytics.revenue_per_day.net_minor is 'gross - refunded, minor units.';

create view analytics.refunds with (security_invoker = true) as
select p.id as payment_id, p.user_id, p.currency, p.amount_minor, p.amount_refunded_minor,
       p.credits_micro_usd, p.credits_refunded_micro_usd, p.credits_unrecovered_micro_usd,
       p.status, p.paid_at, p.refunded_at, p.stripe_payment_intent_id
from public.payments p
where p.amount_refunded_minor > 0;
comment on view analytics.refunds is
  'Refunded payments: money returned and credits taken back; credits_unrecovered_micro_usd were already spent when the refund came.';

create view analytics.failed_payments with (security_invoker = true) as
select p.id as payment_id, p.user_id, p.status, p.currency, p.amount_minor,
       coalesce(p.failed_at, p.expired_at) as ended_at, p.created_at, p.stripe_checkout_session_id
from public.payments p
where p.status in ('failed', 'expired');
comment on view analytics.failed_payments is 'Checkout Sessions whose payment failed (async methods) or that expired unpaid.';

create view analytics.wallet_liabilities with (security_invoker = true) as
select count(*) filter (where w.balance_micro_usd > 0)::bigint as users_with_credits,
       coalesce(sum(w.balance_micro_usd), 0)::bigint as outstanding_micro_usd,
       coalesce(sum(w.held_micro_usd), 0)::bigint as held_micro_usd,
       (select coalesce(sum(l.amount_micro_usd), 0) from public.credit_ledger l where l.kind = 'topup')::bigint as sold_micro_usd,
       (select coalesce(sum(l.amount_micro_usd), 0) from public.credit_ledger l where l.kind = 'grant')::bigint as granted_micro_usd,
       (select coalesce(-sum(l.amount_micro_usd), 0) from public.credit_ledger l where l.kind = 'ai_usage')::bigint as spent_micro_usd
from public.credit_wallets w;
comment on view analytics.wallet_liabilities is
  'Credits sold or granted but not yet spent: what the business owes in AI usage (one row).';
comment on column analytics.wallet_liabilities.outstanding_micro_usd is 'Sum of all wallet balances, micro-USD.';
comment on column analytics.wallet_liabilities.held_micro_usd is 'Part of it reserved by AI calls in progress.';
comment on column analytics.wallet_liabilities.sold_micro_usd is 'All credits ever bought (ledger top-ups).';
comment on column analytics.wallet_liabilities.granted_micro_usd is 'All credits ever granted (welcome and admin grants).';
comment on column analytics.wallet_liabilities.spent_micro_usd is 'All credits ever charged for AI usage.';

grant select on all tables in schema analytics to service_role;
