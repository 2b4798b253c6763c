-- =============================================================================
-- AI provider fallbacks (issue 18, item 5): when the chosen model's provider
-- fails BEFORE any output (its request answered 5xx or 429, timed out, or
-- could not be reached), ai-chat retries the call once on the fallback model
-- an admin configured for that model (for example DeepSeek ↔ OpenAI), within
-- the same ai_interactions row and its metering (docs/money.md):
--   1. private.ai_model_fallback(model): the enabled fallback of a model, if any;
--   2. private.fallback_ai_interaction: records the failed attempt in
--      ai_interaction_attempts, releases the first reservation and reserves the
--      most the fallback can cost at ITS prices (all or nothing: without
--      enough credits for the fallback nothing changes and ai-chat fails the
--      call as before), and switches the row to the fallback's provider, model
--      and prices; the call then settles (finish/settle) or fails exactly like
--      any other call, at the fallback's prices.
-- At most one fallback per call: a row that already fell back is refused.
-- A failure after output began never falls back (the caller pays for that
-- output: ai-chat settles it). The client learns which model answered from
-- `model`/`provider` of the start and done events, and what failed first from
-- `fallback_from` (packages/shared/src/functions/ai-chat.ts).
--
-- New objects only (migrations are append-only, supabase/migrations/README.md):
-- ai_models and ai_interactions are unchanged; the fallback of a model is a
-- row of ai_model_fallbacks, and the attempts that failed before the answering
-- one are rows of ai_interaction_attempts (the answering attempt is the
-- ai_interactions row itself).
--
-- Alike on purpose: function headers (returns, language, security, search_path)
-- and table declarations (grants, RLS, policies) repeat, and so does the opening
-- of each money step (its row locked FOR UPDATE, PT404 when missing, returned
-- unchanged when already done): each states its own locks in the order they
-- are taken (supabase/migrations/README.md, "Shapes that repeat"; docs/money.md).
-- =============================================================================

-- -----------------------------------------------------------------------------
-- Tables
-- -----------------------------------------------------------------------------
create table public.ai_model_fallbacks (
  model_id text primary key references public.ai_models (id) on delete cascade on update cascade,
  fallback_model_id text not null references public.ai_models (id) on delete cascade on update cascade,
  created_at timestamptz not null default now(),
  constraint ai_model_fallbacks_not_itself check (fallback_model_id <> model_id)
);
comment on table public.ai_model_fallbacks is
  'Per model, the model ai-chat retries on (once) when the first provider fails before any output (5xx, 429, timeout, unreachable). '
  'Used only while the fallback model is enabled. Signed-in users read it; admins edit it (Studio or the Data API under RLS).';
comment on column public.ai_model_fallbacks.model_id is 'The model asked for (ai_models.id).';
comment on column public.ai_model_fallbacks.fallback_model_id is
  'The model that answers instead when model_id''s provider fails before any output; charged at its own prices.';

-- FK column (the primary key covers model_id).
create index ai_model_fallbacks_fallback_model_id_idx on public.ai_model_fallbacks (fallback_model_id);

create table public.ai_interaction_attempts (
  id bigint generated always as identity primary key,
  interaction_id uuid not null references public.ai_interactions (id) on delete cascade,
  user_id public.clerk_user_id not null,
  attempt smallint not null check (attempt >= 1),
  provider public.ai_provider not null,
  model text not null,
  error_code text not null check (char_length(error_code) <= 100),
  error text check (char_length(error) <= 500),
  latency_ms integer check (latency_ms >= 0),
  reserved_micro_usd bigint not null default 0 check (reserved_micro_usd >= 0),
  created_at timestamptz not null default now(),
  constraint ai_interaction_attempts_once unique (interaction_id, attempt)
);
comment on table public.ai_interaction_attempts is
  'Attempts of an AI call that failed before any output and were retried on the fallback model (ai_model_fallbacks). '
  'The answering attempt is the ai_interactions row itself (its model, prices and charge). Nothing was charged for these. '
  'Users read their own; only the service role writes (private.fallback_ai_interaction).';
comment on column public.ai_interaction_attempts.user_id is 'The caller (ai_interactions.user_id), for the read policy. No foreign key, like ai_interactions.';
comment on column public.ai_interaction_attempts.attempt is '1 for the first attempt of the call.';
comment on column public.ai_interaction_attempts.model is 'ai_models.id that failed.';
comment on column public.ai_interaction_attempts.error_code is 'Why it failed: provider_error, provider_rate_limited, provider_unavailable, timeout, connection_failed.';
comment on column public.ai_interaction_attempts.error is 'Short description (no prompt text, no secret).';
comment on column public.ai_interaction_attempts.latency_ms is 'Milliseconds from sending that attempt''s request to its failure.';
comment on column public.ai_interaction_attempts.reserved_micro_usd is 'Credits that attempt held (released, never charged), micro-USD.';

-- The read policy filters on user_id; the unique constraint covers interaction_id (FK).
create index ai_interaction_attempts_user_id_idx on public.ai_interaction_attempts (user_id);

-- No pair is configured by default: which model may answer for which (and at
-- what price) is an admin's choice, e.g. in Studio:
--   insert into public.ai_model_fallbacks (model_id, fallback_model_id)
--   values ('gpt-6-luna', 'deepseek-v4-flash'), ('deepseek-v4-flash', 'gpt-6-luna');

-- -----------------------------------------------------------------------------
-- Operations (service role: the ai-chat function)
-- -----------------------------------------------------------------------------

/**
 * The enabled fallback model of `p_model_id` (ai_model_fallbacks), as ai-chat
 * needs it: id, provider, max_output_tokens, context_window, request_options.
 * No row when none is configured or it is disabled.
 */
create or replace function private.ai_model_fallback(p_model_id text)
returns table (id text, provider public.ai_provider, max_output_tokens integer, context_window integer, request_options jsonb)
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  return query
  select m.id, m.provider, m.max_output_tokens, m.context_window, m.request_options
  from public.ai_model_fallbacks f join public.ai_models m on m.id = f.fallback_model_id
  where f.model_id = p_model_id and m.enabled;
end;
$$;

/**
 * Moves a `pending` call whose provider failed before any output to
 * `p_fallback_model_id`, which must be the enabled fallback of the row's
 * model (ai_model_fallbacks), once per call:
 *   - records the failed attempt (ai_interaction_attempts: its model,
 *     `p_error_code`, `p_error`, `p_latency_ms`, the credits it held);
 *   - releases the first reservation and reserves
 *     ai_cost_micro_usd(p_estimated_prompt_tokens, 0, fallback max output)
 *     at the fallback's prices, held for credits.reservation_ttl_seconds or
 *     at least `p_min_hold_seconds`;
 *   - sets the row's provider, model, max_output_tokens,
 *     estimated_prompt_tokens, prices, reservation_id, reserved_micro_usd.
 * Returns the updated row; NO ROW (nothing changed) when the call cannot fall
 * back: not pending, already fell back, not the configured and enabled
 * fallback, or not enough credits for the fallback's reservation (the caller
 * then fails the call with fail_ai_interaction as without a fallback).
 * Errors: PT404 unknown interaction; 22023 negative token count.
 */
create or replace function private.fallback_ai_interaction(
  p_interaction_id uuid, p_fallback_model_id text, p_estimated_prompt_tokens integer,
  p_error_code text, p_error text default null, p_latency_ms integer default null, p_min_hold_seconds integer default null
)
returns setof public.ai_interactions
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_row public.ai_interactions;
  v_model public.ai_models;
  v_amount bigint;
  v_res public.credit_reservations;
begin
  if p_estimated_prompt_tokens is null or p_estimated_prompt_tokens < 0 then
    raise exception 'token counts must be >= 0' using errcode = '22023';
  end if;
  v_row := private.lock_ai_interaction(p_interaction_id);
  if v_row.status <> 'pending'
     or exists (select 1 from public.ai_interaction_attempts a where a.interaction_id = v_row.id) then
    return;
  end if;
  select m.* into v_model
  from public.ai_model_fallbacks f join public.ai_models m on m.id = f.fallback_model_id
  where f.model_id = v_row.model and f.fallback_model_id = p_fallback_model_id and m.enabled;
  if not found then
    return;
  end if;

  v_amount := private.ai_cost_micro_usd(p_estimated_prompt_tokens, 0, v_model.max_output_tokens,
    v_model.input_micro_usd_per_mtok, null, v_model.output_micro_usd_per_mtok);
  begin
    -- All or nothing: without credits for the fallback, the first hold stays and nothing is recorded.
    insert into public.ai_interaction_attempts (interaction_id, user_id, attempt, provider, model, error_code, error,
                                                latency_ms, reserved_micro_usd)
    values (v_row.id, v_row.user_id, 1, v_row.provider, v_row.model, left(coalesce(p_error_code, 'provider_error'), 100),
            left(p_error, 500), case when p_latency_ms is not null then greatest(p_latency_ms, 0) end, v_row.reserved_micro_usd);
    if v_row.reservation_id is not null then
      perform private.release_reservation(v_row.reservation_id);
    end if;
    v_res := null;
    if v_amount > 0 then
      v_res := private.reserve_credits(v_row.user_id, v_amount, 'ai_interaction:' || v_row.id,
        greatest(private.config_bigint('credits.reservation_ttl_seconds', 300)::integer, coalesce(p_min_hold_seconds, 0)),
        'ai_chat');
    end if;
  exception when sqlstate 'PT402' then
    return;
  end;

  update public.ai_interactions i
  set provider = v_model.provider, model = v_model.id, max_output_tokens = v_model.max_output_tokens,
      estimated_prompt_tokens = p_estimated_prompt_tokens,
      input_micro_usd_per_mtok = v_model.input_micro_usd_per_mtok,
      cached_input_micro_usd_per_mtok = v_model.cached_input_micro_usd_per_mtok,
      output_micro_usd_per_mtok = v_model.output_micro_usd_per_mtok,
      reservation_id = v_res.id, reserved_micro_usd = case when v_res.id is null then 0 else v_amount end
  where i.id = v_row.id
  returning * into v_row;
  return next v_row;
end;
$$;

grant execute on function
  private.ai_model_fallback(text),
  private.fallback_ai_interaction(uuid, text, integer, text, text, integer, integer)
  to service_role;

-- -----------------------------------------------------------------------------
-- Grants and RLS policies
-- -----------------------------------------------------------------------------
grant select, insert, update, delete on public.ai_model_fallbacks to authenticated;
grant select, insert, update, delete on public.ai_model_fallbacks to service_role;
grant select on public.ai_interaction_attempts to authenticated;
grant select, insert on public.ai_interaction_attempts to service_role;

alter table public.ai_model_fallbacks enable row level security;
select private.lock_out_suspended_users('public.ai_model_fallbacks');
alter table public.ai_interaction_attempts enable row level security;
select private.lock_out_suspended_users('public.ai_interaction_attempts');

create policy "Signed-in users can read model fallbacks"
  on public.ai_model_fallbacks for select to authenticated
  using (true);

select private.let_admins_edit('public.ai_model_fallbacks', 'model fallbacks');

create policy "Users can read their own AI attempts"
  on public.ai_interaction_attempts for select to authenticated
  using (user_id = (select auth.jwt()) ->> 'sub');
