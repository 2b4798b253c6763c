/**
 * Websites, agents, sessions and the owner RPCs through supabase-js, as each
 * actor (20261202130100_widget.sql): owners manage their websites under RLS,
 * nobody else sees them; the key rotates; settings and origins are checked;
 * analytics on a known data set.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { anonClient, clientAs } from '../helpers/client.js';
import { closeDb, owner } from '../helpers/db.js';
import { expectNotFound, expectRefused, freshUsers, ok } from '../helpers/world.js';

afterAll(closeDb);

let alice: string, bob: string, carol: string;
let site: { id: string; widget_key: string };
beforeAll(async () => {
  [alice, bob, carol] = await freshUsers(3);
  site = ok(await clientAs(alice).from('websites').insert({ name: 'Alice shop', allowed_origins: ['https://shop.example'] }).select('id, widget_key').single());
});

describe('websites under RLS', () => {
  it('the owner reads and edits their website; another user and anon see and change nothing', async () => {
    const mine = ok(await clientAs(alice).from('websites').select('id, owner_id, name, widget_key, settings, active').eq('id', site.id));
    expect(mine).toEqual([{ id: site.id, owner_id: alice, name: 'Alice shop', widget_key: site.widget_key, settings: {}, active: true }]);
    expect(site.widget_key).toMatch(/^wk_[0-9a-f]{40}$/);
    expect(ok(await clientAs(bob).from('websites').select('id').eq('id', site.id))).toEqual([]);
    expect(ok(await clientAs(bob).from('websites').update({ name: 'stolen' }).eq('id', site.id).select('id'))).toEqual([]);
    expect(ok(await clientAs(bob).from('websites').delete().eq('id', site.id).select('id'))).toEqual([]);
    expectRefused(await anonClient().from('websites').select('id'), 401, '42501');
    ok(await clientAs(alice).from('websites').update({ settings: { greeting: 'Hello there', bot_enabled: true } }).eq('id', site.id));
    const [row] = await owner()`select name, settings from public.websites where id = ${site.id}`;
    expect(row).toEqual({ name: 'Alice shop', settings: { greeting: 'Hello there', bot_enabled: true } });
  });

  it('nobody can insert a website for someone else or set its key', async () => {
    expectRefused(await clientAs(bob).from('websites').insert({ name: 'x', owner_id: alice } as never), 403, '42501');
    expectRefused(await clientAs(alice).from('websites').insert({ name: 'x', widget_key: 'wk_mine' } as never), 403, '42501');
    expectRefused(await clientAs(alice).from('websites').update({ widget_key: 'wk_mine' } as never).eq('id', site.id), 403, '42501');
  });

  it('refuses invalid origins and settings', async () => {
    for (const origins of [['*'], ['https://*.example.com'], ['https://shop.example/path'], ['HTTPS://SHOP.EXAMPLE'], ['shop.example']]) {
      expectRefused(await clientAs(alice).from('websites').insert({ name: 'bad', allowed_origins: origins }), 400, '23514');
    }
    for (const settings of [{ unknown: 1 }, { greeting: 5 }, { max_concurrent_sessions: 0 }, { colors: { primary: 'red' } },
      { business_hours: { timezone: 'UTC', days: [{ day: 7, open: '09:00', close: '17:00' }] } }, { bot_answers_per_day: 1.5 }]) {
      expectRefused(await clientAs(alice).from('websites').insert({ name: 'bad', settings }), 400, '23514');
    }
    ok(await clientAs(alice).from('websites').insert({
      name: 'ok', allowed_origins: ['http://localhost:8080', 'https://www.shop.example'],
      settings: { colors: { primary: '#112233' }, business_hours: { timezone: 'Europe/Paris', days: [{ day: 1, open: '09:00', close: '17:30' }] }, model: null },
    }));
  });

  it('rotate_widget_key: a new key for the owner, 404 for anyone else', async () => {
    const key = ok(await clientAs(alice).rpc('rotate_widget_key', { p_website_id: site.id }));
    expect(key).toMatch(/^wk_[0-9a-f]{40}$/);
    expect(key).not.toBe(site.widget_key);
    expectNotFound(await clientAs(bob).rpc('rotate_widget_key', { p_website_id: site.id }));
    const [row] = await owner()`select widget_key from public.websites where id = ${site.id}`;
    expect(row!.widget_key).toBe(key);
    site.widget_key = key;
  });

  it('agents: the owner adds one; the agent reads the row, not the website; nobody adds agents to another\'s website', async () => {
    ok(await clientAs(alice).from('website_agents').insert({ website_id: site.id, user_id: carol }));
    expect(ok(await clientAs(carol).from('website_agents').select('website_id')).map((r) => r.website_id)).toContain(site.id);
    expect(ok(await clientAs(carol).from('websites').select('id').eq('id', site.id))).toEqual([]);
    expectRefused(await clientAs(bob).from('website_agents').insert({ website_id: site.id, user_id: bob }), 403, '42501');
  });
});

describe('analytics', () => {
  it('get_widget_analytics: per-day figures of a known data set; owners and agents only', async () => {
    const [dave] = await freshUsers(1);
    const s = ok(await clientAs(dave).from('websites').insert({ name: 'Stats', allowed_origins: ['https://stats.example'] }).select('id').single()) as { id: string };
    const sql = owner();
    // Three sessions on 2026-01-10, one on 2026-01-11, one outside the range.
    const rows = [
      ['2026-01-10T08:00:00Z', 3, 2, 1000, 0, null, 1500],
      ['2026-01-10T09:00:00Z', 1, 1, 500, 2, '2026-01-10T09:05:00Z', 2500],
      ['2026-01-10T23:59:59Z', 0, 0, 0, 0, null, null],
      ['2026-01-11T00:00:00Z', 2, 0, 0, 1, '2026-01-11T00:01:00Z', 60000],
      ['2026-01-12T00:00:00Z', 9, 9, 9, 9, null, 1],
    ] as const;
    for (const [at, vm, ba, cost, am, handoff, frt] of rows) {
      const [chat] = await sql`insert into public.chats (kind, created_by) values ('widget', ${dave}) returning id`;
      await sql`insert into public.widget_sessions (website_id, chat_id, secret_hash, origin, created_at, expires_at, visitor_messages, bot_answers,
                  bot_cost_micro_usd, agent_messages, handed_off_at, first_response_ms)
                values (${s.id}, ${chat!.id}, sha256(gen_random_uuid()::text::bytea), 'https://stats.example', ${at}, now() + interval '1 day',
                        ${vm}, ${ba}, ${cost}, ${am}, ${handoff}, ${frt})`;
    }
    const got = ok(await clientAs(dave).rpc('get_widget_analytics', { p_website_id: s.id, p_from: '2026-01-10', p_to: '2026-01-11' }));
    expect(got).toEqual([
      { day: '2026-01-10', sessions: 3, visitor_messages: 4, bot_answers: 3, bot_cost_micro_usd: 1500, agent_messages: 2, handoffs: 1,
        avg_first_response_ms: 2000, p95_first_response_ms: 2450 },
      { day: '2026-01-11', sessions: 1, visitor_messages: 2, bot_answers: 0, bot_cost_micro_usd: 0, agent_messages: 1, handoffs: 1,
        avg_first_response_ms: 60000, p95_first_response_ms: 60000 },
    ]);
    expectNotFound(await clientAs(alice).rpc('get_widget_analytics', { p_website_id: s.id, p_from: '2026-01-10', p_to: '2026-01-11' }));
    expectRefused(await clientAs(dave).rpc('get_widget_analytics', { p_website_id: s.id, p_from: '2026-01-10', p_to: '2028-01-11' }), 400, '22023');
    expectRefused(await anonClient().rpc('get_widget_analytics', { p_website_id: s.id, p_from: '2026-01-10', p_to: '2026-01-11' }), 401, '42501');
    expect(ok(await clientAs(alice).from('widget_sessions').select('id').eq('website_id', s.id))).toEqual([]);
    expect(ok(await clientAs(dave).from('widget_sessions').select('id').eq('website_id', s.id))).toHaveLength(5);
  });
});

describe('analytics at scale', () => {
  it('get_widget_analytics on a website with 100k sessions: under 1.5 s for 90 days; a short range is an index range scan', async () => {
    const [erin] = await freshUsers(1);
    const s = ok(await clientAs(erin).from('websites').insert({ name: 'Big', allowed_origins: ['https://big.example'] }).select('id').single()) as { id: string };
    const sql = owner();
    await sql.begin(async (tx) => {
      await tx`create temp table big_chats on commit drop as
               select gen_random_uuid() as id, g as n from generate_series(1, 100000) g`;
      await tx`insert into public.chats (id, kind, created_by) select id, 'widget', ${erin} from big_chats`;
      await tx`insert into public.widget_sessions (website_id, chat_id, secret_hash, origin, created_at, expires_at, visitor_messages, bot_answers, bot_cost_micro_usd, first_response_ms)
               select ${s.id}, c.id, sha256(c.id::text::bytea), 'https://big.example',
                      timestamptz '2026-01-01 00:00:00+00' + (c.n % 90) * interval '1 day' + (c.n % 86400) * interval '1 second',
                      now() + interval '1 day', 2, 1, 100, 1000 + c.n % 5000
               from big_chats c`;
    });
    await sql`analyze public.widget_sessions`;
    const started = performance.now();
    const got = ok(await clientAs(erin).rpc('get_widget_analytics', { p_website_id: s.id, p_from: '2026-01-01', p_to: '2026-03-31' })) as { sessions: number; bot_cost_micro_usd: number }[];
    const ms = performance.now() - started;
    expect(got).toHaveLength(90);
    expect(got.reduce((n, d) => n + d.sessions, 0)).toBe(100_000);
    expect(got.reduce((n, d) => n + d.bot_cost_micro_usd, 0)).toBe(10_000_000);
    expect(ms).toBeLessThan(1500);
    // A range covering every row is read sequentially (the planner's right choice); a day's range uses the index.
    const plan = (await sql`explain select * from public.widget_sessions s where s.website_id = ${s.id}
      and s.created_at >= '2026-01-05' and s.created_at < '2026-01-06'`).map((r) => Object.values(r)[0]).join('\n');
    expect(plan).toMatch(/widget_sessions_website_id_created_at_idx/);
  }, 120_000);
});
