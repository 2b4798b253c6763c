/**
 * Suspension contains every account, admins included (issue 13, item 2), from
 * the attacker's side: an admin whose account is suspended tries every admin
 * operation (each RPC, each admin policy of admin_config, ai_models,
 * credit_packs and admin_audit_log, the analytics views), and admins try to
 * restore, credit, debit, suspend or promote their own account through the
 * API. Each attempt is paired with a control (the same call by an admin in
 * good standing works), so a refusal cannot come from a broken fixture.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asUser, closeDb, createUser, owner, pgError, realtimeJoin, type Tx } from '../helpers/db.js';

afterAll(closeDb);

let admin: string; // in good standing
let suspended: string; // an admin, suspended by `admin`
let victim: string;
let chat: string;
let message: string;
let pack: string;
const model = `test-suspension-${randomBytes(4).toString('hex')}`;

const audit = (target: string) =>
  owner()<{ actor: string; action: string }[]>`
    select actor, action from public.admin_audit_log where target_user_id = ${target} order by id`;
const balance = async (u: string) =>
  BigInt((await owner()`select balance_micro_usd from public.credit_wallets where user_id = ${u}`)[0]!.balance_micro_usd);
const account = async (u: string) =>
  (await owner()<{ is_admin: boolean; suspended_at: Date | null }[]>`
    select is_admin, suspended_at from public.user_accounts where user_id = ${u}`)[0]!;

beforeAll(async () => {
  [admin, suspended, victim] = [await createUser({ is_admin: true }), await createUser({ is_admin: true }), await createUser()];
  chat = (await asUser(victim, (tx) => tx`select id from public.get_or_create_direct_chat(${admin})`))[0]!.id;
  message = (await asUser(victim, (tx) => tx`select id from public.send_message(${chat}, 'evidence')`))[0]!.id;
  pack = (await owner()`select id from public.credit_packs order by sort_order, id limit 1`)[0]!.id;
  await owner()`
    insert into public.ai_models (id, provider, display_name, input_micro_usd_per_mtok, output_micro_usd_per_mtok,
                                  context_window, max_output_tokens, enabled)
    values (${model}, 'openai', 'Disabled test model', 1, 1, 1000, 100, false)`;
  await asUser(admin, (tx) => tx`select public.admin_suspend_user(${suspended}, 'compromised admin account')`);
});

/** Every admin RPC, as a call by `who`; each would change something if allowed. */
const adminRpcs: [string, (tx: Tx) => Promise<unknown>][] = [
  ['admin_grant_credits', (tx) => tx`select public.admin_grant_credits(${victim}, 1000, 'attempt')`],
  ['admin_deduct_credits', (tx) => tx`select public.admin_deduct_credits(${victim}, 1, 'attempt')`],
  ['admin_suspend_user', (tx) => tx`select public.admin_suspend_user(${victim}, 'attempt')`],
  ['admin_restore_user', (tx) => tx`select public.admin_restore_user(${victim}, 'attempt')`],
  ['admin_delete_message', (tx) => tx`select public.admin_delete_message(${message}, 'attempt')`],
  ['admin_set_config', (tx) => tx`select public.admin_set_config('ai.rate_limit_per_minute', '1000', 'attempt')`],
];

describe('a suspended admin', () => {
  it('is refused by every admin RPC with the ordinary suspension answer, and nothing is written', async () => {
    const before = { balance: await balance(victim), victim: await account(victim) };
    for (const [name, call] of adminRpcs) {
      const err = await pgError(asUser(suspended, call));
      expect(err, name).toMatchObject({ code: '42501', message: 'account suspended' });
    }
    expect(await balance(victim)).toBe(before.balance);
    expect(await account(victim)).toEqual(before.victim);
    expect((await owner()`select deleted_at from public.messages where id = ${message}`)[0]!.deleted_at).toBeNull();
    // Every admin operation (admin_set_config included, through its trigger) writes
    // an audit row by its actor: there is none by the suspended admin.
    expect(await owner()`select id from public.admin_audit_log where actor = ${suspended}`).toEqual([]);
  });

  it('cannot restore themselves, nor credit themselves', async () => {
    const before = await balance(suspended);
    for (const call of [
      (tx: Tx) => tx`select public.admin_restore_user(${suspended}, 'I was hacked, trust me')`,
      (tx: Tx) => tx`select public.admin_grant_credits(${suspended}, 5000000, 'compensation')`,
    ]) {
      expect((await pgError(asUser(suspended, call))).code).toBe('42501');
    }
    expect((await account(suspended)).suspended_at).not.toBeNull();
    expect(await balance(suspended)).toBe(before);
  });

  it('is no admin for private.is_admin(), the function every admin policy uses', async () => {
    expect(await asUser(suspended, (tx) => tx`select private.is_admin() as is_admin`)).toEqual([{ is_admin: false }]);
    expect(await asUser(admin, (tx) => tx`select private.is_admin() as is_admin`)).toEqual([{ is_admin: true }]); // control
  });

  it('reads no admin table: settings, audit log, disabled models, inactive packs', async () => {
    await owner()`update public.credit_packs set active = false where id = ${pack}`;
    try {
      const reads = (who: string) =>
        asUser(who, async (tx) => ({
          config: (await tx`select key from public.admin_config limit 1`).length,
          audit: (await tx`select id from public.admin_audit_log limit 1`).length,
          model: (await tx`select id from public.ai_models where id = ${model}`).length,
          pack: (await tx`select id from public.credit_packs where id = ${pack}`).length,
        }));
      expect(await reads(admin)).toEqual({ config: 1, audit: 1, model: 1, pack: 1 }); // control
      expect(await reads(suspended)).toEqual({ config: 0, audit: 0, model: 0, pack: 0 });
    } finally {
      await owner()`update public.credit_packs set active = true where id = ${pack}`;
    }
  });

  it('changes no admin table: settings, models, packs (0 rows or 42501, nothing changed)', async () => {
    const writes: [string, (tx: Tx) => Promise<readonly unknown[]>][] = [
      ['admin_config update', (tx) => tx`update public.admin_config set value = '999' where key = 'ai.rate_limit_per_minute' returning key`],
      ['ai_models update', (tx) => tx`update public.ai_models set output_micro_usd_per_mtok = 0 returning id`],
      ['ai_models delete', (tx) => tx`delete from public.ai_models where id = ${model} returning id`],
      ['credit_packs update', (tx) => tx`update public.credit_packs set credits_micro_usd = 999999999999 returning id`],
      ['credit_packs delete', (tx) => tx`delete from public.credit_packs where id = ${pack} returning id`],
    ];
    for (const [name, write] of writes) {
      expect(await asUser(suspended, write), name).toEqual([]);
    }
    const inserts: [string, (tx: Tx) => Promise<unknown>][] = [
      ['ai_models insert', (tx) => tx`insert into public.ai_models (id, provider, display_name, input_micro_usd_per_mtok,
        output_micro_usd_per_mtok, context_window, max_output_tokens, enabled)
        values (${`${model}-x`}, 'openai', 'Free model', 0, 0, 1000, 100, true)`],
      ['credit_packs insert', (tx) => tx`insert into public.credit_packs (name, price_minor, currency, credits_micro_usd)
        values ('Free money', 1, 'usd', 999999999999)`],
    ];
    for (const [name, insert] of inserts) {
      expect((await pgError(asUser(suspended, insert))).code, name).toBe('42501');
    }
    expect(await owner()`select id from public.ai_models where id = ${model}`).toHaveLength(1);
    expect(await owner()`select id from public.credit_packs where id = ${pack}`).toHaveLength(1);
    expect(await owner()`select id from public.credit_packs where credits_micro_usd = 999999999999`).toEqual([]);
  });

  it('cannot read the analytics views (no client role may; admins read them in Studio)', async () => {
    for (const who of [suspended, admin]) {
      expect((await pgError(asUser(who, (tx) => tx`select * from analytics.wallet_liabilities`))).code).toBe('42501');
    }
  });

  it('is refused by Realtime', async () => {
    expect((await realtimeJoin(suspended, `user:${suspended}`)).joined).toBe(false);
  });
});

describe('nobody acts on their own account through the API, admins in good standing included', () => {
  it('no self-restore, self-suspend, self-grant or self-deduct (42501), nothing written', async () => {
    const before = await balance(admin);
    const calls: [string, (tx: Tx) => Promise<unknown>][] = [
      ['admin_restore_user', (tx) => tx`select public.admin_restore_user(${admin}, 'self service')`],
      ['admin_suspend_user', (tx) => tx`select public.admin_suspend_user(${admin}, 'self service')`],
      ['admin_grant_credits', (tx) => tx`select public.admin_grant_credits(${admin}, 5000000, 'self service')`],
      ['admin_deduct_credits', (tx) => tx`select public.admin_deduct_credits(${admin}, 1, 'self service')`],
    ];
    for (const [name, call] of calls) {
      const err = await pgError(asUser(admin, call));
      expect(err, name).toMatchObject({ code: '42501', message: 'admins cannot act on their own account' });
    }
    expect(await balance(admin)).toBe(before);
    expect(await account(admin)).toMatchObject({ is_admin: true, suspended_at: null });
    expect(await audit(admin)).toEqual([]);
  });

  it('the same operations on another user work (control), and Studio may act on any account', async () => {
    const u = await createUser();
    await asUser(admin, (tx) => tx`select public.admin_grant_credits(${u}, 1000, 'control')`);
    await owner()`select public.admin_grant_credits(${admin}, 1000, 'Studio may credit an admin')`;
    expect((await audit(u)).map((a) => a.action)).toEqual(['credits.grant']);
    expect((await audit(admin)).map((a) => [a.actor, a.action])).toEqual([['studio:postgres', 'credits.grant']]);
  });

  it('nobody sets the admin flag on their own account: no write on user_accounts, and token claims are ignored', async () => {
    for (const who of [admin, victim]) {
      const err = await pgError(asUser(who, (tx) => tx`update public.user_accounts set is_admin = true where user_id = ${who}`));
      expect(err.code).toBe('42501');
      expect((await pgError(asUser(who, (tx) => tx`update public.user_accounts set suspended_at = null where user_id = ${who}`))).code).toBe('42501');
    }
    expect((await account(victim)).is_admin).toBe(false);
    // A new user whose token claims admin (Clerk metadata is only read by the webhook).
    const fresh = `user_${randomBytes(12).toString('hex')}`;
    await asUser(fresh, (tx) => tx`select public.ensure_profile()`, {
      is_admin: true,
      role: 'authenticated',
      public_metadata: { is_admin: true, role: 'admin' },
      metadata: { role: 'admin' },
    });
    expect((await account(fresh)).is_admin).toBe(false);
  });

  it('a suspended admin is back only when another admin restores them', async () => {
    const s = await createUser({ is_admin: true });
    await asUser(admin, (tx) => tx`select public.admin_suspend_user(${s}, 'temporary')`);
    expect((await pgError(asUser(s, (tx) => tx`select public.admin_restore_user(${s}, 'self')`))).message).toBe('account suspended');
    await asUser(admin, (tx) => tx`select public.admin_restore_user(${s}, 'cleared')`);
    expect(await asUser(s, (tx) => tx`select private.is_admin() as is_admin`)).toEqual([{ is_admin: true }]);
    expect((await audit(s)).map((a) => [a.actor, a.action])).toEqual([[admin, 'user.suspend'], [admin, 'user.restore']]);
  });
});
