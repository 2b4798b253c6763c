/**
 * Test access to the real database, the way Supabase's servers reach it.
 *
 * - `asUser` / `asAnon` / `asService` run a callback in a transaction exactly as
 *   PostgREST runs a request (docs/platform.md "What PostgREST does per request";
 *   stack/runtime/data-api.mjs): connected
 *   as `authenticator`, `set_config('role', …, true)` and the JWT claims in
 *   `request.jwt.claims`, plus method, path and lower-cased headers. The
 *   transaction commits when the callback returns and rolls back when it throws.
 * - `realtimeJoin` / `realtimeSend` reproduce Realtime's private-channel checks
 *   (docs/platform.md "Realtime's database contract"): probe rows inserted by Realtime's own (superuser)
 *   connection, then a SELECT (join) or INSERT (send) as the user's role with
 *   `realtime.topic` set, always rolled back.
 */
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { afterAll, beforeAll, inject } from 'vitest';
import { postgrestRequest, withUser } from '../../stack/runtime/data-api.mjs';
import { clerkClaims } from '../../stack/standins/clerk.mjs';

export type Sql = postgres.Sql;
export type Tx = postgres.TransactionSql;

const dbUrl = () => process.env.TEST_DB_URL ?? inject('dbUrl');
let authenticatorPool: Sql | undefined;
let ownerPool: Sql | undefined;
let superPool: Sql | undefined;

/** Connection pool as `authenticator` (PostgREST's login role). */
export function authenticator(): Sql {
  authenticatorPool ??= postgres(withUser(dbUrl(), 'authenticator'), { max: 4, onnotice: () => {} });
  return authenticatorPool;
}

/** Connection pool as `postgres` (table owner, bypasses RLS): for assertions on raw state only. */
export function owner(): Sql {
  ownerPool ??= postgres(dbUrl(), { max: 2, onnotice: () => {} });
  return ownerPool;
}

/** Connection pool as the superuser (Realtime's connection user locally). */
export function superuser(): Sql {
  superPool ??= postgres(inject('superuserUrl'), { max: 2, onnotice: () => {} });
  return superPool;
}

/** Closes every pool this module opened (call in afterAll). */
export async function closeDb() {
  await Promise.all([authenticatorPool?.end(), ownerPool?.end(), superPool?.end()]);
  authenticatorPool = ownerPool = superPool = undefined;
}

/**
 * What a test file starts once and stops at its end (functions, stand-ins, a
 * payments world…): `start()` runs in beforeAll; in afterAll the started
 * object is stopped, then the pools closed (closeDb). Call at the top level of
 * the file. The answer stands for the started object: its fields and methods
 * are the started one's, readable in hooks and tests (not at module load,
 * before beforeAll has run). Several calls stop in reverse order (vitest runs
 * afterAll hooks as a stack), so a later start may use an earlier one's
 * fields.
 */
export function startForFile<T extends { stop(): Promise<void> }>(start: () => Promise<T>): T {
  let started: T | undefined;
  beforeAll(async () => {
    started = await start();
  });
  afterAll(async () => {
    await started?.stop();
    await closeDb();
  });
  return new Proxy({} as T, {
    get(_, key) {
      if (!started) {
        if (key === 'then' || typeof key === 'symbol') return undefined;
        throw new Error(`startForFile: .${key} read before beforeAll started it`);
      }
      const value = Reflect.get(started, key);
      return typeof value === 'function' ? value.bind(started) : value;
    },
    has: (_, key) => started !== undefined && key in started,
  });
}

/** A fresh Clerk-shaped user id (`user_` + 24 base62-ish characters). */
export function newUserId(): string {
  return `user_${randomBytes(18).toString('base64').replace(/[^A-Za-z0-9]/g, '').slice(0, 24).padEnd(24, 'x')}`;
}

/** Claims of a Clerk session token with `role: authenticated` (stack/runtime/data-api.mjs). */
export { clerkClaims };

interface RequestOptions {
  method?: string;
  path?: string;
}

function request<T>(
  role: 'anon' | 'authenticated' | 'service_role',
  claims: Record<string, unknown>,
  fn: (tx: Tx) => Promise<T>,
  opts: RequestOptions = {},
): Promise<T> {
  return postgrestRequest(authenticator(), role, claims, fn, opts) as Promise<T>;
}

/** Runs `fn` as the signed-in Clerk user `sub` (role authenticated). */
export function asUser<T>(sub: string, fn: (tx: Tx) => Promise<T>, extraClaims: Record<string, unknown> = {}, opts?: RequestOptions) {
  return request('authenticated', clerkClaims(sub, extraClaims), fn, opts);
}

/** Runs `fn` as an anonymous request (no token: role anon). */
export function asAnon<T>(fn: (tx: Tx) => Promise<T>, opts?: RequestOptions) {
  return request('anon', {}, fn, opts);
}

/** Runs `fn` as the service role (what webhook functions use). */
export function asService<T>(fn: (tx: Tx) => Promise<T>, opts?: RequestOptions) {
  return request('service_role', {}, fn, opts);
}

/**
 * Creates a user as the clerk-webhook does (service role): profile and account.
 * Returns the id.
 */
export async function createUser(
  profile: { id?: string; display_name?: string; username?: string; email?: string; is_admin?: boolean } = {},
): Promise<string> {
  const id = profile.id ?? newUserId();
  await asService(async (tx) => {
    await tx`insert into public.users (id, display_name, username)
             values (${id}, ${profile.display_name ?? `Test ${id.slice(-6)}`}, ${profile.username ?? null})`;
    await tx`insert into public.user_accounts (user_id, email, is_admin)
             values (${id}, ${profile.email ?? `${id.toLowerCase()}@example.com`}, ${profile.is_admin ?? false})`;
  });
  return id;
}

/** The error a failed statement raised, with its SQLSTATE `code`; throws if `p` resolved. */
export async function pgError(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (e) {
    const err = e as { code?: string; message: string };
    return { code: err.code ?? '', message: err.message };
  }
  throw new Error('expected the statement to fail, but it succeeded');
}

const PROBE_SETTINGS = (sub: string, topic: string) => {
  const claims = clerkClaims(sub);
  return { claims: JSON.stringify(claims), topic, sub, role: 'authenticated' };
};

/**
 * Realtime's join check for a private channel: can `sub` read `topic` for each
 * extension? (lib/realtime/tenants/authorization.ex: probe rows inserted by
 * Realtime's connection user, settings applied, ids selected, ROLLBACK.)
 */
export async function realtimeJoin(sub: string | null, topic: string) {
  const rollback = new Error('rollback');
  let result = { broadcast: false, presence: false };
  try {
    await superuser().begin(async (tx) => {
      const ids = { broadcast: crypto.randomUUID(), presence: crypto.randomUUID() };
      for (const [ext, id] of Object.entries(ids)) {
        await tx`insert into realtime.messages (id, topic, extension, inserted_at, updated_at)
                 values (${id}, ${topic}, ${ext}, now() at time zone 'utc', now() at time zone 'utc')`;
      }
      const s = sub ? PROBE_SETTINGS(sub, topic) : null;
      await tx`
        select
          set_config('role', ${s ? 'authenticated' : 'anon'}, true),
          set_config('realtime.topic', ${topic}, true),
          set_config('request.jwt.claims', ${s ? s.claims : JSON.stringify({ role: 'anon' })}, true),
          set_config('request.jwt.claim.sub', ${s ? s.sub : ''}, true),
          set_config('request.jwt.claim.role', ${s ? 'authenticated' : 'anon'}, true),
          set_config('request.headers', '{}', true)
      `;
      const rows = await tx<{ id: string; extension: string }[]>`
        select id, extension from realtime.messages where id in (${ids.broadcast}, ${ids.presence})`;
      result = {
        broadcast: rows.some((r) => r.extension === 'broadcast'),
        presence: rows.some((r) => r.extension === 'presence'),
      };
      throw rollback;
    });
  } catch (e) {
    if (e !== rollback) throw e;
  }
  return { ...result, joined: result.broadcast || result.presence };
}

/**
 * Realtime's write check: may `sub` send on `topic` with `extension`
 * (Broadcast or Presence)? Insert as the user's role inside a savepoint;
 * 42501 means no. Always rolled back.
 */
export async function realtimeSend(sub: string, topic: string, extension: 'broadcast' | 'presence' = 'broadcast') {
  const rollback = new Error('rollback');
  let allowed = false;
  try {
    await superuser().begin(async (tx) => {
      const s = PROBE_SETTINGS(sub, topic);
      await tx`
        select
          set_config('role', 'authenticated', true),
          set_config('realtime.topic', ${topic}, true),
          set_config('request.jwt.claims', ${s.claims}, true),
          set_config('request.jwt.claim.sub', ${s.sub}, true),
          set_config('request.jwt.claim.role', 'authenticated', true)
      `;
      try {
        await tx.savepoint(async (sp) => {
          await sp`insert into realtime.messages (topic, extension, payload, event, private)
                   values (${topic}, ${extension}, '{"typing":true}', 'typing', true)`;
        });
        allowed = true;
      } catch (e) {
        if ((e as { code?: string }).code !== '42501') throw e;
      }
      throw rollback;
    });
  } catch (e) {
    if (e !== rollback) throw e;
  }
  return allowed;
}

/** Broadcast rows written to `topic` (what Realtime would deliver), oldest first. */
export async function broadcastsOn(topic: string) {
  return owner()<{ event: string; payload: Record<string, any>; private: boolean }[]>`
    select event, payload, private from realtime.messages
    where topic = ${topic} and extension = 'broadcast'
    order by inserted_at, id`;
}
