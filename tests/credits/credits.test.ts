/**
 * Credits wallet, ledger and reservations (supabase/migrations/*_credits.sql):
 * the money invariants hold whoever asks, and each actor sees only their own.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { asAnon, asService, asUser, broadcastsOn, closeDb, createUser, owner, pgError } from '../helpers/db.js';

afterAll(closeDb);

const WELCOME = 1_000_000n; // credits.welcome_grant_micro_usd default (migration)
const THRESHOLD = 500_000n; // credits.low_balance_threshold_micro_usd default

const wallet = async (userId: string) =>
  (await owner()<{ balance_micro_usd: string; held_micro_usd: string }[]>`
    select balance_micro_usd, held_micro_usd from public.credit_wallets where user_id = ${userId}`)[0]!;

const mismatches = async () => owner()`select * from private.ledger_mismatches()`;

describe('a new user', () => {
  it('gets a wallet and the welcome grant as a ledger entry', async () => {
    const u = await createUser();
    expect(BigInt((await wallet(u)).balance_micro_usd)).toBe(WELCOME);
    const ledger = await asUser(u, (tx) => tx`select kind, amount_micro_usd, source, source_id from public.credit_ledger`);
    expect(ledger).toEqual([{ kind: 'grant', amount_micro_usd: String(WELCOME), source: 'welcome_grant', source_id: u }]);
  });
});

describe('invariants (even for the table owner)', () => {
  it('the ledger is append-only', async () => {
    const u = await createUser();
    expect((await pgError(owner()`update public.credit_ledger set amount_micro_usd = 5 where user_id = ${u}`)).code).toBe('42501');
    expect((await pgError(owner()`delete from public.credit_ledger where user_id = ${u}`)).code).toBe('42501');
    expect((await pgError(asService((tx) => tx`truncate public.credit_ledger`))).code).toBe('42501');
  });

  it('a balance changes only through the ledger and never goes negative', async () => {
    const u = await createUser();
    expect((await pgError(owner()`update public.credit_wallets set balance_micro_usd = 99 where user_id = ${u}`)).code).toBe('42501');
    const err = await pgError(
      asService((tx) => tx`select private.record_ledger_entry(${u}, 'adjustment', ${String(-(WELCOME + 1n))}, 'admin', 'too-much')`),
    );
    expect(err.code).toBe('PT402');
    expect(BigInt((await wallet(u)).balance_micro_usd)).toBe(WELCOME);
  });

  it('an entry is recorded once per source reference', async () => {
    const u = await createUser();
    const record = () =>
      asService((tx) => tx`select (private.record_ledger_entry(${u}, 'topup', 2000000, 'stripe.checkout_session', ${`cs_${u}`})).id`);
    const [a, b] = await Promise.all([record(), record()]);
    expect(a[0]!.id).toBe(b[0]!.id);
    expect(BigInt((await wallet(u)).balance_micro_usd)).toBe(WELCOME + 2_000_000n);
    expect(await mismatches()).toEqual([]);
  });
});

describe('reservations', () => {
  it('concurrent reservations never hold more than the balance', async () => {
    const u = await createUser();
    const attempts = await Promise.allSettled(
      Array.from({ length: 12 }, () => asService((tx) => tx`select (private.reserve_credits(${u}, 300000)).id`)),
    );
    const ok = attempts.filter((a) => a.status === 'fulfilled').length;
    expect(ok).toBe(3); // 3 × 300,000 ≤ 1,000,000 < 4 × 300,000
    for (const a of attempts) if (a.status === 'rejected') expect((a.reason as { code: string }).code).toBe('PT402');
    expect(BigInt((await wallet(u)).held_micro_usd)).toBe(900_000n);
  });

  it('settle charges the actual cost once and releases the rest; release charges nothing', async () => {
    const u = await createUser();
    const [r1] = await asService((tx) => tx`select (private.reserve_credits(${u}, 400000, 'test')).id`);
    const [r2] = await asService((tx) => tx`select (private.reserve_credits(${u}, 400000, 'test')).id`);
    const settle = () => asService((tx) => tx`select (private.settle_reservation(${r1!.id}, 123456, 'ai_interaction', ${`ai_${u}`})).status`);
    await Promise.all([settle(), settle()]);
    await asService((tx) => tx`select private.release_reservation(${r2!.id})`);
    expect(await wallet(u)).toEqual({ balance_micro_usd: String(WELCOME - 123_456n), held_micro_usd: '0' });
    expect(await mismatches()).toEqual([]);
  });

  it('an expired hold is released at the next reservation', async () => {
    const u = await createUser();
    await asService((tx) => tx`select private.reserve_credits(${u}, 900000, 'crashed', 1)`);
    await owner()`update public.credit_reservations set expires_at = now() - interval '1 second' where user_id = ${u}`;
    const [r] = await asService((tx) => tx`select (private.reserve_credits(${u}, 900000)).status`);
    expect(r!.status).toBe('held');
    const statuses = await owner()`select status from public.credit_reservations where user_id = ${u} order by created_at`;
    expect(statuses.map((s) => s.status)).toEqual(['expired', 'held']);
  });
});

describe('low-balance alert', () => {
  it('crossing below the threshold notifies once on user:<id>', async () => {
    const u = await createUser();
    for (let i = 0; i < 4; i++) {
      await asService((tx) => tx`select private.record_ledger_entry(${u}, 'ai_usage', -200000, 'ai_interaction', ${`x${i}_${u}`})`);
    }
    // 1.0 → 0.8 → 0.6 → 0.4 (crossed) → 0.2
    const notes = await owner()`select kind, payload from public.notifications where user_id = ${u}`;
    expect(notes).toEqual([{ kind: 'low_balance', payload: { balance_micro_usd: 400000, threshold_micro_usd: Number(THRESHOLD) } }]);
    const events = (await broadcastsOn(`user:${u}`)).map((b) => b.event);
    expect(events.filter((e) => e === 'notification')).toHaveLength(1);
    expect(events.filter((e) => e === 'balance')).toHaveLength(5); // grant + 4 debits
  });
});

describe('who sees what', () => {
  it('a user reads only their own wallet, ledger and reservations', async () => {
    const a = await createUser();
    const b = await createUser();
    await asService((tx) => tx`select private.reserve_credits(${b}, 1000)`);
    const seen = await asUser(a, async (tx) => ({
      wallets: await tx`select user_id from public.credit_wallets`,
      ledger: await tx`select user_id from public.credit_ledger`,
      reservations: await tx`select user_id from public.credit_reservations`,
    }));
    expect(seen.wallets.map((r) => r.user_id)).toEqual([a]);
    expect(seen.ledger.map((r) => r.user_id)).toEqual([a]);
    expect(seen.reservations).toEqual([]);
  });

  it('clients cannot write money rows or call the private operations', async () => {
    const a = await createUser();
    expect((await pgError(asUser(a, (tx) => tx`insert into public.credit_ledger (user_id, kind, amount_micro_usd, balance_after_micro_usd, source, source_id) values (${a}, 'grant', 5, 0, 'x', 'y')`))).code).toBe('42501');
    expect((await pgError(asUser(a, (tx) => tx`update public.credit_wallets set held_micro_usd = 0`))).code).toBe('42501');
    expect((await pgError(asUser(a, (tx) => tx`select private.reserve_credits(${a}, 1)`))).code).toBe('42501');
    expect((await pgError(asUser(a, (tx) => tx`select private.record_ledger_entry(${a}, 'grant', 5, 'x', 'y')`))).code).toBe('42501');
    expect((await pgError(asAnon((tx) => tx`select * from public.credit_wallets`))).code).toBe('42501');
  });
});
