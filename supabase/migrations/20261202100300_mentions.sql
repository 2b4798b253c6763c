-- =============================================================================
-- Mentions and replies that notify (issue 16, docs/messaging.md).
--
-- `@username` in a group message is resolved by the database when the message
-- is stored (a trigger; never taken from the client) to the chat's members
-- with that username (case-insensitive, as users.username), except the sender
-- and members in a block with the sender. Each becomes a row of
-- public.message_mentions and a notification (kind `mention`), whether or not
-- the member muted the chat (chat_members.muted_until). A reply in a group
-- notifies the author of the quoted message (kind `reply`) unless they muted
-- the chat. Mentions are resolved once, at send time: editing a message does
-- not mention anyone again; deleting it removes its mentions.
-- get_inbox counts the caller's unread mentions (20261202100400_inbox.sql).
--
-- Alike on purpose: function headers (returns, language, security, search_path,
-- the caller's id) and table declarations (grants, RLS, policies) repeat: each
-- object states its own contract (supabase/migrations/README.md, "Shapes that repeat").
-- =============================================================================

-- -----------------------------------------------------------------------------
-- Table
-- -----------------------------------------------------------------------------
create table public.message_mentions (
  message_id uuid not null references public.messages (id) on delete cascade,
  user_id public.clerk_user_id not null references public.users (id) on delete cascade,
  chat_id uuid not null references public.chats (id) on delete cascade,
  created_at timestamptz not null,
  primary key (message_id, user_id)
);
comment on table public.message_mentions is
  'Users mentioned (@username) in a group message, resolved by the database at send time. Members of the chat read them; nobody writes them through the API.';
comment on column public.message_mentions.user_id is 'The mentioned member.';
comment on column public.message_mentions.chat_id is 'The message''s chat (for the read policy and unread-mention counts).';
comment on column public.message_mentions.created_at is 'The message''s created_at (unread when after the member''s read pointer).';

-- Unread mentions of a member per chat (get_inbox); foreign key to users.
create index message_mentions_user_id_chat_id_idx on public.message_mentions (user_id, chat_id, created_at);
-- Read policy and the chats foreign key.
create index message_mentions_chat_id_idx on public.message_mentions (chat_id);

grant select on public.message_mentions to authenticated;
grant select, insert, update, delete on public.message_mentions to service_role;

alter table public.message_mentions enable row level security;
select private.lock_out_suspended_users('public.message_mentions');

create policy "Members can read their chats' mentions"
  on public.message_mentions for select to authenticated
  using (chat_id = any ((select private.my_chat_id_array())::uuid[]));


-- -----------------------------------------------------------------------------
-- Triggers
-- -----------------------------------------------------------------------------

/**
 * For a message just stored in a group chat (called by the AFTER INSERT
 * trigger private.message_inserted, 20261202200000_message_send_path.sql, only
 * when the text holds an '@' or the message is a reply): resolves
 * `@username` mentions of a member's message (at most 20 distinct names per message) to
 * message_mentions rows and `mention` notifications
 * ({chat_id, message_id, sender_id}); a reply notifies the quoted message's
 * author (`reply`, same payload) unless mentioned already, muted, the sender,
 * or in a block with the sender. A username is 3-32 of [A-Za-z0-9_.-]
 * (users.username); a trailing '.' or '-' (end of a sentence) is tried
 * without it too.
 */
create or replace function private.resolve_mentions(p_message public.messages)
returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_author text;
  v_notified bigint;
begin
  if p_message.sender_id is null or p_message.kind not in ('text', 'image', 'file') then
    return;
  end if;

  if position('@' in p_message.content) > 0 then
    with names as (
      select distinct n.name
      from (
        select x.g[1] as raw
        from regexp_matches(p_message.content, '(?:^|[^A-Za-z0-9_.@-])@([A-Za-z0-9_.-]{3,32})', 'g') as x(g)
        limit 20
      ) s
      cross join lateral (values (s.raw), (rtrim(s.raw, '.-'))) as n(name)
    ), found_users as (
      select distinct u.id
      from names
      join public.users u on u.username operator(extensions.=) names.name::extensions.citext
      join public.chat_members cm on cm.chat_id = p_message.chat_id and cm.user_id = u.id
      where u.id <> p_message.sender_id
        and not private.is_blocked_between(p_message.sender_id, u.id)
    ), inserted as (
      insert into public.message_mentions (message_id, user_id, chat_id, created_at)
      select p_message.id, f.id, p_message.chat_id, p_message.created_at from found_users f
      on conflict do nothing
      returning user_id
    )
    select count(private.notify(i.user_id, 'mention',
             jsonb_build_object('chat_id', p_message.chat_id, 'message_id', p_message.id, 'sender_id', p_message.sender_id)))
    into v_notified
    from inserted i;
  end if;

  if p_message.reply_to_id is not null then
    select q.sender_id into v_author from public.messages q where q.id = p_message.reply_to_id;
    if v_author is not null and v_author <> p_message.sender_id
       and not exists (select 1 from public.message_mentions mm where mm.message_id = p_message.id and mm.user_id = v_author)
       and exists (select 1 from public.chat_members cm where cm.chat_id = p_message.chat_id and cm.user_id = v_author
                   and (cm.muted_until is null or cm.muted_until <= now()))
       and not private.is_blocked_between(p_message.sender_id, v_author) then
      perform private.notify(v_author, 'reply',
        jsonb_build_object('chat_id', p_message.chat_id, 'message_id', p_message.id, 'sender_id', p_message.sender_id));
    end if;
  end if;
end;
$$;

/** AFTER UPDATE OF deleted_at on messages: a deleted message mentions nobody. */
create or replace function private.forget_deleted_mentions()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if new.deleted_at is not null and old.deleted_at is null then
    delete from public.message_mentions mm where mm.message_id = new.id;
  end if;
  return null;
end;
$$;

create trigger messages_forget_deleted_mentions after update of deleted_at on public.messages
  for each row execute function private.forget_deleted_mentions();
