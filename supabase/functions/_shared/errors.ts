/**
 * Errors a handler throws and how every error becomes an HTTP answer with the
 * shared error shape `{ error, message, details? }` (@chat-with-me/shared
 * `ErrorBody`, statuses in `ERROR_STATUS`).
 *
 * - `HttpError`: thrown on purpose (bad input, no token…): answered as is.
 * - Postgres errors raised by our RPCs and policies: mapped by SQLSTATE
 *   (https://www.postgresql.org/docs/current/errcodes-appendix.html):
 *     42501 insufficient_privilege → 403 (401 when the database says "not signed in")
 *     PT404 (PostgREST: HTTP 404) → 404  22023 invalid_parameter_value → 400
 *     23505 unique_violation → 409       23514 check_violation → 400
 *     23502 not_null_violation, 22P02 invalid_text_representation, 22001
 *     string_data_right_truncation → 400     23503 foreign_key_violation → 409
 *     PT402 (insufficient credits, as PostgREST answers it) → 402
 *     40001/40P01 serialization/deadlock, 57014 statement timeout, 53xxx
 *     insufficient resources, 08xxx connection → 503 (retry)
 * - Database unreachable (connection refused/timeout/closed) → 503.
 * - Anything else is a bug → 500 `internal_error` with the request id; its
 *   details go to the log, never to the caller.
 */
import { ERROR_STATUS, type ErrorBody, type ErrorCode } from '@chat-with-me/shared';

export class HttpError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
    readonly headers?: Record<string, string>,
  ) {
    super(message);
    this.name = 'HttpError';
    this.status = ERROR_STATUS[code];
  }

  toBody(): ErrorBody {
    return this.details === undefined
      ? { error: this.code, message: this.message }
      : { error: this.code, message: this.message, details: this.details };
  }
}

/** A Postgres error as postgres.js reports it (PostgresError). */
export interface PgErrorLike {
  code: string;
  message: string;
  severity?: string;
  detail?: string;
  hint?: string;
  constraint_name?: string;
  table_name?: string;
}

export function isPgError(e: unknown): e is PgErrorLike {
  const x = e as PgErrorLike | null;
  return !!x && typeof x === 'object' && typeof x.code === 'string' && /^[0-9A-Z]{5}$/.test(x.code) &&
    (x as { name?: string }).name === 'PostgresError';
}

const CONNECTION_CODES = /^(ECONNREFUSED|ECONNRESET|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|EPIPE|CONNECT_TIMEOUT|CONNECTION_CLOSED|CONNECTION_ENDED|CONNECTION_DESTROYED)$/;

/** True for "could not reach / lost the database" errors from postgres.js or the runtime. */
export function isConnectionError(e: unknown): boolean {
  const x = e as { code?: unknown; name?: unknown } | null;
  if (!x || typeof x !== 'object') return false;
  if (typeof x.code === 'string' && CONNECTION_CODES.test(x.code)) return true;
  return x.name === 'ConnectionRefused' || x.name === 'ConnectionReset' || x.name === 'TimedOut';
}

/** Maps a Postgres error raised by our SQL to an HttpError (see the table above), or null if it is not one we expect. */
export function fromPgError(e: PgErrorLike): HttpError | null {
  const msg = e.message;
  switch (e.code) {
    case '42501':
      return /not signed in/i.test(msg)
        ? new HttpError('unauthorized', msg)
        : new HttpError('forbidden', msg);
    case 'PT404':
      return new HttpError('not_found', msg);
    case '22023':
    case '23514':
    case '23502':
    case '22P02':
    case '22001':
    case '22007':
    case '22008':
      return new HttpError('invalid_request', msg, e.constraint_name ? { constraint: e.constraint_name } : undefined);
    case '23505':
      return new HttpError('conflict', 'conflicts with an existing record', e.constraint_name ? { constraint: e.constraint_name } : undefined);
    case '23503':
      return new HttpError('conflict', 'refers to a record that does not exist', e.constraint_name ? { constraint: e.constraint_name } : undefined);
    case 'PT402':
      return new HttpError('insufficient_credits', msg);
    case '40001':
    case '40P01':
    case '57014':
    case '55P03':
      return new HttpError('unavailable', 'the database is busy, retry shortly');
  }
  if (/^(08|53|57P)/.test(e.code)) return new HttpError('unavailable', 'the database is unavailable, retry shortly');
  return null;
}

/**
 * Turns anything thrown by a handler into an HttpError. `bug` is true for a
 * 500: the caller logs it with its stack.
 */
export function toHttpError(e: unknown, requestId: string): { error: HttpError; bug: boolean } {
  if (e instanceof HttpError) return { error: e, bug: false };
  if (isPgError(e)) {
    const mapped = fromPgError(e);
    if (mapped) return { error: mapped, bug: false };
  } else if (isConnectionError(e)) {
    return { error: new HttpError('unavailable', 'the database is unreachable, retry shortly'), bug: false };
  }
  return {
    error: new HttpError('internal_error', 'unexpected error: please report it with this request id', { request_id: requestId }),
    bug: true,
  };
}
