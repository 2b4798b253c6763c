/**
 * Each person's private Realtime channels, joined the way an app joins them
 * (README "Connecting a client"; docs/realtime.md): through their supabase-js
 * client, on the stack's Realtime (`/realtime/v1` on API_URL; locally the
 * stand-in stack/runtime/realtime.mjs), with their Clerk session token:
 * `supabase.realtime.setAuth()`, then
 * `supabase.channel(topic, { config: { private: true } })`, so the join is
 * authorised by the policies on realtime.messages as that user
 * (https://supabase.com/docs/guides/realtime/authorization).
 *
 * A joined channel records every Broadcast it receives, each payload checked on
 * arrival with the shared schema of its event (`ChatChannelEvents`,
 * `UserChannelEvents`, `ChatPresenceEvents` of @chat-with-me/shared); an event
 * the topic does not define, or a payload its schema refuses, is kept as a
 * problem and fails the next wait or check. Waits are bounded (a timeout stops
 * the journey with what did arrive).
 */
import { JourneyError } from './transcript.mjs';

/** How long a join or an expected Broadcast may take before the journey stops (ms). */
export const REALTIME_TIMEOUT_MS = 8_000;

/**
 * @typedef {object} Received
 * @property {string} event the Broadcast event (INSERT, read, typing, notification, …)
 * @property {any} payload parsed by the event's shared schema
 * @property {number} at performance.now() when it arrived (ms)
 */

/** One joined channel of one person. */
export class LiveChannel {
  /**
   * @param {import('@supabase/supabase-js').RealtimeChannel} channel
   * @param {string} topic
   * @param {Record<string, import('zod').ZodTypeAny>} schemas event name → payload schema
   */
  constructor(channel, topic, schemas) {
    this.channel = channel;
    this.topic = topic;
    this.schemas = schemas;
    /** @type {Received[]} */
    this.received = [];
    /** @type {string[]} what arrived that the topic's schemas refuse */
    this.problems = [];
    /** @type {Set<() => void>} */
    this.waiters = new Set();
  }

  /** @param {{ event: string, payload: unknown }} m a Broadcast as realtime-js hands it to a listener */
  onBroadcast(m) {
    const schema = this.schemas[m.event];
    const parsed = schema?.safeParse(m.payload);
    if (!schema) this.problems.push(`unexpected event ${m.event} on ${this.topic}: ${JSON.stringify(m.payload).slice(0, 200)}`);
    else if (!parsed.success) this.problems.push(`${m.event} on ${this.topic} does not match its shared schema: ${JSON.stringify(parsed.error.issues).slice(0, 300)}`);
    else this.received.push({ event: m.event, payload: parsed.data, at: performance.now() });
    for (const wake of this.waiters) wake();
  }

  /** Throws the first problem seen on this channel, if any. */
  checkClean() {
    if (this.problems.length) throw new JourneyError(this.problems[0]);
  }

  /**
   * Waits until a Broadcast of `event` matching `match` has arrived (one that
   * arrived before the call counts).
   * @param {string} event
   * @param {(payload: any) => boolean} match
   * @param {string} what what the journey expects, for the error
   * @returns {Promise<Received>}
   */
  waitFor(event, match, what, ms = REALTIME_TIMEOUT_MS) {
    return new Promise((resolve, reject) => {
      const look = () => {
        if (this.problems.length) return done(new JourneyError(this.problems[0]));
        const hit = this.received.find((r) => r.event === event && match(r.payload));
        if (hit) done(null, hit);
      };
      const timer = setTimeout(
        () => done(new JourneyError(`${what}: nothing within ${ms} ms on ${this.topic}\n       got: ${JSON.stringify(this.received.map((r) => r.event))}`)),
        ms,
      );
      const done = (/** @type {Error | null} */ err, /** @type {Received} */ hit) => {
        clearTimeout(timer);
        this.waiters.delete(look);
        err ? reject(err) : resolve(hit);
      };
      this.waiters.add(look);
      look();
    });
  }

  /** Events received so far, counted by name, sorted by name: `[{ event, n }]`. */
  counts() {
    const m = new Map();
    for (const r of this.received) m.set(r.event, (m.get(r.event) ?? 0) + 1);
    return [...m].sort(([a], [b]) => a.localeCompare(b)).map(([event, n]) => ({ event, n }));
  }
}

/** Every channel the journey's people joined, so they can all be left at the end (Ctrl-C included). */
export class Channels {
  constructor() {
    /** @type {Set<import('@supabase/supabase-js').SupabaseClient>} */
    this.clients = new Set();
  }

  /**
   * `person` joins `topic` as a private channel and waits for the join's answer.
   * @param {{ sb: import('@supabase/supabase-js').SupabaseClient }} person
   * @param {string} topic
   * @param {Record<string, import('zod').ZodTypeAny>} schemas the topic's events (shared `*Events` map)
   * @param {{ presenceKey?: string, ack?: boolean }} [opts] `presenceKey`: enable Presence under this key; `ack`: the server confirms each send
   * @returns {Promise<{ status: string, message?: string, live: LiveChannel }>} status SUBSCRIBED, or CHANNEL_ERROR with the server's reason, or TIMED_OUT
   */
  async join(person, topic, schemas, opts = {}) {
    this.clients.add(person.sb);
    // The token first, so the join carries it (supabase-js sets it asynchronously when the client is created).
    await person.sb.realtime.setAuth();
    const channel = person.sb.channel(topic, {
      config: {
        private: true,
        broadcast: { self: false, ack: opts.ack ?? false },
        presence: { key: opts.presenceKey ?? '', enabled: opts.presenceKey !== undefined },
      },
    });
    const live = new LiveChannel(channel, topic, schemas);
    channel.on('broadcast', { event: '*' }, (m) => live.onBroadcast(m));
    const { status, message } = await new Promise((resolve) => {
      let settled = false;
      channel.subscribe((s, err) => {
        if (settled) return;
        settled = true;
        resolve({ status: s, message: err?.message });
      }, REALTIME_TIMEOUT_MS);
    });
    // A refused channel would be retried by realtime-js: the app gives up on it.
    if (status !== 'SUBSCRIBED') await person.sb.removeChannel(channel);
    return { status, message, live };
  }

  /**
   * Like join(), but the journey stops unless the channel is SUBSCRIBED.
   * @returns {Promise<LiveChannel>}
   */
  async subscribe(person, topic, schemas, opts = {}) {
    const { status, message, live } = await this.join(person, topic, schemas, opts);
    if (status !== 'SUBSCRIBED') throw new JourneyError(`${person.name ?? 'someone'} should join ${topic}: ${status}${message ? ` (${message})` : ''}`);
    return live;
  }

  /** Leaves every channel and closes the sockets. */
  async leaveAll() {
    await Promise.all([...this.clients].map((sb) => sb.removeAllChannels().catch(() => {})));
  }
}
