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
 * error and timing arguments). Storing is all or nothing (a subtransaction):
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
declare
  v_row public.ai_interactions;
  v_answer text := coalesce(p_answer, '');
  v_parts integer;
  v_prompt_id uuid;
  v_answer_id uuid;
  v_msg_id uuid;
  v_store_error text;
begin
  if p_prompt_tokens is null or p_prompt_tokens < 0 or p_completion_tokens is null or p_completion_tokens < 0
     or coalesce(p_cached_prompt_tokens, 0) < 0 or coalesce(p_cached_prompt_tokens, 0) > p_prompt_tokens then
    raise exception 'invalid token counts' using errcode = '22023';
  end if;
  select * into v_row from public.ai_interactions i where i.id = p_interaction_id for update;
  if not found then
    raise exception 'AI interaction not found' using errcode = 'PT404';
  end if;
  if v_row.status not in ('pending', 'aborted') then
    return v_row;
  end if;

  begin
    if v_row.chat_id is null or not exists (
      select 1 from public.chat_members cm where cm.chat_id = v_row.chat_id and cm.user_id = v_row.user_id
    ) then
      v_store_error := 'the caller is no longer a member of the chat';
    else
      select m.id into v_prompt_id from public.messages m
      where m.id = p_prompt_message_id and m.chat_id = v_row.chat_id and m.sender_id = v_row.user_id
        and m.deleted_at is null
      for update;
      if v_prompt_id is null then
        v_store_error := 'the prompt is no longer in the chat';
      else
        if p_prompt is not null then
          update public.messages m set content = p_prompt where m.id = v_prompt_id and m.content is distinct from p_prompt;
        end if;
        v_parts := greatest(1, ceil(char_length(v_answer) / 8000.0)::integer);
        for i in 1 .. v_parts loop
          insert into public.messages (chat_id, sender_id, kind, content, reply_to_id, metadata, created_at)
          values (v_row.chat_id, null, 'ai', substr(v_answer, (i - 1) * 8000 + 1, 8000), v_prompt_id,
                  jsonb_build_object('provider', v_row.provider, 'model', v_row.model, 'ai_interaction_id', v_row.id,
                                     'prompt_message_id', v_prompt_id, 'finish_reason', p_finish_reason,
                                     'part', i, 'parts', v_parts, 'regenerated', true)
                    || case when p_error_code is not null then jsonb_build_object('error_code', left(p_error_code, 100))
                            else '{}'::jsonb end,
                  clock_timestamp())
          returning id into v_msg_id;
          v_answer_id := coalesce(v_answer_id, v_msg_id);
        end loop;
      end if;
    end if;
  exception when others then
    v_prompt_id := null;
    v_answer_id := null;
    v_store_error := 'the answer could not be stored in the chat (' || sqlstate || ')';
  end;
  if v_store_error is not null then
    v_prompt_id := null;
    v_answer_id := null;
  end if;

  return private.settle_ai_interaction(p_interaction_id, p_prompt_tokens, p_cached_prompt_tokens, p_completion_tokens,
    p_usage_estimated, p_finish_reason, p_latency_ms, p_time_to_first_token_ms, p_client_disconnected,
    p_provider_response_id,
    coalesce(p_error_code, case when v_store_error is not null then 'not_stored' end),
    coalesce(p_error, v_store_error), v_prompt_id, v_answer_id);
end;
$$;

grant execute on function
  private.finish_ai_regeneration(uuid, uuid, text, text, integer, integer, integer, text, integer, integer, boolean, text, boolean, text, text)
  to service_role;
