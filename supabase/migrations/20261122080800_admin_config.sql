-- =============================================================================
-- admin_config: parameter/value settings read by the
-- edge functions and edited by admins in Studio or through the Data API.
--
-- Values are jsonb so a number stays a number; every key is documented in its
-- row's description and declares a type (value_type, min_value, max_value)
-- that every write is validated against: a bad value is refused by the
-- database with a message naming the key. The migration that introduces a
-- setting inserts it with its default and type. Functions read it as the
-- service role (one cached accessor in supabase/functions/_shared/config.ts).
-- Also here: the per-user rate limits (private.rate_limit) whose limits are
-- admin_config rows (rate_limit.<action>.limit / .window_seconds).
--
-- Alike on purpose: function headers (returns, language, security, search_path,
-- the caller's id) and table declarations (grants, RLS, policies) repeat: each
-- object states its own contract (supabase/migrations/README.md, "Shapes that repeat").
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
  'Backend settings (rate limits, low-balance threshold, AI context budget, media size limits, …): one row per parameter. Admins edit them; functions read them.';
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

/**
 * Lets admins (private.is_admin(): false for a suspended admin) add, change
 * and remove the rows of a catalogue table that admins edit in Studio or
 * through the Data API (credit_packs, ai_models, ai_model_fallbacks): the
 * policies "Admins can add <p_rows>", "Admins can change <p_rows>" and
 * "Admins can remove <p_rows>", to authenticated. Who may READ the table is
 * each table's own policy.
 */
create or replace function private.let_admins_edit(p_table regclass, p_rows text)
returns void
language plpgsql
set search_path = ''
as $$
begin
  execute format('create policy %I on %s for insert to authenticated with check ((select private.is_admin()))',
    'Admins can add ' || p_rows, p_table);
  execute format('create policy %I on %s for update to authenticated '
                 'using ((select private.is_admin())) with check ((select private.is_admin()))',
    'Admins can change ' || p_rows, p_table);
  execute format('create policy %I on %s for delete to authenticated using ((select private.is_admin()))',
    'Admins can remove ' || p_rows, p_table);
end;
$$;

revoke all on function private.let_admins_edit(regclass, text) from public, anon, authenticated, service_role;

-- =============================================================================
-- Per-user rate limits: one counter per (user, action), one helper every RPC,
-- trigger and function calls, each limit two admin_config settings.
--
-- private.rate_limit('<action>') counts one request of the caller for
-- `<action>` in a fixed window that opens at the caller's first request and
-- lasts rate_limit.<action>.window_seconds; above rate_limit.<action>.limit
-- requests in that window it raises SQLSTATE PT429, which PostgREST answers
-- as HTTP 429 (https://docs.postgrest.org/en/v12/references/errors.html#raise-errors-with-http-status-codes),
-- with a DETAIL giving when to retry. Edge functions call the same helper and
-- answer 429 with Retry-After (supabase/functions/_shared/rate-limit.ts).
-- The count is an atomic update of one row (an upsert creates it), so
-- concurrent requests of one user are counted exactly; a refused request rolls back with its statement
-- and does not count. (AI calls keep their own rolling limits over
-- ai_interactions, ai.rate_limit_per_minute/day: every started call is logged
-- there anyway.)
-- =============================================================================
create table private.rate_limit_counters (
  user_id public.clerk_user_id not null,
  action text not null,
  window_start timestamptz not null,
  hits integer not null check (hits >= 0),
  primary key (user_id, action)
);
comment on table private.rate_limit_counters is
  'Requests per user and rate-limited action in the current window (private.rate_limit). No foreign key: a caller without a profile is limited too; clerk_delete_user removes a deleted user''s rows.';
comment on column private.rate_limit_counters.action is 'Rate-limited action, e.g. message_send; its limits are admin_config rate_limit.<action>.limit and .window_seconds.';
comment on column private.rate_limit_counters.window_start is 'When the current window opened (the first request after the previous window ended).';
comment on column private.rate_limit_counters.hits is 'Requests counted in the current window.';
alter table private.rate_limit_counters enable row level security;
-- No policies and no grants: only the security-definer helper below touches it.

insert into public.admin_config (key, value, description, value_type, min_value, max_value) values
  ('rate_limit.message_send.limit', '300',
   'Messages a user may send (send_message or an insert into messages) per window; above it 429.', 'integer', 1, 1000000),
  ('rate_limit.message_send.window_seconds', '60',
   'Length of the message_send window, in seconds.', 'integer', 1, 86400),
  ('rate_limit.friend_request.limit', '60',
   'Friend requests a user may send (send_friend_request) per window; above it 429.', 'integer', 1, 1000000),
  ('rate_limit.friend_request.window_seconds', '3600',
   'Length of the friend_request window, in seconds.', 'integer', 1, 86400),
  ('rate_limit.user_search.limit', '120',
   'User searches (search_users) a user may run per window; above it 429.', 'integer', 1, 1000000),
  ('rate_limit.user_search.window_seconds', '60',
   'Length of the user_search window, in seconds.', 'integer', 1, 86400),
  ('rate_limit.media_sign.limit', '60',
   'Upload signatures (media-sign) a user may get per window; above it 429 with Retry-After.', 'integer', 1, 1000000),
  ('rate_limit.media_sign.window_seconds', '600',
   'Length of the media_sign window, in seconds.', 'integer', 1, 86400),
  ('rate_limit.checkout.limit', '20',
   'Stripe Checkout Sessions (payments-checkout) a user may open per window; above it 429 with Retry-After.', 'integer', 1, 1000000),
  ('rate_limit.checkout.window_seconds', '3600',
   'Length of the checkout window, in seconds.', 'integer', 1, 86400),
  ('friends.decline_cooldown_seconds', '86400',
   'After a user declines a friend request, seconds before its sender may ask them again (429 before). 0 disables the cool-down.', 'integer', 0, 31536000)
on conflict (key) do nothing;

/**
 * Refuses a request over a fixed-window limit (private.rate_limit, and the
 * widget's per-visitor limits): `p_limit` requests of `p_action` per
 * `p_window_seconds`, in the window that opened at `p_window_start`.
 * Errors: always PT429 (HTTP 429) "rate limit reached: …; retry in N s",
 * DETAIL a JSON object {"action", "limit", "window_seconds",
 * "retry_after_seconds"} (N: seconds until the window ends, at least 1).
 */
create or replace function private.raise_rate_limited(
  p_action text, p_limit bigint, p_window_seconds bigint, p_window_start timestamptz
)
returns void
language plpgsql
set search_path = ''
as $$
declare
  v_retry integer := greatest(1, ceil(extract(epoch from (
    p_window_start + make_interval(secs => p_window_seconds) - clock_timestamp())))::integer);
begin
  raise exception 'rate limit reached: % % per % s; retry in % s', p_limit, p_action, p_window_seconds, v_retry
    using errcode = 'PT429',
          detail = jsonb_build_object('action', p_action, 'limit', p_limit, 'window_seconds', p_window_seconds,
                                      'retry_after_seconds', v_retry)::text,
          hint = 'Wait retry_after_seconds before trying again.';
end;
$$;

/**
 * Counts one request of the caller (the token's `sub`) for `p_action` and
 * refuses it when the window is full. Limits: admin_config
 * rate_limit.<p_action>.limit (requests) and rate_limit.<p_action>.window_seconds
 * (the window opens at the first request after the previous one ended).
 * A request without a subject (service role, Studio) and an action without
 * both settings are not limited.
 * Errors: PT429 (HTTP 429) "rate limit reached: …; retry in N s", DETAIL a
 * JSON object {"action", "limit", "window_seconds", "retry_after_seconds"}.
 */
create or replace function private.rate_limit(p_action text)
returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_user text := private.current_user_id();
  v_limit bigint;
  v_window_seconds bigint;
  v_window interval;
  v_start timestamptz;
  v_hits integer;
begin
  if v_user is null then
    return;
  end if;
  select max(case when c.key like '%.limit' then (c.value #>> '{}')::numeric::bigint end),
         max(case when c.key like '%.window_seconds' then (c.value #>> '{}')::numeric::bigint end)
    into v_limit, v_window_seconds
  from public.admin_config c
  where c.key in ('rate_limit.' || p_action || '.limit', 'rate_limit.' || p_action || '.window_seconds')
    and jsonb_typeof(c.value) = 'number';
  if v_limit is null or v_window_seconds is null then
    return;
  end if;
  v_window := make_interval(secs => v_window_seconds);

  -- The counter exists after the caller's first request: update it (one HOT
  -- update; an upsert would first try the insert and lock the row, on every
  -- message of the send path: bench/sections/send.mjs), else create it.
  update private.rate_limit_counters r
  set window_start = case when r.window_start + v_window <= now() then now() else r.window_start end,
      hits = case when r.window_start + v_window <= now() then 1 else r.hits + 1 end
  where r.user_id = v_user and r.action = p_action
  returning r.window_start, r.hits into v_start, v_hits;
  if not found then
    insert into private.rate_limit_counters as r (user_id, action, window_start, hits)
    values (v_user, p_action, now(), 1)
    on conflict (user_id, action) do update
      set window_start = case when r.window_start + v_window <= now() then now() else r.window_start end,
          hits = case when r.window_start + v_window <= now() then 1 else r.hits + 1 end
    returning r.window_start, r.hits into v_start, v_hits;
  end if;

  if v_hits > v_limit then
    perform private.raise_rate_limited(p_action, v_limit, v_window_seconds, v_start);
  end if;
end;
$$;
comment on function private.rate_limit(text) is
  'Counts one request of the caller for an action; PT429 (HTTP 429) above admin_config rate_limit.<action>.limit per rate_limit.<action>.window_seconds.';
grant execute on function private.rate_limit(text) to authenticated, service_role;
