/**
 * The local API gateway: one origin (`API_URL`, default http://127.0.0.1:54321,
 * the Supabase CLI's Kong port) in front of the Data API and the functions,
 * with the API-key rules of a hosted project
 * (https://supabase.com/docs/guides/api/api-keys):
 *
 *   /rest/v1/*       → PostgREST (prefix stripped)
 *   /functions/v1/*  → the edge functions (stack/runtime/functions.mjs)
 *   /realtime/v1/*   → the Realtime stand-in (stack/runtime/realtime.mjs): WebSocket
 *                      upgrades of /realtime/v1/websocket and the REST broadcast endpoint
 *   /widget/*        → the website widget's static files (widget/; ./widget-static.mjs)
 *   /auth/v1/*, /storage/v1/*  → 404 with a JSON body naming what the local stack lacks
 *
 * API keys on /rest/v1 (the `apikey` header, or the `apikey` query parameter):
 * - missing → 401 {"message":"No API key found in request", …};
 * - not one of this stack's keys → 401 {"message":"Invalid API key", …};
 * - the secret key from a browser (a `Mozilla/` User-Agent) → 401
 *   {"message":"Forbidden use of secret API key in browser"};
 * - `Authorization: Bearer <a JWT>` (a Clerk session token, a legacy key) is
 *   passed to PostgREST, which verifies it (expired, forged or wrongly signed
 *   tokens get PostgREST's own 401 body);
 * - no Authorization, or the same publishable/secret key as Bearer: the
 *   gateway passes a short-lived HS256 JWT of the key's role (publishable →
 *   `anon`, secret → `service_role`), as the hosted gateway does.
 * On /functions/v1 the same key translation applies to Authorization (so
 * `verify_jwt` sees a JWT); the functions answer CORS themselves, as on a
 * hosted project.
 *
 * CORS on /rest/v1 as the hosted gateway answers it: preflights get 200 with
 * the requested headers allowed; every answer has `Access-Control-Allow-Origin: *`.
 */
import { readFile, readdir, readlink } from 'node:fs/promises';
import http from 'node:http';
import { SignJWT } from 'jose';
import { serveWidget } from './widget-static.mjs';

const NO_KEY = { message: 'No API key found in request', hint: 'No `apikey` request header or url param was found.' };
const BAD_KEY = { message: 'Invalid API key', hint: 'Double check your Supabase `anon` or `service_role` API key.' };
const SECRET_IN_BROWSER = {
  message: 'Forbidden use of secret API key in browser',
  hint: 'Secret API keys can only be used in a protected environment and should never be used in a browser.',
};
const CORS_METHODS = 'GET,HEAD,PUT,PATCH,POST,DELETE,OPTIONS';
const EXPOSE = 'Content-Range, Content-Location, Content-Profile, Preference-Applied, Range-Unit, Location, X-Request-Id';
/** Headers of every Data API answer, as the hosted gateway sets them. */
const CORS = { 'access-control-allow-origin': '*', 'access-control-expose-headers': EXPOSE };

/**
 * @param {{
 *   port: number,
 *   postgrestUrl: string,
 *   functionsUrl: string | null,
 *   keys: import('./state.mjs').ApiKeys,
 *   realtime?: { handleUpgrade: (req: http.IncomingMessage, socket: import('node:stream').Duplex, head: Buffer) => void, handleHttp: (req: http.IncomingMessage, res: http.ServerResponse) => Promise<void> } | null,
 * }} opts `functionsUrl`: origin of the functions server (it serves /functions/v1/…);
 *   `realtime`: the Realtime stand-in (stack/runtime/realtime.mjs), which checks API keys itself
 * @returns {Promise<{ url: string, stop: () => Promise<void> }>}
 */
export async function startGateway({ port, postgrestUrl, functionsUrl, keys, realtime = null }) {
  const secret = new TextEncoder().encode(keys.jwtSecret);
  /** key → role, for the keys this stack issued */
  const roleOf = new Map([
    [keys.publishableKey, 'anon'],
    [keys.secretKey, 'service_role'],
    [keys.anonKey, 'anon'],
    [keys.serviceRoleKey, 'service_role'],
  ]);
  /** @type {Map<string, { token: string, until: number }>} */
  const minted = new Map();
  async function roleJwt(role) {
    const now = Date.now();
    const hit = minted.get(role);
    if (hit && hit.until > now) return hit.token;
    const token = await new SignJWT({ role })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuer('supabase-local-gateway')
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(secret);
    minted.set(role, { token, until: now + 60_000 });
    return token;
  }

  const agent = new http.Agent({ keepAlive: true, maxSockets: 128 });
  const json = (res, status, body, headers = {}) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  };

  /**
   * The Authorization to forward for a request carrying `apikey`, or an error body.
   * @returns {Promise<{ status: number, body: object } | { authorization: string | undefined }>}
   */
  async function authorize(req, apikey, { required }) {
    if (!apikey) return required ? { status: 401, body: NO_KEY } : { authorization: req.headers.authorization };
    const role = roleOf.get(apikey);
    if (!role) return { status: 401, body: BAD_KEY };
    if (apikey === keys.secretKey && /Mozilla\//.test(req.headers['user-agent'] ?? '')) return { status: 401, body: SECRET_IN_BROWSER };
    const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    if (!bearer || bearer === keys.publishableKey || bearer === keys.secretKey) return { authorization: `Bearer ${await roleJwt(role)}` };
    return { authorization: req.headers.authorization };
  }

  function forward(req, res, target, pathAndQuery, headers, extraHeaders = {}) {
    const up = http.request(
      { host: target.hostname, port: target.port, method: req.method, path: pathAndQuery, headers, agent },
      (r) => {
        const h = { ...r.headers, ...extraHeaders };
        res.writeHead(r.statusCode ?? 502, h);
        r.pipe(res);
      },
    );
    up.on('error', () => {
      if (!res.headersSent) json(res, 502, { message: 'An invalid response was received from the upstream server' });
      else res.destroy();
    });
    req.on('aborted', () => up.destroy());
    res.on('close', () => {
      if (!res.writableFinished) up.destroy();
    });
    req.pipe(up);
  }

  const rest = new URL(postgrestUrl);
  const fns = functionsUrl ? new URL(functionsUrl) : null;

  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    try {
      if (url.pathname === '/rest/v1' || url.pathname.startsWith('/rest/v1/')) {
        if (req.method === 'OPTIONS') {
          res.writeHead(200, {
            'access-control-allow-origin': '*',
            'access-control-allow-methods': CORS_METHODS,
            'access-control-allow-headers': req.headers['access-control-request-headers'] ?? 'authorization, apikey, content-type, x-client-info',
            'access-control-max-age': '3600',
            'content-length': '0',
          });
          return res.end();
        }
        const apikey = /** @type {string | undefined} */ (req.headers.apikey) ?? url.searchParams.get('apikey') ?? undefined;
        const auth = await authorize(req, apikey, { required: true });
        if ('status' in auth) return json(res, auth.status, auth.body, CORS);
        url.searchParams.delete('apikey');
        const headers = { ...req.headers, host: rest.host, 'x-forwarded-for': req.socket.remoteAddress ?? '127.0.0.1' };
        if (auth.authorization) headers.authorization = auth.authorization;
        else delete headers.authorization;
        const rel = url.pathname.slice('/rest/v1'.length) || '/';
        return forward(req, res, rest, `${rel}${url.search}`, headers, CORS);
      }
      if (url.pathname.startsWith('/functions/v1/') && fns) {
        const apikey = /** @type {string | undefined} */ (req.headers.apikey);
        const auth = req.method === 'OPTIONS' ? { authorization: req.headers.authorization } : await authorize(req, apikey, { required: false });
        if ('status' in auth) return json(res, auth.status, auth.body);
        const headers = { ...req.headers, host: fns.host };
        if (auth.authorization) headers.authorization = auth.authorization;
        return forward(req, res, fns, `${url.pathname}${url.search}`, headers);
      }
      if (realtime && (url.pathname === '/realtime/v1' || url.pathname.startsWith('/realtime/v1/'))) return await realtime.handleHttp(req, res);
      if (url.pathname.startsWith('/widget/')) return await serveWidget(req, res, url.pathname);
      if (url.pathname === '/health') return json(res, 200, { status: 'ok' });
      const service = /^\/(realtime|auth|storage|graphql)\/v1(\/|$)/.exec(url.pathname)?.[1];
      if (service) {
        return json(res, 404, {
          message: `${service} is not served by the local stack`,
          hint: service === 'auth' ? 'Sign in with Clerk; the Data API accepts Clerk session tokens.' : 'See docs/local-stack.md for what runs locally.',
        });
      }
      return json(res, 404, { message: 'no Route matched with those values' });
    } catch (e) {
      if (!res.headersSent) json(res, 500, { message: 'gateway error', detail: String(/** @type {Error} */ (e)?.message ?? e) });
    }
  });
  server.keepAliveTimeout = 5000;
  // WebSocket upgrades: /realtime/v1/… to the Realtime stand-in, anything else refused.
  server.on('upgrade', (req, socket, head) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (realtime && path.startsWith('/realtime/v1/')) return realtime.handleUpgrade(req, socket, head);
    socket.end('HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n{"message":"no Route matched with those values"}');
  });
  await listen(server, port, 'API_PORT');
  return {
    url: `http://127.0.0.1:${port}`,
    async stop() {
      await new Promise((resolve) => {
        server.close(() => resolve(undefined));
        server.closeAllConnections();
      });
      agent.destroy();
    },
  };
}

/**
 * Binds `server` to 127.0.0.1:`port`; a busy port is an error that names the
 * port, the variable that changes it and, when it can be known, what holds it.
 * @param {http.Server} server
 * @param {number} port
 * @param {string} variable
 */
export async function listen(server, port, variable) {
  try {
    await new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve(undefined));
    });
  } catch (e) {
    if (/** @type {any} */ (e).code === 'EADDRINUSE') throw await portInUseError(port, variable);
    throw e;
  }
}

/**
 * The error for a busy port: names the port, its variable and the process
 * holding it when /proc tells (Linux; the same user's processes).
 * @param {number} port
 * @param {string} variable
 */
export async function portInUseError(port, variable) {
  const holder = await portHolder(port);
  const err = new Error(
    `Port ${port} on 127.0.0.1 is already in use${holder ? ` by ${holder}` : ''}. ` +
      `Stop that program, or choose another port: ${variable}=<port> npm start`,
  );
  /** @type {any} */ (err).code = 'EADDRINUSE';
  return err;
}

/** `pid N (command)` of the process listening on `port`, from /proc; null when unknown. */
async function portHolder(port) {
  try {
    const hex = port.toString(16).toUpperCase().padStart(4, '0');
    const inodes = new Set();
    for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
      const text = await readFile(f, 'utf8').catch(() => '');
      for (const line of text.split('\n').slice(1)) {
        const cols = line.trim().split(/\s+/);
        if (cols[1]?.endsWith(`:${hex}`) && cols[3] === '0A') inodes.add(cols[9]);
      }
    }
    if (!inodes.size) return null;
    for (const pid of await readdir('/proc')) {
      if (!/^\d+$/.test(pid)) continue;
      const fds = await readdir(`/proc/${pid}/fd`).catch(() => []);
      for (const fd of fds) {
        const link = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
        const m = /^socket:\[(\d+)\]$/.exec(link);
        if (m && inodes.has(m[1])) {
          const cmd = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0').filter(Boolean).join(' ');
          return `pid ${pid} (${cmd.slice(0, 120) || '?'})`;
        }
      }
    }
  } catch {
    return null;
  }
  return null;
}
