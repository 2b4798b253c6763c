/**
 * The actors of the journey, each acting as in production:
 * - a person's app: supabase-js on the API URL with the publishable key and
 *   their Clerk session token (`accessToken`: Supabase third-party auth,
 *   https://supabase.com/docs/guides/auth/third-party/clerk), so the Data API
 *   (PostgREST) runs each request as them and row-level security decides; the
 *   edge functions through `supabase.functions.invoke` or the typed client of
 *   @chat-with-me/shared (`createFunctionsClient`). Tokens are minted by the
 *   local Clerk stand-in (stack/standins/clerk.mjs), as `session.getToken()`
 *   gives them to an app;
 * - an admin: a person whose account has `is_admin` (the seed's admin), acting
 *   through the same client (admin RPCs check the caller);
 * - a trusted server: supabase-js with the secret key (role service_role,
 *   bypasses RLS), for reads no user may make;
 * - Clerk: Svix-signed webhooks to /functions/v1/clerk-webhook through the
 *   gateway (Stripe's and Cloudinary's are sent by their stand-ins the same way).
 */
import { randomBytes } from 'node:crypto';
import { createClient } from '@supabase/supabase-js';
import { Webhook } from 'svix';
import ws from 'ws';
import { mintSessionToken } from '../standins/clerk.mjs';

/**
 * supabase-js options of a server-side or Node app: no session storage (the
 * token comes from Clerk), and `ws` as Realtime's transport (Node 20 has no
 * global WebSocket).
 */
const clientOptions = (extra = {}) => ({
  auth: { persistSession: false, autoRefreshToken: false },
  realtime: { transport: /** @type {any} */ (ws) },
  ...extra,
});

/** A server's supabase-js client with the secret key (service_role: bypasses RLS; never in a browser). */
export const serviceClient = (env) => createClient(env.API_URL, env.SECRET_KEY, clientOptions());

const BASE62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
/** A fresh Clerk-shaped user id: `user_2` + 26 base62 characters. */
const newClerkId = () => `user_2${[...randomBytes(26)].map((b) => BASE62[b % 62]).join('')}`;

/**
 * One person: a Clerk user, their session tokens, and their app's clients.
 * `sb` is their supabase-js client; `fn` the typed functions client.
 */
export class Person {
  /**
   * @param {{ env: Record<string, string>, clerk: any, shared: any }} ctx
   * @param {{ first: string, last: string, run?: string, id?: string }} who `id` for an existing user (the seed's)
   */
  constructor(ctx, { first, last, run = '', id }) {
    this.first = first;
    this.last = last;
    this.name = first;
    this.id = id ?? newClerkId();
    this.username = `${first.toLowerCase()}_${run}`;
    this.email = `${first.toLowerCase()}.${run}@example.com`;
    this.clerk = ctx.clerk;
    this.sb = createClient(ctx.env.API_URL, ctx.env.PUBLISHABLE_KEY, clientOptions({ accessToken: () => this.token() }));
    this.fn = ctx.shared.createFunctionsClient({ url: ctx.env.FUNCTIONS_URL, apiKey: ctx.env.PUBLISHABLE_KEY, getToken: () => this.token() });
  }

  /** A Clerk session token (RS256, `role: authenticated`), renewed before it expires, like `session.getToken()`. */
  async token() {
    if (!this._token || this._tokenExp - Date.now() < 30_000) {
      this._token = await mintSessionToken(this.clerk, this.id, { ttlSeconds: 600 });
      this._tokenExp = Date.now() + 600_000;
    }
    return this._token;
  }

  /** Their wallet as they read it (RLS: own row only); micro-USD as bigint. */
  async wallet() {
    const { data, error } = await this.sb.from('credit_wallets').select('balance_micro_usd, held_micro_usd').maybeSingle();
    if (error) throw new Error(`credit_wallets: ${error.message}`);
    return { balance: BigInt(data?.balance_micro_usd ?? 0), held: BigInt(data?.held_micro_usd ?? 0) };
  }

  /** Their notifications of `kind` (RLS: own rows only), oldest first. */
  async notifications(kind) {
    const { data, error } = await this.sb.from('notifications').select('id, kind, payload, created_at').eq('kind', kind).order('created_at').order('id');
    if (error) throw new Error(`notifications: ${error.message}`);
    return data;
  }
}

/** A Clerk `User` object (https://clerk.com/docs/reference/backend-api/tag/users), as user.created carries it. */
export function clerkUser(p) {
  const now = Date.now();
  const emailId = `idn_${randomBytes(12).toString('hex')}`;
  return {
    id: p.id,
    object: 'user',
    username: p.username,
    first_name: p.first,
    last_name: p.last,
    image_url: `https://img.clerk.com/${randomBytes(8).toString('hex')}`,
    has_image: false,
    primary_email_address_id: emailId,
    email_addresses: [{ id: emailId, object: 'email_address', email_address: p.email, linked_to: [], verification: { status: 'verified', strategy: 'email_code' } }],
    external_accounts: [],
    phone_numbers: [],
    web3_wallets: [],
    public_metadata: {},
    private_metadata: {},
    unsafe_metadata: {},
    password_enabled: true,
    two_factor_enabled: false,
    banned: false,
    locked: false,
    created_at: now,
    updated_at: now,
    last_sign_in_at: null,
  };
}

/**
 * Posts `type` for `data` to clerk-webhook as Clerk does: through Svix
 * (https://docs.svix.com/receiving/verifying-payloads/how-manual), signed with
 * the endpoint's secret, to FUNCTIONS_URL (the gateway, no API key).
 */
export async function postClerkWebhook(ctx, type, data) {
  const body = JSON.stringify({ data, object: 'event', type, timestamp: Date.now(), instance_id: 'ins_local_standin' });
  const id = `msg_${randomBytes(12).toString('hex')}`;
  const now = new Date();
  const res = await fetch(`${ctx.env.FUNCTIONS_URL}/clerk-webhook`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'svix-id': id,
      'svix-timestamp': String(Math.floor(now.getTime() / 1000)),
      'svix-signature': new Webhook(ctx.clerk.webhookSecret).sign(id, now, body),
    },
    body,
  });
  return { status: res.status, body: await res.json().catch(() => null) };
}
