/**
 * Clerk session verification through `me` (real Deno over HTTP): a valid
 * Clerk-shaped token gets the caller's profile under RLS; every bad token is
 * answered 401 with the error shape, and none reaches the database.
 */
import { createFunctionsClient, FunctionsError, MeResponse } from '@chat-with-me/shared';
import { describe, expect, it } from 'vitest';
import { sessionToken, unsignedToken } from '../helpers/clerk.js';
import { createUser, newUserId, owner, startForFile } from '../helpers/db.js';
import { expectError, startTestFunctions } from '../helpers/functions.js';

const fns = startForFile(() => startTestFunctions());

const me = (token?: string, headers: Record<string, string> = {}) =>
  fetch(`${fns.url}/me`, { headers: token === undefined ? headers : { authorization: `Bearer ${token}`, ...headers } });

describe('a valid Clerk session token', () => {
  it('gets the caller’s own profile and account', async () => {
    const id = await createUser({ display_name: 'Grace', email: 'grace@example.org' });
    const res = await me(await sessionToken(fns.clerk, id));
    expect(res.status).toBe(200);
    const body = MeResponse.parse(await res.json());
    expect(body.user).toMatchObject({ id, display_name: 'Grace' });
    expect(body.account).toMatchObject({ user_id: id, email: 'grace@example.org', is_admin: false });
  });

  it('creates the profile from the token claims when the webhook has not arrived yet', async () => {
    const id = newUserId();
    const token = await sessionToken(fns.clerk, id, { claims: { name: 'New Comer', email: 'new@example.org' } });
    const body = MeResponse.parse(await (await me(token)).json());
    expect(body.user).toMatchObject({ id, display_name: 'New Comer' });
    expect(body.account).toMatchObject({ email: 'new@example.org', clerk_updated_at: null });
    expect(await owner()`select 1 from public.users where id = ${id}`).toHaveLength(1);
  });

  it('is accepted from every authorized party', async () => {
    const id = await createUser();
    expect((await me(await sessionToken(fns.clerk, id, { azp: fns.clerk.authorizedParties[0]! }))).status).toBe(200);
    expect((await me(await sessionToken(fns.clerk, id, { azp: fns.clerk.authorizedParties[1]! }))).status).toBe(200);
  });

  it('works through the shared typed client', async () => {
    const id = await createUser({ display_name: 'Typed' });
    const token = await sessionToken(fns.clerk, id);
    const client = createFunctionsClient({ url: fns.url, getToken: async () => token });
    expect((await client.me()).user.display_name).toBe('Typed');
    const anonymous = createFunctionsClient({ url: fns.url, getToken: () => null });
    const err = await anonymous.me().catch((e) => e);
    expect(err).toBeInstanceOf(FunctionsError);
    expect(err).toMatchObject({ status: 401, code: 'unauthorized' });
    expect(err.requestId).toBeTruthy();
  });
});

describe('refused tokens: 401 with the error shape', () => {
  const cases: [string, (sub: string) => Promise<string | undefined> | string | undefined, Record<string, string>?][] = [
    ['no Authorization header', () => undefined],
    ['expired', (sub) => sessionToken(fns.clerk, sub, { expiresIn: -120 })],
    ['not yet valid (nbf in the future)', (sub) => sessionToken(fns.clerk, sub, { notBefore: 300, expiresIn: 600 })],
    ['issued by another Clerk instance', (sub) => sessionToken(fns.clerk, sub, { issuer: 'https://evil.clerk.accounts.dev' })],
    ['issued for another application (azp)', (sub) => sessionToken(fns.clerk, sub, { azp: 'https://evil.example' })],
    // @clerk/backend >= 3.11.1 requires azp once authorized parties are set (clerk/javascript#8877).
    ['without azp', (sub) => sessionToken(fns.clerk, sub, { azp: null })],
    ['signed by another key', (sub) => sessionToken(fns.clerk, sub, { wrongKey: true })],
    ['unsigned (alg none)', (sub) => unsignedToken(fns.clerk, sub)],
    ['not a JWT', () => 'not-a-token'],
    ['a tampered payload', async (sub) => {
      const [h, , s] = (await sessionToken(fns.clerk, sub)).split('.');
      const forged = Buffer.from(JSON.stringify({ sub: newUserId(), iss: fns.clerk.issuer, exp: 9_999_999_999 })).toString('base64url');
      return `${h}.${forged}.${s}`;
    }],
    ['the local anon key (a Supabase JWT, not Clerk)', () =>
      'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZS1kZW1vIiwicm9sZSI6ImFub24iLCJleHAiOjE5ODM4MTI5OTZ9.CRXP1A7WOeoJeXxjNni43kdQwgnWNReilDMblYTn_I0'],
    ['a role other than authenticated', (sub) => sessionToken(fns.clerk, sub, { claims: { role: 'service_role' } })],
    ['a subject that is not a Clerk user id', () => sessionToken(fns.clerk, 'admin')],
  ];

  for (const [name, token] of cases) {
    it(name, async () => {
      const id = newUserId();
      const res = await me(await token(id));
      const body = await expectError(res, 401, 'unauthorized');
      expect(body.message.length).toBeGreaterThan(5);
      expect(await owner()`select 1 from public.users where id = ${id}`).toHaveLength(0);
    });
  }

  it('a non-Bearer scheme', async () => {
    await expectError(await me(undefined, { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` }), 401, 'unauthorized');
  });

  it('says why in `details.reason` for an expired token', async () => {
    const body = await expectError(await me(await sessionToken(fns.clerk, newUserId(), { expiresIn: -120 })), 401);
    expect(body.details).toMatchObject({ reason: 'token-expired' });
  });

  it('never logs a token', async () => {
    const token = await sessionToken(fns.clerk, newUserId());
    await me(token);
    await me(`${token}x`);
    const logs = await fns.logs();
    expect(logs).toContain('"fn":"me"');
    expect(logs).not.toContain(token.split('.')[2]!);
    expect(logs).not.toContain(token.split('.')[1]!);
  });
});
