/**
 * HTTP plumbing shared by every function, so that a handler reads top-down:
 * method, auth, parse with the shared Zod schema, act, answer.
 *
 * `defineFunction` wraps a handler into a plain `(Request) => Promise<Response>`
 * (what each function's index.ts passes to `Deno.serve`; tests reach it over
 * HTTP, through the local stack's functions server) that:
 *   1. gives the request an id (a valid incoming `x-request-id`, else a uuid),
 *      echoed in the `x-request-id` answer header;
 *   2. answers CORS preflights (OPTIONS) and adds CORS headers to every answer;
 *   3. answers 405 with `Allow` for other methods;
 *   4. answers 503 while the function's environment is incomplete (env.ts);
 *   5. turns anything thrown into the error shape (errors.ts);
 *   6. writes one structured access-log line (method, path, status, duration).
 *
 * CORS: browsers call client functions with `Authorization` (a bearer token,
 * not a cookie), so any origin may call (`*`), as in Supabase's guide
 * https://supabase.com/docs/guides/functions/cors.
 */
import type { z } from 'zod';
import { ValidationIssue } from '@chat-with-me/shared';
import { type EnvResult, loadEnv } from './env.ts';
import { HttpError, toHttpError } from './errors.ts';
import { createLogger, type Logger } from './log.ts';

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/**
 * CORS for browsers (https://fetch.spec.whatwg.org/#http-cors-protocol): any
 * origin, the headers supabase-js sends; the answer's `x-request-id`,
 * `retry-after` and `server-timing` readable by the page, and the timings
 * also in the browser's Resource Timing (`timing-allow-origin`,
 * https://www.w3.org/TR/resource-timing/#sec-timing-allow-origin).
 */
export const CORS_HEADERS: Record<string, string> = {
  'access-control-allow-origin': '*',
  'access-control-allow-headers': 'authorization, x-client-info, apikey, content-type, x-request-id',
  'access-control-expose-headers': 'x-request-id, retry-after, server-timing',
  'timing-allow-origin': '*',
  'access-control-max-age': '86400',
};

/** Answers `body` as JSON after checking it against `schema` (our answers are validated too). */
export function json<S extends z.ZodType>(schema: S, body: z.input<S>, status = 200, headers: Record<string, string> = {}): Response {
  // Round-trip first: Dates become ISO strings, exactly what the client will parse.
  const wire = JSON.parse(JSON.stringify(body));
  const checked = schema.safeParse(wire);
  if (!checked.success) {
    throw new Error(`answer does not match its schema: ${JSON.stringify(issuesOf(checked.error))}`);
  }
  return new Response(JSON.stringify(checked.data), {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
  });
}

/** The error shape as a Response. */
export function errorResponse(error: HttpError): Response {
  return new Response(JSON.stringify(error.toBody()), {
    status: error.status,
    headers: { 'content-type': 'application/json; charset=utf-8', ...error.headers },
  });
}

/** Zod issues as `[{ path: 'a.b', message }]` (details of a 400). */
export function issuesOf(error: z.ZodError): ValidationIssue[] {
  return error.issues.slice(0, 20).map((i) => ({ path: i.path.map(String).join('.'), message: i.message }));
}

export interface ReadOptions {
  /** Largest body accepted, in bytes (default 64 KiB): larger is 413. */
  maxBytes?: number;
}

/**
 * The raw body of a JSON request, as text. 415 unless the content type is
 * application/json, 413 beyond `maxBytes` (from Content-Length, or while
 * reading a chunked body), 400 if it is not UTF-8.
 */
export async function readJsonText(req: Request, { maxBytes = 64 * 1024 }: ReadOptions = {}): Promise<string> {
  const type = (req.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') {
    throw new HttpError('unsupported_media_type', 'send the body as application/json', { content_type: type || null });
  }
  const declared = Number(req.headers.get('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > maxBytes) {
    throw new HttpError('payload_too_large', `the body may not exceed ${maxBytes} bytes`, { max_bytes: maxBytes });
  }
  if (!req.body) return '';
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => {});
      throw new HttpError('payload_too_large', `the body may not exceed ${maxBytes} bytes`, { max_bytes: maxBytes });
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const c of chunks) {
    bytes.set(c, offset);
    offset += c.byteLength;
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new HttpError('invalid_request', 'the body is not valid UTF-8');
  }
}

/** Parses JSON text with `schema`: 400 `invalid_request` with the issues when it is not JSON or does not match. */
export function parseJson<S extends z.ZodType>(text: string, schema: S): z.output<S> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new HttpError('invalid_request', 'the body is not valid JSON');
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    throw new HttpError('invalid_request', 'the body does not match the expected shape', { issues: issuesOf(parsed.error) });
  }
  return parsed.data;
}

/** `readJsonText` then `parseJson`: the validated body of a JSON request. */
export async function readJson<S extends z.ZodType>(req: Request, schema: S, opts?: ReadOptions): Promise<z.output<S>> {
  return parseJson(await readJsonText(req, opts), schema);
}

export interface FunctionContext<E> {
  /** The validated environment. */
  env: E;
  requestId: string;
  /** Logger carrying the function name and request id. */
  log: Logger;
}

export interface FunctionSpec<S extends z.ZodObject> {
  /** The function's slug (folder name). */
  name: string;
  /** HTTP methods it answers besides OPTIONS. */
  methods: Method[];
  /** Zod schema of the environment variables it needs (see env.ts). */
  env: S;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{8,128}$/;

/** Builds a function's `(Request) => Promise<Response>` (see the module comment). */
export function defineFunction<S extends z.ZodObject>(
  spec: FunctionSpec<S>,
  handle: (req: Request, ctx: FunctionContext<z.infer<S>>) => Promise<Response>,
): (req: Request) => Promise<Response> {
  const baseLog = createLogger({ fn: spec.name });
  const envResult: EnvResult<z.infer<S>> = loadEnv(spec.name, spec.env);
  const allow = [...spec.methods, 'OPTIONS'].join(', ');

  return async (req: Request): Promise<Response> => {
    const started = performance.now();
    const incoming = req.headers.get('x-request-id');
    const requestId = incoming && REQUEST_ID.test(incoming) ? incoming : crypto.randomUUID();
    const log = baseLog.child({ request_id: requestId });
    const path = new URL(req.url).pathname;
    let res: Response;
    try {
      if (req.method === 'OPTIONS') {
        res = new Response(null, { status: 204, headers: { 'access-control-allow-methods': allow } });
      } else if (!(spec.methods as string[]).includes(req.method)) {
        throw new HttpError('method_not_allowed', `${spec.name} answers ${spec.methods.join(', ')}`, undefined, { allow });
      } else if (!envResult.ok) {
        const p = envResult.problems;
        throw new HttpError('unavailable', `${spec.name} is not configured: ${p.map((x) => x.name).join(', ')} ${p.length === 1 ? 'is' : 'are'} missing or invalid`, {
          missing: p.filter((x) => x.problem === 'missing').map((x) => x.name),
          invalid: p.filter((x) => x.problem === 'invalid').map((x) => x.name),
        });
      } else {
        res = await handle(req, { env: envResult.env, requestId, log });
      }
    } catch (e) {
      const { error, bug } = toHttpError(e, requestId);
      if (bug) log.error('unhandled error', { error: e instanceof Error ? { name: e.name, message: e.message, stack: e.stack } : String(e) });
      else if (error.status >= 500) log.warn('request failed', { error: error.code, reason: (e as Error)?.message });
      res = errorResponse(error);
    }
    const headers = new Headers(res.headers);
    for (const [k, v] of Object.entries(CORS_HEADERS)) headers.set(k, v);
    headers.set('x-request-id', requestId);
    log.info('request', {
      method: req.method,
      path,
      status: res.status,
      duration_ms: Math.round(performance.now() - started),
    });
    return new Response(res.body, { status: res.status, statusText: res.statusText, headers });
  };
}
