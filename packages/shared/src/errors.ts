/**
 * The one error shape every edge function answers with (docs/architecture.md):
 * `{ error, message, details? }` and an HTTP status that says
 * who must act. 4xx: the caller sent something wrong; 502/503: retry later;
 * 500: a bug on our side (the `x-request-id` header identifies it in the logs).
 */
import { z } from 'zod';

/** Error codes and the HTTP status each one is answered with. */
export const ERROR_STATUS = {
  /** 400: malformed JSON, a body or query that fails its schema, an invalid argument (SQLSTATE 22023, 23514). */
  invalid_request: 400,
  /** 400: a webhook whose signature is missing, wrong or too old (Svix: 5-minute tolerance). */
  invalid_signature: 400,
  /** 401: no session token, or one that is expired, not yet valid, wrongly signed or for another issuer/party. */
  unauthorized: 401,
  /** 402: not enough AI credits for the call. */
  insufficient_credits: 402,
  /** 403: signed in but not allowed (SQLSTATE 42501 from an RPC or policy). */
  forbidden: 403,
  /** 404: no such resource, or not visible to the caller (SQLSTATE PT404, which PostgREST answers with HTTP 404). */
  not_found: 404,
  /** 405: the function does not answer this HTTP method (the `Allow` header lists the ones it does). */
  method_not_allowed: 405,
  /** 409: conflicts with the current state (SQLSTATE 23505). */
  conflict: 409,
  /** 413: the body is larger than the function accepts. */
  payload_too_large: 413,
  /** 415: the body is not `application/json`. */
  unsupported_media_type: 415,
  /** 429: too many requests; retry after the `Retry-After` header. */
  rate_limited: 429,
  /** 500: a bug. Never the answer to bad input. */
  internal_error: 500,
  /** 502: an upstream provider (OpenAI, DeepSeek, Stripe, Cloudinary, Clerk) failed. */
  provider_error: 502,
  /** 503: the function is misconfigured (a secret is missing) or a dependency (the database) is unreachable. */
  unavailable: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;
export const ErrorCode = z.enum(Object.keys(ERROR_STATUS) as [ErrorCode, ...ErrorCode[]]);

/**
 * Body of every error answer. `details` is code-specific: validation issues
 * (`[{ path, message }]`), the missing configuration names, a request id…
 */
export const ErrorBody = z.object({
  error: ErrorCode,
  message: z.string(),
  details: z.unknown().optional(),
});
export type ErrorBody = z.infer<typeof ErrorBody>;

/** One schema validation problem, as listed in `details.issues` of an `invalid_request`. */
export const ValidationIssue = z.object({ path: z.string(), message: z.string() });
export type ValidationIssue = z.infer<typeof ValidationIssue>;
