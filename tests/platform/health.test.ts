/**
 * health over HTTP: database reachability and migration status, provider
 * configuration, never a secret; 503 when the database is unreachable; how a
 * function with a missing secret answers.
 */
import { HealthResponse } from '@chat-with-me/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../stack/runtime/db.mjs';
import { owner, startForFile } from '../helpers/db.js';
import { expectError, startTestFunctions, type TestFunctions } from '../helpers/functions.js';

const PROVIDER_SECRETS = {
  OPENAI_API_KEY: 'sk-test-openai-SECRET-VALUE-1',
  DEEPSEEK_API_KEY: 'sk-test-deepseek-SECRET-VALUE-2',
  STRIPE_SECRET_KEY: 'sk_test_stripe_SECRET_VALUE_3',
  STRIPE_WEBHOOK_SECRET: 'whsec_stripeSECRETVALUE4',
  CLOUDINARY_CLOUD_NAME: 'demo-cloud',
  CLOUDINARY_API_KEY: '123456789012345',
  CLOUDINARY_API_SECRET: 'cloudinary-SECRET-VALUE-5',
};

const fns = startForFile(() => startTestFunctions());

const health = async (url: string) => {
  const res = await fetch(`${url}/health`);
  const text = await res.text();
  return { res, text, body: HealthResponse.parse(JSON.parse(text)) };
};

describe('with the database up', () => {
  it('reports the applied migrations and the providers', async () => {
    const { res, body } = await health(fns.url);
    expect(res.status).toBe(200);
    const [m] = await owner()`select count(*)::int as count, max(version) as latest from supabase_migrations.schema_migrations`;
    expect(body.database).toEqual({ reachable: true, migrations_applied: m!.count, latest_migration: m!.latest });
    expect(body.database.migrations_applied).toBeGreaterThanOrEqual(10);
    expect(body.providers).toEqual({ clerk: 'configured', openai: 'missing', deepseek: 'missing', stripe: 'missing', cloudinary: 'missing' });
    expect(body.status).toBe('degraded');
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
  });

  it('shows no secret, key or token', async () => {
    const { text } = await health(fns.url);
    for (const v of [fns.clerk.webhookSecret, fns.clerk.publicKeyPem.split('\n')[1]!, 'sb_secret_', 'eyJ', 'postgres:postgres', '127.0.0.1']) {
      expect(text).not.toContain(v);
    }
  });
});

describe('with every provider configured', () => {
  let all: TestFunctions;
  beforeAll(async () => {
    all = await startTestFunctions({ env: PROVIDER_SECRETS });
  });
  afterAll(() => all?.stop());

  it('is ok, and still shows no secret', async () => {
    const { res, text, body } = await health(all.url);
    expect(res.status).toBe(200);
    expect(body.status).toBe('ok');
    expect(Object.values(body.providers)).toEqual(['configured', 'configured', 'configured', 'configured', 'configured']);
    for (const v of Object.values(PROVIDER_SECRETS)) expect(text).not.toContain(v);
  });
});

describe('with the database unreachable', () => {
  let down: TestFunctions;
  beforeAll(async () => {
    const closed = await freePort();
    down = await startTestFunctions({ dbUrl: `postgresql://postgres:postgres@127.0.0.1:${closed}/postgres?sslmode=disable` });
  });
  afterAll(() => down?.stop());

  it('answers 503 unavailable quickly', async () => {
    const started = Date.now();
    const { res, body } = await health(down.url);
    expect(res.status).toBe(503);
    expect(body).toMatchObject({ status: 'unavailable', database: { reachable: false, migrations_applied: null } });
    expect(Date.now() - started).toBeLessThan(6000);
  });

  it('makes database-backed functions answer 503, not 500', async () => {
    const { sessionToken } = await import('../helpers/clerk.js');
    const res = await fetch(`${down.url}/me`, { headers: { authorization: `Bearer ${await sessionToken(down.clerk, 'user_downdb')}` } });
    await expectError(res, 503, 'unavailable');
  });
});

describe('with a secret missing', () => {
  let partial: TestFunctions;
  beforeAll(async () => {
    partial = await startTestFunctions({ env: { CLERK_WEBHOOK_SECRET: '', LOCAL_STANDINS: 'clerk' } });
  });
  afterAll(() => partial?.stop());

  it('the function needing it answers 503 naming the variable, never 500', async () => {
    const body = '{"type":"user.created"}';
    const res = await fetch(`${partial.url}/clerk-webhook`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const err = await expectError(res, 503, 'unavailable');
    expect(err.message).toContain('CLERK_WEBHOOK_SECRET');
    expect(err.details).toEqual({ missing: ['CLERK_WEBHOOK_SECRET'], invalid: [] });
  });

  it('logs the problem at start-up by name', async () => {
    const logs = await partial.logs();
    expect(logs).toMatch(/configuration error.*"missing":\["CLERK_WEBHOOK_SECRET"\]/);
  });

  it('functions that do not need it keep working; health reports clerk missing', async () => {
    const { body } = await health(partial.url);
    expect(body.providers.clerk).toBe('missing');
    expect(body.database.reachable).toBe(true);
  });
});

describe('with the local Clerk stand-in', () => {
  let local: TestFunctions;
  beforeAll(async () => {
    local = await startTestFunctions({ env: { LOCAL_STANDINS: 'clerk' } });
  });
  afterAll(() => local?.stop());

  it('reports clerk as local', async () => {
    expect((await health(local.url)).body.providers.clerk).toBe('local');
  });
});
