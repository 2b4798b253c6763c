/**
 * stripe-webhook: POST from Stripe → payments and the credit wallet follow
 * the Checkout Sessions and refunds, each event exactly once.
 *
 * 1. Verify the `Stripe-Signature` header over the raw body with
 *    `Stripe.webhooks.constructEventAsync` and Web Crypto
 *    (`Stripe.createSubtleCryptoProvider()`), tolerance 300 s
 *    (https://docs.stripe.com/webhooks#verify-events). A missing, malformed,
 *    wrong or stale signature → 400 `invalid_signature`, nothing parsed or
 *    stored. The endpoint's secret is STRIPE_WEBHOOK_SECRET; no API key is
 *    needed here.
 * 2. Parse the event with the shared Zod schemas (a signed payload that does
 *    not match → 400, so Stripe retries and the Dashboard shows the failure
 *    rather than a payment silently dropped).
 * 3. Hand each handled type to its private SQL function (migration
 *    20261122110000_payments.sql), run as the service role in one transaction
 *    that also records `event.id` in webhook_events: a redelivery, or the
 *    same event delivered concurrently, answers 200 `duplicate` and changes
 *    nothing (https://docs.stripe.com/webhooks#handle-duplicate-events).
 *      checkout.session.completed               credit when payment_status = paid
 *      checkout.session.async_payment_succeeded credit
 *      checkout.session.async_payment_failed    failed (+ topup_failed)
 *      checkout.session.expired                 expired
 *      charge.refunded                          debit the refunded share
 *    Other types, and events about sessions or PaymentIntents that are not
 *    ours, are recorded and answered 200 (`ignored`, `unknown_session`,
 *    `unknown_payment`): a 4xx/5xx would only make Stripe retry for days.
 *
 * Decision: no re-fetch. Stripe recommends re-retrieving objects when order
 * matters (https://docs.stripe.com/webhooks#event-ordering); we instead apply
 * every event as a monotone fact (status only moves forward, the top-up is
 * unique by session, refunds are cumulative maxima per charge), so any order
 * converges to the same state without a Stripe API call on the webhook path
 * (no API key, no extra latency, no outage coupling). The snapshot payload of
 * a signed event is Stripe's own statement of the object at that moment.
 *
 * Statuses: 200 processed/duplicate/ignored; 400 bad signature or payload;
 * 503 database unavailable (Stripe retries). Never a 500 for Stripe's input.
 */
import {
  StripeCharge,
  StripeCheckoutSession,
  StripeEventEnvelope,
  StripeWebhookOutcome,
  StripeWebhookResponse,
} from '@chat-with-me/shared';
import { z } from 'zod';
import { callValue, database, type Tx } from '../_shared/db.ts';
import { platformEnv } from '../_shared/env.ts';
import { HttpError } from '../_shared/errors.ts';
import { defineFunction, issuesOf, json, readJsonText } from '../_shared/http.ts';
import { Stripe, stripeWebhookEnv, subtleCrypto } from '../_shared/stripe.ts';

const Env = z.object({ ...platformEnv, ...stripeWebhookEnv });

/** Stripe's default: a signature older than 5 minutes is refused (replays). */
const TOLERANCE_SECONDS = 300;
/** Checkout Session and Charge events are a few KB; far larger is not Stripe. */
const MAX_BODY_BYTES = 512 * 1024;

/** `schema.parse(value)`, answering 400 with the issues when a signed payload does not match. */
function parseObject<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    throw new HttpError('invalid_request', `the ${what} does not match the expected shape`, { issues: issuesOf(parsed.error) });
  }
  return parsed.data;
}

/** The outcome (text) returned by one of the private stripe_* functions, checked against the shared enum. */
async function outcomeOf(outcome: Promise<string>): Promise<StripeWebhookOutcome> {
  return StripeWebhookOutcome.parse(await outcome);
}

export const handler = defineFunction({ name: 'stripe-webhook', methods: ['POST'], env: Env }, async (req, { env, log }) => {
  const body = await readJsonText(req, { maxBytes: MAX_BODY_BYTES });
  const signature = req.headers.get('stripe-signature');
  if (!signature) throw new HttpError('invalid_signature', 'missing Stripe-Signature header');

  let verified: unknown;
  try {
    verified = await Stripe.webhooks.constructEventAsync(body, signature, env.STRIPE_WEBHOOK_SECRET, TOLERANCE_SECONDS, subtleCrypto);
  } catch (e) {
    // The signature is checked first; a SyntaxError then means signed but not JSON.
    if (e instanceof SyntaxError) throw new HttpError('invalid_request', 'the body is not valid JSON');
    throw new HttpError('invalid_signature', 'the Stripe signature is invalid or its timestamp is outside the 5-minute tolerance', {
      reason: e instanceof Error ? e.message : 'verification failed',
    });
  }

  const event = parseObject(StripeEventEnvelope, verified, 'event');
  const occurredAt = new Date(event.created * 1000).toISOString();
  const db = database(env.SUPABASE_DB_URL);
  const object = event.data.object;

  const outcome = await db.asService(async (tx): Promise<StripeWebhookOutcome> => {
    switch (event.type) {
      case 'checkout.session.completed': {
        const s = parseObject(StripeCheckoutSession, object, 'Checkout Session');
        return outcomeOf(callValue(tx, 'stripe_checkout_completed', {
          p_event_id: event.id, p_session_id: s.id, p_payment_status: s.payment_status,
          p_payment_intent_id: s.payment_intent, p_amount_total: s.amount_total, p_occurred_at: occurredAt,
        }));
      }
      case 'checkout.session.async_payment_succeeded': {
        const s = parseObject(StripeCheckoutSession, object, 'Checkout Session');
        return outcomeOf(callValue(tx, 'stripe_async_payment_succeeded', {
          p_event_id: event.id, p_session_id: s.id, p_payment_status: s.payment_status,
          p_payment_intent_id: s.payment_intent, p_amount_total: s.amount_total, p_occurred_at: occurredAt,
        }));
      }
      case 'checkout.session.async_payment_failed': {
        const s = parseObject(StripeCheckoutSession, object, 'Checkout Session');
        return outcomeOf(callValue(tx, 'stripe_async_payment_failed', {
          p_event_id: event.id, p_session_id: s.id, p_payment_intent_id: s.payment_intent, p_occurred_at: occurredAt,
        }));
      }
      case 'checkout.session.expired': {
        const s = parseObject(StripeCheckoutSession, object, 'Checkout Session');
        return outcomeOf(callValue(tx, 'stripe_checkout_expired', { p_event_id: event.id, p_session_id: s.id, p_occurred_at: occurredAt }));
      }
      case 'charge.refunded': {
        const c = parseObject(StripeCharge, object, 'Charge');
        if (!c.payment_intent) {
          // A charge made without a PaymentIntent cannot be one of our Checkout payments.
          return recordOnly(tx, event.id, event.type, c.id, occurredAt, 'unknown_payment');
        }
        return outcomeOf(callValue(tx, 'stripe_charge_refunded', {
          p_event_id: event.id, p_charge_id: c.id, p_payment_intent_id: c.payment_intent,
          p_amount_minor: c.amount, p_amount_refunded_minor: c.amount_refunded, p_currency: c.currency, p_occurred_at: occurredAt,
        }));
      }
      default: {
        const subject = typeof object.id === 'string' ? object.id.slice(0, 255) : null;
        return recordOnly(tx, event.id, event.type, subject, occurredAt, 'ignored');
      }
    }
  });

  log.info('stripe event processed', { event_id: event.id, type: event.type, livemode: event.livemode, outcome });
  return json(StripeWebhookResponse, { received: true, event_id: event.id, type: event.type, outcome });
});

/** Records an event we do not act on: `outcome` the first time, `duplicate` on redelivery. */
async function recordOnly(
  tx: Tx, eventId: string, type: string, subject: string | null, occurredAt: string, outcome: StripeWebhookOutcome,
): Promise<StripeWebhookOutcome> {
  const first = await callValue(tx, 'record_webhook_event', {
    p_provider: 'stripe', p_event_id: eventId, p_type: type, p_subject_id: subject, p_occurred_at: occurredAt, p_outcome: outcome,
  });
  return first ? outcome : 'duplicate';
}
