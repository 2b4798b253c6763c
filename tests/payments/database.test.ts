/**
 * Payments in the database (20261122110000_payments.sql), per actor, as the
 * Data API runs requests: packs readable by anon and users (active ones),
 * editable by admins only; payments readable by their owner only and written
 * by nobody but the service functions; the private functions closed to
 * clients; and the refund arithmetic and ordering rules called directly.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { asAnon, asService, asUser, closeDb, createUser, owner, pgError } from '../helpers/db.js';
import { balanceOf, createPack, expectLedgerReconciles, PACKS, paymentOf, stripeIds } from '../helpers/stripe.js';

afterAll(closeDb);
afterEach(expectLedgerReconciles);

const { sid, pid, eid } = stripeIds('db');

/** A pending payment recorded the way payments-checkout does. */
async function pendingPayment(user: string, pack: { id: string; price_minor: number; currency: string; credits: number } = PACKS.starter) {
  const session = sid();
  await asService((tx) => tx`select private.create_pending_payment(${user}, ${pack.id}, ${session}, ${pack.price_minor}, ${pack.currency}, ${pack.credits})`);
  return session;
}
const completed = (session: string, pi: string, status = 'paid') =>
  asService((tx) => tx`select private.stripe_checkout_completed(${eid()}, ${session}, ${status}, ${pi}, null, now()) as o`).then((r) => r[0]!.o);
const refunded = (pi: string, amount: number, refundedTotal: number, charge = `ch_${pi}`) =>
  asService((tx) => tx`select private.stripe_charge_refunded(${eid()}, ${charge}, ${pi}, ${amount}, ${refundedTotal}, 'usd', now()) as o`).then((r) => r[0]!.o);

describe('credit_packs', () => {
  it('anon reads active packs only, and cannot write', async () => {
    const hidden = await createPack({ price_minor: 100, currency: 'usd', credits: 1_000_000, active: false });
    const packs = await asAnon((tx) => tx<{ id: string; active: boolean }[]>`select id, active from public.credit_packs`, { method: 'GET' });
    expect(packs.map((p) => p.id)).toEqual(expect.arrayContaining([PACKS.starter.id, PACKS.standard.id]));
    expect(packs.every((p) => p.active)).toBe(true);
    expect(packs.map((p) => p.id)).not.toContain(hidden);
    expect((await pgError(asAnon((tx) => tx`insert into public.credit_packs (name, price_minor, currency, credits_micro_usd) values ('x', 1, 'usd', 1)`))).code).toBe('42501');
  });

  it('a user reads active packs only and can neither add, change nor delete one', async () => {
    const user = await createUser();
    const hidden = await createPack({ price_minor: 100, currency: 'usd', credits: 1_000_000, active: false });
    const ids = (await asUser(user, (tx) => tx<{ id: string }[]>`select id from public.credit_packs`)).map((p) => p.id);
    expect(ids).toContain(PACKS.starter.id);
    expect(ids).not.toContain(hidden);
    const insert = await pgError(asUser(user, (tx) => tx`insert into public.credit_packs (name, price_minor, currency, credits_micro_usd) values ('free', 1, 'usd', 999999999)`));
    expect(insert.message).toMatch(/row-level security/);
    expect(await asUser(user, (tx) => tx`update public.credit_packs set price_minor = 1 where id = ${PACKS.starter.id} returning id`)).toEqual([]);
    expect(await asUser(user, (tx) => tx`delete from public.credit_packs where id = ${PACKS.starter.id} returning id`)).toEqual([]);
    expect((await owner()`select price_minor::int as p from public.credit_packs where id = ${PACKS.starter.id}`)[0]!.p).toBe(500);
  });

  it('an admin reads all packs, adds, changes and deletes an unsold one; a sold pack cannot be deleted', async () => {
    const admin = await createUser({ is_admin: true });
    const hidden = await createPack({ price_minor: 100, currency: 'usd', credits: 1_000_000, active: false });
    expect((await asUser(admin, (tx) => tx<{ id: string }[]>`select id from public.credit_packs`)).map((p) => p.id)).toContain(hidden);
    const [added] = await asUser(admin, (tx) => tx<{ id: string }[]>`
      insert into public.credit_packs (name, price_minor, currency, credits_micro_usd, active) values ('Admin pack', 1234, 'eur', 13000000, false) returning id`);
    expect(await asUser(admin, (tx) => tx`update public.credit_packs set active = true, price_minor = 1200 where id = ${added!.id} returning price_minor::int as p`)).toEqual([{ p: 1200 }]);
    expect(await asUser(admin, (tx) => tx`delete from public.credit_packs where id = ${added!.id} returning id`)).toHaveLength(1);

    const sold = await createPack({ price_minor: 100, currency: 'usd', credits: 1_000_000 });
    await pendingPayment(await createUser(), { id: sold, price_minor: 100, currency: 'usd', credits: 1_000_000 });
    expect((await pgError(asUser(admin, (tx) => tx`delete from public.credit_packs where id = ${sold}`))).code).toBe('23503');
  });

  it('prices and credits are positive integers within Stripe’s limit; currencies lower-case ISO', async () => {
    const admin = await createUser({ is_admin: true });
    for (const [price, currency, credits] of [[0, 'usd', 1], [100_000_000, 'usd', 1], [100, 'USD', 1], [100, 'usd', 0], [100, 'dollars', 1]] as const) {
      const err = await pgError(asUser(admin, (tx) => tx`
        insert into public.credit_packs (name, price_minor, currency, credits_micro_usd) values ('bad', ${price}, ${currency}, ${credits})`));
      expect(err.code).toBe('23514');
    }
  });
});

describe('payments', () => {
  it('a user reads their own payments only; anon reads none', async () => {
    const [alice, bob] = [await createUser(), await createUser()];
    const a = await pendingPayment(alice);
    await pendingPayment(bob);
    const rows = await asUser(alice, (tx) => tx<{ stripe_checkout_session_id: string; user_id: string }[]>`select stripe_checkout_session_id, user_id from public.payments`);
    expect(rows).toEqual([{ stripe_checkout_session_id: a, user_id: alice }]);
    expect((await pgError(asAnon((tx) => tx`select * from public.payments`))).code).toBe('42501');
  });

  it('nobody forges or changes a payment through the Data API', async () => {
    const user = await createUser();
    const session = await pendingPayment(user);
    const forge = await pgError(asUser(user, (tx) => tx`
      insert into public.payments (user_id, pack_id, amount_minor, currency, credits_micro_usd, stripe_checkout_session_id, status)
      values (${user}, ${PACKS.starter.id}, 1, 'usd', 999000000, ${sid()}, 'paid')`));
    expect(forge.code).toBe('42501');
    expect((await pgError(asUser(user, (tx) => tx`update public.payments set status = 'paid' where stripe_checkout_session_id = ${session}`))).code).toBe('42501');
    expect((await pgError(asUser(user, (tx) => tx`delete from public.payments where stripe_checkout_session_id = ${session}`))).code).toBe('42501');
    expect((await paymentOf(session)).status).toBe('pending');
  });

  it('a user sees neither another user’s wallet nor their top-up ledger entries', async () => {
    const [alice, bob] = [await createUser(), await createUser()];
    const session = await pendingPayment(bob);
    await completed(session, pid());
    expect(await asUser(alice, (tx) => tx`select 1 from public.credit_wallets where user_id = ${bob}`)).toEqual([]);
    expect(await asUser(alice, (tx) => tx`select 1 from public.credit_ledger where user_id = ${bob}`)).toEqual([]);
    expect(await asUser(bob, (tx) => tx`select kind from public.credit_ledger where source = 'stripe.checkout_session'`)).toEqual([{ kind: 'topup' }]);
    const forged = await pgError(asUser(alice, (tx) => tx`
      insert into public.credit_ledger (user_id, kind, amount_micro_usd, balance_after_micro_usd, source, source_id)
      values (${alice}, 'topup', 1000000000, 0, 'stripe.checkout_session', ${sid()})`));
    expect(forged.code).toBe('42501');
  });

  it('stripe_charge_refunds is closed to clients', async () => {
    const user = await createUser();
    expect((await pgError(asUser(user, (tx) => tx`select * from public.stripe_charge_refunds`))).code).toBe('42501');
    expect((await pgError(asAnon((tx) => tx`select * from public.stripe_charge_refunds`))).code).toBe('42501');
  });
});

describe('the private functions', () => {
  const calls = [
    (u: string) => `select private.create_pending_payment('${u}', '${PACKS.starter.id}', 'cs_test_forged', 500, 'usd', 999999999)`,
    () => `select private.stripe_checkout_completed('evt_forged', 'cs_test_x', 'paid', 'pi_x', 500)`,
    () => `select private.stripe_async_payment_succeeded('evt_forged', 'cs_test_x', 'paid', 'pi_x', 500)`,
    () => `select private.stripe_async_payment_failed('evt_forged', 'cs_test_x', 'pi_x')`,
    () => `select private.stripe_checkout_expired('evt_forged', 'cs_test_x')`,
    () => `select private.stripe_charge_refunded('evt_forged', 'ch_x', 'pi_x', 500, 0, 'usd')`,
    () => `select private.mark_payment_paid(gen_random_uuid(), 'evt_forged', 500)`,
    () => `select private.apply_payment_refunds(gen_random_uuid(), 'evt_forged')`,
  ];
  it('are refused to signed-in users and anon (42501)', async () => {
    const user = await createUser();
    for (const sql of calls) {
      expect((await pgError(asUser(user, (tx) => tx.unsafe(sql(user))))).code, sql(user)).toBe('42501');
      expect((await pgError(asAnon((tx) => tx.unsafe(sql(user))))).code, sql(user)).toBe('42501');
    }
  });

  it('internal helpers are not granted even to the service role', async () => {
    for (const sql of calls.slice(6)) expect((await pgError(asService((tx) => tx.unsafe(sql('x'))))).code).toBe('42501');
  });

  it('create_pending_payment is idempotent by session and refuses another user’s session', async () => {
    const [a, b] = [await createUser(), await createUser()];
    const session = await pendingPayment(a);
    await pendingPayment(a); // another session
    const again = await asService((tx) => tx`select (private.create_pending_payment(${a}, ${PACKS.starter.id}, ${session}, 500, 'usd', 5000000)).id`);
    expect(again[0]!.id).toBe((await paymentOf(session)).id);
    const err = await pgError(asService((tx) => tx`select private.create_pending_payment(${b}, ${PACKS.starter.id}, ${session}, 500, 'usd', 5000000)`));
    expect(err.code).toBe('23505');
  });

  it('a completed event with an unpaid status credits nothing; paid credits once across event ids', async () => {
    const user = await createUser();
    const session = await pendingPayment(user);
    const pi = pid();
    expect(await completed(session, pi, 'unpaid')).toBe('awaiting_payment');
    expect(await completed(session, pi, 'no_payment_required')).toBe('awaiting_payment');
    expect(await balanceOf(user)).toBe(1_000_000);
    expect(await completed(session, pi)).toBe('credited');
    expect(await completed(session, pi)).toBe('already_paid');
    expect(await balanceOf(user)).toBe(6_000_000);
  });

  it('refund arithmetic has no overflow for large packs (numeric, exact floor)', async () => {
    const big = await createPack({ price_minor: 99_999_999, currency: 'usd', credits: 9_000_000_000_000_000 });
    const user = await createUser();
    const session = await pendingPayment(user, { id: big, price_minor: 99_999_999, currency: 'usd', credits: 9_000_000_000_000_000 });
    const pi = pid();
    await completed(session, pi);
    await refunded(pi, 99_999_999, 33_333_333);
    // floor(9e15 × 33,333,333 / 99,999,999) = 3e15 exactly (33,333,333 / 99,999,999 = 1/3)
    const [row] = await owner()`select credits_refunded_micro_usd::text as c from public.payments where stripe_checkout_session_id = ${session}`;
    expect(row!.c).toBe('3000000000000000');
  });

  it('charge amounts out of range are refused (22023)', async () => {
    for (const [amount, total] of [[0, 0], [100, 101], [100, -1]] as const) {
      expect((await pgError(refunded(pid(), amount, total))).code).toBe('22023');
    }
  });

  it('a deleted user’s late payment is marked paid without crediting; a late refund is recorded', async () => {
    const user = await createUser();
    const session = await pendingPayment(user);
    await owner()`delete from public.users where id = ${user}`;
    const pi = pid();
    expect(await completed(session, pi)).toBe('user_deleted');
    expect(await refunded(pi, 500, 500)).toBe('refunded');
    expect(await paymentOf(session)).toMatchObject({ status: 'refunded', credits_refunded_micro_usd: 0, credits_unrecovered_micro_usd: 5_000_000 });
  });
});
