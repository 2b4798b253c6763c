/**
 * The client path for the benchmarks: the stack's own parts started against
 * the bench database, and supabase-js clients signed in with Clerk session
 * tokens, as an app reaches a hosted project.
 *
 * - the Data API: the real PostgREST 12 (stack/runtime/postgrest.mjs)
 *   configured from supabase/config.toml's [api], plus the schemas the bench
 *   asks for (e.g. `bench`, for the floor RPC and the bare table: exposed by
 *   this PostgREST only, never by the project's);
 * - optionally the Realtime stand-in (stack/runtime/realtime.mjs);
 * - the API gateway (stack/runtime/gateway.mjs) in front of both, with the
 *   API keys of a fresh state folder (stack/runtime/state.mjs);
 * - a Clerk instance of its own (stack/standins/clerk.mjs): RS256 session
 *   tokens (`mintSessionToken`) that PostgREST and Realtime verify through
 *   the JWKS the stack gives them (stack/runtime/stack.mjs `dataApiJwks`).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createClient } from '@supabase/supabase-js';
import ws from 'ws';
import { readConfig } from '../../stack/runtime/config.mjs';
import { withUser } from '../../stack/runtime/data-api.mjs';
import { freePort } from '../../stack/runtime/db.mjs';
import { startGateway } from '../../stack/runtime/gateway.mjs';
import { startPostgrest } from '../../stack/runtime/postgrest.mjs';
import { startRealtime } from '../../stack/runtime/realtime.mjs';
import { dataApiJwks } from '../../stack/runtime/stack.mjs';
import { loadKeys } from '../../stack/runtime/state.mjs';
import { createClerkInstance, mintSessionToken } from '../../stack/standins/clerk.mjs';

/**
 * Starts the client path. Stop it with `stop()`.
 * @param {{
 *   url: string,
 *   superuserUrl: string,
 *   postgrest?: boolean,
 *   extraSchemas?: string[],
 *   realtime?: boolean,
 *   realtimeLimits?: Partial<typeof import('../../stack/runtime/realtime.mjs').DEFAULT_LIMITS>,
 * }} opts `url`: the database as `postgres`; `postgrest: false` serves no Data API (Realtime alone)
 */
export async function startClientPath({ url, superuserUrl, postgrest: withPostgrest = true, extraSchemas = [], realtime: withRealtime = false, realtimeLimits = {} }) {
  const stateDir = await mkdtemp(path.join(tmpdir(), 'chat-with-me-bench-api-'));
  const cleanups = [() => rm(stateDir, { recursive: true, force: true })];
  const stop = async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
  };
  try {
    const keys = await loadKeys(stateDir);
    const clerk = await createClerkInstance();
    const jwks = await dataApiJwks(keys, clerk.publicKeyPem, null);
    let postgrestUrl = 'http://127.0.0.1:9';
    if (withPostgrest) {
      const api = readConfig().api ?? {};
      const pgrst = await startPostgrest({
        dbUri: withUser(url, 'authenticator'),
        port: await freePort(),
        adminPort: await freePort(),
        jwks,
        schemas: [...(api.schemas ?? ['public']), ...extraSchemas],
        extraSearchPath: api.extra_search_path ?? ['public', 'extensions'],
        maxRows: api.max_rows ?? 1000,
        logFile: path.join(stateDir, 'postgrest.log'),
      });
      cleanups.push(() => pgrst.stop());
      postgrestUrl = pgrst.url;
    }
    const realtime = withRealtime ? await startRealtime({ dbUrl: superuserUrl, keys, jwks, limits: realtimeLimits }) : null;
    let gateway;
    try {
      gateway = await startGateway({ port: await freePort(), postgrestUrl, functionsUrl: null, keys, realtime });
    } catch (e) {
      await realtime?.stop();
      throw e;
    }
    // Realtime's sockets first: the gateway's server closes only once upgraded sockets are gone.
    cleanups.push(async () => {
      await realtime?.stop();
      await gateway.stop();
    });
    /** @type {import('@supabase/supabase-js').SupabaseClient[]} */
    const clients = [];
    cleanups.push(() => Promise.all(clients.map((c) => c.removeAllChannels().catch(() => {}))));
    return {
      url: gateway.url,
      keys,
      /**
       * A supabase-js client signed in as Clerk user `sub` (one session token, valid for an hour).
       * @param {string} sub
       */
      async client(sub) {
        const token = await mintSessionToken(clerk, sub);
        const client = createClient(gateway.url, keys.publishableKey, {
          accessToken: async () => token,
          auth: { persistSession: false, autoRefreshToken: false },
          realtime: { transport: /** @type {any} */ (ws) },
        });
        clients.push(client);
        return client;
      },
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** Throws the PostgREST error of a supabase-js answer; returns its data. */
export function dataOf({ data, error }) {
  if (error) throw new Error(`${error.code ?? ''} ${error.message}`.trim());
  return data;
}
