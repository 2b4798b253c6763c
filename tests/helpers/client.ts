/**
 * supabase-js clients on the test stack's API gateway, the way an app uses
 * this backend (README "Connecting a client"): the publishable key, and a
 * Clerk session token through `accessToken` (Supabase third-party auth,
 * https://supabase.com/docs/guides/auth/third-party/clerk). Tokens are signed by
 * the stack's Clerk stand-in (stack/standins/clerk.mjs), which PostgREST and
 * the functions trust.
 */
import { createClient, type SupabaseClient } from '@supabase/supabase-js';
import type { Database } from '@chat-with-me/shared';
import { inject } from 'vitest';
import ws from 'ws';
import { loadClerkStandin, mintSessionToken } from '../../stack/standins/clerk.mjs';

export type Client = SupabaseClient<Database>;

let standin: ReturnType<typeof loadClerkStandin> | undefined;
/** The test stack's Clerk stand-in (key pair, issuer, webhook secret). */
export function clerkStandin() {
  standin ??= loadClerkStandin(inject('clerkDir'));
  return standin;
}

/** A Clerk session token for `sub` signed by the stack's Clerk stand-in. */
export async function clerkToken(sub: string, opts: { ttlSeconds?: number; claims?: Record<string, unknown> } = {}) {
  return mintSessionToken(await clerkStandin(), sub, opts);
}

const options = (extra: Record<string, unknown> = {}) => ({
  auth: { persistSession: false, autoRefreshToken: false },
  // Node 20 has no global WebSocket: realtime-js needs `ws` as its transport.
  realtime: { transport: ws as never },
  ...extra,
});

/** API URL of the test stack (`/rest/v1`, `/functions/v1`). */
export const apiUrl = () => inject('apiUrl');

/** A client signed in as the Clerk user `sub` (publishable key + Clerk session token). */
export function clientAs(sub: string, opts: { ttlSeconds?: number; claims?: Record<string, unknown> } = {}): Client {
  return createClient<Database>(apiUrl(), inject('publishableKey'), options({ accessToken: () => clerkToken(sub, opts) }));
}

/** A client with a fixed bearer token (forged, expired, another issuer…): tests of what the Data API refuses. */
export function clientWithToken(token: string): Client {
  return createClient<Database>(apiUrl(), inject('publishableKey'), options({ accessToken: async () => token }));
}

/** A signed-out client: the publishable key alone (role anon). */
export function anonClient(): Client {
  return createClient<Database>(apiUrl(), inject('publishableKey'), options());
}

/** A server-side client with the secret key (role service_role: bypasses RLS). */
export function serviceClient(): Client {
  return createClient<Database>(apiUrl(), inject('secretKey'), options());
}
