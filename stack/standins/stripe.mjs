/**
 * A local Stripe stand-in: a 127.0.0.1 HTTP server speaking Stripe's
 * documented wire format for the calls our functions make, plus the signed
 * events Stripe would send back. Used by the tests (tests/payments) and meant
 * for the Docker-free local stack; never part of a deployment.
 *
 * API (https://docs.stripe.com/api):
 * - requests are authenticated with `Authorization: Bearer <secret key>`
 *   (401 `invalid_request_error` otherwise: https://docs.stripe.com/api/authentication);
 * - bodies are form-encoded with bracket notation (`line_items[0][price_data][currency]=usd`),
 *   as the SDK sends them;
 * - `Idempotency-Key` (https://docs.stripe.com/api/idempotent_requests): the
 *   same key and body replay the first answer (`Idempotent-Replayed: true`);
 *   the same key with another body is a 400 `idempotency_error`;
 * - errors have Stripe's shape `{error: {type, code?, message, param?, doc_url?}}`
 *   (https://docs.stripe.com/api/errors) and every answer a `Request-Id`;
 * - POST /v1/checkout/sessions → a Checkout Session object
 *   (https://docs.stripe.com/api/checkout/sessions/create, …/object): mode
 *   payment, line items from `price_data` or from a Price registered with
 *   `prices` (unknown → 400 resource_missing);
 * - GET /v1/checkout/sessions/:id, GET /v1/payment_intents/:id, GET /v1/charges/:id.
 *
 * Events (https://docs.stripe.com/api/events/object, snapshot payloads):
 * `completeSession`, `asyncPaymentSucceeded`, `asyncPaymentFailed`,
 * `expireSession` and `refund` move a session (and its PaymentIntent and
 * Charge) the way Stripe does and return the event Stripe would send;
 * `sign` produces the body and `Stripe-Signature` header with the real SDK's
 * `stripe.webhooks.generateTestHeaderString`
 * (https://docs.stripe.com/webhooks#verify-events); `deliver` posts it.
 *
 * The hosted page is stood in too: a session's `url` is
 * `<stand-in>/c/pay/<session id>`, a small page whose buttons pay (card or a
 * delayed method), fail or expire the session, deliver the event to
 * `webhookUrl` and redirect to the success or cancel URL.
 */
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import Stripe from 'stripe';

/** The API version the stand-in answers with (the SDK's pinned one). */
export const STANDIN_API_VERSION = Stripe.API_VERSION;

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
/** A Stripe-looking random id suffix. */
function rid(n = 24) {
  const bytes = randomBytes(n);
  let s = '';
  for (const b of bytes) s += ALNUM[b % ALNUM.length];
  return s;
}
const nowSeconds = () => Math.floor(Date.now() / 1000);
const clone = (o) => JSON.parse(JSON.stringify(o));

/** A fresh test-mode secret key and webhook signing secret. */
export function standinSecrets() {
  return { secretKey: `sk_test_standin${rid(32)}`, webhookSecret: `whsec_${rid(32)}` };
}

class StripeApiError extends Error {
  /**
   * @param {number} status
   * @param {{ type: string, code?: string, message: string, param?: string }} error
   */
  constructor(status, error) {
    super(error.message);
    this.status = status;
    this.error = error;
  }
}

const invalid = (message, extra = {}) => new StripeApiError(400, { type: 'invalid_request_error', message, ...extra });

/**
 * Decodes a form body with Stripe's bracket notation into nested objects;
 * `a[0]`, `a[1]` become arrays.
 * @param {string} text
 */
export function parseStripeForm(text) {
  const root = {};
  for (const [rawKey, value] of new URLSearchParams(text)) {
    const m = /^([^[\]]+)((?:\[[^[\]]*\])*)$/.exec(rawKey);
    if (!m) throw invalid(`Invalid parameter name: ${rawKey}`);
    const path = [m[1], ...[...m[2].matchAll(/\[([^[\]]*)\]/g)].map((x) => x[1])];
    let node = root;
    for (let i = 0; i < path.length - 1; i++) node = node[path[i]] ??= {};
    node[path.at(-1)] = value;
  }
  const arrays = (v) => {
    if (v === null || typeof v !== 'object') return v;
    const keys = Object.keys(v);
    if (keys.length && keys.every((k) => /^\d+$/.test(k))) {
      return keys.sort((a, b) => Number(a) - Number(b)).map((k) => arrays(v[k]));
    }
    for (const k of keys) v[k] = arrays(v[k]);
    return v;
  };
  return arrays(root);
}

/** Stripe's metadata limits (https://docs.stripe.com/api/metadata). */
function checkMetadata(md, param) {
  if (md === undefined || md === '') return {};
  if (typeof md !== 'object' || Array.isArray(md)) throw invalid('Invalid hash', { param });
  const entries = Object.entries(md);
  if (entries.length > 50) throw invalid('Metadata can have up to 50 keys.', { param });
  for (const [k, v] of entries) {
    if (k.length > 40) throw invalid(`Metadata keys can be at most 40 characters long.`, { param: `${param}[${k}]` });
    if (typeof v !== 'string' || v.length > 500) throw invalid('Metadata values can be at most 500 characters long.', { param: `${param}[${k}]` });
  }
  return Object.fromEntries(entries);
}

function int(value, param, { min = 0, max = 99999999 } = {}) {
  if (value === undefined) throw invalid(`Missing required param: ${param}.`, { code: 'parameter_missing', param });
  if (!/^-?\d+$/.test(String(value))) throw invalid(`Invalid integer: ${value}`, { param });
  const n = Number(value);
  if (n < min || n > max) throw invalid(`This value must be between ${min} and ${max}.`, { param });
  return n;
}

function url(value, param) {
  if (value === undefined) return null;
  try {
    const u = new URL(value);
    if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new Error('scheme');
  } catch {
    throw invalid('Not a valid URL', { code: 'url_invalid', param });
  }
  if (value.length > 5000) throw invalid('This URL is too long.', { param });
  return value;
}

/**
 * Starts the stand-in.
 * @param {{
 *   port?: number,
 *   secretKey?: string,
 *   webhookSecret?: string,
 *   webhookUrl?: string,
 *   prices?: Record<string, { unit_amount: number, currency: string, product_name?: string }>,
 *   log?: (line: string) => void,
 * }} [opts] `prices`: Stripe Prices (price_…) that line items may name.
 */
export async function startStripeStandin(opts = {}) {
  const fresh = standinSecrets();
  const secretKey = opts.secretKey ?? fresh.secretKey;
  const webhookSecret = opts.webhookSecret ?? fresh.webhookSecret;
  let webhookUrl = opts.webhookUrl;
  const prices = new Map(Object.entries(opts.prices ?? {}));
  const log = opts.log ?? (() => {});

  /** @type {Map<string, any>} */ const sessions = new Map();
  /** @type {Map<string, any>} */ const paymentIntents = new Map();
  /** @type {Map<string, any>} */ const charges = new Map();
  /** @type {Map<string, { path: string, hash: string, status: number, body: string }>} */ const idempotency = new Map();
  /** Every API request received, oldest first (the key is never kept, only whether it matched). */
  const requests = [];
  /** @type {{ status: number, error: any, path?: RegExp }[]} */ const failures = [];
  let baseUrl = '';

  // ---------------------------------------------------------------- objects

  function createSession(form) {
    const mode = form.mode;
    if (mode === undefined) throw invalid('Missing required param: mode.', { code: 'parameter_missing', param: 'mode' });
    if (!['payment', 'setup', 'subscription'].includes(mode)) throw invalid(`Invalid mode: must be one of payment, setup, or subscription`, { param: 'mode' });
    if (mode !== 'payment') throw invalid('This stand-in supports mode=payment only.', { param: 'mode' });
    const items = form.line_items;
    if (!Array.isArray(items) || items.length === 0) {
      throw invalid('You must provide at least one line item for mode=payment.', { code: 'parameter_missing', param: 'line_items' });
    }
    let currency = null;
    let total = 0;
    const lineItems = items.map((item, i) => {
      const quantity = int(item.quantity, `line_items[${i}][quantity]`, { min: 1, max: 999999 });
      let unitAmount;
      let cur;
      let priceId;
      let productName;
      if (item.price !== undefined) {
        const price = prices.get(item.price);
        if (!price) throw invalid(`No such price: '${item.price}'`, { code: 'resource_missing', param: `line_items[${i}][price]` });
        unitAmount = price.unit_amount;
        cur = price.currency;
        priceId = item.price;
        productName = price.product_name ?? 'Product';
      } else if (item.price_data) {
        const pd = item.price_data;
        cur = pd.currency;
        if (cur === undefined) throw invalid('Missing required param: line_items[0][price_data][currency].', { code: 'parameter_missing', param: `line_items[${i}][price_data][currency]` });
        if (!/^[a-z]{3}$/.test(cur)) throw invalid(`Invalid currency: ${cur}.`, { param: `line_items[${i}][price_data][currency]` });
        unitAmount = int(pd.unit_amount, `line_items[${i}][price_data][unit_amount]`);
        if (!pd.product && !pd.product_data?.name) {
          throw invalid('You must specify either `product` or `product_data` when creating a price.', { param: `line_items[${i}][price_data]` });
        }
        priceId = `price_${rid(24)}`;
        productName = pd.product_data?.name ?? 'Product';
      } else {
        throw invalid('You must specify either `price` or `price_data` for each line item.', { param: `line_items[${i}]` });
      }
      if (currency && cur !== currency) throw invalid('All line items must have the same currency.', { param: `line_items[${i}]` });
      currency = cur;
      total += unitAmount * quantity;
      return { id: `li_${rid(24)}`, object: 'item', amount_subtotal: unitAmount * quantity, amount_total: unitAmount * quantity, currency: cur, description: productName, price: { id: priceId, object: 'price', currency: cur, unit_amount: unitAmount }, quantity };
    });
    const clientReferenceId = form.client_reference_id ?? null;
    if (clientReferenceId !== null && clientReferenceId.length > 200) throw invalid('client_reference_id must be at most 200 characters.', { param: 'client_reference_id' });
    const metadata = checkMetadata(form.metadata, 'metadata');
    const piMetadata = checkMetadata(form.payment_intent_data?.metadata, 'payment_intent_data[metadata]');
    const created = nowSeconds();
    const expiresAt = form.expires_at !== undefined ? int(form.expires_at, 'expires_at', { min: created + 1800, max: created + 86400 }) : created + 86400;
    const id = `cs_test_${rid(58)}`;
    const session = {
      id,
      object: 'checkout.session',
      adaptive_pricing: { enabled: false },
      after_expiration: null,
      allow_promotion_codes: null,
      amount_subtotal: total,
      amount_total: total,
      automatic_tax: { enabled: false, liability: null, provider: null, status: null },
      billing_address_collection: null,
      cancel_url: url(form.cancel_url, 'cancel_url'),
      client_reference_id: clientReferenceId,
      client_secret: null,
      collected_information: null,
      consent: null,
      consent_collection: null,
      created,
      currency,
      currency_conversion: null,
      custom_fields: [],
      custom_text: { after_submit: null, shipping_address: null, submit: null, terms_of_service_acceptance: null },
      customer: null,
      customer_creation: 'if_required',
      customer_details: null,
      customer_email: form.customer_email ?? null,
      discounts: [],
      expires_at: expiresAt,
      invoice: null,
      invoice_creation: { enabled: false, invoice_data: { account_tax_ids: null, custom_fields: null, description: null, footer: null, issuer: null, metadata: {}, rendering_options: null } },
      livemode: false,
      locale: null,
      metadata,
      mode: 'payment',
      payment_intent: null,
      payment_link: null,
      payment_method_collection: 'if_required',
      payment_method_configuration_details: null,
      payment_method_options: { card: { request_three_d_secure: 'automatic' } },
      payment_method_types: ['card'],
      payment_status: 'unpaid',
      phone_number_collection: { enabled: false },
      recovered_from: null,
      saved_payment_method_options: null,
      setup_intent: null,
      shipping_address_collection: null,
      shipping_cost: null,
      shipping_options: [],
      status: 'open',
      submit_type: null,
      subscription: null,
      success_url: url(form.success_url, 'success_url'),
      total_details: { amount_discount: 0, amount_shipping: 0, amount_tax: 0 },
      ui_mode: 'hosted',
      url: `${baseUrl}/c/pay/${id}`,
      wallet_options: null,
    };
    sessions.set(id, { session, lineItems, piMetadata });
    return session;
  }

  function mustSession(id) {
    const s = sessions.get(id);
    if (!s) throw new Error(`stripe stand-in: no Checkout Session ${id}`);
    return s;
  }

  function newPaymentIntent(entry, { status }) {
    const s = entry.session;
    const pi = {
      id: `pi_${rid(24)}`,
      object: 'payment_intent',
      amount: s.amount_total,
      amount_capturable: 0,
      amount_received: status === 'succeeded' ? s.amount_total : 0,
      application: null,
      application_fee_amount: null,
      automatic_payment_methods: null,
      canceled_at: null,
      cancellation_reason: null,
      capture_method: 'automatic_async',
      client_secret: null,
      confirmation_method: 'automatic',
      created: nowSeconds(),
      currency: s.currency,
      customer: null,
      description: null,
      last_payment_error: null,
      latest_charge: null,
      livemode: false,
      metadata: clone(entry.piMetadata),
      next_action: null,
      on_behalf_of: null,
      payment_method: `pm_${rid(24)}`,
      payment_method_types: ['card'],
      processing: null,
      receipt_email: null,
      review: null,
      setup_future_usage: null,
      shipping: null,
      source: null,
      statement_descriptor: null,
      statement_descriptor_suffix: null,
      status,
      transfer_data: null,
      transfer_group: null,
    };
    const charge = {
      id: `ch_${rid(24)}`,
      object: 'charge',
      amount: s.amount_total,
      amount_captured: status === 'succeeded' ? s.amount_total : 0,
      amount_refunded: 0,
      application: null,
      application_fee: null,
      application_fee_amount: null,
      balance_transaction: status === 'succeeded' ? `txn_${rid(24)}` : null,
      billing_details: { address: { city: null, country: 'US', line1: null, line2: null, postal_code: '94103', state: null }, email: 'buyer@example.com', name: 'Test Buyer', phone: null },
      calculated_statement_descriptor: 'CHAT WITH ME',
      captured: status === 'succeeded',
      created: nowSeconds(),
      currency: s.currency,
      customer: null,
      description: null,
      disputed: false,
      failure_balance_transaction: null,
      failure_code: null,
      failure_message: null,
      fraud_details: {},
      livemode: false,
      metadata: clone(entry.piMetadata),
      on_behalf_of: null,
      outcome: { network_status: 'approved_by_network', reason: null, risk_level: 'normal', seller_message: 'Payment complete.', type: 'authorized' },
      paid: status === 'succeeded',
      payment_intent: pi.id,
      payment_method: pi.payment_method,
      payment_method_details: { type: 'card', card: { brand: 'visa', country: 'US', exp_month: 12, exp_year: 2034, funding: 'credit', last4: '4242' } },
      receipt_email: null,
      receipt_number: null,
      receipt_url: `https://pay.stripe.com/receipts/payment/${rid(40)}`,
      refunded: false,
      review: null,
      shipping: null,
      source: null,
      source_transfer: null,
      statement_descriptor: null,
      statement_descriptor_suffix: null,
      status: status === 'succeeded' ? 'succeeded' : 'pending',
      transfer_data: null,
      transfer_group: null,
    };
    pi.latest_charge = charge.id;
    paymentIntents.set(pi.id, pi);
    charges.set(charge.id, charge);
    entry.chargeId = charge.id;
    return pi;
  }

  /** An event as Stripe sends it (snapshot payload of `object`). */
  function event(type, object, previousAttributes) {
    return {
      id: `evt_${rid(24)}`,
      object: 'event',
      api_version: STANDIN_API_VERSION,
      created: nowSeconds(),
      data: { object: clone(object), ...(previousAttributes ? { previous_attributes: previousAttributes } : {}) },
      livemode: false,
      pending_webhooks: 1,
      request: { id: null, idempotency_key: null },
      type,
    };
  }

  /**
   * The customer completes the hosted page. `async: false` (card): payment
   * succeeds at once (payment_status paid). `async: true` (a delayed method
   * such as a bank debit): the session completes with payment_status unpaid
   * while the payment processes. Returns checkout.session.completed.
   * @param {string} id
   * @param {{ async?: boolean, email?: string }} [options]
   */
  function completeSession(id, { async = false, email = 'buyer@example.com' } = {}) {
    const entry = mustSession(id);
    const s = entry.session;
    if (s.status !== 'open') throw new Error(`stripe stand-in: session ${id} is ${s.status}`);
    const pi = newPaymentIntent(entry, { status: async ? 'processing' : 'succeeded' });
    Object.assign(s, {
      status: 'complete',
      payment_status: async ? 'unpaid' : 'paid',
      payment_intent: pi.id,
      url: null,
      customer_details: { address: { city: null, country: 'US', line1: null, line2: null, postal_code: '94103', state: null }, email, name: 'Test Buyer', phone: null, tax_exempt: 'none', tax_ids: [] },
      collected_information: { business_name: null, individual_name: null, shipping_details: null },
    });
    return event('checkout.session.completed', s);
  }

  /** The delayed payment succeeded: checkout.session.async_payment_succeeded (payment_status paid). */
  function asyncPaymentSucceeded(id) {
    const entry = mustSession(id);
    const s = entry.session;
    if (s.status !== 'complete' || s.payment_status !== 'unpaid') throw new Error(`stripe stand-in: session ${id} is not awaiting a delayed payment`);
    s.payment_status = 'paid';
    Object.assign(paymentIntents.get(s.payment_intent), { status: 'succeeded', amount_received: s.amount_total });
    Object.assign(charges.get(entry.chargeId), { status: 'succeeded', paid: true, captured: true, amount_captured: s.amount_total, balance_transaction: `txn_${rid(24)}` });
    return event('checkout.session.async_payment_succeeded', s);
  }

  /** The delayed payment failed: checkout.session.async_payment_failed (payment_status stays unpaid). */
  function asyncPaymentFailed(id) {
    const entry = mustSession(id);
    const s = entry.session;
    if (s.status !== 'complete' || s.payment_status !== 'unpaid') throw new Error(`stripe stand-in: session ${id} is not awaiting a delayed payment`);
    Object.assign(paymentIntents.get(s.payment_intent), {
      status: 'requires_payment_method',
      last_payment_error: { code: 'payment_method_provider_decline', message: 'The payment was declined by the bank.', type: 'invalid_request_error' },
    });
    Object.assign(charges.get(entry.chargeId), { status: 'failed', failure_code: 'debit_not_authorized', failure_message: 'The customer notified their bank that this payment was unauthorized.' });
    return event('checkout.session.async_payment_failed', s);
  }

  /** The session expired unpaid: checkout.session.expired (status expired, url null). */
  function expireSession(id) {
    const s = mustSession(id).session;
    if (s.status !== 'open') throw new Error(`stripe stand-in: session ${id} is ${s.status}`);
    Object.assign(s, { status: 'expired', url: null });
    return event('checkout.session.expired', s);
  }

  /**
   * Refunds `amount` minor units (default: what is left) of the session's
   * charge: charge.refunded with the charge (cumulative amount_refunded,
   * refunded true once all of it is) and previous_attributes.
   * @param {string} id
   * @param {number} [amount]
   */
  function refund(id, amount) {
    const entry = mustSession(id);
    const charge = charges.get(entry.chargeId);
    if (!charge || charge.status !== 'succeeded') throw new Error(`stripe stand-in: session ${id} has no succeeded charge`);
    const left = charge.amount - charge.amount_refunded;
    const value = amount ?? left;
    if (!Number.isInteger(value) || value <= 0 || value > left) throw new Error(`stripe stand-in: cannot refund ${value} of ${left}`);
    const previous = { amount_refunded: charge.amount_refunded, refunded: charge.refunded };
    charge.amount_refunded += value;
    charge.refunded = charge.amount_refunded === charge.amount;
    return event('charge.refunded', charge, previous.refunded === charge.refunded ? { amount_refunded: previous.amount_refunded } : previous);
  }

  /**
   * The body and headers of a delivery of `evt` (an event object or a raw
   * string), signed with the webhook secret (or `secret`) at `timestamp`
   * (epoch seconds, default now) by the real SDK.
   * @param {object | string} evt
   * @param {{ secret?: string, timestamp?: number }} [options]
   */
  function sign(evt, { secret = webhookSecret, timestamp } = {}) {
    const body = typeof evt === 'string' ? evt : JSON.stringify(evt, null, 2);
    const signature = Stripe.webhooks.generateTestHeaderString({ payload: body, secret, ...(timestamp !== undefined ? { timestamp } : {}) });
    return {
      body,
      headers: { 'content-type': 'application/json; charset=utf-8', 'user-agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)', 'stripe-signature': signature },
    };
  }

  /**
   * Posts a signed delivery of `evt` to `to` (default: webhookUrl); resolves to the fetch Response.
   * @param {object | string} evt
   * @param {{ to?: string, secret?: string, timestamp?: number }} [options]
   */
  async function deliver(evt, { to = webhookUrl, ...signOpts } = {}) {
    if (!to) throw new Error('stripe stand-in: no webhook URL to deliver to');
    const { body, headers } = sign(evt, signOpts);
    return fetch(to, { method: 'POST', headers, body });
  }

  // ---------------------------------------------------------------- HTTP

  function sendJson(res, status, body, headers = {}) {
    res.writeHead(status, {
      'content-type': 'application/json',
      'request-id': `req_${rid(14)}`,
      'stripe-version': STANDIN_API_VERSION,
      ...headers,
    });
    res.end(typeof body === 'string' ? body : JSON.stringify(body, null, 2));
  }

  function apiError(res, err) {
    const body = { error: { ...err.error, doc_url: err.error.code ? `https://docs.stripe.com/error-codes/${err.error.code.replace(/_/g, '-')}` : undefined } };
    sendJson(res, err.status, body, err.status >= 500 ? { 'stripe-should-retry': 'false' } : {});
  }

  async function readBody(req) {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    return Buffer.concat(chunks).toString('utf8');
  }

  function route(method, path) {
    if (method === 'POST' && path === '/v1/checkout/sessions') return { name: 'create_session' };
    let m;
    if (method === 'GET' && (m = /^\/v1\/checkout\/sessions\/([^/]+)$/.exec(path))) return { name: 'get_session', id: m[1] };
    if (method === 'GET' && (m = /^\/v1\/payment_intents\/([^/]+)$/.exec(path))) return { name: 'get_payment_intent', id: m[1] };
    if (method === 'GET' && (m = /^\/v1\/charges\/([^/]+)$/.exec(path))) return { name: 'get_charge', id: m[1] };
    return null;
  }

  async function handleApi(req, res, path) {
    const raw = await readBody(req);
    const auth = req.headers.authorization ?? '';
    const idemKey = req.headers['idempotency-key'];
    const record = {
      method: req.method,
      path,
      idempotencyKey: typeof idemKey === 'string' ? idemKey : null,
      stripeVersion: req.headers['stripe-version'] ?? null,
      authorized: auth === `Bearer ${secretKey}`,
      form: null,
      raw,
      status: 0,
    };
    requests.push(record);
    const answer = (status, body, headers) => {
      record.status = status;
      sendJson(res, status, body, headers);
    };
    try {
      if (!auth) throw new StripeApiError(401, { type: 'invalid_request_error', message: 'You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. \'Authorization: Bearer YOUR_SECRET_KEY\').' });
      if (!record.authorized) {
        const shown = auth.replace(/^Bearer\s+/i, '');
        throw new StripeApiError(401, { type: 'invalid_request_error', message: `Invalid API Key provided: ${shown.slice(0, 8)}****${shown.slice(-4)}` });
      }
      const r = route(req.method, path);
      if (!r) throw new StripeApiError(404, { type: 'invalid_request_error', message: `Unrecognized request URL (${req.method}: ${path}).` });
      const failure = failures.findIndex((f) => !f.path || f.path.test(path));
      if (failure >= 0) {
        const [f] = failures.splice(failure, 1);
        throw new StripeApiError(f.status, f.error);
      }
      if (req.method === 'POST' && typeof idemKey === 'string') {
        const hash = createHash('sha256').update(`${path}\n${raw}`).digest('hex');
        const seen = idempotency.get(idemKey);
        if (seen) {
          if (seen.hash !== hash) {
            throw new StripeApiError(400, {
              type: 'idempotency_error',
              message: `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${idemKey}' if you meant to execute a different request.`,
            });
          }
          record.status = seen.status;
          return sendJson(res, seen.status, seen.body, { 'idempotent-replayed': 'true', 'original-request': 'req_replayed' });
        }
        const form = parseStripeForm(raw);
        record.form = form;
        // A request that fails validation saves no result: the key may be used again
        // (https://docs.stripe.com/api/idempotent_requests).
        const body = JSON.stringify(createSession(form), null, 2);
        idempotency.set(idemKey, { path, hash, status: 200, body });
        return answer(200, body, { 'idempotency-key': idemKey });
      }
      if (r.name === 'create_session') {
        const form = parseStripeForm(raw);
        record.form = form;
        return answer(200, createSession(form));
      }
      const found =
        r.name === 'get_session' ? sessions.get(r.id)?.session
        : r.name === 'get_payment_intent' ? paymentIntents.get(r.id)
        : charges.get(r.id);
      if (!found) {
        const kind = { get_session: 'checkout.session', get_payment_intent: 'payment_intent', get_charge: 'charge' }[r.name];
        throw new StripeApiError(404, { type: 'invalid_request_error', code: 'resource_missing', param: 'id', message: `No such ${kind}: '${r.id}'` });
      }
      return answer(200, found);
    } catch (e) {
      if (e instanceof StripeApiError) {
        record.status = e.status;
        return apiError(res, e);
      }
      log(`stripe stand-in: ${e?.stack ?? e}`);
      record.status = 500;
      return sendJson(res, 500, { error: { type: 'api_error', message: 'An unknown error occurred in the stand-in.' } });
    }
  }

  const escape = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

  /** The stand-in of Stripe's hosted payment page. */
  async function handlePage(req, res, id) {
    const entry = sessions.get(id);
    if (!entry) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      return res.end('No such Checkout Session');
    }
    const s = entry.session;
    if (req.method === 'POST') {
      const action = new URLSearchParams(await readBody(req)).get('action');
      const events = [];
      try {
        if (action === 'pay') events.push(completeSession(id));
        else if (action === 'pay_async') events.push(completeSession(id, { async: true }), asyncPaymentSucceeded(id));
        else if (action === 'fail_async') events.push(completeSession(id, { async: true }), asyncPaymentFailed(id));
        else if (action === 'expire') events.push(expireSession(id));
        else throw new Error('unknown action');
      } catch (e) {
        res.writeHead(409, { 'content-type': 'text/plain' });
        return res.end(String(e?.message ?? e));
      }
      for (const evt of events) {
        if (!webhookUrl) break;
        const r = await deliver(evt).catch((e) => ({ status: 0, text: async () => String(e) }));
        log(`stripe stand-in: delivered ${evt.type} ${evt.id} → ${r.status}`);
      }
      const to = action === 'expire' || action === 'fail_async' ? s.cancel_url : s.success_url;
      res.writeHead(303, { location: (to ?? `${baseUrl}/`).replace('{CHECKOUT_SESSION_ID}', id) });
      return res.end();
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    const amount = `${escape(s.amount_total)} ${escape(s.currency?.toUpperCase())} (minor units)`;
    const buttons = s.status === 'open'
      ? ['pay', 'pay_async', 'fail_async', 'expire'].map((a) => `<button name="action" value="${a}">${a.replace('_', ' ')}</button>`).join(' ')
      : `<p>This session is ${escape(s.status)}.</p>`;
    res.end(`<!doctype html><title>Stripe stand-in checkout</title><h1>Stripe stand-in</h1>
<p>Session <code>${escape(id)}</code>: ${amount}, status ${escape(s.status)}, payment ${escape(s.payment_status)}.</p>
<form method="post">${buttons}</form><p>Webhook: ${escape(webhookUrl ?? 'none (events are not delivered)')}</p>`);
  }

  const server = http.createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const page = /^\/c\/pay\/([^/]+)$/.exec(path);
    const done = page ? handlePage(req, res, decodeURIComponent(page[1])) : handleApi(req, res, path);
    done.catch((e) => {
      log(`stripe stand-in: ${e?.stack ?? e}`);
      if (!res.headersSent) sendJson(res, 500, { error: { type: 'api_error', message: 'stand-in failure' } });
      else res.destroy();
    });
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', resolve);
  });
  const port = /** @type {import('node:net').AddressInfo} */ (server.address()).port;
  baseUrl = `http://127.0.0.1:${port}`;

  return {
    /** Base URL to give the functions as STRIPE_API_BASE. */
    url: baseUrl,
    port,
    secretKey,
    webhookSecret,
    /** The environment the functions need to use this stand-in. */
    env: { STRIPE_SECRET_KEY: secretKey, STRIPE_WEBHOOK_SECRET: webhookSecret, STRIPE_API_BASE: baseUrl },
    requests,
    /** The Checkout Session `id` as Stripe would return it now (a copy), or undefined. */
    session: (id) => (sessions.has(id) ? clone(sessions.get(id).session) : undefined),
    /** The PaymentIntent and Charge of a completed session (copies). */
    paymentOf(id) {
      const entry = sessions.get(id);
      const pi = entry?.session.payment_intent ? paymentIntents.get(entry.session.payment_intent) : undefined;
      return { paymentIntent: pi ? clone(pi) : undefined, charge: entry?.chargeId ? clone(charges.get(entry.chargeId)) : undefined };
    },
    /** Registers a Stripe Price line items may name. */
    addPrice(id, price) {
      prices.set(id, price);
    },
    /** The next API request (matching `path`, if given) answers `status` with `error` ({type, code?, message}). */
    failNext(status, error, path) {
      failures.push({ status, error, path });
    },
    /** Where the hosted page stand-in delivers events. */
    setWebhookUrl(u) {
      webhookUrl = u;
    },
    event,
    completeSession,
    asyncPaymentSucceeded,
    asyncPaymentFailed,
    expireSession,
    refund,
    sign,
    deliver,
    async stop() {
      await new Promise((resolve) => {
        server.close(() => resolve(undefined));
        server.closeAllConnections();
      });
    },
  };
}
