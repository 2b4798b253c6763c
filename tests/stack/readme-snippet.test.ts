/**
 * The README's client snippet ("Connecting a client"), run as written against
 * the test stack, the way an app runs it: the ```ts block is taken from
 * README.md, compiled from TypeScript with esbuild (types stripped, imports
 * kept) and run by plain Node (no bundler, no loader: `@supabase/supabase-js`
 * and `@chat-with-me/shared` resolve from node_modules, the latter to its
 * build). The app's globals are provided as an app has them: SUPABASE_URL and
 * SUPABASE_PUBLISHABLE_KEY (the stack's API URL and publishable key), `clerk`
 * whose `session.getToken()` returns a session token of the Clerk stand-in,
 * `chatId` (a group chat of the user and one other member), `me`, `render`,
 * `showTyping` and `show` (recorders), and `WebSocket` (browsers have one;
 * Node 20 does not).
 *
 * The snippet's channels join the stack's Realtime stand-in (`/realtime/v1`
 * on the API URL; docs/realtime.md). The app records each channel's
 * `subscribe()` statuses (by wrapping realtime-js' RealtimeChannel, which
 * supabase-js uses) and the answer of its Presence `track()`; once the
 * snippet has run and its channels answered, it says READY and the other
 * member, in the test, publishes `typing` on the chat's presence channel and
 * sends a message: both must reach the snippet's handlers (`showTyping`,
 * `render`) through its channels. The test also asserts what the Data API and
 * the functions did: the RPCs answered 2xx and the message is stored as the
 * user; ai-chat was called as the user (an answer streamed, or, on a stack
 * without an AI provider, the typed client's 503 naming the missing key: the
 * token was accepted and the chat found before the provider was needed).
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { transform } from 'esbuild';
import { chatPresenceTopic, chatTopic } from '@chat-with-me/shared';
import { describe, expect, inject, it } from 'vitest';
import { ROOT } from '../../stack/runtime/db.mjs';
import { clerkToken, clientAs, serviceClient } from '../helpers/client.ts';
import { createUser } from '../helpers/db.ts';

/** The ```ts block of the README section "Connecting a client". */
async function readmeSnippet(): Promise<string> {
  const readme = await readFile(path.join(ROOT, 'README.md'), 'utf8');
  const section = readme.split(/^## Connecting a client\s*$/m)[1]?.split(/^## /m)[0] ?? '';
  const block = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  if (!block) throw new Error('README.md: no ```ts block under "## Connecting a client"');
  return block;
}

/**
 * Runs the snippet in a child `node` with the app's globals; resolves with
 * what it did: HTTP requests (method, path, status), calls of the globals,
 * WebSocket attempts, each channel's subscribe() statuses and Presence
 * track() answers, and the error it ended with, if any. `whenReady` runs once
 * the snippet has finished and its channels answered their joins; the app then
 * waits (at most 8 s) for a render and a typing event before it reports.
 */
async function runSnippet(snippetTs: string, env: Record<string, string>, whenReady: () => Promise<void>) {
  const js = (await transform(snippetTs, { loader: 'ts', format: 'esm', target: 'node20' })).code;
  // Under node_modules/ so Node resolves the app's imports from the project's node_modules.
  await mkdir(path.join(ROOT, 'node_modules/.cache'), { recursive: true });
  const dir = await mkdtemp(path.join(ROOT, 'node_modules/.cache/readme-snippet-'));
  try {
    await writeFile(path.join(dir, 'snippet.mjs'), js);
    await writeFile(
      path.join(dir, 'app.mjs'),
      `
import ws from 'ws';
import { RealtimeChannel } from '@supabase/realtime-js';
const report = { requests: [], rendered: [], typing: [], shown: [], websockets: 0, channels: {}, tracked: [], error: null, completed: false };
// Each channel's subscribe() statuses, by topic, as the app's callback sees them (realtime-js' RealtimeChannel, which supabase-js creates).
const subscribe = RealtimeChannel.prototype.subscribe;
RealtimeChannel.prototype.subscribe = function (callback, timeout) {
  const statuses = (report.channels[this.subTopic] ??= []);
  return subscribe.call(this, (status, err) => {
    statuses.push(err ? status + ': ' + err.message : status);
    return callback?.(status, err);
  }, timeout);
};
const track = RealtimeChannel.prototype.track;
RealtimeChannel.prototype.track = async function (...a) {
  const answer = await track.apply(this, a);
  report.tracked.push({ topic: this.subTopic, answer });
  return answer;
};
const until = (cond, ms) => new Promise((resolve) => {
  const end = Date.now() + ms;
  const tick = () => (cond() || Date.now() > end ? resolve() : setTimeout(tick, 25));
  tick();
});
const realFetch = globalThis.fetch;
globalThis.fetch = async (input, init) => {
  const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
  const method = init?.method ?? (input instanceof Request ? input.method : 'GET');
  try {
    const res = await realFetch(input, init);
    report.requests.push({ method, path: url.pathname, status: res.status });
    return res;
  } catch (e) {
    report.requests.push({ method, path: url.pathname, status: 0 });
    throw e;
  }
};
// A browser's WebSocket (Node 20 has none); counted, so the test sees Realtime was tried.
globalThis.WebSocket = class extends ws { constructor(...a) { super(...a); report.websockets += 1; this.on('error', () => {}); } };
globalThis.SUPABASE_URL = process.env.SUPABASE_URL;
globalThis.SUPABASE_PUBLISHABLE_KEY = process.env.SUPABASE_PUBLISHABLE_KEY;
globalThis.clerk = { session: { getToken: async () => process.env.CLERK_TOKEN } };
globalThis.chatId = process.env.CHAT_ID;
globalThis.me = process.env.ME;
globalThis.render = (record) => report.rendered.push(record);
globalThis.showTyping = (t) => report.typing.push(t);
globalThis.show = (event) => report.shown.push(event.event);
try {
  await import('./snippet.mjs');
  report.completed = true;
} catch (e) {
  report.error = { name: e?.name, status: e?.status, code: e?.code, message: String(e?.message ?? e) };
}
// The app stays open: its channels' joins answer, then another member publishes (the test does, on READY).
await until(() => Object.values(report.channels).length >= 2 && Object.values(report.channels).every((s) => s.length > 0), 10_000);
await until(() => report.tracked.length > 0, 2_000);
console.log('READY');
await until(() => report.rendered.length > 0 && report.typing.length > 0, 8_000);
console.log('REPORT ' + JSON.stringify(report));
process.exit(0); // Realtime keeps retrying its socket: the app's session ends here
`,
    );
    const child = spawn(process.execPath, [path.join(dir, 'app.mjs')], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', NODE_OPTIONS: '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let ready: Promise<void> | undefined;
    let readyError: unknown;
    child.stdout.on('data', (d: Buffer) => {
      stdout += d;
      if (!ready && /^READY$/m.test(stdout)) ready = whenReady().catch((e) => void (readyError = e));
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    const kill = setTimeout(() => child.kill('SIGKILL'), 60_000);
    await new Promise((resolve) => child.on('close', resolve));
    clearTimeout(kill);
    await ready;
    if (readyError) throw readyError;
    const line = stdout.split('\n').find((l) => l.startsWith('REPORT '));
    if (!line) throw new Error(`the snippet printed no report\n${stdout}\n${stderr}`);
    return JSON.parse(line.slice('REPORT '.length)) as {
      requests: { method: string; path: string; status: number }[];
      rendered: unknown[];
      typing: unknown[];
      shown: string[];
      websockets: number;
      /** subscribe() statuses by topic: SUBSCRIBED, or `CHANNEL_ERROR: <reason>`, TIMED_OUT, CLOSED. */
      channels: Record<string, string[]>;
      tracked: { topic: string; answer: string }[];
      error: { name?: string; status?: number; code?: string; message: string } | null;
      completed: boolean;
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('README "Connecting a client"', () => {
  it('runs as written against the local API: RPCs, both channels SUBSCRIBED and receiving another member, the typed functions client, as the Clerk user', async () => {
    const snippet = await readmeSnippet();
    // The snippet is the one an app writes: supabase-js with accessToken, the shared package.
    expect(snippet).toMatch(/createClient\(SUPABASE_URL, SUPABASE_PUBLISHABLE_KEY/);
    expect(snippet).toMatch(/accessToken:/);

    const [me, other] = [await createUser(), await createUser()];
    const { data: chat, error } = await clientAs(me).rpc('create_group_chat', { p_title: 'README snippet', p_member_ids: [other] }).single();
    expect(error).toBeNull();
    const chatId = (chat as { id: string } | null)?.id ?? '';
    expect(chatId).not.toBe('');

    // The other member, once the snippet's channels answered: typing on the presence channel (REST broadcast), then a message.
    let theirMessage = '';
    const otherMemberActs = async () => {
      const theirs = clientAs(other);
      await theirs.realtime.setAuth();
      const live = theirs.channel(chatPresenceTopic(chatId), { config: { private: true } });
      expect(await live.httpSend('typing', { user_id: other, typing: true })).toEqual({ success: true });
      await theirs.removeChannel(live);
      const { data, error: sendError } = await theirs.rpc('send_message', { p_chat_id: chatId, p_content: 'hello from the other member' }).single();
      expect(sendError).toBeNull();
      theirMessage = (data as { id: string } | null)?.id ?? '';
    };

    const report = await runSnippet(
      snippet,
      {
        SUPABASE_URL: inject('apiUrl'),
        SUPABASE_PUBLISHABLE_KEY: inject('publishableKey'),
        CLERK_TOKEN: await clerkToken(me, { ttlSeconds: 600 }),
        CHAT_ID: chatId,
        ME: me,
      },
      otherMemberActs,
    );

    const status = (p: string) => report.requests.filter((r) => r.path === p).map((r) => r.status);
    // The Data API, as the user (publishable key + Clerk token): each RPC answered 2xx.
    for (const rpc of ['ensure_profile', 'get_inbox', 'send_message']) {
      const got = status(`/rest/v1/rpc/${rpc}`);
      expect(got.length, `POST /rest/v1/rpc/${rpc} was called`).toBe(1);
      expect(got[0], `${rpc} status`).toBeGreaterThanOrEqual(200);
      expect(got[0], `${rpc} status`).toBeLessThan(300);
    }
    const { data: stored } = await serviceClient().from('messages').select('sender_id, content, kind').eq('chat_id', chatId).eq('sender_id', me);
    expect(stored, 'the snippet’s message, stored as the user').toEqual([{ sender_id: me, content: 'hi', kind: 'text' }]);

    // Realtime: both private channels joined the local stand-in as the user, and receive.
    expect(report.websockets, 'supabase-js opened a Realtime socket').toBeGreaterThan(0);
    expect(report.channels, 'subscribe() statuses of the snippet’s channels').toEqual({
      [chatTopic(chatId)]: ['SUBSCRIBED'],
      [chatPresenceTopic(chatId)]: ['SUBSCRIBED'],
    });
    expect(report.tracked, 'the snippet’s Presence track()').toEqual([{ topic: chatPresenceTopic(chatId), answer: 'ok' }]);
    expect(theirMessage, 'the other member sent a message').not.toBe('');
    // render() got MessageChangePayload.parse(payload).record: the other member's stored message.
    expect(report.rendered, 'what the snippet’s INSERT handler rendered').toContainEqual(
      expect.objectContaining({ id: theirMessage, chat_id: chatId, sender_id: other, content: 'hello from the other member' }),
    );
    expect(report.typing, 'what the snippet’s typing handler showed').toContainEqual({ user_id: other, typing: true });

    // The functions, through the shared typed client with the Clerk token.
    expect(status('/functions/v1/ai-chat').length, 'POST /functions/v1/ai-chat was called').toBe(1);
    if (report.completed) {
      expect(report.error).toBeNull();
      expect(report.shown[0]).toBe('start');
      expect(report.shown.at(-1)).toBe('done');
    } else {
      // The suite's stack runs no AI provider: ai-chat found the chat as the user, then needed a provider key.
      expect(report.error).toMatchObject({ name: 'FunctionsError', status: 503 });
      expect(report.error?.message).toMatch(/OPENAI_API_KEY|not configured/i);
      expect(report.shown).toEqual([]);
    }
  }, 90_000);
});
