/**
 * 07 — Realtime private channels: the join (read) and send (write) checks
 * exactly as Realtime performs them on realtime.messages with `realtime.topic`
 * set (docs/platform.md "Realtime's database contract"; topics: docs/realtime-topics.md), and the broadcast rows our triggers and RPCs write.
 *   chat:<chat_id>           members receive message changes and read receipts
 *                            (Broadcast); nobody sends there but the database
 *   user:<user_id>           that user receives notifications and membership
 *                            events; nobody sends there but the database
 *   chat:<chat_id>:presence  members receive and send typing (Broadcast) and
 *                            presence (Presence)
 * The attacker's side of the send checks is in tests/security/realtime-topics.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  asService,
  asUser,
  broadcastsOn,
  closeDb,
  createUser,
  newUserId,
  pgError,
  realtimeJoin,
  realtimeSend,
} from '../helpers/db.js';

afterAll(closeDb);

const NOT_JOINED = { broadcast: false, presence: false, joined: false };
/** A database-published topic: Broadcast only. */
const RECEIVES = { broadcast: true, presence: false, joined: true };
/** A chat's presence topic: Broadcast (typing) and Presence. */
const JOINED = { broadcast: true, presence: true, joined: true };

let owner: string, member: string, outsider: string, removed: string, chat: string;
beforeAll(async () => {
  [owner, member, outsider, removed] = [await createUser(), await createUser(), await createUser(), await createUser()];
  chat = (await asUser(owner, (tx) => tx`select id from public.create_group_chat('Realtime', ${[member, removed]}::text[])`))[0]!.id;
  await asUser(owner, (tx) => tx`select public.remove_chat_member(${chat}, ${removed})`);
});

// =============================================================================
describe('joining chat:<id>', () => {
  it('a member joins chat:<id> for Broadcast only, and chat:<id>:presence for Broadcast and Presence', async () => {
    expect(await realtimeJoin(member, `chat:${chat}`)).toEqual(RECEIVES);
    expect(await realtimeJoin(owner, `chat:${chat}`)).toEqual(RECEIVES);
    expect(await realtimeJoin(member, `chat:${chat}:presence`)).toEqual(JOINED);
    expect(await realtimeJoin(owner, `chat:${chat}:presence`)).toEqual(JOINED);
  });

  it('a non-member cannot', async () => {
    expect(await realtimeJoin(outsider, `chat:${chat}`)).toEqual(NOT_JOINED);
    expect(await realtimeJoin(outsider, `chat:${chat}:presence`)).toEqual(NOT_JOINED);
  });

  it('a removed member cannot any more', async () => {
    expect(await realtimeJoin(removed, `chat:${chat}`)).toEqual(NOT_JOINED);
    expect(await realtimeJoin(removed, `chat:${chat}:presence`)).toEqual(NOT_JOINED);
  });

  it('anon cannot', async () => {
    expect(await realtimeJoin(null, `chat:${chat}`)).toEqual(NOT_JOINED);
    expect(await realtimeJoin(null, `chat:${chat}:presence`)).toEqual(NOT_JOINED);
  });

  it('a user with no profile yet cannot', async () => {
    expect(await realtimeJoin(newUserId(), `chat:${chat}`)).toEqual(NOT_JOINED);
    expect(await realtimeJoin(newUserId(), `chat:${chat}:presence`)).toEqual(NOT_JOINED);
  });

  it('a blocked user keeps the direct chat channels they are still a member of', async () => {
    const [a, b] = [await createUser(), await createUser()];
    const d = (await asUser(a, (tx) => tx`select id from public.get_or_create_direct_chat(${b})`))[0]!.id;
    await asUser(a, (tx) => tx`select public.block_user(${b})`);
    expect((await realtimeJoin(b, `chat:${d}`)).joined).toBe(true);
    expect((await realtimeJoin(b, `chat:${d}:presence`)).joined).toBe(true);
  });
});

describe('joining user:<id>', () => {
  it('a user joins their own channel, for Broadcast only', async () => {
    expect(await realtimeJoin(member, `user:${member}`)).toEqual(RECEIVES);
  });

  it('nobody joins someone else’s, anon included', async () => {
    expect(await realtimeJoin(member, `user:${owner}`)).toEqual(NOT_JOINED);
    expect(await realtimeJoin(null, `user:${owner}`)).toEqual(NOT_JOINED);
  });
});

describe('malformed topics', () => {
  it('are refused without an error', async () => {
    for (const topic of [
      'chat:not-a-uuid', `chat:${chat.toUpperCase()}`, `chat:${chat}x`, 'other:x', `x${`user:${member}`}`, 'user:', 'chat:', '',
      `chat:${chat}:typing`, `chat:${chat}:presence:x`, `chat:${chat}:`, `chat:${chat.toUpperCase()}:presence`, `user:${member}:presence`,
    ]) {
      expect(await realtimeJoin(member, topic), topic).toEqual(NOT_JOINED);
    }
  });
});

// =============================================================================
describe('sending on a channel (typing, presence)', () => {
  it('a member may send Broadcast and Presence on their chat’s presence topic', async () => {
    expect(await realtimeSend(member, `chat:${chat}:presence`, 'broadcast')).toBe(true);
    expect(await realtimeSend(member, `chat:${chat}:presence`, 'presence')).toBe(true);
  });

  it('nobody sends on chat:<id>, where the database publishes, not even its owner', async () => {
    for (const who of [owner, member]) {
      expect(await realtimeSend(who, `chat:${chat}`, 'broadcast')).toBe(false);
      expect(await realtimeSend(who, `chat:${chat}`, 'presence')).toBe(false);
    }
  });

  it('a non-member or removed member may not', async () => {
    expect(await realtimeSend(outsider, `chat:${chat}:presence`, 'broadcast')).toBe(false);
    expect(await realtimeSend(outsider, `chat:${chat}:presence`, 'presence')).toBe(false);
    expect(await realtimeSend(removed, `chat:${chat}:presence`, 'broadcast')).toBe(false);
  });

  it('nobody sends on a user: topic, not even its owner', async () => {
    expect(await realtimeSend(member, `user:${member}`, 'broadcast')).toBe(false);
    expect(await realtimeSend(member, `user:${member}`, 'presence')).toBe(false);
    expect(await realtimeSend(member, `user:${owner}`, 'broadcast')).toBe(false);
  });

  it('a block silences the direct chat channel both ways (a broadcast carries any text: it would be a message)', async () => {
    const [a, b, c] = [await createUser(), await createUser(), await createUser()];
    const d = (await asUser(a, (tx) => tx`select id from public.get_or_create_direct_chat(${b})`))[0]!.id;
    const g = (await asUser(c, (tx) => tx`select id from public.create_group_chat('Shared', ${[a, b]}::text[])`))[0]!.id;
    expect(await realtimeSend(b, `chat:${d}:presence`)).toBe(true);
    await asUser(a, (tx) => tx`select public.block_user(${b})`);
    expect(await realtimeSend(b, `chat:${d}:presence`, 'broadcast')).toBe(false);
    expect(await realtimeSend(b, `chat:${d}:presence`, 'presence')).toBe(false);
    expect(await realtimeSend(a, `chat:${d}:presence`, 'broadcast')).toBe(false);
    // A group both belong to is not a direct conversation: it stays open.
    expect(await realtimeSend(b, `chat:${g}:presence`)).toBe(true);
    await asUser(a, (tx) => tx`select public.unblock_user(${b})`);
    expect(await realtimeSend(b, `chat:${d}:presence`)).toBe(true);
  });

  it('nobody rewrites or deletes a broadcast row (0 rows / 42501)', async () => {
    const [a, b] = [await createUser(), await createUser()];
    const c = (await asUser(a, (tx) => tx`select id from public.get_or_create_direct_chat(${b})`))[0]!.id;
    await asUser(a, (tx) => tx`select public.send_message(${c}, 'original')`);
    const topic = `chat:${c}`;
    const tamper = (sql: 'update' | 'delete') =>
      asUser(b, async (tx) => {
        await tx`select set_config('realtime.topic', ${topic}, true)`;
        return sql === 'update'
          ? tx`update realtime.messages set payload = '{"forged":true}' where topic = ${topic} returning id`
          : tx`delete from realtime.messages where topic = ${topic} returning id`;
      });
    expect(await tamper('update')).toEqual([]);
    expect((await pgError(tamper('delete'))).code).toBe('42501');
    expect((await broadcastsOn(topic)).filter((r) => r.payload.forged)).toEqual([]);
  });

  it('nobody sends on a malformed topic', async () => {
    for (const topic of ['chat:not-a-uuid', 'chat:not-a-uuid:presence', 'other:x', `chat:${chat}:typing`, `chat:${chat.toUpperCase()}:presence`, `chat:${chat}:presence:x`]) {
      expect(await realtimeSend(member, topic), topic).toBe(false);
    }
  });
});

// =============================================================================
describe('broadcasts written by the database', () => {
  it('message INSERT and UPDATE (edit, soft delete) go to chat:<id> with the broadcast_changes payload', async () => {
    const [a, b] = [await createUser(), await createUser()];
    const c = (await asUser(a, (tx) => tx`select id from public.get_or_create_direct_chat(${b})`))[0]!.id;
    const topic = `chat:${c}`;
    const [m] = await asUser(a, (tx) => tx`select * from public.send_message(${c}, 'first')`);
    await asUser(a, (tx) => tx`update public.messages set content = 'first!' where id = ${m!.id}`);
    await asUser(a, (tx) => tx`update public.messages set deleted_at = now() where id = ${m!.id}`);
    const rows = (await broadcastsOn(topic)).filter((r) => ['INSERT', 'UPDATE', 'DELETE'].includes(r.event));
    expect(rows.map((r) => r.event)).toEqual(['INSERT', 'UPDATE', 'UPDATE']);
    for (const r of rows) {
      expect(Object.keys(r.payload)).toEqual(expect.arrayContaining(['record', 'old_record', 'operation', 'table', 'schema']));
      expect(r.payload).toMatchObject({ table: 'messages', schema: 'public', operation: r.event });
    }
    const [ins, edit, del] = rows;
    expect(ins!.payload.record).toMatchObject({ id: m!.id, content: 'first', sender_id: a });
    expect(ins!.payload.old_record).toBeNull();
    expect(edit!.payload.old_record.content).toBe('first');
    expect(edit!.payload.record).toMatchObject({ content: 'first!' });
    expect(edit!.payload.record.edited_at).not.toBeNull();
    expect(del!.payload.record).toMatchObject({ content: '' });
    expect(del!.payload.record.deleted_at).not.toBeNull();
    // The soft delete does not ship the deleted text again in old_record.
    expect(del!.payload.old_record).toMatchObject({ id: m!.id, content: '', media_id: null });
  });

  it('a hard delete (service role) is broadcast as DELETE with the old record', async () => {
    const [a, b] = [await createUser(), await createUser()];
    const c = (await asUser(a, (tx) => tx`select id from public.get_or_create_direct_chat(${b})`))[0]!.id;
    const [m] = await asUser(a, (tx) => tx`select id from public.send_message(${c}, 'bye')`);
    await asService((tx) => tx`delete from public.messages where id = ${m!.id}`);
    const del = (await broadcastsOn(`chat:${c}`)).filter((r) => r.event === 'DELETE');
    expect(del).toHaveLength(1);
    expect(del[0]!.payload).toMatchObject({ operation: 'DELETE', record: null, old_record: { id: m!.id } });
  });

  it('a member receives those rows through the join policy; a non-member does not', async () => {
    const [a, b, x] = [await createUser(), await createUser(), await createUser()];
    const c = (await asUser(a, (tx) => tx`select id from public.get_or_create_direct_chat(${b})`))[0]!.id;
    await asUser(a, (tx) => tx`select public.send_message(${c}, 'visible')`);
    const readAs = (who: string) =>
      asUser(who, async (tx) => {
        await tx`select set_config('realtime.topic', ${`chat:${c}`}, true)`;
        return tx`select event from realtime.messages where topic = ${`chat:${c}`} and extension = 'broadcast'`;
      });
    expect((await readAs(b)).map((r) => r.event)).toContain('INSERT');
    expect(await readAs(x)).toEqual([]);
  });

  it('mark_chat_read sends a `read` receipt to chat:<id>', async () => {
    const [a, b] = [await createUser(), await createUser()];
    const c = (await asUser(a, (tx) => tx`select id from public.get_or_create_direct_chat(${b})`))[0]!.id;
    const [m] = await asUser(a, (tx) => tx`select id from public.send_message(${c}, 'read me')`);
    await asUser(b, (tx) => tx`select public.mark_chat_read(${c})`);
    const reads = (await broadcastsOn(`chat:${c}`)).filter((r) => r.event === 'read');
    expect(reads).toHaveLength(1);
    expect(reads[0]!.payload).toMatchObject({ user_id: b, message_id: m!.id });
    expect(reads[0]!.payload.read_at).toBeTruthy();
  });

  it('friend requests and answers send `notification` events to user:<id>', async () => {
    const [a, b, c] = [await createUser(), await createUser(), await createUser()];
    const [r1] = await asUser(a, (tx) => tx`select id from public.send_friend_request(${b})`);
    const [r2] = await asUser(a, (tx) => tx`select id from public.send_friend_request(${c})`);
    await asUser(b, (tx) => tx`select public.accept_friend_request(${r1!.id})`);
    await asUser(c, (tx) => tx`select public.decline_friend_request(${r2!.id})`);
    const kinds = async (u: string) =>
      (await broadcastsOn(`user:${u}`))
        .filter((r) => r.event === 'notification' && String(r.payload.kind).startsWith('friend_request'))
        .map((r) => r.payload.kind);
    expect(await kinds(b)).toEqual(['friend_request']);
    expect(await kinds(c)).toEqual(['friend_request']);
    expect(await kinds(a)).toEqual(['friend_request_accepted', 'friend_request_declined']);
    const [n] = (await broadcastsOn(`user:${b}`)).filter((r) => r.event === 'notification');
    expect(n!.payload).toMatchObject({ kind: 'friend_request', payload: { request_id: r1!.id, from_user_id: a } });
    expect(Object.keys(n!.payload)).toEqual(expect.arrayContaining(['id', 'kind', 'payload', 'created_at']));
  });

  it('membership changes send `chat_added` / `chat_removed` to user:<id>', async () => {
    const [o, m, n, d] = [await createUser(), await createUser(), await createUser(), await createUser()];
    const g = (await asUser(o, (tx) => tx`select id from public.create_group_chat('Events', ${[m]}::text[])`))[0]!.id;
    await asUser(o, (tx) => tx`select public.add_chat_member(${g}, ${n})`);
    await asUser(o, (tx) => tx`select public.remove_chat_member(${g}, ${n})`);
    await asUser(m, (tx) => tx`select public.leave_chat(${g})`);
    const dc = (await asUser(o, (tx) => tx`select id from public.get_or_create_direct_chat(${d})`))[0]!.id;
    const events = async (u: string) =>
      (await broadcastsOn(`user:${u}`))
        .filter((r) => r.event === 'chat_added' || r.event === 'chat_removed')
        .map((r) => [r.event, r.payload.chat_id]);
    expect(await events(o)).toEqual([['chat_added', g], ['chat_added', dc]]);
    expect(await events(m)).toEqual([['chat_added', g], ['chat_removed', g]]);
    expect(await events(n)).toEqual([['chat_added', g], ['chat_removed', g]]);
    expect(await events(d)).toEqual([['chat_added', dc]]);
    // add_chat_member also leaves a `chat_added` notification for the new member.
    const notes = (await broadcastsOn(`user:${n}`))
      .filter((r) => r.event === 'notification' && String(r.payload.kind).startsWith('chat_'))
      .map((r) => r.payload.kind);
    expect(notes).toEqual(['chat_added']);
  });

  it('every broadcast row our database writes is private', async () => {
    const [a, b] = [await createUser(), await createUser()];
    const [req] = await asUser(a, (tx) => tx`select id from public.send_friend_request(${b})`);
    await asUser(b, (tx) => tx`select public.accept_friend_request(${req!.id})`);
    const c = (await asUser(a, (tx) => tx`select id from public.get_or_create_direct_chat(${b})`))[0]!.id;
    const [m] = await asUser(a, (tx) => tx`select id from public.send_message(${c}, 'p')`);
    await asUser(a, (tx) => tx`update public.messages set deleted_at = now() where id = ${m!.id}`);
    await asUser(b, (tx) => tx`select public.mark_chat_read(${c})`);
    const all = [...(await broadcastsOn(`chat:${c}`)), ...(await broadcastsOn(`user:${a}`)), ...(await broadcastsOn(`user:${b}`))];
    // (Other features may add their own events on user: topics; these are ours.)
    expect([...new Set(all.map((r) => r.event))]).toEqual(expect.arrayContaining(['INSERT', 'UPDATE', 'read', 'notification', 'chat_added']));
    expect(all.filter((r) => r.private !== true)).toEqual([]);
  });
});
