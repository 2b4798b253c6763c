/**
 * The demo's AI product step (README "AI product"): reply suggestions (asked
 * twice: charged once), a streamed answer stopped by the client and
 * regenerated, a conversation published and read by an anonymous client, and
 * a provider outage answered by the fallback model. Played through
 * supabase-js and the typed functions client, like the rest of the journey.
 *
 * The two models it adds for the occasion (removed at the end) use the local
 * OpenAI stand-in's model-id fault modes (stack/standins/openai.mjs):
 * `standin-slow-…` streams slowly (so that the stop lands mid-answer),
 * `standin-unavailable-…` answers 503, with gpt-6-luna as its fallback.
 */
import { randomUUID } from 'node:crypto';
import { createClient } from '@supabase/supabase-js';
import ws from 'ws';
import { check, checkEqual, eventually, expectData, note, ok, say, short, step, usd } from './transcript.mjs';

/**
 * @param {{ env: Record<string, string>, shared: any }} ctx
 * @param {{ alice: any, bob: any, group: { id: string }, server: any, run: string }} who
 */
export async function aiProductStep(ctx, { alice, bob, group, server, run }) {
  step('The AI product: suggestions, stop and regenerate, a shared conversation, a provider fallback');
  const slow = `standin-slow-${run}`;
  const down = `standin-unavailable-${run}`;
  const price = { input_micro_usd_per_mtok: 100000, cached_input_micro_usd_per_mtok: 10000, output_micro_usd_per_mtok: 500000, context_window: 100000, max_output_tokens: 1000 };
  await expectData('ai_models (demo models)', server.from('ai_models').insert([
    { id: slow, provider: 'openai', display_name: 'Stand-in (slow)', ...price },
    { id: down, provider: 'openai', display_name: 'Stand-in (unavailable)', ...price },
  ]).select('id'));
  try {
    // Suggestions: charged once per context.
    const b0 = await bob.wallet();
    const first = await bob.sb.functions.invoke('ai-suggest', { body: { chat_id: group.id } });
    check(!first.error, 'ai-suggest', first.error?.message);
    const s1 = ctx.shared.AiSuggestResult.parse(first.data);
    check(s1.suggestions.length >= 1 && !s1.cached && s1.charged_micro_usd > 0, 'ai-suggest should suggest and charge', s1);
    say('Bob', `asks for reply suggestions in the group (ai-suggest) → ${s1.suggestions.length} suggestion(s): "${s1.suggestions[0].slice(0, 60)}…", charged ${usd(s1.charged_micro_usd)}`);
    const again = ctx.shared.AiSuggestResult.parse((await bob.sb.functions.invoke('ai-suggest', { body: { chat_id: group.id } })).data);
    check(again.cached && again.charged_micro_usd === 0, 'the same context should come from the cache', again);
    const b1 = await bob.wallet();
    checkEqual(b0.balance - b1.balance, BigInt(s1.charged_micro_usd), "Bob's wallet moved by the one charge");
    ok(`asked again (same newest message) → cached: true, charged ${usd(0)}; Bob's wallet −${usd(s1.charged_micro_usd)} in all`);

    // Stop, then regenerate.
    const chat = await expectData('create_assistant_chat', alice.sb.rpc('create_assistant_chat', { p_title: 'Picnic planning' }).single());
    const abort = new AbortController();
    let started = null;
    let seen = '';
    try {
      for await (const ev of alice.fn.aiChatStream({ chat_id: chat.id, prompt: 'Write a long packing list for a picnic', model: slow, on_disconnect: 'stop' }, abort.signal)) {
        if (ev.event === 'start') started = ev.data;
        if (ev.event === 'delta') {
          seen += ev.data.text;
          if (seen.length > 10) abort.abort();
        }
      }
    } catch (e) {
      check(abort.signal.aborted, 'only the abort may end the stream early', String(e));
    }
    check(started && seen, 'the answer should have started streaming');
    say('Alice', `asks her assistant, then presses Stop after "${seen.trim()}" (on_disconnect: stop, the request aborted)`);
    const stopped = await eventually(async () => {
      const { data } = await alice.sb.from('ai_interactions').select('status, error_code, completion_tokens, charged_micro_usd, answer_message_id, prompt_message_id').eq('id', started.interaction_id).maybeSingle();
      return data && data.status !== 'pending' ? data : null;
    });
    checkEqual(`${stopped.status}/${stopped.error_code}`, 'incomplete/stopped', 'the stopped call');
    const [partial] = await expectData('the partial answer', alice.sb.from('messages').select('content, metadata').eq('id', stopped.answer_message_id));
    checkEqual(partial.metadata.error_code, 'stopped', 'the stored partial answer is marked stopped');
    ok(`stopped: ${stopped.completion_tokens} tokens produced and charged (${usd(stopped.charged_micro_usd)}); the partial answer is stored, marked stopped`);
    const regen = await alice.fn.aiChat({ chat_id: chat.id, regenerate: true, model: 'gpt-6-luna' });
    checkEqual(regen.prompt_message_id, stopped.prompt_message_id, 'the regenerated answer replies to the same prompt');
    ok(`Regenerate → a new answer to the same prompt (${regen.model}), charged ${usd(regen.charged_micro_usd)}; both answers kept, the newest shown`);

    // Publish; an anonymous reader.
    const pub = await expectData('publish_conversation', alice.sb.rpc('publish_conversation', { p_chat_id: chat.id, p_title: 'Packing for a picnic', p_category: 'travel', p_tags: ['picnic'] }).single());
    say('Alice', `publishes the conversation "${pub.title}" (category travel) → a frozen snapshot of ${pub.message_count} messages`);
    const anon = createClient(ctx.env.API_URL, ctx.env.PUBLISHABLE_KEY, { auth: { persistSession: false, autoRefreshToken: false }, realtime: { transport: /** @type {any} */ (ws) } });
    const viewer = randomUUID();
    await expectData('view_shared_conversation', anon.rpc('view_shared_conversation', { p_shared_id: pub.id, p_viewer_id: viewer }).single());
    const read = await expectData('view_shared_conversation', anon.rpc('view_shared_conversation', { p_shared_id: pub.id, p_viewer_id: viewer }).single());
    checkEqual(read.view_count, 1, 'one view per viewer');
    const { error: chatsError } = await anon.from('chats').select('id').limit(1);
    check(chatsError, 'anon must not read chats');
    ok(`an anonymous reader (no sign-in) reads it: "${read.title}" by ${read.author_name}, ${read.messages.length} messages, views ${read.view_count} after two visits; chats stay private`);
    await expectData('unpublish_conversation', alice.sb.rpc('unpublish_conversation', { p_shared_id: pub.id }));

    // A provider outage before any output: the fallback answers.
    await expectData('ai_model_fallbacks', server.from('ai_model_fallbacks').insert({ model_id: down, fallback_model_id: 'gpt-6-luna' }).select('model_id'));
    const fb = await alice.fn.aiChat({ chat_id: chat.id, prompt: 'One more tip?', model: down });
    check(fb.fallback_from?.model === down, 'the answer should come from the fallback', fb);
    const attempts = await expectData('ai_interaction_attempts', alice.sb.from('ai_interaction_attempts').select('model, error_code').eq('interaction_id', fb.interaction_id));
    checkEqual(attempts.length, 1, 'the failed attempt is recorded');
    say('Alice', `asks with ${down} (its provider answers 503) → answered by ${fb.provider}/${fb.model} (fallback_from ${fb.fallback_from.model}, ${fb.fallback_from.error_code})`);
    ok(`fallback: one failed attempt recorded (${attempts[0].error_code}, nothing charged for it), charged ${usd(fb.charged_micro_usd)} at ${fb.model}'s prices (interaction ${short(fb.interaction_id)})`);
    note('the stand-in fails by model id: standin-unavailable-… answers 503, standin-slow-… streams slowly');
  } finally {
    await server.from('ai_models').delete().in('id', [slow, down]);
  }
}
