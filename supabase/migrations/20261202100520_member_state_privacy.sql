-- =============================================================================
-- Privacy of per-member chat state (issue 16; docs/messaging.md).
--
-- Members of a chat read its chat_members rows (who is in it, their roles and
-- read/delivery pointers, which the read receipts and delivery ticks need).
-- The member's own settings, archived_at, muted_until, pinned_at and
-- cleared_at (20261202100200_member_state.sql), are nobody else's business:
-- authenticated may select only the other columns of chat_members (column
-- privileges, https://www.postgresql.org/docs/current/sql-grant.html; granted
-- in 20261122080400_chats.sql and 20261202100200_member_state.sql). A member
-- reads their own settings through get_inbox or my_chat_settings() (security
-- definer, the caller's rows only). PostgREST clients must name columns:
-- `select=*` on chat_members is refused (42501) since not every column is
-- granted.
--
-- Also defined here, as they read the caller's cleared_at: get_chat_history
-- (security invoker, through private.my_cleared_at()) and search_messages
-- (security definer, the caller's chats read first, cleared_at through
-- private.my_cleared_at() only when the caller cleared one;
-- search's indexes, settings and query parsing are in
-- 20261202100100_message_search.sql).
--
-- Alike on purpose: function headers (returns, language, security, search_path,
-- the caller's id) and table declarations (grants, RLS, policies) repeat: each
-- object states its own contract (supabase/migrations/README.md, "Shapes that repeat").
-- =============================================================================

/** The caller's chat_members.cleared_at in `p_chat_id` ('-infinity' when none or not a member). */
create or replace function private.my_cleared_at(p_chat_id uuid)
returns timestamptz
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  return coalesce(
    (select cm.cleared_at from public.chat_members cm
     where cm.chat_id = p_chat_id and cm.user_id = nullif(auth.jwt() ->> 'sub', '')),
    '-infinity'::timestamptz);
end;
$$;

revoke execute on function private.my_cleared_at(uuid) from public, anon;
grant execute on function private.my_cleared_at(uuid) to authenticated, service_role;

/**
 * The caller's own settings in each of their chats:
 * (chat_id, archived_at, muted_until, pinned_at, cleared_at), optionally of
 * one chat. Nobody else's. Errors: 42501 not signed in / suspended.
 */
create or replace function public.my_chat_settings(p_chat_id uuid default null)
returns table (chat_id uuid, archived_at timestamptz, muted_until timestamptz, pinned_at timestamptz, cleared_at timestamptz)
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  v_me text := private.require_user_id();
begin
  return query
    select cm.chat_id, cm.archived_at, cm.muted_until, cm.pinned_at, cm.cleared_at
    from public.chat_members cm
    where cm.user_id = v_me and (p_chat_id is null or cm.chat_id = p_chat_id)
    order by cm.chat_id;
end;
$$;

revoke execute on function public.my_chat_settings(uuid) from public, anon;
grant execute on function public.my_chat_settings(uuid) to authenticated, service_role;

-- -----------------------------------------------------------------------------
-- History
-- -----------------------------------------------------------------------------
/**
 * One page of a chat's history, newest first: the `p_limit` (1..200, default
 * 50) messages before the cursor (`p_before_created_at`, `p_before_id`), or
 * the latest ones without a cursor; messages at or before the caller's
 * chat_members.cleared_at are left out. Security invoker: a non-member gets
 * no rows. Reactions and delivery status come with the page as computed
 * fields: `rpc('get_chat_history', …).select('*, reactions, delivery')`.
 */
create or replace function public.get_chat_history(
  p_chat_id uuid,
  p_before_created_at timestamptz default null,
  p_before_id uuid default null,
  p_limit integer default 50
)
returns setof public.messages
language plpgsql
stable
security invoker
set search_path = ''
as $$
declare
  v_limit integer := greatest(1, least(coalesce(p_limit, 50), 200));
  v_cleared timestamptz := private.my_cleared_at(p_chat_id);
begin
  -- Alike on purpose: with and without a cursor, each an ordered index scan.
  if p_before_created_at is null then
    return query
      select * from public.messages m
      where m.chat_id = p_chat_id and m.created_at > v_cleared
      order by m.created_at desc, m.id desc
      limit v_limit;
  else
    return query
      select * from public.messages m
      where m.chat_id = p_chat_id and m.created_at > v_cleared
        and (m.created_at, m.id) < (p_before_created_at,
             coalesce(p_before_id, 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid))
      order by m.created_at desc, m.id desc
      limit v_limit;
  end if;
end;
$$;

-- -----------------------------------------------------------------------------
-- Search
-- -----------------------------------------------------------------------------
/**
 * Full-text and trigram search over the messages of the caller's chats.
 * Parameters: `p_query` 1-200 characters (websearch syntax, every term also a
 * prefix); optional filters `p_chat_id`, `p_sender_id`, `p_after` and
 * `p_before` (created_at bounds, exclusive); `p_limit` 1..50 (default 20).
 * Cursor: pass the last row's `rank`, `created_at` and `id` as
 * `p_cursor_rank`, `p_cursor_created_at`, `p_cursor_id` for the next page.
 * Rows: id, chat_id, sender_id, kind, content, created_at, rank (higher is
 * better: ts_rank of the full-text match or, when full text matches nothing,
 * the trigram word similarity 0..1). A chat whose history the caller cleared
 * (chat_members.cleared_at) matches only after that time.
 * Volatile: counts against rate_limit.message_search.* (call with POST,
 * supabase-js's default for rpc()).
 * Security definer, with the read policy of messages written into its own
 * queries (the caller's memberships, joined, with their cleared_at; the
 * caller's suspension refused by private.require_user_id): under RLS the
 * full-text and trigram indexes could not serve the match (`@@` and `<%` are
 * not leakproof, so PostgreSQL evaluates them only after the policies,
 * https://www.postgresql.org/docs/current/ddl-rowsecurity.html), and every
 * message of the caller's chats was read and parsed (docs/scaling.md).
 * Errors: 42501 not signed in / suspended; 22023 query shorter than 1 or
 * longer than 200 characters; PT429 (HTTP 429) too many searches.
 */
create or replace function public.search_messages(
  p_query text,
  p_chat_id uuid default null,
  p_sender_id text default null,
  p_after timestamptz default null,
  p_before timestamptz default null,
  p_limit integer default 20,
  p_cursor_rank double precision default null,
  p_cursor_created_at timestamptz default null,
  p_cursor_id uuid default null
)
returns table (
  id uuid,
  chat_id uuid,
  sender_id text,
  kind public.message_kind,
  content text,
  created_at timestamptz,
  rank double precision
)
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_me text := private.require_user_id();
  v_q text := btrim(coalesce(p_query, ''));
  v_ts tsquery;
  v_chats uuid[];
  v_any_cleared boolean;
  v_fts boolean;
  v_limit integer := greatest(1, least(coalesce(p_limit, 20), 50));
begin
  if char_length(v_q) < 1 or char_length(v_q) > 200 then
    raise exception 'search query must have 1 to 200 characters' using errcode = '22023';
  end if;
  perform private.rate_limit('message_search');
  v_ts := private.prefix_tsquery(v_q);
  -- The messages read policy, written out: the caller's chats (an array, so
  -- that the planner weighs the chat index against the text indexes), and
  -- whether any of them was cleared (only then is each candidate's
  -- cleared_at looked up, by private.my_cleared_at; most callers cleared
  -- nothing).
  select coalesce(array_agg(cm.chat_id), '{}'), coalesce(bool_or(cm.cleared_at is not null), false)
  into v_chats, v_any_cleared
  from public.chat_members cm
  where cm.user_id = v_me and (p_chat_id is null or cm.chat_id = p_chat_id);

  -- Full text first; trigram word similarity only when full text matches
  -- nothing of what the caller may search (a misspelt name, part of a word).
  -- The mode does not depend on the cursor, so pages stay consistent.
  v_fts := v_ts is not null and exists (
    select 1 from public.messages m
    where m.chat_id = any (v_chats) and m.deleted_at is null
      and to_tsvector('simple'::regconfig, m.content) @@ v_ts
      and (p_sender_id is null or m.sender_id = p_sender_id)
      and (p_after is null or m.created_at > p_after)
      and (p_before is null or m.created_at < p_before)
      and (not v_any_cleared or m.created_at > private.my_cleared_at(m.chat_id)));

  -- Alike on purpose: the two queries differ in the match and the rank, each
  -- an index scan of its own (README "Shapes that repeat").
  if v_fts then
    return query
    with hits as (
      select m.id, m.chat_id, m.sender_id, m.kind, m.content, m.created_at,
             ts_rank(to_tsvector('simple'::regconfig, m.content), v_ts)::double precision as rank
      from public.messages m
      where m.chat_id = any (v_chats) and m.deleted_at is null
        and to_tsvector('simple'::regconfig, m.content) @@ v_ts
        and (p_sender_id is null or m.sender_id = p_sender_id)
        and (p_after is null or m.created_at > p_after)
        and (p_before is null or m.created_at < p_before)
        and (not v_any_cleared or m.created_at > private.my_cleared_at(m.chat_id))
    )
    select h.id, h.chat_id, h.sender_id::text, h.kind, h.content, h.created_at, h.rank
    from hits h
    where p_cursor_rank is null
       or (h.rank, h.created_at, h.id) < (p_cursor_rank, coalesce(p_cursor_created_at, 'infinity'::timestamptz),
                                          coalesce(p_cursor_id, 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid))
    order by h.rank desc, h.created_at desc, h.id desc
    limit v_limit;
  else
    return query
    with hits as (
      select m.id, m.chat_id, m.sender_id, m.kind, m.content, m.created_at,
             extensions.word_similarity(v_q, m.content)::double precision as rank
      from public.messages m
      where m.chat_id = any (v_chats) and m.deleted_at is null
        and v_q operator(extensions.<%) m.content
        and (p_sender_id is null or m.sender_id = p_sender_id)
        and (p_after is null or m.created_at > p_after)
        and (p_before is null or m.created_at < p_before)
        and (not v_any_cleared or m.created_at > private.my_cleared_at(m.chat_id))
    )
    select h.id, h.chat_id, h.sender_id::text, h.kind, h.content, h.created_at, h.rank
    from hits h
    where p_cursor_rank is null
       or (h.rank, h.created_at, h.id) < (p_cursor_rank, coalesce(p_cursor_created_at, 'infinity'::timestamptz),
                                          coalesce(p_cursor_id, 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid))
    order by h.rank desc, h.created_at desc, h.id desc
    limit v_limit;
  end if;
end;
$$;

revoke execute on function
  public.get_chat_history(uuid, timestamptz, uuid, integer),
  public.search_messages(text, uuid, text, timestamptz, timestamptz, integer, double precision, timestamptz, uuid)
  from public, anon;
grant execute on function
  public.get_chat_history(uuid, timestamptz, uuid, integer),
  public.search_messages(text, uuid, text, timestamptz, timestamptz, integer, double precision, timestamptz, uuid)
  to authenticated, service_role;
