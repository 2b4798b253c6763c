/**
 * push-dispatch: POST from a Database Webhook, Supabase Cron or the local
 * stack → drains the push outbox once (migration 20261202110000_push.sql,
 * docs/push.md) through FCM HTTP v1.
 *
 * 1. Caller: `Authorization: Bearer <PUSH_DISPATCH_SECRET>` (a secret of this
 *    function only, compared in constant time); anything else → 401. The body
 *    is optional JSON (`{limit}`; a Database Webhook's payload is accepted and
 *    ignored).
 * 2. `private.claim_push_batch(limit)` as the service role takes due rows
 *    under a lease (`for update skip locked`: concurrent runs never take the
 *    same row) with the devices each still owes and the badge.
 * 3. One FCM message per device (_shared/fcm.ts): title and body, the row's
 *    data plus `push_id`, `event_count` and `badge` (strings, as FCM data
 *    requires), the collapse key as Android `collapse_key`, the notification
 *    tag (`tag`, `apns-collapse-id`, web push `Topic`) so a later push of the
 *    same chat replaces the shown one, and the badge (Android
 *    `notification_count`, APNs `aps.badge`).
 *    https://firebase.google.com/docs/reference/fcm/rest/v1/projects.messages
 * 4. `private.finish_push` records the devices reached, removes tokens FCM
 *    reported UNREGISTERED or invalid, and schedules a retry when FCM
 *    answered 429/5xx/401 or was unreachable: after its Retry-After when
 *    given (https://firebase.google.com/docs/cloud-messaging/scale-fcm#errors),
 *    else exponential backoff 5 s × 2^(attempt−1), at most 1 h; other
 *    refusals are not retried.
 * Answers 200 with the counts (PushDispatchResponse); 401 without the secret;
 * 503 when FCM_SERVICE_ACCOUNT_JSON or PUSH_DISPATCH_SECRET is missing.
 */
import { PushDispatchRequest, PushDispatchResponse } from '@chat-with-me/shared';
import { z } from 'zod';
import { callRows, callValue, database } from '../_shared/db.ts';
import { platformEnv } from '../_shared/env.ts';
import { HttpError } from '../_shared/errors.ts';
import { type FcmMessage, fcmEnv, fcmSender } from '../_shared/fcm.ts';
import { defineFunction, json, parseJson, readJsonText } from '../_shared/http.ts';

const Env = z.object({
  ...platformEnv,
  ...fcmEnv,
  /** Shared with the caller (Database Webhook header, Cron job, local stack); at least 32 characters. */
  PUSH_DISPATCH_SECRET: z.string().min(32, 'expected at least 32 characters'),
});

/** Rows processed at once (each sends to its devices one after the other). */
const CONCURRENCY = 4;
const MAX_BACKOFF_SECONDS = 3600;

const Device = z.object({ id: z.uuid(), token: z.string(), platform: z.enum(['android', 'ios', 'web']) });

async function sha256(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)));
}

/** Constant-time comparison of the bearer token with the secret (digests of equal length). */
async function authorized(req: Request, secret: string): Promise<boolean> {
  const m = /^Bearer\s+(\S+)$/i.exec(req.headers.get('authorization') ?? '');
  if (!m) return false;
  const [a, b] = await Promise.all([sha256(m[1]!), sha256(secret)]);
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/** A web push `Topic` is at most 32 URL-safe characters: the key's uuid without dashes. */
function webTopic(collapseKey: string): string {
  return collapseKey.replace(/^[a-z]+:/, '').replace(/[^A-Za-z0-9_-]/g, '').slice(0, 32);
}

/** The row's data as FCM wants it: string values only. */
function stringData(data: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (data && typeof data === 'object') {
    for (const [k, v] of Object.entries(data)) if (v !== null && v !== undefined) out[k] = typeof v === 'string' ? v : JSON.stringify(v);
  }
  return out;
}

export const handler = defineFunction({ name: 'push-dispatch', methods: ['POST'], env: Env }, async (req, { env, log }) => {
  if (!(await authorized(req, env.PUSH_DISPATCH_SECRET))) throw new HttpError('unauthorized', 'push-dispatch needs its secret as the bearer token');
  const text = req.headers.get('content-type') ? await readJsonText(req, { maxBytes: 256 * 1024 }) : '';
  const body = text.trim() ? parseJson(text, PushDispatchRequest) : {};

  const db = database(env.SUPABASE_DB_URL);
  const sender = fcmSender(env.FCM_SERVICE_ACCOUNT_JSON, env.FCM_API_BASE);
  const rows = await db.asService((tx) => callRows(tx, 'claim_push_batch', { p_limit: body.limit ?? 100 }));
  const totals = { claimed: rows.length, sent: 0, retried: 0, failed: 0, fcm_messages: 0, removed_tokens: 0 };

  async function dispatch(row: (typeof rows)[number]) {
    const devices = z.array(Device).parse(row.devices);
    const tag = row.collapse_key;
    const delivered: string[] = [];
    const names: string[] = [];
    const removed: string[] = [];
    let retryAfter: number | null = null;
    const errors: string[] = [];
    for (const device of devices) {
      const message: FcmMessage = {
        token: device.token,
        notification: { title: row.title, body: row.body },
        data: { ...stringData(row.data), push_id: String(row.id), event_count: String(row.event_count), badge: String(row.badge) },
        android: { collapse_key: row.collapse_key, priority: 'high', notification: { tag, notification_count: row.badge } },
        apns: { headers: { 'apns-collapse-id': tag, 'apns-priority': '10' }, payload: { aps: { badge: row.badge, 'thread-id': tag } } },
        webpush: { headers: { Topic: webTopic(tag), Urgency: 'high' }, notification: { tag } },
      };
      const outcome = await sender.send(message);
      switch (outcome.kind) {
        case 'sent':
          delivered.push(device.id);
          names.push(outcome.name);
          break;
        case 'invalid_token':
          removed.push(device.id);
          log.info('push token removed', { device_id: device.id, reason: outcome.error });
          break;
        case 'retry': {
          const backoff = Math.min(MAX_BACKOFF_SECONDS, 5 * 2 ** Math.max(0, row.attempts - 1));
          retryAfter = Math.max(retryAfter ?? 0, outcome.retryAfterSeconds ?? backoff);
          errors.push(outcome.error);
          break;
        }
        case 'rejected':
          errors.push(outcome.error);
          log.warn('push refused by FCM', { outbox_id: row.id, device_id: device.id, error: outcome.error });
          break;
      }
    }
    const status = await db.asService((tx) =>
      callValue(tx, 'finish_push', {
        p_id: row.id, p_delivered: delivered, p_message_names: names, p_removed: removed,
        p_retry_after_seconds: retryAfter, p_error: errors.length ? errors.join('; ') : null,
      }),
    );
    totals.fcm_messages += delivered.length;
    totals.removed_tokens += removed.length;
    if (status === 'sent') totals.sent++;
    else if (status === 'retry') totals.retried++;
    else if (status === 'failed') totals.failed++;
  }

  const queue = [...rows];
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, queue.length) }, async () => {
    for (let row = queue.shift(); row; row = queue.shift()) await dispatch(row);
  }));
  if (rows.length) log.info('push outbox drained', totals);
  return json(PushDispatchResponse, totals);
});
