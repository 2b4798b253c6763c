/**
 * The welcome grant from an attacker's side: signed Clerk webhooks (real
 * `svix`, real Deno, real PostgreSQL) for accounts that try to collect the
 * welcome credits more than once. The grant is given once per verified
 * identity (email or phone whose Clerk `verification.status` is `verified`),
 * not per account, within a daily budget
 * (credits.welcome_grant_daily_budget_micro_usd), and the identities are kept
 * only as keyed hashes (private.grant_welcome_credits, 20261122090000_clerk_sync.sql).
 */
import { ClerkWebhookResponse } from '@chat-with-me/shared';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { clerkEvent, clerkUser, clerkUserDeleted, svixHeaders, type ClerkUserFields } from '../helpers/clerk.js';
import { newUserId, owner, startForFile } from '../helpers/db.js';
import { startTestFunctions } from '../helpers/functions.js';

const fns = startForFile(() => startTestFunctions());

const WELCOME = 1_000_000; // credits.welcome_grant_micro_usd default (credits migration)

async function deliver(event: unknown) {
  const body = JSON.stringify(event);
  const res = await fetch(`${fns.url}/clerk-webhook`, { method: 'POST', headers: svixHeaders(fns.clerk, body), body });
  const text = await res.text();
  expect(res.status, text).toBe(200);
  return ClerkWebhookResponse.parse(JSON.parse(text));
}

type Payload = ReturnType<typeof clerkUser>;
/** A Clerk user whose only identities are `emails` (all verified unless `unverified`) and `phones`. */
function user(f: ClerkUserFields & { emails?: string[]; phones?: string[]; unverified?: boolean }): Payload {
  const base = clerkUser({ ...f, email: f.emails?.[0] ?? null });
  const status = f.unverified ? 'unverified' : 'verified';
  const emails = (f.emails ?? []).map((email_address, i) => ({
    id: `idn_e${i}${randomBytes(6).toString('hex')}`, object: 'email_address', email_address, linked_to: [],
    verification: { status, strategy: 'email_code' },
  }));
  const phones = (f.phones ?? []).map((phone_number, i) => ({
    id: `idn_p${i}${randomBytes(6).toString('hex')}`, object: 'phone_number', phone_number, linked_to: [],
    verification: { status, strategy: 'phone_code' },
  }));
  return { ...base, email_addresses: emails, primary_email_address_id: emails[0]?.id ?? null, phone_numbers: phones } as Payload;
}
const created = (p: Payload) => deliver(clerkEvent('user.created', p));
const updated = (p: Payload, updatedAt: number) => deliver(clerkEvent('user.updated', { ...p, updated_at: updatedAt }));

const uniqueEmail = () => `grant-${randomBytes(6).toString('hex')}@example.org`;

async function grantsOf(userId: string): Promise<number[]> {
  const rows = await owner()`select amount_micro_usd from public.credit_ledger where user_id = ${userId} and source = 'welcome_grant'`;
  return rows.map((r) => Number(r.amount_micro_usd));
}
async function balanceOf(userId: string): Promise<number | undefined> {
  const [w] = await owner()`select balance_micro_usd from public.credit_wallets where user_id = ${userId}`;
  return w ? Number(w.balance_micro_usd) : undefined;
}
const hasProfile = async (id: string) => (await owner()`select 1 from public.users where id = ${id}`).length === 1;

describe('an account with a verified email', () => {
  it('gets the welcome grant once, however many updates follow', async () => {
    const id = newUserId();
    const p = user({ id, emails: [uniqueEmail()], updated_at: 1_700_000_000_000 });
    expect((await created(p)).outcome).toBe('created');
    await updated(p, 1_700_000_001_000);
    await updated(user({ id, emails: [uniqueEmail()] }), 1_700_000_002_000); // a new verified address later
    expect(await grantsOf(id)).toEqual([WELCOME]);
    expect(await balanceOf(id)).toBe(WELCOME);
  });

  it('keeps only a keyed hash of the address: nothing in clear once the account is deleted', async () => {
    const id = newUserId();
    const email = uniqueEmail();
    await created(user({ id, emails: [email] }));
    await deliver(clerkUserDeleted(id));
    const rows = await owner()`select identity_hash from private.welcome_identities where user_id = ${id}`;
    expect(rows).toHaveLength(1);
    const hash = rows[0]!.identity_hash as Buffer;
    expect(hash).toHaveLength(32); // HMAC-SHA-256
    expect(hash.includes(Buffer.from(email))).toBe(false);
    // Not a plain sha256 of the address either (keyed).
    const [plain] = await owner()`select sha256(convert_to(${`email:${email}`}, 'UTF8')) as h`;
    expect(Buffer.compare(plain!.h, hash)).not.toBe(0);
    expect(await owner()`select 1 from public.user_accounts where email = ${email}`).toHaveLength(0);
  });
});

describe('an attacker collecting welcome credits', () => {
  it('gets nothing with a second account on the same verified email, in another case or with a +tag', async () => {
    const email = uniqueEmail();
    const first = newUserId();
    await created(user({ id: first, emails: [email] }));
    expect(await grantsOf(first)).toEqual([WELCOME]);
    for (const alias of [email, email.toUpperCase(), email.replace('@', '+again@')]) {
      const second = newUserId();
      expect((await created(user({ id: second, emails: [alias] }))).outcome).toBe('created');
      expect(await hasProfile(second)).toBe(true); // the account exists…
      expect(await grantsOf(second), alias).toEqual([]); // …without the grant
      expect(await balanceOf(second)).toBe(0);
    }
  });

  it('gets nothing by deleting the account and signing up again with the same email', async () => {
    const email = uniqueEmail();
    const first = newUserId();
    await created(user({ id: first, emails: [email] }));
    expect(await grantsOf(first)).toEqual([WELCOME]);
    expect((await deliver(clerkUserDeleted(first))).outcome).toBe('deleted');
    const again = newUserId(); // Clerk never reuses ids: a re-created account is a new id
    await created(user({ id: again, emails: [email] }));
    expect(await hasProfile(again)).toBe(true);
    expect(await grantsOf(again)).toEqual([]);
  });

  it('gets nothing with a second account on the same verified phone number, however it is written', async () => {
    const digits = `1555${Math.floor(1_000_000 + Math.random() * 8_999_999)}`;
    const first = newUserId();
    await created(user({ id: first, phones: [`+${digits}`] }));
    expect(await grantsOf(first)).toEqual([WELCOME]);
    const second = newUserId();
    await created(user({ id: second, emails: [uniqueEmail()], phones: [`+${digits.slice(0, 1)} (${digits.slice(1, 4)}) ${digits.slice(4)}`] }));
    expect(await grantsOf(second)).toEqual([]);
  });

  it('20 accounts with one verified email through parallel webhooks: exactly one grant', async () => {
    const email = uniqueEmail();
    const ids = Array.from({ length: 20 }, () => newUserId());
    const answers = await Promise.all(ids.map((id) => created(user({ id, emails: [email] }))));
    expect(answers.every((a) => a.outcome === 'created')).toBe(true);
    const [r] = await owner()`
      select count(*)::int as n, coalesce(sum(amount_micro_usd), 0)::bigint as total from public.credit_ledger
      where source = 'welcome_grant' and user_id = any (${ids})`;
    expect(r).toEqual({ n: 1, total: String(WELCOME) });
    expect(await owner()`select 1 from public.users where id = any (${ids})`).toHaveLength(20);
  });

  it('an account whose email is not verified gets nothing until Clerk says it is', async () => {
    const id = newUserId();
    const email = uniqueEmail();
    await created(user({ id, emails: [email], unverified: true, updated_at: 1_700_000_000_000 }));
    expect(await grantsOf(id)).toEqual([]);
    await updated(user({ id, emails: [email] }), 1_700_000_005_000);
    expect(await grantsOf(id)).toEqual([WELCOME]);
  });
});

describe('the daily budget for all welcome grants', () => {
  it('once spent, new accounts are created without the grant (and get it on a later update once there is budget)', async () => {
    const key = 'credits.welcome_grant_daily_budget_micro_usd';
    const [before] = await owner()`select value from public.admin_config where key = ${key}`;
    const id = newUserId();
    const p = user({ id, emails: [uniqueEmail()], updated_at: 1_700_000_000_000 });
    try {
      await owner()`update public.admin_config set value = '0' where key = ${key}`;
      expect((await created(p)).outcome).toBe('created');
      expect(await hasProfile(id)).toBe(true);
      expect(await grantsOf(id)).toEqual([]);
    } finally {
      await owner()`update public.admin_config set value = ${before!.value} where key = ${key}`;
    }
    await updated(p, 1_700_000_001_000);
    expect(await grantsOf(id)).toEqual([WELCOME]);
  });
});
