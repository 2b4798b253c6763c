-- =============================================================================
-- Media uploads: what signed Cloudinary direct uploads of avatars, chat
-- images and chat files, and status images and videos
-- (20261202110500_stories.sql), need in the database.
--
-- The flow (functions media-sign and cloudinary-webhook):
--   1. media-sign signs a direct upload into the caller's own folder
--      `chat-with-me/<user_id>/<purpose>` with the purpose's allowed formats
--      and a notification_url pointing at cloudinary-webhook; the size limit
--      of each purpose is a setting here (admin_config `media.max_*_bytes`);
--   2. the client uploads straight to Cloudinary;
--   3. Cloudinary posts a signed upload notification; cloudinary-webhook
--      verifies it and records the asset through the one narrow door below,
--      private.record_cloudinary_upload() (service role only), exactly once
--      per notification (webhook_events), and tells the uploader on the
--      private Realtime topic user:<user_id> (event `media`). An upload beyond
--      its purpose's limits, or into the folder of a user who no longer exists,
--      is not recorded: it is queued for deletion from Cloudinary instead.
--
-- What this adds (the media table is 20261122080500_media.sql's, the
-- users.avatar_media_id column 20261122080100_users.sql's):
--   * purpose/kind rules for messages: an image message carries a chat image,
--     a file message any chat upload, never an avatar (the sender-owns-it rule
--     is the messages migration's);
--   * the avatar trigger: a user sets users.avatar_media_id to one of their
--     own avatar uploads (a plain UPDATE of their row; users_sync_avatar checks
--     it and makes avatar_url follow). An uploaded avatar is not replaced by
--     the Clerk image of a later user.updated webhook;
--   * the one SELECT policy on media: the owner, any signed-in user for a
--     media row that is someone's avatar (profiles are readable by every
--     signed-in user), and the members of a chat it was sent in;
--   * no orphaned references: deleting a media row clears the messages and the
--     avatar that used it (foreign keys, on delete set null; avatar_url too);
--     deleting a user deletes their media (media.owner_id on delete cascade);
--   * private.media_deletions, the queue of Cloudinary assets to delete, filled
--     whenever a media row is deleted or an upload is refused, and emptied by
--     scripts/media-cleanup.mjs through Cloudinary's Admin API
--     (https://cloudinary.com/documentation/admin_api#delete_resources).
--
-- Alike on purpose: function headers (returns, language, security, search_path,
-- the caller's id) and table declarations (grants, RLS, policies) repeat: each
-- object states its own contract (supabase/migrations/README.md, "Shapes that repeat").
-- =============================================================================

-- -----------------------------------------------------------------------------
-- Tables
-- -----------------------------------------------------------------------------
create table private.media_deletions (
  resource_type text not null check (resource_type in ('image', 'video', 'raw')),
  public_id text not null check (char_length(public_id) between 1 and 255),
  reason text not null check (reason in ('media_deleted', 'refused', 'owner_unknown')),
  queued_at timestamptz not null default now(),
  attempts integer not null default 0 check (attempts >= 0),
  last_attempt_at timestamptz,
  last_error text check (last_error is null or char_length(last_error) <= 500),
  deleted_at timestamptz,
  primary key (resource_type, public_id)
);
comment on table private.media_deletions is
  'Cloudinary assets to delete (Admin API delete_resources): filled when a media row is deleted or an upload is refused; worked off by scripts/media-cleanup.mjs.';
comment on column private.media_deletions.reason is
  'media_deleted (row deleted, e.g. with its owner), refused (beyond its purpose''s limits), owner_unknown (uploaded into the folder of a user who does not exist).';
comment on column private.media_deletions.deleted_at is 'When Cloudinary confirmed the deletion (deleted or not_found); null while pending.';
comment on column private.media_deletions.last_error is 'What Cloudinary answered on the last failed attempt (retried with backoff).';

-- Pending work, oldest first.
create index media_deletions_pending_idx on private.media_deletions (queued_at) where deleted_at is null;

-- Not reachable by clients (private is not exposed, and nothing is granted).
alter table private.media_deletions enable row level security;

-- -----------------------------------------------------------------------------
-- Helpers
-- -----------------------------------------------------------------------------

/**
 * Largest upload allowed for a purpose, in bytes, from admin_config
 * (media.max_avatar_bytes, media.max_image_bytes, media.max_file_bytes,
 * media.max_story_image_bytes, media.max_story_video_bytes), or the default
 * written here (5 MiB, 10 MiB, 25 MiB, 10 MiB, 50 MiB) when a setting is
 * missing or not a positive number; the settings start at these defaults.
 * Not a secret: media-sign hands it to the client. Errors: 22023 unknown purpose.
 */
create or replace function private.media_max_bytes(p_purpose text)
returns bigint
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  v_key text;
  v_default bigint;
  v_value jsonb;
begin
  case p_purpose
    when 'avatar' then v_key := 'media.max_avatar_bytes'; v_default := 5242880;
    when 'chat_image' then v_key := 'media.max_image_bytes'; v_default := 10485760;
    when 'chat_file' then v_key := 'media.max_file_bytes'; v_default := 26214400;
    when 'story_image' then v_key := 'media.max_story_image_bytes'; v_default := 10485760;
    when 'story_video' then v_key := 'media.max_story_video_bytes'; v_default := 52428800;
    else raise exception 'unknown media purpose: %', p_purpose using errcode = '22023';
  end case;
  select c.value into v_value from public.admin_config c where c.key = v_key;
  if jsonb_typeof(v_value) = 'number' and (v_value #>> '{}')::numeric >= 1 then
    return floor((v_value #>> '{}')::numeric)::bigint;
  end if;
  return v_default;
end;
$$;
comment on function private.media_max_bytes(text) is
  'Largest upload (bytes) for a media purpose, from admin_config media.max_*_bytes.';

-- The settings (types and bounds; admins change them in Studio) start at the
-- defaults written once, in media_max_bytes above (no row exists yet here).
insert into public.admin_config (key, value, description, value_type, min_value, max_value) values
  ('media.max_avatar_bytes', to_jsonb(private.media_max_bytes('avatar')), 'Largest avatar upload recorded, in bytes (5 MiB); media-sign tells clients, cloudinary-webhook refuses and deletes larger ones.', 'integer', 1024, 104857600),
  ('media.max_image_bytes', to_jsonb(private.media_max_bytes('chat_image')), 'Largest chat image upload recorded, in bytes (10 MiB); media-sign tells clients, cloudinary-webhook refuses and deletes larger ones.', 'integer', 1024, 104857600),
  ('media.max_file_bytes', to_jsonb(private.media_max_bytes('chat_file')), 'Largest chat file upload recorded, in bytes (25 MiB); media-sign tells clients, cloudinary-webhook refuses and deletes larger ones.', 'integer', 1024, 1073741824),
  ('media.max_story_image_bytes', to_jsonb(private.media_max_bytes('story_image')), 'Largest status (story) image upload recorded, in bytes (10 MiB).', 'integer', 1024, 104857600),
  ('media.max_story_video_bytes', to_jsonb(private.media_max_bytes('story_video')), 'Largest status (story) video upload recorded, in bytes (50 MiB).', 'integer', 1024, 1073741824)
on conflict (key) do nothing;

/** Queues a Cloudinary asset for deletion (once: a second request is a no-op). */
create or replace function private.queue_media_deletion(p_resource_type text, p_public_id text, p_reason text)
returns void
language sql
security definer
set search_path = ''
as $$
  insert into private.media_deletions (resource_type, public_id, reason)
  values (p_resource_type, p_public_id, p_reason)
  on conflict (resource_type, public_id) do nothing
$$;

-- -----------------------------------------------------------------------------
-- Triggers
-- -----------------------------------------------------------------------------

/**
 * AFTER DELETE on media: the Cloudinary asset goes into the deletion queue
 * (whoever deleted the row: the service role, or the cascade of a deleted user).
 */
create or replace function private.queue_deleted_media()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  perform private.queue_media_deletion(old.resource_type, old.public_id, 'media_deleted');
  return null;
end;
$$;

create trigger media_queue_deletion after delete on public.media
  for each row execute function private.queue_deleted_media();

/**
 * BEFORE UPDATE on users: keeps avatar_media_id and avatar_url together.
 * - avatar_media_id set: it must be one of the user's own media with purpose
 *   avatar (an image); avatar_url becomes its secure_url. Errors: 42501.
 * - avatar_media_id cleared (by the user, or by the foreign key when the media
 *   row is deleted): avatar_url is cleared too, unless the same update sets it.
 * - avatar_url changed while an uploaded avatar is set: by the user themself,
 *   it replaces the upload (avatar_media_id cleared); by anyone else (the
 *   clerk-webhook syncing Clerk's image_url), it is ignored: an avatar the user
 *   uploaded wins over Clerk's.
 */
create or replace function private.sync_user_avatar()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_url text;
begin
  if new.avatar_media_id is distinct from old.avatar_media_id then
    if new.avatar_media_id is null then
      if new.avatar_url is not distinct from old.avatar_url then
        new.avatar_url := null;
      end if;
    else
      select md.secure_url into v_url from public.media md
      where md.id = new.avatar_media_id and md.owner_id = new.id
        and md.purpose = 'avatar' and md.resource_type = 'image';
      if v_url is null then
        raise exception 'media % is not one of your avatar uploads', new.avatar_media_id
          using errcode = '42501', hint = 'Upload the image with media-sign purpose "avatar" first.';
      end if;
      new.avatar_url := v_url;
    end if;
  elsif old.avatar_media_id is not null and new.avatar_url is distinct from old.avatar_url then
    if private.current_user_id() is not distinct from new.id then
      new.avatar_media_id := null;
    else
      new.avatar_url := old.avatar_url;
    end if;
  end if;
  return new;
end;
$$;

create trigger users_sync_avatar before update on public.users
  for each row execute function private.sync_user_avatar();

/**
 * BEFORE INSERT on messages with a media_id (after messages_check_insert has
 * checked that the sender owns the media): the media must suit the kind. An image message
 * carries an image uploaded for chat (purpose chat_image); a file message
 * carries a chat upload (chat_image or chat_file); an avatar is never sent as
 * a message. Errors: 22023.
 */
create or replace function private.check_message_media()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_media public.media;
begin
  select * into v_media from public.media md where md.id = new.media_id;
  if v_media.id is null then
    return new; -- the foreign key reports a missing row
  end if;
  if v_media.purpose = 'avatar' then
    raise exception 'media % is an avatar upload, not a chat attachment', new.media_id using errcode = '22023';
  end if;
  if new.kind = 'image' and (v_media.resource_type <> 'image' or v_media.purpose <> 'chat_image') then
    raise exception 'image messages need an image uploaded for chat (purpose chat_image); send % as a file', new.media_id
      using errcode = '22023';
  end if;
  return new;
end;
$$;

-- Only a message with media calls it (a text message skips the call).
create trigger messages_check_media before insert on public.messages
  for each row when (new.media_id is not null) execute function private.check_message_media();

-- -----------------------------------------------------------------------------
-- Grants and RLS policies
-- -----------------------------------------------------------------------------
grant execute on function private.media_max_bytes(text) to authenticated, service_role;

-- The one SELECT policy on media (RLS was enabled with the table in 20261122080500_media.sql).
create policy "Users can read own media, avatars and media sent in their chats"
  on public.media for select to authenticated
  using (
    owner_id = (select auth.jwt()) ->> 'sub'
    or id in (select u.avatar_media_id from public.users u where u.avatar_media_id is not null)
    or id in (
      select m.media_id from public.messages m
      where m.media_id is not null and m.chat_id in (select private.my_chat_ids())
    )
  );

-- -----------------------------------------------------------------------------
-- The webhook's door and the cleanup queue (service role only)
-- -----------------------------------------------------------------------------

/**
 * Records one verified Cloudinary upload notification (cloudinary-webhook),
 * in one transaction:
 *   1. records the event ('cloudinary', p_event_id): a redelivery returns
 *      'duplicate' (with the media id recorded the first time) and changes nothing;
 *   2. p_refusal (set by the function: refused_format, refused_resource_type),
 *      an owner that is not a user ('owner_unknown'), or more bytes than the
 *      purpose allows ('refused_too_large'): no media row; the asset is queued
 *      for deletion from Cloudinary;
 *   3. otherwise upserts the media row by public_id ('created', or 'updated'
 *      for a new version of an asset already recorded).
 * The outcome is stored in webhook_events.outcome and returned with the media
 * id, and broadcast to the uploader on `user:<owner_id>`, event `media`
 * ({public_id, media_id, purpose, outcome}): the client that uploaded learns
 * that its asset is recorded (or refused) without polling.
 * Errors: 22023 unknown purpose; 23514 values the media table refuses.
 */
create or replace function private.record_cloudinary_upload(
  p_event_id text,
  p_occurred_at timestamptz,
  p_owner_id text,
  p_purpose text,
  p_public_id text,
  p_resource_type text,
  p_format text,
  p_bytes bigint,
  p_width integer,
  p_height integer,
  p_secure_url text,
  p_original_filename text,
  p_refusal text default null
)
returns table (outcome text, media_id uuid)
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_outcome text;
  v_id uuid;
  v_inserted boolean;
  v_max bigint := private.media_max_bytes(p_purpose);
begin
  if p_refusal is not null and p_refusal not in ('refused_format', 'refused_resource_type') then
    raise exception 'unknown refusal: %', p_refusal using errcode = '22023';
  end if;
  if not private.record_webhook_event('cloudinary', p_event_id, 'upload', p_public_id, p_occurred_at) then
    select md.id into v_id from public.media md where md.public_id = p_public_id;
    return query select 'duplicate'::text, v_id;
    return;
  end if;

  if p_refusal is not null then
    v_outcome := p_refusal;
  elsif not exists (select 1 from public.users u where u.id = p_owner_id) then
    v_outcome := 'owner_unknown';
  elsif p_bytes > v_max then
    v_outcome := 'refused_too_large';
  end if;

  if v_outcome is not null then
    perform private.queue_media_deletion(
      p_resource_type, p_public_id, case when v_outcome = 'owner_unknown' then 'owner_unknown' else 'refused' end);
  else
    insert into public.media as md
      (owner_id, public_id, resource_type, format, bytes, width, height, secure_url, purpose, original_filename)
    values
      (p_owner_id, p_public_id, p_resource_type, p_format, p_bytes, p_width, p_height, p_secure_url, p_purpose,
       left(p_original_filename, 255))
    on conflict (public_id) do update
      set format = excluded.format, bytes = excluded.bytes, width = excluded.width, height = excluded.height,
          secure_url = excluded.secure_url, original_filename = excluded.original_filename
      where md.owner_id = excluded.owner_id and md.resource_type = excluded.resource_type
    returning md.id, (md.xmax = 0) into v_id, v_inserted;
    v_outcome := case when v_id is null then 'conflict' when v_inserted then 'created' else 'updated' end;
  end if;

  update public.webhook_events e set outcome = v_outcome
  where e.provider = 'cloudinary' and e.event_id = p_event_id;
  -- Tell the uploader (their client waits for the asset to be recorded, or refused).
  if v_outcome <> 'owner_unknown' then
    perform realtime.send(
      jsonb_build_object('public_id', p_public_id, 'media_id', v_id, 'purpose', p_purpose, 'outcome', v_outcome),
      'media',
      private.user_topic(p_owner_id),
      true
    );
  end if;
  return query select v_outcome, v_id;
end;
$$;
comment on function private.record_cloudinary_upload(text, timestamptz, text, text, text, text, text, bigint, integer, integer, text, text, text) is
  'cloudinary-webhook: records a verified upload notification once (media row, or refusal queued for deletion). Returns the outcome.';

/**
 * Takes up to `p_limit` (1..1000) pending deletions for a worker: the oldest
 * not attempted in the last `p_retry_after` (a failed one is retried after
 * it), locked against concurrent workers, and counts the attempt.
 */
create or replace function private.claim_media_deletions(
  p_limit integer default 100,
  p_retry_after interval default interval '10 minutes'
)
returns table (resource_type text, public_id text, attempts integer)
language sql
security definer
set search_path = ''
as $$
  update private.media_deletions d
  set attempts = d.attempts + 1, last_attempt_at = now()
  where (d.resource_type, d.public_id) in (
    select p.resource_type, p.public_id from private.media_deletions p
    where p.deleted_at is null and (p.last_attempt_at is null or p.last_attempt_at < now() - p_retry_after)
    order by p.queued_at
    limit greatest(1, least(coalesce(p_limit, 100), 1000))
    for update skip locked
  )
  returning d.resource_type, d.public_id, d.attempts
$$;

/**
 * Reports the result of deleting one queued asset: no `p_error` means
 * Cloudinary deleted it or no longer has it (deleted_at is set); an error is
 * kept in last_error (cut to 500 characters) for the next attempt.
 */
create or replace function private.finish_media_deletion(p_resource_type text, p_public_id text, p_error text default null)
returns void
language sql
security definer
set search_path = ''
as $$
  update private.media_deletions d
  set deleted_at = case when p_error is null then now() end,
      last_error = left(p_error, 500)
  where d.resource_type = p_resource_type and d.public_id = p_public_id
$$;

revoke execute on function
  private.queue_media_deletion(text, text, text),
  private.record_cloudinary_upload(text, timestamptz, text, text, text, text, text, bigint, integer, integer, text, text, text),
  private.claim_media_deletions(integer, interval),
  private.finish_media_deletion(text, text, text)
  from public, anon, authenticated;
grant execute on function
  private.record_cloudinary_upload(text, timestamptz, text, text, text, text, text, bigint, integer, integer, text, text, text),
  private.claim_media_deletions(integer, interval),
  private.finish_media_deletion(text, text, text)
  to service_role;
