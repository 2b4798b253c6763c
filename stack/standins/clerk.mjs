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

/**
 * Loads the stand-in, generating it on first use.
 * @returns {Promise<{ publicKeyPem: string, privateKeyPem: string, webhookSecret: string, issuer: string, authorizedParties: string[], dir: string }>}
 */
export async function loadClerkStandin(dir = STANDIN_DIR) {
  const files = {
    pub: path.join(dir, 'jwt-public.pem'),
    priv: path.join(dir, 'jwt-private.pem'),
    whsec: path.join(dir, 'webhook-secret'),
  };
  if (!existsSync(files.pub) || !existsSync(files.priv)) {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const { publicKey, privateKey } = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    });
    await writeFile(files.priv, privateKey, { mode: 0o600 });
    await writeFile(files.pub, publicKey, { mode: 0o600 });
  }
  if (!existsSync(files.whsec)) {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await writeFile(files.whsec, `whsec_${randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
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
 * Signs a Clerk-shaped session token (RS256, claims as in
 * https://clerk.com/docs/backend-requests/resources/session-tokens, plus
 * `role: authenticated` as Supabase's Clerk integration requires).
 * @param {{ privateKeyPem: string, issuer: string, authorizedParties: string[] }} standin
 * @param {string} sub Clerk user id
 * @param {{ ttlSeconds?: number, claims?: Record<string, unknown> }} [opts]
 */
export async function mintSessionToken(standin, sub, { ttlSeconds = 3600, claims = {} } = {}) {
  const now = Math.floor(Date.now() / 1000);
  const key = await importPKCS8(standin.privateKeyPem, 'RS256');
  return new SignJWT({
    azp: standin.authorizedParties[0],
    sid: `sess_local${sub.slice(5, 20)}`,
    v: 2,
    role: 'authenticated',
    ...claims,
  })
    .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: 'ins_local_standin' })
    .setSubject(sub)
    .setIssuer(standin.issuer)
    .setIssuedAt(now)
    .setNotBefore(now - 5)
    .setExpirationTime(now + ttlSeconds)
    .sign(key);
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
