/**
 * Stripe for the functions: the real `stripe` SDK on Deno, its environment,
 * and how its errors become answers.
 *
 * - API client: `new Stripe(key, { httpClient: Stripe.createFetchHttpClient() })`,
 *   the fetch-based client Stripe documents for Deno and edge runtimes
 *   (https://github.com/stripe/stripe-node#usage-with-deno, and
 *   https://supabase.com/docs/guides/functions/examples/stripe-webhooks).
 * - Webhook signatures: `Stripe.webhooks.constructEventAsync` with
 *   `Stripe.createSubtleCryptoProvider()` (Web Crypto; the synchronous verifier
 *   needs Node's crypto): https://docs.stripe.com/webhooks#verify-events.
 * - STRIPE_API_BASE (tests and the local stack only): an http(s) base URL such
 *   as http://127.0.0.1:12111 passed to the SDK as its `host`, `port` and
 *   `protocol` options, so the unchanged SDK talks to a local stand-in
 *   speaking Stripe's wire format (stack/standins/stripe.mjs). It is refused
 *   with a live key, so it cannot divert production traffic.
 */
import Stripe from 'stripe';
import { z } from 'zod';
import type { EnvOf } from './env.ts';
import { HttpError } from './errors.ts';

export { Stripe };

/** Environment of a function that calls Stripe's API (add `.superRefine(refineStripeApiBase)`). */
export const stripeApiEnv = {
  /** Secret (sk_…) or restricted (rk_…) API key; restricted keys need Checkout Sessions: write. */
  STRIPE_SECRET_KEY: z.string().regex(/^(sk|rk)_(test|live)_[A-Za-z0-9]{8,}$/, 'expected sk_live_…, sk_test_…, rk_live_… or rk_test_…'),
  /** Local stand-in only: base URL of a server speaking Stripe's API (never set in production). */
  STRIPE_API_BASE: z
    .url({ protocol: /^https?$/ })
    .refine((s) => {
      const u = new URL(s);
      return (u.pathname === '/' || u.pathname === '') && !u.search && !u.hash && !u.username;
    }, 'expected a bare origin such as http://127.0.0.1:12111')
    .optional(),
};

/** The validated Stripe API variables. */
export type StripeApiEnv = EnvOf<typeof stripeApiEnv>;

/** Refinement: STRIPE_API_BASE is accepted with a test key only. */
export function refineStripeApiBase(env: Partial<StripeApiEnv>, ctx: z.RefinementCtx) {
  if (env.STRIPE_API_BASE && env.STRIPE_SECRET_KEY && !/^(sk|rk)_test_/.test(env.STRIPE_SECRET_KEY)) {
    ctx.addIssue({ code: 'custom', path: ['STRIPE_API_BASE'], message: 'STRIPE_API_BASE is for local stand-ins: not allowed with a live key' });
  }
}

/** Environment of stripe-webhook: the endpoint's signing secret (Dashboard → Webhooks → Signing secret). */
export const stripeWebhookEnv = {
  STRIPE_WEBHOOK_SECRET: z.string().regex(/^whsec_[A-Za-z0-9+/=_-]{8,}$/, 'expected whsec_…'),
};

/** The SDK's host/port/protocol options for STRIPE_API_BASE (none: api.stripe.com over https). */
export function apiBaseOptions(base: string | undefined): { host?: string; port?: number; protocol?: 'http' | 'https' } {
  if (!base) return {};
  const u = new URL(base);
  const protocol = u.protocol === 'http:' ? 'http' : 'https';
  return { host: u.hostname, port: u.port ? Number(u.port) : protocol === 'http' ? 80 : 443, protocol };
}

const clients = new Map<string, Stripe>();

/**
 * A Stripe API client for `env` (one per key and base, reused across requests).
 * Network retries: 2, with the idempotency key we send (safe to repeat);
 * timeout 20 s, well inside an edge function's wall-clock limit.
 */
export function stripeClient(env: StripeApiEnv): Stripe {
  const cacheKey = `${env.STRIPE_SECRET_KEY}\n${env.STRIPE_API_BASE ?? ''}`;
  let client = clients.get(cacheKey);
  if (!client) {
    client = new Stripe(env.STRIPE_SECRET_KEY, {
      httpClient: Stripe.createFetchHttpClient(),
      maxNetworkRetries: 2,
      timeout: 20_000,
      telemetry: false,
      appInfo: { name: 'chat-with-me', url: 'https://github.com/chat-with-me' },
      ...apiBaseOptions(env.STRIPE_API_BASE),
    });
    clients.set(cacheKey, client);
  }
  return client;
}

/** Web Crypto for webhook signatures (Deno has no synchronous HMAC). */
export const subtleCrypto = Stripe.createSubtleCryptoProvider();

/**
 * An error thrown by the Stripe SDK as our answer
 * (https://docs.stripe.com/api/errors; SDK classes in `Stripe.errors`):
 * - StripeIdempotencyError (the key was used with other parameters) → 409 conflict;
 * - anything else (card, invalid request from our configuration, auth,
 *   permission, rate limit, API, connection) → 502 provider_error.
 * Details carry Stripe's error `type`, `code` and `request_id` (for Stripe
 * support), never the key; Stripe's message goes to the log only.
 */
export function stripeError(e: unknown, action: string): HttpError | null {
  if (!(e instanceof Stripe.errors.StripeError)) return null;
  const details = {
    provider: 'stripe',
    // rawType is Stripe's `error.type` (api_error, card_error, idempotency_error, invalid_request_error…).
    type: e.rawType ?? e.type,
    ...(e.code ? { code: e.code } : {}),
    ...(e.requestId ? { request_id: e.requestId } : {}),
    ...(e.statusCode ? { status: e.statusCode } : {}),
  };
  if (e instanceof Stripe.errors.StripeIdempotencyError) {
    return new HttpError('conflict', 'this idempotency_key was already used with another pack or other URLs', details);
  }
  return new HttpError('provider_error', `Stripe could not ${action}; try again later`, details);
}
