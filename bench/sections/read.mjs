/**
 * 2. History page and 3. Inbox, on the generated database.
 *
 * History: for a sample of (member, chat) pairs (chats with ≥ 100 messages, so
 * that the page before the cursor is full), the latest 50 messages and the 50
 * before the cursor of the second page, two ways a client asks:
 *  - `rpc`: supabase.rpc('get_chat_history', …) → `select * from public.get_chat_history(…)`;
 *  - `table`: supabase.from('messages').select().eq('chat_id').order(created_at desc, id desc).limit(50)
 *    (with .or() for the cursor) → the same select PostgREST builds;
 * each as `authenticated` (RLS) and, as the baseline, the identical statement
 * on a `postgres` (table owner) connection, where RLS does not apply. Each
 * request runs in the PostgREST envelope; the figure is the statement's own
 * round trip (the envelope is reported separately as the request time).
 *
 * Inbox: get_inbox() (first page, 50 chats) for the user in 200 chats, against
 * the baseline of the bare chat list (the same 50 chats in the same order, no
 * last message, peer or unread counts), as the owner.
 *
 * Search: `search_messages(term)` (first page, 20 rows, all of the caller's
 * chats) for the user in 200 chats, as `authenticated` (RLS) against the
 * identical call as the table owner (RLS off; the function still names the
 * caller's chats). Two terms picked from the data (searchTerms): a common one,
 * a one-letter prefix as typed in a search box (every term is a prefix match),
 * found in several % of the user's messages; and a rare one, ten characters
 * of one message's word, found once. The message search rate limit is raised
 * to its maximum by the run, so the check still runs on every call.
 *
 * Growth (bench/sections/growth.mjs) calls these with fewer iterations
 * (`iterations`, `maxMs`) at both sizes.
 */
import { benchUserId } from '../lib/dataset.mjs';
import { asUser, ownerRequest, pool, withUser } from '../lib/db.mjs';
import { interleavedLatency, round, timed } from '../lib/measure.mjs';

const HISTORY_TABLE_LATEST = (tx, s) => tx`
  select * from public.messages
  where chat_id = ${s.chat_id}
  order by created_at desc, id desc
  limit 50`;
const HISTORY_TABLE_BEFORE = (tx, s) => tx`
  select * from public.messages
  where chat_id = ${s.chat_id}
    and (created_at < ${s.before_created_at} or (created_at = ${s.before_created_at} and id < ${s.before_id}))
  order by created_at desc, id desc
  limit 50`;
const HISTORY_RPC_LATEST = (tx, s) => tx`select * from public.get_chat_history(${s.chat_id})`;
const HISTORY_RPC_BEFORE = (tx, s) =>
  tx`select * from public.get_chat_history(${s.chat_id}, ${s.before_created_at}, ${s.before_id}, 50)`;

const INBOX = (tx) => tx`select * from public.get_inbox()`;
const INBOX_BASELINE = (tx, sub) => tx`
  select c.id, c.kind, c.title, cm.role, coalesce(c.last_message_at, c.created_at) as activity_at
  from public.chat_members cm join public.chats c on c.id = cm.chat_id
  where cm.user_id = ${sub}
  order by coalesce(c.last_message_at, c.created_at) desc, c.id desc
  limit 50`;

const SEARCH = (tx, term) => tx`select * from public.search_messages(${term})`;

/**
 * The search terms (see the header), picked from the inbox user's messages,
 * with how many of the user's messages and of all messages each matches.
 * @param {import('postgres').Sql} sql owner or superuser connection
 * @returns {Promise<Record<'common' | 'rare', { term: string, user_hits: number, table_hits: number }>>}
 */
export async function searchTerms(sql) {
  const sub = benchUserId(1);
  // A word of 32 characters (an md5) of one of the user's messages: its first 10 characters match it alone.
  const [{ rare }] = await sql`
    select left(split_part(m.content, ' ', 2), 10) as rare
    from public.chat_members cm join public.messages m on m.chat_id = cm.chat_id
    where cm.user_id = ${sub} and m.deleted_at is null and char_length(split_part(m.content, ' ', 2)) = 32
    order by m.id limit 1`;
  const out = {};
  for (const [name, term] of [['common', 'c'], ['rare', rare]]) {
    const [c] = await sql`
      select count(*) filter (where m.chat_id in (select chat_id from public.chat_members where user_id = ${sub}))::int as user_hits,
             count(*)::int as table_hits
      from public.messages m
      where m.deleted_at is null and to_tsvector('simple'::regconfig, m.content) @@ private.prefix_tsquery(${term})`;
    out[name] = { term, ...c };
  }
  return /** @type {any} */ (out);
}

/** Runs `query` in a request and returns { statement, request } ms, checking the row count. */
function measured(run, query, expectRows) {
  return async () => {
    let statement = 0;
    const t0 = performance.now();
    await run(async (tx) => {
      const t = performance.now();
      const rows = await query(tx);
      statement = performance.now() - t;
      if (expectRows !== undefined && rows.length !== expectRows) throw new Error(`expected ${expectRows} rows, got ${rows.length}`);
    });
    return { statement, request: performance.now() - t0 };
  };
}

/**
 * @param {{ url: string, samples: any[], quick: boolean, log: (s: string) => void }} ctx
 */
export async function benchHistory({ url, samples, quick, log, iterations = quick ? 150 : 1500, maxMs = quick ? 10_000 : 45_000 }) {
  const auth = pool(withUser(url, 'authenticator'), 1);
  const owner = pool(url, 1);
  try {
    const pick = (i) => samples[i % samples.length];
    const asMember = (s, method) => (fn) => asUser(auth, s.user_id, fn, { method, path: method === 'GET' ? '/rest/v1/messages' : '/rest/v1/rpc/get_chat_history' });
    const asOwner = (s, method) => (fn) => ownerRequest(owner, s.user_id, fn, { method });
    const v = (runner, method, q) => (i) => {
      const s = pick(i);
      return measured(runner(s, method), (tx) => q(tx, s), 50)();
    };
    const out = {};
    for (const [name, q, method] of [
      ['latest_rpc', HISTORY_RPC_LATEST, 'POST'],
      ['before_rpc', HISTORY_RPC_BEFORE, 'POST'],
      ['latest_table', HISTORY_TABLE_LATEST, 'GET'],
      ['before_table', HISTORY_TABLE_BEFORE, 'GET'],
    ]) {
      const r = await interleavedLatency({
        variants: { rls: v(asMember, method, q), owner: v(asOwner, method, q) },
        iterations,
        warmup: 20,
        maxMs,
      });
      out[name] = {
        rls: r.rls,
        owner: r.owner,
        ratio_p50: round(r.rls.statement.p50 / r.owner.statement.p50),
        ratio_p95: round(r.rls.statement.p95 / r.owner.statement.p95),
      };
      log(`history ${name}: rls p50 ${r.rls.statement.p50} ms p95 ${r.rls.statement.p95} ms; owner p50 ${r.owner.statement.p50} ms; ratio ${out[name].ratio_p50}`);
    }
    return out;
  } finally {
    await Promise.all([auth.end(), owner.end()]);
  }
}

/**
 * @param {{ url: string, quick: boolean, log: (s: string) => void }} ctx
 */
export async function benchInbox({ url, quick, log, iterations = quick ? 100 : 1000, maxMs = quick ? 10_000 : 45_000 }) {
  const auth = pool(withUser(url, 'authenticator'), 1);
  const owner = pool(url, 1);
  const sub = benchUserId(1);
  try {
    const r = await interleavedLatency({
      variants: {
        inbox: measured((fn) => asUser(auth, sub, fn, { path: '/rest/v1/rpc/get_inbox' }), INBOX, 50),
        baseline: measured((fn) => ownerRequest(owner, sub, fn), (tx) => INBOX_BASELINE(tx, sub), 50),
      },
      iterations,
      warmup: 20,
      maxMs,
    });
    // Same order as the inbox? (the baseline must list the same chats)
    const [a, b] = await Promise.all([
      asUser(auth, sub, (tx) => INBOX(tx)),
      ownerRequest(owner, sub, (tx) => INBOX_BASELINE(tx, sub)),
    ]);
    const sameChats = a.map((x) => x.chat_id).join() === b.map((x) => x.id).join();
    const unread = a.reduce((n, x) => n + Number(x.unread_count), 0);
    const out = { inbox: r.inbox, baseline: r.baseline, ratio_p50: round(r.inbox.statement.p50 / r.baseline.statement.p50), same_chats: sameChats, unread_total_first_page: unread };
    log(`inbox: p50 ${r.inbox.statement.p50} ms p95 ${r.inbox.statement.p95} ms; chat list alone p50 ${r.baseline.statement.p50} ms`);
    return out;
  } finally {
    await Promise.all([auth.end(), owner.end()]);
  }
}

/**
 * @param {{ url: string, superuser: import('postgres').Sql, quick: boolean, log: (s: string) => void, terms?: Awaited<ReturnType<typeof searchTerms>>, iterations?: number, maxMs?: number }} ctx
 */
export async function benchSearch({ url, superuser, quick, log, terms, iterations = quick ? 100 : 600, maxMs = quick ? 10_000 : 30_000 }) {
  const auth = pool(withUser(url, 'authenticator'), 1);
  const owner = pool(url, 1);
  const sub = benchUserId(1);
  terms ??= await searchTerms(superuser);
  try {
    const out = { terms };
    for (const [name, t] of Object.entries(terms)) {
      const rows = Math.min(20, t.user_hits);
      const q = (tx) => SEARCH(tx, t.term);
      const r = await interleavedLatency({
        variants: {
          rls: measured((fn) => asUser(auth, sub, fn, { path: '/rest/v1/rpc/search_messages' }), q, rows),
          owner: measured((fn) => ownerRequest(owner, sub, fn), q, rows),
        },
        iterations,
        warmup: 10,
        maxMs,
      });
      out[name] = { rls: r.rls, owner: r.owner, ratio_p50: round(r.rls.statement.p50 / r.owner.statement.p50), ratio_p95: round(r.rls.statement.p95 / r.owner.statement.p95) };
      log(`search ${name} ("${t.term}", ${t.user_hits} of the user's messages): rls p50 ${r.rls.statement.p50} ms p95 ${r.rls.statement.p95} ms; owner p50 ${r.owner.statement.p50} ms; ratio ${out[name].ratio_p50}`);
    }
    return out;
  } finally {
    await Promise.all([auth.end(), owner.end()]);
  }
}

/**
 * Plans (explain analyze, buffers) of the history and inbox statements as
 * `authenticated` with the claims set, including the statements run inside
 * the RPCs (auto_explain with nested statements, reported at NOTICE level on
 * a superuser session that switches role exactly as the request does).
 * With `terms` (searchTerms), the searches too.
 * @param {{ superuserUrl: string, sample: any, terms?: Awaited<ReturnType<typeof searchTerms>> }} ctx
 */
export async function explainPlans({ superuserUrl, sample, terms }) {
  const notices = [];
  const sql = pool(superuserUrl, 1, { onnotice: (n) => notices.push(n.message) });
  const sub = benchUserId(1);
  const plans = {};
  const claims = (u) => JSON.stringify({ sub: u, role: 'authenticated', iss: 'https://chat-with-me.clerk.accounts.dev', azp: 'http://localhost:3000' });
  try {
    await sql.unsafe(`load 'auto_explain'`);
    const explain = async (name, user, text, params) => {
      notices.length = 0;
      const rows = await sql.begin(async (tx) => {
        // auto_explain settings are superuser-only: set them before switching role.
        await tx.unsafe(`set local auto_explain.log_min_duration = 0; set local auto_explain.log_analyze = on;
          set local auto_explain.log_buffers = on; set local auto_explain.log_nested_statements = on;
          set local auto_explain.log_level = notice; set local auto_explain.log_timing = on`);
        await tx`select set_config('search_path', 'public, extensions', true),
                        set_config('role', 'authenticated', true),
                        set_config('request.jwt.claims', ${claims(user)}, true)`;
        // Warm up (plan caches, as on a pooled connection), then explain.
        await tx.unsafe(text, params);
        await tx.unsafe(text, params);
        notices.length = 0;
        return tx.unsafe(`explain (analyze, buffers) ${text}`, params);
      });
      const top = rows.map((r) => r['QUERY PLAN']).join('\n');
      // Statements run inside (functions, policies' helpers), once each, in order;
      // not the explained statement itself (already above).
      const seen = new Map();
      for (const n of notices) {
        const plan = n.replace(/^duration: [\d.]+ ms\s+plan:\s*/, '');
        const q = /Query Text: ([\s\S]*?)\n(?:Query Parameters:.*\n)?(?=[A-Z])/.exec(plan)?.[1]?.trim() ?? plan;
        if (q.replace(/\s+/g, ' ') === text.replace(/\s+/g, ' ').trim() || /^explain /i.test(q)) continue;
        const e = seen.get(q);
        if (e) e.count++;
        else seen.set(q, { plan, count: 1 });
      }
      const nested = [...seen.values()].map((e) => (e.count > 1 ? `(run ${e.count} times; the first shown)\n${e.plan}` : e.plan));
      plans[name] = { statement: text.replace(/\s+/g, ' ').trim(), top, nested };
    };
    const s = sample;
    await explain('history_latest_rpc', s.user_id, 'select * from public.get_chat_history($1)', [s.chat_id]);
    await explain('history_before_rpc', s.user_id, 'select * from public.get_chat_history($1, $2, $3, 50)', [s.chat_id, s.before_created_at, s.before_id]);
    await explain('history_latest_table', s.user_id,
      'select * from public.messages where chat_id = $1 order by created_at desc, id desc limit 50', [s.chat_id]);
    await explain('history_before_table', s.user_id,
      'select * from public.messages where chat_id = $1 and (created_at < $2 or (created_at = $2 and id < $3)) order by created_at desc, id desc limit 50',
      [s.chat_id, s.before_created_at, s.before_id]);
    await explain('inbox', sub, 'select * from public.get_inbox()', []);
    for (const [name, t] of Object.entries(terms ?? {})) {
      await explain(`search_${name}`, sub, 'select * from public.search_messages($1)', [t.term]);
    }
    return plans;
  } finally {
    await sql.end();
  }
}

export { timed };
