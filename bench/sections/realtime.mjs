/**
 * 7. Realtime delivery (issue 20 item 5): how long a stored message takes to
 * reach the members' supabase-js channels through the local Realtime
 * stand-in (stack/runtime/realtime.mjs, docs/realtime.md), at 1 and at 100
 * subscribers of one chat. The path: the `messages` trigger's
 * realtime.broadcast_changes row, committed with the message, read from the
 * publication by logical replication and sent on each member's private
 * channel `chat:<id>`.
 *
 * The chat has a sender and 100 other members (bench users, added in SQL).
 * Each subscriber is its own supabase-js 2.x client over `ws`, through the
 * local API gateway, signed in with its own Clerk session token (RS256,
 * verified by the stand-in through the JWKS; bench/lib/data-api.mjs). First
 * one member subscribes, then the other 99 join. The sender sends `n`
 * messages one at a time as PostgREST runs `rpc('send_message')`
 * (stack/runtime/data-api.mjs' envelope), each waiting until every
 * subscriber has it before the next. Per message, in ms:
 *  - `send`: the request's round trip, from sending to the commit's answer
 *    (the baseline: the commit is answered once it is durable);
 *  - `after_commit`, per (message, subscriber): arrival − the commit's
 *    answer, what Realtime adds after the commit (≤ 0 when the broadcast
 *    beats the answer); median and p95 over all deliveries;
 *  - `first_after_commit` / `last_after_commit`, per message: the same for
 *    its first and its last subscriber (the fan-out's spread);
 *  - `delivery`: arrival − the send's start (includes the send).
 * The 100 clients, the stand-in, the gateway and the sender share one Node
 * process (and the machine's cores with PostgreSQL): at 100 subscribers the
 * figure includes decoding 100 frames per message in that event loop.
 * Hosted Realtime's rate limits (messages and joins per second, connections)
 * are raised so a longer run is not throttled, as the send section raises
 * the per-user message limit.
 * Bounded: at most `n` messages per run (200 / 100; 40 / 20 with --quick),
 * 60 s per run, 5 s per message; a message that misses subscribers is
 * counted (`missing`) and the run goes on; three in a row end it.
 */
import { randomUUID } from 'node:crypto';
import { benchUserId } from '../lib/dataset.mjs';
import { startClientPath } from '../lib/data-api.mjs';
import { asUser, pool, withUser } from '../lib/db.mjs';
import { round, summarize } from '../lib/measure.mjs';

export const REALTIME_SUBSCRIBERS = [1, 100];
const DELIVERY_TIMEOUT_MS = 5_000;
const RUN_LIMIT_MS = 60_000;
const JOIN_TIMEOUT_MS = 10_000;

/**
 * @param {{ superuser: import('postgres').Sql, superuserUrl: string, url: string, quick: boolean, log: (s: string) => void }} ctx
 */
export async function benchRealtime({ superuser, superuserUrl, url, quick, log }) {
  const maxSubs = Math.max(...REALTIME_SUBSCRIBERS);
  const sender = benchUserId(2);
  const members = Array.from({ length: maxSubs }, (_, k) => benchUserId(3 + k));
  const [{ id: chatId }] = await superuser`
    insert into public.chats (kind, title, created_by) values ('group', 'Realtime bench', ${sender}) returning id`;
  await superuser`
    insert into public.chat_members (chat_id, user_id, role)
    select ${chatId}, u, case when u = ${sender} then 'owner' else 'member' end::public.chat_member_role
    from unnest(${[sender, ...members]}::text[]) u`;

  const path = await startClientPath({
    url,
    superuserUrl,
    postgrest: false,
    realtime: true,
    realtimeLimits: { maxEventsPerSecond: 1_000_000, maxJoinsPerSecond: 10_000, maxConcurrentUsers: 10 * maxSubs },
  });
  const auth = pool(withUser(url, 'authenticator'), 1);
  try {
    /** message id → arrival times (performance.now() ms), one per subscriber */
    const arrivals = new Map();
    /** @type {{ id: string, expected: number, done: () => void } | null} the one pending wait (sends are sequential) */
    let waiting = null;
    let subscribed = 0;
    const subscribe = async (sub) => {
      const client = await path.client(sub);
      await client.realtime.setAuth();
      const channel = client.channel(`chat:${chatId}`, { config: { private: true } });
      channel.on('broadcast', { event: 'INSERT' }, ({ payload }) => {
        const id = payload?.record?.id;
        const list = arrivals.get(id) ?? [];
        list.push(performance.now());
        arrivals.set(id, list);
        if (waiting?.id === id && list.length >= waiting.expected) waiting.done();
      });
      const status = await new Promise((resolve) => channel.subscribe((s, err) => resolve(err ? `${s}: ${err.message}` : s), JOIN_TIMEOUT_MS));
      if (status !== 'SUBSCRIBED') throw new Error(`realtime: subscriber ${sub} could not join: ${status}`);
      subscribed++;
    };
    /** Resolves when `expected` subscribers have message `id` or after the timeout. */
    const allArrived = (id, expected) =>
      new Promise((resolve) => {
        const finish = () => {
          clearTimeout(timer);
          waiting = null;
          resolve(undefined);
        };
        const timer = setTimeout(finish, DELIVERY_TIMEOUT_MS);
        waiting = { id, expected, done: finish };
        if ((arrivals.get(id)?.length ?? 0) >= expected) finish();
      });
    const sendOne = async (i) => {
      const t0 = performance.now();
      const [row] = await asUser(auth, sender, (tx) =>
        tx`select id from public.send_message(p_chat_id => ${chatId}, p_content => ${`Realtime bench ${i}`}, p_client_id => ${randomUUID()})`,
      );
      const t1 = performance.now();
      await allArrived(row.id, subscribed);
      const got = arrivals.get(row.id) ?? [];
      arrivals.delete(row.id);
      return { send: t1 - t0, after: got.map((t) => t - t1), delivery: got.map((t) => t - t0), missing: subscribed - got.length };
    };

    const runs = [];
    for (const subscribers of REALTIME_SUBSCRIBERS) {
      // Join the missing subscribers, ten at a time (each join runs its authorization query).
      const tj = performance.now();
      const joinFrom = subscribed;
      for (let k = subscribed; k < subscribers; k += 10) await Promise.all(members.slice(k, Math.min(subscribers, k + 10)).map(subscribe));
      const joinSeconds = (performance.now() - tj) / 1000;
      const n = subscribers > 1 ? (quick ? 20 : 100) : quick ? 40 : 200;
      for (let i = 0; i < (quick ? 3 : 10); i++) await sendOne(-1 - i);
      const samples = [];
      let missedInARow = 0;
      const deadline = performance.now() + RUN_LIMIT_MS;
      while (samples.length < n && performance.now() < deadline && missedInARow < 3) {
        const s = await sendOne(samples.length);
        samples.push(s);
        missedInARow = s.missing ? missedInARow + 1 : 0;
      }
      const send = summarize(samples.map((s) => s.send));
      const afterCommit = summarize(samples.flatMap((s) => s.after));
      const delivered = samples.filter((s) => s.after.length);
      const first = summarize(delivered.map((s) => Math.min(...s.after)));
      const last = summarize(delivered.map((s) => Math.max(...s.after)));
      const delivery = summarize(samples.flatMap((s) => s.delivery));
      const missing = samples.reduce((a, s) => a + s.missing, 0);
      const run = {
        subscribers,
        joined_seconds: round(joinSeconds, 2),
        joined: subscribers - joinFrom,
        messages: samples.length,
        deliveries: afterCommit.n,
        missing,
        send_ms: send,
        after_commit_ms: afterCommit,
        first_after_commit_ms: first,
        last_after_commit_ms: last,
        delivery_ms: delivery,
        delivery_to_send_p50_ratio: round(delivery.p50 / send.p50, 2),
      };
      runs.push(run);
      log(
        `realtime, ${subscribers} subscriber${subscribers > 1 ? 's' : ''}: ${samples.length} messages, ${afterCommit.n} deliveries${missing ? `, ${missing} MISSING` : ''}: ` +
          `send (baseline) p50 ${send.p50} ms; after the commit's answer p50 ${afterCommit.p50} ms, p95 ${afterCommit.p95} ms; ` +
          `first subscriber p50 ${first.p50} ms; last subscriber p50 ${last.p50} ms, p95 ${last.p95} ms; from the send p50 ${delivery.p50} ms (${run.delivery_to_send_p50_ratio}× the send)`,
      );
    }
    return { chat_members: members.length + 1, runs };
  } finally {
    await auth.end({ timeout: 5 }).catch(() => {});
    await path.stop();
  }
}
