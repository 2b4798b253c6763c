/**
 * A corpus of bad requests against payments-checkout and stripe-webhook (real
 * Deno over HTTP): each is answered 4xx with the shared error shape, never
 * 500, and nothing reaches Stripe or the payments.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { sessionToken, unsignedToken } from '../helpers/clerk.js';
import { createUser, owner, startForFile } from '../helpers/db.js';
import { expectError } from '../helpers/functions.js';
import { PACKS, postCheckout, startPaymentsWorld, URLS } from '../helpers/stripe.js';

const w = startForFile(startPaymentsWorld);
let user: string;
beforeAll(async () => {
  user = await createUser();
});

const stripeCalls = () => w.stripe.requests.length;
const valid = { pack_id: PACKS.starter.id, ...URLS };

describe('payments-checkout', () => {
  it('405 for other methods, with Allow', async () => {
    for (const method of ['GET', 'PUT', 'PATCH', 'DELETE']) {
      const res = await fetch(`${w.fns.url}/payments-checkout`, { method });
      await expectError(res, 405, 'method_not_allowed');
      expect(res.headers.get('allow')).toBe('POST, OPTIONS');
    }
  });

  it('401 without a token, with an unsigned, expired or foreign token', async () => {
    const body = JSON.stringify(valid);
    const tokens = [
      null,
      unsignedToken(w.fns.clerk, user),
      await sessionToken(w.fns.clerk, user, { expiresIn: -60 }),
      await sessionToken(w.fns.clerk, user, { wrongKey: true }),
      await sessionToken(w.fns.clerk, user, { azp: 'https://evil.example' }),
    ];
    for (const t of tokens) {
      const res = await fetch(`${w.fns.url}/payments-checkout`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(t ? { authorization: `Bearer ${t}` } : {}) },
        body,
      });
      await expectError(res, 401, 'unauthorized');
    }
  });

  const bodies: [string, unknown, number][] = [
    ['not JSON', '{"pack_id":', 400],
    ['a JSON array', '[]', 400],
    ['null', 'null', 400],
    ['an empty object', {}, 400],
    ['a pack id that is not a uuid', { ...valid, pack_id: 'starter' }, 400],
    ['a numeric pack id', { ...valid, pack_id: 1 }, 400],
    ['no success_url', { pack_id: valid.pack_id, cancel_url: valid.cancel_url }, 400],
    ['a relative success_url', { ...valid, success_url: '/credits/done' }, 400],
    ['a javascript: cancel_url', { ...valid, cancel_url: 'javascript:alert(1)' }, 400],
    ['a data: URL', { ...valid, success_url: 'data:text/html,hi' }, 400],
    ['a URL with credentials', { ...valid, success_url: 'http://user:pass@localhost:3000/ok' }, 400],
    ['a URL over 2048 characters', { ...valid, success_url: `http://localhost:3000/${'a'.repeat(2100)}` }, 400],
    ['an unknown field (amount)', { ...valid, amount_minor: 1 }, 400],
    ['an unknown field (credits)', { ...valid, credits_micro_usd: 999_000_000 }, 400],
    ['a short idempotency key', { ...valid, idempotency_key: 'abc' }, 400],
    ['an idempotency key with spaces', { ...valid, idempotency_key: 'has spaces in it' }, 400],
    ['a body over 16 KiB', { ...valid, idempotency_key: 'x'.repeat(20_000) }, 413],
  ];
  for (const [what, body, status] of bodies) {
    it(`${status} for ${what}`, async () => {
      const before = stripeCalls();
      await expectError(await postCheckout(w, user, body), status);
      expect(stripeCalls()).toBe(before);
    });
  }

  it('415 when the body is not application/json', async () => {
    await expectError(await postCheckout(w, user, valid, { 'content-type': 'text/plain' }), 415, 'unsupported_media_type');
    await expectError(await postCheckout(w, user, new URLSearchParams({ pack_id: valid.pack_id }).toString(), { 'content-type': 'application/x-www-form-urlencoded' }), 415);
  });

  it('no payment was recorded by any of it', async () => {
    expect(await owner()`select 1 from public.payments where user_id = ${user}`).toHaveLength(0);
  });
});

describe('stripe-webhook', () => {
  const post = (body: BodyInit, headers: Record<string, string>) => fetch(`${w.fns.url}/stripe-webhook`, { method: 'POST', headers, body });
  const signed = (body: string) => w.stripe.sign(body);

  it('405 for other methods', async () => {
    for (const method of ['GET', 'PUT', 'DELETE']) await expectError(await fetch(`${w.fns.url}/stripe-webhook`, { method }), 405, 'method_not_allowed');
  });

  it('415 for a non-JSON content type, even when signed', async () => {
    const { body, headers } = signed('{"id":"evt_x","object":"event"}');
    await expectError(await post(body, { ...headers, 'content-type': 'text/plain' }), 415, 'unsupported_media_type');
  });

  it('413 for a body over 512 KiB', async () => {
    const { body, headers } = signed(JSON.stringify({ id: 'evt_big', pad: 'x'.repeat(600 * 1024) }));
    await expectError(await post(body, headers), 413, 'payload_too_large');
  });

  it('400 invalid_request for signed bodies that are not a Stripe event', async () => {
    const now = Math.floor(Date.now() / 1000);
    const cases = [
      'not json',
      '[]',
      JSON.stringify({ id: 'evt_1', object: 'event' }),
      JSON.stringify({ id: 'nope', object: 'event', type: 'x', created: now, livemode: false, data: { object: {} } }),
      JSON.stringify({ id: 'evt_2', object: 'charge', type: 'x', created: now, livemode: false, data: { object: {} } }),
      // Handled types whose object does not have Stripe's shape.
      JSON.stringify({ id: 'evt_3', object: 'event', type: 'checkout.session.completed', created: now, livemode: false, data: { object: { id: 'cs_x' } } }),
      JSON.stringify({ id: 'evt_4', object: 'event', type: 'charge.refunded', created: now, livemode: false, data: { object: { id: 'ch_x', object: 'charge', amount: 1.5 } } }),
      JSON.stringify({ id: 'evt_5', object: 'event', type: 'checkout.session.expired', created: now, livemode: false, data: { object: { id: 'pi_not_a_session', object: 'checkout.session' } } }),
    ];
    for (const raw of cases) {
      const { body, headers } = signed(raw);
      await expectError(await post(body, headers), 400, 'invalid_request');
    }
    expect(await owner()`select 1 from public.webhook_events where provider = 'stripe' and event_id in ('evt_1', 'evt_3', 'evt_4', 'evt_5')`).toHaveLength(0);
  });

  it('400 for a refund total above the charge amount, signed', async () => {
    const now = Math.floor(Date.now() / 1000);
    const e = { id: `evt_over${now}`, object: 'event', type: 'charge.refunded', created: now, livemode: false, data: { object: {
      id: 'ch_over', object: 'charge', amount: 100, amount_refunded: 200, currency: 'usd', payment_intent: 'pi_over', refunded: true, status: 'succeeded',
    } } };
    const { body, headers } = signed(JSON.stringify(e));
    await expectError(await post(body, headers), 400, 'invalid_request');
  });

  it('400 invalid_signature for an empty signature or one whose timestamp was replaced', async () => {
    const { body, headers } = signed('{}');
    await expectError(await post(body, { ...headers, 'stripe-signature': '' }), 400, 'invalid_signature');
    const replaced = headers['stripe-signature']!.replace(/t=\d+/, `t=${Math.floor(Date.now() / 1000) + 1}`);
    await expectError(await post(body, { ...headers, 'stripe-signature': replaced }), 400, 'invalid_signature');
  });
});
