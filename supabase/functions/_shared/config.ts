/**
 * Settings from public.admin_config, read by every function through this one
 * cached accessor.
 *
 * The whole table (a few dozen rows) is read as the service role at most once
 * per `ttlMs` per isolate (default 30 s) and shared by concurrent requests, so a
 * setting changed in Studio reaches every function within that time without a
 * query per request. The database validates each value against its declared
 * type on write (supabase/migrations/*_admin_config.sql), and each getter
 * checks it again with Zod: a missing or ill-typed setting is a configuration
 * error (503 `unavailable`, naming the key), never a crash mid-request.
 */
import type { Tables } from '@chat-with-me/shared';
import { z } from 'zod';
import { database } from './db.ts';
import { HttpError } from './errors.ts';

/** Default time a read of admin_config is reused, in milliseconds. */
export const SETTINGS_TTL_MS = 30_000;

interface CacheEntry {
  at: number;
  rows: Promise<Map<string, unknown>>;
}

const caches = new Map<string, CacheEntry>();

async function load(dbUrl: string): Promise<Map<string, unknown>> {
  const rows = await database(dbUrl).asService(
    (tx) => tx<Pick<Tables<'admin_config'>, 'key' | 'value'>[]>`select key, value from public.admin_config`,
    { readOnly: true },
  );
  return new Map(rows.map((r) => [r.key, r.value]));
}

/** Typed, cached view of admin_config. */
export interface Settings {
  /** The setting `key` parsed with `schema`; 503 when missing or invalid. */
  get<S extends z.ZodType>(key: string, schema: S): z.output<S>;
  /** The setting `key` parsed with `schema`, or `fallback` when the key does not exist. */
  getOr<S extends z.ZodType>(key: string, schema: S, fallback: z.output<S>): z.output<S>;
}

/**
 * The settings as of at most `ttlMs` ago. Concurrent callers share one read;
 * a failed read is not cached.
 */
export async function settings(dbUrl: string, { ttlMs = SETTINGS_TTL_MS } = {}): Promise<Settings> {
  const now = Date.now();
  let entry = caches.get(dbUrl);
  if (!entry || now - entry.at > ttlMs) {
    entry = { at: now, rows: load(dbUrl) };
    caches.set(dbUrl, entry);
    entry.rows.catch(() => caches.delete(dbUrl));
  }
  const rows = await entry.rows;
  const parse = <S extends z.ZodType>(key: string, schema: S): z.output<S> => {
    const parsed = schema.safeParse(rows.get(key));
    if (!parsed.success) {
      throw new HttpError('unavailable', `setting ${key} is missing or invalid in admin_config`, { setting: key });
    }
    return parsed.data;
  };
  return {
    get: parse,
    getOr: (key, schema, fallback) => (rows.has(key) ? parse(key, schema) : fallback),
  };
}

