/**
 * me: GET with a Clerk session token → the caller's profile and account
 * (@chat-with-me/shared `MeResponse`). When the Clerk user.created webhook has
 * not arrived yet, public.ensure_profile() first creates the profile from the
 * token's claims, so a new user is never locked out.
 * Runs as the user (role authenticated, RLS applies).
 * Errors: 401 no or invalid token; 503 database unreachable or Clerk not configured.
 */
import { type Database, MeResponse, type Tables } from '@chat-with-me/shared';
import { z } from 'zod';
import { clerkSessionEnv, requireClerkKey, requireUser } from '../_shared/auth.ts';
import { database } from '../_shared/db.ts';
import { platformEnv } from '../_shared/env.ts';
import { defineFunction, json } from '../_shared/http.ts';

const Env = z.object({ ...platformEnv, ...clerkSessionEnv }).superRefine(requireClerkKey);

export const handler = defineFunction({ name: 'me', methods: ['GET'], env: Env }, async (req, { env, log }) => {
  const user = await requireUser(req, env);
  const body = await database(env.SUPABASE_DB_URL).asUser(user.claims, async (tx) => {
    const [profile] = await tx<Database['public']['Functions']['ensure_profile']['Returns'][]>`select * from public.ensure_profile()`;
    const [account] = await tx<Tables<'user_accounts'>[]>`select * from public.user_accounts where user_id = ${user.id}`;
    return { user: profile!, account: account ?? null };
  });
  log.debug('profile read', { user_id: user.id });
  return json(MeResponse, body);
});
