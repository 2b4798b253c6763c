/**
 * Contact discovery on the client (issue 17; 20261202110600_contact_discovery.sql).
 *
 * An address book is uploaded as SHA-256 digests of E.164 numbers, never in
 * the clear: `contactPhoneHash` normalises a number as the user typed it
 * ("06 12 34 56 78", "+1 (415) 555-0100") with libphonenumber-js
 * (https://gitlab.com/catamphetamine/libphonenumber-js), in the region of
 * the user's phone when the number has no country code, and returns the
 * lower-case hex SHA-256 of its E.164 form ("+33612345678"), or null when it
 * is not a valid number. Send up to `DISCOVER_CONTACTS_MAX_BATCH` of them per
 * call to the `discover_contacts` RPC (supabase-js `rpc('discover_contacts',
 * { p_phone_hashes })`); each matched user comes back with the digest that
 * matched. The database keys the digests with a secret before comparing them,
 * and stores nothing of the upload.
 */
import { type CountryCode, parsePhoneNumberFromString } from 'libphonenumber-js';
import { z } from 'zod';

/** Default of admin_config `contacts.discover_max_batch`: digests per discover_contacts call. */
export const DISCOVER_CONTACTS_MAX_BATCH = 500;

/** A digest as discover_contacts takes it: SHA-256, 64 lower-case hex digits. */
export const ContactPhoneHash = z.string().regex(/^[0-9a-f]{64}$/);

/** The E.164 form of `raw` ("+14155550100"), or null when libphonenumber-js finds no valid number. */
export function toE164(raw: string, defaultCountry?: CountryCode): string | null {
  const parsed = parsePhoneNumberFromString(raw, defaultCountry);
  return parsed?.isValid() ? parsed.number : null;
}

/** Lower-case hex SHA-256 (Web Crypto) of the E.164 form of `raw`, or null when it is not a valid number. */
export async function contactPhoneHash(raw: string, defaultCountry?: CountryCode): Promise<string | null> {
  const e164 = toE164(raw, defaultCountry);
  if (!e164) return null;
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(e164));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}
