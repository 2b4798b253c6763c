/**
 * Database access for the benchmarks, the way Supabase's servers reach the
 * database (same path as tests/helpers/db.ts):
 *
 * - `request(sql, role, claims, fn)`: one PostgREST request: a transaction on
 *   an `authenticator` connection, `set_config('role', …, true)` and the JWT
 *   claims in `request.jwt.claims` (plus search_path, method, path, headers),
 *   then `fn(tx)`; commit when it returns. GET requests are read-only.
 * - `ownerRequest(sql, fn)`: the same envelope on a `postgres` (table owner,
 *   bypasses RLS) connection without switching role: the no-RLS baseline.
 */
import postgres from 'postgres';

/** Connection URL for `user` with the same host, port and password as `url`. */
export function withUser(url, user) {
  const u = new URL(url);
  u.username = user;
  return u.toString();
}

/** A postgres.js pool; notices ignored unless `onnotice` is given. */
export function pool(url, max, extra = {}) {
  return postgres(url, { max, onnotice: () => {}, idle_timeout: 0, connect_timeout: 30, ...extra });
}

/** Claims of a Clerk session token with `role: authenticated` (as tests/helpers/db.ts clerkClaims). */
export function clerkClaims(sub) {
  const now = Math.floor(Date.now() / 1000);
  return {
    azp: 'http://localhost:3000',
    exp: now + 3600,
    iat: now,
    iss: 'https://chat-with-me.clerk.accounts.dev',
    nbf: now - 5,
    sid: `sess_${sub.slice(5)}`,
    sub,
    v: 2,
    role: 'authenticated',
  };
}

const HEADERS = JSON.stringify({ 'content-type': 'application/json' });

/**
 * One request as PostgREST runs it, on an `authenticator` pool.
 * @template T
 * @param {import('postgres').Sql} sql authenticator pool
 * @param {'authenticated' | 'service_role' | 'anon'} role
 * @param {Record<string, unknown>} claims
 * @param {(tx: import('postgres').TransactionSql) => Promise<T>} fn
 * @param {{ method?: string, path?: string }} [opts]
 * @returns {Promise<T>}
 */
export async function request(sql, role, claims, fn, { method = 'POST', path = '/rest/v1/rpc' } = {}) {
  return /** @type {Promise<T>} */ (
    sql.begin(async (tx) => {
      if (method === 'GET' || method === 'HEAD') await tx`set transaction read only`;
      await tx`
        select
          set_config('search_path', 'public, extensions', true),
          set_config('role', ${role}, true),
          set_config('request.jwt.claims', ${JSON.stringify({ ...claims, role })}, true),
          set_config('request.method', ${method}, true),
          set_config('request.path', ${path}, true),
          set_config('request.headers', ${HEADERS}, true)
      `;
      return fn(tx);
    })
  );
}

/** A request as the signed-in Clerk user `sub`. */
export const asUser = (sql, sub, fn, opts) => request(sql, 'authenticated', clerkClaims(sub), fn, opts);

/** A request as the service role (what functions use for metering). */
export const asService = (sql, fn, opts) => request(sql, 'service_role', {}, fn, opts);

/**
 * The same envelope on an owner (`postgres`) pool, without switching role:
 * RLS does not apply (the table owner bypasses it). Claims are still set, so
 * the statements see the same settings.
 */
export async function ownerRequest(sql, sub, fn, { method = 'POST', path = '/rest/v1/rpc' } = {}) {
  return sql.begin(async (tx) => {
    if (method === 'GET' || method === 'HEAD') await tx`set transaction read only`;
    await tx`
      select
        set_config('search_path', 'public, extensions', true),
        set_config('request.jwt.claims', ${JSON.stringify(clerkClaims(sub))}, true),
        set_config('request.method', ${method}, true),
        set_config('request.path', ${path}, true),
        set_config('request.headers', ${HEADERS}, true)
    `;
    return fn(tx);
  });
}
