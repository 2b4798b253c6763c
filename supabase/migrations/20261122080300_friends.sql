-- =============================================================================
-- Friends: requests, friendships and blocks.
--
-- One row per request: `requester_id` asked `addressee_id`. A pair has at most
-- one live request-or-friendship row (pending or accepted) whichever side sent
-- it; declined rows stay as history. A block is a row with status `blocked`
-- whose requester is the blocker; each side may block the other independently.
-- Blocking ends the friendship, refuses new requests and direct messages, and
-- hides each from the other in search. Clients change rows only through RPCs.
--
-- Alike on purpose: function headers (returns, language, security, search_path,
-- the caller's id) and table declarations (grants, RLS, policies) repeat: each
-- object states its own contract (supabase/migrations/README.md, "Shapes that repeat").
-- =============================================================================

create type public.friend_status as enum ('pending', 'accepted', 'declined', 'blocked');
comment on type public.friend_status is
  'pending: awaiting the addressee; accepted: friends; declined: refused (history); blocked: requester blocks addressee.';

create table public.friends (
  id uuid primary key default gen_random_uuid(),
  requester_id public.clerk_user_id not null references public.users (id) on delete cascade,
  addressee_id public.clerk_user_id not null references public.users (id) on delete cascade,
  status public.friend_status not null default 'pending',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  responded_at timestamptz,
  constraint friends_not_self check (requester_id <> addressee_id)
);
comment on table public.friends is
  'Friend requests, friendships and blocks. One live (pending/accepted) row per pair; blocks are per direction.';
comment on column public.friends.requester_id is 'Who sent the request, or who blocks (status blocked).';
comment on column public.friends.addressee_id is 'Who received the request, or who is blocked.';
comment on column public.friends.responded_at is 'When the addressee accepted or declined.';

-- One live row per unordered pair.
create unique index friends_live_pair_key on public.friends
  (least(requester_id, addressee_id), greatest(requester_id, addressee_id))
  where status in ('pending', 'accepted');
-- One block per direction.
create unique index friends_block_key on public.friends (requester_id, addressee_id)
  where status = 'blocked';
-- Policy and foreign-key columns.
create index friends_requester_id_idx on public.friends (requester_id, status);
create index friends_addressee_id_idx on public.friends (addressee_id, status);

create trigger friends_set_updated_at before update on public.friends
  for each row execute function private.set_updated_at();

grant select on public.friends to authenticated;
grant select, insert, update, delete on public.friends to service_role;

alter table public.friends enable row level security;

-- A blocked user does not learn who blocked them.
create policy "Users can read their requests, friendships and own blocks"
  on public.friends for select to authenticated
  using (
    requester_id = (select auth.jwt()) ->> 'sub'
    or (addressee_id = (select auth.jwt()) ->> 'sub' and status <> 'blocked')
  );

-- -----------------------------------------------------------------------------
-- Helpers
-- -----------------------------------------------------------------------------

/**
 * True when either user blocks the other. PL/pgSQL so that its plan is cached
 * per connection (a security-definer SQL function is planned on every call).
 */
create or replace function private.is_blocked_between(p_a text, p_b text)
returns boolean
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  return exists (
    select 1 from public.friends f
    where f.status = 'blocked'
      and ((f.requester_id = p_a and f.addressee_id = p_b)
        or (f.requester_id = p_b and f.addressee_id = p_a))
  );
end;
$$;

/**
 * Users with whom the caller has a friends row of `p_status`, whichever side
 * sent it: 'accepted', the caller's friends; 'blocked', the users the caller
 * blocks or is blocked by.
 */
create or replace function private.my_peer_ids(p_status public.friend_status)
returns setof text
language sql
stable
security definer
set search_path = ''
as $$
  select f.addressee_id from public.friends f
  where f.status = p_status and f.requester_id = private.current_user_id()
  union
  select f.requester_id from public.friends f
  where f.status = p_status and f.addressee_id = private.current_user_id()
$$;
grant execute on function private.is_blocked_between(text, text) to authenticated, service_role;
grant execute on function private.my_peer_ids(public.friend_status) to authenticated, service_role;

/** Raises PT404 (PostgREST 404) unless the user has a profile. */
create or replace function private.assert_user_exists(p_user_id text)
returns void
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  if not exists (select 1 from public.users u where u.id = p_user_id) then
    raise exception 'user not found' using errcode = 'PT404';
  end if;
end;
$$;

-- -----------------------------------------------------------------------------
-- RPCs (security definer: they cross rows; each checks the caller itself)
-- Errors: 42501 not signed in or not allowed; PT404 not found (404);
-- 23505 conflict (409); 22023 invalid argument (400).
-- -----------------------------------------------------------------------------

/**
 * Sends a friend request to `p_user_id` and notifies them. If they already
 * asked the caller, this accepts their request instead. Repeating a pending
 * request returns it unchanged. A new request counts against admin_config
 * rate_limit.friend_request.* (private.rate_limit), and after `p_user_id`
 * declined the caller's last request, a new one waits
 * friends.decline_cooldown_seconds from the decline.
 * Errors: 22023 self; PT404 unknown user; 42501 a block exists; 23505 already
 * friends; PT429 (HTTP 429) rate limited or in the cool-down after a decline,
 * DETAIL a JSON object with retry_after_seconds.
 */
create or replace function public.send_friend_request(p_user_id text)
returns public.friends
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_me text := private.require_user_id();
  v_row public.friends;
  v_declined_at timestamptz;
  v_cooldown interval;
begin
  if p_user_id = v_me then
    raise exception 'cannot send a friend request to yourself' using errcode = '22023';
  end if;
  perform private.assert_user_exists(v_me);
  perform private.assert_user_exists(p_user_id);
  if private.is_blocked_between(v_me, p_user_id) then
    raise exception 'cannot send a friend request to this user' using errcode = '42501';
  end if;

  select * into v_row from public.friends f
  where least(f.requester_id, f.addressee_id) = least(v_me, p_user_id)
    and greatest(f.requester_id, f.addressee_id) = greatest(v_me, p_user_id)
    and f.status in ('pending', 'accepted')
  for update;

  if found then
    if v_row.status = 'accepted' then
      raise exception 'already friends' using errcode = '23505';
    elsif v_row.requester_id = v_me then
      return v_row;
    else
      return public.accept_friend_request(v_row.id);
    end if;
  end if;

  -- A declined request cannot be sent again at once (only this direction:
  -- the one who declined may still ask).
  v_cooldown := make_interval(secs => private.config_bigint('friends.decline_cooldown_seconds', 86400));
  select max(f.responded_at) into v_declined_at from public.friends f
  where f.requester_id = v_me and f.addressee_id = p_user_id and f.status = 'declined';
  if v_declined_at is not null and v_declined_at + v_cooldown > now() then
    raise exception 'this user declined your last request; retry in % s',
      greatest(1, ceil(extract(epoch from (v_declined_at + v_cooldown - clock_timestamp())))::integer)
      using errcode = 'PT429',
            detail = jsonb_build_object('action', 'friend_request_after_decline',
              'retry_after_seconds', greatest(1, ceil(extract(epoch from (v_declined_at + v_cooldown - clock_timestamp())))::integer))::text;
  end if;
  perform private.rate_limit('friend_request');

  begin
    insert into public.friends (requester_id, addressee_id)
    values (v_me, p_user_id)
    returning * into v_row;
  exception
    when unique_violation then
      -- A concurrent request for the same pair won the race: answer as if it had
      -- come first. If it is theirs, both asked: accept it (as above).
      select * into v_row from public.friends f
      where least(f.requester_id, f.addressee_id) = least(v_me, p_user_id)
        and greatest(f.requester_id, f.addressee_id) = greatest(v_me, p_user_id)
        and f.status in ('pending', 'accepted');
      if v_row.status = 'pending' and v_row.requester_id <> v_me then
        return public.accept_friend_request(v_row.id);
      end if;
      return v_row;
  end;

  perform private.notify(p_user_id, 'friend_request',
    jsonb_build_object('request_id', v_row.id, 'from_user_id', v_me));
  return v_row;
end;
$$;

/**
 * Answers a pending request addressed to the caller: sets `p_status`
 * (accepted or declined, kept as history) and notifies the requester with
 * `p_event` {request_id, by_user_id}. Returns the row.
 * Errors: 42501 not signed in / suspended; PT404 no such pending request for
 * the caller.
 */
create or replace function private.respond_friend_request(
  p_request_id uuid, p_status public.friend_status, p_event text
)
returns public.friends
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_me text := private.require_user_id();
  v_row public.friends;
begin
  update public.friends f
  set status = p_status, responded_at = now()
  where f.id = p_request_id and f.addressee_id = v_me and f.status = 'pending'
  returning * into v_row;
  if not found then
    raise exception 'no such pending friend request for you' using errcode = 'PT404';
  end if;
  perform private.notify(v_row.requester_id, p_event,
    jsonb_build_object('request_id', v_row.id, 'by_user_id', v_me));
  return v_row;
end;
$$;
revoke all on function private.respond_friend_request(uuid, public.friend_status, text) from public, anon, authenticated;

/**
 * Accepts a pending request addressed to the caller and notifies the requester
 * (notification friend_request_accepted).
 * Errors: PT404 no such pending request for the caller.
 */
create or replace function public.accept_friend_request(p_request_id uuid)
returns public.friends
language sql
security definer
set search_path = ''
as $$
  select private.respond_friend_request(p_request_id, 'accepted', 'friend_request_accepted');
$$;

/**
 * Declines a pending request addressed to the caller (kept as history) and
 * notifies the requester (notification friend_request_declined).
 * Errors: PT404 no such pending request for the caller.
 */
create or replace function public.decline_friend_request(p_request_id uuid)
returns public.friends
language sql
security definer
set search_path = ''
as $$
  select private.respond_friend_request(p_request_id, 'declined', 'friend_request_declined');
$$;

/**
 * Withdraws a pending request the caller sent (the row is deleted).
 * Errors: PT404 no such pending request from the caller.
 */
create or replace function public.cancel_friend_request(p_request_id uuid)
returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_me text := private.require_user_id();
begin
  delete from public.friends f
  where f.id = p_request_id and f.requester_id = v_me and f.status = 'pending';
  if not found then
    raise exception 'no such pending friend request from you' using errcode = 'PT404';
  end if;
end;
$$;

/**
 * Ends the friendship between the caller and `p_user_id`.
 * Errors: PT404 not friends.
 */
create or replace function public.remove_friend(p_user_id text)
returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_me text := private.require_user_id();
begin
  delete from public.friends f
  where f.status = 'accepted'
    and least(f.requester_id, f.addressee_id) = least(v_me, p_user_id)
    and greatest(f.requester_id, f.addressee_id) = greatest(v_me, p_user_id);
  if not found then
    raise exception 'not friends with this user' using errcode = 'PT404';
  end if;
end;
$$;

/**
 * Blocks `p_user_id`: ends any friendship or pending request between the two,
 * refuses future requests and direct messages either way. Idempotent.
 * Errors: 22023 self; PT404 unknown user.
 */
create or replace function public.block_user(p_user_id text)
returns public.friends
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_me text := private.require_user_id();
  v_row public.friends;
begin
  if p_user_id = v_me then
    raise exception 'cannot block yourself' using errcode = '22023';
  end if;
  perform private.assert_user_exists(v_me);
  perform private.assert_user_exists(p_user_id);
  delete from public.friends f
  where f.status in ('pending', 'accepted')
    and least(f.requester_id, f.addressee_id) = least(v_me, p_user_id)
    and greatest(f.requester_id, f.addressee_id) = greatest(v_me, p_user_id);
  insert into public.friends (requester_id, addressee_id, status)
  values (v_me, p_user_id, 'blocked')
  on conflict (requester_id, addressee_id) where status = 'blocked' do nothing;
  select * into v_row from public.friends f
  where f.requester_id = v_me and f.addressee_id = p_user_id and f.status = 'blocked';
  return v_row;
end;
$$;

/** Lifts the caller's block of `p_user_id` (a block by the other side stays). Idempotent. */
create or replace function public.unblock_user(p_user_id text)
returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_me text := private.require_user_id();
begin
  delete from public.friends f
  where f.requester_id = v_me and f.addressee_id = p_user_id and f.status = 'blocked';
end;
$$;

/**
 * Finds users by display name or username (trigram similarity or prefix),
 * best match first. Never returns the caller, users in a block with the caller,
 * or anyone's email. `p_limit` is clamped to 1..50. Each call counts against
 * admin_config rate_limit.user_search.* (private.rate_limit), so it is
 * volatile: PostgREST runs it in a read-write transaction (call it with POST,
 * supabase-js's default for rpc()).
 * Errors: 22023 query shorter than 2 or longer than 100 characters; PT429 (HTTP 429) too many searches.
 */
create or replace function public.search_users(p_query text, p_limit integer default 20)
returns table (id text, display_name text, username text, avatar_url text, about text)
language plpgsql
volatile
security invoker
set search_path = ''
as $$
declare
  v_me text := private.require_user_id();
  v_q text := btrim(coalesce(p_query, ''));
begin
  -- Bounded both ways: a long pattern makes trigram and ILIKE matching slow for everyone.
  if char_length(v_q) < 2 or char_length(v_q) > 100 then
    raise exception 'search query must have 2 to 100 characters' using errcode = '22023';
  end if;
  perform private.rate_limit('user_search');
  -- ::text: RETURN QUERY wants the declared types exactly (a public.clerk_user_id
  -- column would be `unknown` in the generated TypeScript types).
  return query
  select u.id::text, u.display_name, u.username::text, u.avatar_url, u.about
  from public.users u
  where u.id <> v_me
    and (u.display_name operator(extensions.%) v_q
      or u.username::text operator(extensions.%) v_q
      or u.display_name ilike replace(replace(v_q, '%', '\%'), '_', '\_') || '%'
      or u.username::text ilike replace(replace(v_q, '%', '\%'), '_', '\_') || '%')
    and u.id not in (select b from private.my_peer_ids('blocked') b)
  order by greatest(
      extensions.similarity(u.display_name, v_q),
      extensions.similarity(coalesce(u.username::text, ''), v_q)
    ) desc, u.id
  limit greatest(1, least(coalesce(p_limit, 20), 50));
end;
$$;

revoke execute on function
  public.send_friend_request(text), public.accept_friend_request(uuid),
  public.decline_friend_request(uuid), public.cancel_friend_request(uuid),
  public.remove_friend(text), public.block_user(text), public.unblock_user(text),
  public.search_users(text, integer)
  from public, anon;
grant execute on function
  public.send_friend_request(text), public.accept_friend_request(uuid),
  public.decline_friend_request(uuid), public.cancel_friend_request(uuid),
  public.remove_friend(text), public.block_user(text), public.unblock_user(text),
  public.search_users(text, integer)
  to authenticated, service_role;
