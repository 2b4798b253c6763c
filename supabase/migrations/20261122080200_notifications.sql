-- =============================================================================
-- Notifications: one user's feed (friend requests and answers, chat invitations,
-- balance alerts, payment results), pushed live to the private Realtime topic
-- `user:<user_id>`.
--
-- Rows are written by the database (RPCs, triggers) or by functions as the
-- service role, never by clients; a user reads, marks read and deletes their own.
--
-- Alike on purpose: function headers (returns, language, security, search_path,
-- the caller's id) and table declarations (grants, RLS, policies) repeat: each
-- object states its own contract (supabase/migrations/README.md, "Shapes that repeat").
-- =============================================================================

create table public.notifications (
  id uuid primary key default gen_random_uuid(),
  user_id public.clerk_user_id not null references public.users (id) on delete cascade,
  kind text not null check (kind ~ '^[a-z][a-z0-9_.]{1,63}$'),
  payload jsonb not null default '{}'::jsonb,
  read_at timestamptz,
  created_at timestamptz not null default now()
);
comment on table public.notifications is
  'A user''s notifications, newest first. Each insert is broadcast to the private topic user:<user_id> as event `notification`.';
comment on column public.notifications.kind is
  'What happened: friend_request, friend_request_accepted, friend_request_declined, chat_added, low_balance, topup_succeeded, topup_failed, topup_refunded, …';
comment on column public.notifications.payload is 'Kind-specific data (ids, names, amounts in micro-USD).';

create index notifications_user_id_created_at_idx on public.notifications (user_id, created_at desc);

grant select, delete on public.notifications to authenticated;
grant update (read_at) on public.notifications to authenticated;
grant select, insert, update, delete on public.notifications to service_role;

alter table public.notifications enable row level security;

create policy "Users can read their own notifications"
  on public.notifications for select to authenticated
  using (user_id = (select auth.jwt()) ->> 'sub');

create policy "Users can mark their own notifications read"
  on public.notifications for update to authenticated
  using (user_id = (select auth.jwt()) ->> 'sub')
  with check (user_id = (select auth.jwt()) ->> 'sub');

create policy "Users can delete their own notifications"
  on public.notifications for delete to authenticated
  using (user_id = (select auth.jwt()) ->> 'sub');

/**
 * Creates a notification for `p_user_id` (broadcast by the trigger below).
 * For RPCs and functions; not callable by clients.
 */
create or replace function private.notify(p_user_id text, p_kind text, p_payload jsonb)
returns uuid
language sql
security definer
set search_path = ''
as $$
  insert into public.notifications (user_id, kind, payload)
  values (p_user_id, p_kind, coalesce(p_payload, '{}'::jsonb))
  returning id
$$;
grant execute on function private.notify(text, text, jsonb) to service_role;

/** AFTER INSERT on notifications: broadcast the row to `user:<user_id>`, event `notification`. */
create or replace function private.broadcast_notification()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  perform realtime.send(
    jsonb_build_object(
      'id', new.id, 'kind', new.kind, 'payload', new.payload, 'created_at', new.created_at
    ),
    'notification',
    private.user_topic(new.user_id),
    true
  );
  return null;
end;
$$;

create trigger notifications_broadcast after insert on public.notifications
  for each row execute function private.broadcast_notification();
