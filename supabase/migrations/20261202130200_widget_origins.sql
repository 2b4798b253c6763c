-- =============================================================================
-- Website chat widget, part 3: answering CORS preflights.
--
-- A browser's preflight (OPTIONS) carries the page's Origin but no widget key
-- or session, so the widget function can only ask whether SOME active website
-- allows that origin before it lets the browser send the real request; the
-- real request is then checked against its own website
-- (https://developer.mozilla.org/en-US/docs/Glossary/Preflight_request).
--
-- Alike on purpose: function headers (returns, language, security, search_path,
-- the caller's id) and table declarations (grants, RLS, policies) repeat: each
-- object states its own contract (supabase/migrations/README.md, "Shapes that repeat").
-- =============================================================================

-- Lookups of an origin among all websites' allowed_origins.
create index websites_allowed_origins_idx on public.websites using gin (allowed_origins);

/** True when an active website lists `p_origin` among its allowed origins. */
create or replace function private.widget_origin_known(p_origin text)
returns boolean
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  return exists (select 1 from public.websites w where w.active and w.allowed_origins @> array[p_origin]);
end;
$$;
revoke execute on function private.widget_origin_known(text) from public;
grant execute on function private.widget_origin_known(text) to service_role;
