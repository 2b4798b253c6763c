/**
 * `health` (GET, no auth): is the database reachable and migrated, and which
 * providers are configured. Never reveals a secret, only whether it is set.
 * 200 when the database answers (status `ok`, or `degraded` when a provider
 * is missing), 503 with the same body (status `unavailable`) when it does not.
 */
import { z } from 'zod';
import { Timestamp } from '../common.ts';

/**
 * How a provider is set up: `configured` (its secrets are set), `missing`
 * (calls that need it answer 503), `local` (a local stand-in of the Docker-free
 * stack, e.g. a generated Clerk key pair).
 */
export const ProviderStatus = z.enum(['configured', 'missing', 'local']);
export type ProviderStatus = z.infer<typeof ProviderStatus>;

export const HealthResponse = z.object({
  status: z.enum(['ok', 'degraded', 'unavailable']),
  /** Server time of the check. */
  time: Timestamp,
  database: z.object({
    reachable: z.boolean(),
    /** Rows in supabase_migrations.schema_migrations (migrations applied by the Supabase CLI); null if unknown. */
    migrations_applied: z.number().int().nonnegative().nullable(),
    /** Version (YYYYMMDDHHmmss) of the newest applied migration; null if unknown. */
    latest_migration: z.string().nullable(),
  }),
  providers: z.object({
    clerk: ProviderStatus,
    openai: ProviderStatus,
    deepseek: ProviderStatus,
    stripe: ProviderStatus,
    cloudinary: ProviderStatus,
  }),
});
export type HealthResponse = z.infer<typeof HealthResponse>;
