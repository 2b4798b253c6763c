/**
 * Database access for functions: postgres.js on SUPABASE_DB_URL, as Supabase
 * documents it (https://supabase.com/docs/guides/functions/connect-to-postgres),
 * `prepare: false` so it also works through the Supavisor pooler in
 * transaction mode (port 6543), which has no prepared statements.
 *
 * Every request runs in a transaction that first switches role exactly as
 * PostgREST does (https://docs.postgrest.org/en/v12/references/transactions.html;
 * docs/platform.md): `set_config('role', …, true)` and `request.jwt.claims`
 * local to the transaction, so RLS policies and `auth.jwt()` see the same
 * caller as through the Data API:
 * - `asUser(claims, tx => …)`: role `authenticated` with the verified Clerk
 *   claims: for everything done on behalf of a user; a suspended account
 *   (admin_suspend_user) is refused with 403 before `fn` runs;
 * - `asService(tx => …)`: role `service_role` (bypasses RLS): webhooks and
 *   what no user may do, through the private functions granted to it.
 * The connection's own role (postgres) is never used for requests; only
 * `readMeta` (health: migration status) runs as it, read-only.
 *
 * Values arrive as the generated `Database` types (@chat-with-me/shared,
 * `npm run gen:types`) declare them, so rows are typed from those types
 * (`Tables<'…'>`, `PrivateReturns<'…'>`) without casts: `int8` as a JS number
 * through `parseInt8` (postgres.js would give a string), `timestamptz` and
 * `timestamp` as ISO 8601 strings (postgres.js would give a Date; the JSON
 * answers carried `Date#toISOString()` already), `json`/`jsonb` parsed.
 * Private functions are called through `callValue`, `callRow` and `callRows`,
 * with arguments and results typed from `Database['private']['Functions']`.
 */
import type { Database } from '@chat-with-me/shared';
import postgres from 'postgres';
import { HttpError } from './errors.ts';

export type Sql = postgres.Sql;
export type Tx = postgres.TransactionSql;

/**
 * A PostgreSQL `int8` (bigint) value in PostgreSQL's text form, as postgres.js
 * receives it, as a JS number. Used for every `int8` column and result the
 * functions read (the pool's parser for type oid 20): money in micro-USD
 * (1 USD = 1,000,000; docs/money.md), amounts in the currency's minor unit
 * (cents), byte sizes, token counts, ledger ids.
 *
 * Range rule: values are refused (RangeError) beyond ±Number.MAX_SAFE_INTEGER
 * (2^53 − 1 ≈ 9.007e15, i.e. about 9 billion USD in micro-USD) rather than
 * rounded, and kept as numbers (not bigint) below it, where a number is exact
 * and JSON carries it as is. Real values are orders of magnitude smaller; the
 * columns themselves have no such upper bound, so a larger value fails its
 * query (a 500 to investigate) instead of becoming a wrong amount. Not a
 * decimal or float parser: anything but an optional minus sign and digits is
 * refused too.
 * Source of the range: https://tc39.es/ecma262/#sec-number.max_safe_integer
 */
export function parseInt8(text: string): number {
  if (!/^-?[0-9]+$/.test(text)) throw new RangeError(`not an int8 value: ${JSON.stringify(text.slice(0, 40))}`);
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new RangeError(`int8 value ${text} is beyond Number.MAX_SAFE_INTEGER`);
  return n;
}

/** PostgreSQL type oids (pg_type.oid) whose parsing the pool overrides. */
const OID = { int8: 20, timestamp: 1114, timestamptz: 1184 } as const;

/**
 * postgres.js custom types (https://github.com/porsager/postgres#custom-types):
 * int8 through `parseInt8`, timestamps as ISO 8601 strings (`Date#toISOString`:
 * millisecond precision, UTC, e.g. 2026-11-22T08:00:00.123Z). Parameters are
 * sent as before (numbers and strings as text).
 */
const TYPES = {
  int8: { to: OID.int8, from: [OID.int8], serialize: (x: number | bigint | string) => String(x), parse: parseInt8 },
  timestamp: {
    to: OID.timestamptz,
    from: [OID.timestamp, OID.timestamptz],
    serialize: (x: Date | string) => (x instanceof Date ? x.toISOString() : x),
    parse: (x: string) => new Date(x).toISOString(),
  },
};

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
      types: TYPES,
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
  // `begin read only` is one statement (not begin + `set transaction read only`), and the
  // caller's suspension is read in the statement that sets the claims (the subquery runs
  // first: set_config is volatile, so it is not flattened): every round trip here is paid by
  // every request (bench/README.md, AI proxy overhead).
  const run = async (tx: Tx) => {
    const [state] = await tx<{ suspended: boolean }[]>`
      select ${role === 'authenticated' ? tx`private.caller_is_suspended()` : tx`false`} as suspended
      from (select
        set_config('search_path', 'public, extensions', true),
        set_config('role', ${role}, true),
        set_config('request.jwt.claims', ${JSON.stringify({ ...claims, role })}, true)) as request
    `;
    // An admin-suspended account is refused by every policy and RPC; say so
    // plainly (403) rather than letting empty results read as 404.
    if (state!.suspended) throw new HttpError('forbidden', 'This account is suspended.', { reason: 'account_suspended' });
    return fn(tx);
  };
  return (await (opts.readOnly ? pool(url).begin('read only', run) : pool(url).begin(run))) as T;
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

type PrivateFunctions = Database['private']['Functions'];
/** A function of the `private` schema (not exposed by the Data API; granted to service_role or called inside RLS). */
export type PrivateFunction = keyof PrivateFunctions;
/**
 * Named arguments of private.<F>, from the generated `Args`; each may also be
 * null (the generator drops SQL nullability of arguments; the function
 * decides what null means). Optional ones have a SQL default.
 */
export type PrivateArgs<F extends PrivateFunction> = {
  [K in keyof PrivateFunctions[F]['Args']]: PrivateFunctions[F]['Args'][K] | null;
};
/** What private.<F> returns, from the generated `Returns` (a value, a row, or an array of rows). */
export type PrivateReturns<F extends PrivateFunction> = PrivateFunctions[F]['Returns'];

type Scalar = string | number | boolean | null | undefined;
type ValueFunction = { [F in PrivateFunction]: PrivateReturns<F> extends Scalar | Scalar[] ? F : never }[PrivateFunction];
type RowFunction = {
  [F in PrivateFunction]: PrivateReturns<F> extends object ? (PrivateReturns<F> extends readonly unknown[] ? never : F) : never;
}[PrivateFunction];
type RowsFunction = { [F in PrivateFunction]: PrivateReturns<F> extends readonly Record<string, unknown>[] ? F : never }[PrivateFunction];

/**
 * A value sent as one parameter, its type decided by the function's signature:
 * the argument types of the private functions we call (json arguments would
 * need `tx.json`, and none is called with one).
 */
type SqlArg = string | number | boolean | null | readonly string[];
function isSqlArg(v: unknown): v is SqlArg {
  return v === null || ['string', 'number', 'boolean'].includes(typeof v) || (Array.isArray(v) && v.every((x) => typeof x === 'string'));
}

/**
 * `private.<fn>(name => $1, …)` as a query fragment: a call in PostgreSQL's
 * named notation (https://www.postgresql.org/docs/current/sql-syntax-calling-funcs.html),
 * arguments typed from the generated types; an argument left undefined takes
 * its SQL default. For queries around the call (e.g. flattening a composite
 * column); `callValue`/`callRow`/`callRows` cover plain calls.
 */
export function privateCall<F extends PrivateFunction>(tx: Tx, fn: F, args: PrivateArgs<F>) {
  const list = Object.entries(args)
    .filter(([, v]) => v !== undefined)
    .map(([name, value], i) => {
      if (!isSqlArg(value)) throw new TypeError(`private.${fn}: argument ${name} must be text, a number, a boolean, null or a text array`);
      return i === 0 ? tx`${tx(name)} => ${value}` : tx`, ${tx(name)} => ${value}`;
    });
  // An empty array would be sent as one (array) parameter: a call without arguments is written out.
  return list.length ? tx`${tx(`private.${fn}`)}(${list})` : tx`${tx(`private.${fn}`)}()`;
}

/** `select private.<fn>(…)`: the one value a scalar function returns (e.g. a webhook outcome). */
export async function callValue<F extends ValueFunction>(tx: Tx, fn: F, args: PrivateArgs<F>): Promise<PrivateReturns<F>> {
  const [row] = await tx<{ value: PrivateReturns<F> }[]>`select ${privateCall(tx, fn, args)} as value`;
  return row!.value;
}

/** `select * from private.<fn>(…)` for a function returning one row of a table (e.g. ai_interactions). */
export async function callRow<F extends RowFunction>(tx: Tx, fn: F, args: PrivateArgs<F>): Promise<PrivateReturns<F>> {
  const [row] = await tx<(PrivateReturns<F> & object)[]>`select * from ${privateCall(tx, fn, args)}`;
  return row!;
}

/** `select * from private.<fn>(…)` for a set-returning function: its rows (possibly none). */
export async function callRows<F extends RowsFunction>(tx: Tx, fn: F, args: PrivateArgs<F>): Promise<Extract<PrivateReturns<F>, readonly object[]>> {
  return await tx<Extract<PrivateReturns<F>, readonly object[]>>`select * from ${privateCall(tx, fn, args)}`;
}
