/**
 * One Data API request, run in the database exactly as PostgREST runs it
 * (../shared/PLATFORM.md §5; https://docs.postgrest.org/en/v12/references/transactions.html):
 * a transaction on an `authenticator` connection (read only for GET/HEAD),
 * then one `select set_config(…, true)` of search_path, the role, the JWT
 * claims (with `role` inserted), method, path and lower-cased headers, then the
 * statement. Shared by the tests (tests/helpers/db.ts), the benchmarks
 * (bench/lib/db.mjs) and the demo (stack/demo/demo.mjs), which all stand in for
 * PostgREST on the Docker-free stack. The edge functions have their own copy
 * in supabase/functions/_shared/db.ts (they deploy without this folder).
 */

/** `url` with another login user (same host, port, password and options). */
export function withUser(url, user) {
  const u = new URL(url);
  u.username = user;
  return u.toString();
}

/**
 * Claims of a Clerk session token (https://clerk.com/docs/backend-requests/resources/session-tokens)
 * with `role: authenticated`, as Supabase's Clerk integration requires.
 * @param {string} sub Clerk user id
 * @param {Record<string, unknown>} [extra] more claims (or overrides)
 * @param {{ ttlSeconds?: number }} [opts]
 */
export function clerkClaims(sub, extra = {}, { ttlSeconds = 3600 } = {}) {
  const now = Math.floor(Date.now() / 1000);
  return {
    azp: 'http://localhost:3000',
    exp: now + ttlSeconds,
    iat: now,
    iss: 'https://chat-with-me.clerk.accounts.dev',
    nbf: now - 5,
    sid: `sess_${sub.slice(5)}`,
    sub,
    v: 2,
    role: 'authenticated',
    ...extra,
  };
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
