/**
 * Cloudinary's documented algorithms, computed independently of the
 * `cloudinary` SDK (and of the stand-in) with node:crypto, and payloads shaped
 * like Cloudinary's documentation, for the media tests.
 *
 * - Upload signature (https://cloudinary.com/documentation/authentication_signatures):
 *   every parameter except file, cloud_name, resource_type and api_key, sorted
 *   by name, `name=value` joined with `&`, the API secret appended, hex SHA-1
 *   (or SHA-256) digest.
 * - Notification signature (https://cloudinary.com/documentation/notification_signatures):
 *   hex SHA-1 (or SHA-256) of the whole body, then the X-Cld-Timestamp value,
 *   then the API secret.
 * - Upload notification (https://cloudinary.com/documentation/notifications):
 *   the upload response (https://cloudinary.com/documentation/image_upload_api_reference#upload_response)
 *   plus notification_type, timestamp and request_id.
 */
import { createHash, randomBytes } from 'node:crypto';
import { encodePng } from '../../stack/standins/cloudinary.mjs';

export type Algorithm = 'sha1' | 'sha256';

/** The documented string to sign (without the secret). */
export function documentedStringToSign(params: Record<string, string | number>): string {
  const excluded = new Set(['file', 'cloud_name', 'resource_type', 'api_key']);
  return Object.keys(params)
    .filter((k) => !excluded.has(k))
    .sort()
    .map((k) => `${k}=${params[k]}`)
    .join('&');
}

/** The documented upload signature. */
export function documentedSignature(params: Record<string, string | number>, apiSecret: string, algorithm: Algorithm = 'sha1'): string {
  return createHash(algorithm).update(documentedStringToSign(params) + apiSecret).digest('hex');
}

/** Headers of a notification of `body`, signed as Cloudinary signs it. */
export function notificationHeaders(
  body: string,
  apiSecret: string,
  { timestamp = Math.floor(Date.now() / 1000), algorithm = 'sha1' as Algorithm } = {},
): Record<string, string> {
  return {
    'content-type': 'application/json',
    'x-cld-timestamp': String(timestamp),
    'x-cld-signature': createHash(algorithm).update(body + timestamp + apiSecret).digest('hex'),
  };
}

const hex = (n: number) => randomBytes(n).toString('hex');

export interface UploadFields {
  cloudName?: string;
  publicId: string;
  resourceType?: 'image' | 'video' | 'raw';
  format?: string | null;
  bytes?: number;
  width?: number | null;
  height?: number | null;
  assetFolder?: string;
  originalFilename?: string;
  assetId?: string;
  version?: number;
  apiKey?: string;
  /** Overrides or extra fields. */
  extra?: Record<string, unknown>;
}

/** An upload notification as Cloudinary documents it (raw files: no format, width or height). */
export function uploadNotification(f: UploadFields): Record<string, unknown> {
  const resourceType = f.resourceType ?? 'image';
  const version = f.version ?? Math.floor(Date.now() / 1000);
  const format = f.format === undefined ? (resourceType === 'raw' ? null : 'png') : f.format;
  const path = `${resourceType}/upload/v${version}/${f.publicId}${format && resourceType !== 'raw' ? `.${format}` : ''}`;
  const cloud = f.cloudName ?? 'demo';
  return {
    notification_type: 'upload',
    timestamp: new Date().toISOString(),
    request_id: hex(16),
    asset_id: f.assetId ?? hex(16),
    public_id: f.publicId,
    version,
    version_id: hex(16),
    ...(f.width === null || resourceType === 'raw' ? {} : { width: f.width ?? 64 }),
    ...(f.height === null || resourceType === 'raw' ? {} : { height: f.height ?? 48 }),
    ...(format ? { format } : {}),
    resource_type: resourceType,
    created_at: new Date(version * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    tags: [],
    bytes: f.bytes ?? 2048,
    type: 'upload',
    etag: hex(16),
    placeholder: false,
    url: `http://res.cloudinary.com/${cloud}/${path}`,
    secure_url: `https://res.cloudinary.com/${cloud}/${path}`,
    ...(f.assetFolder !== undefined ? { asset_folder: f.assetFolder, display_name: f.publicId.split('/').pop() } : {}),
    original_filename: f.originalFilename ?? 'photo',
    api_key: f.apiKey ?? '123456789012345',
    notification_context: { triggered_at: new Date().toISOString(), triggered_by: { source: 'api', id: f.apiKey ?? '123456789012345' } },
    signature_key: f.apiKey ?? '123456789012345',
    ...f.extra,
  };
}

/** A valid PNG of `width`×`height` (grey), for uploads. */
export function png(width = 4, height = 3): Buffer {
  return encodePng(width, height, () => [0x80, 0x80, 0x80]);
}

/** A small GIF header (format detection only). */
export function gif(width = 2, height = 2): Buffer {
  const b = Buffer.from('GIF89a\0\0\0\0\0\0\0;', 'latin1');
  b.writeUInt16LE(width, 6);
  b.writeUInt16LE(height, 8);
  return b;
}

/** Posts a multipart upload of `fields` and `file` to `url` (what a browser's FormData POST does). */
export async function postUpload(url: string, fields: Record<string, string | number>, file: { data: Buffer; name: string; type?: string }) {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.append(k, String(v));
  form.append('file', new Blob([new Uint8Array(file.data)], { type: file.type ?? 'application/octet-stream' }), file.name);
  const res = await fetch(url, { method: 'POST', body: form });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}
