-- =============================================================================
-- Group management and a member's own media (issue 16 item 4, the rest;
-- docs/messaging.md).
--
-- * chats.description: a group's description, edited directly by the group's
--   owner and admins (the existing update policy "Group owners and admins, and
--   assistant chat owners, can rename their chat" covers it; this adds the
--   column grant). Groups only (check constraint).
-- * delete_group_chat: the owner deletes a group (members, messages, reactions,
--   pins and mentions go with it by cascade). Leaving is leave_chat
--   (20261122080400_chats.sql).
-- * A user deletes their own media rows (DELETE on public.media, own rows
--   only); the existing trigger media_queue_deletion
--   (20261122130000_media_uploads.sql) queues the Cloudinary asset in
--   private.media_deletions, and messages using it lose the reference (on
--   delete set null).
--
-- Alike on purpose: function headers (returns, language, security, search_path,
-- the caller's id) and table declarations (grants, RLS, policies) repeat: each
-- object states its own contract (supabase/migrations/README.md, "Shapes that repeat").
-- =============================================================================

-- -----------------------------------------------------------------------------
-- Group description
-- -----------------------------------------------------------------------------
alter table public.chats
  add column description text
    constraint chats_description_length check (description is null or char_length(description) <= 500),
  add constraint chats_description_only_for_groups check (kind = 'group' or description is null);
comment on column public.chats.description is
  'A group''s description (0-500 characters; groups only). Its owner and admins update it directly: supabase.from(''chats'').update({ description }).';

grant update (description) on public.chats to authenticated;

-- -----------------------------------------------------------------------------
-- Deleting a group (owner)
-- -----------------------------------------------------------------------------

/**
 * Deletes a group chat and everything in it; the caller must be its owner.
 * Each member gets event `chat_removed` on user:<id> (the membership trigger).
 * Errors: 42501 not signed in / suspended / not the owner; PT404 not a member
 * (or no such chat); 22023 not a group (assistant chats: delete on chats;
 * direct chats cannot be deleted, block the user instead).
 */
create or replace function public.delete_group_chat(p_chat_id uuid)
returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_role public.chat_member_role := private.assert_group_manager(p_chat_id);
begin
  if v_role <> 'owner' then
    raise exception 'only the group''s owner can delete it' using errcode = '42501';
  end if;
  delete from public.chats c where c.id = p_chat_id;
end;
$$;

revoke execute on function public.delete_group_chat(uuid) from public, anon;
grant execute on function public.delete_group_chat(uuid) to authenticated, service_role;

-- -----------------------------------------------------------------------------
-- A member's own media
-- -----------------------------------------------------------------------------
grant delete on public.media to authenticated;

-- media_owner_id_idx (owner_id, created_at) is behind this policy.
create policy "Owners can delete their own media"
  on public.media for delete to authenticated
  using (owner_id = (select private.current_user_id()));
