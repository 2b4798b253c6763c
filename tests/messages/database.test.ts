/**
 * 05 — messages and their RPCs (send_message, get_chat_history,
 * mark_chat_read, get_inbox), one section per actor: the sender, another
 * member, a non-member (and a removed member), a blocked user, a user with no
 * profile yet, anon, and the service role (AI and system messages).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asAnon, asService, asUser, broadcastsOn, closeDb, createUser, newUserId, owner, pgError } from '../helpers/db.js';

afterAll(closeDb);

type Row = Record<string, any>;

const direct = async (a: string, b: string) =>
  (await asUser(a, (tx) => tx`select id from public.get_or_create_direct_chat(${b})`))[0]!.id as string;
const group = async (ownerId: string, members: string[], title = 'Group') =>
  (await asUser(ownerId, (tx) => tx`select id from public.create_group_chat(${title}, ${members}::text[])`))[0]!.id as string;

interface SendOpts {
  kind?: string;
  clientId?: string | null;
  replyTo?: string | null;
  media?: string | null;
}
/** send_message() as `who`; returns the message row. */
const send = (who: string, chat: string, content: string, o: SendOpts = {}) =>
  asUser(who, async (tx) =>
    (await tx`select * from public.send_message(${chat}, ${content}, ${o.kind ?? 'text'}::public.message_kind,
                ${o.clientId ?? null}, ${o.replyTo ?? null}, ${o.media ?? null})`)[0] as Row,
  );
const messageRow = async (id: string) => (await owner()`select * from public.messages where id = ${id}`)[0];

/** A Cloudinary asset recorded for `ownerId`, as cloudinary-webhook does. */
async function media(ownerId: string, resourceType = 'image'): Promise<string> {
  const [m] = await asService((tx) => tx`
    insert into public.media (owner_id, public_id, resource_type, format, bytes, width, height, secure_url)
    values (${ownerId}, ${`chat/${ownerId}/${crypto.randomUUID()}`}, ${resourceType}, 'png', 2048, 64, 64,
            'https://res.cloudinary.com/demo/image/upload/x.png')
    returning id`);
  return m!.id;
}

// =============================================================================
describe('as the sender (a member)', () => {
  let a: string, b: string, chat: string, otherChat: string;
  beforeAll(async () => {
    [a, b] = [await createUser(), await createUser()];
    chat = await group(a, [b]);
    otherChat = await group(a, []);
  });

  it('inserts a text message; sender_id comes from the token; the chat’s last message moves', async () => {
    const [m] = await asUser(a, (tx) => tx`insert into public.messages (chat_id, content) values (${chat}, 'hello') returning *`);
    expect(m).toMatchObject({ chat_id: chat, sender_id: a, kind: 'text', content: 'hello', edited_at: null, deleted_at: null });
    const c = (await owner()`select last_message_id, last_message_at from public.chats where id = ${chat}`)[0]!;
    expect(c.last_message_id).toBe(m!.id);
    expect(c.last_message_at.getTime()).toBe(m!.created_at.getTime());
  });

  it('cannot forge sender_id (new row violates row-level security policy)', async () => {
    const e = await pgError(asUser(a, (tx) => tx`insert into public.messages (chat_id, sender_id, content) values (${chat}, ${b}, 'from b?')`));
    expect(e.code).toBe('42501');
    expect(e.message).toMatch(/new row violates row-level security policy/);
  });

  it('cannot send ai or system messages (RLS), nor set created_at, metadata or id (42501)', async () => {
    for (const kind of ['ai', 'system']) {
      const e = await pgError(asUser(a, (tx) => tx`insert into public.messages (chat_id, kind, content) values (${chat}, ${kind}::public.message_kind, 'x')`));
      expect(e.message).toMatch(/row-level security/);
    }
    for (const q of [
      (tx: any) => tx`insert into public.messages (chat_id, content, created_at) values (${chat}, 'x', now() - interval '1 day')`,
      (tx: any) => tx`insert into public.messages (chat_id, content, metadata) values (${chat}, 'x', '{"model":"gpt"}')`,
      (tx: any) => tx`insert into public.messages (id, chat_id, content) values (${crypto.randomUUID()}, ${chat}, 'x')`,
    ]) {
      expect((await pgError(asUser(a, q))).code).toBe('42501');
    }
  });

  it('edits the content: edited_at is set', async () => {
    const m = await send(a, chat, 'typo');
    const [u] = await asUser(a, (tx) => tx`update public.messages set content = 'fixed' where id = ${m.id} returning content, edited_at`);
    expect(u!.content).toBe('fixed');
    expect(u!.edited_at).toBeInstanceOf(Date);
  });

  it('cannot change sender, chat, kind, created_at, media, reply or edited_at (column privileges: 42501)', async () => {
    const m = await send(a, chat, 'immutable');
    const mid = await media(a);
    for (const q of [
      (tx: any) => tx`update public.messages set sender_id = ${b} where id = ${m.id}`,
      (tx: any) => tx`update public.messages set chat_id = ${otherChat} where id = ${m.id}`,
      (tx: any) => tx`update public.messages set kind = 'system' where id = ${m.id}`,
      (tx: any) => tx`update public.messages set created_at = now() - interval '1 year' where id = ${m.id}`,
      (tx: any) => tx`update public.messages set media_id = ${mid} where id = ${m.id}`,
      (tx: any) => tx`update public.messages set reply_to_id = ${m.id} where id = ${m.id}`,
      (tx: any) => tx`update public.messages set edited_at = null where id = ${m.id}`,
      (tx: any) => tx`update public.messages set client_id = 'x' where id = ${m.id}`,
    ]) {
      const e = await pgError(asUser(a, q));
      expect(e.code).toBe('42501');
      expect(e.message).toMatch(/permission denied/);
    }
    expect(await messageRow(m.id)).toMatchObject({ sender_id: a, chat_id: chat, kind: 'text', media_id: null });
  });

  it('soft-deletes: deleted_at = now() whatever the client sent, content and media cleared', async () => {
    const mid = await media(a);
    const m = await send(a, chat, 'look', { kind: 'image', media: mid });
    expect(m.media_id).toBe(mid);
    const [r] = await asUser(a, (tx) => tx`
      update public.messages set deleted_at = '2001-02-03T04:05:06Z' where id = ${m.id}
      returning deleted_at, content, media_id, (deleted_at = now()) as is_now`);
    expect(r).toMatchObject({ content: '', media_id: null, is_now: true });
    expect(r!.deleted_at.getUTCFullYear()).not.toBe(2001);
  });

  it('cannot edit or restore a soft-deleted message (22023)', async () => {
    const m = await send(a, chat, 'gone soon');
    await asUser(a, (tx) => tx`update public.messages set deleted_at = now() where id = ${m.id}`);
    const first = (await messageRow(m.id))!.deleted_at;
    expect((await pgError(asUser(a, (tx) => tx`update public.messages set content = 'back' where id = ${m.id}`))).code).toBe('22023');
    expect((await pgError(asUser(a, (tx) => tx`update public.messages set deleted_at = null where id = ${m.id}`))).code).toBe('22023');
    // Deleting again changes nothing, not even the time.
    await asUser(a, (tx) => tx`update public.messages set deleted_at = now() + interval '1 hour' where id = ${m.id}`);
    expect((await messageRow(m.id))!.deleted_at.getTime()).toBe(first.getTime());
  });

  it('cannot hard-delete a message (42501)', async () => {
    const m = await send(a, chat, 'stays');
    expect((await pgError(asUser(a, (tx) => tx`delete from public.messages where id = ${m.id}`))).code).toBe('42501');
    expect(await messageRow(m.id)).toBeDefined();
  });

  it('replies within the chat, never to a message of another chat (22023)', async () => {
    const q = await send(a, chat, 'question');
    expect((await send(b, chat, 'answer', { replyTo: q.id })).reply_to_id).toBe(q.id);
    const elsewhere = await send(a, otherChat, 'elsewhere');
    expect((await pgError(send(a, chat, 'cross', { replyTo: elsewhere.id }))).code).toBe('22023');
    expect((await pgError(asUser(a, (tx) => tx`insert into public.messages (chat_id, content, reply_to_id) values (${chat}, 'x', ${elsewhere.id})`))).code).toBe('22023');
    expect((await pgError(send(a, chat, 'ghost', { replyTo: crypto.randomUUID() }))).code).toBe('22023');
  });

  it('image and file messages need media (22023) the sender owns (42501)', async () => {
    expect((await pgError(send(a, chat, '', { kind: 'image' }))).code).toBe('22023');
    expect((await pgError(send(a, chat, '', { kind: 'file' }))).code).toBe('22023');
    const theirs = await media(b);
    const e = await pgError(send(a, chat, '', { kind: 'image', media: theirs }));
    expect(e.code).toBe('42501');
    expect((await pgError(asUser(a, (tx) => tx`insert into public.messages (chat_id, kind, media_id) values (${chat}, 'image', ${theirs})`))).code).toBe('42501');
    const mine = await media(a, 'raw');
    expect((await send(a, chat, 'report.pdf', { kind: 'file', media: mine })).media_id).toBe(mine);
  });

  it('refuses empty text (23514) and text over 8000 characters (23514)', async () => {
    expect((await pgError(send(a, chat, '   '))).code).toBe('23514');
    expect((await pgError(send(a, chat, 'x'.repeat(8001)))).code).toBe('23514');
    expect((await send(a, chat, 'x'.repeat(8000))).content).toHaveLength(8000);
  });

  it('send_message with a client_id is idempotent: a retry returns the same message, one row', async () => {
    const key = `c-${crypto.randomUUID()}`;
    const first = await send(a, chat, 'once', { clientId: key });
    const retry = await send(a, chat, 'once', { clientId: key });
    expect(retry.id).toBe(first.id);
    expect(await owner()`select id from public.messages where sender_id = ${a} and client_id = ${key}`).toHaveLength(1);
    // Another key, or no key at all, is another message.
    expect((await send(a, chat, 'twice', { clientId: `${key}-2` })).id).not.toBe(first.id);
    const n1 = await send(a, chat, 'no key');
    const n2 = await send(a, chat, 'no key');
    expect(n1.id).not.toBe(n2.id);
  });

  it('the same client_id from two senders is two messages', async () => {
    const key = `shared-${crypto.randomUUID()}`;
    const x = await send(a, chat, 'from a', { clientId: key });
    const y = await send(b, chat, 'from b', { clientId: key });
    expect(x.id).not.toBe(y.id);
  });
});

// =============================================================================
describe('as another member', () => {
  let a: string, b: string, chat: string;
  beforeAll(async () => {
    [a, b] = [await createUser(), await createUser()];
    chat = await direct(a, b);
  });

  it('reads the messages of the chat', async () => {
    const m = await send(a, chat, 'for b');
    expect(await asUser(b, (tx) => tx`select content from public.messages where id = ${m.id}`)).toEqual([{ content: 'for b' }]);
  });

  it('cannot edit or delete someone else’s message (0 rows, unchanged)', async () => {
    const m = await send(a, chat, 'original');
    expect(await asUser(b, (tx) => tx`update public.messages set content = 'edited by b' where id = ${m.id} returning id`)).toEqual([]);
    expect(await asUser(b, (tx) => tx`update public.messages set deleted_at = now() where id = ${m.id} returning id`)).toEqual([]);
    expect(await messageRow(m.id)).toMatchObject({ content: 'original', deleted_at: null, edited_at: null });
  });

  it('reads the media attached in the chat, and loses it once the message is deleted', async () => {
    const mid = await media(a);
    const m = await send(a, chat, '', { kind: 'image', media: mid });
    expect(await asUser(b, (tx) => tx`select id from public.media where id = ${mid}`)).toEqual([{ id: mid }]);
    await asUser(a, (tx) => tx`update public.messages set deleted_at = now() where id = ${m.id}`);
    expect(await asUser(b, (tx) => tx`select id from public.media where id = ${mid}`)).toEqual([]);
    expect(await asUser(a, (tx) => tx`select id from public.media where id = ${mid}`)).toEqual([{ id: mid }]);
  });
});

// =============================================================================
describe('as a non-member', () => {
  let a: string, b: string, x: string, chat: string, msg: Row;
  beforeAll(async () => {
    [a, b, x] = [await createUser(), await createUser(), await createUser()];
    chat = await group(a, [b]);
    msg = await send(a, chat, 'members only');
  });

  it('reads nothing of the chat (empty results)', async () => {
    expect(await asUser(x, (tx) => tx`select * from public.messages where chat_id = ${chat}`)).toEqual([]);
    expect(await asUser(x, (tx) => tx`select * from public.get_chat_history(${chat})`)).toEqual([]);
    expect((await asUser(x, (tx) => tx`select chat_id from public.get_inbox()`)).map((r) => r.chat_id)).not.toContain(chat);
  });

  it('cannot post, by insert or by send_message (row-level security)', async () => {
    const e1 = await pgError(asUser(x, (tx) => tx`insert into public.messages (chat_id, content) values (${chat}, 'let me in')`));
    expect(e1.code).toBe('42501');
    expect(e1.message).toMatch(/row-level security/);
    expect((await pgError(send(x, chat, 'let me in'))).code).toBe('42501');
  });

  it('cannot edit or delete a message (0 rows) nor mark the chat read (PT404)', async () => {
    expect(await asUser(x, (tx) => tx`update public.messages set content = 'x' where id = ${msg.id} returning id`)).toEqual([]);
    expect((await pgError(asUser(x, (tx) => tx`select public.mark_chat_read(${chat})`))).code).toBe('PT404');
  });

  it('a removed member loses access, even to their own old messages', async () => {
    const own = await send(b, chat, 'before removal');
    await asUser(a, (tx) => tx`select public.remove_chat_member(${chat}, ${b})`);
    expect(await asUser(b, (tx) => tx`select * from public.messages where chat_id = ${chat}`)).toEqual([]);
    expect(await asUser(b, (tx) => tx`update public.messages set content = 'edit' where id = ${own.id} returning id`)).toEqual([]);
    expect((await pgError(send(b, chat, 'still here?'))).code).toBe('42501');
  });
});

// =============================================================================
describe('as a blocked user', () => {
  it('cannot message in an existing direct chat, nor can the blocker (42501); history stays readable', async () => {
    const [a, b] = [await createUser(), await createUser()];
    const chat = await direct(a, b);
    await send(a, chat, 'before the block');
    await asUser(a, (tx) => tx`select public.block_user(${b})`);
    const e = await pgError(send(b, chat, 'hello?'));
    expect(e.code).toBe('42501');
    expect((await pgError(asUser(b, (tx) => tx`insert into public.messages (chat_id, content) values (${chat}, 'hello?')`))).code).toBe('42501');
    expect((await pgError(send(a, chat, 'bye'))).code).toBe('42501');
    expect((await asUser(b, (tx) => tx`select content from public.messages where chat_id = ${chat}`)).map((r) => r.content)).toEqual(['before the block']);
    await asUser(a, (tx) => tx`select public.unblock_user(${b})`);
    expect((await send(b, chat, 'thanks')).content).toBe('thanks');
  });

  it('still talks in a group both belong to: blocks stop direct messages only', async () => {
    const [a, b, c] = [await createUser(), await createUser(), await createUser()];
    const g = await group(c, [a, b]);
    await asUser(a, (tx) => tx`select public.block_user(${b})`);
    expect((await send(b, g, 'hi all')).content).toBe('hi all');
  });
});

// =============================================================================
describe('as a user with no profile yet', () => {
  it('reads nothing and sends nothing', async () => {
    const [a, b] = [await createUser(), await createUser()];
    const chat = await direct(a, b);
    const n = newUserId();
    expect(await asUser(n, (tx) => tx`select * from public.messages where chat_id = ${chat}`)).toEqual([]);
    expect((await pgError(send(n, chat, 'hi'))).code).toBe('42501');
    expect(await asUser(n, (tx) => tx`select * from public.get_inbox()`)).toEqual([]);
    expect(await asUser(n, (tx) => tx`select * from public.get_chat_history(${chat})`)).toEqual([]);
  });
});

// =============================================================================
describe('as anon', () => {
  it('cannot read messages nor call any message RPC (42501)', async () => {
    const [a, b] = [await createUser(), await createUser()];
    const chat = await direct(a, b);
    for (const q of [
      (tx: any) => tx`select * from public.messages`,
      (tx: any) => tx`insert into public.messages (chat_id, content) values (${chat}, 'x')`,
      (tx: any) => tx`select public.send_message(${chat}, 'x')`,
      (tx: any) => tx`select * from public.get_chat_history(${chat})`,
      (tx: any) => tx`select public.mark_chat_read(${chat})`,
      (tx: any) => tx`select * from public.get_inbox()`,
    ]) {
      expect((await pgError(asAnon(q))).code).toBe('42501');
    }
  });
});

// =============================================================================
describe('as the service role (ai-chat and system messages)', () => {
  it('writes ai and system messages without a sender; members read them', async () => {
    const a = await createUser();
    const chat = (await asUser(a, (tx) => tx`select id from public.create_assistant_chat()`))[0]!.id;
    const [ai] = await asService((tx) => tx`
      insert into public.messages (chat_id, sender_id, kind, content, metadata)
      values (${chat}, null, 'ai', 'Hello! How can I help?', '{"provider":"openai","model":"gpt-4o-mini"}')
      returning id, sender_id`);
    expect(ai!.sender_id).toBeNull();
    await asService((tx) => tx`insert into public.messages (chat_id, kind, content) values (${chat}, 'system', 'renamed')`);
    const seen = await asUser(a, (tx) => tx`select kind, metadata from public.messages where chat_id = ${chat} order by created_at`);
    expect(seen.map((r) => r.kind)).toEqual(['ai', 'system']);
    expect(seen[0]!.metadata).toEqual({ provider: 'openai', model: 'gpt-4o-mini' });
  });

  it('is still held to the integrity triggers: a cross-chat reply is 22023', async () => {
    const [a, b] = [await createUser(), await createUser()];
    const c1 = await direct(a, b);
    const c2 = await group(a, []);
    const m = await send(a, c1, 'x');
    expect((await pgError(asService((tx) => tx`insert into public.messages (chat_id, kind, content, reply_to_id) values (${c2}, 'ai', 'y', ${m.id})`))).code).toBe('22023');
  });

  it('has no caller identity for send_message or the inbox (42501)', async () => {
    const [a, b] = [await createUser(), await createUser()];
    const chat = await direct(a, b);
    expect((await pgError(asService((tx) => tx`select public.send_message(${chat}, 'x')`))).code).toBe('42501');
    expect((await pgError(asService((tx) => tx`select * from public.get_inbox()`))).code).toBe('42501');
    expect((await pgError(asService((tx) => tx`select public.mark_chat_read(${chat})`))).code).toBe('42501');
  });
});

// =============================================================================
describe('get_chat_history()', () => {
  let a: string, b: string, x: string, chat: string;
  /** Every message id of the chat in cursor order, newest first, as the owner sees it. */
  let expected: string[];
  beforeAll(async () => {
    [a, b, x] = [await createUser(), await createUser(), await createUser()];
    chat = await group(a, [b]);
    for (let i = 0; i < 8; i++) await send(i % 2 ? b : a, chat, `m${i}`);
    // Six messages in one transaction share created_at: only the id breaks the tie.
    await asService((tx) => tx`
      insert into public.messages (chat_id, sender_id, content)
      select ${chat}, ${a}, 'same time ' || g from generate_series(1, 6) g`);
    for (let i = 8; i < 12; i++) await send(i % 2 ? b : a, chat, `m${i}`);
    const del = await send(a, chat, 'to delete');
    await asUser(a, (tx) => tx`update public.messages set deleted_at = now() where id = ${del.id}`);
    expected = (await owner()`select id from public.messages where chat_id = ${chat} order by created_at desc, id desc`).map((r) => r.id);
    expect(expected).toHaveLength(19);
  });

  // The cursor travels as text, as a PostgREST client sends it: postgres.js would turn a
  // timestamptz parameter into a JS Date and drop the microseconds.
  const page = (who: string, limit: number, cursor?: { at: string; id: string }) =>
    asUser(who, (tx) => tx`
      select id, created_at::text as at from public.get_chat_history(
        ${chat}, ${cursor?.at ?? null}::text::timestamptz, ${cursor?.id ?? null}::uuid, ${limit}::int)`);

  it('without a cursor returns the newest messages, newest first', async () => {
    expect((await page(b, 5)).map((r) => r.id)).toEqual(expected.slice(0, 5));
  });

  it('pages by (created_at, id): every message exactly once, in order, across pages', async () => {
    const seen: string[] = [];
    let cursor: { at: string; id: string } | undefined;
    for (let i = 0; i < 20; i++) {
      const rows = await page(b, 4, cursor);
      if (rows.length === 0) break;
      seen.push(...rows.map((r) => r.id));
      const last = rows[rows.length - 1]!;
      cursor = { at: last.at, id: last.id };
    }
    expect(seen).toEqual(expected);
    expect(new Set(seen).size).toBe(expected.length);
  });

  it('includes soft-deleted messages as tombstones (empty content)', async () => {
    const [newest] = await asUser(b, (tx) => tx`select content, deleted_at from public.get_chat_history(${chat}, null, null, 1)`);
    expect(newest!.content).toBe('');
    expect(newest!.deleted_at).toBeInstanceOf(Date);
  });

  it('clamps the page size to 1..200', async () => {
    expect(await page(b, 0)).toHaveLength(1);
    const big = await group(a, []);
    await asService((tx) => tx`
      insert into public.messages (chat_id, sender_id, content) select ${big}, ${a}, 'n' || g from generate_series(1, 205) g`);
    const rows = await asUser(a, (tx) => tx`select id from public.get_chat_history(${big}, null, null, 1000)`);
    expect(rows).toHaveLength(200);
  });

  it('gives a non-member nothing, with or without a cursor', async () => {
    expect(await page(x, 50)).toEqual([]);
    expect(await page(x, 50, { at: new Date(Date.now() + 60_000).toISOString(), id: expected[0]! })).toEqual([]);
  });
});

// =============================================================================
describe('mark_chat_read()', () => {
  it('moves the caller’s read mark to the newest message and broadcasts a `read` receipt', async () => {
    const [a, b] = [await createUser(), await createUser()];
    const chat = await direct(a, b);
    await send(a, chat, 'one');
    const two = await send(a, chat, 'two');
    const [row] = await asUser(b, (tx) => tx`select * from public.mark_chat_read(${chat})`);
    expect(row).toMatchObject({ chat_id: chat, user_id: b, last_read_message_id: two.id });
    expect(row!.last_read_at.getTime()).toBe(two.created_at.getTime());
    const reads = (await broadcastsOn(`chat:${chat}`)).filter((r) => r.event === 'read');
    expect(reads).toHaveLength(1);
    expect(reads[0]!.payload).toMatchObject({ user_id: b, message_id: two.id });
    // Only the caller's own mark moved.
    const aRow = (await owner()`select last_read_message_id from public.chat_members where chat_id = ${chat} and user_id = ${a}`)[0]!;
    expect(aRow.last_read_message_id).toBeNull();
  });

  it('never moves backwards, and a no-op sends no receipt', async () => {
    const [a, b] = [await createUser(), await createUser()];
    const chat = await direct(a, b);
    const one = await send(a, chat, 'one');
    const two = await send(a, chat, 'two');
    await asUser(b, (tx) => tx`select public.mark_chat_read(${chat}, ${two.id})`);
    const [back] = await asUser(b, (tx) => tx`select * from public.mark_chat_read(${chat}, ${one.id})`);
    expect(back!.last_read_message_id).toBe(two.id);
    await asUser(b, (tx) => tx`select public.mark_chat_read(${chat})`);
    expect((await broadcastsOn(`chat:${chat}`)).filter((r) => r.event === 'read')).toHaveLength(1);
    const three = await send(a, chat, 'three');
    const [fwd] = await asUser(b, (tx) => tx`select * from public.mark_chat_read(${chat}, ${three.id})`);
    expect(fwd!.last_read_message_id).toBe(three.id);
  });

  it('refuses a message of another chat or an unknown one (PT404)', async () => {
    const [a, b] = [await createUser(), await createUser()];
    const chat = await direct(a, b);
    const other = await group(a, []);
    const m = await send(a, other, 'elsewhere');
    expect((await pgError(asUser(a, (tx) => tx`select public.mark_chat_read(${chat}, ${m.id})`))).code).toBe('PT404');
    expect((await pgError(asUser(a, (tx) => tx`select public.mark_chat_read(${chat}, ${crypto.randomUUID()})`))).code).toBe('PT404');
  });

  it('on an empty chat returns the membership unchanged', async () => {
    const [a, b] = [await createUser(), await createUser()];
    const chat = await direct(a, b);
    const [row] = await asUser(a, (tx) => tx`select * from public.mark_chat_read(${chat})`);
    expect(row).toMatchObject({ chat_id: chat, user_id: a, last_read_message_id: null, last_read_at: null });
  });
});

// =============================================================================
describe('get_inbox()', () => {
  let u: string, p: string, c: string;
  let assistantChat: string, groupChat: string, directChat: string, foreignChat: string;
  let lastDirect: Row, deletedInGroup: Row;
  const inbox = (who: string, limit = 50, before: string | null = null, beforeChat: string | null = null) =>
    asUser(who, (tx) => tx`select *, activity_at::text as at from public.get_inbox(${limit}::int, ${before}::text::timestamptz, ${beforeChat}::uuid)`);

  beforeAll(async () => {
    [u, p, c] = [await createUser(), await createUser({ display_name: 'Peer Person' }), await createUser()];
    assistantChat = (await asUser(u, (tx) => tx`select id from public.create_assistant_chat('Ideas')`))[0]!.id;
    groupChat = await group(u, [p, c], 'Book club');
    await send(p, groupChat, 'g1 from p');
    await send(u, groupChat, 'g2 from u');
    deletedInGroup = await send(c, groupChat, 'g3 from c, deleted');
    await asUser(c, (tx) => tx`update public.messages set deleted_at = now() where id = ${deletedInGroup.id}`);
    directChat = await direct(u, p);
    await send(p, directChat, 'd1');
    await send(u, directChat, 'd2 mine');
    lastDirect = await send(p, directChat, 'd3');
    foreignChat = await direct(p, c);
    await send(p, foreignChat, 'not for u');
  });

  it('lists the caller’s chats, most recent activity first, and no one else’s', async () => {
    const rows = await inbox(u);
    expect(rows.map((r) => r.chat_id)).toEqual([directChat, groupChat, assistantChat]);
  });

  it('gives the last message, and the peer of a direct chat', async () => {
    const [d, g, a] = await inbox(u);
    expect(d).toMatchObject({
      kind: 'direct',
      role: 'member',
      last_message_id: lastDirect.id,
      last_message_sender_id: p,
      last_message_kind: 'text',
      last_message_content: 'd3',
      peer_id: p,
      peer_display_name: 'Peer Person',
    });
    expect(d!.activity_at.getTime()).toBe(lastDirect.created_at.getTime());
    // A deleted last message shows no content; a group has no peer.
    expect(g).toMatchObject({ kind: 'group', title: 'Book club', role: 'owner', last_message_id: deletedInGroup.id, last_message_content: null, peer_id: null });
    expect(a).toMatchObject({ kind: 'assistant', title: 'Ideas', last_message_id: null, last_message_content: null, unread_count: '0' });
  });

  it('counts unread messages from others, not deleted, after the read mark', async () => {
    const counts = Object.fromEntries((await inbox(u)).map((r) => [r.chat_id, Number(r.unread_count)]));
    // direct: d1 and d3 (d2 is u's own); group: g1 only (g2 own, g3 deleted).
    expect(counts).toMatchObject({ [directChat]: 2, [groupChat]: 1, [assistantChat]: 0 });
    const pCounts = Object.fromEntries((await inbox(p)).map((r) => [r.chat_id, Number(r.unread_count)]));
    expect(pCounts).toMatchObject({ [directChat]: 1, [groupChat]: 1, [foreignChat]: 0 });
  });

  it('mark_chat_read clears the count; a newer message counts again', async () => {
    const v = await createUser();
    const chat = await direct(v, p);
    await send(p, chat, 'a');
    const b = await send(p, chat, 'b');
    await asUser(v, (tx) => tx`select public.mark_chat_read(${chat}, ${b.id})`);
    expect(Number((await inbox(v))[0]!.unread_count)).toBe(0);
    await send(p, chat, 'c');
    expect(Number((await inbox(v))[0]!.unread_count)).toBe(1);
  });

  const pageAll = async (who: string) => {
    const seen: string[] = [];
    let before: string | null = null;
    let beforeChat: string | null = null;
    for (let i = 0; i < 20; i++) {
      const rows = await inbox(who, 1, before, beforeChat);
      if (rows.length === 0) break;
      seen.push(rows[0]!.chat_id);
      before = rows[0]!.at;
      beforeChat = rows[0]!.chat_id;
    }
    return seen;
  };

  it('pages with the cursor (activity_at, chat_id) of the last row', async () => {
    const all = (await inbox(u)).map((r) => r.chat_id);
    expect(await pageAll(u)).toEqual(all);
  });

  it('pages chats with the same activity_at without skipping any', async () => {
    const v = await createUser();
    // Created in one transaction: the same now(), so the same activity_at.
    const ids = await asUser(v, async (tx) => [
      (await tx`select id from public.create_assistant_chat('one')`)[0]!.id,
      (await tx`select id from public.create_assistant_chat('two')`)[0]!.id,
      (await tx`select id from public.create_assistant_chat('three')`)[0]!.id,
    ]);
    const ats = new Set((await inbox(v)).map((r) => r.at));
    expect(ats.size).toBe(1);
    expect((await pageAll(v)).sort()).toEqual([...ids].sort());
  });

  it('drops a group once the caller is removed from it', async () => {
    const v = await createUser();
    await asUser(u, (tx) => tx`select public.add_chat_member(${groupChat}, ${v})`);
    expect((await inbox(v)).map((r) => r.chat_id)).toEqual([groupChat]);
    await asUser(u, (tx) => tx`select public.remove_chat_member(${groupChat}, ${v})`);
    expect(await inbox(v)).toEqual([]);
  });
});
