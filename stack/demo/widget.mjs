/**
 * The demo's website widget step (README "Website chat widget"): Alice
 * registers a website, a visitor (no account: plain HTTP with the page's
 * Origin, as widget/widget.js does) starts a session with its widget key, is
 * greeted, asks a question and gets the bot's streamed answer, paid from
 * Alice's wallet; Alice replies from the app, which stops the bot, and the
 * visitor reads her reply; Alice reads the day's analytics.
 */
import { check, checkEqual, expectData, ok, say, short, step, usd } from './transcript.mjs';

const ORIGIN = 'https://demo-shop.example';

/**
 * @param {{ env: Record<string, string>, shared: any }} ctx
 * @param {{ alice: any }} who
 */
export async function widgetStep(ctx, { alice }) {
  step('The website widget: a visitor chats with the bot on Alice\'s website, then with Alice');
  const api = `${ctx.env.FUNCTIONS_URL}/widget`;
  const site = await expectData('websites (insert, as Alice)', alice.sb.from('websites')
    .insert({ name: 'Alice\'s bakery', allowed_origins: [ORIGIN], settings: { greeting: 'Hello! Ask me about our bread.', system_prompt: 'You answer for Alice\'s bakery.' } })
    .select('id, widget_key').single());
  say('Alice', `registers "Alice's bakery" for ${ORIGIN} → widget key ${short(site.widget_key)}`);

  const started = await fetch(`${api}/session`, {
    method: 'POST', headers: { 'content-type': 'application/json', origin: ORIGIN }, body: JSON.stringify({ widget_key: site.widget_key }),
  });
  check(started.status === 201, 'POST /widget/session should answer 201', started.status);
  check(started.headers.get('access-control-allow-origin') === ORIGIN, 'CORS should name the website\'s origin', started.headers.get('access-control-allow-origin'));
  const session = ctx.shared.WidgetSession.parse(await started.json());
  say('Visitor', `opens the widget on ${ORIGIN} → greeted "${session.website.greeting}" (a session secret, stored hashed)`);
  const elsewhere = await fetch(`${api}/session`, {
    method: 'POST', headers: { 'content-type': 'application/json', origin: 'https://elsewhere.example' }, body: JSON.stringify({ widget_key: site.widget_key }),
  });
  checkEqual(elsewhere.status, 403, 'the key from another origin');
  ok('the same key from https://elsewhere.example → 403');

  const before = await alice.wallet();
  const post = (content) => fetch(`${api}/messages`, {
    method: 'POST', headers: { 'content-type': 'application/json', origin: ORIGIN, authorization: `Bearer ${session.secret}` }, body: JSON.stringify({ content }),
  });
  const events = ctx.shared.parseSseText(await (await post('Do you have rye bread today?')).text()).map((e) => ({ event: e.event, data: JSON.parse(e.data) }));
  const bot = events.find((e) => e.event === 'bot');
  check(bot && events.some((e) => e.event === 'delta'), 'the bot should stream an answer', events.map((e) => e.event));
  const [interaction] = await expectData('ai_interactions (as Alice)', alice.sb.from('ai_interactions').select('charged_micro_usd, model').eq('answer_message_id', bot.data.id));
  const after = await alice.wallet();
  checkEqual(before.balance - after.balance, BigInt(interaction.charged_micro_usd), "Alice's wallet moved by the bot's charge");
  say('Bot', `streams ${events.filter((e) => e.event === 'delta').length} deltas: "${bot.data.content.slice(0, 50)}…"`);
  ok(`widget bot answer (${interaction.model}) charged to Alice's wallet: ${usd(interaction.charged_micro_usd)}`);

  const [row] = await expectData('widget_sessions (as Alice)', alice.sb.from('widget_sessions').select('chat_id').eq('id', session.session_id));
  await expectData('send_message (as Alice, in the widget chat)', alice.sb.rpc('send_message', { p_chat_id: row.chat_id, p_content: 'Yes, fresh from the oven at 4pm!' }));
  const handoff = ctx.shared.parseSseText(await (await post('Great, I will come by.')).text()).map((e) => e.event);
  checkEqual(handoff.join(','), 'message,handoff', 'after a human reply the bot stays silent');
  const seen = ctx.shared.WidgetMessages.parse(await (await fetch(`${api}/messages`, { headers: { origin: ORIGIN, authorization: `Bearer ${session.secret}` } })).json());
  check(seen.messages.some((m) => m.role === 'agent' && m.content.startsWith('Yes, fresh')), 'the visitor should read Alice\'s reply', seen);
  say('Alice', 'replies from her inbox (the widget chat) → the bot stops; the visitor reads her reply as "agent"');

  const today = new Date().toISOString().slice(0, 10);
  const [day] = await expectData('get_widget_analytics', alice.sb.rpc('get_widget_analytics', { p_website_id: site.id, p_from: today, p_to: today }));
  ok(`widget analytics today: ${day.sessions} session, ${day.visitor_messages} visitor messages, ${day.bot_answers} bot answer (${usd(day.bot_cost_micro_usd)}), ${day.handoffs} handoff`);
}
