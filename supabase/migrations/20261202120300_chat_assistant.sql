-- =============================================================================
-- The assistant in group and direct chats (issue 18, item 2). A member asks
-- the assistant inside a group or direct chat with an explicit call (ai-chat
-- with that chat_id, e.g. when the client sees a message starting with
-- "@assistant"): the prompt is stored as the member's message and the answer
-- as a kind `ai` message, both visible to every member (Realtime on the chat's
-- topic), charged to the member who asked (ai-chat's metering,
-- 20261122120000_ai.sql). This migration lets a chat turn that off:
--   * chat_ai_settings: one row per chat that changed the default (the
--     assistant is on unless a row says otherwise); members read it;
--   * public.set_chat_assistant(chat, enabled): group owners and admins, or
--     either member of a direct chat; broadcast as `chat_updated`
--     {chat_id, assistant_enabled} on the chat's topic.
-- ai-chat refuses a call in a chat where it is off (403 forbidden, before any
-- reservation). Assistant chats always have the assistant.
--
-- Alike on purpose: function headers (returns, language, security, search_path,
-- the caller's id) and table declarations (grants, RLS, policies) repeat: each
-- object states its own contract (supabase/migrations/README.md, "Shapes that repeat").
-- =============================================================================

create table public.chat_ai_settings (
  chat_id uuid primary key references public.chats (id) on delete cascade,
  assistant_enabled boolean not null default true,
  updated_by public.clerk_user_id,
  updated_at timestamptz not null default now()
);
comment on table public.chat_ai_settings is
  'Per group or direct chat: whether members may call the AI assistant in it (ai-chat). No row: allowed. '
  'Members read it; changed through public.set_chat_assistant only.';
comment on column public.chat_ai_settings.assistant_enabled is 'false: ai-chat answers 403 in this chat.';
comment on column public.chat_ai_settings.updated_by is 'Clerk id of the member who last changed it (no foreign key: it outlives the account).';

grant select on public.chat_ai_settings to authenticated;
grant select on public.chat_ai_settings to service_role;

alter table public.chat_ai_settings enable row level security;
select private.lock_out_suspended_users('public.chat_ai_settings');

create policy "Members can read their chats' assistant setting"
  on public.chat_ai_settings for select to authenticated
  using ((select private.my_chat_role(chat_id)) is not null);

/**
 * Turns the assistant on or off in a group or direct chat. Group: owner or
 * admin (private.assert_group_manager); direct: either member. Returns the
 * setting; broadcasts `chat_updated` {chat_id, assistant_enabled} on the
 * chat's topic. Errors: PT404 not a member (or no such chat); 42501 a group
 * member who is neither owner nor admin, or a suspended caller; 22023 an
 * assistant chat (it always has the assistant) or a null `p_enabled`.
 */
create or replace function public.set_chat_assistant(p_chat_id uuid, p_enabled boolean)
returns public.chat_ai_settings
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_me text := private.require_user_id();
  v_kind public.chat_kind;
  v_row public.chat_ai_settings;
begin
  if p_enabled is null then
    raise exception 'enabled must be true or false' using errcode = '22023';
  end if;
  if private.my_chat_role(p_chat_id) is null then
    raise exception 'chat not found' using errcode = 'PT404';
  end if;
  select c.kind into v_kind from public.chats c where c.id = p_chat_id;
  if v_kind = 'group' then
    perform private.assert_group_manager(p_chat_id);
  elsif v_kind <> 'direct' then
    raise exception 'only group and direct chats can turn the assistant off' using errcode = '22023';
  end if;
  insert into public.chat_ai_settings (chat_id, assistant_enabled, updated_by, updated_at)
  values (p_chat_id, p_enabled, v_me, now())
  on conflict (chat_id) do update
    set assistant_enabled = excluded.assistant_enabled, updated_by = excluded.updated_by, updated_at = excluded.updated_at
  returning * into v_row;
  perform realtime.send(jsonb_build_object('chat_id', p_chat_id, 'assistant_enabled', p_enabled),
                        'chat_updated', private.chat_topic(p_chat_id), true);
  return v_row;
end;
$$;

revoke execute on function public.set_chat_assistant(uuid, boolean) from public, anon;
grant execute on function public.set_chat_assistant(uuid, boolean) to authenticated;
