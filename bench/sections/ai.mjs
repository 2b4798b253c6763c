/**
 * 4. AI proxy overhead: time to first token and total time of a streamed
 * answer through `ai-chat` (real Deno behind the local gateway, Clerk token
 * verification, RLS reads of the chat and its history, context building,
 * rate limits and the credit reservation, the `openai` SDK, SSE to the
 * client, then settlement and storing both messages before `done`), minus the
 * same request sent directly to the local OpenAI-compatible stand-in
 * (stack/standins/openai.mjs) with the `openai` SDK from Node.
 *
 * "The same request": after each call through ai-chat, the exact body the
 * function sent to the stand-in (recorded by the stand-in: model, system
 * prompt, context, prompt, max tokens, stream options) is replayed directly.
 * The stand-in answers after a fixed latency, in chunks with a fixed delay,
 * so both paths wait for the provider alike. Pairs alternate, and the
 * overhead is computed per pair (ai-chat − direct), then summarised.
 *
 * Time to first token = request sent → first non-empty content delta
 * (the SDK's first content chunk; ai-chat's first `delta` event).
 * Total = request sent → end of the stream (`[DONE]` directly; the `done`
 * event through ai-chat, which comes after settlement and storage).
 *
 * The split of ai-chat's overhead: `done` carries the function's own
 * `server_timing` (W3C Server Timing phases, supabase/functions/ai-chat/timing.ts);
 * per call, database work = `db_ms` (before the provider call) + `settle_ms`
 * (after the answer, before `done`), and the rest = the total overhead − that.
 *
 * With `peers` (`npm run bench -- --peers`), the same body also goes through
 * Portkey's open-source AI gateway (lib/peers.mjs) to the same stand-in with
 * the `openai` SDK, in the same rounds (after ai-chat, in alternating order
 * with the direct request), and its overhead is computed the same way.
 */
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import { ROOT, freePort } from '../../stack/runtime/db.mjs';
import { mintSessionToken } from '../../stack/standins/clerk.mjs';
import { startFunctions } from '../../stack/runtime/functions.mjs';
import { startOpenAIStandin } from '../../stack/standins/openai.mjs';
import { asService, asUser, pool, withUser } from '../lib/db.mjs';
import { round, summarize } from '../lib/measure.mjs';
import { startPortkey } from '../lib/peers.mjs';

const OPENAI_KEY = 'sk-bench-openai-key';
const DEEPSEEK_KEY = 'sk-bench-deepseek-key';
export const PROVIDER_LATENCY_MS = 40;
export const CHUNK_DELAY_MS = 2;
const REPLY =
  'Sure. Here is a short answer that streams in several chunks, long enough to look like a real reply from a chat model ' +
  'without taking long: the benchmark measures what the proxy adds, not the model.';

/** Reads an SSE stream (text/event-stream), calling onEvent(name, data) per event. */
async function readSse(body, onEvent) {
  const decoder = new TextDecoder();
  let buf = '';
  for await (const chunk of body) {
    buf += decoder.decode(chunk, { stream: true });
    let i;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      let event = 'message';
      const data = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
      }
      if (data.length) onEvent(event, data.join('\n'));
    }
  }
}

/** A functions folder with only ai-chat and _shared (symlinks), laid out like the repository. */
async function aiChatOnlyFolder() {
  const base = await mkdtemp(path.join(tmpdir(), 'chat-with-me-bench-fns-'));
  const dir = path.join(base, 'supabase/functions');
  await mkdir(dir, { recursive: true });
  for (const n of ['ai-chat', '_shared']) await symlink(path.join(ROOT, 'supabase/functions', n), path.join(dir, n));
  await symlink(path.join(ROOT, 'packages'), path.join(base, 'packages'));
  return { base, dir };
}

/**
 * @param {{ url: string, quick: boolean, peers?: boolean, log: (s: string) => void }} ctx
 */
export async function benchAi({ url, quick, peers = false, log }) {
  const requests = quick ? 20 : 220;
  const warmup = quick ? 3 : 10;
  const users = quick ? 4 : 25; // ≤ 10 calls per user: under the default rate limit of 20 a minute
  const { publicKey, privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const clerk = {
    privateKeyPem: privateKey,
    issuer: 'https://chat-with-me.clerk.accounts.dev',
    authorizedParties: ['http://localhost:3000'],
  };
  const behaviour = { latencyMs: PROVIDER_LATENCY_MS, chunkDelayMs: CHUNK_DELAY_MS, reply: REPLY };
  const openai = await startOpenAIStandin({ apiKey: OPENAI_KEY, ...behaviour });
  const deepseek = await startOpenAIStandin({ flavor: 'deepseek', apiKey: DEEPSEEK_KEY, ...behaviour });
  const folder = await aiChatOnlyFolder();
  const logDir = await mkdtemp(path.join(tmpdir(), 'chat-with-me-bench-fnlogs-'));
  const auth = pool(withUser(url, 'authenticator'), 2);
  let fns;
  let portkey;
  try {
    if (peers) portkey = await startPortkey({ providerUrl: openai.url, log });
    fns = await startFunctions({
      dbUrl: url,
      port: await freePort(),
      logDir,
      envFile: false,
      functionsDir: folder.dir,
      env: {
        CLERK_JWT_KEY: publicKey,
        CLERK_ISSUER: clerk.issuer,
        CLERK_AUTHORIZED_PARTIES: clerk.authorizedParties.join(','),
        CLERK_WEBHOOK_SECRET: `whsec_${Buffer.from(randomUUID()).toString('base64')}`,
        OPENAI_API_KEY: OPENAI_KEY,
        OPENAI_BASE_URL: openai.url,
        DEEPSEEK_API_KEY: DEEPSEEK_KEY,
        DEEPSEEK_BASE_URL: deepseek.url,
      },
    });

    // Users (as clerk-webhook creates them), credits, one assistant chat each.
    const tag = randomUUID().slice(0, 8);
    const callers = [];
    for (let i = 0; i < users; i++) {
      const id = `user_aibench${tag}${String(i).padStart(4, '0')}`;
      await asService(auth, async (tx) => {
        await tx`insert into public.users (id, display_name) values (${id}, ${`AI bench ${i}`})`;
        await tx`insert into public.user_accounts (user_id, email) values (${id}, ${`${id.toLowerCase()}@example.com`})`;
        await tx`select private.record_ledger_entry(${id}, 'topup', 100000000::bigint, 'bench.topup', ${`${id}:topup`}, 'bench top-up')`;
      });
      const [chat] = await asUser(auth, id, (tx) => tx`select id from public.create_assistant_chat(${'AI bench'})`);
      callers.push({ id, chat: chat.id, token: await mintSessionToken(clerk, id, { ttlSeconds: 3600 }) });
    }
    const client = new OpenAI({ apiKey: OPENAI_KEY, baseURL: openai.url, maxRetries: 0 });

    const viaFunction = async (c, prompt) => {
      const t0 = performance.now();
      const res = await fetch(`${fns.url}/ai-chat`, {
        method: 'POST',
        headers: { authorization: `Bearer ${c.token}`, 'content-type': 'application/json', accept: 'text/event-stream' },
        body: JSON.stringify({ chat_id: c.chat, prompt, stream: true }),
      });
      if (res.status !== 200) throw new Error(`ai-chat answered ${res.status}: ${await res.text()}`);
      if (!res.headers.get('server-timing')?.includes('total;dur=')) throw new Error('ai-chat answered without Server-Timing');
      let ttft = NaN;
      let total = NaN;
      let text = '';
      let timing = null;
      let interaction = '';
      await readSse(res.body, (event, data) => {
        if (event === 'start') interaction = JSON.parse(data).interaction_id;
        else if (event === 'delta') {
          const d = JSON.parse(data);
          if (d.text && Number.isNaN(ttft)) ttft = performance.now() - t0;
          text += d.text ?? '';
        } else if (event === 'done') {
          total = performance.now() - t0;
          timing = JSON.parse(data).server_timing;
        } else if (event === 'error') throw new Error(`ai-chat stream error: ${data}`);
      });
      if (!timing || text !== REPLY) throw new Error('ai-chat stream incomplete');
      return { ttft, total, interaction, timing };
    };
    /** The streamed request `body` through an OpenAI-compatible endpoint with the `openai` SDK. */
    const streamed = async (sdk, body) => {
      const t0 = performance.now();
      const stream = await sdk.chat.completions.create({ ...body, stream: true });
      let ttft = NaN;
      let text = '';
      for await (const chunk of stream) {
        const piece = chunk.choices?.[0]?.delta?.content;
        if (piece && Number.isNaN(ttft)) ttft = performance.now() - t0;
        text += piece ?? '';
      }
      if (text !== REPLY) throw new Error(`stream incomplete (${sdk.baseURL})`);
      return { ttft, total: performance.now() - t0 };
    };
    const viaPortkey = portkey && new OpenAI({ apiKey: OPENAI_KEY, baseURL: portkey.baseURL, defaultHeaders: portkey.headers, maxRetries: 0 });

    const samples = { fn: { ttft: [], total: [] }, direct: { ttft: [], total: [] }, overhead: { ttft: [], total: [] } };
    /** ai-chat's overhead split per call (ms): database work before `done`, and the rest. */
    const split = { db: [], rest: [], beforeSettle: [], outside: [] };
    /** The function's own phases per call (server_timing of `done`, ms). */
    const phases = { auth_ms: [], db_ms: [], provider_ms: [], settle_ms: [], other_ms: [], total_ms: [] };
    const peer = { ttft: [], total: [], overhead: { ttft: [], total: [] } };
    /** @type {{ interaction: string, ttft: number, total: number }[]} */
    const measured = [];
    const deadline = performance.now() + (quick ? 60_000 : 150_000);
    let n = 0;
    for (let i = 0; i < warmup + requests && performance.now() < deadline; i++) {
      const c = callers[i % callers.length];
      const prompt = `Question ${i}: what does a benchmark of an AI proxy measure, in one paragraph?`;
      openai.reset();
      const f = await viaFunction(c, prompt);
      const sent = openai.requests.find((r) => r.path.endsWith('/chat/completions'));
      if (!sent) throw new Error('ai-chat did not call the stand-in');
      const { stream: _s, ...body } = sent.body;
      // The direct request and the peer's alternate in order, so neither always follows ai-chat.
      let d;
      let p;
      if (viaPortkey && i % 2 === 1) {
        p = await streamed(viaPortkey, body);
        d = await streamed(client, body);
      } else {
        d = await streamed(client, body);
        if (viaPortkey) p = await streamed(viaPortkey, body);
      }
      if (i < warmup) continue;
      n++;
      const db = f.timing.db_ms + f.timing.settle_ms;
      split.db.push(db);
      split.rest.push(f.total - d.total - db);
      // What the total overhead would be if `done` did not wait for the settlement.
      split.beforeSettle.push(f.total - d.total - f.timing.settle_ms);
      // Outside the function: the client's overhead that the function did not see (gateway hop, HTTP, the SDKs).
      split.outside.push(f.total - d.total - (f.timing.total_ms - f.timing.provider_ms));
      for (const k of Object.keys(phases)) phases[k].push(f.timing[k]);
      if (p) {
        peer.ttft.push(p.ttft);
        peer.total.push(p.total);
        peer.overhead.ttft.push(p.ttft - d.ttft);
        peer.overhead.total.push(p.total - d.total);
      }
      samples.fn.ttft.push(f.ttft);
      samples.fn.total.push(f.total);
      samples.direct.ttft.push(d.ttft);
      samples.direct.total.push(d.total);
      samples.overhead.ttft.push(f.ttft - d.ttft);
      samples.overhead.total.push(f.total - d.total);
      measured.push(f);
    }
    // Where the overhead goes, from the function's own timings in ai_interactions
    // (time_to_first_token_ms and latency_ms count from just before the provider
    // call): before = client's TTFT − the function's TTFT (token check, reading
    // the chat and history, context, rate limits and reservation, gateway);
    // after = client's total − latency_ms − before (settlement, storing the
    // prompt and answer, the `done` event).
    const rows = await asService(auth, (tx) => tx`
      select id, time_to_first_token_ms, latency_ms from public.ai_interactions where id = any(${measured.map((m) => m.interaction)})`);
    const byId = new Map(rows.map((r) => [r.id, r]));
    const before = [];
    const after = [];
    for (const m of measured) {
      const r = byId.get(m.interaction);
      if (!r || r.time_to_first_token_ms === null || r.latency_ms === null) continue;
      const pre = m.ttft - r.time_to_first_token_ms;
      before.push(pre);
      after.push(m.total - r.latency_ms - pre);
    }
    // Every call was settled and stored.
    const [check] = await asService(auth, (tx) => tx`
      select count(*) filter (where status = 'succeeded')::int as succeeded, count(*)::int as calls,
             count(*) filter (where answer_message_id is not null)::int as stored
      from public.ai_interactions where user_id = any(${callers.map((c) => c.id)})`);
    const out = {
      requests: n,
      provider_latency_ms: PROVIDER_LATENCY_MS,
      chunk_delay_ms: CHUNK_DELAY_MS,
      reply_chars: REPLY.length,
      via_ai_chat: { ttft: summarize(samples.fn.ttft), total: summarize(samples.fn.total) },
      direct: { ttft: summarize(samples.direct.ttft), total: summarize(samples.direct.total) },
      overhead: { ttft: summarize(samples.overhead.ttft), total: summarize(samples.overhead.total) },
      ratio_total_p50: round(summarize(samples.fn.total).p50 / summarize(samples.direct.total).p50),
      breakdown: { before_provider_call: summarize(before), after_provider_stream: summarize(after) },
      // Total overhead = database work (the function's server_timing: db_ms + settle_ms) + the rest.
      split: {
        database: summarize(split.db),
        rest: summarize(split.rest),
        settlement: summarize(phases.settle_ms),
        total_overhead_without_settlement: summarize(split.beforeSettle),
        outside_function: summarize(split.outside),
        function_phases: Object.fromEntries(Object.entries(phases).map(([k, v]) => [k, summarize(v)])),
      },
      check,
    };
    log(`ai: overhead ttft p50 ${out.overhead.ttft.p50} ms p95 ${out.overhead.ttft.p95} ms; total p50 ${out.overhead.total.p50} ms p95 ${out.overhead.total.p95} ms (${n} requests)`);
    log(`ai: total overhead split: database ${out.split.database.p50} ms (settlement ${out.split.settlement.p50} ms) + the rest ${out.split.rest.p50} ms (medians); without the settlement before done: ${out.split.total_overhead_without_settlement.p50} ms`);
    if (portkey) {
      const pk = {
        name: portkey.name,
        version: portkey.version,
        ttft: summarize(peer.ttft),
        total: summarize(peer.total),
        overhead: { ttft: summarize(peer.overhead.ttft), total: summarize(peer.overhead.total) },
      };
      out.peers = {
        portkey: {
          ...pk,
          // ai-chat's figure over Portkey's (medians): < 1 means ai-chat adds less.
          ratios: {
            overhead_ttft: round(out.overhead.ttft.p50 / pk.overhead.ttft.p50),
            overhead_total: round(out.overhead.total.p50 / pk.overhead.total.p50),
            rest_to_portkey_overhead_total: round(out.split.rest.p50 / pk.overhead.total.p50),
          },
        },
      };
      log(`ai: Portkey ${pk.version}: overhead ttft p50 ${pk.overhead.ttft.p50} ms; total p50 ${pk.overhead.total.p50} ms; ai-chat's non-database part / Portkey's total overhead = ${out.peers.portkey.ratios.rest_to_portkey_overhead_total}`);
    }
    return out;
  } finally {
    await portkey?.stop().catch(() => {});
    await fns?.stop().catch(() => {});
    await Promise.all([openai.stop(), deepseek.stop(), auth.end()]);
    await rm(folder.base, { recursive: true, force: true });
    await rm(logDir, { recursive: true, force: true });
  }
}
