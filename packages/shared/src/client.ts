/**
 * A small typed client for the edge functions. Uses only `fetch`, so it runs
 * in browsers, React Native, Deno and Node 18+. Each call sends the Clerk
 * session token as `Authorization: Bearer …`, validates the answer with the
 * function's shared schema, and throws a `FunctionsError` carrying the error
 * shape otherwise.
 *
 * ```ts
 * const functions = createFunctionsClient({
 *   url: 'https://<project-ref>.supabase.co/functions/v1', // or FUNCTIONS_URL of `npm start`
 *   getToken: () => clerk.session?.getToken(),
 * });
 * const { user } = await functions.me();
 * ```
 */
import { z } from 'zod';
import { streamAiChat } from './ai-chat-stream.ts';
import { ErrorBody, type ErrorCode } from './errors.ts';
import { AiChatResult, type AiChatRequestInput } from './functions/ai-chat.ts';
import { HealthResponse } from './functions/health.ts';
import { MeResponse } from './functions/me.ts';
import { type PaymentsCheckoutRequest, PaymentsCheckoutResponse } from './functions/payments.ts';
import { type MediaSignRequest, MediaSignResponse } from './functions/media.ts';

export interface FunctionsClientOptions {
  /** Base URL of the functions, without a trailing slash: `https://<ref>.supabase.co/functions/v1`. */
  url: string;
  /** The current Clerk session token (e.g. `() => clerk.session?.getToken()`); null/undefined when signed out. */
  getToken?: () => Promise<string | null | undefined> | string | null | undefined;
  /** Sent as the `apikey` header (a Supabase publishable key) when the gateway in front asks for one. */
  apiKey?: string;
  /** A fetch implementation (defaults to the global one). */
  fetch?: typeof fetch;
}

export interface InvokeOptions<S extends z.ZodType> {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** JSON body (sent as application/json). */
  body?: unknown;
  /** Query parameters. */
  query?: Record<string, string | number | boolean | undefined>;
  /** Schema of a successful answer. */
  response: S;
  /** Statuses whose body is a `response` rather than an error (default: 2xx). */
  okStatuses?: number[];
  /** Send the session token (default true). */
  auth?: boolean;
  signal?: AbortSignal;
}

/**
 * A failed call. `code` is the function's error code, or `network_error`
 * (no answer; `status` 0) or `invalid_response` (an answer that does not match
 * the schema: client and server disagree). `requestId` is the `x-request-id`
 * to quote when reporting a 500.
 */
export class FunctionsError extends Error {
  override readonly name = 'FunctionsError';
  constructor(
    readonly status: number,
    readonly code: ErrorCode | 'network_error' | 'invalid_response',
    message: string,
    readonly details?: unknown,
    readonly requestId?: string,
  ) {
    super(message);
  }
}

export function createFunctionsClient(options: FunctionsClientOptions) {
  const base = options.url.replace(/\/+$/, '');
  const doFetch = options.fetch ?? ((input: RequestInfo | URL, init?: RequestInit) => fetch(input, init));

  /** Calls function `name` (optionally `name/sub/path`) and returns its validated answer. */
  async function invoke<S extends z.ZodType>(name: string, opts: InvokeOptions<S>): Promise<z.infer<S>> {
    const url = new URL(`${base}/${name}`);
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = { accept: 'application/json' };
    if (opts.auth !== false && options.getToken) {
      const token = await options.getToken();
      if (token) headers.authorization = `Bearer ${token}`;
    }
    if (options.apiKey) headers.apikey = options.apiKey;
    let body: string | undefined;
    if (opts.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(opts.body);
    }
    let res: Response;
    try {
      res = await doFetch(url, { method: opts.method ?? (body ? 'POST' : 'GET'), headers, body, signal: opts.signal });
    } catch (e) {
      throw new FunctionsError(0, 'network_error', `could not reach ${name}: ${(e as Error)?.message ?? e}`);
    }
    const requestId = res.headers.get('x-request-id') ?? undefined;
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      throw new FunctionsError(res.status, 'invalid_response', `${name} answered ${res.status} with a non-JSON body`, undefined, requestId);
    }
    const ok = opts.okStatuses ? opts.okStatuses.includes(res.status) : res.ok;
    if (ok) {
      const parsed = opts.response.safeParse(json);
      if (!parsed.success) {
        throw new FunctionsError(res.status, 'invalid_response', `${name} answered an unexpected shape`, z.treeifyError(parsed.error), requestId);
      }
      return parsed.data;
    }
    const err = ErrorBody.safeParse(json);
    if (!err.success) {
      throw new FunctionsError(res.status, 'invalid_response', `${name} answered ${res.status} without the error shape`, json, requestId);
    }
    throw new FunctionsError(res.status, err.data.error, err.data.message, err.data.details, requestId);
  }

  return {
    invoke,
    /** `health`: database and configuration status (200 ok/degraded, 503 unavailable — both returned, not thrown). */
    health: (signal?: AbortSignal) =>
      invoke('health', { method: 'GET', response: HealthResponse, okStatuses: [200, 503], auth: false, signal }),
    /** `me`: the caller's profile and account, created from the token if the Clerk webhook has not arrived yet. */
    me: (signal?: AbortSignal) => invoke('me', { method: 'GET', response: MeResponse, signal }),
    /** `ai-chat` without streaming: the whole answer once it is stored and charged (`AiChatResult`). */
    aiChat: (body: AiChatRequestInput, signal?: AbortSignal) =>
      invoke('ai-chat', { method: 'POST', body: { ...body, stream: false }, response: AiChatResult, signal }),
    /** `ai-chat` streamed: yields `start`, `delta`… and `done` events (see ai-chat-stream.ts). */
    aiChatStream: (body: AiChatRequestInput, signal?: AbortSignal) => streamAiChat(options, body, signal),
    /**
     * `media-sign`: a signature for one direct upload to Cloudinary into the caller's folder for `purpose`;
     * post it with `buildCloudinaryUploadForm(sign, file)` to `sign.upload_url`.
     */
    mediaSign: (body: MediaSignRequest, signal?: AbortSignal) =>
      invoke('media-sign', { method: 'POST', body, response: MediaSignResponse, signal }),
    /**
     * `payments-checkout`: a Stripe Checkout Session for a credit pack; send the user to `checkout_url`.
     * The wallet is credited by stripe-webhook once Stripe says paid (`topup_succeeded` on `user:<id>`).
     */
    paymentsCheckout: (body: PaymentsCheckoutRequest, signal?: AbortSignal) =>
      invoke('payments-checkout', { method: 'POST', body, response: PaymentsCheckoutResponse, signal }),
  };
}

export type FunctionsClient = ReturnType<typeof createFunctionsClient>;
