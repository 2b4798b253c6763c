/**
 * admin_config, admin_audit_log and the admin RPCs through supabase-js, as
 * each actor (20261122080800_admin_config.sql, 20261122140000_admin.sql):
 * admin_grant_credits, admin_deduct_credits, admin_suspend_user,
 * admin_restore_user, admin_delete_message, admin_set_config. Admins in good
 * standing act on others; anon, plain users, suspended admins and admins on
 * their own account are refused; the audit log is append-only for everyone.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { anonClient, clientAs } from '../helpers/client.js';
import { closeDb, owner } from '../helpers/db.js';
import { expectNoPrivilege, expectNotFound, expectRefused, freshUsers, ok, randomUUID } from '../helpers/world.js';

afterAll(closeDb);

let admin: string;
let user: string;
let chat: string;
let message: string;
const KEY = 'media.max_file_bytes'; // 25 MiB: a byte more or less changes no other test
const balance = async (u: string) => BigInt((await owner()`select balance_micro_usd from public.credit_wallets where user_id = ${u}`)[0]!.balance_micro_usd);
const auditCount = async () => (await owner()`select count(*)::int as n from public.admin_audit_log`)[0]!.n as number;
const configValue = async (k: string) => (await owner()`select value from public.admin_config where key = ${k}`)[0]!.value;

beforeAll(async () => {
  [admin] = await freshUsers(1, { is_admin: true });
  [user] = await freshUsers(1);
  chat = ok(await clientAs(user!).rpc('get_or_create_direct_chat', { p_user_id: admin! })).id;
  message = ok(await clientAs(user!).rpc('send_message', { p_chat_id: chat, p_content: 'report me' })).id;
});

describe('admin_config', () => {
  it('admins read settings; plain users read none (no error, no rows, count 0); anon 401', async () => {
    expect(ok(await clientAs(admin).from('admin_config').select('key').eq('key', KEY))).toEqual([{ key: KEY }]);
    const r = await clientAs(user).from('admin_config').select('*', { count: 'exact' });
    expect([ok(r), r.count]).toEqual([[], 0]);
    expectNoPrivilege(await anonClient().from('admin_config').select('key'), true);
  });

  it('a plain user changes no value (no row); an admin changes one directly, audited as "direct edit"; a bad type is 400', async () => {
    const before = await configValue(KEY);
    expect(ok(await clientAs(user).from('admin_config').update({ value: 1 }).eq('key', KEY).select())).toEqual([]);
    expect(await configValue(KEY)).toEqual(before);
    const audits = await auditCount();
    expect(ok(await clientAs(admin).from('admin_config').update({ value: 26214402 }).eq('key', KEY).select('value, updated_by'))).toEqual([{ value: 26214402, updated_by: admin }]);
    expect(await auditCount()).toBe(audits + 1);
    expectRefused(await clientAs(admin).from('admin_config').update({ value: 'lots' }).eq('key', KEY), 400, '22023');
    ok(await clientAs(admin).from('admin_config').update({ value: before }).eq('key', KEY));
  });

  it('description, value_type, bounds, updated_by are not writable, insert and delete neither, admins included (403)', async () => {
    const ad = clientAs(admin);
    expectNoPrivilege(await ad.from('admin_config').update({ value_type: 'json' }).eq('key', KEY));
    expectNoPrivilege(await ad.from('admin_config').update({ max_value: null }).eq('key', KEY));
    expectNoPrivilege(await ad.from('admin_config').update({ updated_by: 'someone' }).eq('key', KEY));
    expectNoPrivilege(await ad.from('admin_config').insert({ key: 'x.y', value: 1 }));
    expectNoPrivilege(await ad.from('admin_config').upsert({ key: KEY, value: 1, value_type: 'json' }, { onConflict: 'key' }));
    expectNoPrivilege(await ad.from('admin_config').delete().eq('key', KEY));
  });
});

describe('admin_audit_log', () => {
  it('admins read it; plain users read nothing; anon 401; nobody inserts, updates or deletes (403)', async () => {
    ok(await clientAs(admin).rpc('admin_grant_credits', { p_user_id: user, p_amount_micro_usd: 1, p_reason: 'audit fixture' }));
    expect(ok(await clientAs(admin).from('admin_audit_log').select('action').eq('target_user_id', user)).length).toBeGreaterThan(0);
    expect(ok(await clientAs(user).from('admin_audit_log').select('id').eq('target_user_id', user))).toEqual([]);
    expectNoPrivilege(await anonClient().from('admin_audit_log').select('id'), true);
    for (const c of [clientAs(admin), clientAs(user)]) {
      expectNoPrivilege(await c.from('admin_audit_log').insert({ actor: admin, action: 'user.restore', reason: 'forged' }));
      expectNoPrivilege(await c.from('admin_audit_log').update({ reason: 'rewritten' }).eq('target_user_id', user));
      expectNoPrivilege(await c.from('admin_audit_log').delete().eq('target_user_id', user));
    }
  });
});

describe('admin RPCs', () => {
  const calls = (target: string) => [
    ['admin_grant_credits', { p_user_id: target, p_amount_micro_usd: 1000, p_reason: 'goodwill' }],
    ['admin_deduct_credits', { p_user_id: target, p_amount_micro_usd: 1, p_reason: 'correction' }],
    ['admin_suspend_user', { p_user_id: target, p_reason: 'spam wave' }],
    ['admin_restore_user', { p_user_id: target, p_reason: 'appeal ok' }],
    ['admin_delete_message', { p_message_id: message, p_reason: 'abuse' }],
    ['admin_set_config', { p_key: KEY, p_value: 26214403, p_reason: 'tuning' }],
  ] as const;

  it('anon (401) and a plain user (403) are refused by every admin RPC; nothing is written', async () => {
    const [victim] = await freshUsers(1);
    const before = [await balance(victim!), await auditCount()];
    for (const [fn, args] of calls(victim!)) {
      expectRefused(await anonClient().rpc(fn, args as never), 401, '42501');
      expectRefused(await clientAs(user).rpc(fn, args as never), 403, '42501');
    }
    expect([await balance(victim!), await auditCount()]).toEqual(before);
    expect((await owner()`select deleted_at from public.messages where id = ${message}`)[0]!.deleted_at).toBeNull();
  });

  it('an admin runs each on another user, audited; on their own account the account operations are 403', async () => {
    const [victim] = await freshUsers(1);
    const b0 = await balance(victim!);
    expect(typeof ok(await clientAs(admin).rpc('admin_grant_credits', { p_user_id: victim!, p_amount_micro_usd: 1000, p_reason: 'goodwill' }))).toBe('number');
    ok(await clientAs(admin).rpc('admin_deduct_credits', { p_user_id: victim!, p_amount_micro_usd: 1, p_reason: 'correction' }));
    expect(await balance(victim!)).toBe(b0 + 999n);
    ok(await clientAs(admin).rpc('admin_suspend_user', { p_user_id: victim!, p_reason: 'spam wave' }));
    expect(ok(await clientAs(victim!).from('users').select('id').eq('id', victim!))).toEqual([]); // restrictive policy: sees nothing
    expectRefused(await clientAs(victim!).rpc('get_inbox'), 403, '42501');
    ok(await clientAs(admin).rpc('admin_restore_user', { p_user_id: victim!, p_reason: 'appeal ok' }));
    expect(ok(await clientAs(victim!).rpc('get_inbox'))).toEqual([]);
    for (const fn of ['admin_grant_credits', 'admin_deduct_credits'] as const)
      expectRefused(await clientAs(admin).rpc(fn, { p_user_id: admin, p_amount_micro_usd: 1, p_reason: 'myself' }), 403, '42501');
    for (const fn of ['admin_suspend_user', 'admin_restore_user'] as const)
      expectRefused(await clientAs(admin).rpc(fn, { p_user_id: admin, p_reason: 'myself' }), 403, '42501');
    ok(await clientAs(admin).rpc('admin_delete_message', { p_message_id: message, p_reason: 'abuse' }));
    expect((await owner()`select content, metadata from public.messages where id = ${message}`)[0]).toMatchObject({ content: '', metadata: { moderated: true } });
  });

  it('a suspended admin is refused by every admin RPC (403)', async () => {
    const [suspended] = await freshUsers(1, { is_admin: true });
    const [victim] = await freshUsers(1);
    ok(await clientAs(admin).rpc('admin_suspend_user', { p_user_id: suspended!, p_reason: 'compromised' }));
    for (const [fn, args] of calls(victim!)) expectRefused(await clientAs(suspended!).rpc(fn, args as never), 403, '42501');
    expectRefused(await clientAs(suspended!).rpc('admin_restore_user', { p_user_id: suspended!, p_reason: 'let me back' }), 403, '42501');
    expect(ok(await clientAs(suspended!).from('admin_config').select('key'))).toEqual([]);
  });

  it('money arguments: floats, strings, negatives and overflow are 4xx; nothing is credited', async () => {
    const [victim] = await freshUsers(1);
    const b0 = await balance(victim!);
    const ad = clientAs(admin);
    const grant = (amount: unknown) => ad.rpc('admin_grant_credits', { p_user_id: victim!, p_amount_micro_usd: amount as number, p_reason: 'bad amount' });
    expectRefused(await grant(1.5), 400, '22P02');
    expectRefused(await grant('1000'.repeat(10)), 400, '22003');
    expectRefused(await grant('a lot'), 400, '22P02');
    expectRefused(await grant(-5), 400, '22023');
    expectRefused(await grant(0), 400, '22023');
    expectRefused(await grant(null), 400, '22023');
    expectRefused(await ad.rpc('admin_deduct_credits', { p_user_id: victim!, p_amount_micro_usd: 10 ** 15, p_reason: 'below zero' }), [400, 402], /^(PT402|23514|P0001)$/);
    expectRefused(await ad.rpc('admin_grant_credits', { p_user_id: victim!, p_amount_micro_usd: 1, p_reason: 'x' }), 400, /^(23514|22023)$/);
    expect(await balance(victim!)).toBe(b0);
  });

  it('unknown targets are 404; unknown settings 404; extra arguments 404 PGRST202; wrong uuid 400', async () => {
    const ad = clientAs(admin);
    expectNotFound(await ad.rpc('admin_grant_credits', { p_user_id: 'user_doesNotExist000000', p_amount_micro_usd: 1, p_reason: 'nobody' }));
    expectNotFound(await ad.rpc('admin_delete_message', { p_message_id: randomUUID(), p_reason: 'nothing' }));
    expectNotFound(await ad.rpc('admin_set_config', { p_key: 'no.such.key', p_value: 1, p_reason: 'nothing' }));
    expectRefused(await ad.rpc('admin_set_config', { p_key: KEY, p_value: 1, p_reason: 'x', p_actor: 'studio:postgres' } as never), 404, 'PGRST202');
    expectRefused(await ad.rpc('admin_delete_message', { p_message_id: 'not-a-uuid', p_reason: 'bad' }), 400, '22P02');
  });
});
