/**
 * 00 — the platform contract our migrations rely on (stack/runtime/platform-bootstrap.sql,
 * docs/platform.md: roles, auth functions, Realtime, PostgREST, advisors), and schema-wide invariants of the
 * migrations themselves: RLS everywhere, pinned search_path, no auth.uid(),
 * realtime.messages touched only by policies, definer functions closed to anon.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import {
  asAnon,
  asService,
  asUser,
  broadcastsOn,
  clerkClaims,
  closeDb,
  createUser,
  owner,
  pgError,
} from '../helpers/db.js';

const MIGRATIONS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../supabase/migrations');

/** A connection as `authenticator` that records server notices (warnings of realtime.send). */
const notices: string[] = [];
let noticeSql: postgres.Sql | undefined;
function withNotices(): postgres.Sql {
  const u = new URL(process.env.TEST_DB_URL ?? inject('dbUrl'));
  u.username = 'authenticator';
  noticeSql ??= postgres(u.toString(), { max: 1, onnotice: (n) => notices.push(String(n.message)) });
  return noticeSql;
}

afterAll(async () => {
  await noticeSql?.end();
  await closeDb();
});

// -----------------------------------------------------------------------------
// SQL text helpers for the migration-file checks
// -----------------------------------------------------------------------------

/**
 * Removes `--` and block comments and the contents of '…' literals; quoted
 * identifiers and dollar-quoted bodies stay (their inner SQL is stripped too).
 */
function stripCommentsAndLiterals(sql: string): string {
  let out = '';
  let i = 0;
  while (i < sql.length) {
    const c = sql[i]!;
    const n = sql[i + 1];
    if (c === '-' && n === '-') {
      const j = sql.indexOf('\n', i);
      i = j < 0 ? sql.length : j;
    } else if (c === '/' && n === '*') {
      const j = sql.indexOf('*/', i + 2);
      i = j < 0 ? sql.length : j + 2;
      out += ' ';
    } else if (c === '"') {
      // A quoted identifier (policy names may hold an apostrophe): copy it through.
      let j = i + 1;
      while (j < sql.length && !(sql[j] === '"' && sql[j + 1] !== '"')) j += sql[j] === '"' ? 2 : 1;
      out += sql.slice(i, j + 1);
      i = j + 1;
    } else if (c === "'") {
      let j = i + 1;
      while (j < sql.length) {
        if (sql[j] === "'") {
          if (sql[j + 1] === "'") {
            j += 2;
            continue;
          }
          break;
        }
        j++;
      }
      out += "''";
      i = j + 1;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

/** Top-level statements, each split into its outer text and its dollar-quoted bodies. */
function statements(sql: string): { outer: string; bodies: string[] }[] {
  const result: { outer: string; bodies: string[] }[] = [];
  let outer = '';
  let bodies: string[] = [];
  let i = 0;
  while (i < sql.length) {
    const tag = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i, i + 80));
    if (tag) {
      const end = sql.indexOf(tag[0], i + tag[0].length);
      const stop = end < 0 ? sql.length : end;
      bodies.push(sql.slice(i + tag[0].length, stop));
      outer += ' $body$ ';
      i = end < 0 ? sql.length : end + tag[0].length;
    } else if (sql[i] === ';') {
      if (outer.trim()) result.push({ outer: outer.trim(), bodies });
      outer = '';
      bodies = [];
      i++;
    } else {
      outer += sql[i];
      i++;
    }
  }
  if (outer.trim()) result.push({ outer: outer.trim(), bodies });
  return result;
}

/** Statements of a migration that reference realtime.messages other than CREATE/DROP POLICY. */
function realtimeMessagesUse(sql: string): { offenders: string[]; policies: number } {
  const offenders: string[] = [];
  let policies = 0;
  const mentions = (s: string) => /realtime\s*\.\s*"?messages\b/i.test(s);
  for (const st of statements(stripCommentsAndLiterals(sql))) {
    if (mentions(st.outer)) {
      if (/^(create|drop)\s+policy\b/i.test(st.outer)) policies++;
      else offenders.push(st.outer.slice(0, 80));
    }
    // A function or DO body must not reach into the table either: use realtime.send.
    for (const body of st.bodies) if (mentions(body)) offenders.push(`body of ${st.outer.slice(0, 60)}`);
  }
  return { offenders, policies };
}

async function migrationFiles(): Promise<{ name: string; sql: string }[]> {
  const names = (await readdir(MIGRATIONS)).filter((f) => f.endsWith('.sql')).sort();
  return Promise.all(names.map(async (name) => ({ name, sql: await readFile(path.join(MIGRATIONS, name), 'utf8') })));
}

// -----------------------------------------------------------------------------
// Roles
// -----------------------------------------------------------------------------
describe('roles, as the bootstrap creates them (docs/platform.md: Roles)', () => {
  async function role(name: string) {
    const [r] = await owner()`
      select rolsuper, rolbypassrls, rolinherit, rolcanlogin, rolcreaterole, rolcreatedb, coalesce(rolconfig, '{}') as rolconfig
      from pg_roles where rolname = ${name}`;
    expect(r, `role ${name} exists`).toBeDefined();
    return r!;
  }

  it('postgres is not a superuser but bypasses RLS, creates roles and databases', async () => {
    const r = await role('postgres');
    expect(r).toMatchObject({ rolsuper: false, rolbypassrls: true, rolcanlogin: true, rolcreaterole: true, rolcreatedb: true });
    // The migrations' own connection really is that role.
    const [me] = await owner()`select current_user as u, (select rolsuper from pg_roles where rolname = current_user) as s`;
    expect(me).toEqual({ u: 'postgres', s: false });
  });

  it('anon: no login, no RLS bypass, inherits, 3s statement timeout', async () => {
    const r = await role('anon');
    expect(r).toMatchObject({ rolsuper: false, rolbypassrls: false, rolinherit: true, rolcanlogin: false });
    expect(r.rolconfig).toContain('statement_timeout=3s');
  });

  it('authenticated: no login, no RLS bypass, inherits, 8s statement timeout', async () => {
    const r = await role('authenticated');
    expect(r).toMatchObject({ rolsuper: false, rolbypassrls: false, rolinherit: true, rolcanlogin: false });
    expect(r.rolconfig).toContain('statement_timeout=8s');
  });

  it('service_role: no login, bypasses RLS, not a superuser', async () => {
    const r = await role('service_role');
    expect(r).toMatchObject({ rolsuper: false, rolbypassrls: true, rolinherit: true, rolcanlogin: false });
  });

  it('authenticator logs in, does not inherit, and may switch only to the API roles', async () => {
    const r = await role('authenticator');
    expect(r).toMatchObject({ rolsuper: false, rolbypassrls: false, rolinherit: false, rolcanlogin: true });
    const rows = await owner()`
      select r.rolname, pg_has_role('authenticator', r.oid, 'member') as member
      from pg_roles r where r.rolname in ('anon', 'authenticated', 'service_role', 'postgres', 'supabase_admin')
      order by r.rolname`;
    expect(Object.fromEntries(rows.map((x) => [x.rolname, x.member]))).toEqual({
      anon: true,
      authenticated: true,
      service_role: true,
      postgres: false,
      supabase_admin: false,
    });
  });

  it('requests run as the role PostgREST switches to', async () => {
    const id = await createUser();
    expect(await asUser(id, (tx) => tx`select current_user as u`)).toEqual([{ u: 'authenticated' }]);
    expect(await asAnon((tx) => tx`select current_user as u`)).toEqual([{ u: 'anon' }]);
    expect(await asService((tx) => tx`select current_user as u`)).toEqual([{ u: 'service_role' }]);
  });
});

// -----------------------------------------------------------------------------
// auth.* helpers
// -----------------------------------------------------------------------------
describe('auth helpers (docs/platform.md: auth functions)', () => {
  it('auth.jwt() returns the claims PostgREST put in request.jwt.claims', async () => {
    const id = await createUser();
    const [r] = await asUser(id, (tx) => tx`select auth.jwt() as jwt`, { email: 'x@example.com' });
    expect(r!.jwt).toMatchObject({ sub: id, role: 'authenticated', email: 'x@example.com' });
    const [a] = await asAnon((tx) => tx`select auth.jwt() as jwt`);
    expect(a!.jwt).toEqual({ role: 'anon' });
  });

  it('auth.jwt() is null when no claims are set, and after a request committed', async () => {
    const c = await owner().reserve();
    try {
      expect(await c`select auth.jwt() as jwt`).toEqual([{ jwt: null }]);
      await c`begin`;
      await c`select set_config('request.jwt.claims', ${JSON.stringify({ sub: 'user_leftover' })}, true)`;
      expect((await c`select auth.jwt() ->> 'sub' as sub`)[0]!.sub).toBe('user_leftover');
      await c`commit`;
      // The setting now reads back as '' (not null): auth.jwt() must still say null.
      expect(await c`select current_setting('request.jwt.claims', true) as s, auth.jwt() as jwt`).toEqual([{ s: '', jwt: null }]);
    } finally {
      c.release();
    }
  });

  it('auth.uid() raises 22P02 on a Clerk id: the reason our SQL never calls it', async () => {
    const id = await createUser();
    const err = await pgError(asUser(id, (tx) => tx`select auth.uid()`));
    expect(err.code).toBe('22P02');
    expect(err.message).toMatch(/invalid input syntax for type uuid/);
    // It only "works" for Supabase Auth's uuid subjects, and is null without claims.
    const uuid = crypto.randomUUID();
    const c = await owner().reserve();
    try {
      expect(await c`select auth.uid() as uid`).toEqual([{ uid: null }]);
      await c`begin`;
      await c`select set_config('request.jwt.claims', ${JSON.stringify({ sub: uuid })}, true)`;
      expect(await c`select auth.uid()::text as uid`).toEqual([{ uid: uuid }]);
      await c`rollback`;
    } finally {
      c.release();
    }
  });

  it('private.current_user_id() is the sub claim, and null for anon-like and service requests', async () => {
    const id = await createUser();
    expect(await asUser(id, (tx) => tx`select private.current_user_id() as id`)).toEqual([{ id }]);
    expect(await asService((tx) => tx`select private.current_user_id() as id`)).toEqual([{ id: null }]);
    expect((await pgError(asService((tx) => tx`select private.require_user_id()`))).code).toBe('42501');
  });
});

// -----------------------------------------------------------------------------
// realtime.send
// -----------------------------------------------------------------------------
describe('realtime.send (docs/platform.md: the Realtime database contract)', () => {
  it('writes a private broadcast row and adds an id to the payload', async () => {
    const topic = `probe:${crypto.randomUUID()}`;
    await asService((tx) => tx`select realtime.send(${tx.json({ hello: 'world' })}::jsonb, 'ping', ${topic}, true)`);
    const rows = await broadcastsOn(topic);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.event).toBe('ping');
    expect(rows[0]!.private).toBe(true);
    expect(rows[0]!.payload.hello).toBe('world');
    expect(rows[0]!.payload.id).toMatch(/^[0-9a-f-]{36}$/);
  });

  describe('failures only warn', () => {
    let me: string;
    let other: string;
    let chatId: string;
    beforeAll(async () => {
      me = await createUser();
      other = await createUser();
      const [chat] = await asUser(me, (tx) => tx`select id from public.create_group_chat('probe group')`);
      chatId = chat!.id;
    });

    async function sendAsUser(topic: string) {
      await withNotices().begin(async (tx) => {
        await tx`select set_config('role', 'authenticated', true),
                        set_config('request.jwt.claims', ${JSON.stringify(clerkClaims(me))}, true)`;
        await tx`select realtime.send('{"typing": true}'::jsonb, 'typing', ${topic}, true)`;
      });
    }

    it('an insert the caller may make is written (control: a member on their chat’s presence topic)', async () => {
      await sendAsUser(`chat:${chatId}:presence`);
      expect((await broadcastsOn(`chat:${chatId}:presence`)).map((r) => r.event)).toContain('typing');
    });

    it('an insert refused by RLS is a warning, not an error, and writes nothing', async () => {
      notices.length = 0;
      await sendAsUser(`user:${other}`);
      expect(notices.some((n) => /WarnSendingBroadcastMessage: .*row-level security/.test(n))).toBe(true);
      expect((await broadcastsOn(`user:${other}`)).filter((r) => r.event === 'typing')).toHaveLength(0);
    });

    it('a missing partition is a warning, not an error, and writes nothing', async () => {
      notices.length = 0;
      const topic = `probe:${crypto.randomUUID()}`;
      await withNotices().begin(async (tx) => {
        await tx`select set_config('role', 'service_role', true)`;
        // inserted_at is `timestamp without time zone default now()`: 150 hours ahead
        // lands after the last partition (today + 3).
        await tx`set local time zone interval '+150:00' hour to minute`;
        await tx`select realtime.send('{}'::jsonb, 'lost', ${topic}, true)`;
      });
      expect(notices.some((n) => /WarnSendingBroadcastMessage: no partition/.test(n))).toBe(true);
      expect(await broadcastsOn(topic)).toHaveLength(0);
    });
  });
});

// -----------------------------------------------------------------------------
// PostgREST settings
// -----------------------------------------------------------------------------
describe('PostgREST settings (docs/platform.md: PostgREST, Advisors)', () => {
  it('pgrst.db_schemas names the exposed schemas, public included and private not', async () => {
    const [r] = await asAnon((tx) => tx`select current_setting('pgrst.db_schemas', true) as s`);
    const schemas = String(r!.s).split(',').map((s) => s.trim());
    expect(schemas).toContain('public');
    expect(schemas).not.toContain('private');
  });
});

// -----------------------------------------------------------------------------
// Schema-wide invariants
// -----------------------------------------------------------------------------
describe('schema-wide invariants', () => {
  it('every table in public has row-level security enabled', async () => {
    const rows = await owner()`
      select c.relname, c.relrowsecurity from pg_class c
      join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'public' and c.relkind in ('r', 'p')
      order by c.relname`;
    const names = rows.map((r) => r.relname);
    for (const t of ['users', 'user_accounts', 'notifications', 'friends', 'chats', 'chat_members', 'media', 'messages', 'admin_config']) {
      expect(names).toContain(t);
    }
    expect(rows.filter((r) => !r.relrowsecurity).map((r) => r.relname)).toEqual([]);
  });

  it('every function in public and private pins search_path', async () => {
    const rows = await owner()`
      select n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')' as fn,
             exists (select 1 from unnest(coalesce(p.proconfig, '{}')) s where s like 'search_path=%') as pinned
      from pg_proc p join pg_namespace n on n.oid = p.pronamespace
      where n.nspname in ('public', 'private')
        and not exists (select 1 from pg_depend d where d.objid = p.oid and d.deptype = 'e')`;
    expect(rows.length).toBeGreaterThan(20);
    expect(rows.filter((r) => !r.pinned).map((r) => r.fn)).toEqual([]);
  });

  it('no migration calls auth.uid() (comments and string literals aside)', async () => {
    const offenders: string[] = [];
    for (const { name, sql } of await migrationFiles()) {
      if (/auth\s*\.\s*uid\s*\(/i.test(stripCommentsAndLiterals(sql))) offenders.push(name);
    }
    expect(offenders).toEqual([]);
    // …and nothing in the database does either: function bodies, policies, column defaults.
    const inDb = await owner()`
      select 'function ' || p.proname as what from pg_proc p join pg_namespace n on n.oid = p.pronamespace
      where n.nspname in ('public', 'private') and p.prosrc ~* 'auth\\s*\\.\\s*uid\\s*\\('
      union all
      select 'policy ' || policyname from pg_policies
      where coalesce(qual, '') || coalesce(with_check, '') ~* 'auth\\.uid\\('
      union all
      select 'default ' || c.relname || '.' || a.attname from pg_attrdef d
      join pg_class c on c.oid = d.adrelid join pg_attribute a on a.attrelid = d.adrelid and a.attnum = d.adnum
      where pg_get_expr(d.adbin, d.adrelid) ~* 'auth\\.uid\\('`;
    expect(inDb).toEqual([]);
  });

  it('the auth.uid() detector is not blind (control)', () => {
    expect(/auth\s*\.\s*uid\s*\(/i.test(stripCommentsAndLiterals("select auth.uid() -- auth.uid()"))).toBe(true);
    expect(/auth\s*\.\s*uid\s*\(/i.test(stripCommentsAndLiterals("-- auth.uid()\ncomment on x is 'not auth.uid()';"))).toBe(false);
  });

  it('migrations touch realtime.messages only with CREATE POLICY / DROP POLICY', async () => {
    const offenders: string[] = [];
    let policies = 0;
    for (const { name, sql } of await migrationFiles()) {
      const r = realtimeMessagesUse(sql);
      offenders.push(...r.offenders.map((o) => `${name}: ${o}`));
      policies += r.policies;
    }
    expect(offenders).toEqual([]);
    // The check saw the channel policies (it is not vacuous) and they are all there is.
    expect(policies).toBeGreaterThanOrEqual(2);
    const live = await owner()`select count(*)::int as n from pg_policies where schemaname = 'realtime' and tablename = 'messages'`;
    expect(live[0]!.n).toBe(policies);
  });

  it('the realtime.messages detector is not blind (control)', () => {
    const r = realtimeMessagesUse(`
      create policy "Members' channel" on realtime.messages for select to authenticated using (true);
      comment on policy "x" on realtime.messages is 'nope';
      do $$ begin alter table realtime.messages enable row level security; end $$;
      -- alter table realtime.messages owner to postgres;
      select realtime.send('{}', 'e', 'realtime.messages', true);`);
    expect(r.policies).toBe(1);
    expect(r.offenders).toHaveLength(2);
  });

  /** Security-definer RPCs anon may call on purpose. */
  const ANON_RPCS = ['view_shared_conversation(uuid,uuid)'];

  it('every security-definer function in public is closed to anon and PUBLIC (but the listed ones to anon)', async () => {
    const rows = await owner()`
      select p.oid::regprocedure::text as fn,
             has_function_privilege('anon', p.oid, 'execute') as anon,
             has_function_privilege('public', p.oid, 'execute') as public
      from pg_proc p join pg_namespace n on n.oid = p.pronamespace
      where n.nspname = 'public' and p.prosecdef`;
    expect(rows.map((r) => r.fn)).toEqual(expect.arrayContaining(['ensure_profile()', 'send_friend_request(text)', 'get_inbox(integer,timestamp with time zone,uuid,boolean)']));
    // The one deliberate exception: anyone may read a published shared conversation and count the view (issue 18;
    // tests/ai-product/sharing.test.ts checks that it reads nothing else).
    expect(rows.filter((r) => r.public || (r.anon && !ANON_RPCS.includes(r.fn))).map((r) => r.fn)).toEqual([]);
  });

  it('no function in public is executable through PUBLIC (lock down, then grant), and anon cannot use private', async () => {
    const rows = await owner()`
      select p.oid::regprocedure::text as fn from pg_proc p join pg_namespace n on n.oid = p.pronamespace
      where n.nspname in ('public', 'private') and has_function_privilege('public', p.oid, 'execute')
        and not exists (select 1 from pg_depend d where d.objid = p.oid and d.deptype = 'e')`;
    expect(rows).toEqual([]);
    expect(await owner()`select has_schema_privilege('anon', 'private', 'usage') as u`).toEqual([{ u: false }]);
    // The social-core RPCs in particular are closed to anon.
    const rpcs = await owner()`
      select p.proname from pg_proc p join pg_namespace n on n.oid = p.pronamespace
      where n.nspname = 'public' and has_function_privilege('anon', p.oid, 'execute')
        and p.proname in ('ensure_profile', 'search_users', 'send_friend_request', 'get_or_create_direct_chat',
                          'create_group_chat', 'send_message', 'get_chat_history', 'mark_chat_read', 'get_inbox')`;
    expect(rpcs).toEqual([]);
  });

  // The deliberate exceptions: signed-out visitors may read the active
  // credit packs (a pricing page before sign-in) and published shared
  // conversations (issue 18), SELECT only.
  const ANON_READABLE = ['credit_packs', 'shared_conversations'];

  it('anon has no privilege on any table in public, not even on one column (but reading credit packs)', async () => {
    const rows = await owner()`
      select c.relname,
             has_table_privilege('anon', c.oid, 'insert, update, delete, truncate, references, trigger') as writes,
             has_table_privilege('anon', c.oid, 'select') as reads,
             has_any_column_privilege('anon', c.oid, 'insert, update, references') as column_writes,
             has_any_column_privilege('anon', c.oid, 'select') as column_reads
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'public' and c.relkind in ('r', 'p', 'v', 'm', 'f')`;
    expect(rows.length).toBeGreaterThanOrEqual(9);
    expect(rows.filter((r) => r.writes || r.column_writes).map((r) => r.relname)).toEqual([]);
    expect(rows.filter((r) => r.reads || r.column_reads).map((r) => r.relname).sort()).toEqual(ANON_READABLE);
    // ... and only the active ones.
    const packs = await asAnon((tx) => tx`select active from public.credit_packs`);
    expect(packs.length).toBeGreaterThan(0);
    expect(packs.every((p) => p.active)).toBe(true);
    // As a request, too: PostgREST's anon role is refused outright.
    expect((await pgError(asAnon((tx) => tx`select * from public.users limit 1`))).code).toBe('42501');
  });
});
