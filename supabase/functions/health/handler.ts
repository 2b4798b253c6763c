/**
 * health: GET → is the database reachable and migrated, are the providers
 * configured. Anyone may call it (verify_jwt = false); it reveals no secret.
 * 200 `ok` (everything set), 200 `degraded` (database fine, a provider
 * missing: the functions needing it answer 503), 503 `unavailable` (database
 * unreachable within 3 s). Body: @chat-with-me/shared `HealthResponse`.
 */
import { HealthResponse } from '@chat-with-me/shared';
import { z } from 'zod';
import { database } from '../_shared/db.ts';
import { defineFunction, json } from '../_shared/http.ts';
import { providerStatuses } from '../_shared/providers.ts';

const DB_TIMEOUT_MS = 3_000;

type DatabaseStatus = HealthResponse['database'];

async function checkDatabase(url: string): Promise<DatabaseStatus & { error?: string }> {
  const query = database(url).readMeta(async (tx) => {
    const [row] = await tx<{ has_table: boolean }[]>`
      select to_regclass('supabase_migrations.schema_migrations') is not null as has_table`;
    if (!row?.has_table) return { reachable: true, migrations_applied: 0, latest_migration: null };
    const [m] = await tx<{ count: number; latest: string | null }[]>`
      select count(*)::int as count, max(version) as latest from supabase_migrations.schema_migrations`;
    return { reachable: true, migrations_applied: m?.count ?? 0, latest_migration: m?.latest ?? null };
  });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${DB_TIMEOUT_MS} ms`)), DB_TIMEOUT_MS);
  });
  try {
    return await Promise.race([query, timeout]);
  } catch (e) {
    query.catch(() => {});
    const err = e as { code?: string; message?: string };
    return { reachable: false, migrations_applied: null, latest_migration: null, error: err.code ?? err.message ?? 'error' };
  } finally {
    clearTimeout(timer);
  }
}

export const handler = defineFunction(
  { name: 'health', methods: ['GET'], env: z.object({ SUPABASE_DB_URL: z.string().min(1) }) },
  async (_req, { env, log }) => {
    const { error, ...db } = await checkDatabase(env.SUPABASE_DB_URL);
    if (error) log.warn('database unreachable', { reason: error });
    const providers = providerStatuses();
    const status = !db.reachable ? 'unavailable' : Object.values(providers).includes('missing') ? 'degraded' : 'ok';
    return json(HealthResponse, { status, time: new Date().toISOString(), database: db, providers }, db.reachable ? 200 : 503);
  },
);
