/**
 * stripe-webhook over HTTP (real Deno, real PostgreSQL): Stripe's events,
 * built and signed by the stand-in with the real SDK, move payments and the
 * credit wallet exactly once, whatever the order or repetition; bad
 * signatures change nothing; the ledger reconciles after every scenario.
 */
import { TopupFailedPayload, TopupRefundedPayload } from '@chat-with-me/shared';
import { afterEach, describe, expect, it } from 'vitest';
import { asService, createUser, owner, startForFile } from '../helpers/db.js';
import { expectError } from '../helpers/functions.js';
import {
  balanceOf, checkout, createPack, deliver, expectLedgerReconciles, notificationsOf, PACKS, paymentOf,
  startPaymentsWorld, stripeLedgerOf, type StripeEvent,
} from '../helpers/stripe.js';

const w = startForFile(startPaymentsWorld);
afterEach(expectLedgerReconciles);

const WELCOME = 1_000_000; // credits.welcome_grant_micro_usd default

/** A user with a pending payment for `packId`. */
async function pending(packId: string = PACKS.starter.id) {
  const user = await createUser();
  const out = await checkout(w, user, packId);
  return { user, sessionId: out.session_id, paymentId: out.payment_id };
}

/** Spends `amount` micro-USD of the user's credits (as an AI call would be charged). */
async function spend(user: string, amount: number) {
  await asService((tx) => tx`select private.record_ledger_entry(${user}, 'ai_usage', ${-amount}, 'ai_interaction', ${crypto.randomUUID()})`);
}

const eventRow = async (eventId: string) =>
  (await owner()`select provider, type, subject_id, outcome from public.webhook_events where provider = 'stripe' and event_id = ${eventId}`)[0];

describe('checkout.session.completed', () => {
  it('payment_status paid: credits the pack once, records the event and the PaymentIntent', async () => {
    const { user, sessionId } = await pending();
    const event = w.stripe.completeSession(sessionId);
    expect(await deliver(w, event)).toEqual({ received: true, event_id: event.id, type: 'checkout.session.completed', outcome: 'credited' });
    expect(await balanceOf(user)).toBe(WELCOME + PACKS.starter.credits);
    expect(await stripeLedgerOf(user)).toEqual([
      { kind: 'topup', amount: PACKS.starter.credits, source: 'stripe.checkout_session', source_id: sessionId },
    ]);
    expect(await eventRow(event.id)).toEqual({ provider: 'stripe', type: 'checkout.session.completed', subject_id: sessionId, outcome: 'credited' });
    expect((await paymentOf(sessionId)).stripe_payment_intent_id).toBe(event.data.object.payment_intent);
  });

  it('the same event delivered 50 times concurrently credits once', async () => {
    const { user, sessionId } = await pending(PACKS.standard.id);
    const event = w.stripe.completeSession(sessionId);
    const results = await Promise.all(Array.from({ length: 50 }, () => deliver(w, event)));
    const outcomes = results.map((r) => r.outcome);
    expect(outcomes.filter((o) => o === 'credited')).toHaveLength(1);
    expect(outcomes.filter((o) => o === 'duplicate')).toHaveLength(49);
    expect(await stripeLedgerOf(user)).toHaveLength(1);
    expect(await balanceOf(user)).toBe(WELCOME + PACKS.standard.credits);
    expect(await notificationsOf(user, 'topup_succeeded')).toHaveLength(1);
  });

  it('a redelivery of the same session as another event (new evt id) does not credit again', async () => {
    const { user, sessionId } = await pending();
    const event = w.stripe.completeSession(sessionId);
    await deliver(w, event);
    const resent = { ...event, id: `evt_resent${Date.now()}` };
    expect((await deliver(w, resent)).outcome).toBe('already_paid');
    expect(await stripeLedgerOf(user)).toHaveLength(1);
  });

  it('payment_status unpaid (a delayed payment method): nothing credited until async_payment_succeeded', async () => {
    const { user, sessionId } = await pending();
    expect((await deliver(w, w.stripe.completeSession(sessionId, { async: true }))).outcome).toBe('awaiting_payment');
    expect(await balanceOf(user)).toBe(WELCOME);
    expect((await paymentOf(sessionId)).status).toBe('pending');
    expect((await deliver(w, w.stripe.asyncPaymentSucceeded(sessionId))).outcome).toBe('credited');
    expect(await balanceOf(user)).toBe(WELCOME + PACKS.starter.credits);
    expect((await paymentOf(sessionId)).status).toBe('paid');
  });
});

describe('delayed payments, out of order', () => {
  it('async_payment_succeeded before completed: credited once; the late completed changes nothing', async () => {
    const { user, sessionId } = await pending();
    const completed = w.stripe.completeSession(sessionId, { async: true });
    const succeeded = w.stripe.asyncPaymentSucceeded(sessionId);
    expect((await deliver(w, succeeded)).outcome).toBe('credited');
    expect((await deliver(w, completed)).outcome).toBe('already_paid');
    expect(await stripeLedgerOf(user)).toHaveLength(1);
  });

  it('async_payment_failed: failed, a topup_failed notification, nothing credited; late events do not revive it', async () => {
    const { user, sessionId, paymentId } = await pending();
    const completed = w.stripe.completeSession(sessionId, { async: true });
    const failed = w.stripe.asyncPaymentFailed(sessionId);
    expect((await deliver(w, failed)).outcome).toBe('failed');
    expect((await deliver(w, completed)).outcome).toBe('already_failed');
    expect((await deliver(w, failed)).outcome).toBe('duplicate');
    const p = await paymentOf(sessionId);
    expect(p).toMatchObject({ status: 'failed', stripe_payment_intent_id: completed.data.object.payment_intent });
    expect(p.failed_at).toBeInstanceOf(Date);
    expect(await balanceOf(user)).toBe(WELCOME);
    const notes = await notificationsOf(user, 'topup_failed');
    expect(notes.map((n) => TopupFailedPayload.parse(n.payload))).toEqual([
      { payment_id: paymentId, pack_id: PACKS.starter.id, currency: 'usd', amount_minor: 500, credits_micro_usd: PACKS.starter.credits },
    ]);
  });
});

describe('checkout.session.expired', () => {
  it('a pending payment expires; nothing is credited', async () => {
    const { user, sessionId } = await pending();
    expect((await deliver(w, w.stripe.expireSession(sessionId))).outcome).toBe('expired');
    expect((await paymentOf(sessionId)).status).toBe('expired');
    expect(await balanceOf(user)).toBe(WELCOME);
  });

  it('never undoes a paid payment', async () => {
    const { sessionId } = await pending();
    await deliver(w, w.stripe.completeSession(sessionId));
    const expired = { ...w.stripe.event('checkout.session.expired', { ...w.stripe.session(sessionId), status: 'expired' }) };
    expect((await deliver(w, expired)).outcome).toBe('already_paid');
    expect((await paymentOf(sessionId)).status).toBe('paid');
  });
});

describe('charge.refunded', () => {
  it('a full refund debits all the credits and notifies', async () => {
    const { user, sessionId, paymentId } = await pending();
    await deliver(w, w.stripe.completeSession(sessionId));
    expect((await deliver(w, w.stripe.refund(sessionId))).outcome).toBe('refunded');
    expect(await balanceOf(user)).toBe(WELCOME);
    expect(await paymentOf(sessionId)).toMatchObject({
      status: 'refunded', amount_refunded_minor: 500, credits_refunded_micro_usd: PACKS.starter.credits, credits_unrecovered_micro_usd: 0,
    });
    const [n] = await notificationsOf(user, 'topup_refunded');
    expect(TopupRefundedPayload.parse(n!.payload)).toEqual({
      payment_id: paymentId, pack_id: PACKS.starter.id, status: 'refunded', currency: 'usd', amount_minor: 500,
      amount_refunded_minor: 500, credits_debited_micro_usd: PACKS.starter.credits, credits_unrecovered_micro_usd: 0,
      balance_micro_usd: WELCOME,
    });
  });

  it('partial refunds debit the refunded share, cumulatively; repeats and stale totals change nothing', async () => {
    const { user, sessionId } = await pending(PACKS.standard.id); // 2000 usd → 21,000,000
    await deliver(w, w.stripe.completeSession(sessionId));
    const first = w.stripe.refund(sessionId, 300); // total 300 → 3,150,000
    const second = w.stripe.refund(sessionId, 700); // total 1000 → 10,500,000
    expect((await deliver(w, first)).outcome).toBe('partially_refunded');
    expect(await balanceOf(user)).toBe(WELCOME + 21_000_000 - 3_150_000);
    expect((await deliver(w, first)).outcome).toBe('duplicate');
    expect((await deliver(w, second)).outcome).toBe('partially_refunded');
    expect(await balanceOf(user)).toBe(WELCOME + 21_000_000 - 10_500_000);
    // The same stale state under a new event id (Stripe resends) is a no-op.
    expect((await deliver(w, { ...first, id: `evt_stale${Date.now()}` })).outcome).toBe('unchanged');
    expect(await paymentOf(sessionId)).toMatchObject({
      status: 'partially_refunded', amount_refunded_minor: 1000, credits_refunded_micro_usd: 10_500_000,
    });
    expect((await stripeLedgerOf(user)).map((e) => e.amount)).toEqual([21_000_000, -3_150_000, -7_350_000]);
    expect(await notificationsOf(user, 'topup_refunded')).toHaveLength(2);
  });

  it('refunds delivered out of order: the larger total wins, the older one changes nothing', async () => {
    const { user, sessionId } = await pending(PACKS.standard.id);
    await deliver(w, w.stripe.completeSession(sessionId));
    const a = w.stripe.refund(sessionId, 500);
    const b = w.stripe.refund(sessionId, 1500); // full
    expect((await deliver(w, b)).outcome).toBe('refunded');
    expect((await deliver(w, a)).outcome).toBe('unchanged');
    expect(await balanceOf(user)).toBe(WELCOME);
    expect((await paymentOf(sessionId)).status).toBe('refunded');
  });

  it('after the credits were spent: never below zero; the shortfall is recorded', async () => {
    const { user, sessionId } = await pending(); // +5,000,000
    await deliver(w, w.stripe.completeSession(sessionId));
    await spend(user, WELCOME + 4_000_000); // 1,000,000 left
    expect((await deliver(w, w.stripe.refund(sessionId))).outcome).toBe('refunded');
    expect(await balanceOf(user)).toBe(0);
    expect(await paymentOf(sessionId)).toMatchObject({
      status: 'refunded', credits_refunded_micro_usd: 1_000_000, credits_unrecovered_micro_usd: 4_000_000,
    });
    const [n] = await notificationsOf(user, 'topup_refunded');
    expect(n!.payload).toMatchObject({ credits_debited_micro_usd: 1_000_000, credits_unrecovered_micro_usd: 4_000_000, balance_micro_usd: 0 });
    // The low-balance alert came from the ledger as the balance crossed the threshold.
    expect((await notificationsOf(user, 'low_balance')).length).toBeGreaterThanOrEqual(1);
  });

  it('with a zero balance: nothing debited, all of it recorded as unrecovered', async () => {
    const { user, sessionId } = await pending();
    await deliver(w, w.stripe.completeSession(sessionId));
    await spend(user, WELCOME + PACKS.starter.credits);
    await deliver(w, w.stripe.refund(sessionId, 100));
    expect(await paymentOf(sessionId)).toMatchObject({ credits_refunded_micro_usd: 0, credits_unrecovered_micro_usd: 1_000_000 });
    expect(await stripeLedgerOf(user)).toHaveLength(1);
    expect(await balanceOf(user)).toBe(0);
  });

  it('a refund delivered before the payment was credited is applied when it is', async () => {
    const { user, sessionId } = await pending();
    const completed = w.stripe.completeSession(sessionId);
    const refunded = w.stripe.refund(sessionId, 250);
    expect((await deliver(w, refunded)).outcome).toBe('unknown_payment');
    expect((await deliver(w, completed)).outcome).toBe('credited');
    expect(await balanceOf(user)).toBe(WELCOME + 2_500_000);
    expect(await paymentOf(sessionId)).toMatchObject({ status: 'partially_refunded', amount_refunded_minor: 250, credits_refunded_micro_usd: 2_500_000 });
  });

  it('proportions in integer arithmetic for zero-decimal and odd amounts (floor, never more than owed)', async () => {
    const jpy = await createPack({ price_minor: 800, currency: 'jpy', credits: 5_000_000 });
    const { user, sessionId } = await pending(jpy);
    await deliver(w, w.stripe.completeSession(sessionId));
    await deliver(w, w.stripe.refund(sessionId, 333)); // 5,000,000 × 333 / 800 = 2,081,250
    expect(await balanceOf(user)).toBe(WELCOME + 5_000_000 - 2_081_250);

    const odd = await createPack({ price_minor: 3, currency: 'usd', credits: 1_000_000 });
    const o = await pending(odd);
    await deliver(w, w.stripe.completeSession(o.sessionId));
    await deliver(w, w.stripe.refund(o.sessionId, 1)); // floor(1,000,000 / 3) = 333,333
    expect((await paymentOf(o.sessionId)).credits_refunded_micro_usd).toBe(333_333);
    await deliver(w, w.stripe.refund(o.sessionId, 1)); // floor(2,000,000 / 3) = 666,666
    expect((await paymentOf(o.sessionId)).credits_refunded_micro_usd).toBe(666_666);
    await deliver(w, w.stripe.refund(o.sessionId, 1)); // all of it
    expect((await paymentOf(o.sessionId)).credits_refunded_micro_usd).toBe(1_000_000);
    expect(await balanceOf(o.user)).toBe(WELCOME);
  });
});

describe('any order converges', () => {
  /** The whole life of a delayed-payment top-up with two refunds, as Stripe would emit it. */
  async function lifeOfAPayment() {
    const p = await pending(PACKS.standard.id);
    const events: StripeEvent[] = [
      w.stripe.completeSession(p.sessionId, { async: true }),
      w.stripe.asyncPaymentSucceeded(p.sessionId),
      w.stripe.refund(p.sessionId, 400),
      w.stripe.refund(p.sessionId, 600),
    ];
    return { ...p, events };
  }
  const summary = async (user: string, sessionId: string) => {
    const p = await paymentOf(sessionId);
    return {
      status: p.status, amount_refunded_minor: p.amount_refunded_minor,
      credits_refunded_micro_usd: p.credits_refunded_micro_usd, credits_unrecovered_micro_usd: p.credits_unrecovered_micro_usd,
      balance: await balanceOf(user),
    };
  };

  it('events in reverse order end in the same state as in order', async () => {
    const inOrder = await lifeOfAPayment();
    for (const e of inOrder.events) await deliver(w, e);
    const reversed = await lifeOfAPayment();
    for (const e of [...reversed.events].reverse()) await deliver(w, e);
    const expected = {
      status: 'partially_refunded', amount_refunded_minor: 1000, credits_refunded_micro_usd: 10_500_000,
      credits_unrecovered_micro_usd: 0, balance: WELCOME + 21_000_000 - 10_500_000,
    };
    expect(await summary(inOrder.user, inOrder.sessionId)).toEqual(expected);
    expect(await summary(reversed.user, reversed.sessionId)).toEqual(expected);
  });

  it('all events at once, each delivered three times, still converge', async () => {
    const life = await lifeOfAPayment();
    await Promise.all([...life.events, ...life.events, ...life.events].map((e) => deliver(w, e)));
    expect(await summary(life.user, life.sessionId)).toMatchObject({ status: 'partially_refunded', credits_refunded_micro_usd: 10_500_000 });
    expect((await stripeLedgerOf(life.user)).filter((e) => e.kind === 'topup')).toHaveLength(1);
  });
});

describe('events that are not ours', () => {
  it('a session we never created is recorded and acknowledged (200 unknown_session)', async () => {
    const foreign = w.stripe.event('checkout.session.completed', {
      ...w.stripe.session((await pending()).sessionId), id: `cs_test_foreign${Date.now()}`, payment_status: 'paid', status: 'complete',
    });
    expect((await deliver(w, foreign)).outcome).toBe('unknown_session');
    expect(await eventRow(foreign.id)).toMatchObject({ type: 'checkout.session.completed', outcome: 'unknown_session' });
    expect(await owner()`select 1 from public.payments where stripe_checkout_session_id = ${foreign.data.object.id}`).toHaveLength(0);
  });

  it('an unhandled type is recorded as ignored; its redelivery is a duplicate', async () => {
    const e = w.stripe.event('payment_intent.succeeded', { id: 'pi_unhandled123', object: 'payment_intent', amount: 500, currency: 'usd' });
    expect((await deliver(w, e)).outcome).toBe('ignored');
    expect((await deliver(w, e)).outcome).toBe('duplicate');
    expect(await eventRow(e.id)).toMatchObject({ type: 'payment_intent.succeeded', subject_id: 'pi_unhandled123', outcome: 'ignored' });
  });

  it('a refund of a charge without a PaymentIntent is recorded (unknown_payment)', async () => {
    const e = w.stripe.event('charge.refunded', {
      id: `ch_legacy${Date.now()}`, object: 'charge', amount: 100, amount_refunded: 100, currency: 'usd',
      payment_intent: null, refunded: true, status: 'succeeded',
    });
    expect((await deliver(w, e)).outcome).toBe('unknown_payment');
  });
});

describe('signatures (400 invalid_signature, nothing recorded)', () => {
  const post = (body: string, headers: Record<string, string>) => fetch(`${w.fns.url}/stripe-webhook`, { method: 'POST', headers, body });
  const fresh = async () => {
    const { sessionId } = await pending();
    return { sessionId, event: w.stripe.completeSession(sessionId) };
  };
  const untouched = async (sessionId: string, eventId: string) => {
    expect((await paymentOf(sessionId)).status).toBe('pending');
    expect(await eventRow(eventId)).toBeUndefined();
  };

  it('no Stripe-Signature header', async () => {
    const { sessionId, event } = await fresh();
    const { body } = w.stripe.sign(event);
    await expectError(await post(body, { 'content-type': 'application/json' }), 400, 'invalid_signature');
    await untouched(sessionId, event.id);
  });

  it('a garbage header, and a header without v1', async () => {
    const { sessionId, event } = await fresh();
    const { body, headers } = w.stripe.sign(event);
    for (const sig of ['garbage', `t=${Math.floor(Date.now() / 1000)}`, `t=${Math.floor(Date.now() / 1000)},v1=${'0'.repeat(64)}`]) {
      await expectError(await post(body, { ...headers, 'stripe-signature': sig }), 400, 'invalid_signature');
    }
    await untouched(sessionId, event.id);
  });

  it('signed with another secret', async () => {
    const { sessionId, event } = await fresh();
    const { body, headers } = w.stripe.sign(event, { secret: 'whsec_anotherSecretNotTheEndpoints000000' });
    await expectError(await post(body, headers), 400, 'invalid_signature');
    await untouched(sessionId, event.id);
  });

  it('a stale timestamp (older than the 5-minute tolerance), even correctly signed', async () => {
    const { sessionId, event } = await fresh();
    const { body, headers } = w.stripe.sign(event, { timestamp: Math.floor(Date.now() / 1000) - 301 });
    const err = await expectError(await post(body, headers), 400, 'invalid_signature');
    expect(JSON.stringify(err.details)).toMatch(/tolerance/i);
    await untouched(sessionId, event.id);
  });

  it('a body changed after signing (e.g. payment_status forged to paid)', async () => {
    const { sessionId } = await pending();
    const event = w.stripe.completeSession(sessionId, { async: true });
    const { body, headers } = w.stripe.sign(event);
    await expectError(await post(body.replace('"unpaid"', '"paid"'), headers), 400, 'invalid_signature');
    await untouched(sessionId, event.id);
  });

  it('the signature never appears in the logs', async () => {
    const { event } = await fresh();
    const { body, headers } = w.stripe.sign(event);
    await post(body, headers);
    const logs = await w.fns.logs();
    expect(logs).not.toContain(headers['stripe-signature']!.split('v1=')[1]);
    expect(logs).not.toContain(w.stripe.webhookSecret);
    expect(logs).not.toContain(w.stripe.secretKey);
  });
});
