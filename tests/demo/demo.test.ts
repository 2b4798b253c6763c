/**
 * `npm run demo` in CI: plays the primary user journey through supabase-js on
 * a throw-away stack of its own (`node stack/demo/demo.mjs --own-stack`: its
 * own PostgreSQL, every function in Deno, PostgREST and the API gateway,
 * stand-ins for Clerk, OpenAI, DeepSeek, Stripe, Cloudinary and FCM) as a child
 * process, and checks that it completes (exit 0), that its transcript shows
 * each milestone (Realtime included: joins and refusals, presence, typing, a
 * message and a read receipt delivered live, what each channel received), and
 * that it leaves nothing running. The demo checks every
 * step itself; this test makes sure it ran them all. On failure the whole
 * transcript is printed.
 */
import { spawn } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { expect, it, vi } from 'vitest';
import { ROOT } from '../../stack/runtime/db.mjs';

const TIMEOUT_MS = 240_000;

/**
 * Runs the demo; resolves with its exit code (null when killed) and its whole
 * output. `interruptWhen`: send SIGINT (Ctrl-C) once the transcript matches it.
 */
function runDemo(interruptWhen?: RegExp): Promise<{ code: number | null; signal: NodeJS.Signals | null; transcript: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'stack/demo/demo.mjs'), '--own-stack'], {
      cwd: ROOT,
      env: { ...process.env, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let transcript = '';
    let interrupted = false;
    const onData = (d: Buffer) => {
      transcript += d;
      if (interruptWhen && !interrupted && interruptWhen.test(transcript)) {
        interrupted = true;
        child.kill('SIGINT');
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    // Past the deadline: SIGINT first, so the demo stops its stack, then SIGKILL.
    const soft = setTimeout(() => child.kill('SIGINT'), TIMEOUT_MS - 20_000);
    const hard = setTimeout(() => child.kill('SIGKILL'), TIMEOUT_MS - 5_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(soft);
      clearTimeout(hard);
      resolve({ code, signal, transcript });
    });
  });
}

/** What is still up of the stack the transcript names: its gateway answering, processes with its state folder on their command line. */
async function leftovers(transcript: string) {
  const api = /API (http:\/\/127\.0\.0\.1:\d+)/.exec(transcript)?.[1];
  const answering = api ? await fetch(`${api}/health`).then(() => true, () => false) : false;
  const processes: string[] = [];
  for (const pid of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(pid)) continue;
    const cmd = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmd.includes('chat-with-me-demo-')) processes.push(`${pid}: ${cmd.replace(/\0/g, ' ').slice(0, 120)}`);
  }
  return { api, answering, processes };
}

/** What the transcript must show, in this order. */
const MILESTONES = [
  /Stack: --own-stack: starting a throw-away stack/,
  /API http:\/\/127\.0\.0\.1:\d+ \(Data API \/rest\/v1, functions \/functions\/v1\)/,
  /providers: clerk local, openai local, deepseek local, stripe local, cloudinary local/,
  /user\.created for Alice Archer \(user_\w+\) → 200 created/,
  /user\.created for Bob Baker .* → 200 created/,
  /user\.created for Carol Chen .* → 200 created/,
  /Realtime: each app joined its private channel user:<me> \(supabase-js, Clerk token\) → SUBSCRIBED/,
  /Bob\s+declines → declined/,
  /Alice's friends: Bob, Carol/,
  /opens a direct chat with Alice → the same chat \(one per pair\)/,
  /creates the group "Weekend trip/,
  /Realtime: Alice and Bob joined chat:<direct>, all three chat:<group> → SUBSCRIBED/,
  /Carol tries to join chat:<direct> → CHANNEL_ERROR "Unauthorized: You do not have permissions to read from this Channel topic: chat:<direct>"/,
  /Bob tries to join user:<alice> → CHANNEL_ERROR "Unauthorized: /,
  /↳ replies "/,
  /edits her first message → .*\(edited\)/,
  /Alice's inbox: Bob Baker\s+unread 1/,
  /live, a `read` event on chat:<direct>/,
  /Alice's inbox: 0 unread everywhere/,
  /Bob\s+joins chat:<direct>:presence and tracks his presence → SUBSCRIBED, tracked/,
  /Alice sees Bob online \(Presence/,
  /Bob sees "Alice is typing…" \(TypingPayload, \d+ ms after she started\)/,
  /Bob receives it on chat:<direct>: INSERT of the stored message \(MessageChangePayload\), \d+ ms after she sent it/,
  /Alice sees "Seen" under her message: `read` from Bob on chat:<direct> \(ReadReceiptPayload\), \d+ ms after he read it/,
  /Admin\s+\(Alice Martin, the seed's admin, in her admin app\) sets credits\.low_balance_threshold_micro_usd from/,
  /AI\s+This is the local AI stand-in answering/,
  /restores credits\.low_balance_threshold_micro_usd to \$0\.500000/,
  /ai_interactions \(as Alice\): openai\/gpt-6-luna, \d+ prompt \+ \d+ completion tokens, cost \$0\.\d{6}/,
  /Alice's wallet: \$1\.000000 → \$0\.\d{6} \(−\$0\.\d{6}\), nothing left held/,
  /low-balance alert: notification low_balance/,
  /payments-checkout → session cs_/,
  /checkout\.session\.completed, signed → stripe-webhook/,
  /payment paid; wallet \$0\.\d{6} → \$5\.\d{6} \(\+\$5\.000000\), one ledger entry \(topup\)/,
  /notification topup_succeeded/,
  /uploads sunset\.png .* → png 48×32/,
  /recorded in media \(as Bob reads it\): png 48×32/,
  /Carol reads it: 48×32/,
  /Alice\s+balance\s+\$5\.\d{6} = sum of 3 ledger entries \(ai_usage, grant, topup\)/,
  /\(secret key, service_role\) 3 wallets and \d+ ledger entries: every wallet = sum of its ledger, nothing held/,
  /What each person’s app received live on its private Realtime channels/,
  /user:<alice>\s+balance ×2, chat_added ×2, notification ×4/,
  /chat:<direct>\s+INSERT ×3, read ×2, UPDATE ×1/,
  /chat:<group>\s+INSERT ×6, read ×2/,
  /user:<bob>\s+chat_added ×2, media ×1, notification ×2/,
  /chat:<direct>:presence typing ×1/,
  /user:<carol>\s+chat_added ×1, notification ×2/,
  /every event arrived as its shared schema describes it/,
  /The AI product: suggestions, stop and regenerate, a shared conversation, a provider fallback/,
  /asks for reply suggestions in the group \(ai-suggest\) → \d suggestion\(s\)/,
  /asked again \(same newest message\) → cached: true, charged \$0\.000000/,
  /stopped: \d+ tokens produced and charged \(\$0\.\d{6}\); the partial answer is stored, marked stopped/,
  /Regenerate → a new answer to the same prompt \(gpt-6-luna\)/,
  /an anonymous reader \(no sign-in\) reads it: "Packing for a picnic" by Alice Archer, \d+ messages, views 1 after two visits/,
  /answered by openai\/gpt-6-luna \(fallback_from standin-unavailable-\w+, provider_error\)/,
  /The website widget: a visitor chats with the bot on Alice's website, then with Alice/,
  /the same key from https:\/\/elsewhere\.example → 403/,
  /widget bot answer \(gpt-6-luna\) charged to Alice's wallet: \$0\.\d{6}/,
  /the bot stops; the visitor reads her reply as "agent"/,
  /widget analytics today: 1 session, 2 visitor messages, 1 bot answer \(\$0\.\d{6}\), 1 handoff/,
  /Messaging: a mention, reactions, delivery ticks, a search and a pinned message/,
  /Bob's ticks: sent → delivered \(2\/2\) → read by 1 of 2; reactions 👍 ×2, 🎉 ×1/,
  /Alice searches "picnic quok \w+" .* → \d+ hit, Bob's message first/,
  /Alice was mentioned: 1 notification \(mention\)/,
  /Alice \(owner\) pins it/,
  /Contacts: Alice finds Bob by his phone number/,
  /Alice uploads 3 hashed contacts .* → finds Bob Baker; Carol \(not opted in\) and a stranger stay hidden/,
  /Push: Bob’s phone gets a notification for Alice’s message \(FCM\)/,
  /his Android app registers its FCM token → push_devices: android 1\.4\.0/,
  /FCM \(stand-in\) accepted a push to Bob's token \d+ ms later: "Alice Archer: Bus leaves at 9 on Saturday 🚌", collapse key chat:<direct>, badge \d+/,
  /Stories: Alice posts a status, Bob views it, Alice sees who viewed/,
  /posts a status: "Packing the tent for Saturday ⛺ \(\w+\)" → [0-9a-f]{8}…, for her friends, 24 h/,
  /opens it → mark_story_viewed: true \(recorded once\)/,
  /Alice sees who viewed her status: Bob \(view_count 1\)/,
  /✓ The journey completed: 17 steps/,
  /Stopped\./,
];

it(
  'npm run demo -- --own-stack plays the whole journey through supabase-js, exits 0 and leaves nothing running',
  async () => {
    const { code, signal, transcript } = await runDemo();
    const missing = MILESTONES.filter((m) => !m.test(transcript));
    // Each milestone after the previous one.
    let at = 0;
    const outOfOrder = MILESTONES.filter((m) => {
      const i = transcript.slice(at).search(m);
      if (i >= 0) at += i;
      return i < 0 && m.test(transcript);
    });
    if (code !== 0 || missing.length || outOfOrder.length) console.log(`--- demo transcript (exit ${code}${signal ? `, ${signal}` : ''}) ---\n${transcript}`);
    expect(code, 'exit code of the demo (transcript above)').toBe(0);
    expect(missing.map(String), 'milestones missing from the transcript').toEqual([]);
    expect(outOfOrder.map(String), 'milestones out of order').toEqual([]);
    expect(transcript, 'no session token in the transcript').not.toMatch(/eyJ[\w-]{10,}\.[\w-]{10,}\./);
    expect(transcript, 'no signing secret in the transcript').not.toMatch(/whsec_|sk_test_standin/);
    expect(transcript, 'no API key in the transcript').not.toMatch(/sb_secret_|sb_publishable_/);
    expect(transcript, 'no database password in the transcript').not.toMatch(/postgres:postgres@/);
    expect((await leftovers(transcript)).api, 'the transcript names the API URL').toBeDefined();
    // The demo exits once its stack reported stopped; a process still exiting then gets a few seconds.
    await vi.waitFor(async () => {
      expect(await leftovers(transcript), 'nothing of the throw-away stack keeps running').toMatchObject({ answering: false, processes: [] });
    }, { timeout: 10_000, interval: 250 });
  },
  TIMEOUT_MS,
);

it(
  'Ctrl-C in the middle of the journey stops the throw-away stack and exits non-zero',
  async () => {
    const { code, transcript } = await runDemo(/ 3\. A direct chat/);
    if (code === 0 || !/Interrupted: stopping the throw-away stack/.test(transcript)) console.log(`--- demo transcript (exit ${code}) ---\n${transcript}`);
    expect(code, 'exit code after SIGINT').not.toBe(0);
    expect(transcript).toMatch(/Interrupted: stopping the throw-away stack/);
    expect(transcript).not.toMatch(/The journey completed/);
    await vi.waitFor(async () => {
      expect(await leftovers(transcript), 'nothing of the throw-away stack keeps running').toMatchObject({ answering: false, processes: [] });
    }, { timeout: 10_000, interval: 250 });
  },
  TIMEOUT_MS,
);
