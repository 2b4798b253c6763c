/**
 * Database access for functions: postgres.js on SUPABASE_DB_URL, as Supabase
 * documents it (https://supabase.com/docs/guides/functions/connect-to-postgres),
 * `prepare: false` so it also works through the Supavisor pooler in
 * transaction mode (port 6543), which has no prepared statements.
 *
 * Every request runs in a transaction that first switches role exactly as
 * PostgREST does (PLATFORM.md §5; https://docs.postgrest.org/en/v12/references/transactions.html):
 * `set_config('role', …, true)` and `request.jwt.claims` local to the
 * transaction, so RLS policies and `auth.jwt()` see the same caller as through
 * the Data API:
 * - `asUser(claims, tx => …)`: role `authenticated` with the verified Clerk
 *   claims: for everything done on behalf of a user; a suspended account
 *   (admin_suspend_user) is refused with 403 before `fn` runs;
 * - `asService(tx => …)`: role `service_role` (bypasses RLS): webhooks and
 *   what no user may do, through the private functions granted to it.
 * The connection's own role (postgres) is never used for requests; only
 * `readMeta` (health: migration status) runs as it, read-only.
 */
import postgres from 'postgres';
import { HttpError } from './errors.ts';

export type Sql = postgres.Sql;
export type Tx = postgres.TransactionSql;

const pools = new Map<string, Sql>();

/** The pool for `url` (one per isolate; small: an edge isolate serves few requests at once). */
export function pool(url: string): Sql {
  let sql = pools.get(url);
  if (!sql) {
    sql = postgres(url, {
      prepare: false,
      max: 4,
      idle_timeout: 20,
      connect_timeout: 5,
      onnotice: () => {},
      connection: { application_name: 'chat-with-me-functions' },
    });
    pools.set(url, sql);
  }
  return sql;
}

interface TxOptions {
  /** `set transaction read only` (what PostgREST does for GET). */
  readOnly?: boolean;
}

async function asRole<T>(url: string, role: 'authenticated' | 'service_role', claims: Record<string, unknown>, fn: (tx: Tx) => Promise<T>, opts: TxOptions) {
  return (await pool(url).begin(async (tx) => {
    if (opts.readOnly) await tx`set transaction read only`;
    await tx`
      select
        set_config('search_path', 'public, extensions', true),
        set_config('role', ${role}, true),
        set_config('request.jwt.claims', ${JSON.stringify({ ...claims, role })}, true)
    `;
    if (role === 'authenticated') {
      // An admin-suspended account is refused by every policy and RPC; say so
      // plainly (403) rather than letting empty results read as 404.
      const [row] = await tx<{ suspended: boolean }[]>`select private.caller_is_suspended() as suspended`;
      if (row?.suspended) throw new HttpError('forbidden', 'This account is suspended.', { reason: 'account_suspended' });
    }
    return fn(tx);
  })) as T;
}

/** A database bound to one connection string. */
export function database(url: string) {
  return {
    /** Runs `fn` in a transaction as the Clerk user of `claims` (role authenticated: RLS applies). */
    asUser<T>(claims: { sub: string } & Record<string, unknown>, fn: (tx: Tx) => Promise<T>, opts: TxOptions = {}) {
      return asRole(url, 'authenticated', claims, fn, opts);
    },
    /** Runs `fn` in a transaction as service_role (bypasses RLS; for webhooks and trusted work only). */
    asService<T>(fn: (tx: Tx) => Promise<T>, opts: TxOptions = {}) {
      return asRole(url, 'service_role', {}, fn, opts);
    },
    /** Read-only transaction as the connection's role, for platform metadata (health). */
    async readMeta<T>(fn: (tx: Tx) => Promise<T>) {
      return (await pool(url).begin('read only', (tx) => fn(tx))) as T;
    },
  };
}
