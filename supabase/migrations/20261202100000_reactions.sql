-- =============================================================================
-- Reactions: a member adds or removes an emoji reaction to a message of a chat
-- they are in (issue 16, docs/messaging.md).
--
-- One row per (message, user, emoji): a user reacts with an emoji once, and
-- with several emoji if they like. A message carries at most
-- admin_config messages.max_distinct_reactions distinct emoji (default 20):
-- adding a new one beyond that is refused (22023); reacting with an emoji
-- already there always works. Rows are written only by the RPCs
-- add_reaction / remove_reaction (security definer, membership checked); each
-- change is broadcast as event `reaction` on the chat's receive-only topic
-- chat:<chat_id>. Members read a chat's reactions under RLS; the computed
-- field public.reactions(messages) gives a message's summary
-- ([{emoji, count, reacted}]) inside the query that reads the messages
-- (`select('*, reactions')` on messages or on get_chat_history), so a page of
-- history costs no extra query per message.
--
-- Alike on purpose: function headers (returns, language, security, search_path,
-- the caller's id) and table declarations (grants, RLS, policies) repeat: each
-- object states its own contract (supabase/migrations/README.md, "Shapes that repeat").
-- =============================================================================

-- -----------------------------------------------------------------------------
-- Table
-- -----------------------------------------------------------------------------
create table public.message_reactions (
  message_id uuid not null references public.messages (id) on delete cascade,
  user_id public.clerk_user_id not null references public.users (id) on delete cascade,
  emoji text not null check (char_length(emoji) between 1 and 16 and emoji !~ '[[:space:][:cntrl:]]'),
  chat_id uuid not null references public.chats (id) on delete cascade,
  created_at timestamptz not null default now(),
  primary key (message_id, user_id, emoji)
);
comment on table public.message_reactions is
  'Emoji reactions to messages, one row per (message, user, emoji). Written by add_reaction/remove_reaction only; members of the chat read them.';
comment on column public.message_reactions.emoji is
  'The reaction: one emoji (a grapheme cluster, possibly several code points), 1-16 characters, no spaces or control characters.';
comment on column public.message_reactions.chat_id is
  'The message''s chat (copied from messages.chat_id by add_reaction), so that the read policy is an index condition.';

-- Read policy (chat membership) and the chats foreign key.
create index message_reactions_chat_id_idx on public.message_reactions (chat_id);
-- Foreign key to users, and "my reactions".
create index message_reactions_user_id_idx on public.message_reactions (user_id);
-- (The primary key leads with message_id: the summary per message and the messages foreign key.)

grant select on public.message_reactions to authenticated;
grant select, insert, update, delete on public.message_reactions to service_role;

alter table public.message_reactions enable row level security;
select private.lock_out_suspended_users('public.message_reactions');

create policy "Members can read their chats' reactions"
  on public.message_reactions for select to authenticated
  using (chat_id = any ((select private.my_chat_id_array())::uuid[]));


insert into public.admin_config (key, value, description, value_type, min_value, max_value) values
  ('messages.max_distinct_reactions', '20',
   'Distinct emoji a message may carry; a reaction with a new emoji beyond it is refused (22023).', 'integer', 1, 100),
  ('rate_limit.reaction.limit', '120',
   'Reactions a user may add or remove (add_reaction, remove_reaction) per window; above it 429.', 'integer', 1, 1000000),
  ('rate_limit.reaction.window_seconds', '60',
   'Length of the reaction window, in seconds.', 'integer', 1, 86400)
on conflict (key) do nothing;

-- -----------------------------------------------------------------------------
-- Summary (computed field)
-- -----------------------------------------------------------------------------

/**
 * A message's reactions as a JSON array [{emoji, count, reacted}], most used
 * first (then by first use), `reacted` true when the caller reacted with that
 * emoji; [] without reactions. A PostgREST computed field
 * (https://docs.postgrest.org/en/v12/references/api/computed_fields.html):
 * `supabase.from('messages').select('*, reactions')` or
 * `supabase.rpc('get_chat_history', …).select('*, reactions')`. [] for a
 * message of a chat the caller is not a member of, or when the caller is
 * suspended (the same rule as the read policy of message_reactions).
 */
create or replace function public.reactions(m public.messages)
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  -- The caller's own guard instead of RLS: security invoker re-ran the read
  -- policies of message_reactions for every row of a history page (PL/pgSQL
  -- and security definer: one primary-key probe, plans cached per connection).
  if private.my_chat_role(m.chat_id) is null or private.caller_is_suspended() then
    return '[]'::jsonb;
  end if;
  return (
    select coalesce(jsonb_agg(jsonb_build_object('emoji', r.emoji, 'count', r.n, 'reacted', r.mine)
                              order by r.n desc, r.first_at, r.emoji), '[]'::jsonb)
    from (
      select mr.emoji, count(*) as n, min(mr.created_at) as first_at,
             bool_or(mr.user_id = nullif(auth.jwt() ->> 'sub', '')) as mine
      from public.message_reactions mr
      where mr.message_id = m.id and mr.chat_id = m.chat_id
      group by mr.emoji
    ) r);
end;
$$;

-- -----------------------------------------------------------------------------
-- RPCs
-- -----------------------------------------------------------------------------

/**
 * The message `p_message_id` locked for a reaction change by the caller
 * `p_me`: a message of a chat they are a member of, not deleted, and not in a
 * direct chat with someone who blocks them or whom they block. The row lock
 * (FOR NO KEY UPDATE) serialises reactions to one message, so that the
 * distinct-emoji limit holds under concurrency.
 * Errors: PT404 message not found (or not the caller's to see); 22023
 * deleted message; 42501 blocked.
 */
create or replace function private.lock_message_for_reaction(p_message_id uuid, p_me text)
returns public.messages
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_msg public.messages;
begin
  select m.* into v_msg from public.messages m
  where m.id = p_message_id
    and exists (select 1 from public.chat_members cm where cm.chat_id = m.chat_id and cm.user_id = p_me)
  for no key update of m;
  if v_msg.id is null then
    raise exception 'message not found' using errcode = 'PT404';
  end if;
  if v_msg.deleted_at is not null then
    raise exception 'cannot react to a deleted message' using errcode = '22023';
  end if;
  if private.blocked_in_direct_chat(v_msg.chat_id, p_me) then
    raise exception 'cannot react in this chat' using errcode = '42501';
  end if;
  return v_msg;
end;
$$;

/**
 * Adds the caller's reaction `p_emoji` to a message (idempotent: adding it
 * again changes nothing and broadcasts nothing). Returns the message's summary
 * as public.reactions gives it. Broadcasts event `reaction`
 * {message_id, user_id, emoji, action: 'added'} to chat:<chat_id>.
 * Errors: 42501 not signed in / suspended / blocked; PT404 message not found;
 * 22023 deleted message, invalid emoji (1-16 characters, no spaces), or a new
 * emoji beyond messages.max_distinct_reactions; PT429 (HTTP 429) above
 * rate_limit.reaction.*.
 */
create or replace function public.add_reaction(p_message_id uuid, p_emoji text)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_me text := private.require_user_id();
  v_msg public.messages;
begin
  if p_emoji is null or char_length(p_emoji) not between 1 and 16 or p_emoji ~ '[[:space:][:cntrl:]]' then
    raise exception 'emoji must have 1 to 16 characters and no spaces' using errcode = '22023';
  end if;
  v_msg := private.lock_message_for_reaction(p_message_id, v_me);
  perform private.rate_limit('reaction');

  if not exists (select 1 from public.message_reactions r where r.message_id = v_msg.id and r.emoji = p_emoji)
     and (select count(distinct r.emoji) from public.message_reactions r where r.message_id = v_msg.id)
         >= private.config_bigint('messages.max_distinct_reactions', 20) then
    raise exception 'this message has the most distinct reactions allowed' using errcode = '22023';
  end if;

  insert into public.message_reactions (message_id, user_id, emoji, chat_id)
  values (v_msg.id, v_me, p_emoji, v_msg.chat_id)
  on conflict (message_id, user_id, emoji) do nothing;
  if found then
    perform realtime.send(
      jsonb_build_object('message_id', v_msg.id, 'user_id', v_me, 'emoji', p_emoji, 'action', 'added'),
      'reaction', private.chat_topic(v_msg.chat_id), true);
  end if;
  return public.reactions(v_msg);
end;
$$;

/**
 * Removes the caller's reaction `p_emoji` from a message (idempotent).
 * Returns the message's summary. Broadcasts event `reaction`
 * {message_id, user_id, emoji, action: 'removed'} when a row was removed.
 * Errors: as add_reaction, except the limit.
 */
create or replace function public.remove_reaction(p_message_id uuid, p_emoji text)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_me text := private.require_user_id();
  v_msg public.messages;
begin
  v_msg := private.lock_message_for_reaction(p_message_id, v_me);
  perform private.rate_limit('reaction');
  delete from public.message_reactions r
  where r.message_id = v_msg.id and r.user_id = v_me and r.emoji = p_emoji;
  if found then
    perform realtime.send(
      jsonb_build_object('message_id', v_msg.id, 'user_id', v_me, 'emoji', p_emoji, 'action', 'removed'),
      'reaction', private.chat_topic(v_msg.chat_id), true);
  end if;
  return public.reactions(v_msg);
end;
$$;

revoke execute on function
  private.lock_message_for_reaction(uuid, text)
  from public, anon, authenticated;
revoke execute on function
  public.reactions(public.messages),
  public.add_reaction(uuid, text),
  public.remove_reaction(uuid, text)
  from public, anon;
grant execute on function
  public.reactions(public.messages),
  public.add_reaction(uuid, text),
  public.remove_reaction(uuid, text)
  to authenticated, service_role;
