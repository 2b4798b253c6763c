-- =============================================================================
-- Regenerate the last answer, or edit the last prompt and resend (issue 18,
-- item 3), as ChatGPT-style apps do: ai-chat with `regenerate: true` asks the
-- model again for the caller's LAST prompt in the chat (optionally with a new
-- `prompt` text: edit and resend). Metering is the ordinary path
-- (start_ai_interaction → settle_ai_interaction / fail_ai_interaction,
-- 20261122120000_ai.sql; docs/money.md): a regeneration is a new call,
-- reserved and charged like any other.
--   * private.ai_last_prompt: as the caller (RLS), their last prompt in the
--     chat, only when nothing but AI answers came after it;
--   * private.finish_ai_regeneration: stores the new answer as kind `ai`
--     message(s) replying to that same prompt (earlier answers are kept: the
--     newest reply to a prompt is the one to show), edits the prompt first
--     when its text changed (edited_at is set by the messages' update guard),
--     then charges through settle_ai_interaction. Storing is all or nothing,
--     as in finish_ai_interaction: when it fails the call is still charged,
--     error_code not_stored.
-- New functions only (append-only migrations, supabase/migrations/README.md).
--
-- Alike on purpose: function headers (returns, language, security, search_path,
-- the caller's id) and table declarations (grants, RLS, policies) repeat: each
-- object states its own contract (supabase/migrations/README.md, "Shapes that repeat").
-- =============================================================================

/**
 * The caller's last prompt in `p_chat_id` (a message with metadata.ai_prompt,
 * sent by `p_user_id`, not deleted), when it is the chat's newest message
 * other than AI answers; no row otherwise (nothing to regenerate: no prompt
 * yet, or someone wrote after it). Security invoker: run as the caller, every
 * read goes through RLS (a chat the caller is not in has no rows).
 */
create or replace function private.ai_last_prompt(p_chat_id uuid, p_user_id text)
returns table (message_id uuid, content text)
language plpgsql
stable
set search_path = ''
as $$
begin
  return query
  select m.id, m.content
  from (
    select x.id, x.content, x.sender_id, x.metadata
    from public.messages x
    where x.chat_id = p_chat_id and x.kind <> 'ai' and x.deleted_at is null
    order by x.created_at desc, x.id desc
    limit 1
  ) m
  where m.sender_id = p_user_id and coalesce((m.metadata ->> 'ai_prompt')::boolean, false);
end;
$$;

grant execute on function private.ai_last_prompt(uuid, text) to authenticated;

/**
 * Finishes a regeneration (a call whose provider produced output for an
 * existing prompt `p_prompt_message_id`): when `p_prompt` is not null and
 * differs from the stored text, the prompt message is edited to it; the
 * answer is stored as kind `ai` message(s) replying to the prompt (metadata
 * as finish_ai_interaction's, plus `regenerated: true`; over 8000 characters
 * it spans several messages); then settle_ai_interaction charges (same token,
 * error and timing arguments): private.finish_ai_answer with the prompt
 * message (20261122120000_ai.sql). Storing is all or nothing (a subtransaction):
 * if the caller can no longer post in the chat, the prompt is no longer
 * theirs, or the database refuses the texts, nothing is stored, the call is
 * still charged and the row is `incomplete` with error_code not_stored
 * (unless `p_error_code` already says what failed). Idempotent like
 * settle_ai_interaction.
 * Errors: PT404 unknown interaction; 22023 invalid token counts.
 */
create or replace function private.finish_ai_regeneration(
  p_interaction_id uuid, p_prompt_message_id uuid, p_prompt text, p_answer text,
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
  -- A null prompt id names no prompt of the chat (the nil uuid): nothing is
  -- stored and the call is still charged, as for a prompt deleted meanwhile;
  -- finish_ai_answer reads a null id as a new prompt, which a regeneration
  -- never is.
  return private.finish_ai_answer(p_interaction_id,
    coalesce(p_prompt_message_id, '00000000-0000-0000-0000-000000000000'::uuid), p_prompt, p_answer, p_prompt_tokens,
    p_cached_prompt_tokens, p_completion_tokens, p_finish_reason, p_latency_ms, p_time_to_first_token_ms,
    p_client_disconnected, p_provider_response_id, p_usage_estimated, p_error_code, p_error);
end;
$$;

grant execute on function
  private.finish_ai_regeneration(uuid, uuid, text, text, integer, integer, integer, text, integer, integer, boolean, text, boolean, text, text)
  to service_role;
