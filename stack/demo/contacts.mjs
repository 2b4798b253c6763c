/**
 * The demo's contact-discovery step (README "Phone sign-in and contact
 * discovery"): Bob verifies a phone number in Clerk (user.updated through
 * clerk-webhook) and opts in to discovery; Alice uploads her address book as
 * SHA-256 digests of E.164 numbers (contactPhoneHash, libphonenumber-js) and
 * finds Bob; Carol's number, never opted in, is not found.
 */
import { randomInt } from 'node:crypto';
import { clerkUser, postClerkWebhook } from './people.mjs';
import { check, checkEqual, expectData, ok, say, step } from './transcript.mjs';

/** A fresh valid French mobile number, E.164. */
const mobile = () => `+336${String(randomInt(0, 1e8)).padStart(8, '0')}`;

async function verifyPhone(ctx, person, number) {
  const user = clerkUser(person);
  const phoneId = `idn_phone_${person.id.slice(-10)}`;
  const res = await postClerkWebhook(ctx, 'user.updated', {
    ...user,
    updated_at: Date.now() + 1000,
    primary_phone_number_id: phoneId,
    phone_numbers: [{ id: phoneId, object: 'phone_number', phone_number: number, linked_to: [], verification: { status: 'verified', strategy: 'phone_code' } }],
  });
  check(res.status === 200 && res.body?.outcome === 'updated', `clerk-webhook should apply ${person.name}'s verified phone number`, res);
}

/**
 * @param {{ env: Record<string, string>, clerk: any, shared: any }} ctx
 * @param {{ alice: any, bob: any, carol: any }} who
 */
export async function contactsStep(ctx, { alice, bob, carol }) {
  step('Contacts: Alice finds Bob by his phone number');
  const bobs = mobile();
  const carols = mobile();
  await verifyPhone(ctx, bob, bobs);
  await verifyPhone(ctx, carol, carols);
  const account = await expectData('user_accounts (as Bob)', bob.sb.from('user_accounts').select('phone_number, discoverable_by_phone').single());
  checkEqual(account.phone_number, bobs, "Bob's verified number as he reads it");
  say('Bob', `verifies ${bobs} with Clerk (SMS code); clerk-webhook stores it (only Bob reads it)`);
  await expectData('set_phone_discoverable (as Bob)', bob.sb.rpc('set_phone_discoverable', { p_enabled: true }));
  say('Bob', 'allows people who have his number to find him (off by default); Carol does not');

  // Alice's address book as typed on a French phone.
  const book = [bobs, carols, mobile()].map((n) => `0${n.slice(3)}`.replace(/(\d\d)(?=\d)/g, '$1 '));
  const hashes = (await Promise.all(book.map((n) => ctx.shared.contactPhoneHash(n, 'FR')))).filter(Boolean);
  const found = await expectData('discover_contacts (as Alice)', alice.sb.rpc('discover_contacts', { p_phone_hashes: hashes }));
  checkEqual(found.map((r) => r.user_id).join(), bob.id, 'who Alice finds');
  ok(`Alice uploads ${hashes.length} hashed contacts (${book[0]}, …) → finds ${found[0].display_name}; Carol (not opted in) and a stranger stay hidden`);
}
