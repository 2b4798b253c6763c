/**
 * A Clerk stand-in for tests: a local RSA key pair playing the Clerk
 * instance's signing key (the functions get the public key as CLERK_JWT_KEY),
 * session tokens minted with it, and Clerk webhooks signed with the real
 * `svix` library.
 *
 * Token claims follow https://clerk.com/docs/backend-requests/resources/session-tokens
 * (v2 session token: azp, exp, iat, iss, nbf, sid, sub, v) plus
 * `role: authenticated` (Supabase's Clerk integration). Webhook payloads follow
 * Clerk's documented examples (https://clerk.com/docs/webhooks/overview,
 * user.created / user.updated / user.deleted).
 */
import { randomBytes } from 'node:crypto';
import { createClerkInstance, mintSessionToken, svixHeaders as signedHeaders } from '../../stack/standins/clerk.mjs';

export interface ClerkTestInstance {
  publicKeyPem: string;
  privateKeyPem: string;
  /** A key that is NOT the instance's: tokens signed with it must be refused. */
  otherPrivateKeyPem: string;
  webhookSecret: string;
  issuer: string;
  authorizedParties: string[];
}

/** A fresh test instance (the stand-in's keys and webhook secret, stack/standins/clerk.mjs) plus a key it does not trust. */
export async function createClerkTestInstance(): Promise<ClerkTestInstance> {
  const [main, other] = await Promise.all([
    createClerkInstance({ authorizedParties: ['http://localhost:3000', 'https://app.chat-with-me.test'] }),
    createClerkInstance(),
  ]);
  return { ...main, otherPrivateKeyPem: other.privateKeyPem };
}

/** The environment the functions need to trust this instance. */
export function clerkEnv(c: ClerkTestInstance): Record<string, string> {
  return {
    CLERK_JWT_KEY: c.publicKeyPem,
    CLERK_ISSUER: c.issuer,
    CLERK_AUTHORIZED_PARTIES: c.authorizedParties.join(','),
    CLERK_WEBHOOK_SECRET: c.webhookSecret,
  };
}

export interface TokenOptions {
  /** Seconds from now (negative: already expired). Default 60. */
  expiresIn?: number;
  /** Seconds from now for `nbf` (positive: not valid yet). Default -5. */
  notBefore?: number;
  issuer?: string;
  /** `azp` claim; null leaves it out. Default: the first authorized party. */
  azp?: string | null;
  /** Sign with a key the functions do not trust. */
  wrongKey?: boolean;
  /** Extra or overriding claims. */
  claims?: Record<string, unknown>;
}

/** A Clerk-shaped session token for `sub`, RS256-signed by the test instance (or not, see options). */
export function sessionToken(c: ClerkTestInstance, sub: string, o: TokenOptions = {}): Promise<string> {
  return mintSessionToken(c, sub, {
    ttlSeconds: o.expiresIn ?? 60,
    notBeforeSeconds: o.notBefore ?? -5,
    ...(o.issuer ? { issuer: o.issuer } : {}),
    ...(o.azp !== undefined ? { azp: o.azp } : {}),
    ...(o.wrongKey ? { privateKeyPem: c.otherPrivateKeyPem } : {}),
    claims: o.claims ?? {},
  });
}

/** Unsigned token (`alg: none`): must be refused. */
export function unsignedToken(c: ClerkTestInstance, sub: string): string {
  const now = Math.floor(Date.now() / 1000);
  const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${enc({ alg: 'none', typ: 'JWT' })}.${enc({ sub, iss: c.issuer, azp: c.authorizedParties[0], exp: now + 60, nbf: now - 5, iat: now })}.`;
}

let seq = 0;
/** A unique Svix message id (`msg_…`), as Clerk's deliveries carry. */
export function svixId(): string {
  return `msg_${Date.now().toString(36)}${(seq++).toString(36)}${randomBytes(6).toString('hex')}`;
}

export interface SignOptions {
  id?: string;
  /** Signing time (default now); older than 5 minutes is refused. */
  timestamp?: Date;
  /** Sign with another secret. */
  secret?: string;
}

/** Headers of a Svix delivery of `body`, signed with the real library (stack/standins/clerk.mjs). */
export function svixHeaders(c: ClerkTestInstance, body: string, o: SignOptions = {}): Record<string, string> {
  return signedHeaders(o.secret ?? c.webhookSecret, body, { id: o.id ?? svixId(), ...(o.timestamp ? { timestamp: o.timestamp } : {}) });
}

export interface ClerkUserFields {
  id: string;
  first_name?: string | null;
  last_name?: string | null;
  username?: string | null;
  email?: string | null;
  /** e.g. 'oauth_google' */
  provider?: string | null;
  image_url?: string;
  public_metadata?: Record<string, unknown>;
  created_at?: number;
  /** Epoch ms. */
  updated_at?: number;
}

/** A Clerk `User` object shaped like Clerk's user.created example. */
export function clerkUser(f: ClerkUserFields) {
  const emailId = `idn_${randomBytes(12).toString('hex')}`;
  const created = f.created_at ?? Date.now() - 1000;
  return {
    backup_code_enabled: false,
    banned: false,
    create_organization_enabled: true,
    created_at: created,
    delete_self_enabled: true,
    email_addresses:
      f.email === null
        ? []
        : [
            { email_address: `other-${emailId}@example.org`, id: `${emailId}x`, linked_to: [], object: 'email_address', verification: { status: 'verified', strategy: 'email_code' } },
            { email_address: f.email ?? `${f.id.toLowerCase()}@example.org`, id: emailId, linked_to: [], object: 'email_address', verification: { status: 'verified', strategy: 'ticket' } },
          ],
    external_accounts: f.provider
      ? [{ object: 'external_account', id: `eac_${randomBytes(8).toString('hex')}`, provider: f.provider, identification_id: `idn_${randomBytes(8).toString('hex')}`, provider_user_id: '1234', approved_scopes: 'email profile', email_address: f.email ?? 'x@example.org', first_name: f.first_name ?? '', last_name: f.last_name ?? '', image_url: 'https://img.clerk.com/oauth', username: null, public_metadata: {}, label: null, verification: { status: 'verified', strategy: f.provider } }]
      : [],
    external_id: null,
    first_name: f.first_name === undefined ? 'Example' : f.first_name,
    has_image: true,
    id: f.id,
    image_url: f.image_url ?? `https://img.clerk.com/${randomBytes(8).toString('hex')}`,
    last_active_at: created,
    last_name: f.last_name === undefined ? 'User' : f.last_name,
    last_sign_in_at: created,
    locked: false,
    lockout_expires_in_seconds: null,
    object: 'user',
    password_enabled: true,
    phone_numbers: [],
    primary_email_address_id: f.email === null ? null : emailId,
    primary_phone_number_id: null,
    primary_web3_wallet_id: null,
    private_metadata: {},
    public_metadata: f.public_metadata ?? {},
    totp_enabled: false,
    two_factor_enabled: false,
    unsafe_metadata: {},
    updated_at: f.updated_at ?? created,
    username: f.username ?? null,
    verification_attempts_remaining: 100,
    web3_wallets: [],
  };
}

/** A Clerk webhook event envelope around `data`. */
export function clerkEvent(type: string, data: unknown, timestamp = Date.now()) {
  return {
    data,
    event_attributes: { http_request: { client_ip: '192.0.2.1', user_agent: 'Mozilla/5.0 (test)' } },
    instance_id: 'ins_test',
    object: 'event',
    timestamp,
    type,
  };
}

/** user.deleted as Clerk sends it. */
export function clerkUserDeleted(id: string, timestamp = Date.now()) {
  return clerkEvent('user.deleted', { deleted: true, id, object: 'user' }, timestamp);
}
