-- =============================================================================
-- Chats and their members (direct, group and assistant conversations).
--
-- kinds: `direct` (exactly one per pair of users, enforced by `direct_key`),
-- `group` (title, avatar, members with roles owner/admin/member) and
-- `assistant` (one user's private conversation with the AI, with a title).
-- Membership is the unit of access: a user reads a chat, its members and its
-- messages only while a member. Chats and memberships are created and changed
-- through RPCs; a group's owner or admins edit its title and avatar directly.
-- Read state (last message read) lives on the membership row.
-- chats.last_message_id and chat_members.last_read_message_id are declared and
-- indexed here; their foreign keys to messages are added by the messages
-- migration (messages.chat_id references chats).
--
-- Alike on purpose: function headers (returns, language, security, search_path,
-- the caller's id) and table declarations (grants, RLS, policies) repeat: each
-- object states its own contract (supabase/migrations/README.md, "Shapes that repeat").
-- =============================================================================

-- -----------------------------------------------------------------------------
-- Types and tables
-- -----------------------------------------------------------------------------
create type public.chat_kind as enum ('direct', 'group', 'assistant');
create type public.chat_member_role as enum ('owner', 'admin', 'member');

create table public.chats (
  id uuid primary key default gen_random_uuid(),
  kind public.chat_kind not null,
  title text check (title is null or char_length(title) between 1 and 100),
  avatar_url text check (avatar_url is null or avatar_url ~ '^https://'),
  created_by public.clerk_user_id references public.users (id) on delete set null,
  direct_key text unique,
  last_message_at timestamptz,
  last_message_id uuid,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint chats_direct_key_only_for_direct check ((kind = 'direct') = (direct_key is not null)),
  constraint chats_direct_has_no_title check (kind <> 'direct' or (title is null and avatar_url is null))
);
comment on table public.chats is
  'A conversation: direct (one per pair), group, or assistant (a user''s AI conversation). Visible to its members only.';
comment on column public.chats.direct_key is
  'For direct chats: the two user ids sorted and joined by ":" (unique, so a pair has one direct chat).';
comment on column public.chats.last_message_at is 'created_at of the newest message; maintained by a trigger on messages.';
comment on column public.chats.last_message_id is 'id of the newest message; maintained by a trigger on messages.';

create index chats_created_by_idx on public.chats (created_by);
-- Foreign key to messages (added by 20261122080600_messages.sql, which creates messages).
create index chats_last_message_id_idx on public.chats (last_message_id);

create table public.chat_members (
  chat_id uuid not null references public.chats (id) on delete cascade,
  user_id public.clerk_user_id not null references public.users (id) on delete cascade,
  role public.chat_member_role not null default 'member',
  joined_at timestamptz not null default now(),
  last_read_message_id uuid,
  last_read_at timestamptz,
  primary key (chat_id, user_id)
);
comment on table public.chat_members is
  'Who is in which chat, with their role and read state. Changed through RPCs only.';
comment on column public.chat_members.last_read_at is
  'created_at of the last message this member has read; messages after it (by others) are unread.';

-- Policy helper and "my chats" lookups.
create index chat_members_user_id_idx on public.chat_members (user_id, chat_id);
-- Foreign key to messages (added by 20261122080600_messages.sql).
create index chat_members_last_read_message_id_idx on public.chat_members (last_read_message_id);

create trigger chats_set_updated_at before update on public.chats
  for each row execute function private.set_updated_at();

-- -----------------------------------------------------------------------------
-- Membership helpers (security definer: policies on chat_members cannot query
-- chat_members under RLS without recursing)
--
-- PL/pgSQL, not SQL, on purpose: a security-definer SQL function is never
-- inlined, so PostgreSQL plans its body again on every statement that calls
-- it; a PL/pgSQL function keeps its plan for the session (a pooled
-- connection). They read the caller's id as `nullif(auth.jwt() ->> 'sub', '')`,
-- which is private.current_user_id()'s body inlined (calling that SQL
-- function would plan it again per statement). Policies evaluate them once per
-- statement (`(select …)`). bench/ measures the difference.
-- -----------------------------------------------------------------------------

/**
 * Ids of the chats the caller is a member of, as an array. Use in policies as
 * `chat_id = any ((select private.my_chat_id_array())::uuid[])`: evaluated
 * once per statement, and an index condition on chat_id (an ordered index scan
 * with LIMIT stays possible, where `chat_id in (select …)` filters row by row
 * and makes the planner expect a quarter of the rows).
 */
create or replace function private.my_chat_id_array()
returns uuid[]
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  return array(
    select m.chat_id from public.chat_members m where m.user_id = nullif(auth.jwt() ->> 'sub', '')
  );
end;
$$;

/** Ids of the chats the caller is a member of. Use as `chat_id in (select private.my_chat_ids())`. */
create or replace function private.my_chat_ids()
returns setof uuid
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  return query
    select m.chat_id from public.chat_members m where m.user_id = nullif(auth.jwt() ->> 'sub', '');
end;
$$;

/** The caller's role in a chat, or null when not a member. */
create or replace function private.my_chat_role(p_chat_id uuid)
returns public.chat_member_role
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  return (
    select m.role from public.chat_members m
    where m.chat_id = p_chat_id and m.user_id = nullif(auth.jwt() ->> 'sub', '')
  );
end;
$$;

/**
 * True when `p_chat_id` is a direct chat and its other member and `p_user_id`
 * block each other (either way, private.is_blocked_between): nothing new
 * passes between them there (reactions, pins, typing and presence).
 */
create or replace function private.blocked_in_direct_chat(p_chat_id uuid, p_user_id text)
returns boolean
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  return exists (
    select 1
    from public.chats c join public.chat_members o on o.chat_id = c.id
    where c.id = p_chat_id and c.kind = 'direct' and o.user_id <> p_user_id
      and private.is_blocked_between(p_user_id, o.user_id)
  );
end;
$$;
revoke execute on function private.blocked_in_direct_chat(uuid, text) from public, anon, authenticated;

grant execute on function private.my_chat_id_array() to authenticated, service_role;
grant execute on function private.my_chat_ids() to authenticated, service_role;
grant execute on function private.my_chat_role(uuid) to authenticated, service_role;

-- -----------------------------------------------------------------------------
-- Grants and RLS policies
-- -----------------------------------------------------------------------------
grant select on public.chats to authenticated;
-- Column grant: members read who is in a chat, roles and read pointers; each
-- member's own settings, added with their feature, are granted to nobody
-- (20261202100200_member_state.sql, 20261202100520_member_state_privacy.sql).
grant select (chat_id, user_id, role, joined_at, last_read_message_id, last_read_at)
  on public.chat_members to authenticated;
grant update (title, avatar_url) on public.chats to authenticated;
grant delete on public.chats to authenticated;
grant select, insert, update, delete on public.chats, public.chat_members to service_role;

alter table public.chats enable row level security;
alter table public.chat_members enable row level security;

create policy "Members can read their chats"
  on public.chats for select to authenticated
  using (id = any ((select private.my_chat_id_array())::uuid[]));

create policy "Group owners and admins, and assistant chat owners, can rename their chat"
  on public.chats for update to authenticated
  using (
    kind in ('group', 'assistant')
    and (select private.my_chat_role(id)) in ('owner', 'admin')
  )
  with check (
    kind in ('group', 'assistant')
    and (select private.my_chat_role(id)) in ('owner', 'admin')
  );

create policy "Owners can delete their assistant chats"
  on public.chats for delete to authenticated
  using (kind = 'assistant' and (select private.my_chat_role(id)) = 'owner');

create policy "Members can read the members of their chats"
  on public.chat_members for select to authenticated
  using (chat_id = any ((select private.my_chat_id_array())::uuid[]));

-- -----------------------------------------------------------------------------
-- Realtime side effects: tell a user when they join or leave a chat
-- -----------------------------------------------------------------------------

/** AFTER INSERT/DELETE on chat_members: event `chat_added` / `chat_removed` on `user:<user_id>`. */
create or replace function private.broadcast_membership()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if tg_op = 'INSERT' then
    perform realtime.send(
      jsonb_build_object('chat_id', new.chat_id, 'role', new.role),
      'chat_added', private.user_topic(new.user_id), true);
  else
    perform realtime.send(
      jsonb_build_object('chat_id', old.chat_id),
      'chat_removed', private.user_topic(old.user_id), true);
  end if;
  return null;
end;
$$;

create trigger chat_members_broadcast after insert or delete on public.chat_members
  for each row execute function private.broadcast_membership();

-- -----------------------------------------------------------------------------
-- RPCs (security definer; each checks the caller itself)
-- Errors: 42501 not allowed; PT404 not found (404); 22023 invalid argument (400).
-- -----------------------------------------------------------------------------

/**
 * Returns the direct chat between the caller and `p_user_id`, creating it (and
 * both memberships) on first use. Safe under concurrency: two users opening
 * the same chat at once get the same chat (unique `direct_key`).
 * Errors: 22023 self; PT404 unknown user; 42501 either side blocks the other.
 */
create or replace function public.get_or_create_direct_chat(p_user_id text)
returns public.chats
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_me text := private.require_user_id();
  v_key text;
  v_chat public.chats;
begin
  if p_user_id = v_me then
    raise exception 'cannot open a direct chat with yourself' using errcode = '22023';
  end if;
  perform private.assert_user_exists(v_me);
  perform private.assert_user_exists(p_user_id);
  if private.is_blocked_between(v_me, p_user_id) then
    raise exception 'cannot open a direct chat with this user' using errcode = '42501';
  end if;
  v_key := least(v_me, p_user_id) || ':' || greatest(v_me, p_user_id);

  insert into public.chats (kind, created_by, direct_key)
  values ('direct', v_me, v_key)
  on conflict (direct_key) do nothing;
  select * into v_chat from public.chats c where c.direct_key = v_key;

  insert into public.chat_members (chat_id, user_id, role)
  values (v_chat.id, v_me, 'member'), (v_chat.id, p_user_id, 'member')
  on conflict (chat_id, user_id) do nothing;
  return v_chat;
end;
$$;

/**
 * Creates a group chat owned by the caller with the given members (role
 * member). Unknown ids, the caller, duplicates and users in a block with the
 * caller are skipped.
 * Errors: 22023 title empty or longer than 100 characters.
 */
create or replace function public.create_group_chat(p_title text, p_member_ids text[] default '{}')
returns public.chats
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_me text := private.require_user_id();
  v_chat public.chats;
begin
  if p_title is null or char_length(btrim(p_title)) not between 1 and 100 then
    raise exception 'a group needs a title of 1 to 100 characters' using errcode = '22023';
  end if;
  perform private.assert_user_exists(v_me);
  insert into public.chats (kind, title, created_by)
  values ('group', btrim(p_title), v_me)
  returning * into v_chat;

  insert into public.chat_members (chat_id, user_id, role) values (v_chat.id, v_me, 'owner');
  insert into public.chat_members (chat_id, user_id, role)
  select distinct v_chat.id, u.id, 'member'::public.chat_member_role
  from public.users u
  where u.id = any (coalesce(p_member_ids, '{}'))
    and u.id <> v_me
    and not private.is_blocked_between(v_me, u.id);
  return v_chat;
end;
$$;

/**
 * Creates an assistant chat (the caller's private AI conversation). The title
 * may be null: the ai-chat function names it after the first exchange.
 * Errors: 22023 title longer than 100 characters.
 */
create or replace function public.create_assistant_chat(p_title text default null)
returns public.chats
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_me text := private.require_user_id();
  v_chat public.chats;
begin
  perform private.assert_user_exists(v_me);
  -- Refused like create_group_chat's title, never cut silently.
  if char_length(btrim(coalesce(p_title, ''))) > 100 then
    raise exception 'title must be at most 100 characters' using errcode = '22023';
  end if;
  insert into public.chats (kind, title, created_by)
  values ('assistant', nullif(btrim(coalesce(p_title, '')), ''), v_me)
  returning * into v_chat;
  insert into public.chat_members (chat_id, user_id, role) values (v_chat.id, v_me, 'owner');
  return v_chat;
end;
$$;

/**
 * Raises unless the caller may use RPCs (private.require_user_id: signed in,
 * not suspended) and `p_chat_id` is a group chat in which they are owner or
 * admin; returns the caller's role. A chat the caller is not a member of is
 * "not found", whether it exists or not.
 */
create or replace function private.assert_group_manager(p_chat_id uuid)
returns public.chat_member_role
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  v_role public.chat_member_role;
begin
  perform private.require_user_id();
  v_role := private.my_chat_role(p_chat_id);
  if v_role is null then
    raise exception 'chat not found' using errcode = 'PT404';
  end if;
  if not exists (select 1 from public.chats c where c.id = p_chat_id and c.kind = 'group') then
    raise exception 'only group chats have managed members' using errcode = '22023';
  end if;
  if v_role not in ('owner', 'admin') then
    raise exception 'only the group''s owner or admins can do this' using errcode = '42501';
  end if;
  return v_role;
end;
$$;

/**
 * Adds `p_user_id` to a group. Caller must be owner or admin; only the owner
 * may add an admin. Adding an existing member returns their membership.
 * Errors: PT404 chat or user not found; 42501 not allowed or blocked; 22023 bad role.
 */
create or replace function public.add_chat_member(
  p_chat_id uuid, p_user_id text, p_role public.chat_member_role default 'member'
)
returns public.chat_members
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_me text := private.require_user_id();
  v_my_role public.chat_member_role := private.assert_group_manager(p_chat_id);
  v_row public.chat_members;
begin
  perform private.assert_user_exists(p_user_id);
  if p_role = 'owner' then
    raise exception 'a group has one owner' using errcode = '22023';
  end if;
  if p_role = 'admin' and v_my_role <> 'owner' then
    raise exception 'only the owner can add admins' using errcode = '42501';
  end if;
  if private.is_blocked_between(v_me, p_user_id) then
    raise exception 'cannot add this user' using errcode = '42501';
  end if;
  insert into public.chat_members (chat_id, user_id, role)
  values (p_chat_id, p_user_id, p_role)
  on conflict (chat_id, user_id) do nothing;
  if found then
    perform private.notify(p_user_id, 'chat_added',
      jsonb_build_object('chat_id', p_chat_id, 'by_user_id', v_me));
  end if;
  select * into v_row from public.chat_members m where m.chat_id = p_chat_id and m.user_id = p_user_id;
  return v_row;
end;
$$;

/**
 * Removes a member from a group. The owner removes anyone but themselves;
 * admins remove plain members.
 * Errors: PT404 chat or member not found; 42501 not allowed.
 */
create or replace function public.remove_chat_member(p_chat_id uuid, p_user_id text)
returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_my_role public.chat_member_role := private.assert_group_manager(p_chat_id);
  v_their_role public.chat_member_role;
begin
  select m.role into v_their_role from public.chat_members m
  where m.chat_id = p_chat_id and m.user_id = p_user_id;
  if v_their_role is null then
    raise exception 'that user is not a member of this chat' using errcode = 'PT404';
  end if;
  if v_their_role = 'owner' or (v_my_role = 'admin' and v_their_role <> 'member') then
    raise exception 'you cannot remove this member' using errcode = '42501';
  end if;
  delete from public.chat_members m where m.chat_id = p_chat_id and m.user_id = p_user_id;
end;
$$;

/**
 * Makes a member an admin or a plain member. Owner only.
 * Errors: PT404 chat or member not found; 42501 not the owner; 22023 bad role.
 */
create or replace function public.set_chat_member_role(
  p_chat_id uuid, p_user_id text, p_role public.chat_member_role
)
returns public.chat_members
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_my_role public.chat_member_role := private.assert_group_manager(p_chat_id);
  v_row public.chat_members;
begin
  if v_my_role <> 'owner' then
    raise exception 'only the owner can change roles' using errcode = '42501';
  end if;
  if p_role = 'owner' or p_user_id = private.current_user_id() then
    raise exception 'the owner''s role cannot change' using errcode = '22023';
  end if;
  update public.chat_members m set role = p_role
  where m.chat_id = p_chat_id and m.user_id = p_user_id
  returning * into v_row;
  if not found then
    raise exception 'that user is not a member of this chat' using errcode = 'PT404';
  end if;
  return v_row;
end;
$$;

/**
 * The caller leaves a group. If the owner leaves, the longest-standing admin
 * (else member) becomes owner; the last member leaving deletes the group.
 * Assistant chats are deleted instead (delete on chats); direct chats cannot be
 * left (block the user instead).
 * Errors: PT404 not a member; 22023 not a group.
 */
create or replace function public.leave_chat(p_chat_id uuid)
returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_me text := private.require_user_id();
  v_role public.chat_member_role := private.my_chat_role(p_chat_id);
  v_next text;
begin
  if v_role is null then
    raise exception 'chat not found' using errcode = 'PT404';
  end if;
  if not exists (select 1 from public.chats c where c.id = p_chat_id and c.kind = 'group') then
    raise exception 'only group chats can be left' using errcode = '22023';
  end if;
  delete from public.chat_members m where m.chat_id = p_chat_id and m.user_id = v_me;
  if v_role = 'owner' then
    select m.user_id into v_next from public.chat_members m
    where m.chat_id = p_chat_id
    order by (m.role = 'admin') desc, m.joined_at, m.user_id
    limit 1;
    if v_next is null then
      delete from public.chats c where c.id = p_chat_id;
    else
      update public.chat_members m set role = 'owner'
      where m.chat_id = p_chat_id and m.user_id = v_next;
    end if;
  end if;
end;
$$;

revoke execute on function
  public.get_or_create_direct_chat(text), public.create_group_chat(text, text[]),
  public.create_assistant_chat(text),
  public.add_chat_member(uuid, text, public.chat_member_role),
  public.remove_chat_member(uuid, text),
  public.set_chat_member_role(uuid, text, public.chat_member_role),
  public.leave_chat(uuid)
  from public, anon;
grant execute on function
  public.get_or_create_direct_chat(text), public.create_group_chat(text, text[]),
  public.create_assistant_chat(text),
  public.add_chat_member(uuid, text, public.chat_member_role),
  public.remove_chat_member(uuid, text),
  public.set_chat_member_role(uuid, text, public.chat_member_role),
  public.leave_chat(uuid)
  to authenticated, service_role;
