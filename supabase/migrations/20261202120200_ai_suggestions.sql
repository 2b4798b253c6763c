-- =============================================================================
-- Context-aware reply suggestions (issue 18, item 1): the ai-suggest function
-- returns up to three short replies the caller could send next in a chat they
-- are in (direct, group or assistant), from that chat's recent messages as
-- the caller sees them (read as the caller, under RLS).
--   * Metered and rate-limited exactly like ai-chat: private.start_ai_interaction
--     (the same per-user limits ai.rate_limit_per_minute / _per_day, the
--     reservation, 402 without credits), then private.settle_ai_interaction
--     (charged, nothing stored in the chat) or fail_ai_interaction
--     (20261122120000_ai.sql; docs/money.md).
--   * Cached per caller, chat and last message (ai_suggestions, unique): asking
--     again for the same context returns the stored suggestions, uncharged.
--
-- Alike on purpose: function headers (returns, language, security, search_path,
-- the caller's id) and table declarations (grants, RLS, policies) repeat: each
-- object states its own contract (supabase/migrations/README.md, "Shapes that repeat").
-- =============================================================================

create table public.ai_suggestions (
  id uuid primary key default gen_random_uuid(),
  user_id public.clerk_user_id not null,
  chat_id uuid not null references public.chats (id) on delete cascade,
  last_message_id uuid not null references public.messages (id) on delete cascade,
  interaction_id uuid references public.ai_interactions (id) on delete set null,
  model text not null,
  suggestions text[] not null check (cardinality(suggestions) <= 3),
  created_at timestamptz not null default now(),
  constraint ai_suggestions_once_per_context unique (user_id, chat_id, last_message_id)
);
comment on table public.ai_suggestions is
  'Reply suggestions ai-suggest produced, one row per caller, chat and last message (the context): the same context is '
  'answered from here, uncharged. Users read their own while they are members of the chat; only the service role writes.';
comment on column public.ai_suggestions.user_id is 'The caller who asked (and paid). No foreign key, like ai_interactions.';
comment on column public.ai_suggestions.last_message_id is 'The newest message of the chat the caller saw when asking: the cache key with chat_id.';
comment on column public.ai_suggestions.interaction_id is 'The ai_interactions row that paid for them.';
comment on column public.ai_suggestions.model is 'ai_models.id that wrote them.';
comment on column public.ai_suggestions.suggestions is 'Up to three short replies, each at most 300 characters, in the chat''s language.';

-- The unique constraint covers user_id (policy) and the lookups; FK columns:
create index ai_suggestions_chat_id_idx on public.ai_suggestions (chat_id);
create index ai_suggestions_last_message_id_idx on public.ai_suggestions (last_message_id);
create index ai_suggestions_interaction_id_idx on public.ai_suggestions (interaction_id);

grant select on public.ai_suggestions to authenticated;
grant select, insert on public.ai_suggestions to service_role;

alter table public.ai_suggestions enable row level security;
select private.lock_out_suspended_users('public.ai_suggestions');

create policy "Members can read their own suggestions"
  on public.ai_suggestions for select to authenticated
  using (
    user_id = (select auth.jwt()) ->> 'sub'
    and exists (select 1 from public.chat_members cm where cm.chat_id = ai_suggestions.chat_id and cm.user_id = (select auth.jwt()) ->> 'sub')
  );
