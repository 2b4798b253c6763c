-- =============================================================================
-- Media: Cloudinary assets owned by a user (seed 000 MEDIA).
--
-- Rows are recorded by the cloudinary-webhook function (service role) after a
-- signed direct upload; clients never write them. Messages reference media by
-- id; the read policy on media is completed by the messages migration (an
-- attachment is visible to the members of the chat it was sent in).
-- =============================================================================

create table public.media (
  id uuid primary key default gen_random_uuid(),
  owner_id text not null references public.users (id) on delete cascade,
  public_id text not null unique,
  resource_type text not null check (resource_type in ('image', 'video', 'raw')),
  format text,
  bytes bigint not null check (bytes >= 0),
  width integer check (width is null or width > 0),
  height integer check (height is null or height > 0),
  secure_url text not null check (secure_url ~ '^https://'),
  purpose text not null default 'chat_image' check (purpose in ('avatar', 'chat_image', 'chat_file')),
  created_at timestamptz not null default now()
);
comment on table public.media is
  'Cloudinary assets (signed direct uploads) recorded by cloudinary-webhook. Readable by the owner and by members of chats they were sent in.';
comment on column public.media.public_id is 'Cloudinary public_id (includes the folder, which names the owner).';
comment on column public.media.bytes is 'Size in bytes as reported by Cloudinary.';
comment on column public.media.purpose is 'Upload purpose signed by media-sign: avatar, chat_image or chat_file.';

create index media_owner_id_idx on public.media (owner_id, created_at desc);

grant select on public.media to authenticated;
grant select, insert, update, delete on public.media to service_role;

alter table public.media enable row level security;
