/**
 * /widget/* on the local gateway: the website widget's static files from the
 * repository's widget/ folder (widget.js, example.html). Hosted Supabase
 * serves no static files: site owners load widget.js from any static host or
 * CDN (README "Website chat widget"); the headers here are the ones to set
 * there too:
 * - widget.js: `Cache-Control: public, max-age=300, stale-while-revalidate=86400`
 *   (a fix reaches every site within minutes; browsers and CDNs revalidate
 *   cheaply) and a strong `ETag` (SHA-256 of the file), answered with 304 on
 *   `If-None-Match` (https://developer.mozilla.org/en-US/docs/Web/HTTP/Caching);
 * - HTML pages: `Cache-Control: no-cache` (always revalidated).
 * Only GET and HEAD, only files directly in widget/ (no traversal).
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../widget');
const TYPES = { '.js': 'text/javascript; charset=utf-8', '.html': 'text/html; charset=utf-8', '.css': 'text/css; charset=utf-8' };

/**
 * @param {import('node:http').IncomingMessage} req
 * @param {import('node:http').ServerResponse} res
 * @param {string} pathname
 */
export async function serveWidget(req, res, pathname) {
  const name = pathname.slice('/widget/'.length);
  const type = TYPES[/** @type {keyof typeof TYPES} */ (path.extname(name))];
  const send = (/** @type {number} */ status, /** @type {Record<string, string>} */ headers, /** @type {string | Buffer} */ body = '') => {
    res.writeHead(status, headers);
    res.end(req.method === 'HEAD' ? undefined : body);
  };
  if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, { allow: 'GET, HEAD' });
  if (!/^[a-z0-9-]+\.[a-z]+$/.test(name) || !type) return send(404, { 'content-type': 'application/json' }, '{"message":"not found"}');
  let body;
  try {
    body = await readFile(path.join(DIR, name));
  } catch {
    return send(404, { 'content-type': 'application/json' }, '{"message":"not found"}');
  }
  const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 32)}"`;
  const headers = {
    'content-type': type,
    etag,
    'cache-control': name.endsWith('.js') ? 'public, max-age=300, stale-while-revalidate=86400' : 'no-cache',
    'x-content-type-options': 'nosniff',
    ...(name.endsWith('.js') ? { 'access-control-allow-origin': '*', 'cross-origin-resource-policy': 'cross-origin' } : {}),
  };
  if (req.headers['if-none-match'] === etag) return send(304, headers);
  return send(200, { ...headers, 'content-length': String(body.length) }, body);
}

/** The seed user who owns the demo website (supabase/seed.sql). */
const DEMO_OWNER = 'user_seedAlice0000000000000000';

/**
 * `npm start`: makes sure the seed user Alice has a demo website whose allowed
 * origins are the gateway's (`apiUrl`, and the same port on localhost /
 * 127.0.0.1), with at least $1 of AI credits for the bot (one `grant` ledger
 * entry, once), and returns the example page's URL with its widget key.
 * Null when the seed users are not there (a database without the seed).
 * @param {string} dbUrl
 * @param {string} apiUrl
 */
export async function ensureDemoWebsite(dbUrl, apiUrl) {
  const { default: postgres } = await import('postgres');
  const sql = postgres(dbUrl, { max: 1, onnotice: () => {} });
  try {
    const [user] = await sql`select id from public.users where id = ${DEMO_OWNER}`;
    if (!user) return null;
    const url = new URL(apiUrl);
    const origins = [...new Set([url.origin, `${url.protocol}//localhost:${url.port}`, `${url.protocol}//127.0.0.1:${url.port}`])];
    let [site] = await sql`select id, widget_key from public.websites where owner_id = ${DEMO_OWNER} and name = 'Demo shop'`;
    if (site) {
      await sql`update public.websites set allowed_origins = ${origins}, active = true where id = ${site.id}`;
    } else {
      [site] = await sql`insert into public.websites (owner_id, name, allowed_origins, settings)
        values (${DEMO_OWNER}, 'Demo shop', ${origins},
                ${sql.json({ greeting: 'Hi! I am the Demo shop assistant. Ask me anything.', system_prompt: 'You answer visitors of the Demo shop, briefly.' })})
        returning id, widget_key`;
    }
    await sql`select private.record_ledger_entry(${DEMO_OWNER}, 'grant', 1000000, 'widget_demo', ${DEMO_OWNER}, 'Demo website credits')
              where not exists (select 1 from public.credit_ledger l where l.source = 'widget_demo' and l.source_id = ${DEMO_OWNER})`;
    return `${url.origin}/widget/example.html?key=${site.widget_key}`;
  } finally {
    await sql.end({ timeout: 1 });
  }
}
