/**
 * One Data API request replayed in SQL, exactly as PostgREST runs it
 * (https://docs.postgrest.org/en/v12/references/transactions.html): a
 * transaction on an `authenticator` connection (read only for GET/HEAD), then
 * one `select set_config(…, true)` of search_path, the role, the JWT claims
 * (with `role` inserted), method, path and lower-cased headers, then the
 * statement. For tests of SQL internals (tests/helpers/db.ts) and the
 * database benchmarks (bench/lib/db.mjs); clients go through the real
 * PostgREST (stack/runtime/postgrest.mjs). The edge functions have their own
 * copy in supabase/functions/_shared/db.ts (they deploy without this folder).
 */

/** `url` with another login user (same host, port, password and options). */
export function withUser(url, user) {
  const u = new URL(url);
  u.username = user;
  return u.toString();
}

/**
 * Runs `fn` as one request of `role` with `claims`, committing when it
 * returns and rolling back when it throws.
 * @template T
 * @param {import('postgres').Sql} sql a pool connected as `authenticator`
 * @param {'anon' | 'authenticated' | 'service_role'} role
 * @param {Record<string, unknown>} claims the verified JWT claims (`role` is set from `role`)
 * @param {(tx: import('postgres').TransactionSql) => Promise<T>} fn
 * @param {{ method?: string, path?: string, headers?: Record<string, string>, settings?: Record<string, string> }} [opts]
 *   `settings`: more transaction-local settings, e.g. `realtime.topic` for Realtime's checks
 * @returns {Promise<T>}
 */
export async function postgrestRequest(sql, role, claims, fn, opts = {}) {
  const { method = 'POST', path = '/rest/v1/rpc', headers = { 'content-type': 'application/json' }, settings = {} } = opts;
  const lowerHeaders = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
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
          set_config('request.headers', ${JSON.stringify(lowerHeaders)}, true)
      `;
      for (const [name, value] of Object.entries(settings)) await tx`select set_config(${name}, ${value}, true)`;
      return fn(tx);
    })
  );
}
