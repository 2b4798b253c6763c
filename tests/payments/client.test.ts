/**
 * Credits and payments through supabase-js, as each actor
 * (20261122100000_credits.sql, 20261122110000_payments.sql): credit_wallets,
 * credit_ledger, credit_reservations and payments are read by their owner
 * only and written by no client; credit_packs are read by everyone (active
 * ones) and edited by admins; stripe_charge_refunds and webhook_events are
 * service role only. Money is integer micro-USD / minor units.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { anonClient, clientAs } from '../helpers/client.js';
import { closeDb, owner } from '../helpers/db.js';
import { expectNoPrivilege, expectRefused, freshUsers, ok, randomUUID, rest } from '../helpers/world.js';

afterAll(closeDb);

let alice: string;
let bob: string;
let admin: string;
let payment: string;
let reservation: string;
const inactivePack = randomUUID();
const wallet = async (u: string) => (await owner()`select balance_micro_usd::text as b, held_micro_usd::text as h from public.credit_wallets where user_id = ${u}`)[0];
const ledgerCount = async (u: string) => (await owner()`select count(*)::int as n from public.credit_ledger where user_id = ${u}`)[0]!.n as number;

beforeAll(async () => {
  [alice, bob] = await freshUsers(2);
  [admin] = await freshUsers(1, { is_admin: true });
  const pack = (await owner()`select id from public.credit_packs where active order by sort_order limit 1`)[0]!.id as string;
  payment = (await owner()`
    insert into public.payments (user_id, pack_id, amount_minor, currency, credits_micro_usd, stripe_checkout_session_id)
    values (${alice}, ${pack}, 500, 'usd', 5000000, ${`cs_test_${randomUUID().replace(/-/g, '')}`}) returning id`)[0]!.id;
  reservation = (await owner()`
    insert into public.credit_reservations (user_id, amount_micro_usd, expires_at) values (${alice}, 1, now() + interval '1 hour') returning id`)[0]!.id;
  await owner()`insert into public.credit_packs (id, name, price_minor, currency, credits_micro_usd, active)
                values (${inactivePack}, 'Hidden pack', 100, 'usd', 1000000, false)`;
});

describe('credit_wallets, credit_ledger, credit_reservations', () => {
  it('each user reads their own; another user reads nothing by filter, count or embedding; anon 401', async () => {
    expect(ok(await clientAs(alice).from('credit_wallets').select('user_id'))).toEqual([{ user_id: alice }]);
    for (const table of ['credit_wallets', 'credit_ledger', 'credit_reservations'] as const) {
      const r = await clientAs(bob).from(table).select('*', { count: 'exact' }).eq('user_id', alice);
      expect([ok(r), r.count], table).toEqual([[], 0]);
      expectNoPrivilege(await anonClient().from(table).select('user_id'), true);
    }
    expect(ok(await clientAs(alice).from('credit_reservations').select('id'))).toEqual([{ id: reservation }]);
    expect(ok(await clientAs(bob).from('credit_ledger').select('id').gt('amount_micro_usd', 0).neq('user_id', bob))).toEqual([]);
    expect(ok(await clientAs(bob).from('users').select('id, credit_wallets(balance_micro_usd)').eq('id', alice))).toEqual([{ id: alice, credit_wallets: null }]);
  });

  it('no client writes money: insert, update, upsert (onConflict), bulk update and delete are 403; nothing changes', async () => {
    const before = [await wallet(alice), await ledgerCount(alice)];
    const a = clientAs(alice);
    expectNoPrivilege(await a.from('credit_wallets').update({ balance_micro_usd: 10 ** 12 }).eq('user_id', alice));
    expectNoPrivilege(await a.from('credit_wallets').upsert({ user_id: alice, balance_micro_usd: 10 ** 12 }, { onConflict: 'user_id' }));
    expectNoPrivilege(await a.from('credit_wallets').update({ held_micro_usd: 0 }).neq('user_id', ''));
    expectNoPrivilege(await a.from('credit_wallets').delete().eq('user_id', alice));
    expectNoPrivilege(await a.from('credit_ledger').insert({ user_id: alice, kind: 'grant', amount_micro_usd: 10 ** 9, balance_after_micro_usd: 10 ** 9, source: 'admin', source_id: randomUUID() }));
    expectNoPrivilege(await a.from('credit_ledger').update({ amount_micro_usd: 1 }).eq('user_id', alice));
    expectNoPrivilege(await a.from('credit_ledger').delete().eq('user_id', alice));
    expectNoPrivilege(await a.from('credit_reservations').update({ status: 'released' }).eq('id', reservation));
    expectNoPrivilege(await a.from('credit_reservations').delete().eq('id', reservation));
    expectNoPrivilege(await a.from('credit_reservations').insert({ user_id: bob, amount_micro_usd: 1, expires_at: new Date().toISOString() }));
    expect([await wallet(alice), await ledgerCount(alice)]).toEqual(before);
  });
});

describe('payments and Stripe state', () => {
  it('the buyer reads their payment (with its pack embedded); others and anon do not', async () => {
    expect(ok(await clientAs(alice).from('payments').select('id, status, credit_packs(name)').eq('id', payment)))
      .toEqual([{ id: payment, status: 'pending', credit_packs: { name: expect.any(String) } }]);
    const r = await clientAs(bob).from('payments').select('*', { count: 'exact' }).eq('id', payment);
    expect([ok(r), r.count]).toEqual([[], 0]);
    expect(ok(await clientAs(bob).from('credit_packs').select('id, payments(id)').limit(3)).every((p) => p.payments.length === 0)).toBe(true);
    expectNoPrivilege(await anonClient().from('payments').select('id'), true);
  });

  it('no client marks a payment paid or changes its amounts: update, insert, upsert, delete are 403', async () => {
    const a = clientAs(alice);
    expectNoPrivilege(await a.from('payments').update({ status: 'paid' }).eq('id', payment));
    expectNoPrivilege(await a.from('payments').upsert({ id: payment, status: 'paid' } as never, { onConflict: 'id' }));
    expectNoPrivilege(await a.from('payments').delete().eq('id', payment));
    expect((await owner()`select status::text from public.payments where id = ${payment}`)[0]!.status).toBe('pending');
  });

  it('stripe_charge_refunds and webhook_events: no client reads or writes them (401 anon, 403 signed-in, admin too)', async () => {
    for (const table of ['stripe_charge_refunds', 'webhook_events'] as const) {
      expectNoPrivilege(await anonClient().from(table).select('*'), true);
      expectNoPrivilege(await clientAs(alice).from(table).select('*'));
      expectNoPrivilege(await clientAs(admin).from(table).select('*'));
    }
    expectNoPrivilege(await clientAs(alice).from('webhook_events').insert({ provider: 'stripe', event_id: 'evt_x', type: 'checkout.session.completed' }));
  });
});

describe('credit_packs', () => {
  it('anon and users read active packs only; an admin reads inactive ones too', async () => {
    expect(ok(await anonClient().from('credit_packs').select('id').eq('id', inactivePack))).toEqual([]);
    expect(ok(await clientAs(bob).from('credit_packs').select('id').eq('active', false))).toEqual([]);
    expect(ok(await clientAs(admin).from('credit_packs').select('id').eq('id', inactivePack))).toEqual([{ id: inactivePack }]);
    expect(ok(await anonClient().from('credit_packs').select('id, price_minor, credits_micro_usd')).length).toBeGreaterThan(0);
  });

  it('a non-admin cannot add (403 RLS), change or delete (no row) a pack; anon gets 401', async () => {
    expectRefused(await clientAs(bob).from('credit_packs').insert({ name: 'Free money', price_minor: 1, currency: 'usd', credits_micro_usd: 10 ** 12 }).select(), 403, '42501');
    expect(ok(await clientAs(bob).from('credit_packs').update({ price_minor: 1 }).neq('name', '').select())).toEqual([]);
    expect(ok(await clientAs(bob).from('credit_packs').delete().neq('name', '').select())).toEqual([]);
    expectNoPrivilege(await anonClient().from('credit_packs').update({ price_minor: 1 }).neq('name', ''), true);
    expectNoPrivilege(await anonClient().from('credit_packs').insert({ name: 'x', price_minor: 1, currency: 'usd', credits_micro_usd: 1 }), true);
    expect((await owner()`select count(*)::int as n from public.credit_packs where price_minor = 1`)[0]!.n).toBe(0);
  });

  it('an admin adds, edits and deletes a pack; id and timestamps stay theirs (403); a float price is refused (400)', async () => {
    const ad = clientAs(admin);
    const p = ok(await ad.from('credit_packs').insert({ name: 'Admin pack', price_minor: 700, currency: 'usd', credits_micro_usd: 7000000, active: false }).select().single()) as unknown as { id: string };
    expect(ok(await ad.from('credit_packs').update({ description: 'edited' }).eq('id', p.id).select('description'))).toEqual([{ description: 'edited' }]);
    expectNoPrivilege(await ad.from('credit_packs').update({ id: randomUUID() }).eq('id', p.id));
    expectRefused(await ad.from('credit_packs').update({ price_minor: 1.5 }).eq('id', p.id), 400, '22P02');
    const bulk = await rest(admin, '/credit_packs?id=eq.' + p.id, { method: 'DELETE', headers: { prefer: 'return=representation' } });
    expect(bulk.status).toBe(200);
    expect(bulk.body.map((r: { id: string }) => r.id)).toEqual([p.id]);
  });
});
