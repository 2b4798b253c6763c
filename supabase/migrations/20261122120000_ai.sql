-- =============================================================================
-- AI assistant: the model catalogue with its prices, one log row per AI call,
-- per-user rate limits, and the metering that cannot overspend (the rules:
-- docs/money.md). Conversations keep their history as context.
--
-- How one call goes (the ai-chat function, as the service role, through the
-- private functions below):
--   1. start_ai_interaction: per-user rate limits (admin_config
--      ai.rate_limit_per_minute / ai.rate_limit_per_day, atomic per user), a
--      `pending` ai_interactions row, and a credit reservation of the most the
--      call can cost (estimated prompt tokens + the model's max output tokens at
--      its prices). Not enough credits: the row is `refused` and nothing else
--      happens.
--   2. the function calls the provider (OpenAI, or DeepSeek through its
--      OpenAI-compatible API) and streams the answer to the caller;
--   3. finish_ai_interaction: the reservation settles to the cost of the usage
--      the provider reported (one ledger debit, source ai_interaction / the
--      interaction id), the prompt and the answer are stored as messages of the
--      chat, an untitled assistant chat gets a title, the row is `succeeded`.
--      Once the provider has produced output, the caller pays for it whatever
--      fails afterwards (docs/money.md): a provider fault
--      mid-answer, a usage chunk that never came, an answer we cannot store,
--      a client that left. The row is then `incomplete` with error_code saying
--      what failed, charged for the reported usage or, when the provider never
--      reported it, for the estimate (usage_estimated: prompt + output tokens
--      counted by ai-chat with gpt-tokenizer, capped at the reservation). When
--      even finishing fails, settle_ai_interaction charges without storing.
--      Only a failure BEFORE any output takes fail_ai_interaction: the
--      reservation is released, nothing is charged or stored, the row is `failed`.
--   A call that never finishes (crashed function) keeps its hold until the
--   reservation expires (credits.reservation_ttl_seconds); the next start for
--   that user, or a scheduled expire_ai_interactions(), marks it `aborted`
--   (uncharged: nothing recorded how much was produced); a finish or settle
--   that arrives later is still charged.
--
-- Units: prices in micro-USD per million tokens (bigint; $0.10 / 1M tokens =
-- 100000), costs in micro-USD. Rounding: a call's cost is computed exactly
-- from its token counts and rounded UP once, to the next whole micro-USD
-- (ai_cost_micro_usd). So a charge never undercounts and is at most 1 micro-USD
-- above the exact price.
--
-- Clients read the enabled models and their own interactions; admins edit the
-- catalogue (Studio, or the Data API under RLS). Every write to the log, the
-- wallet and the chat goes through the service-role-only functions here.
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
create type public.ai_provider as enum ('openai', 'deepseek');
comment on type public.ai_provider is
  'Who serves a model: openai (api.openai.com) or deepseek (api.deepseek.com, OpenAI-compatible).';

create type public.ai_interaction_status as enum ('pending', 'succeeded', 'incomplete', 'failed', 'aborted', 'refused');
comment on type public.ai_interaction_status is
  'pending: running (credits held); succeeded: answered, stored and charged; '
  'incomplete: the provider produced output, then something failed (error_code): charged for the output, stored when it could be; '
  'failed: failed before any output, nothing charged or stored; '
  'aborted: never finished (its reservation expired); refused: not started, not enough credits.';

-- -----------------------------------------------------------------------------
-- Tables
-- -----------------------------------------------------------------------------
create table public.ai_models (
  id text primary key check (id ~ '^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$'),
  provider public.ai_provider not null,
  display_name text not null check (char_length(display_name) between 1 and 100),
  input_micro_usd_per_mtok bigint not null check (input_micro_usd_per_mtok >= 0),
  cached_input_micro_usd_per_mtok bigint check (cached_input_micro_usd_per_mtok is null or cached_input_micro_usd_per_mtok >= 0),
  output_micro_usd_per_mtok bigint not null check (output_micro_usd_per_mtok >= 0),
  context_window integer not null check (context_window > 0),
  max_output_tokens integer not null check (max_output_tokens > 0),
  enabled boolean not null default true,
  is_default boolean not null default false,
  request_options jsonb not null default '{}'::jsonb check (jsonb_typeof(request_options) = 'object'),
  price_source text not null default '' check (char_length(price_source) <= 500),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint ai_models_output_fits_window check (max_output_tokens < context_window),
  constraint ai_models_default_is_enabled check (not is_default or enabled)
);
comment on table public.ai_models is
  'The AI models users may pick, with their prices. Signed-in users read the enabled ones; admins edit them in Studio. '
  'Exactly one enabled model is the default (is_default), used when a request names none. A price change applies to calls started after it.';
comment on column public.ai_models.id is 'The provider''s model id, sent as `model` in the chat completion request (e.g. gpt-6-luna, deepseek-v4-flash).';
comment on column public.ai_models.provider is 'openai or deepseek: which API key and base URL the call uses.';
comment on column public.ai_models.input_micro_usd_per_mtok is 'Price of 1,000,000 prompt tokens, in micro-USD (USD 0.10 = 100000).';
comment on column public.ai_models.cached_input_micro_usd_per_mtok is
  'Price of 1,000,000 prompt tokens the provider reports as cache hits, in micro-USD; null: billed at the input price.';
comment on column public.ai_models.output_micro_usd_per_mtok is 'Price of 1,000,000 completion tokens (reasoning tokens included), in micro-USD.';
comment on column public.ai_models.context_window is 'Tokens the model accepts in total (prompt + output); a prompt that cannot fit with max_output_tokens is refused.';
comment on column public.ai_models.max_output_tokens is
  'Cap sent with every call (max_completion_tokens / max_tokens) and the output size credits are reserved for; at most the provider''s own maximum.';
comment on column public.ai_models.enabled is 'Only enabled models can be used (and are visible to users).';
comment on column public.ai_models.is_default is
  'The model used when a request names none (the one place that says which model is the default). '
  'Setting it on one model clears it on the others (ai_models_single_default); ai_models_one_default_idx allows one at most.';
comment on column public.ai_models.request_options is
  'Extra fields merged into every chat completion request for this model, e.g. {"reasoning_effort": "low"} (OpenAI) or '
  '{"thinking": {"type": "disabled"}} (DeepSeek). model, messages, stream, stream_options, max_tokens and max_completion_tokens are always ours.';
comment on column public.ai_models.price_source is 'Where and when the prices were read (URL and date).';

-- The read policy filters on `enabled`.
create index ai_models_enabled_idx on public.ai_models (enabled, provider);
-- At most one default model.
create unique index ai_models_one_default_idx on public.ai_models (is_default) where is_default;

create table public.ai_interactions (
  id uuid primary key default gen_random_uuid(),
  user_id public.clerk_user_id not null,
  chat_id uuid references public.chats (id) on delete set null,
  provider public.ai_provider not null,
  model text not null,
  status public.ai_interaction_status not null default 'pending',
  stream boolean not null,
  context_messages integer not null default 0 check (context_messages >= 0),
  estimated_prompt_tokens integer not null check (estimated_prompt_tokens >= 0),
  max_output_tokens integer not null check (max_output_tokens > 0),
  prompt_tokens integer check (prompt_tokens >= 0),
  cached_prompt_tokens integer check (cached_prompt_tokens >= 0 and cached_prompt_tokens <= prompt_tokens),
  completion_tokens integer check (completion_tokens >= 0),
  usage_estimated boolean not null default false,
  input_micro_usd_per_mtok bigint not null check (input_micro_usd_per_mtok >= 0),
  cached_input_micro_usd_per_mtok bigint check (cached_input_micro_usd_per_mtok >= 0),
  output_micro_usd_per_mtok bigint not null check (output_micro_usd_per_mtok >= 0),
  reserved_micro_usd bigint not null default 0 check (reserved_micro_usd >= 0),
  cost_micro_usd bigint check (cost_micro_usd >= 0),
  charged_micro_usd bigint check (charged_micro_usd >= 0),
  reservation_id uuid references public.credit_reservations (id) on delete set null,
  prompt_message_id uuid references public.messages (id) on delete set null,
  answer_message_id uuid references public.messages (id) on delete set null,
  finish_reason text check (char_length(finish_reason) <= 50),
  client_disconnected boolean not null default false,
  latency_ms integer check (latency_ms >= 0),
  time_to_first_token_ms integer check (time_to_first_token_ms >= 0),
  error_code text check (char_length(error_code) <= 100),
  error text check (char_length(error) <= 500),
  provider_response_id text check (char_length(provider_response_id) <= 255),
  request_id text check (char_length(request_id) <= 128),
  created_at timestamptz not null default now(),
  finished_at timestamptz,
  constraint ai_interactions_finished_when_not_pending check ((status = 'pending') = (finished_at is null))
);
comment on table public.ai_interactions is
  'One row per AI call: who, which chat and model, tokens, cost, latency, outcome. The prompt and answer texts are not here: '
  'they are messages of the chat (prompt_message_id, answer_message_id). Users read their own rows; only the service role writes.';
comment on column public.ai_interactions.user_id is
  'Clerk user id of the caller. Deliberately no foreign key: like the credit ledger, usage records outlive a deleted account.';
comment on column public.ai_interactions.chat_id is 'The chat asked in (null once the chat is deleted).';
comment on column public.ai_interactions.model is 'ai_models.id at the time of the call.';
comment on column public.ai_interactions.stream is 'Whether the answer was streamed (server-sent events) or returned as one JSON body.';
comment on column public.ai_interactions.context_messages is 'How many earlier messages of the chat were sent as context (within ai.context_token_budget).';
comment on column public.ai_interactions.estimated_prompt_tokens is
  'Prompt tokens counted before the call with gpt-tokenizer (o200k_base; an estimate for DeepSeek, whose tokenizer differs); the reservation is based on it.';
comment on column public.ai_interactions.max_output_tokens is 'The output cap sent to the provider (and reserved for).';
comment on column public.ai_interactions.prompt_tokens is 'Prompt tokens the provider reported (usage.prompt_tokens).';
comment on column public.ai_interactions.cached_prompt_tokens is
  'Of those, cache hits (OpenAI usage.prompt_tokens_details.cached_tokens, DeepSeek usage.prompt_cache_hit_tokens).';
comment on column public.ai_interactions.completion_tokens is 'Completion tokens the provider reported, reasoning included (usage.completion_tokens).';
comment on column public.ai_interactions.usage_estimated is
  'The provider never reported usage (the stream broke after output began): prompt_tokens and completion_tokens are ai-chat''s '
  'own count (gpt-tokenizer o200k_base: the prompt as sent, the output received so far) and the cost is capped at reserved_micro_usd.';
comment on column public.ai_interactions.input_micro_usd_per_mtok is 'The model''s input price when the call started (micro-USD per 1M tokens).';
comment on column public.ai_interactions.cached_input_micro_usd_per_mtok is 'The model''s cached-input price when the call started (null: input price).';
comment on column public.ai_interactions.output_micro_usd_per_mtok is 'The model''s output price when the call started (micro-USD per 1M tokens).';
comment on column public.ai_interactions.reserved_micro_usd is 'Credits held while the call ran: the most it could cost (micro-USD).';
comment on column public.ai_interactions.cost_micro_usd is
  'Price of the reported usage: ceil((uncached prompt × input + cached × cached input + completion × output) / 1e6), micro-USD.';
comment on column public.ai_interactions.charged_micro_usd is 'What the ledger debited (the cost, capped at the balance; 0 when nothing was charged).';
comment on column public.ai_interactions.reservation_id is 'The credit reservation that held reserved_micro_usd.';
comment on column public.ai_interactions.prompt_message_id is 'The caller''s question as stored in the chat (kind text, sent by the caller).';
comment on column public.ai_interactions.answer_message_id is 'The answer as stored in the chat (kind ai; the first one when a long answer spans several messages).';
comment on column public.ai_interactions.finish_reason is 'Why the model stopped: stop, length (hit max_output_tokens), content_filter, …';
comment on column public.ai_interactions.client_disconnected is
  'The caller closed the stream before the end. The answer was still finished, stored and charged (see the ai-chat function).';
comment on column public.ai_interactions.latency_ms is 'Milliseconds from sending the request to the provider to its last byte.';
comment on column public.ai_interactions.time_to_first_token_ms is 'Milliseconds from sending the request to the first answer text (streamed calls).';
comment on column public.ai_interactions.error_code is
  'Why it did not succeed: insufficient_credits, provider_error, provider_rate_limited, provider_unavailable, timeout, truncated_stream, '
  'malformed_stream, usage_missing, not_stored, internal_error, expired, …';
comment on column public.ai_interactions.error is 'A short description of the failure, without the prompt or any secret.';
comment on column public.ai_interactions.provider_response_id is 'The provider''s completion id (chatcmpl-…), for support requests.';
comment on column public.ai_interactions.request_id is 'x-request-id of the ai-chat request (matches the function logs).';

-- Own-row policy, usage history and the rate limits (counts per user and time).
create index ai_interactions_user_id_created_at_idx on public.ai_interactions (user_id, created_at desc);
-- Foreign keys.
create index ai_interactions_chat_id_idx on public.ai_interactions (chat_id);
create index ai_interactions_reservation_id_idx on public.ai_interactions (reservation_id);
create index ai_interactions_prompt_message_id_idx on public.ai_interactions (prompt_message_id);
create index ai_interactions_answer_message_id_idx on public.ai_interactions (answer_message_id);
-- Sweeping calls that never finished.
create index ai_interactions_pending_idx on public.ai_interactions (created_at) where status = 'pending';

create trigger ai_models_set_updated_at before update on public.ai_models
  for each row execute function private.set_updated_at();

/** BEFORE INSERT/UPDATE of is_default on ai_models: making a model the default clears the flag on the others. */
create or replace function private.ai_models_single_default()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  update public.ai_models m set is_default = false where m.is_default and m.id <> new.id;
  return new;
end;
$$;

create trigger ai_models_single_default before insert or update of is_default on public.ai_models
  for each row when (new.is_default) execute function private.ai_models_single_default();

-- -----------------------------------------------------------------------------
-- Models and prices, and the settings used here (editable in Studio)
-- -----------------------------------------------------------------------------
-- Prices in micro-USD per 1M tokens, standard tier, prompts under 272K tokens
-- (OpenAI doubles input prices above that; ai.context_token_budget keeps
-- prompts far below it). Sources, read on 2026-11-22:
--   OpenAI: https://developers.openai.com/api/docs/pricing and
--     https://developers.openai.com/api/docs/models. GPT-6 Sol and GPT-6 Luna
--     (released 2026-09-22, prices announced as long-term): Sol $2 input /
--     $0.20 cached input / $10 output, Luna $0.10 / $0.01 / $0.50 per 1M
--     tokens; 1,050,000-token window (922K input), 128K max output; restated
--     in https://docs.litellm.ai/blog/gpt_6_sol_luna. OpenAI's whole price
--     list as read on 2026-11-05 is in
--     https://raw.githubusercontent.com/api-evangelist/posts/main/_posts/2026-11-06-openai-api-pricing-what-every-model-costs-per-million-tokens.md
--   DeepSeek: https://api-docs.deepseek.com/quick_start/pricing (OpenAI
--     format base URL https://api.deepseek.com): deepseek-v4-flash $0.14
--     input (cache miss) / $0.0028 (cache hit) / $0.28 output; deepseek-v4-pro
--     $0.435 / $0.003625 / $0.87 (its 75% discount made permanent on
--     2026-05-22); 1M window, 384K max output. deepseek-chat and
--     deepseek-reasoner were retired on 2026-07-24.
-- max_output_tokens is our cap per answer (8192), far below the providers'.
-- Prices change: check the pages again before going live, and edit the rows
-- (Studio → ai_models) when they do.
insert into public.ai_models (id, provider, display_name, input_micro_usd_per_mtok, cached_input_micro_usd_per_mtok,
                              output_micro_usd_per_mtok, context_window, max_output_tokens, enabled, is_default, price_source) values
  ('gpt-6-luna', 'openai', 'GPT-6 Luna', 100000, 10000, 500000, 1050000, 8192, true, true,
   'https://developers.openai.com/api/docs/pricing (GPT-6 Luna, 2026-09-22 pricing), read 2026-11-22'),
  ('gpt-6-sol', 'openai', 'GPT-6 Sol', 2000000, 200000, 10000000, 1050000, 8192, true, false,
   'https://developers.openai.com/api/docs/pricing (GPT-6 Sol, 2026-09-22 pricing), read 2026-11-22'),
  ('deepseek-v4-flash', 'deepseek', 'DeepSeek V4 Flash', 140000, 2800, 280000, 1000000, 8192, true, false,
   'https://api-docs.deepseek.com/quick_start/pricing, read 2026-11-22'),
  ('deepseek-v4-pro', 'deepseek', 'DeepSeek V4 Pro', 435000, 3625, 870000, 1000000, 8192, true, false,
   'https://api-docs.deepseek.com/quick_start/pricing (discount permanent since 2026-05-22), read 2026-11-22')
on conflict (id) do nothing;

insert into public.admin_config (key, value, description, value_type, min_value, max_value) values
  ('ai.rate_limit_per_minute', '20',
   'AI requests a user may start per rolling minute; above it ai-chat answers 429 with Retry-After.', 'integer', 1, 10000),
  ('ai.rate_limit_per_day', '500',
   'AI requests a user may start per rolling 24 hours; above it ai-chat answers 429 with Retry-After.', 'integer', 1, 1000000),
  ('ai.context_token_budget', '4000',
   'Tokens (o200k_base count) of system prompt + recent chat history + the new prompt sent to the model; older messages are left out. '
   'At most 200000, which keeps prompts under the 272K tokens above which OpenAI charges more than ai_models says.',
   'integer', 100, 200000),
  ('ai.system_prompt', '"You are the AI assistant of Chat with Me, a chat app. Answer helpfully and concisely, in the language of the question. In group chats, messages from people start with their name."',
   'System message sent first with every AI call (1 to 500 characters). Counted in the context budget.', 'string', null, null)
on conflict (key) do nothing;

-- -----------------------------------------------------------------------------
-- Helpers
-- -----------------------------------------------------------------------------

/**
 * Cost in micro-USD of a call's token usage at the given prices (micro-USD per
 * 1M tokens): ceil((uncached prompt × input + cached prompt × cached input +
 * completion × output) / 1,000,000), computed exactly in numeric, rounded up
 * once per call. `p_cached_prompt_tokens` is part of `p_prompt_tokens`; a null
 * cached price bills cache hits at the input price.
 * Example: 1,234 prompt + 567 completion tokens at 100000 / 500000 →
 * ceil((123,400,000 + 283,500,000) / 1e6) = ceil(406.9) = 407 micro-USD.
 */
create or replace function private.ai_cost_micro_usd(
  p_prompt_tokens bigint, p_cached_prompt_tokens bigint, p_completion_tokens bigint,
  p_input_micro_usd_per_mtok bigint, p_cached_input_micro_usd_per_mtok bigint, p_output_micro_usd_per_mtok bigint
)
returns bigint
-- PL/pgSQL, not SQL: with `set search_path` a SQL function is never inlined,
-- so it would be planned again on every call (start and finish of every AI
-- call); a PL/pgSQL function keeps its plan for the connection (bench/README.md).
language plpgsql
immutable
set search_path = ''
as $$
begin
  return ceil((
      (p_prompt_tokens - least(coalesce(p_cached_prompt_tokens, 0), p_prompt_tokens))::numeric * p_input_micro_usd_per_mtok
    + least(coalesce(p_cached_prompt_tokens, 0), p_prompt_tokens)::numeric
        * coalesce(p_cached_input_micro_usd_per_mtok, p_input_micro_usd_per_mtok)
    + p_completion_tokens::numeric * p_output_micro_usd_per_mtok
  ) / 1000000)::bigint;
end;
$$;

/**
 * Title for an assistant chat from its first prompt: the first line, spaces
 * collapsed; up to 60 characters as is, else cut at the last space within the
 * first 60 (or at 60) and ended with "…". Never empty ("New chat").
 */
create or replace function private.ai_chat_title(p_prompt text)
returns text
language plpgsql
immutable
set search_path = ''
as $$
declare
  v_line text := btrim(regexp_replace(split_part(btrim(coalesce(p_prompt, ''), E' \t\r\n'), E'\n', 1), '\s+', ' ', 'g'));
  v_cut text;
begin
  if v_line = '' then
    return 'New chat';
  end if;
  if char_length(v_line) <= 60 then
    return v_line;
  end if;
  v_cut := left(v_line, 60);
  if position(' ' in reverse(v_cut)) between 1 and 40 then
    v_cut := left(v_cut, 60 - position(' ' in reverse(v_cut)));
  end if;
  return rtrim(v_cut, ' .,;:-') || '…';
end;
$$;

/**
 * Marks `pending` calls that can no longer finish as `aborted`: those whose
 * credit reservation expired (released first, through expire_reservations),
 * and those without a reservation older than credits.reservation_ttl_seconds.
 * For one user, or all when null. Returns how many. Run lazily by
 * start_ai_interaction; on a hosted project also schedule it with pg_cron:
 * `select cron.schedule('ai-expire', '* * * * *', 'select private.expire_ai_interactions()')`.
 */
create or replace function private.expire_ai_interactions(p_user_id text default null)
returns integer
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_ttl integer := private.config_bigint('credits.reservation_ttl_seconds', 300)::integer;
  v_count integer;
begin
  perform private.expire_reservations(p_user_id);
  update public.ai_interactions i
  set status = 'aborted', error_code = 'expired', finished_at = now(),
      error = 'the call did not finish before its credit reservation expired'
  where i.status = 'pending'
    and (p_user_id is null or i.user_id = p_user_id)
    and (
      exists (select 1 from public.credit_reservations r where r.id = i.reservation_id and r.status <> 'held')
      or (i.reservation_id is null and i.created_at < now() - make_interval(secs => v_ttl))
    );
  get diagnostics v_count = row_count;
  return v_count;
end;
$$;

-- -----------------------------------------------------------------------------
-- What the caller may see (as the caller, under RLS: the ai-chat function)
-- -----------------------------------------------------------------------------

/**
 * Everything ai-chat reads on behalf of the caller before a call, in one
 * round trip (security invoker: runs as `authenticated` with the caller's
 * claims, so every read goes through RLS exactly as four separate statements
 * would): the chat (null columns when it does not exist or the caller is not a
 * member: nothing else is read then), the model `p_model_id` if enabled, or the
 * enabled default model when null (as jsonb: id, provider, max_output_tokens,
 * context_window, request_options; null when none), the display name of
 * `p_user_id` (the caller), and the chat's newest `p_history_limit` messages
 * that are not deleted, newest first (json array of {kind, sender_id,
 * sender_name, content}). PL/pgSQL: its statements keep their plans for the
 * connection, where ai-chat's own statements (unprepared) would be planned on
 * every call.
 */
create or replace function private.ai_chat_conversation(
  p_chat_id uuid, p_model_id text, p_user_id text, p_history_limit integer
)
returns table (chat_id uuid, chat_kind public.chat_kind, model jsonb, caller_name text, history json)
language plpgsql
stable
set search_path = ''
as $$
begin
  select c.id, c.kind into chat_id, chat_kind from public.chats c where c.id = p_chat_id;
  if chat_id is null then
    return next;
    return;
  end if;
  if p_model_id is null then
    select jsonb_build_object('id', m.id, 'provider', m.provider, 'max_output_tokens', m.max_output_tokens,
                              'context_window', m.context_window, 'request_options', m.request_options)
    into model
    from public.ai_models m where m.is_default and m.enabled;
  else
    select jsonb_build_object('id', m.id, 'provider', m.provider, 'max_output_tokens', m.max_output_tokens,
                              'context_window', m.context_window, 'request_options', m.request_options)
    into model
    from public.ai_models m where m.id = p_model_id and m.enabled;
  end if;
  select u.display_name into caller_name from public.users u where u.id = p_user_id;
  select coalesce(json_agg(json_build_object('kind', h.kind, 'sender_id', h.sender_id, 'sender_name', h.sender_name,
                                             'content', h.content) order by h.created_at desc, h.id desc), '[]'::json)
  into history
  from (
    select m.id, m.created_at, m.kind, m.sender_id, u.display_name as sender_name, m.content
    from public.messages m left join public.users u on u.id = m.sender_id
    where m.chat_id = p_chat_id and m.deleted_at is null
    order by m.created_at desc, m.id desc
    limit p_history_limit
  ) h;
  return next;
end;
$$;

grant execute on function private.ai_chat_conversation(uuid, text, text, integer) to authenticated;

-- -----------------------------------------------------------------------------
-- Operations (service role: the ai-chat function)
-- -----------------------------------------------------------------------------

/**
 * Starts an AI call for `p_user_id` in `p_chat_id` with model `p_model_id`:
 *   1. checks the model is enabled, the user is a member of the chat and, in a
 *      direct chat, that neither side blocks the other;
 *   2. serialises the user's starts (transaction advisory lock), sweeps their
 *      unfinished calls (expire_ai_interactions), and applies the rate limits
 *      ai.rate_limit_per_minute and ai.rate_limit_per_day over rolling windows
 *      (every started call counts, refused ones too);
 *   3. inserts the `pending` row with the model's prices, and reserves
 *      ai_cost_micro_usd(p_estimated_prompt_tokens, 0, max_output_tokens) of
 *      the user's credits for credits.reservation_ttl_seconds, or at least
 *      `p_min_hold_seconds` (the caller's deadline plus a margin, so that a
 *      call still running never loses its hold).
 * Returns the row: `pending` with reservation_id, or `refused` (error_code
 * insufficient_credits) when the reservation does not fit: the caller answers
 * 402 and calls no provider.
 * Errors: PT429 rate limited, DETAIL a JSON object {"retry_after_seconds", "window"
 * (minute | day), "limit"}; PT404 unknown or disabled model, or not a member;
 * 42501 blocked; 22023 negative token counts.
 */
create or replace function private.start_ai_interaction(
  p_user_id text, p_chat_id uuid, p_model_id text, p_estimated_prompt_tokens integer,
  p_context_messages integer default 0, p_stream boolean default true, p_request_id text default null,
  p_min_hold_seconds integer default null
)
returns public.ai_interactions
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_model public.ai_models;
  v_peer text;
  v_limit bigint;
  v_window interval;
  v_window_name text;
  v_count bigint;
  v_oldest timestamptz;
  v_amount bigint;
  v_res public.credit_reservations;
  v_row public.ai_interactions;
begin
  if p_estimated_prompt_tokens is null or p_estimated_prompt_tokens < 0 or coalesce(p_context_messages, 0) < 0 then
    raise exception 'token and message counts must be >= 0' using errcode = '22023';
  end if;
  select * into v_model from public.ai_models m where m.id = p_model_id and m.enabled;
  if not found then
    raise exception 'model is unknown or disabled' using errcode = 'PT404';
  end if;
  if not exists (select 1 from public.chat_members cm where cm.chat_id = p_chat_id and cm.user_id = p_user_id) then
    raise exception 'chat not found' using errcode = 'PT404';
  end if;
  select cm.user_id into v_peer
  from public.chats c join public.chat_members cm on cm.chat_id = c.id
  where c.id = p_chat_id and c.kind = 'direct' and cm.user_id <> p_user_id;
  if v_peer is not null and private.is_blocked_between(p_user_id, v_peer) then
    raise exception 'cannot send messages to this user' using errcode = '42501';
  end if;

  -- One start at a time per user: the counts below and the insert are atomic.
  perform pg_advisory_xact_lock(hashtextextended('ai_interactions:' || p_user_id, 0));
  perform private.expire_ai_interactions(p_user_id);

  foreach v_window_name in array array['minute', 'day'] loop
    v_limit := private.config_bigint('ai.rate_limit_per_' || v_window_name, case v_window_name when 'minute' then 20 else 500 end);
    v_window := case v_window_name when 'minute' then interval '1 minute' else interval '1 day' end;
    select count(*) into v_count from public.ai_interactions i
    where i.user_id = p_user_id and i.created_at > now() - v_window;
    if v_count >= greatest(v_limit, 0) then
      -- The call that must leave the window before this one fits.
      select i.created_at into v_oldest from public.ai_interactions i
      where i.user_id = p_user_id and i.created_at > now() - v_window
      order by i.created_at asc
      offset greatest(v_count - greatest(v_limit, 1), 0) limit 1;
      raise exception 'rate limit reached: % AI requests per %', greatest(v_limit, 0), v_window_name
        using errcode = 'PT429',
              detail = jsonb_build_object(
                'retry_after_seconds',
                greatest(1, ceil(extract(epoch from (coalesce(v_oldest, now()) + v_window - now())))::integer),
                'window', v_window_name, 'limit', greatest(v_limit, 0))::text;
    end if;
  end loop;

  insert into public.ai_interactions (user_id, chat_id, provider, model, stream, context_messages,
                                      estimated_prompt_tokens, max_output_tokens, input_micro_usd_per_mtok,
                                      cached_input_micro_usd_per_mtok, output_micro_usd_per_mtok, request_id)
  values (p_user_id, p_chat_id, v_model.provider, v_model.id, coalesce(p_stream, true), coalesce(p_context_messages, 0),
          p_estimated_prompt_tokens, v_model.max_output_tokens, v_model.input_micro_usd_per_mtok,
          v_model.cached_input_micro_usd_per_mtok, v_model.output_micro_usd_per_mtok, left(p_request_id, 128))
  returning * into v_row;

  v_amount := private.ai_cost_micro_usd(p_estimated_prompt_tokens, 0, v_model.max_output_tokens,
    v_model.input_micro_usd_per_mtok, null, v_model.output_micro_usd_per_mtok);
  if v_amount > 0 then
    begin
      v_res := private.reserve_credits(p_user_id, v_amount, 'ai_interaction:' || v_row.id,
        greatest(private.config_bigint('credits.reservation_ttl_seconds', 300)::integer, coalesce(p_min_hold_seconds, 0)),
        'ai_chat');
    exception when sqlstate 'PT402' then
      update public.ai_interactions i
      set status = 'refused', error_code = 'insufficient_credits', error = left(sqlerrm, 500),
          reserved_micro_usd = 0, finished_at = now()
      where i.id = v_row.id
      returning * into v_row;
      return v_row;
    end;
    update public.ai_interactions i set reservation_id = v_res.id, reserved_micro_usd = v_amount
    where i.id = v_row.id
    returning * into v_row;
  end if;
  return v_row;
end;
$$;

/**
 * The row of AI call `p_interaction_id`, locked (FOR UPDATE) until the end of
 * the caller's transaction: every step that ends or changes a call
 * (settle, finish, fail, fallback) takes it first, so that two of them never
 * both act on one call. Security invoker: called by those security-definer
 * functions, it reads with their rights.
 * Errors: PT404 unknown interaction.
 */
create or replace function private.lock_ai_interaction(p_interaction_id uuid)
returns public.ai_interactions
language plpgsql
set search_path = ''
as $$
declare
  v_row public.ai_interactions;
begin
  select * into v_row from public.ai_interactions i where i.id = p_interaction_id for update;
  if not found then
    raise exception 'AI interaction not found' using errcode = 'PT404';
  end if;
  return v_row;
end;
$$;

/**
 * lock_ai_interaction for a call that is to be charged, after checking the
 * token counts it is charged for (prompt and completion >= 0, cached prompt
 * tokens, null as 0, within 0 .. prompt).
 * Errors: 22023 invalid token counts; PT404 unknown interaction.
 */
create or replace function private.lock_ai_interaction_to_charge(
  p_interaction_id uuid, p_prompt_tokens integer, p_cached_prompt_tokens integer, p_completion_tokens integer
)
returns public.ai_interactions
language plpgsql
set search_path = ''
as $$
begin
  if p_prompt_tokens is null or p_prompt_tokens < 0 or p_completion_tokens is null or p_completion_tokens < 0
     or coalesce(p_cached_prompt_tokens, 0) < 0 or coalesce(p_cached_prompt_tokens, 0) > p_prompt_tokens then
    raise exception 'invalid token counts' using errcode = '22023';
  end if;
  return private.lock_ai_interaction(p_interaction_id);
end;
$$;

/**
 * Charges a call whose provider produced output and ends its row, storing
 * nothing itself (finish_ai_interaction stores first; ai-chat calls this alone
 * when finishing failed twice, so that the caller is still charged):
 *   cost = ai_cost_micro_usd(tokens) at the prices of the start; when
 *   `p_usage_estimated` (the provider never reported usage: ai-chat's own
 *   gpt-tokenizer count of the prompt and of the output received), capped at
 *   reserved_micro_usd;
 *   one ledger debit (source ai_interaction / the interaction id, capped at
 *   the balance by settle_reservation) and the hold released;
 *   the row `succeeded` when `p_error_code` is null, else `incomplete` with
 *   `p_error_code` / `p_error` (short, no prompt text, no secret).
 * Idempotent: a row that is no longer pending (or aborted: a late settle is
 * still charged) is returned unchanged.
 * Errors: PT404 unknown interaction; 22023 invalid token counts.
 */
create or replace function private.settle_ai_interaction(
  p_interaction_id uuid, p_prompt_tokens integer, p_cached_prompt_tokens integer, p_completion_tokens integer,
  p_usage_estimated boolean default false, p_finish_reason text default null, p_latency_ms integer default null,
  p_time_to_first_token_ms integer default null, p_client_disconnected boolean default false,
  p_provider_response_id text default null, p_error_code text default null, p_error text default null,
  p_prompt_message_id uuid default null, p_answer_message_id uuid default null
)
returns public.ai_interactions
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_row public.ai_interactions;
  v_res public.credit_reservations;
  v_cost bigint;
  v_charged bigint := 0;
begin
  v_row := private.lock_ai_interaction_to_charge(p_interaction_id, p_prompt_tokens, p_cached_prompt_tokens,
    p_completion_tokens);
  if v_row.status not in ('pending', 'aborted') then
    return v_row;
  end if;

  v_cost := private.ai_cost_micro_usd(p_prompt_tokens, coalesce(p_cached_prompt_tokens, 0), p_completion_tokens,
    v_row.input_micro_usd_per_mtok, v_row.cached_input_micro_usd_per_mtok, v_row.output_micro_usd_per_mtok);
  if coalesce(p_usage_estimated, false) then
    v_cost := least(v_cost, v_row.reserved_micro_usd);
  end if;
  if v_row.reservation_id is not null then
    v_res := private.settle_reservation(v_row.reservation_id, v_cost, 'ai_interaction', v_row.id::text,
      'AI answer (' || v_row.model || ')',
      jsonb_build_object('provider', v_row.provider, 'model', v_row.model, 'chat_id', v_row.chat_id,
                         'prompt_tokens', p_prompt_tokens, 'cached_prompt_tokens', coalesce(p_cached_prompt_tokens, 0),
                         'completion_tokens', p_completion_tokens, 'usage_estimated', coalesce(p_usage_estimated, false)));
    v_charged := coalesce(v_res.settled_micro_usd, 0);
  end if;

  update public.ai_interactions i
  set status = case when p_error_code is null then 'succeeded' else 'incomplete' end::public.ai_interaction_status,
      prompt_tokens = p_prompt_tokens, cached_prompt_tokens = coalesce(p_cached_prompt_tokens, 0),
      completion_tokens = p_completion_tokens, usage_estimated = coalesce(p_usage_estimated, false),
      cost_micro_usd = v_cost, charged_micro_usd = v_charged,
      prompt_message_id = p_prompt_message_id, answer_message_id = p_answer_message_id,
      finish_reason = left(p_finish_reason, 50),
      -- greatest() would turn a null (not measured) into 0: keep nulls.
      latency_ms = case when p_latency_ms is not null then greatest(p_latency_ms, 0) end,
      time_to_first_token_ms = case when p_time_to_first_token_ms is not null then greatest(p_time_to_first_token_ms, 0) end,
      client_disconnected = coalesce(p_client_disconnected, false),
      provider_response_id = left(p_provider_response_id, 255),
      error_code = left(p_error_code, 100),
      error = left(p_error, 500),
      finished_at = now()
  where i.id = v_row.id
  returning * into v_row;
  return v_row;
end;
$$;

/**
 * The work of finish_ai_interaction and finish_ai_regeneration (their
 * arguments; `p_prompt_message_id` null for a new prompt): stores the answer
 * (what was produced) as kind `ai` message(s) replying to the prompt (sender
 * null; metadata provider, model, ai_interaction_id, prompt_message_id,
 * finish_reason, part, parts, error_code when the answer is incomplete, and
 * regenerated: true for a regeneration; an answer over 8000 characters spans
 * several messages), then charges through settle_ai_interaction (same token,
 * error and timing arguments).
 *   - New prompt (`p_prompt_message_id` null): the prompt is stored first as
 *     the caller's text message (metadata ai_interaction_id, ai_prompt), and
 *     an untitled assistant chat is named after it (private.ai_chat_title;
 *     broadcast as `chat_updated` {chat_id, title} on chat:<id>).
 *   - Regeneration: the caller's existing prompt `p_prompt_message_id`
 *     (locked), edited first when `p_prompt` is not null and differs.
 * Storing is all or nothing (a subtransaction): if the caller can no longer
 * post in the chat (left it, or a block), the prompt to regenerate is no
 * longer theirs, or the database refuses the texts, nothing is stored, the
 * call is still charged (the provider was paid and the caller has the answer)
 * and the row is `incomplete` with error_code not_stored (unless
 * `p_error_code` already says what failed). Idempotent like
 * settle_ai_interaction.
 * Errors: PT404 unknown interaction; 22023 invalid token counts.
 */
create or replace function private.finish_ai_answer(
  p_interaction_id uuid, p_prompt_message_id uuid, p_prompt text, p_answer text,
  p_prompt_tokens integer, p_cached_prompt_tokens integer, p_completion_tokens integer,
  p_finish_reason text, p_latency_ms integer, p_time_to_first_token_ms integer,
  p_client_disconnected boolean, p_provider_response_id text,
  p_usage_estimated boolean, p_error_code text, p_error text
)
returns public.ai_interactions
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_row public.ai_interactions;
  v_answer text := coalesce(p_answer, '');
  v_parts integer;
  v_prompt_id uuid;
  v_answer_id uuid;
  v_msg_id uuid;
  v_title text;
  v_store_error text;
begin
  v_row := private.lock_ai_interaction_to_charge(p_interaction_id, p_prompt_tokens, p_cached_prompt_tokens,
    p_completion_tokens);
  if v_row.status not in ('pending', 'aborted') then
    return v_row;
  end if;

  begin
    if v_row.chat_id is null or not exists (
      select 1 from public.chat_members cm where cm.chat_id = v_row.chat_id and cm.user_id = v_row.user_id
    ) then
      v_store_error := 'the caller is no longer a member of the chat';
    elsif p_prompt_message_id is null then
      insert into public.messages (chat_id, sender_id, kind, content, metadata)
      values (v_row.chat_id, v_row.user_id, 'text', coalesce(p_prompt, ''),
              jsonb_build_object('ai_interaction_id', v_row.id, 'ai_prompt', true))
      returning id into v_prompt_id;
    else
      select m.id into v_prompt_id from public.messages m
      where m.id = p_prompt_message_id and m.chat_id = v_row.chat_id and m.sender_id = v_row.user_id
        and m.deleted_at is null
      for update;
      if v_prompt_id is null then
        v_store_error := 'the prompt is no longer in the chat';
      elsif p_prompt is not null then
        update public.messages m set content = p_prompt where m.id = v_prompt_id and m.content is distinct from p_prompt;
      end if;
    end if;

    if v_store_error is null then
      v_parts := greatest(1, ceil(char_length(v_answer) / 8000.0)::integer);
      for i in 1 .. v_parts loop
        -- clock_timestamp(): strictly after the prompt (now() is the transaction's start).
        insert into public.messages (chat_id, sender_id, kind, content, reply_to_id, metadata, created_at)
        values (v_row.chat_id, null, 'ai', substr(v_answer, (i - 1) * 8000 + 1, 8000), v_prompt_id,
                jsonb_build_object('provider', v_row.provider, 'model', v_row.model, 'ai_interaction_id', v_row.id,
                                   'prompt_message_id', v_prompt_id, 'finish_reason', p_finish_reason,
                                   'part', i, 'parts', v_parts)
                  || case when p_error_code is not null then jsonb_build_object('error_code', left(p_error_code, 100))
                          else '{}'::jsonb end
                  || case when p_prompt_message_id is not null then '{"regenerated": true}'::jsonb
                          else '{}'::jsonb end,
                clock_timestamp())
        returning id into v_msg_id;
        v_answer_id := coalesce(v_answer_id, v_msg_id);
      end loop;
    end if;

    if v_store_error is null and p_prompt_message_id is null then
      update public.chats c set title = private.ai_chat_title(p_prompt)
      where c.id = v_row.chat_id and c.kind = 'assistant' and c.title is null
      returning c.title into v_title;
      if v_title is not null then
        perform realtime.send(jsonb_build_object('chat_id', v_row.chat_id, 'title', v_title),
                              'chat_updated', private.chat_topic(v_row.chat_id), true);
      end if;
    end if;
  exception when others then
    -- E.g. 42501 from the block check on messages. The texts are not logged here.
    v_prompt_id := null;
    v_answer_id := null;
    v_store_error := 'the answer could not be stored in the chat (' || sqlstate || ')';
  end;

  return private.settle_ai_interaction(p_interaction_id, p_prompt_tokens, p_cached_prompt_tokens, p_completion_tokens,
    p_usage_estimated, p_finish_reason, p_latency_ms, p_time_to_first_token_ms, p_client_disconnected,
    p_provider_response_id,
    coalesce(p_error_code, case when v_store_error is not null then 'not_stored' end),
    coalesce(p_error, v_store_error), v_prompt_id, v_answer_id);
end;
$$;

-- Alike on purpose: finish_ai_interaction, finish_ai_interaction_titled and
-- finish_ai_regeneration take the same token, error and timing arguments as
-- private.finish_ai_answer, which each passes on (ai-chat calls them by name).
/**
 * Finishes a call whose provider produced output: stores the prompt as the
 * caller's text message and the answer as kind `ai` message(s) replying to
 * it, names an untitled assistant chat after the prompt, then charges through
 * settle_ai_interaction (same token, error and timing arguments): all of it
 * is private.finish_ai_answer with no prompt message (see there for the
 * metadata, the title broadcast and what happens when storing fails: the call
 * is still charged, error_code not_stored). The texts must be storable
 * (ai-chat strips NULs and repairs lone surrogates in provider output; the
 * prompt was refused otherwise). Idempotent like settle_ai_interaction.
 * Errors: PT404 unknown interaction; 22023 invalid token counts.
 */
create or replace function private.finish_ai_interaction(
  p_interaction_id uuid, p_prompt text, p_answer text,
  p_prompt_tokens integer, p_cached_prompt_tokens integer, p_completion_tokens integer,
  p_finish_reason text default null, p_latency_ms integer default null, p_time_to_first_token_ms integer default null,
  p_client_disconnected boolean default false, p_provider_response_id text default null,
  p_usage_estimated boolean default false, p_error_code text default null, p_error text default null
)
returns public.ai_interactions
language plpgsql
security definer
set search_path = ''
as $$
begin
  return private.finish_ai_answer(p_interaction_id, null, p_prompt, p_answer, p_prompt_tokens,
    p_cached_prompt_tokens, p_completion_tokens, p_finish_reason, p_latency_ms, p_time_to_first_token_ms,
    p_client_disconnected, p_provider_response_id, p_usage_estimated, p_error_code, p_error);
end;
$$;

/**
 * finish_ai_interaction, then the title of `p_chat_id` as it is afterwards
 * (null when untitled or gone): what the ai-chat function answers in `done`,
 * in one round trip instead of two statements. Same arguments and errors as
 * finish_ai_interaction (plus the chat), which does all the work. Security
 * invoker: the service role reads the title as it would directly.
 */
create or replace function private.finish_ai_interaction_titled(
  p_interaction_id uuid, p_chat_id uuid, p_prompt text, p_answer text,
  p_prompt_tokens integer, p_cached_prompt_tokens integer, p_completion_tokens integer,
  p_finish_reason text default null, p_latency_ms integer default null, p_time_to_first_token_ms integer default null,
  p_client_disconnected boolean default false, p_provider_response_id text default null,
  p_usage_estimated boolean default false, p_error_code text default null, p_error text default null
)
returns table (interaction public.ai_interactions, chat_title text)
language plpgsql
set search_path = ''
as $$
begin
  interaction := private.finish_ai_interaction(p_interaction_id, p_prompt, p_answer, p_prompt_tokens,
    p_cached_prompt_tokens, p_completion_tokens, p_finish_reason, p_latency_ms, p_time_to_first_token_ms,
    p_client_disconnected, p_provider_response_id, p_usage_estimated, p_error_code, p_error);
  select c.title into chat_title from public.chats c where c.id = p_chat_id;
  return next;
end;
$$;

/**
 * Ends a call that failed BEFORE the provider produced any output (provider
 * error, timeout, a stream cut or malformed before its first content):
 * releases its reservation (nothing is charged), stores
 * nothing, and marks the row `failed` with `p_error_code` and a short
 * `p_error` (no prompt text, no secret). Idempotent: a row that is no longer
 * pending is returned unchanged.
 * Errors: PT404 unknown interaction.
 */
create or replace function private.fail_ai_interaction(
  p_interaction_id uuid, p_error_code text, p_error text,
  p_latency_ms integer default null, p_time_to_first_token_ms integer default null
)
returns public.ai_interactions
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_row public.ai_interactions;
begin
  v_row := private.lock_ai_interaction(p_interaction_id);
  if v_row.status <> 'pending' then
    return v_row;
  end if;
  if v_row.reservation_id is not null then
    perform private.release_reservation(v_row.reservation_id);
  end if;
  update public.ai_interactions i
  set status = 'failed', error_code = left(coalesce(p_error_code, 'provider_error'), 100), error = left(p_error, 500),
      charged_micro_usd = 0,
      latency_ms = case when p_latency_ms is not null then greatest(p_latency_ms, 0) end,
      time_to_first_token_ms = case when p_time_to_first_token_ms is not null then greatest(p_time_to_first_token_ms, 0) end,
      finished_at = now()
  where i.id = v_row.id
  returning * into v_row;
  return v_row;
end;
$$;

grant execute on function
  private.ai_cost_micro_usd(bigint, bigint, bigint, bigint, bigint, bigint),
  private.ai_chat_title(text),
  private.expire_ai_interactions(text),
  private.start_ai_interaction(text, uuid, text, integer, integer, boolean, text, integer),
  private.settle_ai_interaction(uuid, integer, integer, integer, boolean, text, integer, integer, boolean, text, text, text, uuid, uuid),
  private.finish_ai_interaction(uuid, text, text, integer, integer, integer, text, integer, integer, boolean, text, boolean, text, text),
  private.finish_ai_interaction_titled(uuid, uuid, text, text, integer, integer, integer, text, integer, integer, boolean, text, boolean, text, text),
  private.fail_ai_interaction(uuid, text, text, integer, integer)
  to service_role;

-- -----------------------------------------------------------------------------
-- Grants and RLS policies
-- -----------------------------------------------------------------------------
grant select, insert, update, delete on public.ai_models to authenticated;
grant select, insert, update, delete on public.ai_models to service_role;
grant select on public.ai_interactions to authenticated;
grant select, insert, update on public.ai_interactions to service_role;

alter table public.ai_models enable row level security;
alter table public.ai_interactions enable row level security;

create policy "Signed-in users can read enabled models, admins all"
  on public.ai_models for select to authenticated
  using (enabled or (select private.is_admin()));

select private.let_admins_edit('public.ai_models', 'models');

create policy "Users can read their own AI interactions"
  on public.ai_interactions for select to authenticated
  using (user_id = (select auth.jwt()) ->> 'sub');
