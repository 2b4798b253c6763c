/**
 * The payments world for tests: the Stripe stand-in (stack/standins/stripe.mjs,
 * real `stripe` SDK on both sides) and the edge functions in real Deno pointed
 * at it through STRIPE_API_BASE, against the real test database.
 */
import { PaymentsCheckoutResponse, StripeWebhookResponse } from '@chat-with-me/shared';
import { expect } from 'vitest';
import { startStripeStandin } from '../../stack/standins/stripe.mjs';
import { sessionToken } from './clerk.js';
import { owner } from './db.js';
import { startTestFunctions, type TestFunctions } from './functions.js';

export type StripeStandin = Awaited<ReturnType<typeof startStripeStandin>>;
export type StripeEvent = ReturnType<StripeStandin['completeSession']>;

/** The packs of the payments migration (20261122110000_payments.sql). */
export const PACKS = {
  starter: { id: '00000000-0000-4000-8000-00000000c001', price_minor: 500, currency: 'usd', credits: 5_000_000 },
  standard: { id: '00000000-0000-4000-8000-00000000c002', price_minor: 2000, currency: 'usd', credits: 21_000_000 },
} as const;

/** Allowed by the default admin_config payments.allowed_redirect_urls. */
export const URLS = {
  success_url: 'http://localhost:3000/credits/success?session_id={CHECKOUT_SESSION_ID}',
  cancel_url: 'http://localhost:3000/credits',
};

export interface PaymentsWorld {
  stripe: StripeStandin;
  fns: TestFunctions;
  stop(): Promise<void>;
}

/** Starts the stand-in and the functions (env: STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET, STRIPE_API_BASE). */
export async function startPaymentsWorld(): Promise<PaymentsWorld> {
  const stripe = await startStripeStandin();
  const fns = await startTestFunctions({ env: stripe.env }).catch(async (e) => {
    await stripe.stop();
    throw e;
  });
  stripe.setWebhookUrl(`${fns.url}/stripe-webhook`);
  return {
    stripe,
    fns,
    async stop() {
      await Promise.all([fns.stop(), stripe.stop()]);
    },
  };
}

/**
 * Makers of unique Stripe-shaped ids (Checkout Session `cs_test_…`,
 * PaymentIntent `pi_…`, event `evt_…`) tagged with `tag`, for payments
 * written straight through the private functions, without the stand-in.
 */
export function stripeIds(tag: string) {
  let seq = 0;
  const maker = (prefix: string) => () => `${prefix}${tag}${Date.now()}${seq++}`;
  return { sid: maker('cs_test_'), pid: maker('pi_'), eid: maker('evt_') };
}

/** POST payments-checkout as `userId` (a fresh Clerk token) with `body`. */
export async function postCheckout(w: PaymentsWorld, userId: string, body: unknown, headers: Record<string, string> = {}) {
  const token = await sessionToken(w.fns.clerk, userId);
  return fetch(`${w.fns.url}/payments-checkout`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** A successful checkout of `packId` for `userId`; returns the validated answer. */
export async function checkout(w: PaymentsWorld, userId: string, packId: string = PACKS.starter.id, extra: Record<string, unknown> = {}) {
  const res = await postCheckout(w, userId, { pack_id: packId, ...URLS, ...extra });
  const text = await res.text();
  expect(res.status, text).toBe(200);
  return PaymentsCheckoutResponse.parse(JSON.parse(text));
}

/** Delivers `event` signed to stripe-webhook; expects 200 and returns the answer. */
export async function deliver(w: PaymentsWorld, event: StripeEvent | object) {
  const res = await w.stripe.deliver(event);
  const text = await res.text();
  expect(res.status, text).toBe(200);
  return StripeWebhookResponse.parse(JSON.parse(text));
}

export interface PaymentState {
  status: string;
  amount_minor: number;
  amount_refunded_minor: number;
  credits_micro_usd: number;
  credits_refunded_micro_usd: number;
  credits_unrecovered_micro_usd: number;
  stripe_payment_intent_id: string | null;
}

/** The payment row of a session (as the table owner), amounts as numbers. */
export async function paymentOf(sessionId: string): Promise<PaymentState & Record<string, unknown>> {
  const [row] = await owner()`
    select *, amount_minor::float8 as amount_minor, amount_refunded_minor::float8 as amount_refunded_minor,
           credits_micro_usd::float8 as credits_micro_usd, credits_refunded_micro_usd::float8 as credits_refunded_micro_usd,
           credits_unrecovered_micro_usd::float8 as credits_unrecovered_micro_usd
    from public.payments where stripe_checkout_session_id = ${sessionId}`;
  expect(row, `no payment for ${sessionId}`).toBeDefined();
  return row as PaymentState & Record<string, unknown>;
}

/** A user's wallet balance in micro-USD. */
export async function balanceOf(userId: string): Promise<number> {
  const [row] = await owner()<{ b: number }[]>`select balance_micro_usd::float8 as b from public.credit_wallets where user_id = ${userId}`;
  return row?.b ?? 0;
}

/** A user's ledger entries from Stripe (kind, amount, source), oldest first. */
export async function stripeLedgerOf(userId: string) {
  return owner()<{ kind: string; amount: number; source: string; source_id: string }[]>`
    select kind, amount_micro_usd::float8 as amount, source, source_id from public.credit_ledger
    where user_id = ${userId} and source like 'stripe.%' order by id`;
}

/** Notifications of `kind` for a user, oldest first. */
export async function notificationsOf(userId: string, kind: string) {
  return owner()<{ kind: string; payload: Record<string, unknown> }[]>`
    select kind, payload from public.notifications where user_id = ${userId} and kind = ${kind} order by created_at, id`;
}

/** Wallets whose balance differs from their ledger's sum (must stay empty). */
export async function expectLedgerReconciles() {
  expect(await owner()`select * from private.ledger_mismatches()`).toEqual([]);
}

/** A throw-away pack (inserted by the table owner). Prices in minor units, credits in micro-USD. */
export async function createPack(p: { price_minor: number; currency: string; credits: number; active?: boolean; stripe_price_id?: string | null; name?: string }) {
  const [row] = await owner()<{ id: string }[]>`
    insert into public.credit_packs (name, price_minor, currency, credits_micro_usd, active, stripe_price_id, sort_order)
    values (${p.name ?? `Test ${p.currency} ${p.price_minor}`}, ${p.price_minor}, ${p.currency}, ${p.credits},
            ${p.active ?? true}, ${p.stripe_price_id ?? null}, 1000)
    returning id`;
  return row!.id;
}
