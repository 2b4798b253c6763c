/**
 * notifications and media through supabase-js, as each actor
 * (20261122080200_notifications.sql, 20261122080500_media.sql,
 * 20261122130000_media_uploads.sql): a user reads, marks read and deletes
 * their own notifications and nothing else; media rows are written only by
 * cloudinary-webhook (service role) and read by their owner, by anyone when
 * they are an avatar, and by the members of a chat they were sent in.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { anonClient } from '../helpers/client.js';
import { closeDb, owner } from '../helpers/db.js';
import { buildWorld, expectNoPrivilege, freshUsers, ok, recordMedia, rest, type World } from '../helpers/world.js';

afterAll(closeDb);

let w: World;
let bobsNote: string; // bob's friend_request notification (from alice)
beforeAll(async () => {
  w = await buildWorld();
  bobsNote = (await owner()`select id from public.notifications where user_id = ${w.bob} and kind = 'friend_request'`)[0]!.id;
});
const note = async (id: string) => (await owner()`select user_id, kind, payload, read_at from public.notifications where id = ${id}`)[0];

describe('notifications', () => {
  it('a user reads their own; others read nothing by id, kind, payload filter or count; anon 401', async () => {
    expect(ok(await w.as.bob.from('notifications').select('id, kind').eq('id', bobsNote))).toEqual([{ id: bobsNote, kind: 'friend_request' }]);
    expect(ok(await w.as.alice.from('notifications').select('id').eq('id', bobsNote))).toEqual([]);
    const c = await w.as.dave.from('notifications').select('*', { count: 'exact', head: true }).eq('user_id', w.bob);
    expect(c.count).toBe(0);
    expect(ok(await w.as.dave.from('notifications').select('id').eq('payload->>from_user_id', w.alice))).toEqual([]);
    expect(ok(await w.as.dave.from('users').select('id, notifications(id)').eq('id', w.bob))).toEqual([{ id: w.bob, notifications: [] }]);
    expectNoPrivilege(await anonClient().from('notifications').select('id'), true);
  });

  it('the owner marks read (read_at only); kind, payload, user_id are 403; another user marks nothing', async () => {
    expect(ok(await w.as.alice.from('notifications').update({ read_at: new Date().toISOString() }).eq('id', bobsNote).select())).toEqual([]);
    expect((await note(bobsNote))!.read_at).toBeNull();
    expectNoPrivilege(await w.as.bob.from('notifications').update({ kind: 'low_balance' }).eq('id', bobsNote));
    expectNoPrivilege(await w.as.bob.from('notifications').update({ payload: { amount: 1 } }).eq('id', bobsNote));
    expectNoPrivilege(await w.as.bob.from('notifications').update({ user_id: w.alice }).eq('id', bobsNote));
    expect(ok(await w.as.bob.from('notifications').update({ read_at: new Date().toISOString() }).eq('id', bobsNote).select('id'))).toEqual([{ id: bobsNote }]);
    expect((await note(bobsNote))!.read_at).not.toBeNull();
  });

  it('insert and upsert are 403: nobody plants a notification (a fake "topup_succeeded")', async () => {
    expectNoPrivilege(await w.as.alice.from('notifications').insert({ user_id: w.bob, kind: 'topup_succeeded', payload: {} }).select());
    expectNoPrivilege(await w.as.alice.from('notifications').upsert({ id: bobsNote, user_id: w.bob, kind: 'x', payload: {} }, { onConflict: 'id' }));
    expect((await note(bobsNote))!.kind).toBe('friend_request');
  });

  it('delete: another user deletes nothing, even without a filter; the owner deletes their own', async () => {
    const res = await rest(w.alice, '/notifications', { method: 'DELETE', headers: { prefer: 'return=representation' } });
    if (res.status < 300) expect(res.body.every((n: { user_id: string }) => n.user_id === w.alice)).toBe(true);
    else expect(res.status).toBeLessThan(500);
    expect(await note(bobsNote)).toBeDefined();
    expect(ok(await w.as.bob.from('notifications').delete().eq('id', bobsNote).select('id'))).toEqual([{ id: bobsNote }]);
    expect(await note(bobsNote)).toBeUndefined();
  });
});

describe('media', () => {
  it('owner reads own uploads; anyone signed in reads an avatar in use; others do not read a private upload', async () => {
    const [u, other] = await freshUsers(2);
    const upload = await recordMedia(u!, 'chat_file');
    const avatar = await recordMedia(u!, 'avatar');
    await owner()`update public.users set avatar_media_id = ${avatar.id} where id = ${u!}`;
    const { clientAs } = await import('../helpers/client.js');
    expect(ok(await clientAs(u!).from('media').select('id').in('id', [upload.id, avatar.id])).map((m) => m.id).sort()).toEqual([upload.id, avatar.id].sort());
    expect(ok(await clientAs(other!).from('media').select('id').in('id', [upload.id, avatar.id]))).toEqual([{ id: avatar.id }]);
    const c = await clientAs(other!).from('media').select('*', { count: 'exact', head: true }).eq('owner_id', u!);
    expect(c.count).toBe(1);
    expect(ok(await clientAs(other!).from('users').select('id, avatar:media!avatar_media_id(secure_url)').eq('id', u!)))
      .toEqual([{ id: u, avatar: { secure_url: avatar.secure_url } }]);
    expectNoPrivilege(await anonClient().from('media').select('id'), true);
  });

  it('media sent in a chat: members read it (and by embedding), an outsider does not', async () => {
    const img = await recordMedia(w.alice, 'chat_image');
    const m = ok(await w.as.alice.rpc('send_message', { p_chat_id: w.group, p_content: '', p_kind: 'image', p_media_id: img.id }));
    expect(ok(await w.as.carol.from('media').select('id').eq('id', img.id))).toEqual([{ id: img.id }]);
    expect(ok(await w.as.carol.from('messages').select('id, media(secure_url)').eq('id', m.id))).toEqual([{ id: m.id, media: { secure_url: img.secure_url } }]);
    expect(ok(await w.as.dave.from('media').select('id').eq('id', img.id))).toEqual([]);
    expect(ok(await w.as.bob.from('media').select('id').eq('owner_id', w.alice).eq('purpose', 'chat_file'))).toEqual([]);
  });

  it('insert, update and upsert are 403 for every client, owner included; only the owner deletes (issue 16)', async () => {
    const mine = await recordMedia(w.alice, 'chat_image');
    const a = w.as.alice;
    expectNoPrivilege(await a.from('media').insert({ owner_id: w.alice, public_id: 'x', resource_type: 'image', bytes: 1, secure_url: 'https://evil.example/x.png' }));
    expectNoPrivilege(await a.from('media').update({ secure_url: 'https://evil.example/x.png' }).eq('id', mine.id));
    expectNoPrivilege(await a.from('media').update({ purpose: 'avatar' }).eq('id', mine.id));
    expectNoPrivilege(await a.from('media').upsert({ id: mine.id, owner_id: w.alice, public_id: 'y', resource_type: 'image', bytes: 1, secure_url: 'https://evil.example/y.png' }, { onConflict: 'id' }));
    // Another user deletes nothing (RLS: 0 rows); the owner's own deletion is tests/messaging/management.test.ts's.
    const del = await w.as.bob.from('media').delete().eq('id', mine.id).select('id');
    expect(del.data ?? []).toEqual([]);
    const [row] = await owner()`select secure_url, purpose from public.media where id = ${mine.id}`;
    expect(row).toEqual({ secure_url: mine.secure_url, purpose: 'chat_image' });
  });
});
