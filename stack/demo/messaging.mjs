/**
 * The demo's messaging step (docs/messaging.md): in the group, Bob mentions
 * Alice; Carol and Alice react; the reactions and delivery ticks come with the
 * history page (computed fields `reactions`, `delivery`); Carol's and Alice's
 * devices acknowledge delivery in one call each, Alice reads it, and Bob sees
 * sent → delivered → read; Alice finds it with a search and gets the mention
 * notification; she pins it.
 */
import { check, checkEqual, expectData, ok, say, short, step } from './transcript.mjs';

/**
 * @param {{ env: Record<string, string>, shared: any }} ctx
 * @param {{ alice: any, bob: any, carol: any, group: { id: string }, run: string }} who
 */
export async function messagingStep(ctx, { alice, bob, carol, group, run }) {
  step('Messaging: a mention, reactions, delivery ticks, a search and a pinned message');
  const msg = await expectData('send_message (as Bob)', bob.sb.rpc('send_message', {
    p_chat_id: group.id, p_content: `@${alice.username} the picnic is on Saturday, bring the quokka blanket (${run})`,
  }).single());
  say('Bob', `writes in the group: "@${alice.username} the picnic is on Saturday…" → ${short(msg.id)}`);

  /** Bob's view of his message: reactions and delivery status in the same query as the page. */
  const bobSees = async () => {
    const page = await expectData('get_chat_history (as Bob)', bob.sb.rpc('get_chat_history', { p_chat_id: group.id, p_limit: 5 }).select('id, reactions, delivery'));
    const mine = page.find((m) => m.id === msg.id);
    check(mine, 'Bob should see his message in the history page', page);
    return { reactions: ctx.shared.ReactionSummary.parse(mine.reactions), delivery: ctx.shared.DeliveryStatus.parse(mine.delivery) };
  };
  checkEqual((await bobSees()).delivery.status, 'sent', 'status before any device acknowledged it');

  await expectData('add_reaction (as Carol)', carol.sb.rpc('add_reaction', { p_message_id: msg.id, p_emoji: '👍' }));
  await expectData('add_reaction (as Alice)', alice.sb.rpc('add_reaction', { p_message_id: msg.id, p_emoji: '👍' }));
  await expectData('add_reaction (as Alice)', alice.sb.rpc('add_reaction', { p_message_id: msg.id, p_emoji: '🎉' }));
  say('Carol', 'reacts 👍; Alice reacts 👍 and 🎉');

  await expectData('mark_delivered (as Carol)', carol.sb.rpc('mark_delivered', { p_message_ids: [msg.id] }));
  await expectData('mark_delivered (as Alice)', alice.sb.rpc('mark_delivered', { p_message_ids: [msg.id] }));
  const delivered = (await bobSees()).delivery;
  checkEqual(`${delivered.status} ${delivered.delivered}/${delivered.recipients}`, 'delivered 2/2', 'after both devices acknowledged');
  await expectData('mark_chat_read (as Alice)', alice.sb.rpc('mark_chat_read', { p_chat_id: group.id }));
  const { reactions, delivery } = await bobSees();
  const summary = reactions.map((r) => `${r.emoji} ×${r.count}`).join(', ');
  checkEqual(summary, '👍 ×2, 🎉 ×1', 'reactions Bob reads with the page');
  ok(`Bob's ticks: sent → delivered (2/2) → read by ${delivery.read} of ${delivery.recipients}; reactions ${summary}`);

  const found = await expectData('search_messages (as Alice)', alice.sb.rpc('search_messages', { p_query: `picnic quok ${run}` }));
  checkEqual(found[0]?.id, msg.id, 'the best search hit');
  ok(`Alice searches "picnic quok ${run}" (prefixes, any language) → ${found.length} hit, Bob's message first`);

  const mentions = (await alice.notifications('mention')).filter((n) => n.payload.message_id === msg.id);
  checkEqual(mentions.length, 1, 'mention notifications for Alice');
  ctx.shared.MentionNotificationPayload.parse(mentions[0].payload);
  ok(`Alice was mentioned: 1 notification (mention) resolved by the server from @${alice.username}`);

  await expectData('pin_message (as Alice)', alice.sb.rpc('pin_message', { p_message_id: msg.id }).single());
  const pins = await expectData('pinned_messages (as Carol)', carol.sb.from('pinned_messages').select('message_id').eq('chat_id', group.id));
  checkEqual(pins.map((p) => p.message_id).join(), msg.id, 'the group\'s pinned messages as Carol reads them');
  ok('Alice (owner) pins it; Carol reads the group\'s pinned messages');
}
