/**
 * Phone sign-in and contact discovery (issue 17, item 3;
 * 20261202110600_contact_discovery.sql), from the client's side: phone
 * numbers arrive through the real clerk-webhook function (Svix-signed Clerk
 * payloads, real Deno), address books are uploaded through supabase-js as
 * SHA-256 digests (packages/shared contactPhoneHash, libphonenumber-js).
 */
import { createHash, randomInt } from 'node:crypto';
import { contactPhoneHash, DISCOVER_CONTACTS_MAX_BATCH, toE164 } from '@chat-with-me/shared';
import { describe, expect, it } from 'vitest';
import { clerkEvent, clerkUser, svixHeaders } from '../helpers/clerk.js';
import { anonClient, clientAs } from '../helpers/client.js';
import { newUserId, owner, startForFile } from '../helpers/db.js';
import { startTestFunctions } from '../helpers/functions.js';

const fns = startForFile(() => startTestFunctions());

/** A fresh valid French mobile number, E.164 (+336 and 8 digits). */
const newMobile = () => `+336${String(randomInt(0, 1e8)).padStart(8, '0')}`;
/** The same number as typed in a French address book: "06 12 34 56 78". */
const national = (e164: string) => `0${e164.slice(3)}`.replace(/(\d\d)(?=\d)/g, '$1 ');
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

interface Phone { number: string; status?: 'verified' | 'unverified'; primary?: boolean }

/** Delivers a Svix-signed Clerk user.created / user.updated carrying `phones`. */
async function syncUser(id: string, phones: Phone[], type: 'user.created' | 'user.updated' = 'user.created', updatedAt = Date.now()) {
  const base = clerkUser({ id, first_name: 'Phone', last_name: id.slice(-6), updated_at: updatedAt, created_at: updatedAt - 1000 });
  const phone_numbers = phones.map((p, i) => ({
    id: `idn_phone${i}${id.slice(-8)}`, object: 'phone_number', phone_number: p.number, reserved_for_second_factor: false,
    linked_to: [], verification: { status: p.status ?? 'verified', strategy: 'phone_code', attempts: 1, expire_at: null },
  }));
  const primary = phones.findIndex((p) => p.primary);
  const event = clerkEvent(type, { ...base, phone_numbers, primary_phone_number_id: primary >= 0 ? phone_numbers[primary]!.id : null });
  const body = JSON.stringify(event);
  const res = await fetch(`${fns.url}/clerk-webhook`, { method: 'POST', headers: svixHeaders(fns.clerk, body), body });
  expect(res.status, await res.clone().text()).toBe(200);
  return (await res.json()) as { outcome: string };
}

async function account(id: string) {
  const [a] = await owner()`select a.phone_number, h.phone_hash as phone_number_hash, a.discoverable_by_phone
    from public.user_accounts a left join private.phone_lookup_hashes h on h.user_id = a.user_id where a.user_id = ${id}`;
  return a!;
}

async function optIn(id: string, enabled = true) {
  const { data, error } = await clientAs(id).rpc('set_phone_discoverable', { p_enabled: enabled });
  expect(error).toBeNull();
  expect(data).toBe(enabled);
}

async function discover(caller: string, hashes: string[]) {
  return clientAs(caller).rpc('discover_contacts', { p_phone_hashes: hashes });
}

describe('clerk-webhook syncs the verified phone number', () => {
  it('stores the primary verified number in E.164 with a keyed hash, readable by its owner only', async () => {
    const bob = newUserId();
    const other = newMobile();
    const primary = newMobile();
    expect((await syncUser(bob, [{ number: other }, { number: primary, primary: true }])).outcome).toBe('created');
    const a = await account(bob);
    expect(a.phone_number).toBe(primary);
    expect(a.discoverable_by_phone).toBe(false); // opt-in: off by default
    // Keyed: neither the number nor its plain SHA-256 is what is stored.
    expect(a.phone_number_hash).toBeInstanceOf(Uint8Array);
    expect(Buffer.from(a.phone_number_hash).toString('hex')).not.toBe(sha256(primary));

    const { data: own } = await clientAs(bob).from('user_accounts').select('phone_number').eq('user_id', bob);
    expect(own).toEqual([{ phone_number: primary }]);
    // The lookup hash is in the private schema, which the Data API does not serve.
    const { error: hidden } = await clientAs(bob).schema('private' as 'public').from('phone_lookup_hashes' as 'users').select('*');
    expect(hidden).not.toBeNull();
    const alice = newUserId();
    await syncUser(alice, []);
    const { data: theirs, error } = await clientAs(alice).from('user_accounts').select('phone_number').eq('user_id', bob);
    expect(error).toBeNull();
    expect(theirs).toEqual([]);
    const { error: anonError } = await anonClient().from('user_accounts').select('phone_number');
    expect(anonError).not.toBeNull();
  });

  it('ignores an unverified number and clears the number when it is removed or loses its verification', async () => {
    const id = newUserId();
    const t = Date.now();
    await syncUser(id, [{ number: newMobile(), status: 'unverified', primary: true }], 'user.created', t);
    expect((await account(id)).phone_number).toBeNull();
    const n = newMobile();
    await syncUser(id, [{ number: n, primary: true }], 'user.updated', t + 1000);
    expect((await account(id)).phone_number).toBe(n);
    await syncUser(id, [], 'user.updated', t + 2000);
    const a = await account(id);
    expect(a.phone_number).toBeNull();
    expect(a.phone_number_hash).toBeNull();
  });

  it('a stale payload does not bring back an old number', async () => {
    const id = newUserId();
    const t = Date.now();
    const newer = newMobile();
    await syncUser(id, [{ number: newer, primary: true }], 'user.created', t + 5000);
    expect((await syncUser(id, [{ number: newMobile(), primary: true }], 'user.updated', t)).outcome).toBe('stale');
    expect((await account(id)).phone_number).toBe(newer);
  });
});

describe('discover_contacts', () => {
  it('returns only opted-in users with a verified number, by the digest the client sent', async () => {
    const [alice, bob, carol, dave, eve] = Array.from({ length: 5 }, newUserId) as [string, string, string, string, string];
    const numbers = { bob: newMobile(), carol: newMobile(), dave: newMobile(), eve: newMobile(), alice: newMobile(), stranger: newMobile() };
    await syncUser(alice, [{ number: numbers.alice, primary: true }]);
    await syncUser(bob, [{ number: numbers.bob, primary: true }]);
    await syncUser(carol, [{ number: numbers.carol, status: 'unverified', primary: true }]);
    await syncUser(dave, [{ number: numbers.dave, primary: true }]);
    await syncUser(eve, [{ number: numbers.eve, primary: true }]);
    for (const u of [alice, bob, carol, eve]) await optIn(u); // dave never opts in
    await optIn(alice);

    // Alice's address book as typed: national format, the client's region is FR.
    const book = Object.values(numbers).map(national);
    const hashes = (await Promise.all(book.map((n) => contactPhoneHash(n, 'FR')))) as string[];
    expect(hashes.every((h) => /^[0-9a-f]{64}$/.test(h))).toBe(true);
    expect(toE164(national(numbers.bob), 'FR')).toBe(numbers.bob);

    const { data, error } = await discover(alice, hashes);
    expect(error).toBeNull();
    // Not carol (unverified), not dave (no opt-in), not alice herself, not the stranger.
    expect(data!.map((r) => r.user_id).sort()).toEqual([bob, eve].sort());
    const bobRow = data!.find((r) => r.user_id === bob)!;
    expect(bobRow.phone_hash).toBe(sha256(numbers.bob));
    expect(Object.keys(bobRow).sort()).toEqual(['avatar_url', 'display_name', 'phone_hash', 'user_id', 'username']);

    // Blocks hide either way.
    expect((await clientAs(eve).rpc('block_user', { p_user_id: alice })).error).toBeNull();
    const { data: after } = await discover(alice, hashes);
    expect(after!.map((r) => r.user_id)).toEqual([bob]);

    // Opting out takes effect at once.
    await optIn(bob, false);
    const { data: none } = await discover(alice, hashes);
    expect(none).toEqual([]);
  });

  it('matches only by the digest of the exact E.164 number (the raw number or another form finds nobody)', async () => {
    const [alice, bob] = [newUserId(), newUserId()];
    const n = newMobile();
    await syncUser(alice, []);
    await syncUser(bob, [{ number: n, primary: true }]);
    await optIn(bob);
    const { data } = await discover(alice, [sha256(national(n)), sha256(n.slice(1)), sha256(`00${n.slice(1)}`)]);
    expect(data).toEqual([]);
    const { data: found } = await discover(alice, [sha256(n)]);
    expect(found!.map((r) => r.user_id)).toEqual([bob]);
  });

  it('refuses batches over the limit and anything but SHA-256 hex digests (400), and anonymous callers', async () => {
    const alice = newUserId();
    await syncUser(alice, []);
    const tooMany = Array.from({ length: DISCOVER_CONTACTS_MAX_BATCH + 1 }, (_, i) => sha256(`+3360000${i}`));
    for (const bad of [tooMany, ['+33612345678'], [sha256('x').toUpperCase()], [sha256('x').slice(1)]]) {
      const { error, status } = await discover(alice, bad);
      expect(error?.code).toBe('22023');
      expect(status).toBe(400);
    }
    const { data: ok, error } = await discover(alice, tooMany.slice(1));
    expect(error).toBeNull();
    expect(ok).toEqual([]);
    const anon = await anonClient().rpc('discover_contacts', { p_phone_hashes: [sha256('+33612345678')] });
    expect(anon.error).not.toBeNull();
    expect(anon.data).toBeNull();
  });

  it('is rate-limited per user (429 with the limit in the message, other users unaffected)', async () => {
    const [mallory, alice] = [newUserId(), newUserId()];
    await syncUser(mallory, []);
    await syncUser(alice, []);
    const [row] = await owner()`select value from public.admin_config where key = 'rate_limit.discover_contacts.limit'`;
    const limit = Number(row?.value);
    expect(limit).toBeGreaterThan(0);
    for (let i = 0; i < limit; i++) {
      const { error } = await discover(mallory, [sha256(newMobile())]);
      expect(error).toBeNull();
    }
    const { error, status } = await discover(mallory, [sha256(newMobile())]);
    expect(status).toBe(429);
    expect(error?.message).toMatch(/rate limit/);
    expect((await discover(alice, [sha256(newMobile())])).error).toBeNull();
  });
});
