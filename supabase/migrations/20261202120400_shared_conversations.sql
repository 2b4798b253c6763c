-- =============================================================================
-- Shared and featured conversations (issue 18, item 4). The owner of an
-- assistant conversation publishes a read-only SNAPSHOT of it (title,
-- category, tags): the messages as they are at publication, frozen (later
-- messages are not in it; publishing again replaces the snapshot). Anyone,
-- signed in or not, reads published snapshots through the Data API:
--   * listing: `shared_conversations` filtered by `category`, ordered by
--     `published_at` (newest), `view_count` (most viewed) or `like_count`
--     (most liked), `featured_at is not null` for the featured ones;
--   * full-text search: `search` (tsvector, 'simple' configuration: no
--     language-specific stemming, conversations are in any language) with
--     PostgREST's `fts`/`wfts` operators (supabase-js `textSearch`);
--   * views: public.view_shared_conversation(id, viewer_id) returns the
--     snapshot and counts one view per viewer (signed in: the user; anonymous:
--     the `p_viewer_id` the client keeps, e.g. in localStorage);
--   * likes: signed-in users insert/delete their row in
--     shared_conversation_likes (like_count follows by trigger).
-- Nothing private leaks: a snapshot holds only each message's role
-- (user/assistant), text and time, and the author's public profile fields
-- (display name, avatar URL) as they were at publication; which chat it came
-- from is kept in private.chat_publications, out of the Data API.
-- The owner unpublishes (gone from every reader at once). Admins feature or
-- unfeature a conversation, take one down and restore it, each audited in
-- admin_audit_log; a taken-down conversation cannot be re-published by its
-- owner until an admin restores it.
--
-- Alike on purpose: function headers (returns, language, security, search_path,
-- the caller's id) and table declarations (grants, RLS, policies) repeat: each
-- object states its own contract (supabase/migrations/README.md, "Shapes that repeat").
-- =============================================================================

create type public.shared_conversation_status as enum ('published', 'unpublished', 'taken_down');
comment on type public.shared_conversation_status is
  'published: readable by anyone; unpublished: by its author only (the author can publish again); '
  'taken_down: by an admin; the author reads it but cannot publish it again until an admin restores it.';

-- -----------------------------------------------------------------------------
-- Tables
-- -----------------------------------------------------------------------------
create table public.shared_conversations (
  id uuid primary key default gen_random_uuid(),
  author_id public.clerk_user_id not null references public.users (id) on delete cascade,
  author_name text not null check (char_length(author_name) <= 100),
  author_avatar_url text check (author_avatar_url is null or author_avatar_url ~ '^https://'),
  title text not null check (char_length(btrim(title)) between 1 and 100),
  category text not null check (category ~ '^[a-z][a-z0-9-]{1,31}$'),
  tags text[] not null default '{}' check (cardinality(tags) <= 10),
  messages jsonb not null check (jsonb_typeof(messages) = 'array'),
  message_count integer not null check (message_count >= 1),
  content_text text not null,
  search tsvector generated always as (
    setweight(to_tsvector('simple'::regconfig, title), 'A') || to_tsvector('simple'::regconfig, content_text)
  ) stored,
  status public.shared_conversation_status not null default 'published',
  published_at timestamptz not null default now(),
  featured_at timestamptz,
  view_count bigint not null default 0 check (view_count >= 0),
  like_count bigint not null default 0 check (like_count >= 0),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint shared_conversations_featured_is_published check (featured_at is null or status = 'published')
);
comment on table public.shared_conversations is
  'Published read-only snapshots of assistant conversations. Anyone reads the published ones (Data API, anon included); '
  'authors also read their own; admins all. Written only through the RPCs of 20261202120400_shared_conversations.sql.';
comment on column public.shared_conversations.author_id is 'Clerk id of the author (public profile id).';
comment on column public.shared_conversations.author_name is 'The author''s display name at publication (public profile field).';
comment on column public.shared_conversations.author_avatar_url is 'The author''s avatar URL at publication (public profile field).';
comment on column public.shared_conversations.category is 'Lowercase slug, e.g. coding, travel, cooking (2 to 32 characters: a-z, 0-9, -).';
comment on column public.shared_conversations.tags is 'Up to 10 lowercase slugs (same format as category).';
comment on column public.shared_conversations.messages is
  'The frozen snapshot: json array of {role: "user" | "assistant", content, created_at}, oldest first; '
  'only the author''s prompts and the assistant''s answers, nothing else of the chat.';
comment on column public.shared_conversations.content_text is 'The tags and the snapshot''s texts joined (what `search` indexes besides the title).';
comment on column public.shared_conversations.search is
  'Full-text search vector (configuration simple): title (weight A), tags and messages. Query with fts/wfts.';
comment on column public.shared_conversations.featured_at is 'When an admin featured it (null: not featured).';
comment on column public.shared_conversations.view_count is 'Distinct viewers (public.view_shared_conversation counts each viewer once).';
comment on column public.shared_conversations.like_count is 'Rows in shared_conversation_likes (kept by trigger).';

create index shared_conversations_author_id_idx on public.shared_conversations (author_id);
create index shared_conversations_newest_idx on public.shared_conversations (status, published_at desc);
create index shared_conversations_most_viewed_idx on public.shared_conversations (status, view_count desc);
create index shared_conversations_most_liked_idx on public.shared_conversations (status, like_count desc);
create index shared_conversations_category_idx on public.shared_conversations (category, status, published_at desc);
create index shared_conversations_featured_idx on public.shared_conversations (featured_at desc) where featured_at is not null;
create index shared_conversations_search_idx on public.shared_conversations using gin (search);
create index shared_conversations_tags_idx on public.shared_conversations using gin (tags);

create table public.shared_conversation_likes (
  shared_id uuid not null references public.shared_conversations (id) on delete cascade,
  user_id public.clerk_user_id not null references public.users (id) on delete cascade,
  created_at timestamptz not null default now(),
  primary key (shared_id, user_id)
);
comment on table public.shared_conversation_likes is
  'One like per signed-in user and published conversation. Users insert and delete their own; they read their own.';

-- The primary key covers shared_id; the policies filter on user_id (and its FK).
create index shared_conversation_likes_user_id_idx on public.shared_conversation_likes (user_id);

create table public.shared_conversation_views (
  shared_id uuid not null references public.shared_conversations (id) on delete cascade,
  viewer_key text not null check (char_length(viewer_key) <= 100),
  viewed_at timestamptz not null default now(),
  primary key (shared_id, viewer_key)
);
comment on table public.shared_conversation_views is
  'Who has viewed a conversation (for view_count: one per viewer). viewer_key: account:<clerk id> or anon:<viewer uuid>. '
  'Not readable through the Data API; written by public.view_shared_conversation.';

-- Which chat each publication snapshots (kept out of the Data API).
create table private.chat_publications (
  chat_id uuid primary key references public.chats (id) on delete cascade,
  shared_id uuid not null unique references public.shared_conversations (id) on delete cascade
);
comment on table private.chat_publications is 'The assistant chat a shared conversation was published from (one publication per chat).';

-- -----------------------------------------------------------------------------
-- Grants and RLS policies
-- -----------------------------------------------------------------------------
grant select on public.shared_conversations to anon, authenticated, service_role;
grant select, insert, delete on public.shared_conversation_likes to authenticated;
grant select on public.shared_conversation_likes to service_role;
grant select on public.shared_conversation_views to service_role;

alter table public.shared_conversations enable row level security;
select private.lock_out_suspended_users('public.shared_conversations');
alter table public.shared_conversation_likes enable row level security;
select private.lock_out_suspended_users('public.shared_conversation_likes');
alter table public.shared_conversation_views enable row level security;
select private.lock_out_suspended_users('public.shared_conversation_views');
alter table private.chat_publications enable row level security;

create policy "Anyone can read published conversations"
  on public.shared_conversations for select to anon
  using (status = 'published');

create policy "Signed-in users read published conversations, their own, admins all"
  on public.shared_conversations for select to authenticated
  using (status = 'published' or author_id = (select auth.jwt()) ->> 'sub' or (select private.is_admin()));

create policy "Users can read their own likes"
  on public.shared_conversation_likes for select to authenticated
  using (user_id = (select auth.jwt()) ->> 'sub');

create policy "Users can like published conversations"
  on public.shared_conversation_likes for insert to authenticated
  with check (
    user_id = (select auth.jwt()) ->> 'sub'
    and exists (select 1 from public.shared_conversations s where s.id = shared_id and s.status = 'published')
  );

create policy "Users can remove their own likes"
  on public.shared_conversation_likes for delete to authenticated
  using (user_id = (select auth.jwt()) ->> 'sub');

-- -----------------------------------------------------------------------------
-- Like counts
-- -----------------------------------------------------------------------------

/** AFTER INSERT/DELETE on shared_conversation_likes: like_count follows. */
create or replace function private.shared_conversation_like_count()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if tg_op = 'INSERT' then
    update public.shared_conversations s set like_count = s.like_count + 1 where s.id = new.shared_id;
  else
    update public.shared_conversations s set like_count = greatest(s.like_count - 1, 0) where s.id = old.shared_id;
  end if;
  return null;
end;
$$;

create trigger shared_conversation_likes_count after insert or delete on public.shared_conversation_likes
  for each row execute function private.shared_conversation_like_count();

-- -----------------------------------------------------------------------------
-- RPCs
-- -----------------------------------------------------------------------------

/**
 * Publishes (or publishes again) a snapshot of the caller's assistant chat
 * `p_chat_id`: its non-deleted prompts (the caller's text messages) and
 * answers (kind ai), oldest first, at most the newest 500, frozen now, with
 * `p_title` (1..100), `p_category` and `p_tags` (lowercase slugs
 * ^[a-z][a-z0-9-]{1,31}$, at most 10 tags, duplicates removed) and the
 * caller's display name and avatar URL. Publishing again replaces the
 * snapshot, keeps the id, counts and likes, and clears `featured_at`.
 * Errors: PT404 not the caller's assistant chat; 42501 taken down by an admin
 * (ask an admin to restore it) or a suspended caller; 22023 invalid title,
 * category or tags, or nothing to publish.
 */
create or replace function public.publish_conversation(
  p_chat_id uuid, p_title text, p_category text, p_tags text[] default '{}'
)
returns public.shared_conversations
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_me text := private.require_user_id();
  v_tags text[];
  v_messages jsonb;
  v_count integer;
  v_text text;
  v_user public.users;
  v_existing public.shared_conversations;
  v_row public.shared_conversations;
begin
  if not exists (
    select 1 from public.chats c join public.chat_members cm on cm.chat_id = c.id
    where c.id = p_chat_id and c.kind = 'assistant' and cm.user_id = v_me
  ) then
    raise exception 'assistant chat not found' using errcode = 'PT404';
  end if;
  if p_title is null or char_length(btrim(p_title)) not between 1 and 100 then
    raise exception 'the title must have 1 to 100 characters' using errcode = '22023';
  end if;
  if p_category is null or p_category !~ '^[a-z][a-z0-9-]{1,31}$' then
    raise exception 'the category must be a lowercase slug (a-z, 0-9, -; 2 to 32 characters)' using errcode = '22023';
  end if;
  select coalesce(array_agg(distinct t order by t), '{}') into v_tags from unnest(coalesce(p_tags, '{}')) t;
  if cardinality(v_tags) > 10 or exists (select 1 from unnest(v_tags) t where t is null or t !~ '^[a-z][a-z0-9-]{1,31}$') then
    raise exception 'at most 10 tags, each a lowercase slug (a-z, 0-9, -; 2 to 32 characters)' using errcode = '22023';
  end if;

  select coalesce(jsonb_agg(jsonb_build_object('role', case when m.kind = 'ai' then 'assistant' else 'user' end,
                                               'content', m.content, 'created_at', m.created_at)
                            order by m.created_at, m.id), '[]'::jsonb),
         count(*), coalesce(string_agg(m.content, E'\n' order by m.created_at, m.id), '')
  into v_messages, v_count, v_text
  from (
    select x.id, x.kind, x.content, x.created_at from public.messages x
    where x.chat_id = p_chat_id and x.deleted_at is null and x.content <> ''
      and (x.kind = 'ai' or (x.kind = 'text' and x.sender_id = v_me))
    order by x.created_at desc, x.id desc
    limit 500
  ) m;
  if v_count = 0 then
    raise exception 'the conversation has no messages to publish' using errcode = '22023';
  end if;
  select * into v_user from public.users u where u.id = v_me;

  select s.* into v_existing from private.chat_publications p join public.shared_conversations s on s.id = p.shared_id
  where p.chat_id = p_chat_id for update of s;
  if found then
    if v_existing.status = 'taken_down' then
      raise exception 'this conversation was taken down by an admin; ask an admin to restore it' using errcode = '42501';
    end if;
    update public.shared_conversations s
    set title = btrim(p_title), category = p_category, tags = v_tags, messages = v_messages, message_count = v_count,
        content_text = array_to_string(v_tags, ' ') || E'\n' || v_text, author_name = coalesce(v_user.display_name, ''), author_avatar_url = v_user.avatar_url,
        status = 'published', published_at = now(), featured_at = null, updated_at = now()
    where s.id = v_existing.id
    returning * into v_row;
  else
    insert into public.shared_conversations (author_id, author_name, author_avatar_url, title, category, tags, messages,
                                             message_count, content_text)
    values (v_me, coalesce(v_user.display_name, ''), v_user.avatar_url, btrim(p_title), p_category, v_tags, v_messages,
            v_count, array_to_string(v_tags, ' ') || E'\n' || v_text)
    returning * into v_row;
    insert into private.chat_publications (chat_id, shared_id) values (p_chat_id, v_row.id);
  end if;
  return v_row;
end;
$$;

/**
 * The author takes their conversation off the public listing at once (status
 * unpublished, featured_at cleared). A taken-down one stays taken down.
 * Errors: PT404 not the caller's; 42501 suspended.
 */
create or replace function public.unpublish_conversation(p_shared_id uuid)
returns public.shared_conversations
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_me text := private.require_user_id();
  v_row public.shared_conversations;
begin
  update public.shared_conversations s
  set status = case when s.status = 'taken_down' then s.status else 'unpublished' end,
      featured_at = null, updated_at = now()
  where s.id = p_shared_id and s.author_id = v_me
  returning * into v_row;
  if not found then
    raise exception 'shared conversation not found' using errcode = 'PT404';
  end if;
  return v_row;
end;
$$;

/**
 * Reads a published conversation and counts the view once per viewer: a
 * signed-in caller is `account:<id>` (p_viewer_id ignored), an anonymous one
 * `anon:<p_viewer_id>` (a uuid the client keeps; without it the view is not
 * counted). Returns the row with its counts after this view.
 * Errors: PT404 not published (or unknown).
 */
create or replace function public.view_shared_conversation(p_shared_id uuid, p_viewer_id uuid default null)
returns public.shared_conversations
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_sub text := private.current_user_id();
  v_key text;
  v_row public.shared_conversations;
  v_new integer;
begin
  if v_sub is not null then
    perform private.require_user_id();
  end if;
  select * into v_row from public.shared_conversations s where s.id = p_shared_id and s.status = 'published';
  if not found then
    raise exception 'shared conversation not found' using errcode = 'PT404';
  end if;
  v_key := case when v_sub is not null then 'account:' || v_sub
                when p_viewer_id is not null then 'anon:' || p_viewer_id::text end;
  if v_key is not null then
    insert into public.shared_conversation_views (shared_id, viewer_key) values (p_shared_id, v_key)
    on conflict do nothing;
    get diagnostics v_new = row_count;
    if v_new > 0 then
      update public.shared_conversations s set view_count = s.view_count + 1 where s.id = p_shared_id
      returning * into v_row;
    end if;
  end if;
  return v_row;
end;
$$;

/**
 * The one door for admin moderation of a shared conversation, audited with
 * `p_reason` (details: its title, and its status before for take-down and
 * restore): `p_action` is
 *   shared.feature   (published only: featured_at set, kept if already set),
 *   shared.unfeature (featured_at cleared),
 *   shared.take_down (status taken_down, featured_at cleared),
 *   shared.restore   (a taken-down one becomes unpublished: its author may
 *                     publish it again; any other status is kept).
 * Returns the row after the change.
 * Errors: 42501 not an admin; PT404 unknown; 22023 featuring one that is not published.
 */
create or replace function private.admin_moderate_conversation(p_shared_id uuid, p_action text, p_reason text)
returns public.shared_conversations
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_actor text := private.require_admin();
  v_row public.shared_conversations;
begin
  select * into v_row from public.shared_conversations s where s.id = p_shared_id for update;
  if not found then
    raise exception 'shared conversation not found' using errcode = 'PT404';
  end if;
  if p_action = 'shared.feature' and v_row.status <> 'published' then
    raise exception 'only a published conversation can be featured' using errcode = '22023';
  end if;
  perform private.audit(v_actor, p_action, v_row.author_id, p_shared_id::text, p_reason,
    jsonb_build_object('title', v_row.title)
      || case when p_action in ('shared.take_down', 'shared.restore') then jsonb_build_object('status', v_row.status)
              else '{}'::jsonb end);
  update public.shared_conversations s
  set status = case p_action
                 when 'shared.take_down' then 'taken_down'
                 when 'shared.restore' then case when s.status = 'taken_down' then 'unpublished' else s.status end
                 else s.status
               end::public.shared_conversation_status,
      featured_at = case p_action
                      when 'shared.feature' then coalesce(s.featured_at, now())
                      when 'shared.unfeature' then null
                      when 'shared.take_down' then null
                      else s.featured_at
                    end,
      updated_at = now()
  where s.id = p_shared_id
  returning * into v_row;
  return v_row;
end;
$$;

-- Alike on purpose: each admin RPC is a thin wrapper that names its action (admin_feature_conversation,
-- admin_take_down_conversation), as admin_grant_credits / admin_deduct_credits do.
/**
 * Admin: feature (`p_featured`) or unfeature a published conversation,
 * audited (shared.feature / shared.unfeature, with `p_reason`).
 * See private.admin_moderate_conversation.
 * Errors: 42501 not an admin; PT404 unknown; 22023 not published.
 */
create or replace function public.admin_feature_conversation(p_shared_id uuid, p_featured boolean, p_reason text)
returns public.shared_conversations
language sql
security definer
set search_path = ''
as $$
  select private.admin_moderate_conversation(p_shared_id,
    case when coalesce(p_featured, false) then 'shared.feature' else 'shared.unfeature' end, p_reason)
$$;

/**
 * Admin: take a conversation down (`p_taken_down`: gone from every reader
 * but its author, who cannot publish it again) or restore it (status
 * unpublished: its author may publish again). Audited (shared.take_down /
 * shared.restore, with `p_reason`). See private.admin_moderate_conversation.
 * Errors: 42501 not an admin; PT404 unknown.
 */
create or replace function public.admin_take_down_conversation(p_shared_id uuid, p_taken_down boolean, p_reason text)
returns public.shared_conversations
language sql
security definer
set search_path = ''
as $$
  select private.admin_moderate_conversation(p_shared_id,
    case when coalesce(p_taken_down, true) then 'shared.take_down' else 'shared.restore' end, p_reason)
$$;

revoke execute on function
  public.publish_conversation(uuid, text, text, text[]),
  public.unpublish_conversation(uuid),
  public.view_shared_conversation(uuid, uuid),
  public.admin_feature_conversation(uuid, boolean, text),
  public.admin_take_down_conversation(uuid, boolean, text)
  from public, anon;
grant execute on function
  public.publish_conversation(uuid, text, text, text[]),
  public.unpublish_conversation(uuid),
  public.admin_feature_conversation(uuid, boolean, text),
  public.admin_take_down_conversation(uuid, boolean, text)
  to authenticated, service_role;
grant execute on function public.view_shared_conversation(uuid, uuid) to anon, authenticated, service_role;
revoke execute on function private.shared_conversation_like_count() from public;
