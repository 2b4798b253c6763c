-- =============================================================================
-- Message search under RLS (issue 16, docs/messaging.md).
--
-- public.search_messages finds messages of the chats the caller is a member of
-- (only while a member: security definer, its queries name the caller's
-- chats, so that the full-text and trigram indexes can serve the match,
-- which they cannot under RLS). Language-neutral: the `simple` text search configuration
-- (lower-cases, no stemming, no stop words: any language), with
-- websearch-style syntax (`"a phrase"`, `or`, `-word`;
-- https://www.postgresql.org/docs/current/textsearch-controls.html#TEXTSEARCH-PARSING-QUERIES)
-- where every term also matches as a prefix (`:*`), plus pg_trgm word
-- similarity when full text finds nothing (misspelt names, parts of words;
-- https://www.postgresql.org/docs/current/pgtrgm.html). Deleted messages never
-- match (their content is cleared, and both indexes exclude them).
-- Ranked (ts_rank, or word similarity in the trigram fallback), then newest
-- first; paged by the cursor (rank, created_at, id) of the last row.
--
-- This file holds what the search needs (indexes, rate limit settings,
-- private.prefix_tsquery). The RPC itself also leaves out what the caller
-- cleared (chat_members.cleared_at), so it
-- is defined once, after those, in 20261202100520_member_state_privacy.sql.
--
-- Alike on purpose: function headers (returns, language, security, search_path,
-- the caller's id) and table declarations (grants, RLS, policies) repeat: each
-- object states its own contract (supabase/migrations/README.md, "Shapes that repeat").
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
-- Query parsing
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

grant execute on function private.prefix_tsquery(text) to authenticated, service_role;
