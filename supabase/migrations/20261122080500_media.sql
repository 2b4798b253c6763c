-- =============================================================================
-- Media: the table of Cloudinary assets owned by a user (avatars, chat images
-- and files, status images and videos: 20261202110500_stories.sql).
--
-- Rows are recorded by the cloudinary-webhook function (service role) after a
-- signed direct upload; clients never write them. Messages reference media by
-- id (messages.media_id), a user their uploaded avatar (users.avatar_media_id,
-- whose foreign key is added here: users and media reference each other).
-- RLS is on from here; the one read policy (owner, anyone's avatar, members of
-- a chat it was sent in) reads messages and is created with the upload flow in
-- 20261122130000_media_uploads.sql, as are the triggers and functions.
--
-- Alike on purpose: function headers (returns, language, security, search_path,
-- the caller's id) and table declarations (grants, RLS, policies) repeat: each
-- object states its own contract (supabase/migrations/README.md, "Shapes that repeat").
-- =============================================================================

create table public.media (
  id uuid primary key default gen_random_uuid(),
  owner_id public.clerk_user_id not null references public.users (id) on delete cascade,
  public_id text not null unique,
  resource_type text not null check (resource_type in ('image', 'video', 'raw')),
  format text,
  bytes bigint not null check (bytes >= 0),
  width integer check (width is null or width > 0),
  height integer check (height is null or height > 0),
  secure_url text not null check (secure_url ~ '^https://'),
  purpose text not null default 'chat_image' check (purpose in ('avatar', 'chat_image', 'chat_file', 'story_image', 'story_video')),
  created_at timestamptz not null default now(),
  original_filename text check (original_filename is null or char_length(original_filename) <= 255)
);
comment on table public.media is
  'Cloudinary assets (signed direct uploads) recorded by cloudinary-webhook. Readable by the owner and by members of chats they were sent in.';
comment on column public.media.public_id is 'Cloudinary public_id (includes the folder, which names the owner).';
comment on column public.media.bytes is 'Size in bytes as reported by Cloudinary.';
comment on column public.media.purpose is
  'Upload purpose signed by media-sign: avatar, chat_image, chat_file, story_image or story_video.';
comment on column public.media.original_filename is
  'Name of the uploaded file without extension, as Cloudinary reports it (shown for file messages).';
comment on column public.media.owner_id is
  'The uploader: the <user_id> of the folder chat-with-me/<user_id>/<purpose> media-sign signed.';
comment on column public.media.format is
  'Cloudinary format (jpg, png, …); for raw files the file extension.';
comment on column public.media.secure_url is 'Cloudinary HTTPS delivery URL of the original.';

create index media_owner_id_idx on public.media (owner_id, created_at desc);

-- users.avatar_media_id (declared with users) points at a media row; deleting
-- the row clears the avatar (the users_sync_avatar trigger clears avatar_url).
alter table public.users
  add constraint users_avatar_media_id_fkey foreign key (avatar_media_id)
  references public.media (id) on delete set null;

grant select on public.media to authenticated;
grant select, insert, update, delete on public.media to service_role;

alter table public.media enable row level security;
