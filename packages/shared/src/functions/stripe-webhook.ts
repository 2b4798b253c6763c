/**
 * `stripe-webhook` (POST, called by Stripe): the subset of Stripe's event
 * payloads we read, and our answer.
 *
 * Shapes: the Event object (https://docs.stripe.com/api/events/object), the
 * Checkout Session object (https://docs.stripe.com/api/checkout/sessions/object)
 * and the Charge object (https://docs.stripe.com/api/charges/object); the same
 * types ship in the `stripe` package (`Stripe.Event`, `Stripe.Checkout.Session`,
 * `Stripe.Charge`). Amounts are integers in the currency's minor unit;
 * timestamps are Unix epoch seconds. Unknown fields are ignored, so Stripe
 * adding fields never breaks us.
 */
import { z } from 'zod';
import { storableText, webhookReceipt } from '../common.ts';
import { Currency, MinorAmount } from './payments.ts';

/** The event types stripe-webhook acts on (enable these on the endpoint); any other is recorded and ignored. */
export const STRIPE_HANDLED_EVENTS = [
  'checkout.session.completed',
  'checkout.session.async_payment_succeeded',
  'checkout.session.async_payment_failed',
  'checkout.session.expired',
  'charge.refunded',
] as const;
export type StripeHandledEvent = (typeof STRIPE_HANDLED_EVENTS)[number];

/** The envelope of any Stripe event (snapshot payload). */
export const StripeEventEnvelope = z.object({
  id: z.string().regex(/^evt_[A-Za-z0-9_]{1,250}$/, 'expected a Stripe event id (evt_…)'),
  object: z.literal('event'),
  type: storableText().min(1).max(100),
  /** Epoch seconds when the event was created. */
  created: z.number().int(),
  livemode: z.boolean(),
  api_version: z.string().nullish(),
  data: z.object({ object: z.record(z.string(), z.unknown()) }),
});
export type StripeEventEnvelope = z.infer<typeof StripeEventEnvelope>;

/** An expandable reference: the id, or the expanded object carrying it. */
const StripeRef = (prefix: string) =>
  z.union([z.string(), z.object({ id: z.string() })]).transform((v) => (typeof v === 'string' ? v : v.id))
    .pipe(z.string().regex(new RegExp(`^${prefix}_[A-Za-z0-9_]{1,250}$`), `expected a Stripe id (${prefix}_…)`));

/** The Checkout Session fields we read (`data.object` of checkout.session.* events). */
export const StripeCheckoutSession = z.object({
  id: z.string().regex(/^cs_[A-Za-z0-9_]{1,250}$/, 'expected a Checkout Session id (cs_…)'),
  object: z.literal('checkout.session'),
  mode: z.string(),
  /** open | complete | expired. */
  status: z.string().nullable(),
  /** paid | unpaid | no_payment_required: credits are given only for `paid`. */
  payment_status: z.string(),
  payment_intent: StripeRef('pi').nullable(),
  amount_total: MinorAmount.nullable(),
  currency: Currency.nullable(),
  client_reference_id: z.string().nullable(),
  metadata: z.record(z.string(), z.string()).nullable(),
});
export type StripeCheckoutSession = z.infer<typeof StripeCheckoutSession>;

/** The Charge fields we read (`data.object` of charge.refunded). `amount_refunded` is cumulative. */
export const StripeCharge = z.object({
  id: z.string().regex(/^(ch|py)_[A-Za-z0-9_]{1,250}$/, 'expected a Charge id (ch_… or py_…)'),
  object: z.literal('charge'),
  amount: MinorAmount,
  amount_refunded: MinorAmount,
  currency: Currency,
  payment_intent: StripeRef('pi').nullable(),
  refunded: z.boolean(),
  status: z.string(),
});
export type StripeCharge = z.infer<typeof StripeCharge>;

/**
 * What processing did:
 * - credited: the payment was paid and its credits added (once);
 * - awaiting_payment: not paid yet (a delayed payment method is processing; or a refund kept until it is);
 * - failed / expired: the payment became failed / expired;
 * - refunded / partially_refunded: the refunded share of the credits was debited (as far as the balance allowed);
 * - already_paid / already_failed / already_expired: the payment was already further along; nothing changed;
 * - unchanged: nothing new (e.g. a stale refund total);
 * - user_deleted: paid, but the account no longer exists (nothing to credit);
 * - unknown_session / unknown_payment: no payment of ours for this session / PaymentIntent (recorded; a refund is kept);
 * - ignored: an event type we do not act on;
 * - duplicate: this event id was already processed (a redelivery), nothing done.
 */
export const StripeWebhookOutcome = z.enum([
  'credited', 'awaiting_payment', 'failed', 'expired', 'refunded', 'partially_refunded',
  'already_paid', 'already_failed', 'already_expired', 'unchanged', 'user_deleted',
  'unknown_session', 'unknown_payment', 'ignored', 'duplicate',
]);
export type StripeWebhookOutcome = z.infer<typeof StripeWebhookOutcome>;

/**
 * 200 answer: Stripe stops retrying (any other status makes Stripe retry with
 * backoff for up to three days); `event_id` is Stripe's event id (evt_…).
 */
export const StripeWebhookResponse = webhookReceipt(StripeWebhookOutcome);
export type StripeWebhookResponse = z.infer<typeof StripeWebhookResponse>;
