/**
 * payments-checkout over HTTP (real Deno, real PostgreSQL, the real `stripe`
 * SDK talking to the Stripe stand-in): a Checkout Session for a pack, a
 * pending payment, the redirect allow-list, Stripe failures, idempotency, and
 * the whole top-up path through stripe-webhook.
 */
import { createFunctionsClient, FunctionsError, PaymentsCheckoutResponse, TopupSucceededPayload } from '@chat-with-me/shared';
import { afterEach, describe, expect, it } from 'vitest';
import { asUser, broadcastsOn, createUser, newUserId, owner, startForFile } from '../helpers/db.js';
import { sessionToken } from '../helpers/clerk.js';
import { expectError } from '../helpers/functions.js';
import {
  balanceOf, checkout, createPack, deliver, expectLedgerReconciles, notificationsOf, PACKS, paymentOf,
  postCheckout, startPaymentsWorld, URLS,
} from '../helpers/stripe.js';

const w = startForFile(startPaymentsWorld);
afterEach(expectLedgerReconciles);

/** The stand-in's record of the last Checkout Session creation. */
const lastCreate = () => w.stripe.requests.filter((r) => r.method === 'POST' && r.path === '/v1/checkout/sessions').at(-1)!;
const createCount = () => w.stripe.requests.filter((r) => r.method === 'POST' && r.path === '/v1/checkout/sessions').length;

describe('a Checkout Session for a pack', () => {
  it('is created at Stripe with the pack’s amount, metadata, URLs and an idempotency key; the payment is pending', async () => {
    const user = await createUser();
    const out = await checkout(w, user, PACKS.starter.id);

    const req = lastCreate();
    expect(req.authorized).toBe(true);
    expect(req.status).toBe(200);
    expect(req.idempotencyKey).toMatch(/^payments-checkout:[0-9a-f-]{36}$/);
    expect(req.form).toMatchObject({
      mode: 'payment',
      client_reference_id: user,
      success_url: URLS.success_url,
      cancel_url: URLS.cancel_url,
      metadata: { user_id: user, pack_id: PACKS.starter.id, credits_micro_usd: '5000000' },
      payment_intent_data: { metadata: { user_id: user, pack_id: PACKS.starter.id } },
      line_items: [{ quantity: '1', price_data: { currency: 'usd', unit_amount: '500', product_data: { name: 'Starter' } } }],
    });

    const session = w.stripe.session(out.session_id)!;
    expect(out).toMatchObject({ status: 'pending', amount_minor: 500, currency: 'usd', credits_micro_usd: 5_000_000 });
    expect(out.checkout_url).toBe(session.url);
    expect(out.expires_at).toBe(new Date(session.expires_at * 1000).toISOString());

    const p = await paymentOf(out.session_id);
    expect(p).toMatchObject({
      id: out.payment_id, user_id: user, pack_id: PACKS.starter.id, status: 'pending', amount_minor: 500,
      currency: 'usd', credits_micro_usd: 5_000_000, stripe_payment_intent_id: null, amount_refunded_minor: 0,
    });
  });

  it('uses the pack’s Stripe Price when it has one', async () => {
    const priceId = `price_test${Date.now()}`;
    w.stripe.addPrice(priceId, { unit_amount: 1500, currency: 'eur', product_name: 'Price pack' });
    const pack = await createPack({ price_minor: 1500, currency: 'eur', credits: 16_000_000, stripe_price_id: priceId });
    const user = await createUser();
    const out = await checkout(w, user, pack);
    expect(lastCreate().form.line_items).toEqual([{ price: priceId, quantity: '1' }]);
    expect(out).toMatchObject({ amount_minor: 1500, currency: 'eur', credits_micro_usd: 16_000_000 });
  });

  it('prices in each currency’s minor unit (usd cents, zero-decimal jpy, three-decimal kwd)', async () => {
    const user = await createUser();
    for (const [currency, minor] of [['eur', 999], ['jpy', 800], ['kwd', 1500]] as const) {
      const pack = await createPack({ price_minor: minor, currency, credits: 5_000_000 });
      const out = await checkout(w, user, pack);
      expect(lastCreate().form.line_items[0].price_data).toMatchObject({ currency, unit_amount: String(minor) });
      expect(out).toMatchObject({ amount_minor: minor, currency });
      expect(w.stripe.session(out.session_id)!.amount_total).toBe(minor);
    }
  });

  it('creates the caller’s profile first when the Clerk webhook has not arrived yet', async () => {
    const user = newUserId();
    const out = await checkout(w, user);
    expect(await owner()`select 1 from public.users where id = ${user}`).toHaveLength(1);
    expect((await paymentOf(out.session_id)).user_id).toBe(user);
  });
});

describe('the typed client', () => {
  it('paymentsCheckout sends the token, validates the answer and raises the error shape', async () => {
    const user = await createUser();
    const client = createFunctionsClient({ url: w.fns.url, getToken: () => sessionToken(w.fns.clerk, user) });
    const out = await client.paymentsCheckout({ pack_id: PACKS.starter.id, ...URLS });
    expect(out).toMatchObject({ status: 'pending', amount_minor: 500, currency: 'usd' });
    const err = await client.paymentsCheckout({ pack_id: crypto.randomUUID(), ...URLS }).catch((e) => e);
    expect(err).toBeInstanceOf(FunctionsError);
    expect(err).toMatchObject({ status: 404, code: 'not_found' });
  });
});

describe('idempotency', () => {
  it('the same idempotency_key and body give the same session and payment', async () => {
    const user = await createUser();
    const key = `k_${Date.now()}_retry`;
    const a = await checkout(w, user, PACKS.starter.id, { idempotency_key: key });
    const b = await checkout(w, user, PACKS.starter.id, { idempotency_key: key });
    expect(b).toEqual(a);
    expect(lastCreate().idempotencyKey).toBe(`payments-checkout:${user}:${key}`);
    expect(await owner()`select 1 from public.payments where stripe_checkout_session_id = ${a.session_id}`).toHaveLength(1);
  });

  it('the same key with another pack is a 409; nothing is recorded', async () => {
    const user = await createUser();
    const key = `k_${Date.now()}_other`;
    await checkout(w, user, PACKS.starter.id, { idempotency_key: key });
    const res = await postCheckout(w, user, { pack_id: PACKS.standard.id, ...URLS, idempotency_key: key });
    const err = await expectError(res, 409, 'conflict');
    expect(err.details).toMatchObject({ provider: 'stripe', type: 'idempotency_error' });
    expect(await owner()`select 1 from public.payments where user_id = ${user}`).toHaveLength(1);
  });

  it('two users with the same key get their own sessions', async () => {
    const [a, b] = [await createUser(), await createUser()];
    const key = `k_${Date.now()}_shared`;
    const pa = await checkout(w, a, PACKS.starter.id, { idempotency_key: key });
    const pb = await checkout(w, b, PACKS.starter.id, { idempotency_key: key });
    expect(pa.session_id).not.toBe(pb.session_id);
  });

  it('without a key, each request is a new session with its own key', async () => {
    const user = await createUser();
    const a = await checkout(w, user);
    const keyA = lastCreate().idempotencyKey;
    const b = await checkout(w, user);
    expect(b.session_id).not.toBe(a.session_id);
    expect(lastCreate().idempotencyKey).not.toBe(keyA);
  });
});

describe('redirect URLs (origins of admin_config payments.allowed_redirect_urls)', () => {
  const refused = [
    ['another origin', 'https://evil.example/credits'],
    ['another port', 'http://localhost:3001/credits'],
    ['another scheme', 'https://localhost:3000/credits'],
    ['a look-alike host', 'http://localhost:3000.evil.example/credits'],
    ['credentials before the host', 'http://localhost:3000@evil.example/credits'],
    ['a protocol-relative URL', '//evil.example/credits'],
    ['a javascript: URL', 'javascript:alert(1)'],
  ];
  for (const [what, url] of refused) {
    it(`refuses ${what} (400), without calling Stripe`, async () => {
      const user = await createUser();
      const before = createCount();
      for (const body of [{ ...URLS, success_url: url }, { ...URLS, cancel_url: url }]) {
        const res = await postCheckout(w, user, { pack_id: PACKS.starter.id, ...body });
        await expectError(res, 400, 'invalid_request');
      }
      expect(createCount()).toBe(before);
      expect(await owner()`select 1 from public.payments where user_id = ${user}`).toHaveLength(0);
    });
  }

  it('names the refused field', async () => {
    const user = await createUser();
    const err = await expectError(await postCheckout(w, user, { pack_id: PACKS.starter.id, ...URLS, cancel_url: 'https://evil.example/' }), 400);
    expect(err.details).toMatchObject({ issues: [{ path: 'cancel_url' }] });
  });

  it('an origin added to the allow-list applies at once (other tests keep theirs: the change only adds)', async () => {
    const origin = `https://app${Date.now()}.chat-with-me.test`;
    const ok = { success_url: `${origin}/billing/done`, cancel_url: `${origin}/billing` };
    const user = await createUser();
    await expectError(await postCheckout(w, user, { pack_id: PACKS.starter.id, ...ok }), 400, 'invalid_request');
    await owner()`update public.admin_config set value = value || ${owner().json([origin])} where key = 'payments.allowed_redirect_urls'`;
    try {
      expect((await postCheckout(w, user, { pack_id: PACKS.starter.id, ...ok })).status).toBe(200);
      for (const bad of [origin.replace('https:', 'http:'), `${origin}:8443`, origin.replace('app', 'other')]) {
        await expectError(await postCheckout(w, user, { pack_id: PACKS.starter.id, ...ok, success_url: `${bad}/x` }), 400, 'invalid_request');
      }
    } finally {
      await owner()`update public.admin_config set value = value - ${origin} where key = 'payments.allowed_redirect_urls'`;
    }
  });
});

describe('redirects.ts (pure)', () => {
  it('reads the allow-list as origins and refuses anything else as configuration', async () => {
    const { parseAllowList, isAllowedRedirect } = await import('../../supabase/functions/payments-checkout/redirects.ts');
    expect(parseAllowList(null)).toBeNull();
    expect(parseAllowList('http://localhost:3000')).toBeNull();
    expect(parseAllowList(['http://localhost:3000', 42])).toBeNull();
    expect(parseAllowList(['ftp://files.example'])).toBeNull();
    const allowed = parseAllowList(['https://app.example.com', 'http://localhost:3000'])!;
    expect([...allowed]).toEqual(['https://app.example.com', 'http://localhost:3000']);
    expect(isAllowedRedirect('https://app.example.com/a?b={CHECKOUT_SESSION_ID}', allowed)).toBe(true);
    expect(isAllowedRedirect('https://APP.example.com:443/', allowed)).toBe(true);
    for (const bad of ['https://app.example.com.evil.test/', 'https://u:p@app.example.com/', 'http://app.example.com/', 'not a url', '/relative']) {
      expect(isAllowedRedirect(bad, allowed), bad).toBe(false);
    }
  });
});

describe('packs', () => {
  it('an unknown pack is a 404', async () => {
    const user = await createUser();
    await expectError(await postCheckout(w, user, { pack_id: crypto.randomUUID(), ...URLS }), 404, 'not_found');
  });

  it('an inactive pack is a 404, even for an admin', async () => {
    const pack = await createPack({ price_minor: 700, currency: 'usd', credits: 7_000_000, active: false });
    const admin = await createUser({ is_admin: true });
    const before = createCount();
    await expectError(await postCheckout(w, admin, { pack_id: pack, ...URLS }), 404, 'not_found');
    expect(createCount()).toBe(before);
  });
});

describe('Stripe failures', () => {
  const failures = [
    [500, { type: 'api_error', message: 'Something went wrong on Stripe’s end.' }],
    [429, { type: 'invalid_request_error', code: 'rate_limit', message: 'Too many requests.' }],
    [401, { type: 'invalid_request_error', message: 'Invalid API Key provided: sk_test_****abcd' }],
    [400, { type: 'invalid_request_error', code: 'resource_missing', param: 'line_items[0][price]', message: "No such price: 'price_gone'" }],
  ] as [number, { type: string; code?: string; param?: string; message: string }][];
  for (const [status, error] of failures) {
    it(`Stripe ${status} ${error.code ?? error.type} → 502 with the error shape; no payment recorded`, async () => {
      const user = await createUser();
      w.stripe.failNext(status, error, /^\/v1\/checkout\/sessions$/);
      const err = await expectError(await postCheckout(w, user, { pack_id: PACKS.starter.id, ...URLS }), 502, 'provider_error');
      expect(err.details).toMatchObject({ provider: 'stripe', type: error.type });
      expect(JSON.stringify(err)).not.toContain(w.stripe.secretKey);
      expect(await owner()`select 1 from public.payments where user_id = ${user}`).toHaveLength(0);
    });
  }
});

describe('the whole top-up path', () => {
  it('checkout → paid → credited once; history, notification and balance broadcast; the ledger reconciles', async () => {
    const user = await createUser();
    const before = await balanceOf(user);
    const out = await checkout(w, user, PACKS.standard.id);
    const event = w.stripe.completeSession(out.session_id);
    expect((await deliver(w, event)).outcome).toBe('credited');
    expect((await deliver(w, event)).outcome).toBe('duplicate');

    expect(await balanceOf(user)).toBe(before + PACKS.standard.credits);
    const p = await paymentOf(out.session_id);
    expect(p).toMatchObject({ status: 'paid', stripe_payment_intent_id: w.stripe.session(out.session_id)!.payment_intent });
    expect(p.paid_at).toBeInstanceOf(Date);

    const [n] = await notificationsOf(user, 'topup_succeeded');
    expect(TopupSucceededPayload.parse(n!.payload)).toEqual({
      payment_id: out.payment_id, pack_id: PACKS.standard.id, pack_name: 'Standard', currency: 'usd',
      amount_minor: 2000, credits_micro_usd: PACKS.standard.credits, balance_micro_usd: before + PACKS.standard.credits,
    });
    const broadcasts = await broadcastsOn(`user:${user}`);
    expect(broadcasts.filter((b) => b.event === 'balance' && b.payload.source === 'stripe.checkout_session')).toEqual([
      expect.objectContaining({ private: true, payload: expect.objectContaining({ change_micro_usd: PACKS.standard.credits, kind: 'topup' }) }),
    ]);
    expect(broadcasts.some((b) => b.event === 'notification' && b.payload.kind === 'topup_succeeded')).toBe(true);

    // The user's own history through RLS.
    const history = await asUser(user, (tx) => tx`select id, status from public.payments`);
    expect(history).toEqual([{ id: out.payment_id, status: 'paid' }]);
  });

  it('the stand-in’s hosted page pays and delivers the event itself', async () => {
    const user = await createUser();
    const before = await balanceOf(user);
    const out = PaymentsCheckoutResponse.parse(await checkout(w, user));
    const res = await fetch(out.checkout_url, { method: 'POST', body: new URLSearchParams({ action: 'pay' }), redirect: 'manual' });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe(URLS.success_url.replace('{CHECKOUT_SESSION_ID}', out.session_id));
    expect(await balanceOf(user)).toBe(before + PACKS.starter.credits);
  });
});
