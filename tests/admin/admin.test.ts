/**
 * Administration (supabase/migrations/*_admin.sql): typed settings, audited
 * operations, suspension. One section per actor: a plain user, an admin
 * through the RPCs (Clerk token), Studio (postgres, no JWT), a suspended user.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sessionToken } from '../helpers/clerk.js';
import { asAnon, asService, asUser, closeDb, createUser, owner, pgError, realtimeJoin } from '../helpers/db.js';
import { startTestFunctions, type TestFunctions } from '../helpers/functions.js';

let admin: string;
let user: string;
beforeAll(async () => {
  admin = await createUser({ is_admin: true });
  user = await createUser();
});
afterAll(closeDb);

const audit = (target: string) =>
  owner()<{ actor: string; action: string; reason: string; details: any }[]>`
    select actor, action, reason, details from public.admin_audit_log where target_user_id = ${target} order by id`;
const balance = async (u: string) =>
  BigInt((await owner()`select balance_micro_usd from public.credit_wallets where user_id = ${u}`)[0]!.balance_micro_usd);

describe('a plain user', () => {
  it('cannot call any admin operation', async () => {
    const calls = [
      (tx: any) => tx`select public.admin_grant_credits(${user}, 1000, 'free money')`,
      (tx: any) => tx`select public.admin_deduct_credits(${admin}, 1000, 'revenge')`,
      (tx: any) => tx`select public.admin_suspend_user(${admin}, 'coup')`,
      (tx: any) => tx`select public.admin_restore_user(${user}, 'self')`,
      (tx: any) => tx`select public.admin_delete_message(gen_random_uuid(), 'nope')`,
      (tx: any) => tx`select public.admin_set_config('ai.rate_limit_per_minute', '1000', 'faster')`,
    ];
    for (const call of calls) expect((await pgError(asUser(user, call))).code).toBe('42501');
    expect(await audit(user)).toEqual([]);
  });

  it('cannot read the audit log or the settings, nor change a setting', async () => {
    await asUser(admin, (tx) => tx`select public.admin_grant_credits(${user}, 5, 'visible only to admins')`);
    const seen = await asUser(user, async (tx) => ({
      audit: await tx`select id from public.admin_audit_log`,
      config: await tx`select key from public.admin_config`,
      updated: await tx`update public.admin_config set value = '1' where key = 'ai.rate_limit_per_minute' returning key`,
    }));
    expect(seen).toEqual({ audit: [], config: [], updated: [] });
  });

  it('anon cannot either', async () => {
    expect((await pgError(asAnon((tx) => tx`select public.admin_grant_credits(${user}, 5, 'anon')`))).code).toBe('42501');
    expect((await pgError(asAnon((tx) => tx`select * from public.admin_audit_log`))).code).toBe('42501');
  });
});

describe('an admin through the RPCs', () => {
  it('grants and deducts credits with a reason: ledger entries that reconcile, and audit rows', async () => {
    const u = await createUser();
    const before = await balance(u);
    await asUser(admin, (tx) => tx`select public.admin_grant_credits(${u}, 2500000, 'support ticket 42')`);
    await asUser(admin, (tx) => tx`select public.admin_deduct_credits(${u}, 500000, 'chargeback')`);
    expect(await balance(u)).toBe(before + 2_000_000n);
    const ledger = await owner()`select kind, amount_micro_usd, source from public.credit_ledger
                                  where user_id = ${u} and source like 'admin.%' order by id`;
    expect(ledger).toEqual([
      { kind: 'grant', amount_micro_usd: '2500000', source: 'admin.grant' },
      { kind: 'adjustment', amount_micro_usd: '-500000', source: 'admin.deduct' },
    ]);
    expect(await owner()`select * from private.ledger_mismatches()`).toEqual([]);
    expect((await audit(u)).map((a) => [a.actor, a.action, a.reason])).toEqual([
      [admin, 'credits.grant', 'support ticket 42'],
      [admin, 'credits.deduct', 'chargeback'],
    ]);
  });

  it('cannot deduct below zero, and a refused operation leaves no audit row', async () => {
    const u = await createUser();
    const tooMuch = String((await balance(u)) + 1n);
    const err = await pgError(asUser(admin, (tx) => tx`select public.admin_deduct_credits(${u}, ${tooMuch}, 'too much')`));
    expect(err.code).toBe('PT402');
    expect(await audit(u)).toEqual([]);
  });

  it('requires a reason and a positive amount', async () => {
    expect((await pgError(asUser(admin, (tx) => tx`select public.admin_grant_credits(${user}, 10, '')`))).code).toBe('23514');
    expect((await pgError(asUser(admin, (tx) => tx`select public.admin_grant_credits(${user}, 0, 'zero')`))).code).toBe('22023');
  });

  it('deletes a message for moderation: content cleared, flagged, audited', async () => {
    const [a, b] = [await createUser(), await createUser()];
    const [chat] = await asUser(a, (tx) => tx`select id from public.get_or_create_direct_chat(${b})`);
    const [m] = await asUser(a, (tx) => tx`select id from public.send_message(${chat!.id}, 'something awful')`);
    await asUser(admin, (tx) => tx`select public.admin_delete_message(${m!.id}, 'harassment report')`);
    const [row] = await asUser(b, (tx) => tx`select content, deleted_at, metadata from public.messages where id = ${m!.id}`);
    expect(row).toMatchObject({ content: '', metadata: { moderated: true } });
    expect(row!.deleted_at).not.toBeNull();
    expect((await audit(a)).map((x) => x.action)).toEqual(['message.delete']);
  });
});

describe('settings (admin_config)', () => {
  beforeAll(async () => {
    await owner()`
      insert into public.admin_config (key, value, description, value_type, min_value, max_value) values
        ('test.limit', '20', 'an integer setting', 'integer', 1, 100),
        ('test.origins', '["http://localhost:3000"]', 'origins', 'url_array', null, null),
        ('test.name', '"gpt-4o-mini"', 'a string', 'string', null, null),
        ('test.flag', 'true', 'a boolean', 'boolean', null, null)
      on conflict (key) do nothing`;
  });

  it('refuses values that do not match their type, with a clear message', async () => {
    const bad: [string, string][] = [
      ['test.limit', '"twenty"'],
      ['test.limit', '2.5'],
      ['test.limit', '0'],
      ['test.limit', '101'],
      ['credits.welcome_grant_micro_usd', '-1'],
      ['credits.low_balance_threshold_micro_usd', '"500000"'],
      ['test.origins', '["javascript:alert(1)"]'],
      ['test.origins', '["https://ok.example.com/path"]'],
      ['test.origins', '"http://localhost:3000"'],
      ['test.name', '42'],
      ['test.name', '""'],
      ['test.flag', '"yes"'],
    ];
    for (const [key, value] of bad) {
      const err = await pgError(asUser(admin, (tx) => tx`select public.admin_set_config(${key}, ${value}::text::jsonb, 'try a bad value')`)).catch((e) => { throw new Error(`${key} = ${value}: ${e.message}`); });
      expect(err.code, `${key} = ${value}`).toBe('22023');
      expect(err.message).toContain(key);
    }
    // Studio edits are validated too, and nothing changed.
    expect((await pgError(owner()`update public.admin_config set value = '"x"' where key = 'test.limit'`)).code).toBe('22023');
    expect((await owner()`select value from public.admin_config where key = 'test.limit'`)[0]!.value).toBe(20);
    // Good values of each type pass.
    for (const [key, value] of [['test.limit', '100'], ['test.origins', '["https://app.example.com", "http://127.0.0.1:3000"]'], ['test.name', '"deepseek-chat"'], ['test.flag', 'false']] as const) {
      await asUser(admin, (tx) => tx`select public.admin_set_config(${key}, ${value}::text::jsonb, 'a good value')`);
    }
  });

  it('accepts a valid change, stamps who and when, and audits it with the reason', async () => {
    const key = 'credits.reservation_ttl_seconds';
    const [row] = await asUser(admin, (tx) => tx`select * from public.admin_set_config(${key}, '600', 'slow providers')`);
    expect(row).toMatchObject({ key, value: 600, updated_by: admin });
    await owner()`update public.admin_config set value = '300' where key = ${key}`;
    const log = await owner()`select actor, reason, details from public.admin_audit_log where target_id = ${key} order by id`;
    expect(log.slice(-2)).toEqual([
      { actor: admin, reason: 'slow providers', details: { old: 300, new: 600 } },
      { actor: 'studio:postgres', reason: 'direct edit', details: { old: 600, new: 300 } },
    ]);
  });

  it('refuses an unknown key and a missing reason', async () => {
    expect((await pgError(asUser(admin, (tx) => tx`select public.admin_set_config('no.such.key', '1', 'why not')`))).code).toBe('PT404');
    expect((await pgError(asUser(admin, (tx) => tx`select public.admin_set_config('test.limit', '5', '')`))).code).toBe('22023');
  });

  it('every setting the backend reads has a declared type', async () => {
    // Keys under `test.` are inserted by other test files running in parallel.
    const untyped = await owner()`select key from public.admin_config where value_type = 'json' and key not like 'test.%'`;
    expect(untyped).toEqual([]);
  });
});

describe('Studio (postgres, no JWT)', () => {
  it('runs the operations, recorded as studio:postgres', async () => {
    const u = await createUser();
    await owner()`select public.admin_grant_credits(${u}, 1000, 'goodwill from Studio')`;
    expect((await audit(u))[0]).toMatchObject({ actor: 'studio:postgres', action: 'credits.grant' });
  });

  it('cannot change or delete audit rows either', async () => {
    expect((await pgError(owner()`update public.admin_audit_log set reason = 'rewritten'`)).code).toBe('42501');
    expect((await pgError(owner()`delete from public.admin_audit_log`)).code).toBe('42501');
    expect((await pgError(asService((tx) => tx`truncate public.admin_audit_log`))).code).toBe('42501');
  });
});

describe('a suspended user', () => {
  let s: string;
  let peer: string;
  let chat: string;
  let fns: TestFunctions;
  beforeAll(async () => {
    [s, peer] = [await createUser(), await createUser()];
    chat = (await asUser(s, (tx) => tx`select id from public.get_or_create_direct_chat(${peer})`))[0]!.id;
    await asUser(s, (tx) => tx`select public.send_message(${chat}, 'before suspension')`);
    await asUser(admin, (tx) => tx`select public.admin_suspend_user(${s}, 'spam')`);
    fns = await startTestFunctions();
  });
  afterAll(() => fns?.stop());

  it('reads nothing from any table', async () => {
    const tables = await owner()<{ t: string }[]>`
      select c.relname as t from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'public' and c.relkind = 'r'
        and has_table_privilege('authenticated', c.oid, 'select')`;
    expect(tables.length).toBeGreaterThan(10);
    for (const { t } of tables) {
      const rows = await asUser(s, (tx) => tx`select 1 from ${tx('public.' + t)} limit 1`);
      expect(rows, t).toEqual([]);
    }
    // while the same query as the peer sees the shared chat
    expect(await asUser(peer, (tx) => tx`select id from public.chats where id = ${chat}`)).toHaveLength(1);
  });

  it('can write nothing and call no RPC', async () => {
    expect((await pgError(asUser(s, (tx) => tx`insert into public.messages (chat_id, sender_id, content) values (${chat}, ${s}, 'x')`))).code).toBe('42501');
    const rpc = await pgError(asUser(s, (tx) => tx`select public.send_friend_request(${peer})`));
    expect(rpc).toMatchObject({ code: '42501', message: 'account suspended' });
    expect((await pgError(asUser(s, (tx) => tx`select * from public.get_inbox()`))).code).toBe('42501');
  });

  it('is refused by Realtime and by the edge functions', async () => {
    expect((await realtimeJoin(s, `chat:${chat}`)).joined).toBe(false);
    expect((await realtimeJoin(s, `user:${s}`)).joined).toBe(false);
    const res = await fetch(`${fns.url}/me`, { headers: { authorization: `Bearer ${await sessionToken(fns.clerk, s)}` } });
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ error: 'forbidden', details: { reason: 'account_suspended' } });
  });

  it('is back after restore_user', async () => {
    await asUser(admin, (tx) => tx`select public.admin_restore_user(${s}, 'appeal accepted')`);
    expect(await asUser(s, (tx) => tx`select id from public.chats where id = ${chat}`)).toHaveLength(1);
    const res = await fetch(`${fns.url}/me`, { headers: { authorization: `Bearer ${await sessionToken(fns.clerk, s)}` } });
    expect(res.status).toBe(200);
    expect((await audit(s)).map((a) => a.action)).toEqual(['user.suspend', 'user.restore']);
  });
});

describe('schema-wide', () => {
  it('every public table carries the restrictive suspension policy', async () => {
    const missing = await owner()`
      select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'public' and c.relkind in ('r', 'p')
        and not exists (select 1 from pg_policies p where p.schemaname = 'public' and p.tablename = c.relname
                        and p.permissive = 'RESTRICTIVE' and p.policyname = 'Suspended users are locked out')`;
    expect(missing).toEqual([]);
  });
});
