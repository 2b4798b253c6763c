/**
 * The benchmark's chat database, generated in SQL (generate_series, insert …
 * select) by the superuser in one session with triggers off
 * (session_replication_role = replica), then derived columns fixed in SQL
 * (chats.last_message_*, chat_members read state) and VACUUM ANALYZE.
 *
 * Shape (full size): 5,000 users; 10,000 chats (60 % direct pairs, 40 % groups
 * of 3–20 members); 1,000,000 messages spread over a year, per-chat counts
 * log-normal (median ≈ 60, a few chats with thousands). User #1 ("the inbox
 * user") is in 200 chats: 120 direct and 80 groups. Read marks: most members
 * read up to a few messages from the end, 5 % never opened the chat.
 * Deterministic (setseed) so that runs compare.
 *
 * Growth (`npm run bench -- --scale 10m`, bench/sections/growth.mjs): the
 * same generator adds on top of a generated database (`from` = its size):
 * users, chats and messages beyond it, with the same shapes (new direct pairs
 * skip pairs that already have a chat; user #1 joins no new chat, so the inbox
 * stays 200 chats; the existing chats get no new messages, so history samples
 * compare like with like), then VACUUM ANALYZE again.
 */

/** Dataset sizes for a full and a quick run. */
export const SIZES = {
  full: { users: 5000, chats: 10000, messages: 1_000_000, inboxChats: 200 },
  quick: { users: 500, chats: 1000, messages: 50_000, inboxChats: 200 },
};

/**
 * `--scale` targets: the full size grown tenfold (10m), and a small growth to
 * test the code on a busy machine (2m, not documented in the usage line).
 */
export const SCALES = {
  '10m': { users: 50_000, chats: 100_000, messages: 10_000_000, inboxChats: 200 },
  '2m': { users: 10_000, chats: 20_000, messages: 2_000_000, inboxChats: 200 },
};

const NONE = { users: 0, chats: 0, messages: 0, inboxChats: 0 };

/** Clerk-shaped id of bench user n (1-based): `user_bench` + 19 digits. */
export const benchUserId = (n) => `user_bench${String(n).padStart(19, '0')}`;

/**
 * Generates the dataset, or with `from` (the size generated before) grows it
 * to `size`: users from.users+1..size.users, size.chats − from.chats new chats
 * holding size.messages − from.messages messages. `sql` must be a superuser
 * connection (postgres.js, max 1).
 * @param {import('postgres').Sql} sql
 * @param {{ users: number, chats: number, messages: number, inboxChats: number }} size
 * @param {(step: string, seconds: number) => void} onStep
 * @param {{ from?: { users: number, chats: number, messages: number } }} [opts]
 */
export async function generateDataset(sql, size, onStep = () => {}, { from = NONE } = {}) {
  const { users } = size;
  const chats = size.chats - from.chats;
  const messages = size.messages - from.messages;
  if (users < from.users || chats < 1 || messages < chats) throw new Error('growth must add users, chats and messages');
  const directs = Math.round(chats * 0.6);
  const groups = chats - directs;
  // Only the first generation places the inbox user: growth leaves their chats as they are.
  const inboxChats = from.chats === 0 ? size.inboxChats : 0;
  const inboxDirects = Math.round(inboxChats * 0.6);
  const inboxGroups = inboxChats - inboxDirects;
  if (inboxDirects >= users || inboxGroups > groups) throw new Error('dataset too small for the inbox user');
  const key = (a, b) => `least('user_bench' || lpad(${a}::text, 19, '0'), 'user_bench' || lpad(${b}::text, 19, '0'))
             || ':' || greatest('user_bench' || lpad(${a}::text, 19, '0'), 'user_bench' || lpad(${b}::text, 19, '0'))`;

  const step = async (label, text) => {
    const t = performance.now();
    await sql.unsafe(text);
    onStep(label, (performance.now() - t) / 1000);
  };

  await sql.unsafe(`set session_replication_role = replica; select setseed(${from.chats === 0 ? 0.4242 : 0.4343});
    set maintenance_work_mem = '1GB'; set work_mem = '64MB'`);

  await step('users', `
    insert into public.users (id, display_name, username, created_at, updated_at)
    select 'user_bench' || lpad(i::text, 19, '0'), 'Bench User ' || i, 'bench_' || i,
           now() - interval '400 days', now() - interval '400 days'
    from generate_series(${from.users + 1}, ${users}) i;
    insert into public.user_accounts (user_id, email)
    select 'user_bench' || lpad(i::text, 19, '0'), 'bench' || i || '@example.com'
    from generate_series(${from.users + 1}, ${users}) i;`);

  // Chat specs: n, kind, member numbers. Directs: user 1 with users 2..(inboxDirects+1),
  // then distinct random pairs. Groups: random members, user 1 added to the first inboxGroups.
  await step('chats', `
    create temp table spec (n int primary key, kind public.chat_kind, members int[], msgs int, id uuid default gen_random_uuid());
    insert into spec (n, kind, members)
    select ${from.chats} + row_number() over (order by prio, rnd), 'direct', array[a, b]
    from (
      select distinct on (least(a, b), greatest(a, b)) a, b, prio, rnd
      from (
        select 1 as a, k as b, 0 as prio, k::float8 as rnd from generate_series(2, ${inboxDirects + 1}) k
        union all
        select 2 + floor(random() * ${users - 1})::int, 2 + floor(random() * ${users - 1})::int, 1, random()
        from generate_series(1, ${Math.ceil(directs * 1.3)})
      ) p
      where a <> b and not exists (select 1 from public.chats c where c.direct_key = ${key('a', 'b')})
      order by least(a, b), greatest(a, b), prio
    ) d
    order by prio, rnd
    limit ${directs};
    insert into spec (n, kind, members)
    select ${from.chats + directs} + g, 'group',
           (case when g <= ${inboxGroups} then array[1] else '{}'::int[] end) ||
           array(select distinct 2 + floor(random() * ${users - 1})::int
                 from generate_series(1, 2 + floor(random() * 18)::int + g * 0))
    from generate_series(1, ${groups}) g;
    -- Messages per chat: log-normal (median 60), scaled to the total.
    update spec set msgs = greatest(1, round(exp(random_normal(ln(60), 1.0))))::int;
    update spec set msgs = greatest(1, round(msgs * ${messages}::numeric / (select sum(msgs) from spec)))::int;
    update spec set msgs = msgs + (${messages} - (select sum(msgs) from spec)) where n = (select n from spec order by msgs desc limit 1);

    insert into public.chats (id, kind, title, created_by, direct_key, created_at, updated_at)
    select s.id, s.kind,
           case when s.kind = 'group' then 'Bench group ' || s.n end,
           'user_bench' || lpad(s.members[1]::text, 19, '0'),
           case when s.kind = 'direct' then ${key('s.members[1]', 's.members[2]')} end,
           now() - interval '366 days', now() - interval '366 days'
    from spec s;
    insert into public.chat_members (chat_id, user_id, role, joined_at)
    select s.id, 'user_bench' || lpad(m.u::text, 19, '0'),
           case when s.kind = 'group' and m.ord = 1 then 'owner' else 'member' end::public.chat_member_role,
           now() - interval '366 days'
    from spec s cross join lateral unnest(s.members) with ordinality m(u, ord);`);

  // Bulk load (https://www.postgresql.org/docs/current/populate.html#POPULATE-RM-INDEXES): the
  // indexes of messages that back no constraint (history, search, BRIN, partial foreign-key ones) are
  // dropped before the insert and created again after it from their own definitions (pg_indexes):
  // the same indexes, built once instead of maintained row by row (the GIN indexes of message search
  // would dominate the generation otherwise).
  const indexes = await sql`
    select format('drop index %I.%I', i.schemaname, i.indexname) as drop, i.indexdef as create
    from pg_indexes i
    where i.schemaname = 'public' and i.tablename = 'messages'
      and not exists (select 1 from pg_constraint c where c.conindid = format('%I.%I', i.schemaname, i.indexname)::regclass)`;
  await step('messages', `
    ${indexes.map((i) => `${i.drop};`).join('\n    ')}
    insert into public.messages (chat_id, sender_id, kind, content, created_at, deleted_at)
    select s.id,
           'user_bench' || lpad(s.members[1 + floor(random() * cardinality(s.members))::int]::text, 19, '0'),
           'text',
           case when r.del then '' else left('Message ' || md5(random()::text) || ' ' || md5(random()::text), 12 + floor(random() * 60)::int) end,
           r.at,
           case when r.del then r.at + interval '1 minute' end
    from spec s
    cross join lateral (
      select now() - interval '365 days' * random() - interval '1 minute' as at, random() < 0.01 as del
      from generate_series(1, s.msgs)
    ) r;`);
  await step('indexes', indexes.map((i) => `${i.create};`).join('\n'));

  await step('derived columns', `
    update public.chats c set last_message_at = l.created_at, last_message_id = l.id
    from spec s cross join lateral (
      select m.id, m.created_at from public.messages m
      where m.chat_id = s.id order by m.created_at desc, m.id desc limit 1
    ) l
    where c.id = s.id;
    -- Read marks: most members are k messages behind (k small), 5 % never read.
    update public.chat_members cm set last_read_message_id = l.id, last_read_at = l.created_at
    from (
      select cm2.chat_id, cm2.user_id, floor(power(random(), 3) * 40)::int as k, random() < 0.05 as never
      from public.chat_members cm2 join spec s on s.id = cm2.chat_id
      where cm2.user_id like 'user_bench%'
    ) p
    cross join lateral (
      select m.id, m.created_at from public.messages m
      where m.chat_id = p.chat_id order by m.created_at desc, m.id desc offset p.k limit 1
    ) l
    where cm.chat_id = p.chat_id and cm.user_id = p.user_id and not p.never;`);

  await sql.unsafe(`set session_replication_role = origin`);
  await step('vacuum analyze', `vacuum (analyze) public.users, public.user_accounts, public.chats, public.chat_members, public.messages`);
  await sql.unsafe(`drop table spec`);
}

/**
 * Samples of the loaded data used by the history and inbox measurements.
 * @param {import('postgres').Sql} sql owner or superuser connection
 */
export async function sampleDataset(sql, { pairs = 200 } = {}) {
  // (member, chat) pairs whose chat has at least 100 messages (a full second page),
  // with the cursor of page 2: the 50th newest message.
  const history = await sql`
    select p.user_id, p.chat_id, c.created_at::text as before_created_at, c.id as before_id, p.n_messages::int as n_messages
    from (
      select cm.user_id, cm.chat_id, x.n as n_messages
      from public.chat_members cm
      join lateral (select count(*) as n from public.messages m where m.chat_id = cm.chat_id) x on true
      where cm.user_id like 'user_bench%' and x.n >= 100
      order by md5(cm.chat_id::text || cm.user_id)
      limit ${pairs}
    ) p
    cross join lateral (
      select m.id, m.created_at from public.messages m where m.chat_id = p.chat_id
      order by m.created_at desc, m.id desc offset 49 limit 1
    ) c`;
  const stats = await sql`
    select (select count(*) from public.users where id like 'user_bench%')::int as users,
           (select count(*) from public.chats)::int as chats,
           (select count(*) from public.chat_members)::int as memberships,
           (select count(*) from public.messages)::int as messages,
           (select count(*) from public.chat_members where user_id = ${benchUserId(1)})::int as inbox_user_chats,
           (select percentile_disc(0.5) within group (order by n) from (select count(*) n from public.messages group by chat_id) x)::int as median_messages_per_chat,
           (select max(n) from (select count(*) n from public.messages group by chat_id) x)::int as max_messages_per_chat,
           pg_size_pretty(pg_total_relation_size('public.messages')) as messages_size`;
  return { history, stats: stats[0] };
}
