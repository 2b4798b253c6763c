/**
 * clerk-webhook: POST from Clerk (through Svix) → keeps public.users and
 * public.user_accounts in sync with Clerk users.
 *
 * 1. Verify the Svix signature over the raw body with the `svix` library
 *    (`svix-id`, `svix-timestamp`, `svix-signature` headers; timestamps more
 *    than 5 minutes off are refused): https://docs.svix.com/receiving/verifying-payloads/how
 *    and https://clerk.com/docs/webhooks/sync-data. Bad, stale or missing
 *    signatures → 400 `invalid_signature`, so nothing unsigned is parsed.
 * 2. Parse the event with the shared Zod schemas (400 if a signed payload
 *    does not match).
 * 3. Apply it as service_role through the private functions of migration
 *    20261122090000_clerk_sync.sql, in one transaction that also records the
 *    svix-id: a redelivery answers 200 `duplicate` and changes nothing; an
 *    older user.updated than the one applied answers 200 `stale`; a created or
 *    updated payload after user.deleted answers 200 `after_delete`.
 *    user.deleted deletes the profile (cascades; messages keep sender_id null).
 *    An applied created/updated payload also gives the welcome grant, once
 *    per verified email or phone number (not per account) and within a daily
 *    budget: private.grant_welcome_credits. It also stores the user's verified
 *    phone number (E.164) and its keyed lookup hash for contact discovery:
 *    private.clerk_sync_phone (20261202110600_contact_discovery.sql).
 *    Other event types are recorded and answered 200 `ignored`.
 * Any non-2xx makes Svix retry with backoff; a 503 (database down) is retried.
 */
import { ClerkUserEvent, ClerkWebhookEnvelope, ClerkWebhookOutcome, ClerkWebhookResponse } from '@chat-with-me/shared';
import { Webhook } from 'svix';
import { z } from 'zod';
import { callValue, database } from '../_shared/db.ts';
import { HttpError } from '../_shared/errors.ts';
import { platformEnv } from '../_shared/env.ts';
import { defineFunction, json, parseJson, readJsonText } from '../_shared/http.ts';
import { profileFromClerkUser } from './profile.ts';

const Env = z.object({
  ...platformEnv,
  /** Signing secret of the Clerk webhook endpoint (Dashboard → Webhooks → Signing Secret). */
  CLERK_WEBHOOK_SECRET: z
    .string()
    .regex(/^whsec_[A-Za-z0-9+/]+=*$/, 'expected whsec_ followed by base64')
    .refine((s) => {
      try {
        new Webhook(s);
        return true;
      } catch {
        return false;
      }
    }, 'not a valid Svix signing secret'),
});

/** Clerk user payloads are a few KB; anything far larger is not Clerk. */
const MAX_BODY_BYTES = 256 * 1024;

export const handler = defineFunction({ name: 'clerk-webhook', methods: ['POST'], env: Env }, async (req, { env, log }) => {
  const body = await readJsonText(req, { maxBytes: MAX_BODY_BYTES });

  const svixHeaders = {
    'svix-id': req.headers.get('svix-id') ?? '',
    'svix-timestamp': req.headers.get('svix-timestamp') ?? '',
    'svix-signature': req.headers.get('svix-signature') ?? '',
  };
  const absent = Object.entries(svixHeaders).filter(([, v]) => !v).map(([k]) => k);
  if (absent.length) {
    throw new HttpError('invalid_signature', `missing Svix header(s): ${absent.join(', ')}`, { missing: absent });
  }
  try {
    new Webhook(env.CLERK_WEBHOOK_SECRET).verify(body, svixHeaders);
  } catch (e) {
    // verify() checks the signature, then JSON.parses the body: a SyntaxError means signed but not JSON.
    if (e instanceof SyntaxError) throw new HttpError('invalid_request', 'the body is not valid JSON');
    throw new HttpError('invalid_signature', 'the webhook signature is invalid or its timestamp is outside the 5-minute tolerance', {
      reason: (e as Error)?.message ?? 'verification failed',
    });
  }
  const eventId = svixHeaders['svix-id'];
  if (eventId.length > 255) throw new HttpError('invalid_request', 'svix-id is too long');

  const envelope = parseJson(body, ClerkWebhookEnvelope);
  const occurredAt = envelope.timestamp ? new Date(envelope.timestamp).toISOString() : null;
  const db = database(env.SUPABASE_DB_URL);
  let outcome: ClerkWebhookOutcome;

  if (envelope.type === 'user.created' || envelope.type === 'user.updated' || envelope.type === 'user.deleted') {
    const event = parseJson(body, ClerkUserEvent);
    if (event.type === 'user.deleted') {
      outcome = ClerkWebhookOutcome.parse(
        await db.asService((tx) => callValue(tx, 'clerk_delete_user', { p_event_id: eventId, p_user_id: event.data.id, p_occurred_at: occurredAt })),
      );
    } else {
      const p = profileFromClerkUser(event.data);
      outcome = ClerkWebhookOutcome.parse(
        await db.asService(async (tx) => {
          const applied = await callValue(tx, 'clerk_upsert_user', {
            p_event_id: eventId,
            p_event_type: event.type,
            p_user_id: p.id,
            p_clerk_updated_at: p.clerk_updated_at,
            p_display_name: p.display_name,
            p_username: p.username,
            p_email: p.email,
            p_auth_provider: p.auth_provider,
            p_avatar_url: p.avatar_url,
            p_is_admin: p.is_admin,
            p_occurred_at: occurredAt,
            p_verified_identities: p.verified_identities,
          });
          // Same transaction: the verified phone number for contact discovery
          // (20261202110600_contact_discovery.sql), only with an applied payload.
          if (applied === 'created' || applied === 'updated') {
            await callValue(tx, 'clerk_sync_phone', { p_user_id: p.id, p_phone_number: p.phone_number });
          }
          return applied;
        }),
      );
    }
    log.info('clerk event applied', { event_id: eventId, type: event.type, user_id: event.data.id, outcome });
  } else {
    const first = await db.asService((tx) =>
      callValue(tx, 'record_webhook_event', {
        p_provider: 'clerk', p_event_id: eventId, p_type: envelope.type, p_occurred_at: occurredAt, p_outcome: 'ignored',
      })
    );
    outcome = first ? 'ignored' : 'duplicate';
    log.info('clerk event ignored', { event_id: eventId, type: envelope.type, outcome });
  }

  return json(ClerkWebhookResponse, { received: true, event_id: eventId, type: envelope.type, outcome });
});
