/**
 * Per-user rate limits for functions: the one database helper
 * `private.rate_limit(action)` (migration 20261122080800_admin_config.sql),
 * answered as HTTP 429 with `Retry-After`.
 *
 * Each action's limit is two admin_config rows, `rate_limit.<action>.limit`
 * (requests) and `rate_limit.<action>.window_seconds` (the window opens at the
 * caller's first request). The helper raises SQLSTATE PT429 with a JSON
 * DETAIL `{action, limit, window_seconds, retry_after_seconds}`; RPCs let
 * PostgREST turn it into a 429 (https://docs.postgrest.org/en/v12/references/errors.html),
 * functions turn it into `HttpError('rate_limited')` here.
 */
import { z } from 'zod';
import { callValue, type Tx } from './db.ts';
import { HttpError, isPgError } from './errors.ts';

/** Actions limited by functions (the RPCs' own actions: message_send, friend_request, user_search). */
export type RateLimitedAction = 'media_sign' | 'checkout';

/** DETAIL of a PT429 raised by private.rate_limit. */
export const RateLimitDetail = z.object({
  action: z.string(),
  limit: z.number().int().nonnegative(),
  window_seconds: z.number().int().positive(),
  retry_after_seconds: z.number().int().positive(),
});

/**
 * A PT429 as a 429 `rate_limited` HttpError with `Retry-After: <seconds>` and
 * the DETAIL as `details` (parsed with `detailSchema`: RateLimitDetail for
 * private.rate_limit; `{retry_after_seconds: 60}` when it does not parse),
 * worded by `message` (default: the database's message); null for any other
 * error.
 */
export function rateLimitError<D extends { retry_after_seconds: number }>(
  e: unknown,
  detailSchema: z.ZodType<D>,
  message: (databaseMessage: string, retryAfterSeconds: number) => string = (m) => m,
): HttpError | null {
  if (!isPgError(e) || e.code !== 'PT429') return null;
  let detail: D | undefined;
  try {
    detail = detailSchema.parse(JSON.parse(e.detail ?? ''));
  } catch {
    detail = undefined;
  }
  const retry = detail?.retry_after_seconds ?? 60;
  return new HttpError('rate_limited', message(e.message, retry), detail ?? { retry_after_seconds: retry }, { 'retry-after': String(retry) });
}

/**
 * Counts one request of the transaction's caller (run it inside `asUser`) for
 * `action`. Throws 429 `rate_limited` (with Retry-After) when the window is
 * full; the request is then not counted (its transaction rolls back).
 */
export async function rateLimit(tx: Tx, action: RateLimitedAction): Promise<void> {
  try {
    await callValue(tx, 'rate_limit', { p_action: action });
  } catch (e) {
    throw rateLimitError(e, RateLimitDetail) ?? e;
  }
}
