-- =============================================================================
-- Sample data for local development (applied once by `supabase db push
-- --include-seed` after the migrations; `npm run reset` to apply it again).
-- Never applied to a hosted project unless you pass --include-seed yourself.
--
-- Three users as the Clerk webhook would create them (the ids are made-up
-- Clerk-shaped ids: sign in locally with tokens minted for them), a friendship,
-- a pending request, a direct chat and a group chat with a reply.
-- =============================================================================

insert into public.users (id, display_name, username, about) values
  ('user_seedAlice0000000000000000', 'Alice Martin', 'alice', 'Loves hiking and long chats.'),
  ('user_seedBob000000000000000000', 'Bob Chen', 'bob', 'Coffee first.'),
  ('user_seedCarol0000000000000000', 'Carol Diaz', 'carol', '')
on conflict (id) do nothing;

insert into public.user_accounts (user_id, email, auth_provider, is_admin) values
  ('user_seedAlice0000000000000000', 'alice@example.com', 'google', true),
  ('user_seedBob000000000000000000', 'bob@example.com', 'email', false),
  ('user_seedCarol0000000000000000', 'carol@example.com', 'apple', false)
on conflict (user_id) do nothing;

-- Alice and Bob are friends; Carol has asked Alice.
insert into public.friends (requester_id, addressee_id, status, responded_at) values
  ('user_seedAlice0000000000000000', 'user_seedBob000000000000000000', 'accepted', now()),
  ('user_seedCarol0000000000000000', 'user_seedAlice0000000000000000', 'pending', null);

-- A direct chat between Alice and Bob, and a group of all three.
insert into public.chats (id, kind, title, created_by, direct_key) values
  ('00000000-0000-4000-8000-00000000d001', 'direct', null, 'user_seedAlice0000000000000000',
   'user_seedAlice0000000000000000:user_seedBob000000000000000000'),
  ('00000000-0000-4000-8000-00000000a001', 'group', 'Weekend trip', 'user_seedAlice0000000000000000', null);

insert into public.chat_members (chat_id, user_id, role) values
  ('00000000-0000-4000-8000-00000000d001', 'user_seedAlice0000000000000000', 'member'),
  ('00000000-0000-4000-8000-00000000d001', 'user_seedBob000000000000000000', 'member'),
  ('00000000-0000-4000-8000-00000000a001', 'user_seedAlice0000000000000000', 'owner'),
  ('00000000-0000-4000-8000-00000000a001', 'user_seedBob000000000000000000', 'admin'),
  ('00000000-0000-4000-8000-00000000a001', 'user_seedCarol0000000000000000', 'member');

insert into public.messages (id, chat_id, sender_id, content, reply_to_id, created_at) values
  ('00000000-0000-4000-8000-0000000e0001', '00000000-0000-4000-8000-00000000d001',
   'user_seedAlice0000000000000000', 'Hi Bob! Are you coming on Saturday?', null, now() - interval '2 hours'),
  ('00000000-0000-4000-8000-0000000e0002', '00000000-0000-4000-8000-00000000d001',
   'user_seedBob000000000000000000', 'Yes, count me in.', '00000000-0000-4000-8000-0000000e0001',
   now() - interval '1 hour'),
  ('00000000-0000-4000-8000-0000000e0003', '00000000-0000-4000-8000-00000000a001',
   'user_seedAlice0000000000000000', 'Trip plan: leave at 8, back by 6.', null, now() - interval '30 minutes');

-- Settings: their defaults come from the migrations (admin_config); change them
-- in Studio or with public.admin_set_config (see the README's admin section).
