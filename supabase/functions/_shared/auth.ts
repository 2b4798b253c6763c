/**
 * Clerk session verification for client functions.
 *
 * Decision: client functions verify the Clerk session token themselves with
 * @clerk/backend `verifyToken`, and every function is deployed with
 * `verify_jwt = false` (supabase/config.toml). The gateway's check would only
 * accept Clerk tokens through SUPABASE_JWKS, knows nothing of authorized
 * parties, and answers in its own shape (`{"msg":"Invalid JWT"}`); ours checks
 * signature, expiry (`exp`), not-before (`nbf`), issuer (`iss`) and authorized
 * party (`azp`) and answers 401 with our error shape.
 *
 * Keys (https://clerk.com/docs/guides/sessions/manual-jwt-verification):
 * - CLERK_JWT_KEY, the instance's PEM public key: networkless verification
 *   (recommended; locally a generated stand-in key pair, see stack/runtime/functions.mjs);
 * - otherwise CLERK_SECRET_KEY: @clerk/backend fetches and caches the JWKS from
 *   Clerk's Backend API.
 * Session token claims: https://clerk.com/docs/backend-requests/resources/session-tokens
 */
import { verifyToken } from '@clerk/backend';
import { ClerkUserId, toStorableText } from '@chat-with-me/shared';
import { z } from 'zod';
import { commaList, type EnvOf } from './env.ts';
import { HttpError } from './errors.ts';

/** Environment of a function that verifies Clerk session tokens (add `.superRefine(requireClerkKey)`). */
export const clerkSessionEnv = {
  /** PEM public key of the Clerk instance (Dashboard → API keys → JWT public key). */
  CLERK_JWT_KEY: z
    .string()
    .transform((s) => s.replace(/\\n/g, '\n'))
    .pipe(z.string().regex(/-----BEGIN PUBLIC KEY-----[\s\S]+-----END PUBLIC KEY-----/, 'expected a PEM public key'))
    .optional(),
  /** Clerk secret key (sk_live_… / sk_test_…): JWKS fetched from Clerk when CLERK_JWT_KEY is not set. */
  CLERK_SECRET_KEY: z.string().regex(/^sk_(live|test)_/, 'expected sk_live_… or sk_test_…').optional(),
  /** Frontend API URL of the instance, the `iss` of its session tokens (e.g. https://clerk.example.com). */
  CLERK_ISSUER: z.url(),
  /**
   * Comma-separated origins allowed as the token's `azp` (e.g. https://app.example.com,http://localhost:3000).
   * A token without `azp` is then refused too (@clerk/backend >= 3.11.1, clerk/javascript#8877).
   */
  CLERK_AUTHORIZED_PARTIES: commaList,
};

/** The validated Clerk session variables. */
export type ClerkSessionEnv = EnvOf<typeof clerkSessionEnv>;

/** Refinement: one of CLERK_JWT_KEY and CLERK_SECRET_KEY must be set. */
export function requireClerkKey(env: Pick<ClerkSessionEnv, 'CLERK_JWT_KEY' | 'CLERK_SECRET_KEY'>, ctx: z.RefinementCtx) {
  if (!env.CLERK_JWT_KEY && !env.CLERK_SECRET_KEY) {
    ctx.addIssue({ code: 'custom', path: ['CLERK_JWT_KEY'], message: 'set CLERK_JWT_KEY (or CLERK_SECRET_KEY)' });
  }
}

/** The claims we rely on; others (sid, v, fva, custom template claims) pass through. */
const SessionClaims = z.looseObject({
  sub: ClerkUserId,
  sid: z.string().optional(),
  exp: z.number(),
  iat: z.number().optional(),
  nbf: z.number().optional(),
  iss: z.string(),
  azp: z.string().optional(),
  /** Supabase's Clerk integration adds `role: authenticated`; any other role is refused. */
  role: z.literal('authenticated').optional(),
});

/** A verified caller: Clerk user id and the token's claims (with `role: authenticated`, as PostgREST sees them). */
export interface SessionUser {
  id: string;
  claims: Record<string, unknown> & { sub: string; role: 'authenticated' };
}

const REASONS: Record<string, string> = {
  'token-expired': 'the session token has expired',
  'token-not-active-yet': 'the session token is not valid yet',
  'token-iat-in-the-future': 'the session token was issued in the future',
  'token-invalid-signature': 'the session token signature is invalid',
  'token-invalid-algorithm': 'the session token uses an unsupported algorithm',
  'token-invalid-authorized-parties': 'the session token was issued for another application (azp)',
  'token-invalid-issuer': 'the session token was issued by another Clerk instance (iss)',
  'token-invalid': 'the session token is malformed',
  'jwk-kid-mismatch': 'the session token was signed by an unknown key',
  'jwk-remote-missing': 'the session token was signed by an unknown key',
};

/**
 * Verifies the `Authorization: Bearer <Clerk session token>` of `req`.
 * Errors: 401 `unauthorized` (missing, malformed, expired, not yet valid,
 * wrongly signed, other issuer or party, no Clerk user id, a role other than
 * authenticated); 502 `provider_error` when Clerk's JWKS cannot be fetched;
 * 503 `unavailable` when the Clerk secret key is refused.
 */
export async function requireUser(req: Request, env: ClerkSessionEnv): Promise<SessionUser> {
  const header = req.headers.get('authorization');
  if (!header) {
    throw new HttpError('unauthorized', 'sign in: send the Clerk session token as `Authorization: Bearer <token>`');
  }
  const match = /^Bearer\s+([A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*)$/i.exec(header.trim());
  if (!match) throw new HttpError('unauthorized', 'the Authorization header must be `Bearer <JWT>`');

  // verifyToken resolves to the payload, or throws a TokenVerificationError whose `reason` says why.
  let payload: unknown;
  try {
    payload = await verifyToken(match[1]!, {
      jwtKey: env.CLERK_JWT_KEY,
      secretKey: env.CLERK_JWT_KEY ? undefined : env.CLERK_SECRET_KEY,
      issuer: env.CLERK_ISSUER,
      authorizedParties: env.CLERK_AUTHORIZED_PARTIES,
      clockSkewInMs: 5_000,
    });
  } catch (e) {
    const reason = String((e as { reason?: unknown })?.reason ?? 'token-invalid');
    if (/^(jwk-remote-failed-to-load|jwk-remote-invalid|jwk-failed-to-resolve)$/.test(reason)) {
      throw new HttpError('provider_error', 'could not fetch Clerk signing keys, retry shortly');
    }
    if (reason === 'secret-key-invalid' || reason === 'jwk-local-missing') {
      throw new HttpError('unavailable', 'Clerk is misconfigured: check CLERK_JWT_KEY / CLERK_SECRET_KEY');
    }
    throw new HttpError('unauthorized', REASONS[reason] ?? 'the session token is invalid', { reason });
  }
  const claims = SessionClaims.safeParse(payload);
  if (!claims.success) {
    throw new HttpError('unauthorized', 'the session token lacks a Clerk user id or carries another role', {
      reason: 'token-invalid-claims',
    });
  }
  // Claims travel to Postgres as jsonb (request.jwt.claims), which refuses NUL and lone surrogates: a custom
  // claim carrying a user's free text (e.g. a name in a session-token template) is repaired like Clerk webhooks.
  return { id: claims.data.sub, claims: { ...(repairClaims(claims.data) as typeof claims.data), role: 'authenticated' } };
}

/** Every string of `v` (deeply) made storable with `toStorableText` (@chat-with-me/shared). */
function repairClaims(v: unknown): unknown {
  if (typeof v === 'string') return toStorableText(v);
  if (Array.isArray(v)) return v.map(repairClaims);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [toStorableText(k), repairClaims(x)]));
  return v;
}
