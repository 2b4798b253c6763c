/**
 * payments-checkout: POST `{pack_id, success_url, cancel_url, idempotency_key?}`
 * with a Clerk session token → a Stripe Checkout Session for the pack and a
 * pending payment (@chat-with-me/shared `PaymentsCheckoutRequest` →
 * `PaymentsCheckoutResponse`).
 *
 * 1. Verify the caller; parse the body with the shared schema.
 * 2. As the user (RLS): ensure_profile() (the wallet credited later needs the
 *    profile), the per-user limit (admin_config rate_limit.checkout.*: 429
 *    with Retry-After), then the pack, which must be active (404 otherwise).
 * 3. success_url and cancel_url must be on an origin of admin_config
 *    `payments.allowed_redirect_urls`, read fresh (400 otherwise; 503 if it is
 *    unset or invalid): see redirects.ts.
 * 4. Create the session with the real SDK
 *    (https://docs.stripe.com/api/checkout/sessions/create): mode `payment`,
 *    one line item (the pack's Stripe Price if set, else `price_data` from the
 *    pack: currency, unit_amount in minor units, product name),
 *    client_reference_id = the Clerk user id, metadata {user_id, pack_id,
 *    credits_micro_usd} on the session and on its PaymentIntent, and an
 *    idempotency key (https://docs.stripe.com/api/idempotent_requests):
 *    `payments-checkout:<user id>:<idempotency_key>` when the client sends one
 *    (its retries get the same session), else a fresh uuid (the SDK's own
 *    network retries reuse it). Stripe errors → 502 (409 for a key reused with
 *    another body).
 * 5. Record the pending payment as the service role
 *    (private.create_pending_payment, idempotent by session id).
 * Nothing is credited here: stripe-webhook does it when Stripe says paid.
 */
import { PaymentsCheckoutRequest, PaymentsCheckoutResponse, type Tables } from '@chat-with-me/shared';
import { z } from 'zod';
import { clerkSessionEnv, requireClerkKey, requireUser } from '../_shared/auth.ts';
import { settings } from '../_shared/config.ts';
import { callRow, database } from '../_shared/db.ts';
import { platformEnv } from '../_shared/env.ts';
import { HttpError } from '../_shared/errors.ts';
import { defineFunction, json, readJson } from '../_shared/http.ts';
import { rateLimit } from '../_shared/rate-limit.ts';
import { refineStripeApiBase, Stripe, stripeApiEnv, stripeClient, stripeError } from '../_shared/stripe.ts';
import { isAllowedRedirect, parseAllowList } from './redirects.ts';

const Env = z
  .object({ ...platformEnv, ...clerkSessionEnv, ...stripeApiEnv })
  .superRefine(requireClerkKey)
  .superRefine(refineStripeApiBase);

/** The columns of public.credit_packs a checkout needs. */
type PackRow = Pick<Tables<'credit_packs'>, 'id' | 'name' | 'description' | 'price_minor' | 'currency' | 'credits_micro_usd' | 'stripe_price_id'>;

export const handler = defineFunction({ name: 'payments-checkout', methods: ['POST'], env: Env }, async (req, { env, log }) => {
  const user = await requireUser(req, env);
  const body = await readJson(req, PaymentsCheckoutRequest, { maxBytes: 16 * 1024 });
  const db = database(env.SUPABASE_DB_URL);

  const pack = await db.asUser(user.claims, async (tx) => {
    await tx`select public.ensure_profile()`;
    await rateLimit(tx, 'checkout');
    const [row] = await tx<PackRow[]>`
      select id, name, description, price_minor, currency, credits_micro_usd, stripe_price_id
      from public.credit_packs where id = ${body.pack_id} and active`;
    return row;
  });
  if (!pack) throw new HttpError('not_found', 'no active credit pack with this id', { pack_id: body.pack_id });

  // Read fresh (ttlMs: 0) rather than from the 30-second cache: narrowing the
  // allow-list is a security change that must apply at once.
  const config = await settings(env.SUPABASE_DB_URL, { ttlMs: 0 });
  const allowed = parseAllowList(config.getOr('payments.allowed_redirect_urls', z.unknown(), null));
  if (!allowed) {
    log.error('admin_config payments.allowed_redirect_urls is missing or not an array of URLs');
    throw new HttpError('unavailable', 'payments are not configured: admin_config payments.allowed_redirect_urls');
  }
  const refused = (['success_url', 'cancel_url'] as const).filter((k) => !isAllowedRedirect(body[k], allowed));
  if (refused.length) {
    throw new HttpError('invalid_request', `${refused.join(' and ')} must be on an allowed origin`, {
      issues: refused.map((path) => ({ path, message: 'origin not in admin_config payments.allowed_redirect_urls' })),
    });
  }

  const priceMinor = pack.price_minor;
  const credits = pack.credits_micro_usd;
  const metadata = { user_id: user.id, pack_id: pack.id, credits_micro_usd: String(credits) };
  const params: Stripe.Checkout.SessionCreateParams = {
    mode: 'payment',
    line_items: [
      pack.stripe_price_id
        ? { price: pack.stripe_price_id, quantity: 1 }
        : {
            quantity: 1,
            price_data: {
              currency: pack.currency,
              unit_amount: priceMinor,
              product_data: { name: pack.name, ...(pack.description ? { description: pack.description } : {}) },
            },
          },
    ],
    client_reference_id: user.id,
    metadata,
    payment_intent_data: { metadata },
    success_url: body.success_url,
    cancel_url: body.cancel_url,
  };
  const idempotencyKey = body.idempotency_key
    ? `payments-checkout:${user.id}:${body.idempotency_key}`
    : `payments-checkout:${crypto.randomUUID()}`;

  let session: Stripe.Checkout.Session;
  try {
    session = await stripeClient(env).checkout.sessions.create(params, { idempotencyKey });
  } catch (e) {
    const mapped = stripeError(e, 'create the Checkout Session');
    if (!mapped || !(e instanceof Stripe.errors.StripeError)) throw e;
    log.warn('stripe checkout session failed', {
      user_id: user.id,
      pack_id: pack.id,
      stripe_type: e.rawType,
      stripe_code: e.code,
      stripe_message: e.message,
      stripe_request_id: e.requestId,
    });
    throw mapped;
  }
  if (!session.url) throw new HttpError('provider_error', 'Stripe returned a Checkout Session without a URL', { provider: 'stripe' });

  // What the customer will pay: the session's total (a Stripe Price may differ from price_minor), else the pack's.
  const amount = session.amount_total ?? priceMinor;
  const currency = session.currency ?? pack.currency;
  const payment = await db.asService((tx) =>
    callRow(tx, 'create_pending_payment', {
      p_user_id: user.id,
      p_pack_id: pack.id,
      p_session_id: session.id,
      p_amount_minor: amount,
      p_currency: currency,
      p_credits_micro_usd: credits,
    })
  );
  log.info('checkout session created', { user_id: user.id, pack_id: pack.id, payment_id: payment.id, session_id: session.id });

  return json(PaymentsCheckoutResponse, {
    payment_id: payment.id,
    session_id: session.id,
    checkout_url: session.url,
    expires_at: new Date(session.expires_at * 1000).toISOString(),
    status: payment.status,
    amount_minor: payment.amount_minor,
    currency: payment.currency,
    credits_micro_usd: payment.credits_micro_usd,
  });
});
