/**
 * The local Realtime stand-in: the part of Supabase Realtime
 * (https://github.com/supabase/realtime, Elixir; not installable here) that
 * `@supabase/realtime-js` talks to, served at `/realtime/v1/websocket` and
 * `/realtime/v1/api/broadcast` on the local API origin (stack/runtime/gateway.mjs
 * routes both here). Local-only, never deployed: hosted Realtime serves
 * production. docs/realtime.md lists what it implements and what it does not.
 *
 * Wire protocol (Phoenix channels, as Realtime speaks it):
 * - `vsn=1.0.0`: JSON objects `{join_ref, ref, topic, event, payload}`;
 *   `vsn=2.0.0` (realtime-js' default): JSON arrays `[join_ref, ref, topic, event, payload]`
 *   plus the binary frames of lib/realtime_web/socket/v2_serializer.ex: a client
 *   broadcast arrives as kind 3 (user broadcast push) and broadcasts go out as
 *   kind 4 (user broadcast: topic, event, JSON metadata, JSON or binary payload).
 * - `heartbeat` on topic `phoenix`, `phx_join`, `phx_leave`, `phx_reply`,
 *   `phx_close`, `phx_error`, `access_token`, `broadcast`, `presence`
 *   (`track`/`untrack`), `presence_state`, `presence_diff`, `system`.
 *
 * Authorization, as lib/realtime_web/channels/realtime_channel.ex and
 * lib/realtime/tenants/authorization.ex run it, against the real database as
 * the user (role and claims set with set_config, `realtime.topic` set):
 * - join of a private channel: probe rows inserted into realtime.messages
 *   (one per extension: broadcast, and presence when presence is enabled),
 *   SELECTed as the user, rolled back; no row readable → refused;
 * - first client broadcast / presence track: INSERT as the user in a
 *   savepoint (42501 → refused), rolled back; the answer is kept until the
 *   token changes, as Realtime keeps it;
 * - `access_token` with a new token: verified, the read check re-run; a read
 *   permission lost (or a refused/expired token) shuts the channel
 *   (`system` error, then `phx_close`); the token's `exp` also shuts it.
 * - public channels are refused (`PrivateOnly`), as a hosted project with
 *   "Allow public access" turned off answers: this project requires private
 *   channels (README "Realtime").
 * The API key of the connection (`apikey` query parameter) maps to a role as
 * the hosted gateway does (publishable → anon, secret → service_role); a
 * channel joins with the key's role unless its join carries `access_token`.
 *
 * Broadcast from the database: a logical replication stream (pgoutput) of
 * the publication `supabase_realtime_messages_publication` on
 * realtime.messages (created by platform-bootstrap.sql, named as
 * lib/realtime/tenants/replication_connection.ex names it), on a temporary
 * slot, as Realtime's ReplicationConnection reads it: each committed insert
 * goes to the channels of its topic (private rows to private channels), in
 * commit order. When the stream is lost (database restart), every channel
 * gets `phx_error` (realtime-js rejoins with backoff) and joins are refused
 * until the stream is back; rows committed meanwhile are not delivered
 * (Realtime's slot is temporary too): clients refetch on rejoin.
 */
import { randomUUID } from 'node:crypto';
import postgres from 'postgres';
import { decodeProtectedHeader, errors as joseErrors, importJWK, jwtVerify } from 'jose';
import { WebSocketServer } from 'ws';

/**
 * Hosted Realtime's limits on the Free plan (https://supabase.com/docs/guides/realtime/limits),
 * plus Realtime's own defaults where the docs give none.
 */
export const DEFAULT_LIMITS = Object.freeze({
  /** Concurrent connections (sockets) per project: 429 "Too many connected users". */
  maxConcurrentUsers: 200,
  /** Messages per second (client sends + deliveries), averaged over 60 s in 5 s buckets (lib/realtime/tenants.ex events_per_second_rate). */
  maxEventsPerSecond: 100,
  /** Channel joins per second, averaged the same way (joins_per_second_rate). */
  maxJoinsPerSecond: 100,
  /** Channels per connection (max_channels_per_client). */
  maxChannelsPerClient: 100,
  /** Presence messages per second, averaged the same way. */
  maxPresenceEventsPerSecond: 20,
  /** Broadcast / Presence payload size in KB (Realtime allows 500 bytes more: tenants.ex validate_payload_size). */
  maxPayloadSizeKb: 256,
  /** Presence track/untrack calls per channel per window (config :client_presence_rate_limit, max_calls 5, window 30 s). */
  clientPresenceMaxCalls: 5,
  clientPresenceWindowMs: 30_000,
  /**
   * Bytes queued for one socket before it is dropped (a client that does not
   * read). Realtime bounds a socket process' heap instead (websocket_max_heap_size);
   * this is the stand-in's figure for the same effect.
   */
  maxBufferedBytes: 8 * 1024 * 1024,
  /** A socket that sends nothing (no heartbeat) for this long is closed (Phoenix transport timeout). */
  idleTimeoutMs: 60_000,
});

const DB_DOWN = 'Realtime was unable to connect to the project database';
/** An error the database raised while running a check (not a lost connection: SQLSTATE classes 08, 57). */
const isPolicyError = (e) => typeof e?.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code) && !/^(08|57)/.test(e.code);
const PUBLICATION = 'supabase_realtime_messages_publication';

/** A 1-per-event counter averaged over the last 12 buckets of 5 s, like Realtime's RateCounter. */
function rateCounter(limit) {
  /** @type {number[]} */
  const buckets = [];
  let current = 0;
  const timer = setInterval(() => {
    buckets.unshift(current);
    current = 0;
    buckets.length = Math.min(buckets.length, 12);
  }, 5000);
  timer.unref();
  return {
    add(n = 1) {
      current += n;
    },
    /** Events per second over the last minute (12 completed 5 s buckets and the current one). */
    get avg() {
      return (buckets.reduce((a, b) => a + b, 0) + current) / ((buckets.length + 1) * 5);
    },
    get triggered() {
      return this.avg > limit;
    },
    stop: () => clearInterval(timer),
  };
}

/**
 * Verifies a token as Realtime does (lib/realtime_web/channels/auth/jwt_verification.ex):
 * against the project's JWT secret (HS256) or its JWKS (the Clerk instance's
 * key), then requires `role` and `exp` (channels_authorization.ex).
 * jose's createLocalJWKSet takes no symmetric keys and needs a `kid` match,
 * which the Clerk key exported without `kid` lacks, so keys are tried in turn.
 * @param {{ keys: any[] }} jwks
 */
function tokenVerifier(jwks) {
  const cache = new Map();
  const keyFor = async (jwk, alg) => {
    const id = `${alg}:${JSON.stringify(jwk)}`;
    if (!cache.has(id)) cache.set(id, await importJWK(jwk, alg));
    return cache.get(id);
  };
  /**
   * @param {string} token
   * @returns {Promise<{ ok: true, claims: Record<string, any> } | { ok: false, code: string, message: string }>}
   */
  return async function verify(token) {
    let header;
    try {
      header = decodeProtectedHeader(token);
    } catch {
      return { ok: false, code: 'MalformedJWT', message: 'The token provided is not a valid JWT' };
    }
    const alg = header.alg ?? '';
    const candidates = jwks.keys.filter((k) => {
      if (alg.startsWith('HS')) return k.kty === 'oct';
      if (k.kty === 'oct') return false;
      if (k.alg && k.alg !== alg) return false;
      return !header.kid || !k.kid || k.kid === header.kid;
    });
    let lastError;
    for (const jwk of candidates) {
      try {
        const { payload } = await jwtVerify(token, await keyFor(jwk, alg), { algorithms: [alg] });
        if (typeof payload.role !== 'string' || typeof payload.exp !== 'number') {
          return { ok: false, code: 'InvalidJWTToken', message: 'Fields `role` and `exp` are required in JWT' };
        }
        return { ok: true, claims: payload };
      } catch (e) {
        lastError = e;
        if (e instanceof joseErrors.JWTExpired) {
          const exp = Number(/** @type {any} */ (e).payload?.exp ?? 0);
          return { ok: false, code: 'InvalidJWTToken', message: `Token has expired ${Math.max(0, Math.floor(Date.now() / 1000) - exp)} seconds ago` };
        }
      }
    }
    if (lastError instanceof joseErrors.JWTClaimValidationFailed) {
      return { ok: false, code: 'InvalidJWTToken', message: lastError.message };
    }
    return { ok: false, code: 'JwtSignatureError', message: 'Failed to validate JWT signature' };
  };
}

/**
 * Starts the stand-in. Nothing listens by itself: the gateway hands it
 * WebSocket upgrades and HTTP requests under /realtime/v1.
 * @param {{
 *   dbUrl: string,
 *   keys: import('./state.mjs').ApiKeys,
 *   jwks: { keys: any[] },
 *   limits?: Partial<Record<keyof typeof DEFAULT_LIMITS, number>>,
 *   log?: (line: string) => void,
 * }} opts `dbUrl`: a superuser URL (Realtime's own connection user; replication needs it)
 */
export async function startRealtime({ dbUrl, keys, jwks, limits: overrides = {}, log = () => {} }) {
  const limits = { ...DEFAULT_LIMITS, ...overrides };
  const verify = tokenVerifier(jwks);
  const maxPayloadBytes = limits.maxPayloadSizeKb * 1000 + 500;
  /** key → role, for the keys this stack issued (as the hosted gateway maps them). */
  const roleOf = new Map([
    [keys.publishableKey, 'anon'],
    [keys.secretKey, 'service_role'],
    [keys.anonKey, 'anon'],
    [keys.serviceRoleKey, 'service_role'],
  ]);
  const events = rateCounter(limits.maxEventsPerSecond);
  const joins = rateCounter(limits.maxJoinsPerSecond);
  const presenceEvents = rateCounter(limits.maxPresenceEventsPerSecond);

  // Authorization checks, as Realtime's connection user (a small pool).
  const sql = postgres(dbUrl, { max: 4, onnotice: () => {}, idle_timeout: 30, connect_timeout: 5 });

  /** @type {Set<Conn>} */
  const conns = new Set();
  /** `private|public:<sub topic>` → joined channels */
  /** @type {Map<string, Set<Chan>>} */
  const topics = new Map();
  /** presence: topic key → presence key → (channel → meta) */
  /** @type {Map<string, Map<string, Map<Chan, Record<string, unknown>>>>} */
  const presences = new Map();
  let stopped = false;
  let replicationReady = false;
  let refCounter = 0;
  const nextRef = () => Buffer.from(`${Date.now()}-${++refCounter}`).toString('base64url');

  // --------------------------------------------------------------------------
  // Frames
  // --------------------------------------------------------------------------
  /**
   * @typedef {{ join_ref: string | null, ref: string | null, topic: string, event: string, payload: any }} Msg
   * @typedef {{ user_event: string, encoding: 'json' | 'binary', bytes: Buffer, metadata: Record<string, unknown> | null }} UserBroadcast
   */

  /** One outgoing frame for `conn`: JSON (per vsn) or a kind 4 user broadcast (vsn 2). */
  function encode(conn, /** @type {Msg} */ m) {
    if (conn.vsn === '2.0.0') return JSON.stringify([m.join_ref, m.ref, m.topic, m.event, m.payload]);
    return JSON.stringify({ join_ref: m.join_ref, ref: m.ref, topic: m.topic, event: m.event, payload: m.payload });
  }

  /** v2_serializer.ex fastlane!(%UserBroadcast{}): kind 4 frame; V1 gets the JSON broadcast (user_broadcast.ex). */
  function encodeUserBroadcast(conn, topic, /** @type {UserBroadcast} */ b) {
    if (conn.vsn !== '2.0.0') {
      if (b.encoding !== 'json') return null; // V1 cannot carry binary payloads
      const payload = { type: 'broadcast', event: b.user_event, payload: JSON.parse(b.bytes.toString('utf8')) };
      if (b.metadata) Object.assign(payload, { meta: b.metadata });
      return encode(conn, { join_ref: null, ref: null, topic, event: 'broadcast', payload });
    }
    const t = Buffer.from(topic);
    const e = Buffer.from(b.user_event);
    const meta = b.metadata ? Buffer.from(JSON.stringify(b.metadata)) : Buffer.alloc(0);
    if (t.length > 255 || e.length > 255 || meta.length > 255) return null;
    const head = Buffer.from([4, t.length, e.length, meta.length, b.encoding === 'json' ? 1 : 0]);
    return Buffer.concat([head, t, e, meta, b.bytes]);
  }

  /** v2 binary kind 3 (user broadcast push) from realtime-js' serializer, or null. */
  function decodeBinary(/** @type {Buffer} */ buf) {
    if (buf.length < 7 || buf[0] !== 3) return null;
    const [, jr, rf, tp, ev, md, enc] = buf;
    let o = 7;
    const take = (n) => buf.subarray(o, (o += n)).toString('utf8');
    const join_ref = take(jr);
    const ref = take(rf);
    const topic = take(tp);
    const user_event = take(ev);
    const metaText = take(md);
    const bytes = Buffer.from(buf.subarray(o));
    /** @type {UserBroadcast} */
    const b = { user_event, encoding: enc === 1 ? 'json' : 'binary', bytes, metadata: metaText ? JSON.parse(metaText) : null };
    return /** @type {Msg} */ ({ join_ref: join_ref || null, ref: ref || null, topic, event: 'broadcast', payload: b, binary: true });
  }

  /**
   * Queues a frame; a socket whose unsent bytes exceed the limit is dropped
   * (the others never wait for it: ws.send only queues).
   */
  function sendRaw(conn, data) {
    if (conn.ws.readyState !== conn.ws.OPEN || data == null) return;
    if (conn.ws.bufferedAmount > limits.maxBufferedBytes) {
      log(`realtime: dropping a socket that does not read (${conn.ws.bufferedAmount} bytes queued)`);
      conn.ws.terminate();
      return;
    }
    conn.ws.send(data);
  }
  const push = (conn, m) => sendRaw(conn, encode(conn, m));
  const reply = (conn, m, status, response = {}) =>
    push(conn, { join_ref: m.join_ref, ref: m.ref, topic: m.topic, event: 'phx_reply', payload: { status, response } });

  // --------------------------------------------------------------------------
  // Database checks (authorization.ex)
  // --------------------------------------------------------------------------
  /** set_config of authorization.ex set_conn_config. */
  const setConfig = (tx, chan) => tx`
    select set_config('role', ${chan.claims.role}, true),
           set_config('realtime.topic', ${chan.subTopic}, true),
           set_config('request.jwt.claims', ${JSON.stringify(chan.claims)}, true),
           set_config('request.jwt.claim.sub', ${chan.claims.sub ?? ''}, true),
           set_config('request.jwt.claim.role', ${chan.claims.role}, true),
           set_config('request.headers', ${JSON.stringify(chan.headers)}, true)`;
  const rollback = Symbol('rollback');

  /** Read check: which extensions may the channel's user read? Throws on a database error. */
  async function readPolicies(chan, withPresence) {
    const ids = { broadcast: randomUUID(), ...(withPresence ? { presence: randomUUID() } : {}) };
    let readable = new Set();
    await sql
      .begin(async (tx) => {
        for (const [extension, id] of Object.entries(ids)) {
          await tx`insert into realtime.messages (id, topic, extension, inserted_at, updated_at)
                   values (${id}, ${chan.subTopic}, ${extension}, now() at time zone 'utc', now() at time zone 'utc')`;
        }
        await setConfig(tx, chan);
        const rows = await tx`select id from realtime.messages where id in ${tx(Object.values(ids))}`;
        readable = new Set(rows.map((r) => r.id));
        throw rollback;
      })
      .catch((e) => {
        if (e !== rollback) throw e;
      });
    return { broadcast: readable.has(ids.broadcast), presence: withPresence ? readable.has(ids.presence) : null };
  }

  /** Write check: may the channel's user send Broadcast / Presence? Throws on a database error. */
  async function writePolicies(chan) {
    const result = { broadcast: false, presence: false };
    await sql
      .begin(async (tx) => {
        await setConfig(tx, chan);
        for (const extension of /** @type {const} */ (['broadcast', 'presence'])) {
          try {
            await tx.savepoint((sp) => sp`insert into realtime.messages (topic, extension) values (${chan.subTopic}, ${extension})`);
            result[extension] = true;
          } catch (e) {
            if (/** @type {any} */ (e).code !== '42501') throw e;
          }
        }
        throw rollback;
      })
      .catch((e) => {
        if (e !== rollback) throw e;
      });
    return result;
  }

  // --------------------------------------------------------------------------
  // Channels
  // --------------------------------------------------------------------------
  /**
   * @typedef {object} Chan
   * @property {Conn} conn
   * @property {string} topic e.g. `realtime:chat:<uuid>`
   * @property {string} subTopic e.g. `chat:<uuid>`
   * @property {string} key registry key
   * @property {string} joinRef
   * @property {boolean} private
   * @property {boolean} self
   * @property {boolean} ack
   * @property {string} presenceKey
   * @property {boolean} presenceEnabled
   * @property {any} presencePayload
   * @property {{ count: number, resetAt: number }} presenceRate
   * @property {string | null} accessToken null: the connection's API key
   * @property {Record<string, any>} claims
   * @property {Record<string, string>} headers
   * @property {{ broadcastRead: boolean, presenceRead: boolean | null, broadcastWrite: boolean | null, presenceWrite: boolean | null } | null} policies
   * @property {NodeJS.Timeout | undefined} confirmTimer
   * @property {boolean} closed
   *
   * @typedef {object} Conn
   * @property {import('ws').WebSocket} ws
   * @property {string} vsn
   * @property {Record<string, any>} apiClaims claims of the API key's role
   * @property {Record<string, string>} headers
   * @property {Map<string, Chan>} channels by topic
   */

  const readableBroadcast = (c) => !c.private || c.policies?.broadcastRead === true;
  const readablePresence = (c) => !c.private || c.policies?.presenceRead === true;

  function register(chan) {
    if (!topics.has(chan.key)) topics.set(chan.key, new Set());
    /** @type {Set<Chan>} */ (topics.get(chan.key)).add(chan);
    chan.conn.channels.set(chan.topic, chan);
  }

  /** Removes a channel (leave, close, socket gone): its presences leave. */
  function unregister(chan) {
    chan.closed = true;
    clearTimeout(chan.confirmTimer);
    if (chan.conn.channels.get(chan.topic) === chan) chan.conn.channels.delete(chan.topic);
    const set = topics.get(chan.key);
    set?.delete(chan);
    if (set && !set.size) topics.delete(chan.key);
    untrack(chan);
  }

  /** Realtime's shutdown_response: a `system` error, then the channel closes (phx_close). */
  function shutdown(chan, message) {
    if (chan.closed) return;
    push(chan.conn, { join_ref: chan.joinRef, ref: null, topic: chan.topic, event: 'system', payload: { extension: 'system', status: 'error', message, channel: chan.subTopic } });
    push(chan.conn, { join_ref: chan.joinRef, ref: chan.joinRef, topic: chan.topic, event: 'phx_close', payload: {} });
    log(`realtime: ${chan.subTopic} closed: ${message}`);
    unregister(chan);
  }

  /** `phx_error`, as when a channel process crashes: realtime-js rejoins with backoff. */
  function errorOut(chan) {
    if (chan.closed) return;
    push(chan.conn, { join_ref: chan.joinRef, ref: chan.joinRef, topic: chan.topic, event: 'phx_error', payload: {} });
    unregister(chan);
  }

  /** Schedules the token's re-check (confirm_token: every 5 min, or at `exp`). */
  function scheduleConfirm(chan) {
    clearTimeout(chan.confirmTimer);
    const ms = Math.min(5 * 60_000, Math.max(0, chan.claims.exp * 1000 - Date.now()));
    chan.confirmTimer = setTimeout(async () => {
      if (chan.closed) return;
      const token = chan.accessToken;
      if (!token) {
        if (chan.claims.exp * 1000 <= Date.now()) return shutdown(chan, 'Token has expired 0 seconds ago');
        return scheduleConfirm(chan);
      }
      const v = await verify(token);
      if (!v.ok) return shutdown(chan, v.message);
      scheduleConfirm(chan);
    }, ms + 50);
    chan.confirmTimer.unref?.();
  }

  /** The claims a join or refresh runs with: the access token's, or the API key's (assign_access_token). */
  async function claimsFor(conn, token) {
    if (!token || token.startsWith('sb_')) return { ok: true, claims: conn.apiClaims, token: null };
    const v = await verify(token);
    return v.ok ? { ...v, token } : v;
  }

  async function join(conn, /** @type {Msg} */ m) {
    const fail = (reason) => reply(conn, m, 'error', { reason });
    if (!m.topic.startsWith('realtime:')) return fail('unmatched topic');
    const subTopic = m.topic.slice('realtime:'.length);
    if (!subTopic) return fail('TopicNameRequired: You must provide a topic name');
    const params = m.payload && typeof m.payload === 'object' ? m.payload : {};
    const config = params.config && typeof params.config === 'object' ? params.config : {};
    const isPrivate = config.private === true || config.private === 'true';
    const existing = conn.channels.get(m.topic);
    if (existing) unregister(existing); // a rejoin replaces the old join (Phoenix closes the duplicate)

    if (!isPrivate) return fail('PrivateOnly: This project only allows private channels');
    if (joins.triggered) {
      fail('ClientJoinRateLimitReached: Too many joins per second');
      conn.ws.close(1000, 'disconnect');
      return;
    }
    joins.add();
    if (conn.channels.size >= limits.maxChannelsPerClient) return fail('ChannelRateLimitReached: Too many channels');
    if (Array.isArray(config.postgres_changes) && config.postgres_changes.length) {
      return fail('UnknownErrorOnChannel: postgres_changes is not served by the local Realtime stand-in (docs/realtime.md)');
    }
    const auth = await claimsFor(conn, params.access_token ?? params.user_token);
    if (!auth.ok) return fail(`${auth.code}: ${auth.message}`);
    if (!replicationReady) return fail('InitializingProjectConnection: Connecting to the project database');

    const presence = config.presence && typeof config.presence === 'object' ? config.presence : {};
    const broadcast = config.broadcast && typeof config.broadcast === 'object' ? config.broadcast : {};
    /** @type {Chan} */
    const chan = {
      conn,
      topic: m.topic,
      subTopic,
      key: `${isPrivate ? 'private' : 'public'}|${subTopic}`,
      joinRef: m.join_ref ?? m.ref ?? '',
      private: isPrivate,
      self: broadcast.self === true,
      ack: broadcast.ack === true,
      presenceKey: typeof presence.key === 'string' && presence.key ? presence.key : randomUUID(),
      presenceEnabled: presence.enabled === true,
      presencePayload: undefined,
      presenceRate: { count: 0, resetAt: 0 },
      accessToken: auth.token,
      claims: auth.claims,
      headers: conn.headers,
      policies: null,
      confirmTimer: undefined,
      closed: false,
    };
    try {
      const read = await readPolicies(chan, chan.presenceEnabled);
      chan.policies = { broadcastRead: read.broadcast, presenceRead: read.presence, broadcastWrite: null, presenceWrite: null };
    } catch (e) {
      log(`realtime: join check failed: ${/** @type {Error} */ (e).message}`);
      // authorization.ex: an error raised by a policy is RlsPolicyError (refused); a lost database is not.
      if (isPolicyError(e)) return fail(`Unauthorized: You do not have permissions to read from this Channel topic: ${subTopic}`);
      return fail(`UnableToConnectToProject: ${DB_DOWN}`);
    }
    if (!chan.policies.broadcastRead && !chan.policies.presenceRead) {
      return fail(`Unauthorized: You do not have permissions to read from this Channel topic: ${subTopic}`);
    }
    if (conn.ws.readyState !== conn.ws.OPEN) return;
    register(chan);
    scheduleConfirm(chan);
    reply(conn, m, 'ok', { postgres_changes: [] });
    if (chan.presenceEnabled && readablePresence(chan)) pushPresenceState(chan);
  }

  async function refreshToken(chan, /** @type {Msg} */ m) {
    const token = m.payload?.access_token;
    if (typeof token !== 'string' || token.startsWith('sb_') || token === chan.accessToken) return;
    const previous = chan.policies;
    const auth = await claimsFor(chan.conn, token);
    if (chan.closed) return;
    if (!auth.ok) return shutdown(chan, auth.message);
    chan.accessToken = auth.token;
    chan.claims = auth.claims;
    try {
      const read = await readPolicies(chan, chan.presenceEnabled);
      if (chan.closed) return;
      chan.policies = { broadcastRead: read.broadcast, presenceRead: read.presence, broadcastWrite: null, presenceWrite: null };
    } catch {
      // The database is unreachable (e.g. restarting) while the token is refreshed: the channel errors
      // (phx_error) as on a database outage, so realtime-js rejoins once it is back, instead of closing for good.
      return errorOut(chan);
    }
    const p = chan.policies;
    if (!p.broadcastRead && !p.presenceRead) return shutdown(chan, `You do not have permissions to read from this Channel topic: ${chan.subTopic}`);
    if ((previous?.broadcastRead && !p.broadcastRead) || (previous?.presenceRead && !p.presenceRead)) {
      return shutdown(chan, `You no longer have permission to read from this Channel topic: ${chan.subTopic}`);
    }
    scheduleConfirm(chan);
  }

  /** Delivers a broadcast to the channels of `key` (from: the sender's channel, skipped unless `self`). */
  function fanOut(key, /** @type {{ json?: any, user?: UserBroadcast }} */ what, from = null) {
    for (const c of topics.get(key) ?? []) {
      if (c === from && !c.self) continue;
      if (!readableBroadcast(c)) continue;
      events.add();
      if (what.user) sendRaw(c.conn, encodeUserBroadcast(c.conn, c.topic, what.user));
      else push(c.conn, { join_ref: null, ref: null, topic: c.topic, event: 'broadcast', payload: what.json });
    }
  }

  async function clientBroadcast(chan, /** @type {Msg & { binary?: boolean }} */ m) {
    if (chan.private && chan.policies && chan.policies.broadcastWrite === null) {
      try {
        const w = await writePolicies(chan);
        chan.policies.broadcastWrite = w.broadcast;
        chan.policies.presenceWrite = w.presence;
      } catch (e) {
        log(`realtime: send check failed: ${/** @type {Error} */ (e).message}`);
        return; // broadcast_handler.ex: logged, no reply
      }
    }
    if (chan.closed) return;
    // Refused: dropped without a reply, as broadcast_handler.ex does (an `ack` send times out).
    if (chan.private && !chan.policies?.broadcastWrite) return;
    events.add();
    const size = m.binary ? m.payload.bytes.length : Buffer.byteLength(JSON.stringify(m.payload ?? null));
    if (size > maxPayloadBytes) {
      if (chan.ack) reply(chan.conn, m, 'error', { reason: 'payload_size_exceeded' });
      return;
    }
    if (m.binary) fanOut(chan.key, { user: { ...m.payload, metadata: null } }, chan);
    else fanOut(chan.key, { json: m.payload }, chan);
    if (chan.ack) reply(chan.conn, m, 'ok', {});
  }

  // Presence (presence_handler.ex; Phoenix.Presence's presence_state / presence_diff shapes)
  function presenceOf(key) {
    if (!presences.has(key)) presences.set(key, new Map());
    return /** @type {Map<string, Map<Chan, Record<string, unknown>>>} */ (presences.get(key));
  }
  function pushPresenceState(chan) {
    const state = {};
    for (const [pk, metas] of presences.get(chan.key) ?? []) state[pk] = { metas: [...metas.values()] };
    push(chan.conn, { join_ref: chan.joinRef, ref: null, topic: chan.topic, event: 'presence_state', payload: state });
  }
  function presenceDiff(key, joinsDiff, leavesDiff) {
    for (const c of topics.get(key) ?? []) {
      if (!readablePresence(c)) continue;
      presenceEvents.add();
      push(c.conn, { join_ref: null, ref: null, topic: c.topic, event: 'presence_diff', payload: { joins: joinsDiff, leaves: leavesDiff } });
    }
  }
  function untrack(chan) {
    const metas = presences.get(chan.key)?.get(chan.presenceKey);
    const old = metas?.get(chan);
    if (!metas || !old) return;
    metas.delete(chan);
    if (!metas.size) presences.get(chan.key)?.delete(chan.presenceKey);
    if (!presences.get(chan.key)?.size) presences.delete(chan.key);
    chan.presencePayload = undefined;
    presenceDiff(chan.key, {}, { [chan.presenceKey]: { metas: [old] } });
  }

  async function clientPresence(chan, /** @type {Msg} */ m) {
    const now = Date.now();
    if (now > chan.presenceRate.resetAt) chan.presenceRate = { count: 1, resetAt: now + limits.clientPresenceWindowMs };
    else if (chan.presenceRate.count >= limits.clientPresenceMaxCalls) return shutdown(chan, 'Client presence rate limit exceeded');
    else chan.presenceRate.count++;
    const event = String(m.payload?.event ?? '').toLowerCase();
    if (event === 'untrack') {
      untrack(chan);
      return reply(chan.conn, m, 'ok', {});
    }
    if (event !== 'track') return reply(chan.conn, m, 'error', {});
    if (chan.private && chan.policies && chan.policies.presenceWrite === null) {
      try {
        if (chan.policies.presenceRead === null) chan.policies.presenceRead = (await readPolicies(chan, true)).presence;
        const w = await writePolicies(chan);
        chan.policies.broadcastWrite = w.broadcast;
        chan.policies.presenceWrite = w.presence;
      } catch {
        return reply(chan.conn, m, 'error', {});
      }
    }
    if (chan.closed) return;
    if (chan.private && !chan.policies?.presenceWrite) return reply(chan.conn, m, 'error', {});
    const payload = m.payload?.payload ?? {};
    if (!payload || typeof payload !== 'object' || Array.isArray(payload)) {
      return reply(chan.conn, m, 'error', { reason: 'Presence track payload must be a map' });
    }
    if (JSON.stringify(payload) === JSON.stringify(chan.presencePayload)) return reply(chan.conn, m, 'ok', {});
    if (Buffer.byteLength(JSON.stringify(payload)) > maxPayloadBytes) return shutdown(chan, 'Track message size exceeded');
    if (presenceEvents.triggered) return shutdown(chan, 'Too many presence messages per second');
    const metas = presenceOf(chan.key).get(chan.presenceKey) ?? new Map();
    presenceOf(chan.key).set(chan.presenceKey, metas);
    const old = metas.get(chan);
    const meta = { ...payload, phx_ref: nextRef(), ...(old ? { phx_ref_prev: old.phx_ref } : {}) };
    metas.set(chan, meta);
    chan.presenceEnabled = true;
    chan.presencePayload = payload;
    reply(chan.conn, m, 'ok', {});
    presenceDiff(chan.key, { [chan.presenceKey]: { metas: [meta] } }, old ? { [chan.presenceKey]: { metas: [old] } } : {});
  }

  async function onMessage(conn, /** @type {Msg & { binary?: boolean }} */ m) {
    if (m.topic === 'phoenix' && m.event === 'heartbeat') return reply(conn, m, 'ok', {});
    if (m.event === 'phx_join') return join(conn, m);
    const chan = conn.channels.get(m.topic);
    if (!chan || (m.join_ref && m.join_ref !== chan.joinRef)) {
      // Phoenix answers pushes to a topic the socket has not joined with `unmatched topic`.
      if (m.event !== 'phx_leave') return reply(conn, m, 'error', { reason: 'unmatched topic' });
      return reply(conn, m, 'ok', {});
    }
    switch (m.event) {
      case 'phx_leave':
        reply(conn, m, 'ok', {});
        return unregister(chan);
      case 'access_token':
        return refreshToken(chan, m);
      case 'broadcast':
        return clientBroadcast(chan, m);
      case 'presence':
        return clientPresence(chan, m);
      default:
        events.add(); // Realtime counts and ignores unexpected messages
    }
  }

  // --------------------------------------------------------------------------
  // WebSocket connections (user_socket.ex connect/3, behind the API gateway)
  // --------------------------------------------------------------------------
  const wss = new WebSocketServer({ noServer: true, maxPayload: 4 * maxPayloadBytes });

  /** Ends an HTTP upgrade with a JSON error, as user_socket.ex handle_error answers. */
  function refuseUpgrade(socket, status, body) {
    const text = JSON.stringify(body);
    const reason = { 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 429: 'Too Many Requests', 503: 'Service Unavailable' }[status] ?? 'Error';
    socket.end(`HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`);
  }

  /**
   * Handles `GET /realtime/v1/websocket?apikey=…&vsn=…` (an HTTP upgrade).
   * @param {import('node:http').IncomingMessage} req
   * @param {import('node:stream').Duplex} socket
   * @param {Buffer} head
   */
  function handleUpgrade(req, socket, head) {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (stopped) return refuseUpgrade(socket, 503, { error: 'Realtime is restarting, please standby' });
    if (url.pathname !== '/realtime/v1/websocket') return refuseUpgrade(socket, 404, { message: 'no Route matched with those values' });
    const apikey = url.searchParams.get('apikey') ?? /** @type {string | undefined} */ (req.headers.apikey);
    if (!apikey) return refuseUpgrade(socket, 401, { message: 'No API key found in request', hint: 'No `apikey` request header or url param was found.' });
    const role = roleOf.get(apikey);
    if (!role) return refuseUpgrade(socket, 401, { message: 'Invalid API key', hint: 'Double check your Supabase `anon` or `service_role` API key.' });
    if (conns.size >= limits.maxConcurrentUsers) return refuseUpgrade(socket, 429, { error: 'Too many connected users' });
    const vsn = url.searchParams.get('vsn') ?? '1.0.0';
    if (vsn !== '1.0.0' && vsn !== '2.0.0') return refuseUpgrade(socket, 403, { error: `Unsupported serializer version ${vsn}` });
    wss.handleUpgrade(req, socket, head, (ws) => {
      /** @type {Conn} */
      const conn = {
        ws,
        vsn,
        apiClaims: { role, iss: 'supabase', exp: Math.floor(Date.now() / 1000) + 10 * 365 * 86400 },
        headers: Object.fromEntries(Object.entries(req.headers).filter(([k]) => k.startsWith('x-')).map(([k, v]) => [k, String(v)])),
        channels: new Map(),
      };
      conns.add(conn);
      let idle = setTimeout(() => ws.close(1000, 'timeout'), limits.idleTimeoutMs);
      // Messages of one socket are handled in order (a join finishes before the next push).
      let chain = Promise.resolve();
      ws.on('message', (data, isBinary) => {
        clearTimeout(idle);
        idle = setTimeout(() => ws.close(1000, 'timeout'), limits.idleTimeoutMs);
        /** @type {any} */
        let m;
        try {
          if (isBinary) m = decodeBinary(Buffer.isBuffer(data) ? data : Buffer.concat(/** @type {Buffer[]} */ (data)));
          else {
            const v = JSON.parse(data.toString());
            m = Array.isArray(v) ? { join_ref: v[0], ref: v[1], topic: v[2], event: v[3], payload: v[4] } : v;
          }
        } catch {
          m = null;
        }
        if (!m || typeof m.topic !== 'string' || typeof m.event !== 'string') {
          ws.close(1003, 'invalid message'); // Phoenix: a frame the serializer cannot decode ends the socket
          return;
        }
        chain = chain.then(() => onMessage(conn, m)).catch((e) => log(`realtime: ${e?.message ?? e}`));
      });
      ws.on('close', () => {
        clearTimeout(idle);
        conns.delete(conn);
        for (const chan of [...conn.channels.values()]) unregister(chan);
      });
      ws.on('error', () => ws.terminate());
    });
  }

  // --------------------------------------------------------------------------
  // REST broadcast (broadcast_controller.ex / batch_broadcast.ex): what realtime-js'
  // send() falls back to before a join, and httpSend().
  // --------------------------------------------------------------------------
  /**
   * Handles an HTTP request under /realtime/v1 (not upgrades).
   * @param {import('node:http').IncomingMessage} req
   * @param {import('node:http').ServerResponse} res
   */
  async function handleHttp(req, res) {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const json = (status, body, headers = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', 'access-control-allow-origin': '*', ...headers });
      res.end(body === undefined ? '' : JSON.stringify(body));
    };
    if (req.method === 'OPTIONS') {
      res.writeHead(200, {
        'access-control-allow-origin': '*',
        'access-control-allow-methods': 'GET,POST,OPTIONS',
        'access-control-allow-headers': req.headers['access-control-request-headers'] ?? 'authorization, apikey, content-type, x-client-info',
        'content-length': '0',
      });
      return res.end();
    }
    const single = /^\/realtime\/v1\/api\/broadcast\/([^/]+)\/events\/([^/]+)$/.exec(url.pathname);
    if (!(url.pathname === '/realtime/v1/api/broadcast' || single) || req.method !== 'POST') {
      return json(404, { message: 'no Route matched with those values' });
    }
    const apikey = /** @type {string | undefined} */ (req.headers.apikey) ?? url.searchParams.get('apikey') ?? undefined;
    if (!apikey) return json(401, { message: 'No API key found in request' });
    const role = roleOf.get(apikey);
    if (!role) return json(401, { message: 'Invalid API key' });
    const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    let claims = { role, exp: Math.floor(Date.now() / 1000) + 60 };
    if (bearer && !bearer.startsWith('sb_')) {
      const v = await verify(bearer);
      if (!v.ok) return json(401, { message: v.message });
      claims = /** @type {any} */ (v.claims);
    }
    const chunks = [];
    let size = 0;
    for await (const c of req) {
      size += c.length;
      if (size > 16 * maxPayloadBytes) return json(413, { message: 'Payload too large' });
      chunks.push(c);
    }
    let body;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null');
    } catch {
      return json(400, { message: 'Invalid JSON body' });
    }
    const messages = single
      ? [{ topic: decodeURIComponent(single[1]), event: decodeURIComponent(single[2]), payload: body, private: url.searchParams.get('private') === 'true' }]
      : body?.messages;
    const valid = Array.isArray(messages) && messages.length > 0 && messages.every(
      (x) => x && typeof x.topic === 'string' && x.topic && typeof x.event === 'string' && x.payload && typeof x.payload === 'object'
        && Buffer.byteLength(JSON.stringify(x.payload)) <= maxPayloadBytes,
    );
    if (!valid) return json(422, { errors: { messages: ['each message needs topic, event and an object payload within the size limit'] } });
    if (events.triggered) return json(429, { message: 'You have exceeded your rate limit' });
    const allowed = new Map();
    for (const x of messages) {
      const isPrivate = x.private === true;
      if (isPrivate && !allowed.has(x.topic)) {
        const probe = /** @type {any} */ ({ subTopic: x.topic, claims, headers: {} });
        try {
          allowed.set(x.topic, (await writePolicies(probe)).broadcast);
        } catch {
          return json(503, { message: DB_DOWN });
        }
      }
      if (isPrivate && !allowed.get(x.topic)) continue; // batch_broadcast.ex: skipped, still 202
      events.add();
      fanOut(`${isPrivate ? 'private' : 'public'}|${x.topic}`, { json: { type: 'broadcast', event: x.event, payload: x.payload, ...(x.id ? { meta: { id: x.id } } : {}) } });
    }
    return json(202, undefined);
  }

  // --------------------------------------------------------------------------
  // Broadcast from the database: logical replication (replication_connection.ex)
  // --------------------------------------------------------------------------
  /** @type {import('postgres').Sql | null} */
  let repl = null;
  let retryTimer;
  let attempt = 0;

  /**
   * pgoutput (protocol 1) Relation and Insert messages of realtime.messages,
   * as replication_connection.ex reads them; other messages are skipped.
   * https://www.postgresql.org/docs/17/protocol-logicalrep-message-formats.html
   */
  function pgoutput(relations, /** @type {Buffer} */ x) {
    const kind = String.fromCharCode(x[0]);
    if (kind === 'R') {
      let i = 1;
      const id = x.readUInt32BE(i);
      i += 4;
      const end = (from) => x.indexOf(0, from);
      const schema = x.toString('utf8', i, (i = end(i)));
      const table = x.toString('utf8', i + 1, (i = end(i + 1)));
      i += 2; // NUL + replica identity
      const n = x.readUInt16BE(i);
      i += 2;
      const columns = [];
      for (let c = 0; c < n; c++) {
        i += 1; // flags
        const name = x.toString('utf8', i, (i = end(i)));
        i += 1 + 4 + 4; // NUL, type oid, typmod
        columns.push(name);
      }
      relations.set(id, { schema, table, columns });
      return null;
    }
    if (kind !== 'I') return null;
    const rel = relations.get(x.readUInt32BE(1));
    if (!rel || rel.schema !== 'realtime' || !rel.table.startsWith('messages')) return null;
    let i = 1 + 4 + 1; // relation id, 'N'
    const n = x.readUInt16BE(i);
    i += 2;
    /** @type {Record<string, string | null>} */
    const row = {};
    for (let c = 0; c < n; c++) {
      const t = x[i++];
      if (t === 0x74 /* t */ || t === 0x62 /* b */) {
        const len = x.readUInt32BE(i);
        row[rel.columns[c]] = x.toString('utf8', i + 4, i + 4 + len);
        i += 4 + len;
      } else row[rel.columns[c]] = null;
    }
    return row;
  }

  /** A committed realtime.messages row → its topic's channels (private rows to private channels). */
  function deliverRow(/** @type {Record<string, string | null>} */ row) {
    if (row.extension !== 'broadcast' || !row.topic || !row.event || !row.id) return;
    const bytes = row.binary_payload != null ? Buffer.from(row.binary_payload.replace(/^\\x/, ''), 'hex') : row.payload != null ? Buffer.from(row.payload) : null;
    if (!bytes || bytes.length > maxPayloadBytes) return;
    if (events.triggered) return; // replication_connection.ex check_rate_limit: dropped
    events.add();
    fanOut(`${row.private === 't' ? 'private' : 'public'}|${row.topic}`, {
      user: { user_event: row.event, encoding: row.binary_payload != null ? 'binary' : 'json', bytes, metadata: { id: row.id } },
    });
  }

  async function replicate() {
    if (stopped) return;
    clearTimeout(retryTimer);
    const slot = `supabase_realtime_messages_replication_slot_local_${process.pid}_${Date.now().toString(36)}`;
    let lost = false;
    const onLost = (why) => {
      if (lost || stopped) return;
      lost = true;
      replicationReady = false;
      log(`realtime: replication stream lost (${why}); channels are told to rejoin`);
      for (const conn of conns) for (const chan of [...conn.channels.values()]) errorOut(chan);
      const old = repl;
      repl = null;
      old?.end({ timeout: 0 }).catch(() => {});
      retryTimer = setTimeout(replicate, Math.min(5000, 200 * 2 ** attempt++));
    };
    const conn = postgres(dbUrl, {
      max: 1,
      idle_timeout: null,
      max_lifetime: null,
      fetch_types: false,
      connect_timeout: 5,
      onnotice: () => {},
      connection: { replication: 'database', application_name: 'realtime_replication_connection' },
      onclose: () => onLost('connection closed'),
    });
    repl = conn;
    try {
      const [created] = await conn.unsafe(`CREATE_REPLICATION_SLOT ${slot} TEMPORARY LOGICAL pgoutput NOEXPORT_SNAPSHOT`);
      const stream = await conn
        .unsafe(`START_REPLICATION SLOT ${slot} LOGICAL ${created.consistent_point} (proto_version '1', publication_names '${PUBLICATION}')`)
        .writable();
      const relations = new Map();
      let lsn = Buffer.alloc(8);
      const status = () => {
        // Standby status update: written = flushed = applied = the last LSN seen.
        const b = Buffer.alloc(34);
        b[0] = 0x72;
        lsn.copy(b, 1);
        lsn.copy(b, 9);
        lsn.copy(b, 17);
        b.writeBigInt64BE(BigInt(Date.now() - Date.UTC(2000, 0, 1)) * 1000n, 25);
        stream.write(b);
      };
      stream.on('data', (/** @type {Buffer} */ x) => {
        if (x[0] === 0x77) {
          // XLogData: start LSN (8), end LSN (8), send time (8), message
          lsn = Buffer.from(x.subarray(9, 17));
          try {
            const row = pgoutput(relations, x.subarray(25));
            if (row) deliverRow(row);
          } catch (e) {
            log(`realtime: UnableToBroadcastChanges: ${/** @type {Error} */ (e).message}`);
          }
        } else if (x[0] === 0x6b) {
          lsn = Buffer.from(x.subarray(1, 9));
          if (x[17]) status();
        }
      });
      stream.on('error', (e) => onLost(e.message));
      stream.on('close', () => onLost('stream closed'));
      if (stopped) return;
      attempt = 0;
      replicationReady = true;
      log('realtime: replication stream started');
    } catch (e) {
      onLost(/** @type {Error} */ (e).message);
    }
  }
  await replicate();

  return {
    handleUpgrade,
    handleHttp,
    /** True while the replication stream is up (joins are accepted). */
    get ready() {
      return replicationReady;
    },
    /** Open sockets (tests). */
    get connections() {
      return conns.size;
    },
    limits,
    async stop() {
      if (stopped) return;
      stopped = true;
      replicationReady = false;
      clearTimeout(retryTimer);
      for (const conn of conns) conn.ws.terminate();
      conns.clear();
      wss.close();
      events.stop();
      joins.stop();
      presenceEvents.stop();
      const r = repl;
      repl = null;
      await Promise.allSettled([r?.end({ timeout: 0 }), sql.end({ timeout: 0 })]);
    },
  };
}
