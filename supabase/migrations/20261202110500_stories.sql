-- =============================================================================
-- Status updates (stories), issue 17 item 2.
--
-- A user posts a text, image or video status (post_story). Their friends see
-- it for stories.lifetime_seconds (admin_config, 24 h by default), newest
-- first, unless the author left them out (audience `friends_except` with a
-- list of excluded friends). Friends mark a status viewed (mark_story_viewed);
-- the author reads who viewed it (story_views). A new status is announced on
-- each friend's `user:<id>` topic, event `story` (private channel).
--
-- Expiry needs no job: every policy compares expires_at with now(), so an
-- expired status is gone from every query (for its author too) the moment it
-- expires. private.purge_expired_stories() deletes expired rows later (with
-- their views, exclusions and media, whose Cloudinary assets are then queued
-- for deletion by the media trigger); schedule it with Supabase Cron
-- (https://supabase.com/docs/guides/cron), see README "Status updates".
--
-- Blocks: a block ends the friendship, and the policies also refuse an author
-- the viewer blocks or is blocked by (private.my_peer_ids('blocked')).
--
-- Media: a status's image or video is uploaded with the media-sign purposes
-- story_image and story_video, which media.purpose
-- (20261122080500_media.sql) and private.media_max_bytes with its size
-- settings media.max_story_image_bytes and media.max_story_video_bytes
-- (20261122130000_media_uploads.sql) know from the start. The media of a
-- story is read through get_story_feed (its secure_url), not through the
-- media table's policy.
--
-- Alike on purpose: function headers (returns, language, security, search_path,
-- the caller's id) and table declarations (grants, RLS, policies) repeat: each
-- object states its own contract (supabase/migrations/README.md, "Shapes that repeat").
-- =============================================================================

insert into public.admin_config (key, value, description, value_type, min_value, max_value) values
  ('stories.lifetime_seconds', '86400', 'How long a status (story) is visible after it is posted, in seconds (24 h); applies to statuses posted afterwards.', 'integer', 60, 604800),
  ('rate_limit.post_story.limit', '30', 'Statuses (stories) a user may post per window.', 'integer', 1, 100000),
  ('rate_limit.post_story.window_seconds', '3600', 'Window of rate_limit.post_story.limit, in seconds.', 'integer', 1, 86400)
on conflict (key) do nothing;

-- -----------------------------------------------------------------------------
-- Tables
-- -----------------------------------------------------------------------------
create table public.stories (
  id uuid primary key default gen_random_uuid(),
  author_id public.clerk_user_id not null references public.users (id) on delete cascade,
  kind text not null check (kind in ('text', 'image', 'video')),
  body text check (body is null or char_length(body) between 1 and 700),
  media_id uuid references public.media (id) on delete cascade,
  audience text not null default 'friends' check (audience in ('friends', 'friends_except')),
  created_at timestamptz not null default now(),
  expires_at timestamptz not null,
  constraint stories_kind_content check (
    (kind = 'text' and body is not null and media_id is null)
    or (kind in ('image', 'video') and media_id is not null)
  ),
  constraint stories_expires_after_created check (expires_at > created_at)
);
comment on table public.stories is
  'Status updates (stories): visible to the author''s friends (minus story_audience_exclusions) until expires_at; posted with post_story, purged by private.purge_expired_stories.';
comment on column public.stories.kind is 'text (body), image or video (media_id, with an optional caption in body).';
comment on column public.stories.body is 'The text of a text status, or the caption of an image/video status (1..700 characters).';
comment on column public.stories.media_id is 'The author''s upload with purpose story_image (kind image) or story_video (kind video).';
comment on column public.stories.audience is 'friends: all friends; friends_except: all friends but those in story_audience_exclusions.';
comment on column public.stories.expires_at is 'created_at + admin_config stories.lifetime_seconds; hidden from every query afterwards.';

create index stories_author_id_expires_at_idx on public.stories (author_id, expires_at desc);
create index stories_media_id_idx on public.stories (media_id) where media_id is not null;
create index stories_expires_at_idx on public.stories (expires_at);

create table public.story_audience_exclusions (
  story_id uuid not null references public.stories (id) on delete cascade,
  user_id public.clerk_user_id not null references public.users (id) on delete cascade,
  primary key (story_id, user_id)
);
comment on table public.story_audience_exclusions is
  'Friends a status with audience friends_except is hidden from. Read by the author only.';
create index story_audience_exclusions_user_id_idx on public.story_audience_exclusions (user_id);

create table public.story_views (
  story_id uuid not null references public.stories (id) on delete cascade,
  viewer_id public.clerk_user_id not null references public.users (id) on delete cascade,
  viewed_at timestamptz not null default now(),
  primary key (story_id, viewer_id)
);
comment on table public.story_views is
  'Who viewed a status, once each (mark_story_viewed). The author reads every view of their status; a viewer reads their own.';
create index story_views_viewer_id_idx on public.story_views (viewer_id);

grant select, delete on public.stories to authenticated;
grant select on public.story_audience_exclusions, public.story_views to authenticated;
grant select, insert, update, delete on public.stories, public.story_audience_exclusions, public.story_views to service_role;

alter table public.stories enable row level security;
select private.lock_out_suspended_users('public.stories');
alter table public.story_audience_exclusions enable row level security;
select private.lock_out_suspended_users('public.story_audience_exclusions');
alter table public.story_views enable row level security;
select private.lock_out_suspended_users('public.story_views');

-- -----------------------------------------------------------------------------
-- Helpers
-- -----------------------------------------------------------------------------

/** Statuses the caller was left out of (audience friends_except). */
create or replace function private.excluded_story_ids()
returns setof uuid
language sql
stable
security definer
set search_path = ''
as $$
  select e.story_id from public.story_audience_exclusions e where e.user_id = private.current_user_id()
$$;

grant execute on function private.excluded_story_ids() to authenticated, service_role;

/**
 * The author of a status the caller can see, else null: the rule of the
 * stories SELECT policy below (unexpired; the author, or a friend in the
 * audience with no block either way), for security-definer code.
 */
create or replace function private.visible_story_author(p_story_id uuid)
returns text
language sql
stable
security definer
set search_path = ''
as $$
  select s.author_id from public.stories s
  where s.id = p_story_id
    and s.expires_at > now()
    and (
      s.author_id = private.current_user_id()
      or (s.author_id in (select private.my_peer_ids('accepted'))
          and s.author_id not in (select private.my_peer_ids('blocked'))
          and s.id not in (select private.excluded_story_ids()))
    )
$$;
grant execute on function private.visible_story_author(uuid) to authenticated, service_role;

-- -----------------------------------------------------------------------------
-- Policies
-- -----------------------------------------------------------------------------

-- Unexpired only, for everyone: the author, and friends in the audience who
-- neither block nor are blocked by the author.
create policy "Authors and their friends in the audience can read unexpired stories"
  on public.stories for select to authenticated
  using (
    expires_at > now()
    and (
      author_id = (select auth.jwt()) ->> 'sub'
      or (
        author_id in (select private.my_peer_ids('accepted'))
        and author_id not in (select private.my_peer_ids('blocked'))
        and id not in (select private.excluded_story_ids())
      )
    )
  );

create policy "Authors can delete their stories"
  on public.stories for delete to authenticated
  using (author_id = (select auth.jwt()) ->> 'sub');

create policy "Authors can read the audience exclusions of their stories"
  on public.story_audience_exclusions for select to authenticated
  using (story_id in (select s.id from public.stories s where s.author_id = (select auth.jwt()) ->> 'sub'));

-- Only views of statuses the caller can still see (the stories policy).
create policy "Authors read the views of their stories, viewers their own"
  on public.story_views for select to authenticated
  using (
    story_id in (select s.id from public.stories s)
    and (
      viewer_id = (select auth.jwt()) ->> 'sub'
      or story_id in (select s.id from public.stories s where s.author_id = (select auth.jwt()) ->> 'sub')
    )
  );

-- -----------------------------------------------------------------------------
-- RPCs
-- -----------------------------------------------------------------------------

/**
 * Posts a status. p_kind text needs p_body (1..700 characters); image and
 * video need p_media_id, one of the caller's uploads with purpose story_image
 * (an image) or story_video (a video), p_body then being an optional caption.
 * p_audience friends (default) or friends_except, with p_excluded_user_ids
 * (friends of the caller; required non-empty for friends_except, refused
 * otherwise). Visible until now() + admin_config stories.lifetime_seconds.
 * Sends event `story` ({id, author_id, kind, created_at, expires_at}) on the
 * `user:<id>` topic of every friend in the audience.
 * Returns the stories row.
 * Errors: 22023 invalid content or audience (names the problem);
 * 42501 media not one of the caller's story uploads; PT429 rate limited
 * (rate_limit.post_story.*).
 */
create or replace function public.post_story(
  p_kind text,
  p_body text default null,
  p_media_id uuid default null,
  p_audience text default 'friends',
  p_excluded_user_ids text[] default null
)
returns public.stories
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_me text := private.require_user_id();
  v_story public.stories;
  v_excluded text[] := coalesce(p_excluded_user_ids, '{}');
  v_friend text;
begin
  perform private.rate_limit('post_story');
  if p_kind is null or p_kind not in ('text', 'image', 'video') then
    raise exception 'kind must be text, image or video' using errcode = '22023';
  end if;
  if p_audience is null or p_audience not in ('friends', 'friends_except') then
    raise exception 'audience must be friends or friends_except' using errcode = '22023';
  end if;
  if p_body is not null and char_length(p_body) not between 1 and 700 then
    raise exception 'body must be 1 to 700 characters' using errcode = '22023';
  end if;
  if p_kind = 'text' and (p_body is null or p_media_id is not null) then
    raise exception 'a text status needs a body and no media' using errcode = '22023';
  end if;
  if p_kind <> 'text' then
    if p_media_id is null then
      raise exception 'an image or video status needs media_id' using errcode = '22023';
    end if;
    if not exists (
      select 1 from public.media md
      where md.id = p_media_id and md.owner_id = v_me
        and ((p_kind = 'image' and md.purpose = 'story_image' and md.resource_type = 'image')
          or (p_kind = 'video' and md.purpose = 'story_video' and md.resource_type = 'video'))
    ) then
      raise exception 'media is not one of your story uploads of this kind' using errcode = '42501',
        hint = 'Upload with media-sign purpose story_image or story_video first.';
    end if;
  end if;
  if p_audience = 'friends' and cardinality(v_excluded) > 0 then
    raise exception 'excluded users are only allowed with audience friends_except' using errcode = '22023';
  end if;
  if p_audience = 'friends_except' then
    if cardinality(v_excluded) = 0 then
      raise exception 'audience friends_except needs excluded users' using errcode = '22023';
    end if;
    if cardinality(v_excluded) > 1000 then
      raise exception 'at most 1000 excluded users' using errcode = '22023';
    end if;
    if exists (select 1 from unnest(v_excluded) x(id) where x.id not in (select private.my_peer_ids('accepted'))) then
      raise exception 'excluded users must be your friends' using errcode = '22023';
    end if;
  end if;

  insert into public.stories (author_id, kind, body, media_id, audience, expires_at)
  values (v_me, p_kind, p_body, p_media_id, p_audience,
          now() + make_interval(secs => private.config_bigint('stories.lifetime_seconds', 86400)))
  returning * into v_story;
  insert into public.story_audience_exclusions (story_id, user_id)
  select distinct v_story.id, x.id from unnest(v_excluded) x(id);

  for v_friend in
    select f.id from private.my_peer_ids('accepted') f(id)
    where f.id <> all (v_excluded)
      and f.id not in (select private.my_peer_ids('blocked'))
  loop
    perform realtime.send(
      jsonb_build_object('id', v_story.id, 'author_id', v_me, 'kind', v_story.kind,
                         'created_at', v_story.created_at, 'expires_at', v_story.expires_at),
      'story', private.user_topic(v_friend), true);
  end loop;
  return v_story;
end;
$$;

/**
 * Marks a status viewed by the caller (once; a second call keeps the first
 * viewed_at). The author's own views are not recorded. Returns true when this
 * call recorded the view. Errors: PT404 when the caller cannot see the status
 * (unknown, expired, not in its audience, blocked).
 */
create or replace function public.mark_story_viewed(p_story_id uuid)
returns boolean
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_me text := private.require_user_id();
  v_author text := private.visible_story_author(p_story_id);
  v_count integer;
begin
  if v_author is null then
    raise exception 'status not found' using errcode = 'PT404';
  end if;
  if v_author = v_me then
    return false;
  end if;
  insert into public.story_views (story_id, viewer_id) values (p_story_id, v_me)
  on conflict (story_id, viewer_id) do nothing;
  get diagnostics v_count = row_count;
  return v_count = 1;
end;
$$;

/**
 * Delivery URL and resource type of a status's media, for a status the caller
 * can see (checked here against the same rule as the stories policy).
 */
create or replace function private.story_media(p_story_id uuid)
returns table (secure_url text, resource_type text)
language sql
stable
security definer
set search_path = ''
as $$
  select md.secure_url, md.resource_type
  from public.stories s
  join public.media md on md.id = s.media_id
  where s.id = p_story_id and private.visible_story_author(p_story_id) is not null
$$;

/**
 * The statuses the caller can see (their own and their friends'), newest
 * first, with the author's public fields, the media's delivery URL, whether
 * the caller viewed each and, on the caller's own, the view count. Reads the
 * stories through their policy (security invoker); the media and users
 * columns through a security-definer helper limited to those rows.
 */
create or replace function public.get_story_feed(p_limit integer default 100)
returns table (
  id uuid,
  author_id text,
  author_display_name text,
  author_avatar_url text,
  kind text,
  body text,
  media_url text,
  media_resource_type text,
  created_at timestamptz,
  expires_at timestamptz,
  viewed boolean,
  view_count integer
)
language sql
stable
security invoker
set search_path = ''
as $$
  select s.id, s.author_id, a.display_name, a.avatar_url, s.kind, s.body, m.secure_url, m.resource_type,
         s.created_at, s.expires_at,
         exists (select 1 from public.story_views v where v.story_id = s.id and v.viewer_id = private.current_user_id()),
         case when s.author_id = private.current_user_id()
              then (select count(*)::integer from public.story_views v where v.story_id = s.id) end
  from public.stories s
  join public.users a on a.id = s.author_id
  left join lateral private.story_media(s.id) m on true
  order by s.created_at desc, s.id
  limit least(greatest(coalesce(p_limit, 100), 1), 500)
$$;

/**
 * Deletes statuses that expired more than p_grace ago (with their views and
 * exclusions; their media rows too, whose Cloudinary assets the media trigger
 * queues for deletion). Returns the number of statuses deleted. For Supabase
 * Cron (service role / postgres only):
 *   select cron.schedule('purge-expired-stories', '17 * * * *',
 *                        $$select private.purge_expired_stories()$$);
 */
create or replace function private.purge_expired_stories(p_grace interval default interval '0')
returns integer
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_media uuid[];
  v_count integer;
begin
  with gone as (
    delete from public.stories s where s.expires_at <= now() - p_grace
    returning s.media_id
  )
  select array_agg(g.media_id) filter (where g.media_id is not null), count(*) into v_media, v_count from gone g;
  delete from public.media md
  where md.id = any (coalesce(v_media, '{}'))
    and md.purpose in ('story_image', 'story_video')
    and not exists (select 1 from public.stories s where s.media_id = md.id);
  return v_count;
end;
$$;
comment on function private.purge_expired_stories(interval) is
  'Deletes statuses expired more than p_grace ago and their story media; schedule with Supabase Cron.';

revoke execute on function
  public.post_story(text, text, uuid, text, text[]),
  public.mark_story_viewed(uuid),
  public.get_story_feed(integer),
  private.story_media(uuid),
  private.purge_expired_stories(interval)
  from public, anon;
revoke execute on function private.purge_expired_stories(interval) from authenticated;
grant execute on function
  public.post_story(text, text, uuid, text, text[]),
  public.mark_story_viewed(uuid),
  public.get_story_feed(integer),
  private.story_media(uuid)
  to authenticated;
grant execute on function private.purge_expired_stories(interval) to service_role;
