/**
 * 09 — Supabase's database advisors (splinter), run by the real CLI against the
 * test database: `supabase db advisors --remote=<url> --level info`
 * (docs/platform.md "Advisors"). Nothing at WARN or ERROR; every INFO finding must be on the
 * allow-list below, with its reason.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { closeDb, owner } from '../helpers/db.js';

afterAll(closeDb);

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const run = promisify(execFile);

interface Finding {
  name: string;
  level: 'INFO' | 'WARN' | 'ERROR';
  detail: string;
  metadata?: { schema?: string; name?: string; type?: string };
}

/** Runs the CLI's advisors (security and performance) at level info; returns its findings. */
async function advisors(): Promise<Finding[]> {
  const { stdout } = await run(
    path.join(ROOT, 'node_modules/.bin/supabase'),
    ['db', 'advisors', `--remote=${inject('dbUrl')}`, '--level', 'info', '--output-format', 'json'],
    {
      cwd: ROOT,
      env: { ...process.env, SUPABASE_TELEMETRY_DISABLED: '1', DO_NOT_TRACK: '1' },
      maxBuffer: 16 * 1024 * 1024,
    },
  );
  const parsed = JSON.parse(stdout.slice(stdout.indexOf('{'))) as { results?: Finding[] };
  expect(Array.isArray(parsed.results), 'the CLI answered with results[]').toBe(true);
  return parsed.results!;
}

/** True when neither anon nor authenticated holds any privilege on the table, or on any of its columns. */
async function closedToClients(schema: string, table: string): Promise<boolean> {
  const [r] = await owner()`
    select bool_or(has_table_privilege(role, c.oid, 'select, insert, update, delete, truncate, references, trigger')
                   or has_any_column_privilege(role, c.oid, 'select, insert, update, references')) as open
    from pg_class c join pg_namespace n on n.oid = c.relnamespace,
         unnest(array['anon', 'authenticated']) role
    where n.nspname = ${schema} and c.relname = ${table}`;
  return r?.open === false;
}

/**
 * INFO findings we expect, and why; each entry decides whether one finding is
 * acceptable. Anything else fails the test.
 *
 * - `unused_index` (0005): splinter lists every index whose pg_stat_user_indexes
 *   idx_scan is 0. The test database is created seconds before this runs and its
 *   tables hold a few rows, so the planner prefers sequential scans and most
 *   indexes have never been scanned yet. Each of our indexes exists for a policy
 *   column, a foreign key (0001 unindexed_foreign_keys would flag its absence) or
 *   a documented query (history cursor, inbox, trigram search); on a fresh
 *   database "unused" says nothing about them.
 * - `rls_enabled_no_policy` (0008): deliberate for a table only the service
 *   role (which bypasses RLS) uses, e.g. the webhook event log. RLS on and no
 *   policy is the lock-down-then-grant stance. Accepted only when the table
 *   really is closed to the client roles: anon and authenticated hold no table or
 *   column privilege on it (checked here), so it is not a forgotten policy.
 */
const ALLOWED_INFO: Record<string, (f: Finding) => Promise<boolean>> = {
  unused_index: async () => true,
  rls_enabled_no_policy: async (f) =>
    !!f.metadata?.schema && !!f.metadata.name && (await closedToClients(f.metadata.schema, f.metadata.name)),
};

describe('supabase db advisors', () => {
  it('finds nothing at WARN or ERROR, and only allow-listed INFO', async () => {
    const findings = await advisors();
    const serious = findings.filter((f) => f.level !== 'INFO');
    expect(serious.map((f) => `${f.level} ${f.name}: ${f.detail}`)).toEqual([]);
    const unexpected: string[] = [];
    for (const f of findings) {
      const allowed = ALLOWED_INFO[f.name];
      if (!allowed || !(await allowed(f))) unexpected.push(`${f.level} ${f.name}: ${f.detail}`);
    }
    expect(unexpected).toEqual([]);
  });

  it('the allow-list check for tables without policies is not blind (control)', async () => {
    expect(await closedToClients('public', 'users')).toBe(false); // granted to authenticated
    expect(await closedToClients('public', 'no_such_table')).toBe(false);
  });

  it('is not blind: a function without a pinned search_path is reported (control)', async () => {
    // A throw-away schema outside public/private, so no other test file sees it.
    const schema = `advisor_probe_${Math.random().toString(36).slice(2, 10)}`;
    await owner().unsafe(`create schema ${schema}; create function ${schema}.probe() returns int language sql as 'select 1'`);
    try {
      const findings = await advisors();
      const hit = findings.filter((f) => f.name === 'function_search_path_mutable' && f.detail.includes(`${schema}.probe`));
      expect(hit).toHaveLength(1);
      expect(hit[0]!.level).toBe('WARN');
    } finally {
      await owner().unsafe(`drop schema ${schema} cascade`);
    }
  });
});
