/**
 * The AI schema (20261122120000_ai.sql) in the database itself, request by
 * request as PostgREST runs them: who reads and edits ai_models, who reads
 * ai_interactions, that only the service role runs the metering functions,
 * and the start → finish / fail / expire life of a call.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asAnon, asService, asUser, closeDb, createUser, owner, pgError } from '../helpers/db.js';
import { aiUser, assistantChat, wallet } from './helpers.js';

afterAll(closeDb);

const start = (user: string, chat: string, model = 'gpt-6-luna', tokens = 100) =>
  asService((tx) => tx`select * from private.start_ai_interaction(${user}, ${chat}, ${model}, ${tokens}, 0, true, 'req-test-0001')`).then((r) => r[0]!);
const finish = (id: string, prompt = 'question', answer = 'answer', p = 100, c = 0, o = 50) =>
  asService((tx) => tx`select * from private.finish_ai_interaction(${id}, ${prompt}, ${answer}, ${p}, ${c}, ${o}, 'stop', 120, 30, false, 'chatcmpl-x')`).then((r) => r[0]!);
const fail = (id: string) => asService((tx) => tx`select * from private.fail_ai_interaction(${id}, 'provider_error', 'boom', 10, null)`).then((r) => r[0]!);

let scratchModel: string;
let admin: string;
let member: string;

beforeAll(async () => {
  admin = await createUser({ is_admin: true });
  member = await createUser();
  scratchModel = `test-disabled-${randomUUID().slice(0, 8)}`;
  await owner()`insert into public.ai_models (id, provider, display_name, input_micro_usd_per_mtok, output_micro_usd_per_mtok, context_window, max_output_tokens, enabled)
                values (${scratchModel}, 'deepseek', 'Scratch', 1000, 2000, 10000, 100, false)`;
});

describe('ai_models', () => {
  describe('as a signed-in user', () => {
    it('reads the enabled models with their prices, not the disabled ones', async () => {
      const rows = await asUser(member, (tx) => tx`select id, provider, input_micro_usd_per_mtok, is_default from public.ai_models`, {}, { method: 'GET' });
      const ids = rows.map((r) => r.id);
      expect(ids).toEqual(expect.arrayContaining(['gpt-6-luna', 'gpt-6-sol', 'deepseek-v4-flash', 'deepseek-v4-pro']));
      expect(ids).not.toContain(scratchModel);
      expect(rows.filter((r) => r.is_default)).toHaveLength(1);
      expect(Number(rows.find((r) => r.id === 'gpt-6-luna')!.input_micro_usd_per_mtok)).toBe(100_000);
    });

    it('cannot add, change or remove models', async () => {
      expect((await pgError(asUser(member, (tx) => tx`insert into public.ai_models (id, provider, display_name, input_micro_usd_per_mtok, output_micro_usd_per_mtok, context_window, max_output_tokens)
        values ('mine', 'openai', 'Mine', 0, 0, 1000, 10)`))).message).toMatch(/row-level security/);
      expect(await asUser(member, (tx) => tx`update public.ai_models set input_micro_usd_per_mtok = 0 where id = 'gpt-6-luna' returning id`)).toEqual([]);
      expect(await asUser(member, (tx) => tx`delete from public.ai_models where id = 'gpt-6-luna' returning id`)).toEqual([]);
      const [m] = await owner()`select input_micro_usd_per_mtok from public.ai_models where id = 'gpt-6-luna'`;
      expect(Number(m!.input_micro_usd_per_mtok)).toBe(100_000);
    });
  });

  describe('as an admin', () => {
    it('reads disabled models too, and edits prices of a model', async () => {
      const rows = await asUser(admin, (tx) => tx`select id from public.ai_models`);
      expect(rows.map((r) => r.id)).toContain(scratchModel);
      const [u] = await asUser(admin, (tx) => tx`update public.ai_models set output_micro_usd_per_mtok = 3000 where id = ${scratchModel} returning output_micro_usd_per_mtok, updated_at`);
      expect(Number(u!.output_micro_usd_per_mtok)).toBe(3000);
    });

    it('adds and removes a model; invalid ones are refused by the checks', async () => {
      const id = `test-admin-${randomUUID().slice(0, 8)}`;
      await asUser(admin, (tx) => tx`insert into public.ai_models (id, provider, display_name, input_micro_usd_per_mtok, output_micro_usd_per_mtok, context_window, max_output_tokens, enabled)
        values (${id}, 'openai', 'Admin model', 1, 2, 1000, 10, false)`);
      expect((await pgError(asUser(admin, (tx) => tx`update public.ai_models set max_output_tokens = 5000 where id = ${id}`))).code).toBe('23514');
      expect((await pgError(asUser(admin, (tx) => tx`update public.ai_models set input_micro_usd_per_mtok = -1 where id = ${id}`))).code).toBe('23514');
      expect((await pgError(asUser(admin, (tx) => tx`update public.ai_models set is_default = true where id = ${id}`))).code).toBe('23514');
      expect(await asUser(admin, (tx) => tx`delete from public.ai_models where id = ${id} returning id`)).toEqual([{ id }]);
    });
  });

  describe('as anon', () => {
    it('has no access', async () => {
      expect((await pgError(asAnon((tx) => tx`select * from public.ai_models`))).code).toBe('42501');
    });
  });
});

describe('ai_interactions', () => {
  it('each user reads only their own rows; nobody but the service role writes', async () => {
    const a = await aiUser();
    const b = await aiUser();
    const chatA = await assistantChat(a);
    const row = await start(a, chatA);
    expect(await asUser(a, (tx) => tx`select id from public.ai_interactions`)).toEqual([{ id: row.id }]);
    expect(await asUser(b, (tx) => tx`select id from public.ai_interactions`)).toEqual([]);
    expect((await pgError(asUser(a, (tx) => tx`update public.ai_interactions set cost_micro_usd = 0`))).code).toBe('42501');
    expect((await pgError(asUser(a, (tx) => tx`insert into public.ai_interactions (user_id, provider, model, stream, estimated_prompt_tokens, max_output_tokens, input_micro_usd_per_mtok, output_micro_usd_per_mtok)
      values (${a}, 'openai', 'x', true, 0, 1, 0, 0)`))).code).toBe('42501');
    expect((await pgError(asAnon((tx) => tx`select * from public.ai_interactions`))).code).toBe('42501');
    await fail(row.id);
  });

  it('clients cannot run the metering functions', async () => {
    const a = await aiUser();
    const chat = await assistantChat(a);
    for (const q of [
      (tx: any) => tx`select private.start_ai_interaction(${a}, ${chat}, 'gpt-6-luna', 1, 0, true, null)`,
      (tx: any) => tx`select private.finish_ai_interaction(${randomUUID()}, 'p', 'a', 1, 0, 1, null, null, null, false, null)`,
      (tx: any) => tx`select private.fail_ai_interaction(${randomUUID()}, 'x', 'y', null, null)`,
      (tx: any) => tx`select private.settle_ai_interaction(${randomUUID()}, 1, 0, 1, true)`,
      (tx: any) => tx`select private.expire_ai_interactions(null)`,
      (tx: any) => tx`select private.ai_cost_micro_usd(1, 0, 1, 1, 1, 1)`,
    ]) {
      expect((await pgError(asUser(a, q))).code).toBe('42501');
    }
  });
});

describe('the life of a call (service role)', () => {
  it('start reserves; finish settles once, stores prompt and answer, titles the chat; a second finish changes nothing', async () => {
    const user = await aiUser(1_000_000);
    const chat = await assistantChat(user);
    const row = await start(user, chat);
    // 100 prompt + 8192 output tokens at gpt-6-luna prices: ceil(10,000,000 + 4,096,000,000) / 1e6 = 4106.
    expect(row).toMatchObject({ status: 'pending', estimated_prompt_tokens: 100, max_output_tokens: 8192, request_id: 'req-test-0001' });
    expect(Number(row.reserved_micro_usd)).toBe(4106);
    expect(await wallet(user)).toEqual({ balance: 1_000_000, held: 4106 });

    const done = await finish(row.id, 'Why is the sky blue?', 'Rayleigh scattering.', 100, 40, 50);
    // 60 uncached × 0.1 + 40 cached × 0.01 + 50 × 0.5 = 6 + 0.4 + 25 = 31.4 → 32
    expect(done).toMatchObject({ status: 'succeeded', prompt_tokens: 100, cached_prompt_tokens: 40, completion_tokens: 50, error_code: null, latency_ms: 120, time_to_first_token_ms: 30 });
    expect(Number(done.cost_micro_usd)).toBe(32);
    expect(Number(done.charged_micro_usd)).toBe(32);
    expect(await wallet(user)).toEqual({ balance: 1_000_000 - 32, held: 0 });
    const again = await finish(row.id, 'other', 'other', 9999, 0, 9999);
    expect(Number(again.cost_micro_usd)).toBe(32);
    expect(await owner()`select count(*)::int as n from public.credit_ledger where source = 'ai_interaction' and source_id = ${row.id}::text`).toEqual([{ n: 1 }]);
    expect((await fail(row.id)).status).toBe('succeeded');
    const msgs = await owner()`select kind, content from public.messages where chat_id = ${chat} order by created_at`;
    expect(msgs).toEqual([{ kind: 'text', content: 'Why is the sky blue?' }, { kind: 'ai', content: 'Rayleigh scattering.' }]);
    expect(await owner()`select title from public.chats where id = ${chat}`).toEqual([{ title: 'Why is the sky blue?' }]);
  });

  it('the hold lasts the reservation TTL, or longer when the caller’s deadline needs it', async () => {
    const user = await aiUser(1_000_000);
    const chat = await assistantChat(user);
    const [ttl] = await owner()`select (value #>> '{}')::int as s from public.admin_config where key = 'credits.reservation_ttl_seconds'`;
    const plain = await start(user, chat);
    const [long] = await asService((tx) => tx`select * from private.start_ai_interaction(${user}, ${chat}, 'gpt-6-luna', 100, 0, true, null, 100000)`);
    const [a] = await owner()`select extract(epoch from expires_at - created_at)::int as s from public.credit_reservations where id = ${plain.reservation_id}`;
    const [b] = await owner()`select extract(epoch from expires_at - created_at)::int as s from public.credit_reservations where id = ${long!.reservation_id}`;
    expect(a!.s).toBe(ttl!.s);
    expect(b!.s).toBe(100000);
    await fail(plain.id);
    await fail(long!.id);
  });

  it('fail releases the hold, charges and stores nothing', async () => {
    const user = await aiUser(1_000_000);
    const chat = await assistantChat(user);
    const row = await start(user, chat);
    const failed = await fail(row.id);
    expect(failed).toMatchObject({ status: 'failed', error_code: 'provider_error', error: 'boom', latency_ms: 10, time_to_first_token_ms: null });
    expect(await wallet(user)).toEqual({ balance: 1_000_000, held: 0 });
    expect(await owner()`select status from public.credit_reservations where id = ${row.reservation_id}`).toEqual([{ status: 'released' }]);
    expect(await owner()`select 1 from public.messages where chat_id = ${chat}`).toEqual([]);
    expect((await finish(row.id)).status).toBe('failed');
  });

  it('a call that never finishes is aborted when its reservation expires; a late finish is still charged', async () => {
    const user = await aiUser(1_000_000);
    const chat = await assistantChat(user);
    const row = await start(user, chat);
    await owner()`update public.credit_reservations set expires_at = now() - interval '1 second' where id = ${row.reservation_id}`;
    const [n] = await asService((tx) => tx`select private.expire_ai_interactions(${user}) as n`);
    expect(n!.n).toBe(1);
    const [aborted] = await owner()`select * from public.ai_interactions where id = ${row.id}`;
    expect(aborted).toMatchObject({ status: 'aborted', error_code: 'expired' });
    expect(await wallet(user)).toEqual({ balance: 1_000_000, held: 0 });
    // The provider answered after all: it was paid, so the usage is charged.
    const late = await finish(row.id, 'slow', 'late answer', 10, 0, 10);
    expect(late.status).toBe('succeeded');
    expect(Number(late.charged_micro_usd)).toBe(6);
    expect(await wallet(user)).toEqual({ balance: 1_000_000 - 6, held: 0 });
  });

  it('the next start sweeps the user’s expired calls (lazy expiry)', async () => {
    const user = await aiUser(1_000_000);
    const chat = await assistantChat(user);
    const row = await start(user, chat);
    await owner()`update public.credit_reservations set expires_at = now() - interval '1 second' where id = ${row.reservation_id}`;
    const next = await start(user, chat);
    expect(await owner()`select status from public.ai_interactions where id = ${row.id}`).toEqual([{ status: 'aborted' }]);
    expect((await wallet(user)).held).toBe(Number(next.reserved_micro_usd));
    await fail(next.id);
  });

  it('a caller who left the chat meanwhile is charged, and nothing is stored', async () => {
    const alice = await aiUser(1_000_000);
    const bob = await aiUser(1_000_000);
    const [g] = await asUser(alice, (tx) => tx`select id from public.create_group_chat('Leaving', ${[bob]}::text[])`);
    const row = await start(bob, g!.id);
    await asUser(bob, (tx) => tx`select public.leave_chat(${g!.id})`);
    const done = await finish(row.id, 'q', 'a', 100, 0, 100);
    expect(done).toMatchObject({ status: 'incomplete', error_code: 'not_stored', prompt_message_id: null, answer_message_id: null });
    expect(Number(done.charged_micro_usd)).toBeGreaterThan(0);
    expect(await owner()`select 1 from public.messages where chat_id = ${g!.id} and kind = 'ai'`).toEqual([]);
  });

  it('an estimated usage (the provider never reported one) is charged, but never more than the reservation', async () => {
    const user = await aiUser(1_000_000);
    const chat = await assistantChat(user);
    const row = await start(user, chat);
    const reserved = Number(row.reserved_micro_usd);
    // Far more tokens than the reservation covers: an estimate cannot charge beyond it.
    const [done] = await asService((tx) => tx`
      select * from private.settle_ai_interaction(${row.id}, 100000, 0, 100000, true, null, 10, 5, false, null,
                                                  'truncated_stream', 'cut after the answer began')`);
    expect(done).toMatchObject({ status: 'incomplete', error_code: 'truncated_stream', usage_estimated: true, prompt_message_id: null });
    expect(Number(done!.cost_micro_usd)).toBe(reserved);
    expect(Number(done!.charged_micro_usd)).toBe(reserved);
    expect(await wallet(user)).toEqual({ balance: 1_000_000 - reserved, held: 0 });
    // Settling again, finishing or failing afterwards changes nothing: charged once, never released.
    await asService((tx) => tx`select private.settle_ai_interaction(${row.id}, 1, 0, 1, false)`);
    expect((await fail(row.id)).status).toBe('incomplete');
    expect((await finish(row.id)).status).toBe('incomplete');
    expect(await wallet(user)).toEqual({ balance: 1_000_000 - reserved, held: 0 });
    expect(await owner()`select count(*)::int as n from public.credit_ledger where source = 'ai_interaction' and source_id = ${row.id}::text`).toEqual([{ n: 1 }]);
    expect(await owner()`select * from private.ledger_mismatches()`).toEqual([]);
  });

  it('refuses non-members, unknown or disabled models and bad token counts', async () => {
    const user = await aiUser();
    const chat = await assistantChat(user);
    const other = await aiUser();
    expect((await pgError(start(other, chat))).code).toBe('PT404');
    expect((await pgError(start(user, chat, 'no-such-model'))).code).toBe('PT404');
    expect((await pgError(start(user, chat, scratchModel))).code).toBe('PT404');
    expect((await pgError(start(user, chat, 'gpt-6-luna', -1))).code).toBe('22023');
    const row = await start(user, chat);
    expect((await pgError(finish(row.id, 'p', 'a', 10, 11, 1))).code).toBe('22023');
    expect((await pgError(finish(randomUUID()))).code).toBe('PT404');
    await fail(row.id);
  });
});

describe('helpers', () => {
  it('ai_cost_micro_usd: exact, rounded up once, cache hits at the cached price (or the input price when none)', async () => {
    const [r] = await owner()`select
      private.ai_cost_micro_usd(1000000, 0, 1000000, 2000000, 200000, 10000000) as big,
      private.ai_cost_micro_usd(1000, 1000, 0, 100000, null, 500000) as cached_at_input,
      private.ai_cost_micro_usd(1000, 1000, 0, 100000, 10000, 500000) as cached,
      private.ai_cost_micro_usd(3, 0, 0, 100000, 10000, 500000) as tiny`;
    expect([Number(r!.big), Number(r!.cached_at_input), Number(r!.cached), Number(r!.tiny)]).toEqual([12_000_000, 100, 10, 1]);
  });

  it('ai_chat_title: first line, spaces collapsed, at most 60 characters cut at a word', async () => {
    const t = async (p: string) => (await owner()`select private.ai_chat_title(${p}) as t`)[0]!.t as string;
    expect(await t('  hello\t  world  ')).toBe('hello world');
    expect(await t('first line\nsecond line')).toBe('first line');
    expect(await t('\n\n  \n')).toBe('New chat');
    expect(await t('x'.repeat(80))).toBe(`${'x'.repeat(60)}…`);
    const long = await t('The quick brown fox jumps over the lazy dog and keeps running far away');
    expect(long).toBe('The quick brown fox jumps over the lazy dog and keeps…');
  });
});
