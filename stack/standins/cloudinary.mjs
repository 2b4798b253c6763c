/**
 * A local stand-in for Cloudinary's Upload API and the part of its Admin API
 * we use, on 127.0.0.1, for tests and for `npm start` without Cloudinary
 * credentials. Nothing here is deployed, and it does not use the `cloudinary`
 * SDK: it implements Cloudinary's documented wire format independently, so
 * tests check our use of the SDK against the documentation, not against itself.
 *
 * Endpoints (paths under the API base, the SDK's `upload_prefix`):
 * - POST /v1_1/<cloud>/<image|video|raw|auto>/upload — a signed upload
 *   (https://cloudinary.com/documentation/image_upload_api_reference#upload),
 *   multipart/form-data or application/x-www-form-urlencoded, `file` as a file
 *   part or a base64 data URI. Checked as Cloudinary documents
 *   (https://cloudinary.com/documentation/authentication_signatures): api_key
 *   known; timestamp present and less than one hour old; signature = hex
 *   SHA-1 (40 characters) or SHA-256 (64) of every parameter except file,
 *   cloud_name, resource_type, api_key (and signature), sorted by name,
 *   `name=value` joined with `&`, with the API secret appended. Then
 *   allowed_formats is enforced (image formats detected from the content, raw
 *   formats from the file extension) and the folder applied (fixed folder mode:
 *   public_id = <folder>/<random>; dynamic: asset_folder = <folder>). Answers
 *   with the documented upload response
 *   (https://cloudinary.com/documentation/image_upload_api_reference#upload_response).
 *   With a notification_url, it then POSTs the upload notification
 *   (https://cloudinary.com/documentation/notifications): the same fields plus
 *   notification_type "upload", timestamp, request_id, notification_context and
 *   signature_key, signed as Cloudinary signs them
 *   (https://cloudinary.com/documentation/notification_signatures):
 *   X-Cld-Timestamp (Unix seconds) and X-Cld-Signature = hex SHA-1 (or
 *   SHA-256) of body + timestamp + API secret.
 * - POST /v1_1/<cloud>/<resource_type>/destroy — signed like an upload
 *   (public_id, timestamp…): {"result":"ok"} or {"result":"not found"}.
 * - DELETE /v1_1/<cloud>/resources/<resource_type>/<type> — Admin API
 *   delete_resources with HTTP Basic auth (api_key:api_secret) and
 *   `public_ids[]` (query or form body): {"deleted": {<id>: "deleted" |
 *   "not_found"}, "partial": false}
 *   (https://cloudinary.com/documentation/admin_api#delete_resources).
 * Errors use Cloudinary's shape `{"error": {"message": …}}`.
 *
 * Differences from Cloudinary, on purpose: assets are kept in memory and not
 * served (secure_url points at https://res.cloudinary.com/<cloud>/…, which
 * nobody fetches in tests); no eager/incoming transformations (a signed
 * request may carry them, but they are ignored); failed notifications are not
 * retried.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import { crc32, deflateSync } from 'node:zlib';

/** Parameters never part of the signature (Cloudinary's documented exclusions, plus the signature itself). */
const UNSIGNED = new Set(['file', 'cloud_name', 'resource_type', 'api_key', 'signature']);
const RESOURCE_TYPES = new Set(['image', 'video', 'raw', 'auto']);
const ONE_HOUR = 3600;

const hex = (n) => randomBytes(n).toString('hex');
const digest = (algorithm, text) => createHash(algorithm).update(text).digest('hex');

function safeEqual(a, b) {
  const x = Buffer.from(String(a));
  const y = Buffer.from(String(b));
  return x.length === y.length && timingSafeEqual(x, y);
}

class CloudinaryError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** The string Cloudinary signs for `params` (documented algorithm, before the secret is appended). */
export function stringToSign(params) {
  return Object.keys(params)
    .filter((k) => !UNSIGNED.has(k) && params[k] !== undefined && params[k] !== null && params[k] !== '')
    .sort()
    .map((k) => `${k}=${Array.isArray(params[k]) ? params[k].join(',') : params[k]}`)
    .join('&');
}

/**
 * A `width`×`height` 8-bit RGB PNG (https://www.w3.org/TR/png/), pixel by
 * pixel from `rgbAt(x, y)`: an image to upload to Cloudinary (or this
 * stand-in, which reads its size back with sniffImage) in tests and the demo.
 * @param {number} width
 * @param {number} height
 * @param {(x: number, y: number) => number[]} rgbAt [r, g, b], each 0..255
 * @returns {Buffer}
 */
export function encodePng(width, height, rgbAt) {
  const chunk = (/** @type {string} */ type, /** @type {Buffer} */ data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  const stride = 3 * width + 1; // a filter byte (0: none), then the row's pixels
  const rows = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) rows.set(rgbAt(x, y).map(Math.round), y * stride + 1 + 3 * x);
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(rows)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/**
 * Format and dimensions of an image, from its first bytes (PNG, JPEG, GIF,
 * WebP, HEIC, PDF), or null when it is not an image Cloudinary would take.
 * @param {Buffer} b
 * @returns {{ format: string, width?: number, height?: number } | null}
 */
export function sniffImage(b) {
  if (b.length >= 24 && b.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) {
    return { format: 'png', width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
  }
  if (b.length >= 10 && (b.subarray(0, 6).toString('latin1') === 'GIF87a' || b.subarray(0, 6).toString('latin1') === 'GIF89a')) {
    return { format: 'gif', width: b.readUInt16LE(6), height: b.readUInt16LE(8) };
  }
  if (b.length >= 4 && b[0] === 0xff && b[1] === 0xd8) {
    let i = 2;
    while (i + 9 < b.length) {
      if (b[i] !== 0xff) break;
      const marker = b[i + 1];
      const len = b.readUInt16BE(i + 2);
      if (marker >= 0xc0 && marker <= 0xcf && ![0xc4, 0xc8, 0xcc].includes(marker)) {
        return { format: 'jpg', height: b.readUInt16BE(i + 5), width: b.readUInt16BE(i + 7) };
      }
      i += 2 + len;
    }
    return { format: 'jpg' };
  }
  if (b.length >= 30 && b.subarray(0, 4).toString('latin1') === 'RIFF' && b.subarray(8, 12).toString('latin1') === 'WEBP') {
    const chunk = b.subarray(12, 16).toString('latin1');
    if (chunk === 'VP8X') return { format: 'webp', width: 1 + b.readUIntLE(24, 3), height: 1 + b.readUIntLE(27, 3) };
    if (chunk === 'VP8 ') return { format: 'webp', width: b.readUInt16LE(26) & 0x3fff, height: b.readUInt16LE(28) & 0x3fff };
    if (chunk === 'VP8L') {
      const bits = b.readUInt32LE(21);
      return { format: 'webp', width: 1 + (bits & 0x3fff), height: 1 + ((bits >> 14) & 0x3fff) };
    }
    return { format: 'webp' };
  }
  if (b.length >= 12 && b.subarray(4, 8).toString('latin1') === 'ftyp' && /^(heic|heix|mif1)$/.test(b.subarray(8, 12).toString('latin1'))) {
    return { format: 'heic' };
  }
  if (b.length >= 5 && b.subarray(0, 5).toString('latin1') === '%PDF-') return { format: 'pdf' };
  return null;
}

const extensionOf = (name) => {
  const m = /\.([A-Za-z0-9]{1,10})$/.exec(name ?? '');
  return m ? m[1].toLowerCase() : null;
};
const stripExtension = (name) => (name ?? 'file').replace(/\.[A-Za-z0-9]{1,10}$/, '');

/** Request body and query as Cloudinary parameters (repeated names → array), and the uploaded file, if any. */
async function readParams(req, url) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  const body = Buffer.concat(chunks);
  /** @type {Record<string, any>} */
  const params = {};
  let file = null;
  const add = (k, v) => {
    const key = k.endsWith('[]') ? k.slice(0, -2) : k;
    if (key in params) params[key] = [].concat(params[key], v);
    else params[key] = k.endsWith('[]') ? [v] : v;
  };
  for (const [k, v] of url.searchParams) add(k, v);
  const type = (req.headers['content-type'] ?? '').toLowerCase();
  if (body.length && (type.startsWith('multipart/form-data') || type.startsWith('application/x-www-form-urlencoded'))) {
    let form;
    try {
      form = await new Request('http://standin.local/', { method: 'POST', headers: { 'content-type': req.headers['content-type'] }, body }).formData();
    } catch {
      throw new CloudinaryError(400, 'Invalid request body');
    }
    for (const [k, v] of form) {
      if (k === 'file' && typeof v !== 'string') {
        file = { data: Buffer.from(await v.arrayBuffer()), filename: v.name || 'file' };
      } else {
        add(k, typeof v === 'string' ? v : '');
      }
    }
  } else if (body.length && type.startsWith('application/json')) {
    try {
      for (const [k, v] of Object.entries(JSON.parse(body.toString('utf8')))) add(k, typeof v === 'object' ? v : String(v));
    } catch {
      throw new CloudinaryError(400, 'Invalid JSON body');
    }
  }
  if (!file && typeof params.file === 'string') {
    const m = /^data:([\w/+.-]+)?(;[\w-]+=[\w-]+)*;base64,([A-Za-z0-9+/=\s]*)$/.exec(params.file);
    if (!m) throw new CloudinaryError(400, 'The stand-in accepts a file part or a base64 data URI only');
    file = { data: Buffer.from(m[3], 'base64'), filename: 'file' };
  }
  return { params, file };
}

/**
 * Starts the stand-in.
 * @param {{
 *   cloudName?: string, apiKey?: string, apiSecret?: string,
 *   port?: number, host?: string,
 *   folderMode?: 'fixed' | 'dynamic',
 *   notificationAlgorithm?: 'sha1' | 'sha256',
 *   notify?: boolean,
 *   maxUploadBytes?: number,
 * }} [opts]
 */
export async function startCloudinaryStandin({
  cloudName = 'local-standin',
  apiKey = String(100000000000000 + Number.parseInt(hex(5), 16) % 899999999999999),
  apiSecret = randomBytes(20).toString('base64url'),
  port = 0,
  host = '127.0.0.1',
  folderMode = 'fixed',
  notificationAlgorithm = 'sha1',
  notify = true,
  maxUploadBytes = 100 * 1024 * 1024,
} = {}) {
  /** @type {Map<string, any>} `<resource_type>/<public_id>` → upload response */
  const resources = new Map();
  /** @type {any[]} every upload answered 200 */
  const uploads = [];
  /** @type {{ url: string, body: string, headers: Record<string, string>, status: number | null, response: string, error?: string }[]} */
  const deliveries = [];
  /** @type {{ resource_type: string, public_id: string, via: string, result: string }[]} */
  const deletions = [];
  const pending = new Set();
  const waiters = [];

  const checkSignature = (params) => {
    if (!params.api_key) throw new CloudinaryError(401, 'Must supply api_key');
    if (params.api_key !== apiKey) throw new CloudinaryError(401, `Unknown API key ${params.api_key}`);
    if (!params.timestamp) throw new CloudinaryError(400, 'Missing required parameter - timestamp');
    if (!params.signature) throw new CloudinaryError(400, 'Missing required parameter - signature');
    const toSign = stringToSign(params);
    const given = String(params.signature).toLowerCase();
    const algorithm = given.length === 64 ? 'sha256' : 'sha1';
    if (!safeEqual(given, digest(algorithm, toSign + apiSecret))) {
      throw new CloudinaryError(401, `Invalid Signature ${params.signature}. String to sign - '${toSign}'.`);
    }
    const ts = Number(params.timestamp);
    const now = Math.floor(Date.now() / 1000);
    if (!Number.isInteger(ts) || ts < now - ONE_HOUR) {
      throw new CloudinaryError(400, `Stale request - reported time is ${params.timestamp} which is more than 1 hour ago`);
    }
  };

  const notifyUpload = (notificationUrl, result) => {
    const now = Math.floor(Date.now() / 1000);
    const body = JSON.stringify({
      notification_type: 'upload',
      timestamp: new Date(now * 1000).toISOString(),
      request_id: hex(16),
      ...result,
      notification_context: { triggered_at: new Date(now * 1000).toISOString(), triggered_by: { source: 'api', id: apiKey } },
      signature_key: apiKey,
    });
    const headers = {
      'content-type': 'application/json',
      'x-cld-timestamp': String(now),
      'x-cld-signature': digest(notificationAlgorithm, body + now + apiSecret),
      'user-agent': 'Cloudinary (local stand-in)',
    };
    const delivery = { url: notificationUrl, body, headers, status: null, response: '' };
    deliveries.push(delivery);
    const p = fetch(notificationUrl, { method: 'POST', headers, body })
      .then(async (res) => {
        delivery.status = res.status;
        delivery.response = await res.text();
      })
      .catch((e) => {
        delivery.error = String(e?.message ?? e);
      })
      .finally(() => {
        pending.delete(p);
        for (const w of [...waiters]) w.check();
      });
    pending.add(p);
  };

  const upload = async (resourceTypeIn, params, file) => {
    checkSignature(params);
    if (!file) throw new CloudinaryError(400, 'Missing required parameter - file');
    if (file.data.length > maxUploadBytes) throw new CloudinaryError(400, `File size too large. Got ${file.data.length}. Maximum is ${maxUploadBytes}.`);
    const image = sniffImage(file.data);
    let resourceType = resourceTypeIn;
    if (resourceType === 'auto') resourceType = image && image.format !== 'pdf' ? 'image' : 'raw';
    let format;
    if (resourceType === 'image') {
      if (!image) throw new CloudinaryError(400, 'Invalid image file');
      format = image.format;
    } else {
      format = extensionOf(file.filename);
    }
    const allowed = params.allowed_formats
      ? String(params.allowed_formats).split(',').map((f) => f.trim().toLowerCase()).filter(Boolean)
      : null;
    if (allowed && (!format || !allowed.includes(format === 'jpeg' ? 'jpg' : format))) {
      throw new CloudinaryError(400, `${resourceType === 'image' ? 'Image' : 'File'} format ${format ?? '(none)'} not allowed`);
    }
    const folder = String(params.folder ?? params.asset_folder ?? '').replace(/^\/+|\/+$/g, '');
    let leaf = params.public_id ? String(params.public_id) : randomBytes(15).toString('base64').replace(/[^a-z0-9]/gi, '').toLowerCase().slice(0, 20);
    if (resourceType !== 'image' && !params.public_id && format) leaf = `${leaf}.${format}`;
    const publicId = folderMode === 'fixed' && folder ? `${folder}/${leaf}` : leaf;
    const version = Math.floor(Date.now() / 1000);
    const path = `${resourceType}/upload/v${version}/${publicId}${resourceType === 'image' ? `.${format}` : ''}`;
    const result = {
      asset_id: hex(16),
      public_id: publicId,
      version,
      version_id: hex(16),
      signature: digest('sha1', `public_id=${publicId}&version=${version}${apiSecret}`),
      ...(resourceType === 'image' ? { width: image?.width ?? 1, height: image?.height ?? 1, format } : {}),
      ...(resourceType === 'video' && format ? { format } : {}),
      resource_type: resourceType,
      created_at: new Date(version * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      tags: params.tags ? String(params.tags).split(',') : [],
      ...(resourceType === 'image' ? { pages: 1 } : {}),
      bytes: file.data.length,
      type: 'upload',
      etag: createHash('md5').update(file.data).digest('hex'),
      placeholder: false,
      url: `http://res.cloudinary.com/${cloudName}/${path}`,
      secure_url: `https://res.cloudinary.com/${cloudName}/${path}`,
      ...(folderMode === 'dynamic' ? { asset_folder: folder, display_name: stripExtension(leaf) } : {}),
      original_filename: stripExtension(file.filename),
      api_key: apiKey,
    };
    resources.set(`${resourceType}/${publicId}`, result);
    uploads.push(result);
    return result;
  };

  const server = http.createServer(async (req, res) => {
    const send = (status, body) => {
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'x-request-id': hex(8) });
      res.end(JSON.stringify(body));
    };
    try {
      const url = new URL(req.url ?? '/', 'http://standin.local');
      const m = /^\/v1_1\/([^/]+)\/(.+)$/.exec(url.pathname);
      if (!m) throw new CloudinaryError(404, 'Not found');
      if (decodeURIComponent(m[1]) !== cloudName) throw new CloudinaryError(401, `Invalid cloud_name ${decodeURIComponent(m[1])}`);
      const rest = m[2].split('/').map(decodeURIComponent);
      const { params, file } = await readParams(req, url);

      if (req.method === 'POST' && rest.length === 2 && RESOURCE_TYPES.has(rest[0]) && rest[1] === 'upload') {
        const result = await upload(rest[0], params, file);
        send(200, result);
        if (notify && params.notification_url) notifyUpload(String(params.notification_url), result);
        return;
      }
      if (req.method === 'POST' && rest.length === 2 && RESOURCE_TYPES.has(rest[0]) && rest[1] === 'destroy') {
        checkSignature(params);
        const key = `${rest[0]}/${params.public_id}`;
        const found = resources.delete(key);
        deletions.push({ resource_type: rest[0], public_id: String(params.public_id), via: 'destroy', result: found ? 'ok' : 'not found' });
        return send(200, { result: found ? 'ok' : 'not found' });
      }
      if (req.method === 'DELETE' && rest.length === 3 && rest[0] === 'resources') {
        const auth = /^Basic\s+(.+)$/i.exec(req.headers.authorization ?? '');
        const [user, pass] = auth ? Buffer.from(auth[1], 'base64').toString('utf8').split(':') : [];
        if (user !== apiKey || pass !== apiSecret) throw new CloudinaryError(401, 'Invalid credentials');
        const ids = [].concat(params.public_ids ?? []).map(String);
        if (!ids.length || ids.length > 100) throw new CloudinaryError(400, 'public_ids: between 1 and 100 are required');
        const deleted = {};
        for (const id of ids) {
          const found = resources.delete(`${rest[1]}/${id}`);
          deleted[id] = found ? 'deleted' : 'not_found';
          deletions.push({ resource_type: rest[1], public_id: id, via: 'delete_resources', result: deleted[id] });
        }
        return send(200, { deleted, deleted_counts: {}, partial: false, rate_limit_allowed: 500, rate_limit_remaining: 499 });
      }
      throw new CloudinaryError(404, `Not found: ${req.method} ${url.pathname}`);
    } catch (e) {
      if (e instanceof CloudinaryError) send(e.status, { error: { message: e.message } });
      else send(500, { error: { message: `stand-in error: ${e?.message ?? e}` } });
    }
  });

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const address = server.address();
  const url = `http://${host}:${typeof address === 'object' && address ? address.port : port}`;

  return {
    /** API base (the SDK's upload_prefix / CLOUDINARY_UPLOAD_PREFIX), e.g. http://127.0.0.1:54329. */
    url,
    cloudName,
    apiKey,
    apiSecret,
    folderMode,
    /** Variables for the functions (supabase/functions/.env.example). */
    env: {
      CLOUDINARY_CLOUD_NAME: cloudName,
      CLOUDINARY_API_KEY: apiKey,
      CLOUDINARY_API_SECRET: apiSecret,
      CLOUDINARY_UPLOAD_PREFIX: url,
    },
    /** The SDK's own configuration variable for this stand-in (Node scripts, e.g. scripts/media-cleanup.mjs). */
    cloudinaryUrl: `cloudinary://${apiKey}:${apiSecret}@${cloudName}?upload_prefix=${encodeURIComponent(url)}`,
    /** Assets held, by `<resource_type>/<public_id>`. */
    resources,
    uploads,
    deliveries,
    deletions,
    /**
     * Resolves with the first delivery matching `predicate` once it got an answer (or failed); rejects after `timeoutMs`.
     * @param {(d: { url: string, body: string, headers: Record<string, string>, status: number | null, response: string, error?: string }) => boolean} predicate
     * @param {number} [timeoutMs]
     * @returns {Promise<{ url: string, body: string, headers: Record<string, string>, status: number | null, response: string, error?: string }>}
     */
    waitForDelivery(predicate, timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const waiter = {
          check: () => {
            const d = deliveries.find((x) => (x.status !== null || x.error) && predicate(x));
            if (!d) return;
            clearTimeout(timer);
            waiters.splice(waiters.indexOf(waiter), 1);
            resolve(d);
          },
        };
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(waiter), 1);
          reject(new Error(`no matching notification delivery within ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.push(waiter);
        waiter.check();
      });
    },
    async stop() {
      await Promise.allSettled([...pending]);
      await new Promise((resolve) => {
        server.close(() => resolve(undefined));
        server.closeAllConnections();
      });
    },
  };
}
