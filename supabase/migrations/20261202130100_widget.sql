-- =============================================================================
-- Website chat widget, part 2: websites, visitor sessions, their limits and
-- the owners' analytics (README "Website chat widget").
--
-- - public.websites: a user's websites (name, exact allowed origins, a public
--   widget key, settings, active). Owners manage them through the Data API
--   under RLS; nobody else sees them. The key is rotated by rotate_widget_key
--   (the old key stops at once: sessions are started by key lookup).
--   Settings are checked here (private.widget_settings_valid) with the same
--   rules as the shared Zod schema WidgetSettings (packages/shared).
-- - public.widget_sessions: one per visitor conversation, each with its own
--   chat of kind `widget` (20261202130000_widget_chat_kind.sql) whose members
--   are the owner (and their agents, public.website_agents). The visitor holds
--   an opaque secret; only its SHA-256 is stored. Sessions expire
--   (widget.session_ttl_seconds) and are revoked by the owner or when closed.
-- - Visitors never reach the database: the `widget` edge function calls the
--   service-role-only private.widget_* functions below, always with the
--   session the secret resolved to.
-- - Bot answers are AI interactions of the owner in the session's chat:
--   private.start_ai_interaction reserves from the owner's wallet, and
--   private.widget_finish_bot_answer stores the answer and settles through
--   private.settle_ai_interaction (docs/money.md).
-- - Abuse limits: admin_config rate_limit.widget_*.limit/.window_seconds per
--   client IP (hashed), session and website (private.widget_rate_limit), the
--   most concurrent sessions per website (settings), the largest visitor
--   message (widget.max_message_chars). All PT429 with retry_after_seconds.
-- - Analytics: per-session counters kept by the functions above, read by
--   get_widget_analytics (one index range scan per website).
--
-- Alike on purpose: function headers (returns, language, security, search_path,
-- the caller's id) and table declarations (grants, RLS, policies) repeat: each
-- object states its own contract (supabase/migrations/README.md, "Shapes that repeat").
-- =============================================================================

-- -----------------------------------------------------------------------------
-- Settings
-- -----------------------------------------------------------------------------
insert into public.admin_config (key, value, description, value_type, min_value, max_value) values
  ('widget.session_ttl_seconds', '86400',
   'Lifetime of a widget visitor session (its secret), in seconds.', 'integer', 60, 2592000),
  ('widget.active_seconds', '600',
   'A widget session seen within this many seconds counts as concurrent (websites settings max_concurrent_sessions).', 'integer', 10, 86400),
  ('widget.max_message_chars', '2000',
   'Longest visitor message the widget accepts, in characters (413 above).', 'integer', 1, 8000),
  ('widget.bot_min_available_micro_usd', '100000',
   'The bot answers only while the owner has at least this many available credits (micro-USD); below it a human answers.', 'integer', 0, 1000000000000),
  ('rate_limit.widget_session_ip.limit', '20',
   'Widget sessions one client IP may start per window; above it 429.', 'integer', 1, 1000000),
  ('rate_limit.widget_session_ip.window_seconds', '3600',
   'Length of the widget_session_ip window, in seconds.', 'integer', 1, 86400),
  ('rate_limit.widget_message_session.limit', '20',
   'Messages one widget session may send per window; above it 429.', 'integer', 1, 1000000),
  ('rate_limit.widget_message_session.window_seconds', '60',
   'Length of the widget_message_session window, in seconds.', 'integer', 1, 86400),
  ('rate_limit.widget_message_ip.limit', '60',
   'Widget messages one client IP may send per window (all sessions); above it 429.', 'integer', 1, 1000000),
  ('rate_limit.widget_message_ip.window_seconds', '60',
   'Length of the widget_message_ip window, in seconds.', 'integer', 1, 86400),
  ('rate_limit.widget_message_website.limit', '1000',
   'Widget messages one website may receive per window (all visitors); above it 429.', 'integer', 1, 1000000),
  ('rate_limit.widget_message_website.window_seconds', '60',
   'Length of the widget_message_website window, in seconds.', 'integer', 1, 86400)
on conflict (key) do nothing;

-- -----------------------------------------------------------------------------
-- Validation helpers
-- -----------------------------------------------------------------------------

/**
 * True when `p_origins` are exact web origins (RFC 6454 serialisation:
 * scheme://host[:port], lower case, no path, no wildcard), at most 20.
 * https://developer.mozilla.org/en-US/docs/Web/HTTP/Headers/Origin
 */
create or replace function private.widget_origins_valid(p_origins text[])
returns boolean
language plpgsql
immutable
set search_path = ''
as $$
declare
  v_origin text;
begin
  if p_origins is null or coalesce(array_length(p_origins, 1), 0) > 20 then
    return false;
  end if;
  foreach v_origin in array p_origins loop
    if v_origin is null
       or v_origin !~ '^https?://[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:[0-9]{1,5})?$'
       or char_length(v_origin) > 255 then
      return false;
    end if;
  end loop;
  return true;
end;
$$;

/**
 * True when `p_settings` follows the shared Zod schema WidgetSettings
 * (packages/shared/src/functions/widget.ts): an object with only these keys,
 * each optional: greeting (text ≤ 500), bot_enabled (boolean), model (text ≤ 100
 * or null), system_prompt (text ≤ 4000), colors ({primary, text}: #rrggbb),
 * business_hours (null or {timezone, days: [{day 0-6, open, close: HH:MM}]}),
 * max_concurrent_sessions (1-10000), bot_answers_per_session (0-1000),
 * bot_answers_per_day (0-100000).
 */
create or replace function private.widget_settings_valid(p_settings jsonb)
returns boolean
language plpgsql
immutable
set search_path = ''
as $$
declare
  v_key text;
  v_day jsonb;
begin
  if p_settings is null or jsonb_typeof(p_settings) <> 'object' then
    return false;
  end if;
  for v_key in select jsonb_object_keys(p_settings) loop
    if v_key not in ('greeting', 'bot_enabled', 'model', 'system_prompt', 'colors', 'business_hours',
                     'max_concurrent_sessions', 'bot_answers_per_session', 'bot_answers_per_day') then
      return false;
    end if;
  end loop;
  if p_settings ? 'greeting' and (jsonb_typeof(p_settings -> 'greeting') <> 'string' or char_length(p_settings ->> 'greeting') > 500) then
    return false;
  end if;
  if p_settings ? 'bot_enabled' and jsonb_typeof(p_settings -> 'bot_enabled') <> 'boolean' then
    return false;
  end if;
  if p_settings ? 'model' and jsonb_typeof(p_settings -> 'model') <> 'null'
     and (jsonb_typeof(p_settings -> 'model') <> 'string' or char_length(p_settings ->> 'model') not between 1 and 100) then
    return false;
  end if;
  if p_settings ? 'system_prompt' and (jsonb_typeof(p_settings -> 'system_prompt') <> 'string' or char_length(p_settings ->> 'system_prompt') > 4000) then
    return false;
  end if;
  if p_settings ? 'colors' and (jsonb_typeof(p_settings -> 'colors') <> 'object'
     or exists (select 1 from jsonb_each(p_settings -> 'colors') c
                where c.key not in ('primary', 'text') or jsonb_typeof(c.value) <> 'string' or (c.value #>> '{}') !~ '^#[0-9a-fA-F]{6}$')) then
    return false;
  end if;
  if p_settings ? 'business_hours' and jsonb_typeof(p_settings -> 'business_hours') <> 'null' then
    if jsonb_typeof(p_settings -> 'business_hours') <> 'object'
       or jsonb_typeof(p_settings #> '{business_hours,timezone}') <> 'string'
       or char_length(p_settings #>> '{business_hours,timezone}') not between 1 and 64
       or jsonb_typeof(p_settings #> '{business_hours,days}') <> 'array'
       or jsonb_array_length(p_settings #> '{business_hours,days}') > 14 then
      return false;
    end if;
    for v_day in select jsonb_array_elements(p_settings #> '{business_hours,days}') loop
      if jsonb_typeof(v_day) <> 'object' or jsonb_typeof(v_day -> 'day') <> 'number'
         or (v_day ->> 'day') !~ '^[0-6]$'
         or coalesce(v_day ->> 'open', '') !~ '^([01][0-9]|2[0-3]):[0-5][0-9]$'
         or coalesce(v_day ->> 'close', '') !~ '^([01][0-9]|2[0-3]):[0-5][0-9]$' then
        return false;
      end if;
    end loop;
  end if;
  if p_settings ? 'max_concurrent_sessions' and (jsonb_typeof(p_settings -> 'max_concurrent_sessions') <> 'number'
     or (p_settings ->> 'max_concurrent_sessions') !~ '^[0-9]+$' or (p_settings ->> 'max_concurrent_sessions')::numeric not between 1 and 10000) then
    return false;
  end if;
  if p_settings ? 'bot_answers_per_session' and (jsonb_typeof(p_settings -> 'bot_answers_per_session') <> 'number'
     or (p_settings ->> 'bot_answers_per_session') !~ '^[0-9]+$' or (p_settings ->> 'bot_answers_per_session')::numeric > 1000) then
    return false;
  end if;
  if p_settings ? 'bot_answers_per_day' and (jsonb_typeof(p_settings -> 'bot_answers_per_day') <> 'number'
     or (p_settings ->> 'bot_answers_per_day') !~ '^[0-9]+$' or (p_settings ->> 'bot_answers_per_day')::numeric > 100000) then
    return false;
  end if;
  return true;
end;
$$;

/** A new public widget key: `wk_` + 32 hex digits (two v4 UUIDs' random bits, 244 bits). */
create or replace function private.new_widget_key()
returns text
language sql
volatile
set search_path = ''
as $$
  select 'wk_' || replace(gen_random_uuid()::text, '-', '') || left(replace(gen_random_uuid()::text, '-', ''), 8);
$$;

grant execute on function private.widget_origins_valid(text[]), private.widget_settings_valid(jsonb),
  private.new_widget_key() to authenticated, service_role;

-- -----------------------------------------------------------------------------
-- Tables
-- -----------------------------------------------------------------------------
create table public.websites (
  id uuid primary key default gen_random_uuid(),
  owner_id public.clerk_user_id not null default (auth.jwt() ->> 'sub') references public.users (id) on delete cascade,
  name text not null check (char_length(btrim(name)) between 1 and 100),
  allowed_origins text[] not null default '{}' check (private.widget_origins_valid(allowed_origins)),
  widget_key text not null unique default private.new_widget_key(),
  settings jsonb not null default '{}'::jsonb check (private.widget_settings_valid(settings)),
  active boolean not null default true,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
comment on table public.websites is
  'A user''s website with the chat widget. Owners read and write their own rows (Data API, RLS); visitors reach it only through the widget function.';
comment on column public.websites.owner_id is 'Clerk user id of the owner, who pays for the bot''s answers from their wallet.';
comment on column public.websites.allowed_origins is
  'Exact origins (scheme://host[:port], lower case) the widget may be used from; the widget function checks the request''s Origin against them.';
comment on column public.websites.widget_key is
  'Public key the embed code carries (wk_…). Rotate with rotate_widget_key: the old key stops at once. Not a secret: the origin check and the limits protect it.';
comment on column public.websites.settings is
  'Widget settings, the shared Zod schema WidgetSettings (greeting, bot_enabled, model, system_prompt, colors, business_hours, '
  'max_concurrent_sessions, bot_answers_per_session, bot_answers_per_day); absent keys take the schema''s defaults.';
comment on column public.websites.active is 'Inactive websites start no sessions and their open sessions stop answering.';

create index websites_owner_id_idx on public.websites (owner_id);
create trigger websites_set_updated_at before update on public.websites
  for each row execute function private.set_updated_at();

create table public.website_agents (
  website_id uuid not null references public.websites (id) on delete cascade,
  user_id public.clerk_user_id not null references public.users (id) on delete cascade,
  created_at timestamptz not null default now(),
  primary key (website_id, user_id)
);
comment on table public.website_agents is
  'Users the owner invited to answer a website''s visitors: they join each new session''s chat. Owners manage the rows; agents read their own.';
create index website_agents_user_id_idx on public.website_agents (user_id);

create table public.widget_sessions (
  id uuid primary key default gen_random_uuid(),
  website_id uuid not null references public.websites (id) on delete cascade,
  chat_id uuid not null unique references public.chats (id) on delete cascade,
  secret_hash bytea not null unique check (octet_length(secret_hash) = 32),
  origin text not null check (char_length(origin) <= 255),
  ip_hash bytea check (octet_length(ip_hash) = 32),
  created_at timestamptz not null default now(),
  last_seen_at timestamptz not null default now(),
  expires_at timestamptz not null,
  revoked_at timestamptz,
  handed_off_at timestamptz,
  closed_at timestamptz,
  visitor_messages integer not null default 0 check (visitor_messages >= 0),
  bot_answers integer not null default 0 check (bot_answers >= 0),
  bot_cost_micro_usd bigint not null default 0 check (bot_cost_micro_usd >= 0),
  agent_messages integer not null default 0 check (agent_messages >= 0),
  first_response_ms integer check (first_response_ms >= 0),
  first_visitor_message_at timestamptz
);
comment on table public.widget_sessions is
  'One visitor conversation on a website (its chat is of kind widget). Written only by the widget function (service role); '
  'the website''s owner and agents read their sessions.';
comment on column public.widget_sessions.secret_hash is 'SHA-256 of the visitor''s session secret; the secret itself is never stored.';
comment on column public.widget_sessions.origin is 'The allowed origin the session was started from.';
comment on column public.widget_sessions.ip_hash is 'SHA-256 of the client IP (x-forwarded-for as the platform sets it), for the per-IP limits.';
comment on column public.widget_sessions.expires_at is 'After it the secret is refused (widget.session_ttl_seconds after the start).';
comment on column public.widget_sessions.revoked_at is 'When the owner, an agent or the visitor ended the session; the secret is refused from then on.';
comment on column public.widget_sessions.handed_off_at is 'When a human took over (widget_take_over, or their first reply): the bot no longer answers.';
comment on column public.widget_sessions.closed_at is 'When the owner or an agent closed the conversation (widget_close_session).';
comment on column public.widget_sessions.bot_cost_micro_usd is 'What the bot''s answers were charged to the owner''s wallet (micro-USD).';
comment on column public.widget_sessions.first_response_ms is 'Milliseconds from the first visitor message to the first answer (bot or human).';

-- Owner analytics and the per-website concurrency check (range by time).
create index widget_sessions_website_id_created_at_idx on public.widget_sessions (website_id, created_at);
create index widget_sessions_website_id_last_seen_at_idx on public.widget_sessions (website_id, last_seen_at)
  where revoked_at is null;

-- Visitor limits by subject (ip:<hash>, session:<id>, website:<id>).
create table private.widget_rate_counters (
  subject text not null,
  action text not null,
  window_start timestamptz not null,
  hits integer not null check (hits >= 0),
  primary key (subject, action)
);
comment on table private.widget_rate_counters is
  'Requests per subject (ip:<sha256>, session:<id>, website:<id>) and widget action in the current window (private.widget_rate_limit).';
alter table private.widget_rate_counters enable row level security;
-- No policies and no grants: only the security-definer helper below touches it.

-- -----------------------------------------------------------------------------
-- Grants and RLS policies
-- -----------------------------------------------------------------------------
grant select, delete on public.websites to authenticated;
grant insert (name, allowed_origins, settings, active) on public.websites to authenticated;
grant update (name, allowed_origins, settings, active) on public.websites to authenticated;
grant select, insert, update, delete on public.websites to service_role;
grant select, insert, delete on public.website_agents to authenticated;
grant select, insert, delete on public.website_agents to service_role;
grant select on public.widget_sessions to authenticated;
grant select, insert, update, delete on public.widget_sessions to service_role;

alter table public.websites enable row level security;
select private.lock_out_suspended_users('public.websites');
alter table public.website_agents enable row level security;
select private.lock_out_suspended_users('public.website_agents');
alter table public.widget_sessions enable row level security;
select private.lock_out_suspended_users('public.widget_sessions');

/** Ids of the websites the caller owns or is an agent of (policy helper; security definer reads past RLS). */
create or replace function private.my_website_ids()
returns uuid[]
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  return array(
    select w.id from public.websites w where w.owner_id = nullif(auth.jwt() ->> 'sub', '')
    union
    select a.website_id from public.website_agents a where a.user_id = nullif(auth.jwt() ->> 'sub', '')
  );
end;
$$;
grant execute on function private.my_website_ids() to authenticated, service_role;

create policy "Owners can read their websites"
  on public.websites for select to authenticated
  using (owner_id = (select auth.jwt()) ->> 'sub');

create policy "Users can add websites they own"
  on public.websites for insert to authenticated
  with check (owner_id = (select auth.jwt()) ->> 'sub');

create policy "Owners can change their websites"
  on public.websites for update to authenticated
  using (owner_id = (select auth.jwt()) ->> 'sub')
  with check (owner_id = (select auth.jwt()) ->> 'sub');

create policy "Owners can delete their websites"
  on public.websites for delete to authenticated
  using (owner_id = (select auth.jwt()) ->> 'sub');

create policy "Owners and the agent read a website's agents"
  on public.website_agents for select to authenticated
  using (user_id = (select auth.jwt()) ->> 'sub'
         or website_id in (select w.id from public.websites w where w.owner_id = (select auth.jwt()) ->> 'sub'));

create policy "Owners can add agents to their websites"
  on public.website_agents for insert to authenticated
  with check (website_id in (select w.id from public.websites w where w.owner_id = (select auth.jwt()) ->> 'sub')
              and user_id <> (select auth.jwt()) ->> 'sub');

create policy "Owners remove agents, agents remove themselves"
  on public.website_agents for delete to authenticated
  using (user_id = (select auth.jwt()) ->> 'sub'
         or website_id in (select w.id from public.websites w where w.owner_id = (select auth.jwt()) ->> 'sub'));

create policy "Owners and agents read their websites' sessions"
  on public.widget_sessions for select to authenticated
  using (website_id = any ((select private.my_website_ids())::uuid[]));

-- -----------------------------------------------------------------------------
-- Owner RPCs (Data API, as the caller)
-- -----------------------------------------------------------------------------

/**
 * Gives the caller's website a new widget key and returns it; the old key
 * starts no session from now on. Errors: PT404 not the caller's website.
 */
create or replace function public.rotate_widget_key(p_website_id uuid)
returns text
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_key text;
begin
  update public.websites w set widget_key = private.new_widget_key()
  where w.id = p_website_id and w.owner_id = private.require_user_id()
  returning w.widget_key into v_key;
  if v_key is null then
    raise exception 'website not found' using errcode = 'PT404';
  end if;
  return v_key;
end;
$$;

/** The session of a widget chat the caller owns or is an agent of, locked; PT404 otherwise. */
create or replace function private.my_widget_session(p_chat_id uuid)
returns public.widget_sessions
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_row public.widget_sessions;
begin
  select s.* into v_row from public.widget_sessions s
  where s.chat_id = p_chat_id and s.website_id = any (private.my_website_ids())
  for update;
  if not found then
    raise exception 'widget conversation not found' using errcode = 'PT404';
  end if;
  return v_row;
end;
$$;

-- Alike on purpose: widget_take_over and widget_close_session share their guard
-- (private.my_widget_session) and each states the one change it makes.
/**
 * The owner or an agent takes over the conversation in widget chat
 * `p_chat_id`: the bot stops answering (idempotent; a human reply in the chat
 * does the same). Returns the session. Errors: PT404 not theirs.
 */
create or replace function public.widget_take_over(p_chat_id uuid)
returns public.widget_sessions
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_row public.widget_sessions := private.my_widget_session(p_chat_id);
begin
  update public.widget_sessions s set handed_off_at = coalesce(s.handed_off_at, now())
  where s.id = v_row.id returning * into v_row;
  return v_row;
end;
$$;

/**
 * Closes the conversation in widget chat `p_chat_id`: the visitor's secret
 * stops working at once (revoked), the chat stays in the inbox. Errors: PT404.
 */
create or replace function public.widget_close_session(p_chat_id uuid)
returns public.widget_sessions
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_row public.widget_sessions := private.my_widget_session(p_chat_id);
begin
  update public.widget_sessions s
  set closed_at = coalesce(s.closed_at, now()), revoked_at = coalesce(s.revoked_at, now())
  where s.id = v_row.id returning * into v_row;
  return v_row;
end;
$$;

/**
 * Per-day figures of the caller's website (owner or agent) from `p_from` to
 * `p_to` (UTC days, both included, at most 366 days): sessions started,
 * visitor messages, bot answers and what they cost (micro-USD), agent
 * messages, handoffs, and the mean and 95th percentile of the first response
 * time (ms). One range scan of widget_sessions_website_id_created_at_idx.
 * Errors: PT404 not the caller's website; 22023 bad range.
 */
create or replace function public.get_widget_analytics(p_website_id uuid, p_from date, p_to date)
returns table (
  day date, sessions bigint, visitor_messages bigint, bot_answers bigint, bot_cost_micro_usd bigint,
  agent_messages bigint, handoffs bigint, avg_first_response_ms integer, p95_first_response_ms integer
)
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  if not (p_website_id = any (private.my_website_ids())) then
    raise exception 'website not found' using errcode = 'PT404';
  end if;
  if p_from is null or p_to is null or p_to < p_from or p_to - p_from > 366 then
    raise exception 'p_from..p_to must be a range of at most 366 days' using errcode = '22023';
  end if;
  return query
    select (s.created_at at time zone 'utc')::date,
           count(*)::bigint,
           sum(s.visitor_messages)::bigint,
           sum(s.bot_answers)::bigint,
           sum(s.bot_cost_micro_usd)::bigint,
           sum(s.agent_messages)::bigint,
           count(s.handed_off_at)::bigint,
           round(avg(s.first_response_ms))::integer,
           round(percentile_cont(0.95) within group (order by s.first_response_ms))::integer
    from public.widget_sessions s
    where s.website_id = p_website_id
      and s.created_at >= (p_from::timestamp at time zone 'utc')
      and s.created_at < ((p_to + 1)::timestamp at time zone 'utc')
    group by 1
    order by 1;
end;
$$;

revoke execute on function public.rotate_widget_key(uuid), public.widget_take_over(uuid),
  public.widget_close_session(uuid), public.get_widget_analytics(uuid, date, date) from public, anon;
grant execute on function public.rotate_widget_key(uuid), public.widget_take_over(uuid),
  public.widget_close_session(uuid), public.get_widget_analytics(uuid, date, date) to authenticated, service_role;
grant execute on function private.my_widget_session(uuid) to authenticated, service_role;

-- -----------------------------------------------------------------------------
-- Human replies: the first one hands the conversation off
-- -----------------------------------------------------------------------------

/**
 * A member's message just stored in a widget chat (called by the AFTER INSERT
 * trigger private.message_inserted, 20261202200000_message_send_path.sql, for
 * a message with a sender in a chat of kind widget) counts as an agent message
 * and stops the bot.
 */
create or replace function private.widget_agent_replied(p_message public.messages)
returns void
language plpgsql
security definer
set search_path = ''
as $$
begin
  update public.widget_sessions s
  set agent_messages = s.agent_messages + 1,
      handed_off_at = coalesce(s.handed_off_at, p_message.created_at),
      first_response_ms = coalesce(s.first_response_ms,
        case when s.first_visitor_message_at is not null
             then greatest(0, (extract(epoch from (p_message.created_at - s.first_visitor_message_at)) * 1000)::integer) end)
  where s.chat_id = p_message.chat_id;
end;
$$;

-- -----------------------------------------------------------------------------
-- Visitor operations (service role: the widget function)
-- -----------------------------------------------------------------------------

-- Alike on purpose: the same fixed window as private.rate_limit (admin_config migration), over its own
-- counters: visitors are not users (subjects ip:<hash>, session:<id>, website:<id>).
/**
 * Counts one request of `p_subject` for widget action `p_action`; PT429 above
 * admin_config rate_limit.<p_action>.limit per .window_seconds
 * (private.raise_rate_limited: DETAIL {"action", "limit", "window_seconds",
 * "retry_after_seconds"}; the message does not echo the subject). The same
 * fixed window as private.rate_limit, counted per subject instead of per user.
 */
create or replace function private.widget_rate_limit(p_subject text, p_action text)
returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_limit bigint := private.config_bigint('rate_limit.' || p_action || '.limit', null);
  v_window_seconds bigint := private.config_bigint('rate_limit.' || p_action || '.window_seconds', null);
  v_window interval;
  v_start timestamptz;
  v_hits integer;
begin
  if p_subject is null or v_limit is null or v_window_seconds is null then
    return;
  end if;
  v_window := make_interval(secs => v_window_seconds);
  insert into private.widget_rate_counters as r (subject, action, window_start, hits)
  values (p_subject, p_action, now(), 1)
  on conflict (subject, action) do update
    set window_start = case when r.window_start + v_window <= now() then now() else r.window_start end,
        hits = case when r.window_start + v_window <= now() then 1 else r.hits + 1 end
  returning r.window_start, r.hits into v_start, v_hits;
  if v_hits > v_limit then
    perform private.raise_rate_limited(p_action, v_limit, v_window_seconds, v_start);
  end if;
end;
$$;

/**
 * Starts a visitor session on the active website whose key is `p_widget_key`,
 * from `p_origin` (must be one of its allowed origins): limits (sessions per
 * client IP, concurrent sessions of the website), the session's own chat (kind
 * widget, titled "Visitor <n>", the owner as its owner member and the agents
 * as members: they see it in their inbox and on user:<id>), the session row
 * with the secret's SHA-256. Returns the session, the website's name and
 * settings. Errors: PT404 unknown/inactive key or origin not allowed (one
 * answer for both); PT429 limits (DETAIL retry_after_seconds).
 */
create or replace function private.widget_start_session(
  p_widget_key text, p_origin text, p_ip_hash bytea, p_secret_hash bytea
)
returns table (session public.widget_sessions, website_name text, settings jsonb)
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_site public.websites;
  v_max bigint;
  v_active bigint;
  v_chat uuid;
  v_seq bigint;
  v_row public.widget_sessions;
begin
  select * into v_site from public.websites w where w.widget_key = p_widget_key and w.active;
  if not found or not (p_origin = any (v_site.allowed_origins)) then
    raise exception 'unknown widget key or origin not allowed' using errcode = 'PT404';
  end if;
  perform private.widget_rate_limit('ip:' || encode(p_ip_hash, 'hex'), 'widget_session_ip');

  -- Concurrent sessions: one start at a time per website, then count the recent ones.
  perform pg_advisory_xact_lock(hashtextextended('widget_sessions:' || v_site.id, 0));
  v_max := coalesce((v_site.settings ->> 'max_concurrent_sessions')::bigint, 50);
  select count(*) into v_active from public.widget_sessions s
  where s.website_id = v_site.id and s.revoked_at is null
    and s.last_seen_at > now() - make_interval(secs => private.config_bigint('widget.active_seconds', 600))
    and s.expires_at > now();
  if v_active >= v_max then
    raise exception 'too many concurrent visitors on this website' using errcode = 'PT429',
      detail = jsonb_build_object('action', 'widget_concurrent_sessions', 'limit', v_max, 'retry_after_seconds', 30)::text;
  end if;

  select count(*) + 1 into v_seq from public.widget_sessions s where s.website_id = v_site.id;
  insert into public.chats (kind, title, created_by) values ('widget', left(v_site.name, 70) || ' · visitor ' || v_seq, v_site.owner_id)
  returning id into v_chat;
  insert into public.chat_members (chat_id, user_id, role) values (v_chat, v_site.owner_id, 'owner');
  insert into public.chat_members (chat_id, user_id, role)
  select v_chat, a.user_id, 'member' from public.website_agents a where a.website_id = v_site.id
  on conflict do nothing;

  insert into public.widget_sessions (website_id, chat_id, secret_hash, origin, ip_hash, expires_at)
  values (v_site.id, v_chat, p_secret_hash, p_origin, p_ip_hash,
          now() + make_interval(secs => private.config_bigint('widget.session_ttl_seconds', 86400)))
  returning * into v_row;
  session := v_row;
  website_name := v_site.name;
  settings := v_site.settings;
  return next;
end;
$$;

/**
 * The live session whose secret hashes to `p_secret_hash` (not expired, not
 * revoked, its website active and `p_origin` still allowed), touched
 * (last_seen_at), with its website's name, settings and owner. Errors: PT401
 * for anything else (one answer: the caller learns nothing).
 */
create or replace function private.widget_session(p_secret_hash bytea, p_origin text)
returns table (session public.widget_sessions, website_name text, settings jsonb, owner_id text)
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_row public.widget_sessions;
  v_site public.websites;
begin
  select s.* into v_row from public.widget_sessions s where s.secret_hash = p_secret_hash;
  if found then
    select * into v_site from public.websites w where w.id = v_row.website_id;
  end if;
  if v_row.id is null or v_row.revoked_at is not null or v_row.expires_at <= now() or not v_site.active
     or not (p_origin = any (v_site.allowed_origins)) then
    raise exception 'session expired or unknown' using errcode = 'PT401';
  end if;
  update public.widget_sessions s set last_seen_at = now()
  where s.id = v_row.id and s.last_seen_at < now() - interval '5 seconds'
  returning * into v_row;
  if v_row.id is null then
    select s.* into v_row from public.widget_sessions s where s.secret_hash = p_secret_hash;
  end if;
  session := v_row;
  website_name := v_site.name;
  settings := v_site.settings;
  owner_id := v_site.owner_id;
  return next;
end;
$$;

/**
 * Stores a visitor's message in session `p_session_id` (kind text, no sender,
 * metadata {"widget_visitor": true}) after the limits (per session, per client
 * IP, per website). Returns the message and whether the bot may answer it:
 * the bot is on, nobody took over, the session is open, the owner's available
 * credits reach widget.bot_min_available_micro_usd, and the session's and the
 * website's daily bot answers are below the settings' limits.
 * Errors: PT429 limits; 22023 empty or too long (widget.max_message_chars).
 */
create or replace function private.widget_visitor_message(p_session_id uuid, p_content text, p_ip_hash bytea)
returns table (message public.messages, bot_may_answer boolean, bot_refusal text)
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_row public.widget_sessions;
  v_site public.websites;
  v_msg public.messages;
  v_available bigint;
  v_today bigint;
begin
  if p_content is null or char_length(btrim(p_content)) = 0
     or char_length(p_content) > private.config_bigint('widget.max_message_chars', 2000) then
    raise exception 'message must be 1 to % characters', private.config_bigint('widget.max_message_chars', 2000)
      using errcode = '22023';
  end if;
  select * into v_row from public.widget_sessions s where s.id = p_session_id for update;
  select * into v_site from public.websites w where w.id = v_row.website_id;
  perform private.widget_rate_limit('session:' || v_row.id, 'widget_message_session');
  perform private.widget_rate_limit('ip:' || encode(p_ip_hash, 'hex'), 'widget_message_ip');
  perform private.widget_rate_limit('website:' || v_site.id, 'widget_message_website');

  insert into public.messages (chat_id, sender_id, kind, content, metadata)
  values (v_row.chat_id, null, 'text', p_content, jsonb_build_object('widget_visitor', true))
  returning * into v_msg;
  update public.widget_sessions s
  set visitor_messages = s.visitor_messages + 1,
      first_visitor_message_at = coalesce(s.first_visitor_message_at, v_msg.created_at)
  where s.id = v_row.id returning * into v_row;

  message := v_msg;
  bot_may_answer := false;
  if not coalesce((v_site.settings ->> 'bot_enabled')::boolean, true) then
    bot_refusal := 'bot_disabled';
  elsif v_row.handed_off_at is not null or v_row.closed_at is not null then
    bot_refusal := 'handed_off';
  elsif v_row.bot_answers >= coalesce((v_site.settings ->> 'bot_answers_per_session')::bigint, 20) then
    bot_refusal := 'session_limit';
  else
    select coalesce(sum(s.bot_answers), 0) into v_today from public.widget_sessions s
    where s.website_id = v_site.id and s.created_at >= date_trunc('day', now() at time zone 'utc') at time zone 'utc';
    select w.balance_micro_usd - w.held_micro_usd into v_available from public.credit_wallets w where w.user_id = v_site.owner_id;
    if v_today >= coalesce((v_site.settings ->> 'bot_answers_per_day')::bigint, 500) then
      bot_refusal := 'daily_limit';
    elsif coalesce(v_available, 0) < private.config_bigint('widget.bot_min_available_micro_usd', 100000) then
      bot_refusal := 'low_balance';
    else
      bot_may_answer := true;
    end if;
  end if;
  return next;
end;
$$;

/**
 * Hands session `p_session_id` to a human because the bot cannot answer
 * (`p_reason`: low_balance, insufficient_credits, provider_error, …): sets
 * handed_off_at and writes one system message in the chat so the owner sees
 * it in the inbox. Idempotent.
 */
create or replace function private.widget_hand_off(p_session_id uuid, p_reason text)
returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_chat uuid;
begin
  update public.widget_sessions s set handed_off_at = now()
  where s.id = p_session_id and s.handed_off_at is null
  returning s.chat_id into v_chat;
  if v_chat is not null then
    insert into public.messages (chat_id, sender_id, kind, content, metadata)
    values (v_chat, null, 'system', 'The visitor is waiting for a human answer.',
            jsonb_build_object('widget_handoff', left(p_reason, 50)));
  end if;
end;
$$;

/**
 * Stores the bot's answer in the session's chat (kind ai, metadata provider,
 * model, ai_interaction_id) and charges the owner through
 * private.settle_ai_interaction (the reported usage, or the estimate capped at
 * the reservation), then updates the session's counters. Returns the
 * interaction. Errors: PT404 unknown interaction.
 */
create or replace function private.widget_finish_bot_answer(
  p_session_id uuid, p_interaction_id uuid, p_answer text, p_prompt_message_id uuid,
  p_prompt_tokens integer, p_cached_prompt_tokens integer, p_completion_tokens integer,
  p_usage_estimated boolean, p_finish_reason text, p_latency_ms integer, p_time_to_first_token_ms integer,
  p_provider_response_id text, p_error_code text default null, p_error text default null
)
returns public.ai_interactions
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_session public.widget_sessions;
  v_int public.ai_interactions;
  v_msg public.messages;
begin
  select * into v_session from public.widget_sessions s where s.id = p_session_id for update;
  select * into v_int from public.ai_interactions i where i.id = p_interaction_id;
  if v_int.id is null or v_int.chat_id is distinct from v_session.chat_id then
    raise exception 'AI interaction not found' using errcode = 'PT404';
  end if;
  if v_int.status <> 'pending' then
    return v_int;
  end if;
  insert into public.messages (chat_id, sender_id, kind, content, reply_to_id, metadata, created_at)
  values (v_session.chat_id, null, 'ai', left(coalesce(p_answer, ''), 8000), p_prompt_message_id,
          jsonb_build_object('provider', v_int.provider, 'model', v_int.model, 'ai_interaction_id', v_int.id,
                             'finish_reason', p_finish_reason, 'widget_bot', true),
          clock_timestamp())
  returning * into v_msg;
  v_int := private.settle_ai_interaction(p_interaction_id, p_prompt_tokens, p_cached_prompt_tokens, p_completion_tokens,
    p_usage_estimated, p_finish_reason, p_latency_ms, p_time_to_first_token_ms, false, p_provider_response_id,
    p_error_code, p_error, p_prompt_message_id, v_msg.id);
  update public.widget_sessions s
  set bot_answers = s.bot_answers + 1,
      bot_cost_micro_usd = s.bot_cost_micro_usd + coalesce(v_int.charged_micro_usd, 0),
      first_response_ms = coalesce(s.first_response_ms,
        case when s.first_visitor_message_at is not null
             then greatest(0, (extract(epoch from (v_msg.created_at - s.first_visitor_message_at)) * 1000)::integer) end)
  where s.id = p_session_id;
  return v_int;
end;
$$;

/**
 * What the visitor of session `p_session_id` may see of its chat: messages
 * after the cursor (`p_after` created_at, `p_after_id` id; null: from the
 * start), oldest first, at most `p_limit` (1-200), each as {id, role (visitor,
 * bot, agent), content, created_at}. System messages, senders' ids and names
 * are never returned.
 */
create or replace function private.widget_messages(
  p_session_id uuid, p_after timestamptz default null, p_after_id uuid default null, p_limit integer default 100
)
returns table (id uuid, role text, content text, created_at timestamptz)
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  return query
    select m.id,
           case when m.kind = 'ai' then 'bot' when m.sender_id is null then 'visitor' else 'agent' end,
           m.content, m.created_at
    from public.messages m
    where m.chat_id = (select s.chat_id from public.widget_sessions s where s.id = p_session_id)
      and m.kind in ('text', 'ai') and m.deleted_at is null
      and (m.sender_id is not null or m.kind = 'ai' or (m.metadata ->> 'widget_visitor') = 'true')
      and (p_after is null or (m.created_at, m.id) > (p_after, coalesce(p_after_id, '00000000-0000-0000-0000-000000000000'::uuid)))
    order by m.created_at, m.id
    limit greatest(1, least(coalesce(p_limit, 100), 200));
end;
$$;

/** The visitor ends their session: the secret stops working. */
create or replace function private.widget_end_session(p_session_id uuid)
returns void
language plpgsql
security definer
set search_path = ''
as $$
begin
  update public.widget_sessions s set revoked_at = coalesce(s.revoked_at, now()) where s.id = p_session_id;
end;
$$;

revoke execute on function private.widget_rate_limit(text, text), private.widget_start_session(text, text, bytea, bytea),
  private.widget_session(bytea, text), private.widget_visitor_message(uuid, text, bytea), private.widget_hand_off(uuid, text),
  private.widget_finish_bot_answer(uuid, uuid, text, uuid, integer, integer, integer, boolean, text, integer, integer, text, text, text),
  private.widget_messages(uuid, timestamptz, uuid, integer), private.widget_end_session(uuid),
  private.widget_agent_replied(public.messages)
  from public;
grant execute on function private.widget_rate_limit(text, text), private.widget_start_session(text, text, bytea, bytea),
  private.widget_session(bytea, text), private.widget_visitor_message(uuid, text, bytea), private.widget_hand_off(uuid, text),
  private.widget_finish_bot_answer(uuid, uuid, text, uuid, integer, integer, integer, boolean, text, integer, integer, text, text, text),
  private.widget_messages(uuid, timestamptz, uuid, integer), private.widget_end_session(uuid)
  to service_role;
