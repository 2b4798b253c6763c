/**
 * The journey of the product's primary user story (sign-up, friends, direct
 * and group chats, replies and edits, read receipts, typing and messages in
 * real time, the AI assistant paid with credits, a top-up, a picture), played
 * through supabase-js as each person (see people.mjs), each step printed and
 * checked. Each person's app keeps its private Realtime channels joined from
 * sign-in on (realtime.mjs): what arrives there is checked where it matters and
 * summed up in the last step.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { SEED_USERS } from '../standins/clerk.mjs';
import { sunsetPng } from './picture.mjs';
import { Person, clerkUser, postClerkWebhook, serviceClient } from './people.mjs';
import { aiProductStep } from './ai-product.mjs';
import { widgetStep } from './widget.mjs';
import { messagingStep } from './messaging.mjs';
import { contactsStep } from './contacts.mjs';
import { pushStep } from './push.mjs';
import { storiesStep } from './stories.mjs';
import { Channels } from './realtime.mjs';
import { WHO, bold, check, checkEqual, cyan, eventually, expectData, note, ok, say, short, step, usd } from './transcript.mjs';

/**
 * Plays the journey.
 * @param {{ env: Record<string, string>, clerk: any, shared: typeof import('@chat-with-me/shared') }} ctx
 */
export async function journey(ctx) {
  const channels = new Channels();
  try {
    return await play(ctx, channels);
  } finally {
    await channels.leaveAll();
  }
}

/** @param {any} ctx @param {Channels} channels */
async function play(ctx, channels) {
  const { shared } = ctx;
  const run = randomBytes(3).toString('hex');
  const alice = new Person(ctx, { first: 'Alice', last: 'Archer', run });
  const bob = new Person(ctx, { first: 'Bob', last: 'Baker', run });
  const carol = new Person(ctx, { first: 'Carol', last: 'Chen', run });
  const people = [alice, bob, carol];
  const seedAdmin = SEED_USERS.find((u) => u.admin);
  check(seedAdmin, 'the seed should have an admin (stack/standins/clerk.mjs SEED_USERS)');
  const [adminFirst, ...adminLast] = seedAdmin.name.split(' ');
  const admin = new Person(ctx, { first: adminFirst, last: adminLast.join(' '), id: seedAdmin.id });
  const server = serviceClient(ctx.env);
  const nameOf = (id) => people.find((p) => p.id === id)?.name ?? (id === null ? 'AI' : id);

  // ---------------------------------------------------------------------------
  step('Three people sign up: Clerk tells clerk-webhook (Svix-signed user.created)');
  for (const p of people) {
    const res = await postClerkWebhook(ctx, 'user.created', clerkUser(p));
    check(res.status === 200 && res.body?.outcome === 'created', `clerk-webhook should create ${p.name}'s profile`, res);
    say('Clerk', `user.created for ${bold(`${p.first} ${p.last}`)} (${p.id}) → 200 ${res.body.outcome}`);
  }
  for (const p of people) {
    // supabase.functions.invoke sends the Clerk token; the answer is checked with the shared schema.
    const { data, error } = await p.sb.functions.invoke('me', { method: 'GET' });
    check(!error, `${p.name}'s me (supabase.functions.invoke)`, error?.message);
    const me = shared.MeResponse.parse(data);
    checkEqual(me.user.id, p.id, `${p.name}'s me`);
    checkEqual(me.user.display_name, `${p.first} ${p.last}`, `${p.name}'s display name`);
    const acct = await expectData(`${p.name} reads user_accounts`, p.sb.from('user_accounts').select('email, auth_provider').maybeSingle());
    checkEqual(acct?.email, p.email, `${p.name} reads her/his own account (RLS)`);
    const w = await p.wallet();
    check(w.balance > 0n, `${p.name} should start with the welcome grant (credits.welcome_grant_micro_usd)`, String(w.balance));
    say(p.name, `signs in; \`me\` → @${me.user.username}, ${acct.email}; wallet ${usd(w.balance)} (welcome grant)`);
  }
  // Each app joins its user's private channel, as the README's client code does after sign-in.
  /** Each person's joined channels, by topic. @type {Map<string, Map<string, import('./realtime.mjs').LiveChannel>>} */
  const live = new Map(people.map((p) => [p.id, new Map()]));
  const joinAs = async (p, topic, schemas, opts) => {
    const ch = await channels.subscribe(p, topic, schemas, opts);
    live.get(p.id).set(topic, ch);
    return ch;
  };
  for (const p of people) await joinAs(p, shared.userTopic(p.id), shared.UserChannelEvents);
  ok(`Realtime: each app joined its private channel ${shared.userTopic('<me>')} (supabase-js, Clerk token) → SUBSCRIBED`);
  const others = await expectData('Alice reads others’ accounts', alice.sb.from('user_accounts').select('user_id, email').in('user_id', [bob.id, carol.id]));
  checkEqual(others.length, 0, "Alice must not read other people's accounts");
  ok("RLS: Alice reads her own account (email) and nobody else's");

  // ---------------------------------------------------------------------------
  step('Friend requests: sent, accepted and declined');
  const request = async (from, to) => {
    const r = await expectData(`${from.name} → ${to.name} request`, from.sb.rpc('send_friend_request', { p_user_id: to.id }).single());
    checkEqual(r.status, 'pending', `${from.name} → ${to.name} request`);
    say(from.name, `sends ${to.name} a friend request → ${r.status}`);
    return r.id;
  };
  const answer = async (who, id, verb) => {
    const r = await expectData(`${who.name} ${verb}s`, who.sb.rpc(verb === 'accept' ? 'accept_friend_request' : 'decline_friend_request', { p_request_id: id }).single());
    checkEqual(r.status, verb === 'accept' ? 'accepted' : 'declined', `${who.name} ${verb}s`);
    say(who.name, `${verb}s → ${r.status}`);
  };
  const ab = await request(alice, bob);
  const ac = await request(alice, carol);
  const cb = await request(carol, bob);
  const bobsRequests = await bob.notifications('friend_request');
  checkEqual(bobsRequests.length, 2, "Bob's friend_request notifications");
  note(`Bob's notifications: ${bobsRequests.length} × friend_request (from ${bobsRequests.map((n) => nameOf(n.payload.from_user_id)).join(', ')})`);
  await answer(bob, ab, 'accept');
  await answer(carol, ac, 'accept');
  await answer(bob, cb, 'decline');
  const friends = await expectData(
    "Alice's friends",
    alice.sb.from('friends').select('requester_id, addressee_id, status').eq('status', 'accepted').order('responded_at'),
  );
  const friendNames = friends.map((f) => nameOf(f.requester_id === alice.id ? f.addressee_id : f.requester_id));
  checkEqual(friendNames.join(','), 'Bob,Carol', "Alice's friends");
  ok(`Alice's friends: ${friendNames.join(', ')}`);
  checkEqual((await alice.notifications('friend_request_accepted')).length, 2, "Alice's friend_request_accepted notifications");
  checkEqual((await carol.notifications('friend_request_declined')).length, 1, "Carol's friend_request_declined notification");
  ok('Alice was told twice (friend_request_accepted), Carol once (friend_request_declined)');
  const bobSees = await expectData('Bob reads friends', bob.sb.from('friends').select('id').eq('requester_id', alice.id).eq('addressee_id', carol.id));
  checkEqual(bobSees.length, 0, 'Bob must not see the friendship of Alice and Carol');
  ok('RLS: Bob does not see the friendship of Alice and Carol');

  // ---------------------------------------------------------------------------
  step('A direct chat (Alice ↔ Bob) and a group chat (Alice, Bob, Carol)');
  const direct = await expectData('Alice opens a direct chat', alice.sb.rpc('get_or_create_direct_chat', { p_user_id: bob.id }).single());
  checkEqual(direct.kind, 'direct', 'direct chat kind');
  say('Alice', `opens a direct chat with Bob → chat ${short(direct.id)}`);
  const again = await expectData('Bob opens a direct chat', bob.sb.rpc('get_or_create_direct_chat', { p_user_id: alice.id }).single());
  checkEqual(again.id, direct.id, 'one direct chat per pair');
  say('Bob', 'opens a direct chat with Alice → the same chat (one per pair)');
  const groupTitle = 'Weekend trip ⛰️';
  const group = await expectData('Alice creates a group', alice.sb.rpc('create_group_chat', { p_title: groupTitle, p_member_ids: [bob.id, carol.id] }).single());
  checkEqual(group.kind, 'group', 'group chat kind');
  const members = await expectData('Carol reads the members', carol.sb.from('chat_members').select('user_id, role').eq('chat_id', group.id).order('role').order('user_id'));
  checkEqual(members.length, 3, 'group members');
  say('Alice', `creates the group "${groupTitle}" with Bob and Carol → chat ${short(group.id)}`);
  ok(`members, as Carol reads them: ${members.map((m) => `${nameOf(m.user_id)} (${m.role})`).join(', ')}`);
  const carolSeesDirect = await expectData('Carol reads chats', carol.sb.from('chats').select('id').eq('id', direct.id));
  checkEqual(carolSeesDirect.length, 0, 'Carol must not see the direct chat of Alice and Bob');
  ok('RLS: Carol does not see the direct chat of Alice and Bob');
  for (const p of [alice, bob]) await joinAs(p, shared.chatTopic(direct.id), shared.ChatChannelEvents);
  for (const p of people) await joinAs(p, shared.chatTopic(group.id), shared.ChatChannelEvents);
  const label = { [direct.id]: '<direct>', [group.id]: '<group>' };
  ok(`Realtime: Alice and Bob joined ${shared.chatTopic('<direct>')}, all three ${shared.chatTopic('<group>')} → SUBSCRIBED`);
  for (const [who, topic, shown] of [
    [carol, shared.chatTopic(direct.id), shared.chatTopic('<direct>')],
    [bob, shared.userTopic(alice.id), shared.userTopic('<alice>')],
  ]) {
    const refused = await channels.join(who, topic, shared.ChatChannelEvents);
    checkEqual(refused.status, 'CHANNEL_ERROR', `${who.name} joining ${shown} must be refused`);
    check(/^Unauthorized: /.test(refused.message ?? ''), `${who.name}'s join of ${shown} should be refused by the join policy`, refused.message);
    ok(`Realtime: ${who.name} tries to join ${shown} → CHANNEL_ERROR "${refused.message.replace(topic, shown)}"`);
  }

  // ---------------------------------------------------------------------------
  step('Messages, a reply and an edit');
  const send = async (who, chat, text, opts = {}) => {
    const m = await expectData(
      `${who.name}'s message`,
      who.sb
        .rpc('send_message', { p_chat_id: chat.id, p_content: text, p_kind: 'text', p_client_id: opts.clientId ?? randomUUID(), p_reply_to_id: opts.replyTo })
        .single(),
    );
    check(m?.id, `${who.name}'s message should be stored`, m);
    say(who.name, `${opts.replyTo ? '↳ replies ' : ''}"${text}"`);
    return m;
  };
  const hiKey = randomUUID();
  const hi = await send(alice, direct, 'Hi Bob! Are you coming on Saturday?', { clientId: hiKey });
  const retry = await expectData(
    'a retried send',
    alice.sb.rpc('send_message', { p_chat_id: direct.id, p_content: 'Hi Bob! Are you coming on Saturday?', p_client_id: hiKey }).single(),
  );
  checkEqual(retry.id, hi.id, 'a retried send (same client id) returns the first message');
  ok('her app retried the send (same client id): still one message');
  const reply = await send(bob, direct, 'Yes! Wouldn’t miss it.', { replyTo: hi.id });
  checkEqual(reply.reply_to_id, hi.id, "Bob's reply quotes Alice's message");
  // PATCH /rest/v1/messages?id=eq.… with Prefer: return=representation.
  const edited = await expectData(
    'Alice edits',
    alice.sb.from('messages').update({ content: 'Hi Bob! Are you coming on Saturday? 🏕️' }).eq('id', hi.id).select('content, edited_at').maybeSingle(),
  );
  check(edited?.edited_at, 'the edit should set edited_at', edited);
  say('Alice', `edits her first message → "${edited.content}" (edited)`);
  const stolen = await expectData("Bob edits Alice's message", bob.sb.from('messages').update({ content: 'hacked' }).eq('id', hi.id).select('id'));
  checkEqual(stolen.length, 0, "Bob must not edit Alice's message");
  ok("RLS: Bob's attempt to edit Alice's message changes nothing");
  await send(alice, group, 'Who’s in for the lake hike on Saturday?');
  await send(carol, group, 'Me! I’ll bring snacks.');
  await send(bob, group, 'Count me in.');
  const history = await expectData('get_chat_history', bob.sb.rpc('get_chat_history', { p_chat_id: direct.id }).order('created_at').order('id'));
  checkEqual(history.length, 2, 'direct chat history');
  ok(`Bob's direct chat history (get_chat_history): ${history.map((m) => `${nameOf(m.sender_id)}: "${m.content}"${m.edited_at ? ' (edited)' : ''}${m.reply_to_id ? ' ↳ reply' : ''}`).join(' | ')}`);

  // ---------------------------------------------------------------------------
  step('Read receipts and the inbox with unread counts');
  const inbox = (who) => expectData(`${who.name}'s inbox`, who.sb.rpc('get_inbox'));
  const showInbox = (who, rows) => {
    for (const r of rows) note(`${who.name}'s inbox: ${(r.title ?? r.peer_display_name ?? '?').padEnd(16)} unread ${r.unread_count}  last: "${r.last_message_content}"`);
  };
  const unreadOf = (rows, chat) => rows.find((r) => r.chat_id === chat.id)?.unread_count;
  let rows = await inbox(alice);
  showInbox(alice, rows);
  checkEqual(rows[0]?.chat_id, group.id, "Alice's inbox starts with the latest activity (the group)");
  checkEqual(unreadOf(rows, direct), 1, "Alice's unread in the direct chat (Bob's reply)");
  checkEqual(unreadOf(rows, group), 2, "Alice's unread in the group (Carol's and Bob's messages)");
  ok('Alice: 1 unread from Bob, 2 unread in the group');
  rows = await inbox(carol);
  checkEqual(unreadOf(rows, group), 2, "Carol's unread in the group");
  checkEqual(rows.length, 1, "Carol's inbox has only the group");
  const read = await expectData('mark_chat_read', alice.sb.rpc('mark_chat_read', { p_chat_id: direct.id }).single());
  checkEqual(read.last_read_message_id, reply.id, 'Alice read up to Bob’s reply');
  say('Alice', 'opens the direct chat: mark_chat_read → read receipt up to Bob’s reply');
  await expectData('mark_chat_read', alice.sb.rpc('mark_chat_read', { p_chat_id: group.id }));
  say('Alice', 'opens the group: mark_chat_read');
  const receipts = await expectData(
    "Bob reads Alice's receipt",
    bob.sb.from('chat_members').select('last_read_message_id').eq('chat_id', direct.id).eq('user_id', alice.id),
  );
  checkEqual(receipts[0]?.last_read_message_id, reply.id, "Bob sees Alice's read receipt");
  const bobsDirect = live.get(bob.id).get(shared.chatTopic(direct.id));
  const receipt = await bobsDirect.waitFor('read', (r) => r.user_id === alice.id, `Bob's app should receive Alice's read receipt`);
  checkEqual(receipt.payload.message_id, reply.id, `the \`read\` event Bob received on ${shared.chatTopic('<direct>')}`);
  ok(`Bob sees that Alice read his reply: chat_members.last_read_message_id, and live, a \`read\` event on ${shared.chatTopic('<direct>')}`);
  rows = await inbox(alice);
  checkEqual(unreadOf(rows, direct), 0, "Alice's unread in the direct chat after reading");
  checkEqual(unreadOf(rows, group), 0, "Alice's unread in the group after reading");
  ok("Alice's inbox: 0 unread everywhere");

  // ---------------------------------------------------------------------------
  step('Alice and Bob in real time: presence, typing, a message and its read receipt through Realtime channels');
  // Both apps have the chat's record (chat:<id>, only the database publishes there) joined since step 3;
  // now they join its presence channel, where members publish typing (Broadcast) and who is online (Presence).
  const presenceTopic = shared.chatPresenceTopic(direct.id);
  const bobsPresence = await joinAs(bob, presenceTopic, shared.ChatPresenceEvents, { presenceKey: bob.id });
  const bobOnline = { user_id: bob.id, online_at: new Date().toISOString() };
  checkEqual(await bobsPresence.channel.track(bobOnline), 'ok', "Bob's presence track");
  say('Bob', `joins ${shared.chatPresenceTopic('<direct>')} and tracks his presence → SUBSCRIBED, tracked`);
  const alicesPresence = await joinAs(alice, presenceTopic, shared.ChatPresenceEvents, { presenceKey: alice.id, ack: true });
  say('Alice', `joins ${shared.chatPresenceTopic('<direct>')} → SUBSCRIBED`);
  const online = await eventually(() => alicesPresence.channel.presenceState()[bob.id]?.[0] ?? null, 5_000);
  check(online, "Alice's app should see Bob in the chat's presence state", alicesPresence.channel.presenceState());
  const state = shared.ChatPresenceState.safeParse(online);
  check(state.success && state.data.user_id === bob.id, "Bob's presence state should match ChatPresenceState", online);
  ok(`Alice sees Bob online (Presence: {user_id: <bob>, online_at}, as ChatPresenceState describes it)`);

  let t = performance.now();
  checkEqual(
    await alicesPresence.channel.send({ type: 'broadcast', event: 'typing', payload: { user_id: alice.id, typing: true } }),
    'ok',
    "Alice's typing broadcast (ack)",
  );
  say('Alice', `starts typing: her app sends \`typing\` on ${shared.chatPresenceTopic('<direct>')} (client Broadcast, acknowledged)`);
  const typing = await bobsPresence.waitFor('typing', (p) => p.user_id === alice.id && p.typing, "Bob's app should see Alice typing");
  ok(`Bob sees "Alice is typing…" (TypingPayload, ${Math.round(typing.at - t)} ms after she started)`);

  const liveText = 'On my way, see you at 8 at the trailhead!';
  t = performance.now();
  const liveMsg = await send(alice, direct, liveText);
  const insert = await bobsDirect.waitFor('INSERT', (p) => p.record?.id === liveMsg.id, "Bob's app should receive Alice's message");
  checkEqual(insert.payload.record.content, liveText, 'the message Bob received');
  checkEqual(insert.payload.record.sender_id, alice.id, 'the sender of the message Bob received');
  ok(`Bob receives it on ${shared.chatTopic('<direct>')}: INSERT of the stored message (MessageChangePayload), ${Math.round(insert.at - t)} ms after she sent it`);

  t = performance.now();
  await expectData('mark_chat_read', bob.sb.rpc('mark_chat_read', { p_chat_id: direct.id }));
  say('Bob', 'reads it: mark_chat_read');
  const alicesDirect = live.get(alice.id).get(shared.chatTopic(direct.id));
  const seenBy = await alicesDirect.waitFor('read', (r) => r.user_id === bob.id && r.message_id === liveMsg.id, "Alice's app should receive Bob's read receipt");
  ok(`Alice sees "Seen" under her message: \`read\` from Bob on ${shared.chatTopic('<direct>')} (ReadReceiptPayload), ${Math.round(seenBy.at - t)} ms after he read it`);

  // ---------------------------------------------------------------------------
  step('The AI assistant answers in the group, streamed and metered');
  const thresholdKey = 'credits.low_balance_threshold_micro_usd';
  const before = await alice.wallet();
  const setting = await expectData(`${admin.name} reads ${thresholdKey}`, admin.sb.from('admin_config').select('value').eq('key', thresholdKey).single());
  const oldThreshold = setting.value;
  const lowBefore = (await alice.notifications('low_balance')).length;
  let result;
  try {
    await expectData(
      'admin_set_config',
      admin.sb.rpc('admin_set_config', { p_key: thresholdKey, p_value: Number(before.balance), p_reason: 'demo: let the next AI charge cross the low-balance threshold' }),
    );
    say('Admin', `(${admin.first} ${admin.last}, the seed's admin, in her admin app) sets ${thresholdKey} from ${usd(oldThreshold)} to ${usd(before.balance)},`);
    note("Alice's current balance, so the next charge takes her below it (rpc admin_set_config, audited)");
    say('Alice', `asks the AI in "${groupTitle}": "Suggest a picnic menu for three hikers"   (wallet ${usd(before.balance)})`);
    let streamed = '';
    let start;
    // The answer as it streams in, word-wrapped under the speaker's name.
    const indent = 4 + WHO;
    process.stdout.write(`    ${cyan('AI'.padEnd(WHO))}`);
    let col = indent;
    let space = false;
    for await (const ev of alice.fn.aiChatStream({ chat_id: group.id, prompt: 'Suggest a picnic menu for three hikers' })) {
      if (ev.event === 'start') start = ev.data;
      if (ev.event === 'delta') {
        streamed += ev.data.text;
        for (const word of ev.data.text.split(/(\s+)/)) {
          if (!word) continue;
          if (!/\S/.test(word)) {
            space = col > indent;
            continue;
          }
          if (col + word.length + 1 > 100) {
            process.stdout.write(`\n${' '.repeat(indent)}`);
            col = indent;
          } else if (space) {
            process.stdout.write(' ');
            col += 1;
          }
          space = false;
          process.stdout.write(word);
          col += word.length;
        }
      }
      if (ev.event === 'done') result = ev.data;
    }
    process.stdout.write('\n');
    check(start, 'the stream should begin with a start event');
    check(result, 'the stream should end with a done event');
    checkEqual(result.content, streamed, 'the stored answer is what streamed');
    check(result.stored && result.answer_message_id, 'the answer should be stored as a message', result);
    note(`start: ${start.provider}/${start.model}, ${start.context_messages} messages of context, ${usd(start.reserved_micro_usd)} held while it runs`);
  } finally {
    await expectData('admin_set_config (restore)', admin.sb.rpc('admin_set_config', { p_key: thresholdKey, p_value: oldThreshold, p_reason: 'demo: restore the low-balance threshold' }));
  }
  say('Admin', `restores ${thresholdKey} to ${usd(oldThreshold)}`);
  const after = await alice.wallet();
  const ai = await expectData(
    'ai_interactions',
    alice.sb
      .from('ai_interactions')
      .select('status, provider, model, prompt_tokens, completion_tokens, cost_micro_usd, charged_micro_usd, latency_ms')
      .eq('id', result.interaction_id)
      .maybeSingle(),
  );
  checkEqual(ai?.status, 'succeeded', 'the ai_interactions row');
  check(BigInt(ai.charged_micro_usd) > 0n, 'the call should cost something', ai);
  checkEqual(before.balance - after.balance, BigInt(ai.charged_micro_usd), "Alice's balance moved by exactly the charge");
  checkEqual(after.held, 0n, 'no credits stay held after the call');
  ok(`ai_interactions (as Alice): ${ai.provider}/${ai.model}, ${ai.prompt_tokens} prompt + ${ai.completion_tokens} completion tokens, cost ${usd(ai.cost_micro_usd)}, ${ai.latency_ms} ms`);
  ok(`Alice's wallet: ${usd(before.balance)} → ${usd(after.balance)} (−${usd(ai.charged_micro_usd)}), nothing left held`);
  const lows = await alice.notifications('low_balance');
  checkEqual(lows.length, lowBefore + 1, 'one low_balance notification');
  const low = lows.at(-1).payload;
  ok(`low-balance alert: notification low_balance (balance ${usd(low.balance_micro_usd)} < threshold ${usd(low.threshold_micro_usd)})`);
  const seen = await expectData('Carol reads the group', carol.sb.rpc('get_chat_history', { p_chat_id: group.id, p_limit: 2 }).order('created_at').order('id'));
  checkEqual(seen.map((m) => m.kind).join(','), 'text,ai', 'Carol sees the question and the answer in the group');
  checkEqual(seen[0].sender_id, alice.id, "the question is Alice's message");
  ok('Carol sees both in the group: Alice’s question (text) and the answer (ai)');

  // ---------------------------------------------------------------------------
  step('Alice tops up her credits: Stripe Checkout and the signed webhook');
  const pack = await expectData(
    'credit_packs',
    alice.sb.from('credit_packs').select('id, name, price_minor, currency, credits_micro_usd').eq('active', true).order('sort_order').order('price_minor').limit(1).maybeSingle(),
  );
  check(pack, 'an active credit pack should exist (seeded by the payments migration)');
  const topBefore = await alice.wallet();
  const checkout = await alice.fn.paymentsCheckout({
    pack_id: pack.id,
    success_url: 'http://localhost:3000/credits/success?session_id={CHECKOUT_SESSION_ID}',
    cancel_url: 'http://localhost:3000/credits',
  });
  say('Alice', `buys "${pack.name}" (${(pack.price_minor / 100).toFixed(2)} ${pack.currency.toUpperCase()} → ${usd(pack.credits_micro_usd)} of credits): payments-checkout → session ${short(checkout.session_id)}`);
  const pay = () => fetch(checkout.checkout_url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'action=pay', redirect: 'manual' });
  const paid = await pay();
  checkEqual(paid.status, 303, 'the hosted page redirects after paying');
  const back = paid.headers.get('location') ?? '';
  check(back.startsWith('http://localhost:3000/credits/success') && back.includes(checkout.session_id), 'back to the success URL', back);
  say('Alice', 'pays on the hosted checkout page (Stripe stand-in) → back to the success page');
  say('Stripe', 'checkout.session.completed, signed → stripe-webhook');
  const payment = await eventually(async () => {
    const p = await expectData(
      'payments',
      alice.sb.from('payments').select('status, amount_minor, credits_micro_usd').eq('stripe_checkout_session_id', checkout.session_id).maybeSingle(),
    );
    return p?.status === 'paid' ? p : null;
  });
  checkEqual(payment?.status, 'paid', 'the payment (as Alice reads it)');
  const topAfter = await alice.wallet();
  checkEqual(topAfter.balance - topBefore.balance, BigInt(pack.credits_micro_usd), 'the wallet is credited with the pack');
  const entries = await expectData(
    'credit_ledger',
    alice.sb.from('credit_ledger').select('kind, amount_micro_usd').eq('source', 'stripe.checkout_session').eq('source_id', checkout.session_id),
  );
  checkEqual(entries.length, 1, 'exactly one ledger entry for the session');
  ok(`payment paid; wallet ${usd(topBefore.balance)} → ${usd(topAfter.balance)} (+${usd(entries[0].amount_micro_usd)}), one ledger entry (${entries[0].kind})`);
  checkEqual((await pay()).status, 409, 'paying a completed session again is refused');
  checkEqual((await alice.wallet()).balance, topAfter.balance, 'the balance after a second pay attempt');
  ok('paying the same session again is refused; credited once');
  const tops = await alice.notifications('topup_succeeded');
  checkEqual(tops.length, 1, 'one topup_succeeded notification');
  ok(`notification topup_succeeded: "${tops[0].payload.pack_name}", +${usd(tops[0].payload.credits_micro_usd ?? pack.credits_micro_usd)}`);

  // ---------------------------------------------------------------------------
  step('Bob shares a photo: media-sign, a signed upload to Cloudinary, an image message');
  const sign = await bob.fn.mediaSign({ purpose: 'chat_image' });
  checkEqual(sign.params.folder, shared.mediaFolder(bob.id, 'chat_image'), 'the signed folder is Bob’s');
  say('Bob', `asks media-sign for a chat_image signature → folder ${sign.params.folder.replace(bob.id, '<bob>')}, formats ${sign.params.allowed_formats}`);
  const picture = sunsetPng();
  const upRes = await fetch(sign.upload_url, {
    method: 'POST',
    body: shared.buildCloudinaryUploadForm(sign, new Blob([new Uint8Array(picture)], { type: 'image/png' }), 'sunset.png'),
  });
  const asset = await upRes.json();
  checkEqual(upRes.status, 200, `the upload (${JSON.stringify(asset?.error ?? '')})`);
  say('Bob', `uploads sunset.png (${picture.length} bytes) straight to Cloudinary (stand-in) → ${asset.format} ${asset.width}×${asset.height}`);
  say('Cloudinary', 'signed upload notification → cloudinary-webhook');
  const media = await eventually(() =>
    expectData('media', bob.sb.from('media').select('id, public_id, format, width, height, bytes, secure_url').eq('public_id', asset.public_id).maybeSingle()),
  );
  check(media, 'cloudinary-webhook should record the upload for Bob (public.media)', asset.public_id);
  ok(`recorded in media (as Bob reads it): ${media.format} ${media.width}×${media.height}, ${media.bytes} bytes`);
  const imageMsg = await expectData(
    'the image message',
    bob.sb.rpc('send_message', { p_chat_id: group.id, p_content: 'Sunset at the lake last year 🌅', p_kind: 'image', p_client_id: randomUUID(), p_media_id: media.id }).single(),
  );
  checkEqual(imageMsg.kind, 'image', 'the image message');
  say('Bob', `sends it to "${groupTitle}": "Sunset at the lake last year 🌅" (image)`);
  const [carolSees] = await expectData('Carol reads the group', carol.sb.rpc('get_chat_history', { p_chat_id: group.id, p_limit: 1 }));
  checkEqual(carolSees?.kind, 'image', 'Carol reads the image message');
  const picSeen = await expectData('Carol reads the media', carol.sb.from('media').select('secure_url, width, height').eq('id', carolSees.media_id).maybeSingle());
  checkEqual(picSeen?.secure_url, media.secure_url, 'Carol reads the picture (media of her chat)');
  await expectData('mark_chat_read', carol.sb.rpc('mark_chat_read', { p_chat_id: group.id }));
  ok(`Carol reads it: ${picSeen.width}×${picSeen.height} at ${picSeen.secure_url.replace(/^(https:\/\/[^/]+\/).*(\/[^/]+)$/, '$1…$2')}, and marks the group read`);

  // ---------------------------------------------------------------------------
  step('Balances and the ledger reconciliation');
  for (const p of people) {
    const w = await p.wallet();
    const ledger = await expectData(`${p.name}'s ledger`, p.sb.from('credit_ledger').select('kind, amount_micro_usd'));
    const total = ledger.reduce((s, e) => s + BigInt(e.amount_micro_usd), 0n);
    const kinds = [...new Set(ledger.map((e) => e.kind))].sort().join(', ');
    checkEqual(total, w.balance, `${p.name}: sum of ledger = balance`);
    say(p.name, `balance ${usd(w.balance).padStart(10)} = sum of ${ledger.length} ledger entr${ledger.length === 1 ? 'y' : 'ies'} (${kinds})`);
  }
  // The same, as a trusted server reads it (secret key: service_role bypasses RLS).
  const ids = people.map((p) => p.id);
  const wallets = await expectData('credit_wallets (service role)', server.from('credit_wallets').select('user_id, balance_micro_usd, held_micro_usd').in('user_id', ids));
  const entriesAll = await expectData('credit_ledger (service role)', server.from('credit_ledger').select('user_id, amount_micro_usd').in('user_id', ids));
  checkEqual(wallets.length, people.length, 'the server reads every wallet');
  for (const w of wallets) {
    const sum = entriesAll.filter((e) => e.user_id === w.user_id).reduce((s, e) => s + BigInt(e.amount_micro_usd), 0n);
    checkEqual(sum, BigInt(w.balance_micro_usd), `${nameOf(w.user_id)}'s wallet = sum of ledger (service role)`);
    checkEqual(BigInt(w.held_micro_usd), 0n, `${nameOf(w.user_id)} has nothing held`);
  }
  say('Server', `(secret key, service_role) ${wallets.length} wallets and ${entriesAll.length} ledger entries: every wallet = sum of its ledger, nothing held`);

  // ---------------------------------------------------------------------------
  step('What each person’s app received live on its private Realtime channels');
  note('joined from sign-in (user:<me>) and from the chats’ creation (chat:<id>) on; every payload checked with its shared schema on arrival');
  const fmt = (evs) => (evs.length ? evs.map((e) => `${e.event} ×${e.n}`).join(', ') : '(nothing)');
  const count = (ch, name) => ch.counts().find((e) => e.event === name)?.n ?? 0;
  const expectations = {
    [alice.id]: { user: ['notification', 'balance', 'chat_added'], chats: [direct, group] },
    [bob.id]: { user: ['notification', 'chat_added', 'media'], chats: [direct, group] },
    [carol.id]: { user: ['notification', 'chat_added'], chats: [group] },
  };
  // The last events of the journey (Bob's image message, Carol's read mark, Bob's upload) may still be on their way.
  await live.get(carol.id).get(shared.chatTopic(group.id)).waitFor('read', (r) => r.user_id === carol.id && r.message_id === imageMsg.id, "Carol's read receipt of the picture");
  await live.get(bob.id).get(shared.userTopic(bob.id)).waitFor('media', () => true, "Bob's media event for his upload");
  for (const p of people) {
    for (const ch of live.get(p.id).values()) ch.checkClean();
    const own = live.get(p.id).get(shared.userTopic(p.id));
    say(p.name, `${shared.userTopic(`<${p.name.toLowerCase()}>`).padEnd(22)} ${fmt(own.counts())}`);
    for (const e of expectations[p.id].user) check(count(own, e) > 0, `${p.name}'s app should have received ${e} on her/his user topic`, own.counts());
    for (const chat of expectations[p.id].chats) {
      const ch = live.get(p.id).get(shared.chatTopic(chat.id));
      say('', `${shared.chatTopic(label[chat.id]).padEnd(22)} ${fmt(ch.counts())}`);
      for (const e of ['INSERT', 'read']) check(count(ch, e) > 0, `${p.name}'s app should have received ${e} on the ${label[chat.id]} chat`, ch.counts());
    }
    const pres = live.get(p.id).get(presenceTopic);
    if (pres) say('', `${shared.chatPresenceTopic('<direct>').padEnd(22)} ${fmt(pres.counts())}`);
  }
  check(count(alicesDirect, 'UPDATE') >= 1, 'the edit should have reached Alice (UPDATE) on the direct chat', alicesDirect.counts());
  // Members publish on the presence channel, the database never does: only members' typing arrived there.
  const presenceEvents = [...new Set([...bobsPresence.received, ...alicesPresence.received].map((r) => r.event))];
  checkEqual(presenceEvents.join(','), 'typing', `what arrived on ${shared.chatPresenceTopic('<direct>')}`);
  const aliceNotes = await expectData("Alice's notifications", alice.sb.from('notifications').select('kind'));
  const byKind = Object.entries(aliceNotes.reduce((m, n) => ({ ...m, [n.kind]: (m[n.kind] ?? 0) + 1 }), {})).sort(([a], [b]) => a.localeCompare(b));
  note(`Alice's notifications by kind (Data API): ${byKind.map(([k, n]) => `${k} ×${n}`).join(', ')}`);
  ok(`every event arrived as its shared schema describes it; Carol was refused ${shared.chatTopic('<direct>')}, Bob ${shared.userTopic('<alice>')} (step 3)`);

  // ---------------------------------------------------------------------------
  await aiProductStep(ctx, { alice, bob, group, server, run });

  // ---------------------------------------------------------------------------
  await widgetStep(ctx, { alice });

  // ---------------------------------------------------------------------------
  await messagingStep(ctx, { alice, bob, carol, group, run });

  // ---------------------------------------------------------------------------
  await contactsStep(ctx, { alice, bob, carol });

  // ---------------------------------------------------------------------------
  await pushStep(ctx, { alice, bob, direct });

  // ---------------------------------------------------------------------------
  await storiesStep(ctx, { alice, bob, run });

  return { people, run };
}
