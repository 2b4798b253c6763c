-- =============================================================================
-- The inbox with per-member chat state (issue 16, docs/messaging.md).
--
-- public.get_inbox, defined once here, when all it shows exists: per-member
-- settings and delivery (20261202100200_member_state.sql), reactions
-- (20261202100000_reactions.sql) and mentions (20261202100300_mentions.sql).
-- unread_count leaves out the caller's own messages, the assistant's answers
-- to the caller's own prompts and what the caller cleared.
--
-- Alike on purpose: function headers (returns, language, security, search_path,
-- the caller's id) and table declarations (grants, RLS, policies) repeat: each
-- object states its own contract (supabase/migrations/README.md, "Shapes that repeat").
-- =============================================================================

/**
 * The caller's inbox. Without `p_archived` (default false): their chats that
 * are not archived; with it: only the archived ones. The first page (no
 * cursor) starts with the caller's pinned chats (most recently pinned first,
 * at most chats.max_pinned), then the other chats by recent activity; later
 * pages hold unpinned chats only. Order of the unpinned chats and cursor:
 * (activity_at, chat_id) descending; pass the `activity_at` and `chat_id` of
 * the last row of the previous page as `p_before` and `p_before_chat_id`;
 * `p_limit` 1..100 (default 50) counts unpinned chats.
 * Each row: the chat, the caller's role, the last message (content null when
 * deleted) with its reactions ([{emoji, count, reacted}]) and delivery
 * ({status, recipients, delivered, read}), the other member of a direct chat,
 * the caller's settings (archived_at, muted_until, pinned_at), unread_count
 * (messages after the caller's read pointer and cleared_at, not deleted, not
 * the caller's, not the assistant's answers to the caller's prompts) and
 * unread_mention_count (mentions of the caller after the read pointer).
 */
create function public.get_inbox(
  p_limit integer default 50,
  p_before timestamptz default null,
  p_before_chat_id uuid default null,
  p_archived boolean default false
)
returns table (
  chat_id uuid,
  kind public.chat_kind,
  title text,
  avatar_url text,
  role public.chat_member_role,
  activity_at timestamptz,
  last_message_id uuid,
  last_message_sender_id text,
  last_message_kind public.message_kind,
  last_message_content text,
  last_message_created_at timestamptz,
  last_message_reactions jsonb,
  last_message_delivery jsonb,
  peer_id text,
  peer_display_name text,
  peer_avatar_url text,
  archived_at timestamptz,
  muted_until timestamptz,
  pinned_at timestamptz,
  unread_count bigint,
  unread_mention_count bigint
)
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  v_me text := private.require_user_id();
  v_archived boolean := coalesce(p_archived, false);
begin
  -- ::text on user ids: RETURN QUERY wants the declared types exactly.
  return query
  with pinned as (
    select c.id, c.kind, c.title, c.avatar_url, cm.role, c.last_message_id, cm.last_read_at, cm.cleared_at,
           cm.archived_at, cm.muted_until, cm.pinned_at,
           coalesce(c.last_message_at, c.created_at) as activity_at
    from public.chat_members cm
    join public.chats c on c.id = cm.chat_id
    where cm.user_id = v_me and cm.pinned_at is not null and p_before is null
      and (cm.archived_at is not null) = v_archived
    order by cm.pinned_at desc
    limit 100
  ), unpinned as (
    select c.id, c.kind, c.title, c.avatar_url, cm.role, c.last_message_id, cm.last_read_at, cm.cleared_at,
           cm.archived_at, cm.muted_until, cm.pinned_at,
           coalesce(c.last_message_at, c.created_at) as activity_at
    from public.chat_members cm
    join public.chats c on c.id = cm.chat_id
    where cm.user_id = v_me and cm.pinned_at is null
      and (cm.archived_at is not null) = v_archived
      and (p_before is null
        or (coalesce(c.last_message_at, c.created_at), c.id)
           < (p_before, coalesce(p_before_chat_id, 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid)))
    order by coalesce(c.last_message_at, c.created_at) desc, c.id desc
    limit greatest(1, least(coalesce(p_limit, 50), 100))
  ), mine as (
    select 0 as section, p.*, p.pinned_at as sort_at from pinned p
    union all
    select 1 as section, u.*, u.activity_at as sort_at from unpinned u
  )
  select mine.id, mine.kind, mine.title, mine.avatar_url, mine.role, mine.activity_at,
         lm.id, lm.sender_id::text, lm.kind,
         case when lm.deleted_at is null then lm.content end,
         lm.created_at,
         case when lm.id is not null then
           coalesce((
             select jsonb_agg(jsonb_build_object('emoji', r.emoji, 'count', r.n, 'reacted', r.mine)
                              order by r.n desc, r.first_at, r.emoji)
             from (
               select mr.emoji, count(*) as n, min(mr.created_at) as first_at, bool_or(mr.user_id = v_me) as mine
               from public.message_reactions mr where mr.message_id = lm.id group by mr.emoji
             ) r), '[]'::jsonb)
         end,
         case when lm.id is not null then public.delivery(lm) end,
         peer.id::text, peer.display_name, peer.avatar_url,
         mine.archived_at, mine.muted_until, mine.pinned_at,
         (select count(*) from public.messages m
          where m.chat_id = mine.id
            and m.created_at > greatest(mine.last_read_at, mine.cleared_at, '-infinity'::timestamptz)
            and m.sender_id is distinct from v_me
            and m.deleted_at is null
            and not (m.kind = 'ai' and m.reply_to_id is not null and exists (
              select 1 from public.messages p where p.id = m.reply_to_id and p.sender_id = v_me))),
         (select count(*) from public.message_mentions mm
          where mm.user_id = v_me and mm.chat_id = mine.id
            and mm.created_at > greatest(mine.last_read_at, mine.cleared_at, '-infinity'::timestamptz))
  from mine
  left join public.messages lm on lm.id = mine.last_message_id
  left join lateral (
    select u.id, u.display_name, u.avatar_url
    from public.chat_members pm join public.users u on u.id = pm.user_id
    where mine.kind = 'direct' and pm.chat_id = mine.id and pm.user_id <> v_me
    limit 1
  ) peer on true
  order by mine.section, mine.sort_at desc, mine.id desc;
end;
$$;

revoke execute on function public.get_inbox(integer, timestamptz, uuid, boolean) from public, anon;
grant execute on function public.get_inbox(integer, timestamptz, uuid, boolean) to authenticated, service_role;
