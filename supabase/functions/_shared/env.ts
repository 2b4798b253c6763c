/**
 * Environment of the functions, validated with Zod when a function starts.
 *
 * Decision: a function whose configuration is incomplete still starts. Its
 * start-up log names every missing or invalid variable (names only, never
 * values), and every request is answered 503 `unavailable` with those names in
 * `details.missing`/`details.invalid`, instead of a crash mid-request or a
 * runtime that refuses to boot (which Supabase reports as an opaque 5xx). The
 * health function shows which providers are configured.
 *
 * Platform variables are set by Supabase itself, hosted and in `supabase
 * functions serve` (https://supabase.com/docs/guides/functions/secrets):
 * SUPABASE_URL, SUPABASE_DB_URL, SUPABASE_PUBLISHABLE_KEYS and
 * SUPABASE_SECRET_KEYS (JSON `{"default": "…"}`), the legacy SUPABASE_ANON_KEY
 * and SUPABASE_SERVICE_ROLE_KEY. Our secrets are listed, with what each is for,
 * in supabase/functions/.env.example (`supabase secrets set --env-file …`).
 */
import { z } from 'zod';
import { createLogger } from './log.ts';

/** Unset and empty variables are both "missing". */
function readVar(name: string): string | undefined {
  const v = Deno.env.get(name);
  return v === undefined || v.trim() === '' ? undefined : v;
}

/** Platform variables every function may rely on. */
export const platformEnv = {
  /** API URL of the project (https://<ref>.supabase.co; locally http://127.0.0.1:54321). */
  SUPABASE_URL: z.url(),
  /** Direct Postgres connection string (role postgres); functions switch role per request. */
  SUPABASE_DB_URL: z.string().regex(/^postgres(ql)?:\/\//, 'expected a postgres:// connection string'),
};

/** The validated variables of an env shape such as `platformEnv` (`z.infer` of its object schema). */
export type EnvOf<Shape extends z.ZodRawShape> = z.infer<z.ZodObject<Shape>>;

/** A comma-separated list (e.g. CLERK_AUTHORIZED_PARTIES) as a string array. */
export const commaList = z
  .string()
  .transform((s) => s.split(',').map((p) => p.trim()).filter(Boolean))
  .pipe(z.array(z.string()).min(1, 'expected at least one value'));

export type EnvProblem = { name: string; problem: 'missing' | 'invalid'; message: string };
export type EnvResult<T> = { ok: true; env: T } | { ok: false; problems: EnvProblem[] };

/**
 * Reads the variables named by `schema`'s keys from the environment and
 * validates them. Logs the problems (names and reasons, never values).
 */
export function loadEnv<S extends z.ZodObject>(fn: string, schema: S): EnvResult<z.infer<S>> {
  const raw: Record<string, string | undefined> = {};
  for (const name of Object.keys(schema.shape)) raw[name] = readVar(name);
  const parsed = schema.safeParse(raw);
  if (parsed.success) return { ok: true, env: parsed.data };
  const problems: EnvProblem[] = parsed.error.issues.map((issue) => {
    const name = String(issue.path[0] ?? '');
    const missing = name !== '' && raw[name] === undefined;
    return { name, problem: missing ? 'missing' : 'invalid', message: missing ? 'not set' : issue.message };
  });
  createLogger({ fn }).error('configuration error: the function answers 503 until these variables are set', {
    missing: problems.filter((p) => p.problem === 'missing').map((p) => p.name),
    invalid: problems.filter((p) => p.problem === 'invalid').map((p) => `${p.name}: ${p.message}`),
  });
  return { ok: false, problems };
}

/** Whether each named variable is set (for health: presence only, never the value). */
export function isSet(...names: string[]): boolean {
  return names.every((n) => readVar(n) !== undefined);
}

/** The raw value of a variable that is not a secret (e.g. LOCAL_STANDINS), or undefined. */
export function plainVar(name: string): string | undefined {
  return readVar(name);
}
