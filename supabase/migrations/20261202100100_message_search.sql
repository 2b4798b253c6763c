-- =============================================================================
-- Message search under RLS (issue 16, docs/messaging.md).
--
-- public.search_messages finds messages of the chats the caller is a member of
-- (only while a member: security invoker, the messages read policy applies,
-- and the query also names the caller's chats so that it is an index
-- condition). Language-neutral: the `simple` text search configuration
-- (lower-cases, no stemming, no stop words: any language), with
-- websearch-style syntax (`"a phrase"`, `or`, `-word`;
-- https://www.postgresql.org/docs/current/textsearch-controls.html#TEXTSEARCH-PARSING-QUERIES)
-- where every term also matches as a prefix (`:*`), plus pg_trgm word
-- similarity when full text finds nothing (misspelt names, parts of words;
-- https://www.postgresql.org/docs/current/pgtrgm.html). Deleted messages never
-- match (their content is cleared, and both indexes exclude them).
-- Ranked (ts_rank, or word similarity in the trigram fallback), then newest
-- first; paged by the cursor (rank, created_at, id) of the last row.
-- =============================================================================

-- -----------------------------------------------------------------------------
-- Indexes (expressions over messages.content; no extra column)
-- -----------------------------------------------------------------------------
create index messages_content_fts_idx on public.messages
  using gin (to_tsvector('simple'::regconfig, content))
  where deleted_at is null;
create index messages_content_trgm_idx on public.messages
  using gin (content extensions.gin_trgm_ops)
  where deleted_at is null;

insert into public.admin_config (key, value, description, value_type, min_value, max_value) values
  ('rate_limit.message_search.limit', '60',
   'Message searches (search_messages) a user may run per window; above it 429.', 'integer', 1, 1000000),
  ('rate_limit.message_search.window_seconds', '60',
   'Length of the message_search window, in seconds.', 'integer', 1, 86400)
on conflict (key) do nothing;

-- -----------------------------------------------------------------------------
-- RPC
-- -----------------------------------------------------------------------------

/**
 * The websearch query `p_query` with every lexeme made a prefix match
 * (`'hel':*`), in the `simple` configuration; null when the query has no
 * lexeme (only operators or punctuation).
 * Example: 'hel "new york" -spam' -> 'hel':* & 'new':* <-> 'york':* & !'spam':*.
 */
create or replace function private.prefix_tsquery(p_query text)
returns tsquery
language plpgsql
immutable
set search_path = ''
as $$
declare
  v_ws text := websearch_to_tsquery('simple'::regconfig, p_query)::text;
begin
  if v_ws = '' then
    return null;
  end if;
  -- Each lexeme is a quoted string ('' inside is a quote); append :* to each.
  return to_tsquery('simple'::regconfig, regexp_replace(v_ws, '''(?:[^'']|'''')*''', '\&:*', 'g'));
end;
$$;

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
 * (chat_members.cleared_at, 20261202100200_member_state.sql) matches only
 * after that time.
 * Volatile: counts against rate_limit.message_search.* (call with POST,
 * supabase-js's default for rpc()).
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
security invoker
set search_path = ''
as $$
declare
  v_me text := private.require_user_id();
  v_q text := btrim(coalesce(p_query, ''));
  v_ts tsquery;
  v_chats uuid[];
  v_fts boolean;
  v_limit integer := greatest(1, least(coalesce(p_limit, 20), 50));
begin
  if char_length(v_q) < 1 or char_length(v_q) > 200 then
    raise exception 'search query must have 1 to 200 characters' using errcode = '22023';
  end if;
  perform private.rate_limit('message_search');
  v_ts := private.prefix_tsquery(v_q);
  v_chats := private.my_chat_id_array();
  if p_chat_id is not null then
    v_chats := array(select c from unnest(v_chats) c where c = p_chat_id);
  end if;

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
      and m.created_at > coalesce(
        (select cm.cleared_at from public.chat_members cm where cm.chat_id = m.chat_id and cm.user_id = v_me),
        '-infinity'::timestamptz));

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
        and m.created_at > coalesce(
          (select cm.cleared_at from public.chat_members cm where cm.chat_id = m.chat_id and cm.user_id = v_me),
          '-infinity'::timestamptz)
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
        and m.created_at > coalesce(
          (select cm.cleared_at from public.chat_members cm where cm.chat_id = m.chat_id and cm.user_id = v_me),
          '-infinity'::timestamptz)
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
  public.search_messages(text, uuid, text, timestamptz, timestamptz, integer, double precision, timestamptz, uuid)
  from public, anon;
grant execute on function
  public.search_messages(text, uuid, text, timestamptz, timestamptz, integer, double precision, timestamptz, uuid)
  to authenticated, service_role;
grant execute on function private.prefix_tsquery(text) to authenticated, service_role;
