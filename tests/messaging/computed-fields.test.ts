/**
 * The computed fields public.delivery(messages) and public.reactions(messages)
 * (20261202100200_member_state.sql, 20261202100000_reactions.sql) check the
 * caller themselves (security definer, for speed: no read policy re-run per
 * row). A caller can hand them any row of type public.messages, also one
 * built by hand: they must answer only for chats the caller is a member of,
 * and nothing to a suspended caller, as the read policies would.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asUser, closeDb, createUser, owner } from '../helpers/db.js';

afterAll(closeDb);

let alice: string, bob: string, outsider: string;
let chat: string, message: string;

/** The two fields of `message` as `sub` computes them, from a row built by hand (not read under RLS). */
const fieldsAs = async (sub: string) => {
  const row = await rowOf(message);
  return asUser(sub, async (tx) => {
    const [f] = await tx`
      select public.delivery(m) as delivery, public.reactions(m) as reactions
      from jsonb_populate_record(null::public.messages, ${tx.json(row)}::jsonb) m`;
    return f as { delivery: unknown; reactions: unknown };
  });
};

/** The stored row of a message as JSON (read by the table owner). */
async function rowOf(id: string) {
  const [r] = await owner()`select to_jsonb(m) as j from public.messages m where m.id = ${id}`;
  return r!.j;
}

beforeAll(async () => {
  [alice, bob, outsider] = await Promise.all([createUser(), createUser(), createUser()]);
  const [c] = await owner()`insert into public.chats (kind, title, created_by) values ('group', 'fields', ${alice}) returning id`;
  chat = c!.id;
  await owner()`insert into public.chat_members (chat_id, user_id, role) values (${chat}, ${alice}, 'owner'), (${chat}, ${bob}, 'member')`;
  message = await asUser(alice, async (tx) => (await tx`select (public.send_message(${chat}, 'hello')).id as id`)[0]!.id);
  await asUser(bob, (tx) => tx`select public.add_reaction(${message}, '👍')`);
});

describe('computed fields guard themselves', () => {
  it('a member gets the delivery status and the reactions', async () => {
    const f = await fieldsAs(alice);
    expect(f.delivery).toEqual({ status: 'sent', recipients: 1, delivered: 0, read: 0 });
    expect(f.reactions).toEqual([{ emoji: '👍', count: 1, reacted: false }]);
  });

  it('a non-member with a forged row gets nothing', async () => {
    const f = await fieldsAs(outsider);
    expect(f.delivery).toBeNull();
    expect(f.reactions).toEqual([]);
  });

  it('a row naming the caller\'s chat but another chat\'s message gets none of its reactions', async () => {
    const [c] = await owner()`insert into public.chats (kind, title, created_by) values ('group', 'elsewhere', ${outsider}) returning id`;
    await owner()`insert into public.chat_members (chat_id, user_id, role) values (${c!.id}, ${outsider}, 'owner')`;
    const row = { ...(await rowOf(message)), chat_id: c!.id };
    const f = await asUser(outsider, async (tx) => {
      const [r] = await tx`
        select public.reactions(m) as reactions
        from jsonb_populate_record(null::public.messages, ${tx.json(row)}::jsonb) m`;
      return r as { reactions: unknown };
    });
    expect(f.reactions).toEqual([]);
  });

  it('a suspended member gets nothing', async () => {
    await owner()`update public.user_accounts set suspended_at = now() where user_id = ${bob}`;
    try {
      const f = await fieldsAs(bob);
      expect(f.delivery).toBeNull();
      expect(f.reactions).toEqual([]);
    } finally {
      await owner()`update public.user_accounts set suspended_at = null where user_id = ${bob}`;
    }
  });
});
