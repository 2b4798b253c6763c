/**
 * `me` (GET, Clerk session token): the caller's profile and account. If the
 * Clerk user.created webhook has not arrived yet, the profile is created from
 * the token's claims first (public.ensure_profile()), so a new user is never
 * locked out; the webhook later fills in the rest.
 * Errors: 401 no or invalid token.
 */
import { z } from 'zod';
import { UserAccount, UserProfile } from '../rows.ts';

export const MeResponse = z.object({
  user: UserProfile,
  /** Null only if the account row could not be read (it is created together with the profile). */
  account: UserAccount.nullable(),
});
export type MeResponse = z.infer<typeof MeResponse>;
