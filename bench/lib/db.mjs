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
import { postgrestRequest, withUser } from '../../stack/runtime/data-api.mjs';
import { clerkClaims } from '../../stack/standins/clerk.mjs';

export { clerkClaims, withUser };

/** A postgres.js pool; notices ignored unless `onnotice` is given. */
export function pool(url, max, extra = {}) {
  return postgres(url, { max, onnotice: () => {}, idle_timeout: 0, connect_timeout: 30, ...extra });
}

const HEADERS = JSON.stringify({ 'content-type': 'application/json' });

/** One request as PostgREST runs it, on an `authenticator` pool (stack/runtime/data-api.mjs). */
export const request = postgrestRequest;

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

/**
 * Whether the server preloads pg_stat_statements (bench/run.mjs starts the
 * bench database with it); when it does, the extension is created (in
 * `extensions`, as on hosted projects). `sql` must be a superuser connection.
 * @param {import('postgres').Sql} sql
 */
export async function pgStatStatements(sql) {
  const [{ libs }] = await sql`select current_setting('shared_preload_libraries') as libs`;
  if (!/pg_stat_statements/.test(libs)) return false;
  await sql`create extension if not exists pg_stat_statements with schema extensions`;
  return true;
}
