/**
 * ai_models and ai_interactions through supabase-js, as each actor
 * (20261122120000_ai.sql): signed-in users read enabled models, admins read
 * and edit the catalogue; each user reads their own AI interactions, which
 * only the service role (the ai-chat function) writes. The AI operations
 * themselves are private functions: a client cannot reach them through the
 * Data API (the private schema is not exposed).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { anonClient, clientAs } from '../helpers/client.js';
import { closeDb, owner } from '../helpers/db.js';
import { expectNoPrivilege, expectRefused, freshUsers, ok, randomUUID } from '../helpers/world.js';

afterAll(closeDb);

let alice: string;
let bob: string;
let admin: string;
let interaction: string;
const hidden = `test-hidden-${randomUUID().slice(0, 8)}`;
const model = async (id: string) => (await owner()`select enabled, input_micro_usd_per_mtok::text as p from public.ai_models where id = ${id}`)[0];

beforeAll(async () => {
  [alice, bob] = await freshUsers(2);
  [admin] = await freshUsers(1, { is_admin: true });
  await owner()`insert into public.ai_models (id, provider, display_name, input_micro_usd_per_mtok, output_micro_usd_per_mtok, context_window, max_output_tokens, enabled)
                values (${hidden}, 'openai', 'Hidden', 1, 1, 1000, 100, false)`;
  interaction = (await owner()`
    insert into public.ai_interactions (user_id, provider, model, stream, estimated_prompt_tokens, max_output_tokens,
                                        input_micro_usd_per_mtok, output_micro_usd_per_mtok, status, finished_at)
    values (${alice}, 'openai', ${hidden}, true, 10, 100, 1, 1, 'succeeded', now()) returning id`)[0]!.id;
});

describe('ai_models', () => {
  it('signed-in users read enabled models (prices included), never disabled ones; anon 401', async () => {
    const models = ok(await clientAs(bob).from('ai_models').select('id, enabled, input_micro_usd_per_mtok'));
    expect(models.length).toBeGreaterThan(0);
    expect(models.every((m) => m.enabled)).toBe(true);
    const c = await clientAs(bob).from('ai_models').select('*', { count: 'exact', head: true }).eq('id', hidden);
    expect(c.count).toBe(0);
    expectNoPrivilege(await anonClient().from('ai_models').select('id'), true);
  });

  it('a non-admin cannot add (403), re-price, enable or delete (no row) a model', async () => {
    const b = clientAs(bob);
    expectRefused(await b.from('ai_models').insert({ id: `evil-${randomUUID().slice(0, 6)}`, provider: 'openai', display_name: 'Free', input_micro_usd_per_mtok: 0, output_micro_usd_per_mtok: 0, context_window: 10, max_output_tokens: 5 }).select(), 403, '42501');
    expect(ok(await b.from('ai_models').update({ input_micro_usd_per_mtok: 0, output_micro_usd_per_mtok: 0 }).neq('id', '').select())).toEqual([]);
    expect(ok(await b.from('ai_models').update({ enabled: true }).eq('id', hidden).select())).toEqual([]);
    expectRefused(await b.from('ai_models').upsert({ id: hidden, provider: 'openai', display_name: 'x', input_micro_usd_per_mtok: 0, output_micro_usd_per_mtok: 0, context_window: 10, max_output_tokens: 5, enabled: true }, { onConflict: 'id' }).select(), 403, '42501');
    expect(ok(await b.from('ai_models').delete().neq('id', '').select())).toEqual([]);
    expect(await model(hidden)).toEqual({ enabled: false, p: '1' });
  });

  it('an admin reads disabled models and edits the catalogue', async () => {
    const ad = clientAs(admin);
    expect(ok(await ad.from('ai_models').select('id').eq('id', hidden))).toEqual([{ id: hidden }]);
    expect(ok(await ad.from('ai_models').update({ input_micro_usd_per_mtok: 2 }).eq('id', hidden).select('input_micro_usd_per_mtok'))).toEqual([{ input_micro_usd_per_mtok: 2 }]);
    expectRefused(await ad.from('ai_models').update({ input_micro_usd_per_mtok: -1 }).eq('id', hidden), 400, '23514');
    expectRefused(await ad.from('ai_models').update({ output_micro_usd_per_mtok: 0.5 }).eq('id', hidden), 400, '22P02');
    ok(await ad.from('ai_models').update({ input_micro_usd_per_mtok: 1 }).eq('id', hidden));
  });
});

describe('ai_interactions', () => {
  it('the caller reads their own; another user reads nothing (filter, count, embedding); anon 401', async () => {
    expect(ok(await clientAs(alice).from('ai_interactions').select('id, status').eq('id', interaction))).toEqual([{ id: interaction, status: 'succeeded' }]);
    const r = await clientAs(bob).from('ai_interactions').select('*', { count: 'exact' }).eq('user_id', alice);
    expect([ok(r), r.count]).toEqual([[], 0]);
    expect(ok(await clientAs(admin).from('ai_interactions').select('id').eq('id', interaction))).toEqual([]);
    expectNoPrivilege(await anonClient().from('ai_interactions').select('id'), true);
  });

  it('no client writes the log: insert, update (cost, status), upsert and delete are 403', async () => {
    const a = clientAs(alice);
    expectNoPrivilege(await a.from('ai_interactions').insert({ user_id: alice, provider: 'openai', model: hidden, stream: false, estimated_prompt_tokens: 0, max_output_tokens: 1, input_micro_usd_per_mtok: 0, output_micro_usd_per_mtok: 0 }));
    expectNoPrivilege(await a.from('ai_interactions').update({ charged_micro_usd: 0, status: 'failed' }).eq('id', interaction));
    expectNoPrivilege(await a.from('ai_interactions').upsert({ id: interaction, user_id: alice, provider: 'openai', model: hidden, stream: false, estimated_prompt_tokens: 0, max_output_tokens: 1, input_micro_usd_per_mtok: 0, output_micro_usd_per_mtok: 0 }, { onConflict: 'id' }));
    expectNoPrivilege(await a.from('ai_interactions').delete().eq('id', interaction));
    expect((await owner()`select status::text from public.ai_interactions where id = ${interaction}`)[0]!.status).toBe('succeeded');
  });

  it('the AI operations are not reachable through the Data API: the private schema is refused (406 PGRST106)', async () => {
    const a = clientAs(alice);
    const res = await a.schema('private' as never).rpc('start_ai_interaction' as never, {} as never);
    expectRefused(res, 406, 'PGRST106');
    expectRefused(await a.rpc('start_ai_interaction' as never, { p_user_id: alice } as never), 404, 'PGRST202');
    expectRefused(await a.rpc('finish_ai_interaction' as never, {} as never), 404, 'PGRST202');
  });
});
