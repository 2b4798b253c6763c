/**
 * Each database object is defined in one migration, and each fact has one
 * source (supabase/migrations/README.md):
 * - over all migrations, every table, column, policy, function, index,
 *   trigger, type and domain is created once and never dropped, replaced or
 *   altered later (PostgreSQL itself refuses a column added twice); a column
 *   added by `alter table … add column` in the file of the feature that needs
 *   it is that column's one definition;
 * - every column that holds a Clerk user id has the domain
 *   public.clerk_user_id, the only place its format is written;
 * - Realtime topic names come from private.chat_topic / private.user_topic.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { asService, closeDb, owner, pgError } from '../helpers/db.js';

afterAll(closeDb);

const dir = path.resolve(import.meta.dirname, '../../supabase/migrations');
const files = readdirSync(dir).filter((f) => f.endsWith('.sql')).sort();
/** Migration text without comments (a comment may name an object). */
const all = files.map((f) => ({
  file: f,
  text: readFileSync(path.join(dir, f), 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/--[^\n]*/g, ''),
}));

/** Names matched by `re` (group 1) that more than one statement defines, with their files. */
function definedTwice(re: RegExp): Record<string, string[]> {
  const seen = new Map<string, string[]>();
  for (const { file, text } of all) {
    for (const m of text.matchAll(re)) {
      const key = m[1]!.toLowerCase().replace(/\s+/g, ' ');
      seen.set(key, [...(seen.get(key) ?? []), file]);
    }
  }
  return Object.fromEntries([...seen].filter(([, where]) => where.length > 1));
}

describe('the migrations define each object once', () => {
  it('policies', () => {
    expect(definedTwice(/create\s+policy\s+("[^"]+"\s+on\s+[a-z_.]+)/gi)).toEqual({});
  });

  it('functions', () => {
    expect(definedTwice(/create\s+(?:or\s+replace\s+)?function\s+([a-z_]+\.[a-z_]+)\s*\(/gi)).toEqual({});
  });

  it('indexes, triggers, tables, types and domains', () => {
    expect(definedTwice(/create\s+(?:unique\s+)?index\s+([a-z_]+)/gi)).toEqual({});
    expect(definedTwice(/create\s+trigger\s+([a-z_]+\s+[\s\S]*?\s+on\s+[a-z_.]+)/gi)).toEqual({});
    expect(definedTwice(/create\s+(?:table|type|domain)\s+([a-z_]+\.[a-z_]+)/gi)).toEqual({});
  });

  it('no migration drops, replaces or alters what another defined', () => {
    const offending = all.flatMap(({ file, text }) =>
      [...text.matchAll(/\b(drop\s+(?:policy|function|trigger|index|table|type|domain|column|constraint)|alter\s+policy|alter\s+function|alter\s+column|rename\s+(?:column|to))\b[^;]*/gi)]
        .map((m) => `${file}: ${m[0].slice(0, 80)}`));
    expect(offending).toEqual([]);
  });
});

describe('one source per fact', () => {
  it('every user-id column is a public.clerk_user_id', async () => {
    // Columns that reference users.id, and columns named like a user id, in our schemas.
    const rows = await owner()`
      select c.table_schema || '.' || c.table_name || '.' || c.column_name as col, c.domain_schema || '.' || c.domain_name as domain
      from information_schema.columns c
      join information_schema.tables t on t.table_schema = c.table_schema and t.table_name = c.table_name and t.table_type = 'BASE TABLE'
      where c.table_schema in ('public', 'private')
        and (c.column_name in ('user_id', 'owner_id', 'sender_id', 'requester_id', 'addressee_id', 'created_by', 'target_user_id')
          or (c.table_name = 'users' and c.column_name = 'id'))
      order by 1`;
    expect(rows.length).toBeGreaterThanOrEqual(16);
    expect(rows.filter((r) => r.domain !== 'public.clerk_user_id')).toEqual([]);
  });

  it('the domain refuses what is not a Clerk id', async () => {
    expect(await owner()`select 'user_2abcDEF09'::public.clerk_user_id::text as id`).toEqual([{ id: 'user_2abcDEF09' }]);
    for (const bad of ['', 'user_', 'usr_2abc', 'user_2abc-def', `user_${'a'.repeat(65)}`]) {
      expect((await pgError(owner()`select ${bad}::public.clerk_user_id`)).code).toBe('23514');
    }
  });

  it('webhook RPCs refuse a malformed user id with the same rule (22023)', async () => {
    const err = await pgError(asService((tx) => tx`select private.clerk_delete_user('evt_x', 'user_bad-id', now())`));
    expect(err.code).toBe('22023');
    expect(err.message).toMatch(/invalid Clerk user id/);
  });

  it('topic names are written by one function each', async () => {
    const id = '0b6f0c55-8f1e-4b55-9c1a-4bb1f1b2c3d4';
    expect(await owner()`select private.chat_topic(${id}::uuid) as c, private.user_topic('user_abc') as u`)
      .toEqual([{ c: `chat:${id}`, u: 'user:user_abc' }]);
    const inline = all.flatMap(({ file, text }) =>
      [...text.matchAll(/'(?:chat|user):'\s*\|\|/g)].map(() => file)).filter((f) => !f.endsWith('_foundation.sql'));
    expect(inline).toEqual([]);
  });
});
