/**
 * 5. Metering contention: reservation + settlement pairs per second, as the
 * ai-chat function performs them (two service-role requests: reserve before
 * the provider call, settle after it), all on one wallet and spread over many
 * wallets, at 1, 8 and 32 concurrent connections. The figure is the one-wallet
 * rate as a ratio to the many-wallet rate at the same concurrency (the
 * baseline: the same work without a shared row lock).
 *
 * Checked after the run: private.ledger_mismatches() is empty, no wallet is
 * negative, nothing is held any more, every reservation is settled, and each
 * wallet was charged exactly the sum of its settlements.
 */
import { randomUUID } from 'node:crypto';
import { asService, pool, withUser } from '../lib/db.mjs';
import { interleavedThroughput, round } from '../lib/measure.mjs';

export const METERING_CONCURRENCY = [1, 8, 32];
const RESERVE = 5_000; // micro-USD held per call (the estimated maximum)
const COST = 3_217; // micro-USD charged at settlement (the reported usage)
const TOPUP = 1_000_000_000_000; // enough for any run

/**
 * @param {{ superuser: import('postgres').Sql, url: string, quick: boolean, log: (s: string) => void }} ctx
 */
export async function benchMetering({ superuser, url, quick, log }) {
  const wallets = Math.max(...METERING_CONCURRENCY);
  const tag = randomUUID().slice(0, 8);
  const users = Array.from({ length: wallets + 1 }, (_, i) => `user_meter${tag}${String(i).padStart(4, '0')}`);
  const svc = pool(withUser(url, 'authenticator'), 2);
  // Users created as the clerk-webhook does (service role): wallet and welcome grant by trigger; then a top-up.
  for (const id of users) {
    await asService(svc, async (tx) => {
      await tx`insert into public.users (id, display_name) values (${id}, ${`Meter ${id.slice(-4)}`})`;
      await tx`insert into public.user_accounts (user_id, email) values (${id}, ${`${id.toLowerCase()}@example.com`})`;
      await tx`select private.record_ledger_entry(${id}, 'topup', ${TOPUP}, 'bench.topup', ${`${id}:topup`}, 'bench top-up')`;
    });
  }
  await svc.end();
  const [before] = await superuser`
    select coalesce(sum(balance_micro_usd), 0)::bigint as balance from public.credit_wallets where user_id = any(${users})`;

  const hot = users[wallets];
  const roundMs = quick ? 300 : 2000;
  const rounds = quick ? 1 : 2;
  const results = [];
  let pairs = 0;
  for (const concurrency of METERING_CONCURRENCY) {
    const sql = pool(withUser(url, 'authenticator'), concurrency);
    try {
      const pair = (userOf) => async (w) => {
        const user = userOf(w);
        const [r] = await asService(sql, (tx) => tx`
          select id from private.reserve_credits(${user}, ${RESERVE}::bigint, ${'bench'}, 300, 'ai_chat')`);
        await asService(sql, (tx) => tx`
          select status from private.settle_reservation(${r.id}, ${COST}::bigint, 'ai_interaction', ${randomUUID()}, 'bench settlement', '{}'::jsonb)`);
        pairs++;
      };
      const r = await interleavedThroughput({
        variants: { one_wallet: pair(() => hot), many_wallets: pair((w) => users[w]) },
        concurrency,
        rounds,
        roundMs,
        maxOpsPerRound: quick ? 2000 : 50_000,
        warmupMs: quick ? 50 : 200,
      });
      const errors = Object.entries(r).filter(([, v]) => v.errors > 0);
      if (errors.length) throw new Error(`metering errors: ${errors.map(([n, v]) => `${n}: ${v.errors} (${v.firstError})`).join('; ')}`);
      const row = {
        concurrency,
        rates: { one_wallet: r.one_wallet.rate, many_wallets: r.many_wallets.rate },
        rounds: { one_wallet: r.one_wallet.rounds, many_wallets: r.many_wallets.rounds },
        ratio_one_to_many: round(r.one_wallet.rate / r.many_wallets.rate),
      };
      log(`metering c=${concurrency}: one wallet ${row.rates.one_wallet}/s, many wallets ${row.rates.many_wallets}/s`);
      results.push(row);
    } finally {
      await sql.end();
    }
  }

  const [check] = await superuser`
    select
      (select count(*) from private.ledger_mismatches())::int as ledger_mismatches,
      (select count(*) from public.credit_wallets where balance_micro_usd < 0 or held_micro_usd < 0)::int as negative_wallets,
      (select coalesce(sum(held_micro_usd), 0) from public.credit_wallets where user_id = any(${users}))::bigint as held,
      (select count(*) from public.credit_reservations where user_id = any(${users}) and status <> 'settled')::int as unsettled,
      (select count(*) from public.credit_reservations where user_id = any(${users}))::int as reservations,
      (select coalesce(sum(balance_micro_usd), 0) from public.credit_wallets where user_id = any(${users}))::bigint as balance_after,
      (select coalesce(-sum(amount_micro_usd), 0) from public.credit_ledger where user_id = any(${users}) and kind = 'ai_usage')::bigint as charged`;
  const expectedCharged = BigInt(check.reservations) * BigInt(COST);
  const ok =
    check.ledger_mismatches === 0 &&
    check.negative_wallets === 0 &&
    BigInt(check.held) === 0n &&
    check.unsettled === 0 &&
    check.reservations === pairs &&
    BigInt(check.charged) === expectedCharged &&
    BigInt(before.balance) - BigInt(check.balance_after) === expectedCharged;
  const correctness = {
    ok,
    pairs,
    reservations: check.reservations,
    ledger_mismatches: check.ledger_mismatches,
    negative_wallets: check.negative_wallets,
    held_after_micro_usd: String(check.held),
    unsettled: check.unsettled,
    charged_micro_usd: String(check.charged),
    expected_charged_micro_usd: String(expectedCharged),
  };
  log(`metering correctness: ${ok ? 'OK' : 'FAILED'} ${JSON.stringify(correctness)}`);
  return { reserve_micro_usd: RESERVE, cost_micro_usd: COST, results, correctness };
}
