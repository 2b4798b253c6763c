/**
 * From a Clerk `User` object (webhook payload) to the fields of our profile
 * (public.users + public.user_accounts). Pure: no I/O.
 *
 * - display_name: first_name + last_name, else username, else '';
 * - username: Clerk's username (dropped by the database if outside ^[A-Za-z0-9_.-]{3,32}$);
 * - email: the address whose id is primary_email_address_id;
 * - auth_provider: external_accounts[0].provider without `oauth_`, else 'email';
 * - avatar_url: image_url (Clerk-hosted, https);
 * - is_admin: public_metadata.is_admin === true or public_metadata.role === 'admin';
 * - clerk_updated_at: updated_at (epoch ms) as an ISO timestamp;
 * - verified_identities: `email:<address>` and `phone:<number>` of every email
 *   address and phone number whose `verification.status` is `verified` (the
 *   welcome grant is given once per verified identity; the database
 *   normalises and hashes them, private.grant_welcome_credits).
 * - phone_number: the verified phone number used for contact discovery: the
 *   primary one (primary_phone_number_id) when verified, else the first
 *   verified one, parsed with libphonenumber-js and kept only when valid, in
 *   E.164 (https://www.itu.int/rec/T-REC-E.164); else null.
 * Source: https://clerk.com/docs/reference/backend-api/tag/users (User object)
 * and https://clerk.com/docs/reference/backend/types/backend-user.
 */
import type { ClerkUser } from '@chat-with-me/shared';
import { parsePhoneNumberFromString } from 'libphonenumber-js';

export interface ClerkProfile {
  id: string;
  display_name: string;
  username: string | null;
  email: string | null;
  auth_provider: string;
  avatar_url: string | null;
  is_admin: boolean;
  clerk_updated_at: string;
  verified_identities: string[];
  phone_number: string | null;
}

export function profileFromClerkUser(user: ClerkUser): ClerkProfile {
  const name = [user.first_name, user.last_name].map((s) => (s ?? '').trim()).filter(Boolean).join(' ');
  const primary = user.email_addresses.find((e) => e.id === user.primary_email_address_id);
  const provider = user.external_accounts[0]?.provider?.replace(/^oauth_/, '').trim();
  const metadata = user.public_metadata ?? {};
  const verifiedPhones = user.phone_numbers.filter((p) => p.verification?.status === 'verified');
  const phone = verifiedPhones.find((p) => p.id === user.primary_phone_number_id) ?? verifiedPhones[0];
  const parsedPhone = phone ? parsePhoneNumberFromString(phone.phone_number) : undefined;
  return {
    id: user.id,
    display_name: name || user.username || '',
    username: user.username ?? null,
    email: primary?.email_address ?? null,
    auth_provider: provider || 'email',
    avatar_url: user.image_url ?? null,
    is_admin: metadata.is_admin === true || metadata.role === 'admin',
    clerk_updated_at: new Date(user.updated_at).toISOString(),
    verified_identities: [
      ...user.email_addresses.filter((e) => e.verification?.status === 'verified').map((e) => `email:${e.email_address}`),
      ...verifiedPhones.map((p) => `phone:${p.phone_number}`),
    ],
    phone_number: parsedPhone?.isValid() ? parsedPhone.number : null,
  };
}
