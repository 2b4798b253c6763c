/**
 * Analytics views (supabase/migrations/*_analytics.sql) on a small known data
 * set. The rows are dated 2020-02-02 (UTC) and paid in the ISO 4217 "no
 * currency" code XXX, so the figures of that day are exactly this file's,
 * whatever other test files write meanwhile.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asAnon, asService, asUser, closeDb, createUser, owner, pgError } from '../helpers/db.js';

afterAll(closeDb);

const DAY = '2020-02-02';
const AT = `${DAY} 10:00:00+00`;
const model = `test-model-${randomBytes(4).toString('hex')}`;
let u1: string, u2: string, u3: string, chat: string;

beforeAll(async () => {
  [u1, u2, u3] = [await createUser(), await createUser(), await createUser()];
  chat = (await asUser(u1, (tx) => tx`select id from public.get_or_create_direct_chat(${u2})`))[0]!.id;
  await asService(async (tx) => {
    await tx`insert into public.messages (chat_id, sender_id, kind, content, created_at) values
      (${chat}, ${u1}, 'text', 'one', ${AT}), (${chat}, ${u1}, 'text', 'two', ${AT}),
      (${chat}, ${u2}, 'text', 'three', ${AT}), (${chat}, null, 'ai', 'answer', ${AT})`;
    await tx`insert into public.friends (requester_id, addressee_id, status, created_at, responded_at)
             values (${u1}, ${u3}, 'declined', ${AT}, ${AT})`;
  });
  const ai = (user: string, status: string, cost: number | null, error: string | null, at = AT) => owner()`
    insert into public.ai_interactions (user_id, chat_id, provider, model, status, stream, estimated_prompt_tokens,
      max_output_tokens, prompt_tokens, completion_tokens, input_micro_usd_per_mtok, output_micro_usd_per_mtok,
      cost_micro_usd, charged_micro_usd, latency_ms, error_code, created_at, finished_at)
    values (${user}, ${chat}, 'openai', ${model}, ${status}, true, 100, 1000,
      ${cost === null ? null : 100}, ${cost === null ? null : 50}, 1000000, 2000000,
      ${cost}, ${cost}, ${cost === null ? null : 400}, ${error}, ${at}, ${at})`;
  await ai(u3, 'succeeded', 200, null);
  await ai(u3, 'succeeded', 300, null);
  await ai(u3, 'failed', null, 'provider_unavailable');
  await ai(u3, 'succeeded', 700, null, new Date(Date.now() - 86_400_000).toISOString());
  const [pack] = await owner()`select id from public.credit_packs order by id limit 1`;
  const pay = (status: string, amount: number, refunded: number, paid: boolean) => owner()`
    insert into public.payments (user_id, pack_id, status, amount_minor, currency, credits_micro_usd,
      stripe_checkout_session_id, amount_refunded_minor, credits_refunded_micro_usd, created_at, paid_at, failed_at, refunded_at)
    values (${u1}, ${pack!.id}, ${status}, ${amount}, 'xxx', 5000000, ${`cs_test_${randomBytes(8).toString('hex')}`},
      ${refunded}, ${refunded > 0 ? 2500000 : 0}, ${AT}, ${paid ? AT : null}, ${status === 'failed' ? AT : null},
      ${refunded > 0 ? AT : null})`;
  await pay('paid', 500, 0, true);
  await pay('partially_refunded', 1000, 500, true);
  await pay('failed', 700, 0, false);
});

const one = async (q: Promise<any[]>) => {
  const rows = await q;
  expect(rows).toHaveLength(1);
  return rows[0];
};

describe('Studio (postgres) reads the figures', () => {
  it('daily and monthly active users', async () => {
    expect(await one(owner()`select active_users from analytics.daily_active_users where day = ${DAY}`)).toEqual({ active_users: '3' });
    expect(await one(owner()`select active_users from analytics.monthly_active_users where month = '2020-02-01'`)).toEqual({ active_users: '3' });
  });

  it('messages per day by chat kind', async () => {
    expect(await one(owner()`select messages, ai_messages, media_messages, senders from analytics.messages_per_day where day = ${DAY} and chat_kind = 'direct'`))
      .toEqual({ messages: '4', ai_messages: '1', media_messages: '0', senders: '2' });
  });

  it('friend requests by outcome', async () => {
    expect(await one(owner()`select friendships, declined_requests from analytics.new_friendships_per_day where day = ${DAY}`))
      .toEqual({ friendships: '0', declined_requests: '1' });
  });

  it('AI requests, tokens, spend and error rate per provider and model', async () => {
    expect(await one(owner()`select requests, succeeded, prompt_tokens, completion_tokens, cost_micro_usd, charged_micro_usd, median_latency_ms
                             from analytics.ai_usage_per_day where day = ${DAY} and model = ${model}`))
      .toEqual({ requests: '3', succeeded: '2', prompt_tokens: '200', completion_tokens: '100', cost_micro_usd: '500', charged_micro_usd: '500', median_latency_ms: 400 });
    expect(await one(owner()`select requests, failed, failed_pct, most_common_error from analytics.ai_error_rates where day = ${DAY} and model = ${model}`))
      .toEqual({ requests: '3', failed: '1', failed_pct: '33.33', most_common_error: 'provider_unavailable' });
  });

  it('top spenders over the last 30 days', async () => {
    expect(await one(owner()`select requests, spent_micro_usd from analytics.top_spenders where user_id = ${u3}`))
      .toEqual({ requests: '1', spent_micro_usd: '700' });
  });

  it('revenue per day and currency, refunds and failed payments', async () => {
    expect(await one(owner()`select payments, gross_minor, refunded_minor, net_minor from analytics.revenue_per_day where day = ${DAY} and currency = 'xxx'`))
      .toEqual({ payments: '2', gross_minor: '1500', refunded_minor: '500', net_minor: '1000' });
    expect(await owner()`select amount_minor, amount_refunded_minor, credits_refunded_micro_usd from analytics.refunds where user_id = ${u1}`)
      .toEqual([{ amount_minor: '1000', amount_refunded_minor: '500', credits_refunded_micro_usd: '2500000' }]);
    expect(await owner()`select status, amount_minor from analytics.failed_payments where user_id = ${u1}`)
      .toEqual([{ status: 'failed', amount_minor: '700' }]);
  });

  it('wallet liabilities equal the wallets and ledger at the same moment', async () => {
    const [view, direct] = await owner().begin('isolation level repeatable read', async (tx) => [
      (await tx`select * from analytics.wallet_liabilities`)[0],
      (await tx`select (select coalesce(sum(balance_micro_usd), 0) from public.credit_wallets)::bigint as outstanding_micro_usd,
                       (select coalesce(sum(amount_micro_usd), 0) from public.credit_ledger where kind = 'grant')::bigint as granted_micro_usd`)[0],
    ]);
    expect(view).toMatchObject(direct!);
    expect(BigInt(view!.outstanding_micro_usd)).toBeGreaterThan(0n);
  });
});

describe('clients', () => {
  it('cannot read any analytics view, admin or not', async () => {
    const admin = await createUser({ is_admin: true });
    for (const who of [u1, admin]) {
      expect((await pgError(asUser(who, (tx) => tx`select * from analytics.daily_active_users`))).code).toBe('42501');
      expect((await pgError(asUser(who, (tx) => tx`select * from analytics.wallet_liabilities`))).code).toBe('42501');
    }
    expect((await pgError(asAnon((tx) => tx`select * from analytics.revenue_per_day`))).code).toBe('42501');
  });

  it('every view has a comment for Studio', async () => {
    const bare = await owner()`
      select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'analytics' and c.relkind = 'v' and obj_description(c.oid, 'pg_class') is null`;
    expect(bare).toEqual([]);
  });
});
