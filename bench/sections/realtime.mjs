/**
 * 7. Realtime delivery: how long a stored message takes to reach a member's
 * supabase-js channel through the local Realtime stand-in
 * (stack/runtime/realtime.mjs, docs/realtime.md): the `messages` trigger's
 * realtime.broadcast_changes row, committed with the message, read from the
 * publication by logical replication and sent on the member's private channel
 * `chat:<id>`. Against the baseline of the send itself, measured on the same
 * messages.
 *
 * One member is subscribed (supabase-js 2.x over `ws`, through the local API
 * gateway, with an HS256 token of the bench's JWT secret); another member
 * sends `n` messages one at a time as PostgREST runs `rpc('send_message')`
 * (tests/helpers/db.ts' envelope), each waiting for its delivery before the
 * next. Per message, in ms:
 *  - `send`: the request's round trip, from sending to the commit's answer
 *    (the baseline);
 *  - `delivery`: from sending to the INSERT arriving on the subscriber's
 *    channel (includes the send);
 *  - `after_commit`: delivery − send, what Realtime adds after the commit was
 *    answered (≤ 0 when the broadcast beats the commit's answer).
 * Bounded: at most `n` messages (200; 40 with --quick), 60 s, 5 s per delivery.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createClient } from '@supabase/supabase-js';
import { SignJWT } from 'jose';
import ws from 'ws';
import { freePort } from '../../stack/runtime/db.mjs';
import { startGateway } from '../../stack/runtime/gateway.mjs';
import { startRealtime } from '../../stack/runtime/realtime.mjs';
import { loadKeys } from '../../stack/runtime/state.mjs';
import { benchUserId } from '../lib/dataset.mjs';
import { asUser, pool, withUser } from '../lib/db.mjs';
import { round, summarize } from '../lib/measure.mjs';

const DELIVERY_TIMEOUT_MS = 5_000;
const SECTION_LIMIT_MS = 60_000;

/**
 * @param {{ superuser: import('postgres').Sql, superuserUrl: string, url: string, quick: boolean, log: (s: string) => void }} ctx
 */
export async function benchRealtime({ superuser, superuserUrl, url, quick, log }) {
  const n = quick ? 40 : 200;
  const warmup = quick ? 3 : 10;
  const [sender, receiver] = [benchUserId(2), benchUserId(3)];
  const [{ id: chatId }] = await superuser`
    insert into public.chats (kind, title, created_by) values ('group', 'Realtime bench', ${sender}) returning id`;
  await superuser`
    insert into public.chat_members (chat_id, user_id, role)
    values (${chatId}, ${sender}, 'owner'), (${chatId}, ${receiver}, 'member')`;

  const stateDir = await mkdtemp(path.join(tmpdir(), 'chat-with-me-bench-rt-'));
  const keys = await loadKeys(stateDir);
  const jwks = { keys: [{ kty: 'oct', k: Buffer.from(keys.jwtSecret).toString('base64url'), alg: 'HS256' }] };
  // The hosted messages-per-second limit (100, averaged over 60 s) would drop rows of a longer run: raised, as the send section raises the per-user limit.
  const realtime = await startRealtime({ dbUrl: superuserUrl, keys, jwks, limits: { maxEventsPerSecond: 10_000 } });
  const gateway = await startGateway({ port: await freePort(), postgrestUrl: 'http://127.0.0.1:9', functionsUrl: null, keys, realtime });
  const token = await new SignJWT({ sub: receiver, role: 'authenticated' })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuedAt()
    .setExpirationTime('15m')
    .sign(new TextEncoder().encode(keys.jwtSecret));
  const client = createClient(gateway.url, keys.publishableKey, {
    accessToken: async () => token,
    auth: { persistSession: false, autoRefreshToken: false },
    realtime: { transport: /** @type {any} */ (ws) },
  });
  const auth = pool(withUser(url, 'authenticator'), 1);
  try {
    /** message id → when its INSERT arrived (performance.now() ms) */
    const arrivals = new Map();
    /** @type {(() => void) | null} the one pending wait (sends are sequential) */
    let wake = null;
    await client.realtime.setAuth();
    const channel = client.channel(`chat:${chatId}`, { config: { private: true } });
    channel.on('broadcast', { event: 'INSERT' }, ({ payload }) => {
      arrivals.set(payload?.record?.id, performance.now());
      wake?.();
    });
    const status = await new Promise((resolve) => channel.subscribe((s, err) => resolve(err ? `${s}: ${err.message}` : s), 8000));
    if (status !== 'SUBSCRIBED') throw new Error(`realtime: the subscriber could not join: ${status}`);
    /** @returns {Promise<number>} when message `id` arrived (it may have arrived before the commit's answer) */
    const arrival = (id) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => ((wake = null), reject(new Error(`realtime: message ${id} not delivered within ${DELIVERY_TIMEOUT_MS} ms`))), DELIVERY_TIMEOUT_MS);
        wake = () => {
          if (!arrivals.has(id)) return;
          clearTimeout(timer);
          wake = null;
          resolve(arrivals.get(id));
        };
        wake();
      });
    const sendOne = async (i) => {
      const t0 = performance.now();
      const [row] = await asUser(auth, sender, (tx) =>
        tx`select id from public.send_message(p_chat_id => ${chatId}, p_content => ${`Realtime bench ${i}`}, p_client_id => ${randomUUID()})`,
      );
      const t1 = performance.now();
      const t2 = await arrival(row.id);
      arrivals.delete(row.id);
      return { send: t1 - t0, delivery: t2 - t0, after_commit: t2 - t1 };
    };

    for (let i = 0; i < warmup; i++) await sendOne(-1 - i);
    const samples = [];
    const deadline = performance.now() + SECTION_LIMIT_MS;
    while (samples.length < n && performance.now() < deadline) {
      samples.push(await sendOne(samples.length));
    }
    const send = summarize(samples.map((s) => s.send));
    const delivery = summarize(samples.map((s) => s.delivery));
    const afterCommit = summarize(samples.map((s) => s.after_commit));
    const ratio = round(delivery.p50 / send.p50, 2);
    log(
      `realtime: ${samples.length} messages: send (baseline) p50 ${send.p50} ms, p95 ${send.p95} ms; ` +
        `delivery to a subscribed member p50 ${delivery.p50} ms, p95 ${delivery.p95} ms (${ratio}× the send); ` +
        `after the commit's answer p50 ${afterCommit.p50} ms, p95 ${afterCommit.p95} ms`,
    );
    return { messages: samples.length, send_ms: send, delivery_ms: delivery, after_commit_ms: afterCommit, delivery_to_send_p50_ratio: ratio };
  } finally {
    await client.removeAllChannels().catch(() => {});
    await auth.end({ timeout: 5 }).catch(() => {});
    await realtime.stop().catch(() => {});
    await gateway.stop().catch(() => {});
    await rm(stateDir, { recursive: true, force: true }).catch(() => {});
  }
}
