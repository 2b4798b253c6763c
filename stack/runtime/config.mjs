/**
 * supabase/config.toml as the local stack reads it (with smol-toml): the
 * [api] settings PostgREST gets, the Clerk domain of [auth.third_party.clerk],
 * and the [functions.<name>] sections.
 * Reference: https://supabase.com/docs/guides/local-development/cli/config
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'smol-toml';
import { ROOT } from './db.mjs';

/** Path of the project's config.toml. */
export const CONFIG_FILE = path.join(ROOT, 'supabase/config.toml');

/**
 * The parsed config (an empty object when the file is missing).
 * @param {string} [file]
 * @returns {Record<string, any>}
 */
export function readConfig(file = CONFIG_FILE) {
  let text;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return {};
  }
  return parse(text);
}

/**
 * The [functions.<slug>] sections: enabled, verify_jwt, import_map,
 * entrypoint (the keys the CLI reads; paths relative to supabase/).
 * @param {Record<string, any>} [config]
 * @returns {Record<string, Record<string, string | boolean>>}
 */
export function functionsConfig(config = readConfig()) {
  const functions = config.functions ?? {};
  return Object.fromEntries(Object.entries(functions).filter(([, v]) => v && typeof v === 'object'));
}

/** The Clerk instance domain of [auth.third_party.clerk] (default: the project's development instance). */
export function clerkDomain(config = readConfig()) {
  return config.auth?.third_party?.clerk?.domain ?? 'chat-with-me.clerk.accounts.dev';
}
