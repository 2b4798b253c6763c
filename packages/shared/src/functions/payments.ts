/**
 * Prepaid AI credits bought with Stripe Checkout: the `payments-checkout`
 * function's request and answer, the rows clients read through the Data API
 * (`credit_packs`, `payments`) and the notifications the payment flow sends on
 * `user:<user_id>` (migration 20261122110000_payments.sql).
 *
 * The flow a client follows:
 * 1. list packs: `supabase.from('credit_packs').select().order('sort_order')`
 *    (active packs; anyone may read them) → `CreditPack[]`;
 * 2. `POST payments-checkout {pack_id, success_url, cancel_url}` with the Clerk
 *    session token → `{checkout_url, session_id, payment_id, expires_at}`, then
 *    send the user to `checkout_url` (Stripe's hosted page);
 * 3. Stripe calls `stripe-webhook`; the wallet is credited once the payment
 *    succeeds: a `topup_succeeded` notification and a `balance` broadcast
 *    arrive on `user:<user_id>`; `payments` (own rows) is the history.
 *
 * Units: money in the currency's minor unit (`*_minor`: cents; yen and other
 * zero-decimal currencies have none, https://docs.stripe.com/currencies#zero-decimal),
 * credits in micro-USD (`*_micro_usd`: 1 USD = 1,000,000). Integers only.
 */
import { z } from 'zod';
import { type Equals, storableText, Timestamp, Uuid } from '../common.ts';
import { Constants, type Tables } from '../database.types.ts';

// -----------------------------------------------------------------------------
// Units
// -----------------------------------------------------------------------------

/** An amount in a currency's minor unit (integer; Stripe's `unit_amount`, `amount_total`, `amount_refunded`). */
export const MinorAmount = z.number().int().nonnegative();
/** Credits in micro-USD (integer; 1 USD = 1,000,000). */
export const MicroUsd = z.number().int();
/** A three-letter ISO currency code in lower case, as Stripe writes it (`usd`, `eur`, `jpy`). */
export const Currency = z.string().regex(/^[a-z]{3}$/, 'expected a lower-case ISO currency code (usd, eur, …)');

// -----------------------------------------------------------------------------
// Rows (Data API)
// -----------------------------------------------------------------------------

/** public.credit_packs: what can be bought. Clients see active packs; admins see and edit all. */
export const CreditPack = z.object({
  id: Uuid,
  name: z.string(),
  description: z.string(),
  /** Price in the currency's minor unit (500 usd = 5.00 USD; 800 jpy = 800 yen). */
  price_minor: MinorAmount,
  currency: Currency,
  /** Credits the pack gives, in micro-USD. */
  credits_micro_usd: MicroUsd,
  /** Stripe Price used as the line item when set (price_…). */
  stripe_price_id: z.string().nullable(),
  active: z.boolean(),
  sort_order: z.number().int(),
  created_at: Timestamp,
  updated_at: Timestamp,
});
export type CreditPack = z.infer<typeof CreditPack>;

// Alike on purpose: a row schema lists its table's columns in order (checked against the generated Row at the end
// of this file), so row and payload schemas here, in ai-chat.ts and in realtime.ts share their look.
/** Where a payment stands; it only moves forward (a late event never moves it back). */
export const PaymentStatus = z.enum(Constants.public.Enums.payment_status);
export type PaymentStatus = z.infer<typeof PaymentStatus>;

/** public.payments: one Stripe Checkout Session; a user reads their own (top-up history). */
export const Payment = z.object({
  id: Uuid,
  user_id: z.string(),
  pack_id: Uuid,
  status: PaymentStatus,
  /** Amount charged, minor units. */
  amount_minor: MinorAmount,
  currency: Currency,
  /** Credits added when paid, micro-USD. */
  credits_micro_usd: MicroUsd,
  stripe_checkout_session_id: z.string(),
  stripe_payment_intent_id: z.string().nullable(),
  /** Refunded so far by Stripe, minor units. */
  amount_refunded_minor: MinorAmount,
  /** Credits taken back from the wallet for refunds, micro-USD. */
  credits_refunded_micro_usd: MicroUsd,
  /** Credits owed back for refunds that the balance could not cover (already spent), micro-USD. */
  credits_unrecovered_micro_usd: MicroUsd,
  created_at: Timestamp,
  updated_at: Timestamp,
  paid_at: Timestamp.nullable(),
  failed_at: Timestamp.nullable(),
  expired_at: Timestamp.nullable(),
  refunded_at: Timestamp.nullable(),
});
export type Payment = z.infer<typeof Payment>;

// -----------------------------------------------------------------------------
// payments-checkout
// -----------------------------------------------------------------------------

/**
 * A redirect URL for Stripe Checkout: absolute http(s), at most 2048
 * characters, storable (`storableText`). The function also requires it to be under one of the origins
 * (or origin + path prefixes) of admin_config `payments.allowed_redirect_urls`
 * (400 otherwise). Stripe's `{CHECKOUT_SESSION_ID}` placeholder may appear in
 * it (https://docs.stripe.com/payments/checkout/custom-success-page).
 */
export const RedirectUrl = storableText()
  .max(2048)
  .refine((s) => {
    try {
      const u = new URL(s);
      return (u.protocol === 'https:' || u.protocol === 'http:') && !u.username && !u.password;
    } catch {
      return false;
    }
  }, 'expected an absolute http(s) URL without credentials');

/**
 * `payments-checkout` (POST, Clerk session token). `idempotency_key`: optional,
 * chosen by the client per purchase attempt (e.g. a uuid kept while the user
 * retries): the same key with the same body returns the same session and
 * payment; with another body it is a 409.
 */
export const PaymentsCheckoutRequest = z.strictObject({
  pack_id: Uuid,
  success_url: RedirectUrl,
  cancel_url: RedirectUrl,
  idempotency_key: z
    .string()
    .regex(/^[A-Za-z0-9_-]{8,64}$/, 'expected 8-64 characters of [A-Za-z0-9_-]')
    .optional(),
});
export type PaymentsCheckoutRequest = z.infer<typeof PaymentsCheckoutRequest>;

/**
 * 200 answer: redirect the user to `checkout_url` (Stripe's hosted page). The
 * payment (`payment_id`, status pending) is credited by the webhook once paid.
 * Errors: 400 invalid body or a redirect URL outside the allow-list; 401 no or
 * invalid token; 404 unknown or inactive pack; 409 idempotency key reused with
 * another body; 502 Stripe failed (details: Stripe's error type and code);
 * 503 not configured or database down.
 */
export const PaymentsCheckoutResponse = z.object({
  payment_id: Uuid,
  session_id: z.string(),
  checkout_url: z.url(),
  /** When Stripe expires the session if unpaid (24 hours by default). */
  expires_at: Timestamp,
  status: PaymentStatus,
  amount_minor: MinorAmount,
  currency: Currency,
  credits_micro_usd: MicroUsd,
});
export type PaymentsCheckoutResponse = z.infer<typeof PaymentsCheckoutResponse>;

// -----------------------------------------------------------------------------
// Notifications on user:<user_id> (event `notification`, `payload` below by `kind`)
// -----------------------------------------------------------------------------

/** What every top-up notification names: the payment, its pack, and the amount paid (minor units). */
const topupPayment = { payment_id: Uuid, pack_id: Uuid, currency: Currency, amount_minor: MinorAmount };

/** kind `topup_succeeded`: the payment was credited. */
export const TopupSucceededPayload = z.object({
  ...topupPayment,
  pack_name: z.string().nullable(),
  credits_micro_usd: MicroUsd,
  /** Wallet balance right after the credit. */
  balance_micro_usd: MicroUsd,
});
export type TopupSucceededPayload = z.infer<typeof TopupSucceededPayload>;

/** kind `topup_failed`: a delayed payment method (bank debit…) failed; nothing was credited. */
export const TopupFailedPayload = z.object({ ...topupPayment, credits_micro_usd: MicroUsd });
export type TopupFailedPayload = z.infer<typeof TopupFailedPayload>;

/**
 * kind `topup_refunded`: Stripe refunded (part of) the payment; its share of
 * the credits was taken back, as far as the balance allowed.
 */
export const TopupRefundedPayload = z.object({
  ...topupPayment,
  status: z.enum(['partially_refunded', 'refunded']),
  /** Total refunded so far, minor units. */
  amount_refunded_minor: MinorAmount,
  /** Credits debited by this refund step. */
  credits_debited_micro_usd: MicroUsd,
  /** Credits of this step that could not be debited (already spent). */
  credits_unrecovered_micro_usd: MicroUsd,
  balance_micro_usd: MicroUsd,
});
export type TopupRefundedPayload = z.infer<typeof TopupRefundedPayload>;

/** The payment notifications' payloads by `kind` (the low-balance alert, kind `low_balance`, comes from the ledger). */
export const PaymentNotificationPayloads = {
  topup_succeeded: TopupSucceededPayload,
  topup_failed: TopupFailedPayload,
  topup_refunded: TopupRefundedPayload,
} as const;

/** The payments columns a checkout answer carries as they are (the row private.create_pending_payment returns). */
type CheckoutColumns = 'status' | 'amount_minor' | 'currency' | 'credits_micro_usd';

// Compile-time drift checks: each row schema's output type is exactly the table's Row,
// and the checkout answer's amounts and status are those of the payments row.
const rowChecks: [
  Equals<CreditPack, Tables<'credit_packs'>>,
  Equals<Payment, Tables<'payments'>>,
  Equals<Pick<PaymentsCheckoutResponse, CheckoutColumns>, Pick<Tables<'payments'>, CheckoutColumns>>,
] = [true, true, true];
void rowChecks;
