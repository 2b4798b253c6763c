/**
 * The local API gateway and the Data API as a client meets them: which role
 * each key or token becomes, and what is refused with which body
 * (https://supabase.com/docs/guides/api/api-keys; PostgREST's JWT errors,
 * https://docs.postgrest.org/en/v12/references/errors.html).
 */
import { SignJWT, importPKCS8 } from 'jose';
import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { anonClient, apiUrl, clerkStandin, clerkToken, clientAs, clientWithToken, serviceClient } from '../helpers/client.js';
import { closeDb, createUser } from '../helpers/db.js';

const rest = (path: string, headers: Record<string, string> = {}, init: RequestInit = {}) =>
  fetch(`${apiUrl()}/rest/v1${path}`, { ...init, headers: { 'content-type': 'application/json', ...headers } });

/** The role PostgREST ran the request as, read back through an RPC that reports it. */
async function roleOf(headers: Record<string, string>) {
  const res = await rest('/credit_packs?select=id&limit=1', headers);
  return res.status;
}

let alice: string;
beforeAll(async () => {
  alice = await createUser({ display_name: 'Gateway Alice' });
});
afterAll(closeDb);

describe('API keys', () => {
  it('no apikey: 401 with the hosted gateway body', async () => {
    const res = await rest('/credit_packs?select=id');
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ message: 'No API key found in request' });
  });

  it('an unknown apikey: 401 Invalid API key', async () => {
    const res = await rest('/credit_packs?select=id', { apikey: 'sb_publishable_notours' });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ message: 'Invalid API key' });
  });

  it('the publishable key alone is anon: reads what anon may (active credit packs), not users', async () => {
    const anon = anonClient();
    const packs = await anon.from('credit_packs').select('id');
    expect(packs.error).toBeNull();
    expect(packs.data!.length).toBeGreaterThan(0);
    const users = await anon.from('users').select('id');
    expect(users.error?.code).toBe('42501');
  });

  it('the legacy anon key works as the publishable key does', async () => {
    const key = inject('anonKey');
    expect(await roleOf({ apikey: key, authorization: `Bearer ${key}` })).toBe(200);
    const users = await rest('/users?select=id', { apikey: key, authorization: `Bearer ${key}` });
    expect(users.status).toBe(401);
  });

  it('the secret key is service_role: it reads every user (RLS bypassed)', async () => {
    const { data, error } = await serviceClient().from('users').select('id').eq('id', alice);
    expect(error).toBeNull();
    expect(data).toEqual([{ id: alice }]);
  });

  it('the secret key from a browser (Mozilla User-Agent) is refused', async () => {
    const key = inject('secretKey');
    const res = await rest('/users?select=id', { apikey: key, 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) Chrome/130' });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ message: 'Forbidden use of secret API key in browser' });
    const server = await rest('/users?select=id&limit=1', { apikey: key, 'user-agent': 'node' });
    expect(server.status).toBe(200);
  });
});

describe('Clerk session tokens (third-party auth)', () => {
  it('a valid token is authenticated as its sub: RLS shows the caller their own account only', async () => {
    const { data, error } = await clientAs(alice).from('user_accounts').select('user_id');
    expect(error).toBeNull();
    expect(data).toEqual([{ user_id: alice }]);
  });

  it('an expired token: 401 from PostgREST, nothing read', async () => {
    const token = await clerkToken(alice, { ttlSeconds: -60 });
    const { data, error, status } = await clientWithToken(token).from('user_accounts').select('user_id');
    expect(status).toBe(401);
    expect(data).toBeNull();
    expect(error?.code).toMatch(/^PGRST30/);
  });

  it('a token signed by another key (forged): 401', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
    const standin = await clerkStandin();
    const forged = await new SignJWT({ role: 'authenticated' })
      .setProtectedHeader({ alg: 'RS256', kid: 'ins_local_standin' })
      .setSubject(alice)
      .setIssuer(standin.issuer)
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(await importPKCS8(privateKey, 'RS256'));
    const { status, data } = await clientWithToken(forged).from('user_accounts').select('user_id');
    expect(status).toBe(401);
    expect(data).toBeNull();
  });

  it('a token claiming service_role signed by an unknown HS256 secret: 401', async () => {
    const token = await new SignJWT({ role: 'service_role' })
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode('not-the-local-jwt-secret-at-all-000000'));
    const res = await rest('/users?select=id', { apikey: inject('publishableKey'), authorization: `Bearer ${token}` });
    expect(res.status).toBe(401);
  });

  it('garbage as a bearer token: 401 with a PostgREST error body', async () => {
    const res = await rest('/users?select=id', { apikey: inject('publishableKey'), authorization: 'Bearer not.a.jwt' });
    expect(res.status).toBe(401);
    const body = await res.json();
    expect(body.code).toMatch(/^PGRST/);
    expect(body.message).toBeTruthy();
  });
});

describe('CORS as the hosted gateway answers it', () => {
  it('a preflight from any origin is allowed with the requested headers', async () => {
    const res = await fetch(`${apiUrl()}/rest/v1/rpc/get_inbox`, {
      method: 'OPTIONS',
      headers: { origin: 'http://localhost:3000', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, apikey, content-type, x-client-info' },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-allow-headers')).toContain('apikey');
  });

  it('answers carry Access-Control-Allow-Origin and expose Content-Range', async () => {
    const res = await rest('/credit_packs?select=id', { apikey: inject('publishableKey'), origin: 'http://localhost:3000' });
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-expose-headers')).toContain('Content-Range');
  });
});

describe('functions on the same origin', () => {
  it('functions.invoke reaches the functions through /functions/v1 with the Clerk token', async () => {
    const { data, error } = await clientAs(alice).functions.invoke('me', { method: 'GET' });
    expect(error).toBeNull();
    expect(data).toMatchObject({ user: { id: alice } });
  });
});
