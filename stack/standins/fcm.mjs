/**
 * A local Firebase Cloud Messaging stand-in: a 127.0.0.1 HTTP server speaking
 * the FCM HTTP v1 wire format and Google's OAuth 2.0 service-account token
 * endpoint, for the calls push-dispatch makes. Used by the tests (tests/push)
 * and by the local stack when no FCM service account is configured; never part
 * of a deployment.
 *
 * OAuth (https://developers.google.com/identity/protocols/oauth2/service-account#httprest):
 * POST /token, form `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`
 * and `assertion=<RS256 JWT signed with the service account's private key>`
 * (claims iss = client_email, scope, aud, exp, iat) → `{access_token,
 * expires_in: 3600, token_type: "Bearer"}`; a bad assertion → 400
 * `{error: "invalid_grant", error_description}`. The stand-in makes a service
 * account of its own (`serviceAccount`, the JSON a Firebase console download
 * has: type, project_id, private_key_id, private_key, client_email, token_uri
 * pointing here).
 *
 * Send (https://firebase.google.com/docs/reference/fcm/rest/v1/projects.messages/send):
 * POST /v1/projects/<project_id>/messages:send with `Authorization: Bearer
 * <access token>` and `{message: {token, notification, data, android, apns,
 * webpush}}` → `{name: "projects/<id>/messages/<id>"}`. Errors have Google's
 * shape `{error: {code, message, status, details: [{"@type":
 * "type.googleapis.com/google.firebase.fcm.v1.FcmError", errorCode}]}}`
 * (https://firebase.google.com/docs/reference/fcm/rest/v1/ErrorCode):
 * 401 UNAUTHENTICATED without a valid token; 400 INVALID_ARGUMENT for a
 * malformed message or token (a `google.rpc.BadRequest` field violation on
 * `message.token` for the token); 404 UNREGISTERED for a token `unregister`ed
 * here; scripted faults (`fail`): 429 QUOTA_EXCEEDED with `Retry-After`,
 * 500 INTERNAL, 503 UNAVAILABLE.
 *
 * What was sent: `messages()` (every accepted message, in order) and
 * `notifications(token)`: what the device shows, where a message with the same
 * notification tag (Android `notification.tag`, APNs `apns-collapse-id`, web
 * push `Topic`) replaces the one shown before, as the platforms do. Over HTTP:
 * GET /_standin/messages (JSON) and GET / (an HTML page listing them).
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import http from 'node:http';
import { importSPKI, jwtVerify } from 'jose';

const FCM_ERROR_TYPE = 'type.googleapis.com/google.firebase.fcm.v1.FcmError';
const STATUS_OF = { 400: 'INVALID_ARGUMENT', 401: 'UNAUTHENTICATED', 404: 'NOT_FOUND', 429: 'RESOURCE_EXHAUSTED', 500: 'INTERNAL', 503: 'UNAVAILABLE' };
const CODE_OF = { 400: 'INVALID_ARGUMENT', 404: 'UNREGISTERED', 429: 'QUOTA_EXCEEDED', 500: 'INTERNAL', 503: 'UNAVAILABLE' };

/** Google's error body for `status` (errorCode defaults to the FCM code of that status). */
export function fcmError(status, message, errorCode = CODE_OF[status], extraDetails = []) {
  return {
    error: {
      code: status,
      message,
      status: STATUS_OF[status] ?? 'UNKNOWN',
      details: [...(errorCode ? [{ '@type': FCM_ERROR_TYPE, errorCode }] : []), ...extraDetails],
    },
  };
}

const escapeHtml = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * Starts the stand-in on 127.0.0.1 (`port` 0: any free port).
 * @param {{ projectId?: string, port?: number, tokenTtlSeconds?: number }} [opts]
 */
export async function startFcmStandin({ projectId = 'chat-with-me-local', port = 0, tokenTtlSeconds = 3600 } = {}) {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const privatePem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const publicPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const verifyKey = await importSPKI(publicPem, 'RS256');
  const clientEmail = `push-dispatch@${projectId}.iam.gserviceaccount.com`;

  /** @type {Map<string, number>} access token → expiry (ms) */
  const accessTokens = new Map();
  /** @type {{ name: string, token: string, message: any, at: string }[]} */
  const sent = [];
  /** @type {{ tokenRequests: number, sendRequests: number }} */
  const counters = { tokenRequests: 0, sendRequests: 0 };
  const unregistered = new Set();
  /** @type {{ status: number, retryAfter?: number, times: number, token?: string }[]} */
  const faults = [];

  const answer = (res, status, body, headers = {}) => {
    res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', ...headers });
    res.end(JSON.stringify(body));
  };
  const readBody = (req) =>
    new Promise((resolve, reject) => {
      const chunks = [];
      let size = 0;
      req.on('data', (c) => {
        size += c.length;
        if (size > 1024 * 1024) req.destroy(new Error('body too large'));
        else chunks.push(c);
      });
      req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      req.on('error', reject);
    });

  async function token(req, res) {
    counters.tokenRequests++;
    const form = new URLSearchParams(await readBody(req));
    if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer') {
      return answer(res, 400, { error: 'unsupported_grant_type', error_description: 'Invalid grant_type: ' + (form.get('grant_type') ?? '') });
    }
    try {
      const { payload } = await jwtVerify(form.get('assertion') ?? '', verifyKey, { algorithms: ['RS256'], issuer: clientEmail });
      if (!String(payload.scope ?? '').split(' ').includes('https://www.googleapis.com/auth/firebase.messaging')) {
        return answer(res, 400, { error: 'invalid_scope', error_description: 'the firebase.messaging scope is required' });
      }
    } catch (e) {
      return answer(res, 400, { error: 'invalid_grant', error_description: `Invalid JWT: ${e instanceof Error ? e.message : e}` });
    }
    const access = `ya29.standin-${randomBytes(24).toString('base64url')}`;
    accessTokens.set(access, Date.now() + tokenTtlSeconds * 1000);
    answer(res, 200, { access_token: access, expires_in: tokenTtlSeconds, token_type: 'Bearer' });
  }

  async function send(req, res, project) {
    counters.sendRequests++;
    const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const exp = bearer ? accessTokens.get(bearer) : undefined;
    if (!exp || exp < Date.now()) {
      return answer(res, 401, fcmError(401, 'Request had invalid authentication credentials. Expected OAuth 2 access token.', undefined));
    }
    if (project !== projectId) return answer(res, 403, { error: { code: 403, message: 'SenderId mismatch', status: 'PERMISSION_DENIED', details: [{ '@type': FCM_ERROR_TYPE, errorCode: 'SENDER_ID_MISMATCH' }] } });
    let body;
    try {
      body = JSON.parse(await readBody(req));
    } catch {
      return answer(res, 400, fcmError(400, 'Invalid JSON payload received.'));
    }
    const message = body?.message;
    if (!message || typeof message !== 'object') return answer(res, 400, fcmError(400, 'Invalid JSON payload received. Unknown name "message".'));
    const target = message.token;
    if (typeof target !== 'string' || target.length === 0) return answer(res, 400, fcmError(400, 'Recipient of the message is not set.'));
    if (message.data && Object.values(message.data).some((v) => typeof v !== 'string')) {
      return answer(res, 400, fcmError(400, 'Invalid value at \'message.data\': data values must be strings'));
    }
    const fault = faults.find((f) => f.times > 0 && (!f.token || f.token === target));
    if (fault) {
      fault.times--;
      const headers = fault.retryAfter !== undefined ? { 'retry-after': String(fault.retryAfter) } : {};
      return answer(res, fault.status, fcmError(fault.status, fault.status === 429 ? 'Quota exceeded.' : 'Internal error encountered.'), headers);
    }
    if (target.startsWith('invalid')) {
      return answer(res, 400, fcmError(400, 'The registration token is not a valid FCM registration token', 'INVALID_ARGUMENT', [
        { '@type': 'type.googleapis.com/google.rpc.BadRequest', fieldViolations: [{ field: 'message.token', description: 'Invalid registration token' }] },
      ]));
    }
    if (unregistered.has(target)) return answer(res, 404, fcmError(404, 'Requested entity was not found.'));
    const name = `projects/${projectId}/messages/${Date.now()}${randomBytes(4).readUInt32BE(0)}`;
    sent.push({ name, token: target, message, at: new Date().toISOString() });
    answer(res, 200, { name });
  }

  const server = http.createServer(async (req, res) => {
    try {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const m = /^\/v1\/projects\/([^/]+)\/messages:send$/.exec(url.pathname);
      if (req.method === 'POST' && url.pathname === '/token') return await token(req, res);
      if (req.method === 'POST' && m) return await send(req, res, decodeURIComponent(m[1]));
      if (req.method === 'GET' && url.pathname === '/_standin/messages') return answer(res, 200, { messages: sent });
      if (req.method === 'GET' && url.pathname === '/') {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        return res.end(
          `<!doctype html><title>FCM stand-in</title><h1>FCM stand-in: ${sent.length} message(s) sent</h1><ol>` +
            sent.map((s) => `<li>${escapeHtml(s.at)} → ${escapeHtml(s.token.slice(0, 16))}…: <b>${escapeHtml(s.message.notification?.title ?? '')}</b> ${escapeHtml(s.message.notification?.body ?? '')}</li>`).join('') +
            '</ol>',
        );
      }
      answer(res, 404, { error: { code: 404, message: 'Not found', status: 'NOT_FOUND' } });
    } catch (e) {
      if (!res.headersSent) answer(res, 500, fcmError(500, e instanceof Error ? e.message : String(e)));
    }
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const url = `http://127.0.0.1:${/** @type {import('node:net').AddressInfo} */ (server.address()).port}`;
  const serviceAccount = {
    type: 'service_account',
    project_id: projectId,
    private_key_id: randomBytes(20).toString('hex'),
    private_key: privatePem,
    client_email: clientEmail,
    client_id: String(100000000000000000000n + BigInt(randomBytes(6).readUIntBE(0, 6))),
    auth_uri: 'https://accounts.google.com/o/oauth2/auth',
    token_uri: `${url}/token`,
  };

  /** What a device shows: the latest message per notification tag (tag = collapse id), oldest first. */
  const tagOf = (msg) => msg.android?.notification?.tag ?? msg.apns?.headers?.['apns-collapse-id'] ?? msg.webpush?.headers?.Topic ?? msg.name;

  return {
    url,
    projectId,
    serviceAccount,
    /** The functions' environment for this stand-in (push-dispatch reads these). */
    env: { FCM_SERVICE_ACCOUNT_JSON: JSON.stringify(serviceAccount), FCM_API_BASE: url },
    /** Every message FCM accepted, in order (optionally only those to `token`). */
    messages: (token) => sent.filter((s) => !token || s.token === token),
    /** What the device with `token` displays: one notification per tag, the latest. */
    notifications(token) {
      const shown = new Map();
      for (const s of sent.filter((x) => x.token === token)) {
        const tag = tagOf(s.message);
        shown.delete(tag);
        shown.set(tag, s.message);
      }
      return [...shown.values()];
    },
    counters,
    /** FCM answers 404 UNREGISTERED for this token from now on (the app was uninstalled). */
    unregister: (token) => unregistered.add(token),
    /**
     * The next `times` sends (to `token`, or any) fail with `status` (429 with `retryAfter` seconds, 500, 503).
     * @param {number} status
     * @param {{ times?: number, retryAfter?: number, token?: string }} [opts]
     */
    fail: (status, { times = 1, retryAfter, token } = {}) => faults.push({ status, times, retryAfter, token }),
    /** Forgets what was sent and the scripted faults. */
    reset() {
      sent.length = 0;
      faults.length = 0;
    },
    stop: () =>
      new Promise((resolve) => {
        server.close(() => resolve(undefined));
        server.closeAllConnections();
      }),
  };
}
