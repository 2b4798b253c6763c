#!/usr/bin/env node
/**
 * A local stand-in for the Clerk instance, for the Docker-free stack when no
 * real Clerk keys are configured (nothing here is deployed):
 *
 * - an RSA-2048 key pair standing in for the instance's signing key: the
 *   functions get the public key as CLERK_JWT_KEY (networkless verification,
 *   https://clerk.com/docs/guides/sessions/manual-jwt-verification) and
 *   `npm run clerk:token -- <user_id>` signs session tokens with the private key;
 * - a Svix signing secret (`whsec_` + 32 random bytes, base64) as
 *   CLERK_WEBHOOK_SECRET, to sign test webhooks with the `svix` library.
 *
 * Generated once into .local/clerk/ (git-ignored, mode 0600) and reused, so
 * tokens minted earlier stay valid across restarts.
 *
 * Usage: node stack/standins/clerk.mjs token <user_id> [--ttl 3600]
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { SignJWT, importPKCS8 } from 'jose';
import { Webhook } from 'svix';
import { clerkDomain } from '../runtime/config.mjs';
import { LOCAL_DIR, statePaths } from '../runtime/state.mjs';

export const STANDIN_DIR = statePaths(LOCAL_DIR).clerk;

/** The users of supabase/seed.sql, to sign in as with `npm run clerk:token -- <id>`. */
export const SEED_USERS = [
  { id: 'user_seedAlice0000000000000000', name: 'Alice Martin', admin: true },
  { id: 'user_seedBob000000000000000000', name: 'Bob Chen', admin: false },
  { id: 'user_seedCarol0000000000000000', name: 'Carol Diaz', admin: false },
];

/** Origins the stand-in accepts as `azp` (common local web and Expo dev servers). */
export const LOCAL_AUTHORIZED_PARTIES = ['http://localhost:3000', 'http://127.0.0.1:3000', 'http://localhost:8081'];

/**
 * The issuer of local tokens: the Clerk domain of supabase/config.toml
 * ([auth.third_party.clerk] domain), as a Frontend API URL.
 */
export async function localIssuer() {
  return `https://${clerkDomain()}`;
}

/** A fresh RSA-2048 key pair (PEM), the shape of a Clerk instance's signing key. */
function rsaPair() {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return { publicKeyPem: publicKey, privateKeyPem: privateKey };
}

/** A Svix signing secret as Clerk shows it: `whsec_` + 32 random bytes, base64. */
const newWebhookSecret = () => `whsec_${randomBytes(32).toString('base64')}`;

/**
 * @typedef {object} ClerkInstance
 * @property {string} publicKeyPem the instance's public key (CLERK_JWT_KEY)
 * @property {string} privateKeyPem signs session tokens
 * @property {string} webhookSecret the Svix secret (CLERK_WEBHOOK_SECRET)
 * @property {string} issuer the Frontend API URL (`iss`)
 * @property {string[]} authorizedParties accepted `azp` origins
 */

/**
 * An in-memory Clerk instance (tests that need one of their own).
 * @param {{ issuer?: string, authorizedParties?: string[] }} [opts]
 * @returns {Promise<ClerkInstance>}
 */
export async function createClerkInstance(opts = {}) {
  return {
    ...rsaPair(),
    webhookSecret: newWebhookSecret(),
    issuer: opts.issuer ?? (await localIssuer()),
    authorizedParties: opts.authorizedParties ?? LOCAL_AUTHORIZED_PARTIES,
  };
}

/**
 * Loads the stand-in kept in `dir`, generating it on first use.
 * @returns {Promise<ClerkInstance & { dir: string }>}
 */
export async function loadClerkStandin(dir = STANDIN_DIR) {
  const files = {
    pub: path.join(dir, 'jwt-public.pem'),
    priv: path.join(dir, 'jwt-private.pem'),
    whsec: path.join(dir, 'webhook-secret'),
  };
  if (!existsSync(files.pub) || !existsSync(files.priv)) {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const pair = rsaPair();
    await writeFile(files.priv, pair.privateKeyPem, { mode: 0o600 });
    await writeFile(files.pub, pair.publicKeyPem, { mode: 0o600 });
  }
  if (!existsSync(files.whsec)) {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await writeFile(files.whsec, `${newWebhookSecret()}\n`, { mode: 0o600 });
  }
  return {
    publicKeyPem: await readFile(files.pub, 'utf8'),
    privateKeyPem: await readFile(files.priv, 'utf8'),
    webhookSecret: (await readFile(files.whsec, 'utf8')).trim(),
    issuer: await localIssuer(),
    authorizedParties: LOCAL_AUTHORIZED_PARTIES,
    dir,
  };
}

/**
 * Claims of a Clerk v2 session token
 * (https://clerk.com/docs/backend-requests/resources/session-tokens: azp, exp,
 * iat, iss, nbf, sid, sub, v) plus `role: authenticated`, as Supabase's Clerk
 * integration requires. Times in epoch seconds.
 * @param {string} sub Clerk user id
 * @param {Record<string, unknown>} [extra] more claims (or overrides)
 * @param {{ ttlSeconds?: number, notBeforeSeconds?: number, issuer?: string, azp?: string | null }} [opts]
 *   `notBeforeSeconds` relative to now (default -5); `azp: null` leaves it out
 */
export function clerkClaims(sub, extra = {}, { ttlSeconds = 3600, notBeforeSeconds = -5, issuer = `https://${clerkDomain()}`, azp = LOCAL_AUTHORIZED_PARTIES[0] } = {}) {
  const now = Math.floor(Date.now() / 1000);
  return {
    ...(azp === null ? {} : { azp }),
    exp: now + ttlSeconds,
    iat: now,
    iss: issuer,
    nbf: now + notBeforeSeconds,
    sid: `sess_${randomBytes(10).toString('hex')}`,
    sub,
    v: 2,
    role: 'authenticated',
    ...extra,
  };
}

/**
 * Signs a Clerk-shaped session token (RS256) with the instance's key.
 * @param {Pick<ClerkInstance, 'privateKeyPem' | 'issuer' | 'authorizedParties'>} instance
 * @param {string} sub Clerk user id
 * @param {{ ttlSeconds?: number, notBeforeSeconds?: number, issuer?: string, azp?: string | null, claims?: Record<string, unknown>, privateKeyPem?: string }} [opts]
 *   `privateKeyPem`: sign with another key (a forged token)
 */
export async function mintSessionToken(instance, sub, { claims = {}, privateKeyPem, ...opts } = {}) {
  const key = await importPKCS8(privateKeyPem ?? instance.privateKeyPem, 'RS256');
  const payload = clerkClaims(sub, claims, { issuer: instance.issuer, azp: instance.authorizedParties[0], ...opts });
  return new SignJWT(payload).setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: 'ins_local_standin' }).sign(key);
}

/**
 * Headers of a Clerk webhook delivery of `body`, signed with the real `svix`
 * library (https://docs.svix.com/receiving/verifying-payloads/how-manual).
 * @param {string} secret the instance's `whsec_…` secret
 * @param {string} body the exact JSON text sent
 * @param {{ id?: string, timestamp?: Date }} [opts]
 */
export function svixHeaders(secret, body, { id = `msg_${randomBytes(12).toString('hex')}`, timestamp = new Date() } = {}) {
  return {
    'content-type': 'application/json',
    'svix-id': id,
    'svix-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
    'svix-signature': new Webhook(secret).sign(id, timestamp, body),
  };
}

async function main() {
  const [cmd, sub, ...rest] = process.argv.slice(2);
  if (cmd !== 'token' || !sub || !/^user_[A-Za-z0-9]{1,64}$/.test(sub)) {
    console.error('usage: npm run clerk:token -- <user_id (user_…)> [--ttl seconds]');
    process.exit(2);
  }
  const ttlIndex = rest.indexOf('--ttl');
  const ttlSeconds = ttlIndex >= 0 ? Number(rest[ttlIndex + 1]) : 3600;
  console.log(await mintSessionToken(await loadClerkStandin(), sub, { ttlSeconds }));
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
