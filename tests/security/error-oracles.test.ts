/**
 * Nothing leaks through errors (issue 13, item 5), from the attacker's side: a
 * caller who may not see a row gets the same answer (SQLSTATE and message,
 * with the id they passed in masked) whether the row exists, belongs to
 * someone else, or does not exist at all. Each probe pairs "exists but not
 * yours" with "does not exist"; where the first answer could differ only
 * because of what a hidden row holds (a reply quoting a message of the chat,
 * a block between the chat's members), a third probe covers that.
 *
 * Blocks (README, "Blocks"): the blocked user may learn that a block stands
 * between them and the other user (requests, direct chats and direct messages
 * are refused), never from the block row itself, and the answer is the same
 * whichever side blocks.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asService, asUser, closeDb, createUser, pgError, realtimeJoin, type Tx } from '../helpers/db.js';

afterAll(closeDb);

/** The error of `call` as `who`, with the ids in `mask` replaced, so that two probes compare equal. */
async function answer(who: string, call: (tx: Tx) => Promise<unknown>, ...mask: string[]) {
  const err = await pgError(asUser(who, call));
  let message = err.message;
  for (const id of mask) message = message.split(id).join('<id>');
  return { code: err.code, message };
}

let alice: string, bob: string, mallory: string;
let secret: string; // a group of alice and bob
let secretMessage: string;
let mallorysChat: string; // mallory's own group
let mallorysMessage: string;

beforeAll(async () => {
  [alice, bob, mallory] = [await createUser(), await createUser(), await createUser()];
  secret = (await asUser(alice, (tx) => tx`select id from public.create_group_chat('Secret', ${[bob]}::text[])`))[0]!.id;
  secretMessage = (await asUser(alice, (tx) => tx`select id from public.send_message(${secret}, 'secret plans')`))[0]!.id;
  mallorysChat = (await asUser(mallory, (tx) => tx`select id from public.create_group_chat('Mine', '{}'::text[])`))[0]!.id;
  mallorysMessage = (await asUser(mallory, (tx) => tx`select id from public.send_message(${mallorysChat}, 'mine')`))[0]!.id;
});

describe('messages', () => {
  it('send_message into a chat the caller is not in: one answer whatever the reply quotes', async () => {
    const ghost = randomUUID();
    const probes = [
      (tx: Tx) => tx`select public.send_message(${secret}, 'hi', 'text', null, ${secretMessage})`, // a message of that chat
      (tx: Tx) => tx`select public.send_message(${secret}, 'hi', 'text', null, ${mallorysMessage})`, // a message of another chat
      (tx: Tx) => tx`select public.send_message(${secret}, 'hi', 'text', null, ${ghost})`, // no such message
      (tx: Tx) => tx`select public.send_message(${secret}, 'hi')`, // no reply
      (tx: Tx) => tx`select public.send_message(${randomUUID()}, 'hi', 'text', null, ${secretMessage})`, // no such chat
    ];
    const answers = [];
    for (const probe of probes) answers.push(await answer(mallory, probe));
    expect(answers[0]!.code).toBe('42501');
    for (const a of answers) expect(a).toEqual(answers[0]);
  });

  it('a direct insert as someone else (a member) gets one answer whatever the reply quotes', async () => {
    const insertAs = (sender: string, reply: string) => (tx: Tx) =>
      tx`insert into public.messages (chat_id, sender_id, content, reply_to_id) values (${secret}, ${sender}, 'forged', ${reply})`;
    const a = await answer(mallory, insertAs(alice, secretMessage));
    const b = await answer(mallory, insertAs(alice, mallorysMessage));
    const c = await answer(mallory, insertAs(alice, randomUUID()));
    expect(a.code).toBe('42501');
    expect(b).toEqual(a);
    expect(c).toEqual(a);
  });

  it('a member still learns that a reply must quote a message of the chat (their own chat: no secret)', async () => {
    const err = await answer(mallory, (tx) => tx`select public.send_message(${mallorysChat}, 'hi', 'text', null, ${secretMessage})`);
    const ghost = await answer(mallory, (tx) => tx`select public.send_message(${mallorysChat}, 'hi', 'text', null, ${randomUUID()})`);
    expect(err).toEqual({ code: '22023', message: 'reply_to_id must be a message of the same chat' });
    expect(ghost).toEqual(err); // a message of a chat they cannot see is no different from none
  });

  it('an outsider does not learn whether a direct chat’s members block them', async () => {
    const [a, b] = [await createUser(), await createUser()];
    const d = (await asUser(a, (tx) => tx`select id from public.get_or_create_direct_chat(${b})`))[0]!.id;
    const before = await answer(mallory, (tx) => tx`select public.send_message(${d}, 'hello')`);
    await asUser(a, (tx) => tx`select public.block_user(${mallory})`);
    const after = await answer(mallory, (tx) => tx`select public.send_message(${d}, 'hello')`);
    expect(before.code).toBe('42501');
    expect(after).toEqual(before);
  });

  it('an outsider does not learn whether a media id is the victim’s, through a forged sender', async () => {
    const media = (await asService((tx) => tx`
      insert into public.media (owner_id, public_id, resource_type, bytes, secure_url, purpose)
      values (${alice}, ${`oracle/${randomBytes(6).toString('hex')}`}, 'raw', 10, 'https://res.cloudinary.com/x/raw/upload/f', 'chat_file')
      returning id`))[0]!.id;
    const insertAs = (m: string) => (tx: Tx) =>
      tx`insert into public.messages (chat_id, sender_id, kind, content, media_id) values (${secret}, ${alice}, 'file', '', ${m})`;
    const hers = await answer(mallory, insertAs(media));
    const none = await answer(mallory, insertAs(randomUUID()));
    expect(hers.code).toBe('42501');
    expect(none).toEqual(hers);
  });

  it('get_chat_history and table reads: nothing, whether the chat exists or not', async () => {
    expect(await asUser(mallory, (tx) => tx`select id from public.get_chat_history(${secret})`)).toEqual([]);
    expect(await asUser(mallory, (tx) => tx`select id from public.get_chat_history(${randomUUID()})`)).toEqual([]);
    expect(await asUser(mallory, (tx) => tx`update public.messages set content = 'x' where id = ${secretMessage} returning id`)).toEqual([]);
  });

  it('mark_chat_read: a chat the caller is not in is "not found" like a chat that does not exist', async () => {
    const ghost = randomUUID();
    const theirs = await answer(mallory, (tx) => tx`select public.mark_chat_read(${secret})`, secret);
    const none = await answer(mallory, (tx) => tx`select public.mark_chat_read(${ghost})`, ghost);
    expect(theirs.code).toBe('PT404');
    expect(none).toEqual(theirs);
    // A member naming a message of another chat gets the answer of a message that does not exist.
    const other = await answer(mallory, (tx) => tx`select public.mark_chat_read(${mallorysChat}, ${secretMessage})`, secretMessage, mallorysChat);
    const ghostMsg = await answer(mallory, (tx) => tx`select public.mark_chat_read(${mallorysChat}, ${ghost})`, ghost, mallorysChat);
    expect(other.code).toBe('PT404');
    expect(ghostMsg).toEqual(other);
  });
});

describe('chats', () => {
  it('group management on a chat the caller is not in answers like a chat that does not exist', async () => {
    const ghost = randomUUID();
    const calls: [string, (chat: string) => (tx: Tx) => Promise<unknown>][] = [
      ['add_chat_member', (c) => (tx) => tx`select public.add_chat_member(${c}, ${mallory})`],
      ['remove_chat_member', (c) => (tx) => tx`select public.remove_chat_member(${c}, ${bob})`],
      ['set_chat_member_role', (c) => (tx) => tx`select public.set_chat_member_role(${c}, ${bob}, 'admin')`],
      ['leave_chat', (c) => (tx) => tx`select public.leave_chat(${c})`],
    ];
    for (const [name, call] of calls) {
      const theirs = await answer(mallory, call(secret), secret);
      const none = await answer(mallory, call(ghost), ghost);
      expect(theirs.code, name).toBe('PT404');
      expect(none, name).toEqual(theirs);
    }
  });

  it('Realtime: the channels of a chat the caller is not in look like those of no chat', async () => {
    for (const suffix of ['', ':presence']) {
      expect(await realtimeJoin(mallory, `chat:${secret}${suffix}`)).toEqual(await realtimeJoin(mallory, `chat:${randomUUID()}${suffix}`));
    }
  });
});

describe('friends', () => {
  it('answering or withdrawing someone else’s request answers like a request that does not exist', async () => {
    const [x, y] = [await createUser(), await createUser()];
    const req = (await asUser(x, (tx) => tx`select id from public.send_friend_request(${y})`))[0]!.id;
    const ghost = randomUUID();
    for (const fn of ['accept_friend_request', 'decline_friend_request', 'cancel_friend_request']) {
      const theirs = await answer(mallory, (tx) => tx`select ${tx(`public.${fn}`)}(${req})`, req);
      const none = await answer(mallory, (tx) => tx`select ${tx(`public.${fn}`)}(${ghost})`, ghost);
      expect(theirs.code, fn).toBe('PT404');
      expect(none, fn).toEqual(theirs);
    }
  });

  it('remove_friend: not friends, whether the user exists or not', async () => {
    const ghost = `user_${randomBytes(8).toString('hex')}`;
    const real = await answer(mallory, (tx) => tx`select public.remove_friend(${alice})`, alice);
    const none = await answer(mallory, (tx) => tx`select public.remove_friend(${ghost})`, ghost);
    expect(real.code).toBe('PT404');
    expect(none).toEqual(real);
  });
});

describe('media', () => {
  it('an avatar: someone else’s upload answers like no upload', async () => {
    const media = (await asService((tx) => tx`
      insert into public.media (owner_id, public_id, resource_type, bytes, secure_url, purpose)
      values (${alice}, ${`oracle/${randomBytes(6).toString('hex')}`}, 'image', 10, 'https://res.cloudinary.com/x/image/upload/a', 'avatar')
      returning id`))[0]!.id;
    const ghost = randomUUID();
    const hers = await answer(mallory, (tx) => tx`update public.users set avatar_media_id = ${media} where id = ${mallory}`, media);
    const none = await answer(mallory, (tx) => tx`update public.users set avatar_media_id = ${ghost} where id = ${mallory}`, ghost);
    expect(hers.code).toBe('42501');
    expect(none).toEqual(hers);
  });
});

describe('blocks: the blocked user learns of a block, never its direction', () => {
  it('friend requests, direct chats and direct messages get the same answer whichever side blocks', async () => {
    const [a, b] = [await createUser(), await createUser()];
    const d = (await asUser(a, (tx) => tx`select id from public.get_or_create_direct_chat(${b})`))[0]!.id;
    await asUser(a, (tx) => tx`select public.block_user(${b})`);
    const probes: [string, (other: string) => (tx: Tx) => Promise<unknown>][] = [
      ['send_friend_request', (o) => (tx) => tx`select public.send_friend_request(${o})`],
      ['get_or_create_direct_chat', (o) => (tx) => tx`select public.get_or_create_direct_chat(${o})`],
      ['send_message', () => (tx) => tx`select public.send_message(${d}, 'hello?')`],
    ];
    for (const [name, probe] of probes) {
      const byBlocked = await answer(b, probe(a), a);
      const byBlocker = await answer(a, probe(b), b);
      expect(byBlocked.code, name).toBe('42501');
      expect(byBlocked, name).toEqual(byBlocker);
    }
    // The block row itself stays the blocker's: the blocked user reads nothing.
    expect(await asUser(b, (tx) => tx`select id from public.friends where requester_id = ${a} or addressee_id = ${a}`)).toEqual([]);
  });
});
