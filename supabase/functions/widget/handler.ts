/**
 * widget: what a website visitor's browser talks to (README "Website chat
 * widget"). Visitors have no Clerk account and never reach the Data API: this
 * function acts as the service role, strictly within the session the visitor's
 * secret resolves to (private.widget_* in 20261202130100_widget.sql).
 *
 * Routes (under /functions/v1/widget):
 * - POST /session {widget_key} → 201 WidgetSession. The `Origin` header must
 *   be one of the website's allowed origins (403 otherwise, or for an unknown,
 *   rotated or inactive key: one answer for all). The secret (`wss_` + 256
 *   random bits, base64url) is returned once; only its SHA-256 is stored.
 * - POST /messages {content} (Authorization: Bearer <secret>) → SSE:
 *   `message` (the stored visitor message), then `delta` {text}… and `bot`
 *   (the stored answer), or `handoff` {reason}. The bot's answer is an AI
 *   interaction of the OWNER in the session's chat, metered against the
 *   owner's wallet through the same reservation path as ai-chat
 *   (private.start_ai_interaction → settle, docs/money.md).
 * - GET /messages?after=<message id> → WidgetMessages (polling).
 * - GET /events (SSE; resumes after the message id in ?after= or the
 *   `Last-Event-ID` header):
 *   `message` events for new messages (the owner's replies), polled every
 *   second for up to 55 s, then the stream ends and the client reconnects
 *   with the last id (https://html.spec.whatwg.org/multipage/server-sent-events.html).
 *   The stream is bound to the secret, not to a topic name: knowing another
 *   visitor's session id or chat id gives nothing (no secret, no stream).
 * - POST /end → 204; the secret stops working.
 * Every session-bound route: 401 for a missing, unknown, expired or revoked
 * secret, or one used from an origin the website no longer allows.
 *
 * CORS (https://developer.mozilla.org/en-US/docs/Web/HTTP/CORS): answers carry
 * `Access-Control-Allow-Origin: <the request's Origin>` only when that origin
 * is allowed for the website concerned (preflights: allowed by some active
 * website), with `Vary: Origin`; never `*`.
 * Limits (429 + Retry-After): sessions per client IP, concurrent sessions per
 * website, messages per session / IP / website, message size (413); all in
 * admin_config or the website's settings.
 */
import {
  toStorableText,
  WidgetHandoff,
  WidgetMessage,
  WidgetMessageRequest,
  WidgetMessages,
  WidgetSession,
  WidgetSessionRequest,
  WidgetSettings,
} from '@chat-with-me/shared';
import { z } from 'zod';
import { settings as loadSettings } from '../_shared/config.ts';
import { database, pool, type Tx } from '../_shared/db.ts';
import { platformEnv } from '../_shared/env.ts';
import { HttpError, isPgError } from '../_shared/errors.ts';
import { rateLimitError } from '../_shared/rate-limit.ts';
import { CORS_HEADERS, defineFunction, json, readJson } from '../_shared/http.ts';
import { buildContext, type HistoryMessage, reservedPromptTokens } from '../ai-chat/context.ts';
import { failInteraction, startInteraction } from '../ai-chat/metering.ts';
import { classifyProviderError, completionParams, providerClient, providerEnv, readUsage } from '../ai-chat/provider.ts';
import { sseStream } from '../ai-chat/sse.ts';
import { countTokens } from 'gpt-tokenizer/encoding/o200k_base';

const Env = z.object({ ...platformEnv, ...providerEnv });
type Env = z.infer<typeof Env>;

const POLL_MS = 1000;
const EVENTS_MS = 55_000;

const sha256Hex = async (text: string) =>
  Array.from(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text))), (b) => b.toString(16).padStart(2, '0')).join('');

function newSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return 'wss_' + btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** The client IP as the platform's proxy reports it (first x-forwarded-for entry), hashed; '' when absent. */
async function ipHash(req: Request): Promise<string> {
  const ip = (req.headers.get('x-forwarded-for') ?? '').split(',')[0]!.trim() || req.headers.get('x-real-ip') || 'unknown';
  return sha256Hex(`ip:${ip}`);
}

/**
 * The page's origin: the `Origin` header, which browsers always send on
 * cross-origin requests (https://fetch.spec.whatwg.org/#origin-header); a
 * same-origin GET carries none, so then the origin of `Referer`. (A client
 * that is not a browser can send any header: the origin check protects
 * visitors' browsers and the owner's key from other web pages, not from
 * scripts; the limits cover those.)
 */
function originOf(req: Request): string {
  const origin = (req.headers.get('origin') ?? '').trim();
  if (origin) return origin;
  try {
    return new URL(req.headers.get('referer') ?? '').origin;
  } catch {
    return '';
  }
}

/**
 * PT429 from private.widget_rate_limit as a 429 with Retry-After (the
 * database's message already says when to retry); details carry
 * retry_after_seconds only.
 */
const rateLimited = (e: unknown): HttpError | null =>
  rateLimitError(e, z.object({ retry_after_seconds: z.number().int().positive() }));

interface SessionRow {
  id: string;
  website_id: string;
  chat_id: string;
  expires_at: Date;
  website_name: string;
  settings: unknown;
  owner_id: string;
}

/** The live session of the bearer secret (401 otherwise). */
async function requireSession(tx: Tx, req: Request): Promise<SessionRow> {
  const auth = req.headers.get('authorization') ?? '';
  const secret = /^Bearer (wss_[A-Za-z0-9_-]{43})$/.exec(auth)?.[1];
  if (!secret) throw new HttpError('unauthorized', 'send the session secret as Authorization: Bearer wss_…');
  try {
    const [row] = await tx<SessionRow[]>`
      select (s.session).id, (s.session).website_id, (s.session).chat_id, (s.session).expires_at, s.website_name, s.settings, s.owner_id
      from private.widget_session(decode(${await sha256Hex(secret)}, 'hex'), ${originOf(req)}) s`;
    return row!;
  } catch (e) {
    if (isPgError(e) && e.code === 'PT401') throw new HttpError('unauthorized', 'the session is unknown, expired or revoked: start a new one');
    throw e;
  }
}

function publicSite(name: string, raw: unknown) {
  const s = WidgetSettings.safeParse(raw);
  const v = s.success ? s.data : WidgetSettings.parse({});
  return { name, greeting: v.greeting, bot_enabled: v.bot_enabled, colors: v.colors, business_hours: v.business_hours };
}

const SSE_HEADERS = { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache, no-transform', 'x-accel-buffering': 'no' };

const inner = defineFunction({ name: 'widget', methods: ['GET', 'POST'], env: Env }, async (req, { env, requestId, log }) => {
  const db = database(env.SUPABASE_DB_URL);
  const route = new URL(req.url).pathname.replace(/^.*?\/widget/, '').replace(/\/+$/, '') || '/';
  const key = `${req.method} ${route}`;

  if (key === 'POST /session') {
    const body = await readJson(req, WidgetSessionRequest, { maxBytes: 1024 });
    const secret = newSecret();
    const ip = await ipHash(req);
    const secretHash = await sha256Hex(secret);
    try {
      const [row] = await db.asService((tx) =>
        tx<{ id: string; expires_at: Date; website_name: string; settings: unknown }[]>`
          select (s.session).id, (s.session).expires_at, s.website_name, s.settings
          from private.widget_start_session(${body.widget_key}, ${originOf(req)}, decode(${ip}, 'hex'), decode(${secretHash}, 'hex')) s`
      );
      return json(WidgetSession, {
        session_id: row!.id,
        secret,
        expires_at: new Date(row!.expires_at).toISOString(),
        website: publicSite(row!.website_name, row!.settings),
      }, 201);
    } catch (e) {
      if (isPgError(e) && e.code === 'PT404') throw new HttpError('forbidden', 'unknown widget key, or this origin is not allowed for it');
      throw rateLimited(e) ?? e;
    }
  }

  if (key === 'GET /messages') {
    const after = new URL(req.url).searchParams.get('after');
    const messages = await db.asService(async (tx) => {
      const s = await requireSession(tx, req);
      return readMessages(tx, s.id, after);
    });
    return json(WidgetMessages, { messages });
  }

  if (key === 'POST /end') {
    await db.asService(async (tx) => {
      const s = await requireSession(tx, req);
      await tx`select private.widget_end_session(${s.id})`;
    });
    return new Response(null, { status: 204 });
  }

  if (key === 'GET /events') {
    const session = await db.asService((tx) => requireSession(tx, req));
    let cursor = req.headers.get('last-event-id') ?? new URL(req.url).searchParams.get('after');
    const sse = sseStream();
    sse.comment('connected');
    (async () => {
      const until = Date.now() + EVENTS_MS;
      try {
        while (!sse.clientGone && Date.now() < until) {
          const batch = await db.asService(async (tx) => {
            // Re-checked every poll: a revoked or expired session stops receiving at once.
            await requireSession(tx, req);
            return readMessages(tx, session.id, cursor);
          });
          for (const m of batch) {
            sse.send(WidgetMessage, 'message', m);
            cursor = m.id;
          }
          await new Promise((r) => setTimeout(r, POLL_MS));
        }
      } catch (e) {
        if (!(e instanceof HttpError)) log.warn('widget events stopped', { reason: (e as Error)?.message });
        sse.send(null, 'error', e instanceof HttpError ? e.toBody() : { error: 'unavailable', message: 'the stream stopped; reconnect' });
      } finally {
        sse.close();
      }
    })();
    return new Response(sse.readable, { status: 200, headers: SSE_HEADERS });
  }

  if (key === 'POST /messages') {
    const config = await loadSettings(env.SUPABASE_DB_URL);
    const maxChars = config.getOr('widget.max_message_chars', z.number().int().positive(), 2000);
    const body = await readJson(req, WidgetMessageRequest, { maxBytes: 64 * 1024 });
    if (body.content.length > maxChars) {
      throw new HttpError('payload_too_large', `a message may not exceed ${maxChars} characters`, { max_chars: maxChars });
    }
    const ip = await ipHash(req);
    let stored: { session: SessionRow; message: z.infer<typeof WidgetMessage>; botMayAnswer: boolean; refusal: string | null };
    try {
      stored = await db.asService(async (tx) => {
        const session = await requireSession(tx, req);
        const [r] = await tx<{ id: string; created_at: Date; bot_may_answer: boolean; bot_refusal: string | null }[]>`
          select (v.message).id, (v.message).created_at, v.bot_may_answer, v.bot_refusal
          from private.widget_visitor_message(${session.id}, ${body.content}, decode(${ip}, 'hex')) v`;
        return {
          session,
          message: { id: r!.id, role: 'visitor' as const, content: body.content, created_at: new Date(r!.created_at).toISOString() },
          botMayAnswer: r!.bot_may_answer,
          refusal: r!.bot_refusal,
        };
      });
    } catch (e) {
      throw rateLimited(e) ?? e;
    }

    const sse = sseStream();
    sse.send(WidgetMessage, 'message', stored.message);
    const handOff = async (reason: WidgetHandoff['reason'], persist: boolean) => {
      if (persist) await db.asService((tx) => tx`select private.widget_hand_off(${stored.session.id}, ${reason})`).catch(() => {});
      sse.send(WidgetHandoff, 'handoff', { reason });
      sse.close();
    };
    if (!stored.botMayAnswer) {
      const reason = WidgetHandoff.shape.reason.safeParse(stored.refusal);
      await handOff(reason.success ? reason.data : 'handed_off', stored.refusal === 'low_balance');
      return new Response(sse.readable, { status: 200, headers: SSE_HEADERS });
    }
    const work = botAnswer(env, db, stored.session, stored.message.id, sse, handOff, requestId, log);
    (globalThis as { EdgeRuntime?: { waitUntil(p: Promise<unknown>): void } }).EdgeRuntime?.waitUntil(work);
    return new Response(sse.readable, { status: 200, headers: SSE_HEADERS });
  }

  throw new HttpError('not_found', 'unknown widget route', { route: key.slice(0, 100) });
});

async function readMessages(tx: Tx, sessionId: string, after: string | null): Promise<z.infer<typeof WidgetMessage>[]> {
  const valid = after && /^[0-9a-f-]{36}$/i.test(after) ? after : null;
  const rows = await tx<{ id: string; role: 'visitor' | 'bot' | 'agent'; content: string; created_at: Date }[]>`
    select m.* from private.widget_messages(
      ${sessionId},
      (select c.created_at from public.messages c where c.id = ${valid} and c.chat_id = (select s.chat_id from public.widget_sessions s where s.id = ${sessionId})),
      ${valid}, 100) m`;
  return rows.map((r) => ({ ...r, created_at: new Date(r.created_at).toISOString() }));
}

/** The bot's answer: reserve from the owner's wallet, stream from the provider, store and settle (or hand off). */
async function botAnswer(
  env: Env,
  db: ReturnType<typeof database>,
  session: SessionRow,
  promptMessageId: string,
  sse: ReturnType<typeof sseStream>,
  handOff: (reason: WidgetHandoff['reason'], persist: boolean) => Promise<void>,
  requestId: string,
  log: { warn(msg: string, f?: Record<string, unknown>): void },
) {
  const site = WidgetSettings.safeParse(session.settings);
  const settings = site.success ? site.data : WidgetSettings.parse({});
  const sql = pool(env.SUPABASE_DB_URL);
  const [model] = await sql<{ id: string; provider: 'openai' | 'deepseek'; max_output_tokens: number; context_window: number; request_options: unknown }[]>`
    select m.id, m.provider, m.max_output_tokens, m.context_window, m.request_options from public.ai_models m
    where m.enabled and (m.id = ${settings.model} or (${settings.model}::text is null and m.is_default)) limit 1`;
  if (!model) return await handOff('provider_error', true);

  const history = await db.asService((tx) => readMessages(tx, session.id, null));
  const prompt = history.at(-1)?.content ?? '';
  const earlier: HistoryMessage[] = history.slice(0, -1).reverse().map((m) => ({
    kind: m.role === 'bot' ? 'ai' : 'text', sender_id: null, sender_name: null, content: m.content,
  }));
  const context = buildContext({ systemPrompt: settings.system_prompt, history: earlier, prompt, callerName: '', named: false, budget: 4000 });
  const reserveFor = reservedPromptTokens(context.promptTokens, model.provider);

  let interaction;
  try {
    interaction = await startInteraction(db, {
      userId: session.owner_id, chatId: session.chat_id, modelId: model.id, promptTokens: reserveFor,
      contextMessages: context.contextMessages, stream: true, requestId, minHoldSeconds: Math.ceil(env.AI_PROVIDER_TIMEOUT_MS / 1000) + 60,
    });
  } catch (e) {
    if (e instanceof HttpError && e.code === 'insufficient_credits') return await handOff('insufficient_credits', true);
    if (e instanceof HttpError && e.code === 'rate_limited') return await handOff('rate_limited', true);
    log.warn('widget bot could not start', { reason: (e as Error)?.message });
    return await handOff('provider_error', true);
  }
  sse.send(null, 'start', { interaction_id: interaction.id, model: model.id });

  const started = performance.now();
  let answer = '';
  let usage = null as ReturnType<typeof readUsage>;
  let finishReason: string | null = null;
  let responseId: string | null = null;
  let ttft: number | null = null;
  let fault: { code: string; error: string } | null = null;
  const abort = new AbortController();
  const deadline = setTimeout(() => abort.abort(), env.AI_PROVIDER_TIMEOUT_MS);
  try {
    const client = providerClient(model.provider, env);
    const stream = await client.chat.completions.create(completionParams(model, context.messages, true), { signal: abort.signal });
    for await (const chunk of stream) {
      responseId ??= chunk.id ?? null;
      if (chunk.usage) usage = readUsage(chunk.usage);
      const text = chunk.choices?.[0]?.delta?.content;
      if (text) {
        ttft ??= Math.round(performance.now() - started);
        answer += text;
        sse.send(null, 'delta', { text });
      }
      if (chunk.choices?.[0]?.finish_reason) finishReason = chunk.choices[0].finish_reason;
    }
  } catch (e) {
    const f = classifyProviderError(e, model.provider, answer ? 'stream' : 'request', abort.signal.aborted);
    fault = { code: f.code, error: f.message };
  } finally {
    clearTimeout(deadline);
  }
  const latency = Math.round(performance.now() - started);
  try {
    if (!answer) {
      // Nothing produced: the hold is released, nothing is charged (docs/money.md).
      await db.asService((tx) => failInteraction(tx, { id: interaction.id, code: fault?.code ?? 'usage_missing', error: fault?.error ?? 'no answer', latencyMs: latency, ttftMs: ttft }));
      return await handOff('provider_error', true);
    }
    // Output exists: the owner pays for it (the reported usage, else the estimate capped at the reservation).
    const charged = usage ?? { prompt_tokens: context.promptTokens, cached_prompt_tokens: 0, completion_tokens: countTokens(answer) };
    const [row] = await db.asService((tx) => tx<{ answer_message_id: string; finished_at: Date }[]>`
      select i.answer_message_id, i.finished_at from private.widget_finish_bot_answer(
        ${session.id}, ${interaction.id}, ${toStorableText(answer)}, ${promptMessageId},
        ${charged.prompt_tokens}, ${charged.cached_prompt_tokens}, ${charged.completion_tokens}, ${usage === null},
        ${finishReason}, ${latency}, ${ttft}, ${responseId}, ${fault?.code ?? (usage ? null : 'usage_missing')}, ${fault?.error ?? null}) i`);
    sse.send(WidgetMessage, 'bot', {
      id: row!.answer_message_id, role: 'bot', content: toStorableText(answer).slice(0, 8000), created_at: new Date(row!.finished_at).toISOString(),
    });
  } catch (e) {
    log.warn('widget bot answer not recorded', { interaction_id: interaction.id, reason: (e as Error)?.message });
    sse.send(null, 'error', { error: 'unavailable', message: 'the answer could not be recorded' });
  } finally {
    sse.close();
  }
}

/** Origins allowed by some active website (preflights carry no key), cached 60 s. */
const knownOrigins = new Map<string, { ok: boolean; at: number }>();
async function originKnown(env: Env, origin: string): Promise<boolean> {
  const hit = knownOrigins.get(origin);
  if (hit && Date.now() - hit.at < 60_000) return hit.ok;
  const [row] = await pool(env.SUPABASE_DB_URL)<{ ok: boolean }[]>`select private.widget_origin_known(${origin}) as ok`;
  knownOrigins.set(origin, { ok: !!row?.ok, at: Date.now() });
  if (knownOrigins.size > 10_000) knownOrigins.clear();
  return !!row?.ok;
}

const env = Env.safeParse(Deno.env.toObject());

/**
 * defineFunction's answer with per-website CORS: `*` is replaced by the
 * request's Origin when it is allowed (else no Access-Control-Allow-Origin:
 * the browser keeps the answer from the page).
 */
export async function handler(req: Request): Promise<Response> {
  const origin = originOf(req);
  const allowed = origin !== '' && env.success && await originKnown(env.data, origin).catch(() => false);
  if (req.method === 'OPTIONS') {
    const headers = new Headers({ vary: 'Origin', 'access-control-allow-methods': 'GET, POST, OPTIONS' });
    if (allowed) {
      headers.set('access-control-allow-origin', origin);
      headers.set('access-control-allow-headers', 'authorization, content-type, last-event-id, x-request-id');
      headers.set('access-control-max-age', '600');
    }
    return new Response(null, { status: 204, headers });
  }
  const res = await inner(req);
  const headers = new Headers(res.headers);
  headers.delete('access-control-allow-origin');
  headers.set('vary', 'Origin');
  if (allowed) headers.set('access-control-allow-origin', origin);
  headers.set('access-control-expose-headers', CORS_HEADERS['access-control-expose-headers']!);
  return new Response(res.body, { status: res.status, statusText: res.statusText, headers });
}
