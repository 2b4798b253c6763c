#!/usr/bin/env node
/**
 * `npm run media:cleanup`: deletes from Cloudinary the assets queued in
 * private.media_deletions (media rows deleted, e.g. with their owner, and
 * uploads cloudinary-webhook refused), through the Admin API's
 * delete_resources (https://cloudinary.com/documentation/admin_api#delete_resources)
 * with the `cloudinary` SDK, in batches of up to 100 public ids per resource type.
 *
 * Run it on a schedule (e.g. a CI cron every few minutes) against the project:
 *   SUPABASE_DB_URL=postgres://…  CLOUDINARY_CLOUD_NAME=…  CLOUDINARY_API_KEY=…  CLOUDINARY_API_SECRET=…  npm run media:cleanup
 * (CLOUDINARY_URL=cloudinary://<key>:<secret>@<cloud> works too; locally,
 * CLOUDINARY_UPLOAD_PREFIX points at the stand-in). Without Cloudinary
 * credentials it reports the queue and exits 0: nothing is configured to delete.
 *
 * Each run claims pending rows (private.claim_media_deletions, as service_role;
 * `for update skip locked`, so two runs never take the same rows; a failed row
 * is retried after 10 minutes), asks Cloudinary to delete them, and reports
 * each result (private.finish_media_deletion): `deleted` and `not_found` are
 * done; anything else keeps the row pending with the error. Exit code 1 when
 * some deletions failed. Secrets are never printed.
 *
 * The SDK chooses node:http or node:https when its modules load, from
 * CLOUDINARY_URL's `upload_prefix`, so the configuration is put into
 * CLOUDINARY_URL before the SDK is imported.
 */
import postgres from 'postgres';

const BATCH = 100;

/**
 * The SDK's CLOUDINARY_URL for these settings (cloudinary://key:secret@cloud?upload_prefix=…).
 * @param {{ cloudName: string, apiKey: string, apiSecret: string, uploadPrefix?: string }} c
 */
export function cloudinaryUrlOf(c) {
  const base = `cloudinary://${encodeURIComponent(c.apiKey)}:${encodeURIComponent(c.apiSecret)}@${c.cloudName}`;
  return c.uploadPrefix ? `${base}?upload_prefix=${encodeURIComponent(c.uploadPrefix)}` : base;
}

/**
 * Works off the queue once (up to `limit` rows).
 * @param {{ dbUrl: string, cloudinaryUrl: string, limit?: number, log?: (line: string) => void }} opts
 * @returns {Promise<{ claimed: number, deleted: number, notFound: number, failed: number }>}
 */
export async function runMediaCleanup({ dbUrl, cloudinaryUrl, limit = 500, log = () => {} }) {
  process.env.CLOUDINARY_URL = cloudinaryUrl;
  const { v2: cloudinary } = await import('cloudinary');
  cloudinary.config(true); // re-read CLOUDINARY_URL
  const sql = postgres(dbUrl, { max: 1, onnotice: () => {}, connection: { application_name: 'media-cleanup' } });
  const asService = (fn) =>
    sql.begin(async (tx) => {
      await tx`select set_config('role', 'service_role', true), set_config('search_path', '', true)`;
      return fn(tx);
    });
  const totals = { claimed: 0, deleted: 0, notFound: 0, failed: 0 };
  try {
    const rows = await asService((tx) => tx`select resource_type, public_id from private.claim_media_deletions(${limit})`);
    totals.claimed = rows.length;
    const byType = new Map();
    for (const r of rows) byType.set(r.resource_type, [...(byType.get(r.resource_type) ?? []), r.public_id]);
    for (const [resourceType, ids] of byType) {
      for (let i = 0; i < ids.length; i += BATCH) {
        const batch = ids.slice(i, i + BATCH);
        let results = {};
        let error = null;
        try {
          const answer = await cloudinary.api.delete_resources(batch, { resource_type: resourceType, type: 'upload', invalidate: true });
          results = answer?.deleted ?? {};
        } catch (e) {
          error = String(e?.error?.message ?? e?.message ?? 'delete_resources failed');
        }
        await asService(async (tx) => {
          for (const id of batch) {
            const outcome = results[id];
            const failure = error ?? (outcome === 'deleted' || outcome === 'not_found' ? null : `unexpected answer: ${outcome ?? 'none'}`);
            if (!failure && outcome === 'deleted') totals.deleted++;
            else if (!failure) totals.notFound++;
            else totals.failed++;
            await tx`select private.finish_media_deletion(${resourceType}, ${id}, ${failure})`;
          }
        });
        log(`${resourceType}: ${batch.length} asked, ${error ? `failed (${error})` : 'answered'}`);
      }
    }
  } finally {
    await sql.end();
  }
  return totals;
}

async function main() {
  const dbUrl = process.env.SUPABASE_DB_URL ?? process.env.DB_URL;
  if (!dbUrl) {
    console.error('set SUPABASE_DB_URL (or DB_URL) to the database connection string');
    process.exit(2);
  }
  const { CLOUDINARY_URL, CLOUDINARY_CLOUD_NAME, CLOUDINARY_API_KEY, CLOUDINARY_API_SECRET, CLOUDINARY_UPLOAD_PREFIX } = process.env;
  const cloudinaryUrl =
    CLOUDINARY_URL ||
    (CLOUDINARY_CLOUD_NAME && CLOUDINARY_API_KEY && CLOUDINARY_API_SECRET
      ? cloudinaryUrlOf({ cloudName: CLOUDINARY_CLOUD_NAME, apiKey: CLOUDINARY_API_KEY, apiSecret: CLOUDINARY_API_SECRET, uploadPrefix: CLOUDINARY_UPLOAD_PREFIX })
      : null);
  if (!cloudinaryUrl) {
    const sql = postgres(dbUrl, { max: 1, onnotice: () => {} });
    const [r] = await sql`select count(*)::int as n from private.media_deletions where deleted_at is null`;
    await sql.end();
    console.log(`Cloudinary is not configured: ${r.n} asset(s) stay queued in private.media_deletions.`);
    return;
  }
  const totals = await runMediaCleanup({ dbUrl, cloudinaryUrl, log: (l) => console.log(l) });
  console.log(`claimed ${totals.claimed}: ${totals.deleted} deleted, ${totals.notFound} already gone, ${totals.failed} failed`);
  if (totals.failed) process.exitCode = 1;
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
