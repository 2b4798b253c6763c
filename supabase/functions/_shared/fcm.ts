/**
 * Firebase Cloud Messaging HTTP v1 for the functions: the OAuth access token
 * from a service account through Google's own `google-auth-library`, and one
 * `messages:send` call with its outcome classified.
 *
 * - Credentials: FCM_SERVICE_ACCOUNT_JSON, the service account key JSON of the
 *   Firebase project (Firebase console → Project settings → Service accounts →
 *   Generate new private key); its `project_id` names the project to send for.
 *   The access token (scope https://www.googleapis.com/auth/firebase.messaging)
 *   comes from `JWT#getAccessToken()`, which caches it until shortly before it
 *   expires (https://firebase.google.com/docs/cloud-messaging/auth-server).
 * - `token_uri`: google-auth-library 10 posts the signed assertion to Google's
 *   fixed endpoint https://oauth2.googleapis.com/token whatever the key file's
 *   `token_uri` says; when `token_uri` names another endpoint (the local FCM
 *   stand-in, stack/standins/fcm.mjs) a request interceptor on the client's
 *   own transporter sends it there. Real keys carry Google's endpoint, so
 *   nothing is redirected in production.
 * - FCM_API_BASE (tests and the local stack only): the origin of a server
 *   speaking FCM's API instead of https://fcm.googleapis.com.
 * Errors: https://firebase.google.com/docs/reference/fcm/rest/v1/ErrorCode
 */
import { JWT } from 'google-auth-library';
import { z } from 'zod';

export const GOOGLE_TOKEN_URL = 'https://oauth2.googleapis.com/token';
export const FCM_SCOPE = 'https://www.googleapis.com/auth/firebase.messaging';

/** The fields of a service account key JSON we use. */
export const ServiceAccount = z.object({
  project_id: z.string().min(1),
  client_email: z.email(),
  private_key: z.string().regex(/-----BEGIN PRIVATE KEY-----[\s\S]+-----END PRIVATE KEY-----/, 'expected a PEM private key'),
  private_key_id: z.string().optional(),
  token_uri: z.url().default(GOOGLE_TOKEN_URL),
});
export type ServiceAccount = z.infer<typeof ServiceAccount>;

/** Environment of a function that sends through FCM. */
export const fcmEnv = {
  FCM_SERVICE_ACCOUNT_JSON: z
    .string()
    .transform((s, ctx) => {
      try {
        return JSON.parse(s) as unknown;
      } catch {
        ctx.addIssue({ code: 'custom', message: 'expected the service account key JSON' });
        return z.NEVER;
      }
    })
    .pipe(ServiceAccount),
  FCM_API_BASE: z.url({ protocol: /^https?$/ }).default('https://fcm.googleapis.com'),
};

/** A FCM v1 message (https://firebase.google.com/docs/reference/fcm/rest/v1/projects.messages). */
export interface FcmMessage {
  token: string;
  notification?: { title?: string; body?: string };
  data?: Record<string, string>;
  android?: Record<string, unknown>;
  apns?: Record<string, unknown>;
  webpush?: Record<string, unknown>;
}

/** What one send came to. */
export type SendOutcome =
  | { kind: 'sent'; name: string }
  /** The token is dead: UNREGISTERED, or INVALID_ARGUMENT on `message.token`. Remove it. */
  | { kind: 'invalid_token'; error: string }
  /** 429, 5xx, 401 or unreachable: try again after `retryAfterSeconds` (from Retry-After) if given. */
  | { kind: 'retry'; error: string; retryAfterSeconds?: number }
  /** Any other refusal (our message is wrong, wrong project): not retried. */
  | { kind: 'rejected'; error: string };

const FcmErrorBody = z.object({
  error: z.object({
    code: z.number().optional(),
    status: z.string().optional(),
    message: z.string().optional(),
    details: z.array(z.looseObject({ '@type': z.string().optional(), errorCode: z.string().optional(), fieldViolations: z.array(z.looseObject({ field: z.string().optional() })).optional() })).optional(),
  }),
});

/** Seconds of a Retry-After header (delta-seconds or an HTTP date), or undefined. */
export function retryAfterSeconds(header: string | null, now = Date.now()): number | undefined {
  if (!header) return undefined;
  if (/^\d+$/.test(header.trim())) return Number(header.trim());
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - now) / 1000));
}

const senders = new Map<string, ReturnType<typeof createSender>>();

/**
 * The sender of one service account and API base, made once per isolate, so
 * its access token is cached across requests until it expires.
 */
export function fcmSender(account: ServiceAccount, apiBase: string) {
  const key = `${account.client_email}\n${account.private_key_id ?? ''}\n${account.token_uri}\n${apiBase}`;
  let sender = senders.get(key);
  if (!sender) senders.set(key, (sender = createSender(account, apiBase)));
  return sender;
}

function createSender(account: ServiceAccount, apiBase: string) {
  const client = new JWT({ email: account.client_email, key: account.private_key, keyId: account.private_key_id, scopes: [FCM_SCOPE] });
  if (account.token_uri !== GOOGLE_TOKEN_URL) {
    client.transporter.interceptors.request.add({
      resolved: async (opts) => {
        if (String(opts.url) === GOOGLE_TOKEN_URL) opts.url = new URL(account.token_uri);
        return opts;
      },
    });
  }
  const endpoint = `${apiBase.replace(/\/$/, '')}/v1/projects/${encodeURIComponent(account.project_id)}/messages:send`;

  return {
    async send(message: FcmMessage): Promise<SendOutcome> {
      let res: Response;
      try {
        const { token } = await client.getAccessToken();
        res = await fetch(endpoint, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ message }),
          signal: AbortSignal.timeout(10_000),
        });
      } catch (e) {
        return { kind: 'retry', error: `FCM unreachable or token refused: ${e instanceof Error ? e.message : String(e)}`.slice(0, 300) };
      }
      const text = await res.text();
      if (res.ok) {
        const name = z.object({ name: z.string() }).safeParse(JSON.parse(text || '{}'));
        return name.success ? { kind: 'sent', name: name.data.name } : { kind: 'rejected', error: 'FCM answered 200 without a message name' };
      }
      let parsed: z.infer<typeof FcmErrorBody> | undefined;
      try {
        parsed = FcmErrorBody.parse(JSON.parse(text));
      } catch {
        parsed = undefined;
      }
      const details = parsed?.error.details ?? [];
      const errorCode = details.find((d) => d.errorCode)?.errorCode ?? parsed?.error.status ?? `HTTP ${res.status}`;
      const error = `${res.status} ${errorCode}: ${parsed?.error.message ?? text.slice(0, 200)}`.slice(0, 300);
      if (errorCode === 'UNREGISTERED') return { kind: 'invalid_token', error };
      if (res.status === 400 && details.some((d) => d.fieldViolations?.some((v) => v.field === 'message.token'))) return { kind: 'invalid_token', error };
      if (res.status === 401) {
        // A revoked or expired access token: drop the cached one so the next try mints a new one.
        client.credentials = {};
        return { kind: 'retry', error };
      }
      if (res.status === 429 || res.status >= 500) return { kind: 'retry', error, retryAfterSeconds: retryAfterSeconds(res.headers.get('retry-after')) };
      return { kind: 'rejected', error };
    },
  };
}
