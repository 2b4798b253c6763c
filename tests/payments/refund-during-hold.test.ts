/**
 * A Stripe refund (charge.refunded) that arrives while AI calls hold credits
 * (20261122110000_payments.sql apply_payment_refunds; README "Credits and
 * payments"): the refund debits only what is available (balance − held), the
 * rest is recorded as unrecovered on the payment, and every reservation made
 * before the refund still settles to its full cost. The attacker: a user who
 * starts AI calls, then refunds the top-up that paid for them, hoping the calls
 * are settled against an empty wallet (free answers) or that the refund takes
 * the held credits.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { asService, closeDb, createUser, owner } from '../helpers/db.js';
import { balanceOf, expectLedgerReconciles, PACKS, paymentOf, stripeIds } from '../helpers/stripe.js';

afterAll(closeDb);
afterEach(expectLedgerReconciles);

const { sid, pid, eid } = stripeIds('hold');
let seq = 0;

/** A user whose wallet holds exactly one paid starter pack (5,000,000 micro-USD), whatever the welcome grant. */
async function paidUser(): Promise<{ user: string; session: string; pi: string }> {
  const user = await createUser();
  const before = await balanceOf(user);
  if (before > 0) {
    await asService((tx) => tx`select private.record_ledger_entry(${user}, 'adjustment', ${-before}, 'test', ${`drain:${user}`}, 'test: empty wallet')`);
  }
  const session = sid();
  const pi = pid();
  await asService((tx) => tx`select private.create_pending_payment(${user}, ${PACKS.starter.id}, ${session}, ${PACKS.starter.price_minor}, 'usd', ${PACKS.starter.credits})`);
  await asService((tx) => tx`select private.stripe_checkout_completed(${eid()}, ${session}, 'paid', ${pi}, null, now())`);
  expect(await balanceOf(user)).toBe(PACKS.starter.credits);
  return { user, session, pi };
}

const reserve = (user: string, amount: number) =>
  asService((tx) => tx<{ id: string }[]>`select id from private.reserve_credits(${user}, ${amount}, ${`test:${user}:${seq++}`}, 600, 'ai_chat')`).then((r) => r[0]!.id);
const settle = (reservation: string, cost: number) =>
  asService((tx) => tx<{ status: string; settled: number }[]>`
    select status, settled_micro_usd::float8 as settled
    from private.settle_reservation(${reservation}, ${cost}, 'ai_interaction', ${reservation}, 'test settlement')`).then((r) => r[0]!);
const refund = (pi: string, total: number) =>
  asService((tx) => tx`select private.stripe_charge_refunded(${eid()}, ${`ch_${pi}`}, ${pi}, ${PACKS.starter.price_minor}, ${total}, 'usd', now()) as o`).then((r) => r[0]!.o);

async function walletOf(user: string) {
  const [w] = await owner()<{ balance: number; held: number }[]>`
    select balance_micro_usd::float8 as balance, held_micro_usd::float8 as held from public.credit_wallets where user_id = ${user}`;
  return w!;
}

describe('a refund while AI calls hold credits', () => {
  it('debits only balance − held; the hold made before the refund settles to its full cost', async () => {
    const { user, session, pi } = await paidUser();
    const hold = await reserve(user, 4_000_000);

    expect(await refund(pi, PACKS.starter.price_minor)).toBe('refunded'); // a full refund: 5,000,000 owed back
    // Available was 5,000,000 − 4,000,000: that is what the refund takes; the held 4,000,000 stay for the call.
    expect(await paymentOf(session)).toMatchObject({ status: 'refunded', credits_refunded_micro_usd: 1_000_000, credits_unrecovered_micro_usd: 4_000_000 });
    expect(await walletOf(user)).toEqual({ balance: 4_000_000, held: 4_000_000 });
    const [entry] = await owner()`select metadata from public.credit_ledger where user_id = ${user} and kind = 'refund'`;
    expect(entry!.metadata).toMatchObject({ owed_micro_usd: 5_000_000, unrecovered_micro_usd: 4_000_000, held_micro_usd: 4_000_000 });

    // The call ends: charged in full, nothing uncollected.
    expect(await settle(hold, 3_500_000)).toEqual({ status: 'settled', settled: 3_500_000 });
    const [usage] = await owner()`select amount_micro_usd::float8 as amount, metadata from public.credit_ledger where source = 'ai_interaction' and source_id = ${hold}`;
    expect(usage).toMatchObject({ amount: -3_500_000, metadata: { uncollected_micro_usd: 0 } });
    expect(await walletOf(user)).toEqual({ balance: 500_000, held: 0 });
    // A later redelivery of the same refund total changes nothing.
    expect(await refund(pi, PACKS.starter.price_minor)).toBe('unchanged');
    expect(await walletOf(user)).toEqual({ balance: 500_000, held: 0 });
  });

  it('with nothing held, the whole refund is debited as before', async () => {
    const { user, session, pi } = await paidUser();
    expect(await refund(pi, 200)).toBe('partially_refunded'); // 2/5 of the pack
    expect(await paymentOf(session)).toMatchObject({ credits_refunded_micro_usd: 2_000_000, credits_unrecovered_micro_usd: 0 });
    expect(await walletOf(user)).toEqual({ balance: 3_000_000, held: 0 });
  });

  it('concurrently: a refund racing ten settlements and a new reservation; every settlement is charged in full, nothing goes below zero', async () => {
    const { user, session, pi } = await paidUser();
    const holds = await Promise.all(Array.from({ length: 10 }, () => reserve(user, 400_000))); // 4,000,000 held, 1,000,000 available
    const cost = 300_000;
    const results = await Promise.allSettled([
      refund(pi, PACKS.starter.price_minor),
      ...holds.map((h) => settle(h, cost)),
      reserve(user, 900_000), // may fit or be refused (PT402), depending on the order
    ]);
    const settlements = results.slice(1, 11);
    for (const r of settlements) expect(r).toEqual({ status: 'fulfilled', value: { status: 'settled', settled: cost } });
    expect(results[0]).toMatchObject({ status: 'fulfilled', value: 'refunded' });
    const late = results[11]!;
    if (late.status === 'rejected') expect((late.reason as { code?: string }).code).toBe('PT402');

    const w = await walletOf(user);
    const p = await paymentOf(session);
    expect(p.credits_refunded_micro_usd + p.credits_unrecovered_micro_usd).toBe(PACKS.starter.credits);
    // Every settlement was charged; the refund took what it could; the wallet still covers what is held.
    expect(w.balance).toBe(PACKS.starter.credits - 10 * cost - p.credits_refunded_micro_usd);
    expect(w.balance).toBeGreaterThanOrEqual(w.held);
    expect(w.held).toBe(late.status === 'fulfilled' ? 900_000 : 0);
    const [uncollected] = await owner()`
      select coalesce(sum((metadata ->> 'uncollected_micro_usd')::bigint), 0)::int as n
      from public.credit_ledger where user_id = ${user} and kind = 'ai_usage'`;
    expect(uncollected!.n).toBe(0);
  });
});
