/**
 * A local stand-in for OpenAI's Chat Completions API, which DeepSeek also
 * speaks (https://api-docs.deepseek.com/, OpenAI format). The ai-chat function
 * talks to it with the real `openai` SDK through OPENAI_BASE_URL /
 * DEEPSEEK_BASE_URL: in the tests, and under `npm start` when no
 * OPENAI_API_KEY / DEEPSEEK_API_KEY is set. Nothing here is deployed.
 *
 * Wire format, as documented:
 * - `POST /v1/chat/completions` (and `/chat/completions`, DeepSeek's path
 *   under https://api.deepseek.com), `Authorization: Bearer <key>`, JSON body
 *   `{model, messages, stream, stream_options, max_completion_tokens | max_tokens, …}`
 *   (https://platform.openai.com/docs/api-reference/chat/create);
 * - `stream: true`: `text/event-stream` of `data: <chat.completion.chunk JSON>`
 *   lines, each `choices[0].delta` carrying the role, then pieces of
 *   `content`, then a chunk with `finish_reason`; with
 *   `stream_options: {include_usage: true}` every chunk has `usage: null` and
 *   one more chunk with `choices: []` carries the usage; then `data: [DONE]`
 *   (https://platform.openai.com/docs/api-reference/chat-streaming);
 * - otherwise one `chat.completion` object with `usage`;
 * - errors: the HTTP status with `{"error": {message, type, param, code}}`
 *   (https://platform.openai.com/docs/guides/error-codes).
 * Usage is counted, not invented: prompt tokens with gpt-tokenizer
 * (o200k_base) and OpenAI's chat-format rule (3 tokens per message + its
 * role, content and name, + 3 to prime the reply; cookbook "How to count
 * tokens with tiktoken"), completion tokens as the tokens of the text sent.
 * `flavor: 'deepseek'` reports usage the DeepSeek way
 * (`prompt_cache_hit_tokens` / `prompt_cache_miss_tokens`).
 *
 * Behaviour per request (`behave()` for all, `queue()` for the next ones):
 * latency before the answer, delay between chunks, HTTP errors, a connection
 * cut after N chunks (no usage, no [DONE]), a malformed chunk, given usage,
 * no usage at all, a fixed reply. Model ids starting with `standin-unavailable`
 * always answer 503, with `standin-slow` stream slowly (for the demo).
 */
import http from 'node:http';
import { countTokens, decode, encode } from 'gpt-tokenizer/encoding/o200k_base';

/**
 * @typedef {object} Behaviour
 * @property {string | ((body: any) => string)} [reply] the answer text (default: a short sentence quoting the last user message)
 * @property {number} [latencyMs] wait before answering (headers), in ms
 * @property {number} [chunkDelayMs] wait between streamed chunks, in ms
 * @property {number} [tokensPerChunk] answer tokens per `delta` (default 3)
 * @property {{ status: number, message?: string, type?: string, code?: string | null, headers?: Record<string, string> }} [error] answer with this HTTP error instead
 * @property {number} [cutAfterChunks] streamed: destroy the connection after this many content chunks
 * @property {boolean} [malformed] streamed: send a chunk that is not JSON after the first content chunk, then end
 * @property {boolean} [omitUsage] never send usage (even when include_usage is asked)
 * @property {Partial<{prompt_tokens: number, completion_tokens: number, cached_tokens: number}> | ((counted: {prompt_tokens: number, completion_tokens: number, cached_tokens: number}, body: any) => Partial<{prompt_tokens: number, completion_tokens: number, cached_tokens: number}>)} [usage] report this usage instead of the counted one
 */

/**
 * @typedef {object} RecordedRequest
 * @property {string} method
 * @property {string} path
 * @property {Record<string, string | string[] | undefined>} headers
 * @property {any} body the parsed JSON body (undefined if it was not JSON)
 * @property {number} receivedAt epoch ms
 * @property {boolean} completed the answer was sent to the end
 * @property {boolean} clientClosed the caller closed the connection before the answer was sent (not when the stand-in cut it)
 */

/** Tokens of `messages` in OpenAI's chat format (see the module comment). */
export function countChatTokens(messages) {
  let n = 3;
  for (const m of Array.isArray(messages) ? messages : []) {
    n += 3;
    n += countTokens(String(m?.role ?? ''));
    const content = typeof m?.content === 'string'
      ? m.content
      : Array.isArray(m?.content) ? m.content.map((p) => (typeof p?.text === 'string' ? p.text : '')).join('') : '';
    n += countTokens(content);
    if (typeof m?.name === 'string') n += 1 + countTokens(m.name);
  }
  return n;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function defaultReply(body) {
  const lastUser = [...(body?.messages ?? [])].reverse().find((m) => m?.role === 'user');
  const text = typeof lastUser?.content === 'string' ? lastUser.content.replace(/\s+/g, ' ').trim() : '';
  return `This is the local AI stand-in answering "${text.slice(0, 80)}". Set OPENAI_API_KEY or DEEPSEEK_API_KEY for real answers.`;
}

/**
 * Starts the stand-in on 127.0.0.1.
 * @param {{ port?: number, flavor?: 'openai' | 'deepseek', apiKey?: string, models?: string[] } & Behaviour} [options]
 *   `apiKey`: the only bearer accepted (any when unset); `models`: the only model ids served (any when unset);
 *   the rest is the default behaviour.
 * @returns {Promise<{
 *   url: string, origin: string, flavor: string, requests: RecordedRequest[],
 *   behave: (b: Behaviour) => void, queue: (...b: Behaviour[]) => void, reset: () => void, stop: () => Promise<void>,
 * }>} `url` is the base URL for the SDK: `http://127.0.0.1:<port>/v1` (openai) or `http://127.0.0.1:<port>` (deepseek).
 */
export async function startOpenAIStandin(options = {}) {
  const { port = 0, flavor = 'openai', apiKey, models, ...initial } = options;
  /** @type {RecordedRequest[]} */
  const requests = [];
  /** @type {Behaviour} */
  let defaults = { ...initial };
  /** @type {Behaviour[]} */
  let pending = [];
  let seq = 0;
  const sockets = new Set();

  const sendError = (res, status, message, type, code = null, headers = {}) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify({ error: { message, type, param: null, code } }));
  };

  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      handle(req, res, Buffer.concat(chunks).toString('utf8')).catch(() => res.destroy());
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  async function handle(req, res, raw) {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    let body;
    try {
      body = raw ? JSON.parse(raw) : undefined;
    } catch {
      body = undefined;
    }
    /** @type {RecordedRequest} */
    const record = { method: req.method ?? '', path, headers: req.headers, body, receivedAt: Date.now(), completed: false, clientClosed: false };
    requests.push(record);
    let cut = false;
    res.on('close', () => {
      if (!res.writableFinished && !cut) record.clientClosed = true;
    });

    if (req.method === 'GET' && /^(\/v1)?\/models$/.test(path)) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ object: 'list', data: (models ?? []).map((id) => ({ id, object: 'model', created: 0, owned_by: 'standin' })) }));
      record.completed = true;
      return;
    }
    if (req.method !== 'POST' || !/^(\/v1)?\/chat\/completions$/.test(path)) {
      return sendError(res, 404, `Unknown request URL: ${req.method} ${path}.`, 'invalid_request_error', 'unknown_url');
    }
    if (apiKey && req.headers.authorization !== `Bearer ${apiKey}`) {
      return sendError(res, 401, 'Incorrect API key provided.', 'invalid_request_error', 'invalid_api_key');
    }
    if (!body || typeof body.model !== 'string' || !Array.isArray(body.messages) || body.messages.length === 0) {
      return sendError(res, 400, "Missing required parameter: 'model' or 'messages'.", 'invalid_request_error', 'missing_required_parameter');
    }
    if (models && !models.includes(body.model)) {
      return sendError(res, 404, `The model \`${body.model}\` does not exist or you do not have access to it.`, 'invalid_request_error', 'model_not_found');
    }

    // Fault modes chosen by the model id, for callers that cannot reach behave() (the demo against `npm start`):
    // `standin-unavailable…` answers 503 (an outage before any output); `standin-slow…` streams 2 tokens every 150 ms.
    const byModel = body.model.startsWith('standin-unavailable')
      ? { error: { status: 503, message: 'The stand-in model is unavailable (standin-unavailable…).', type: 'server_error' } }
      : body.model.startsWith('standin-slow') ? { chunkDelayMs: 150, tokensPerChunk: 2 } : {};
    const b = { ...defaults, ...byModel, ...(pending.shift() ?? {}) };
    if (b.latencyMs) await sleep(b.latencyMs);
    if (res.destroyed) return;
    if (b.error) {
      const e = b.error;
      return sendError(res, e.status, e.message ?? 'The server had an error while processing your request.', e.type ?? 'server_error', e.code ?? null, e.headers);
    }

    // The answer, cut at the requested maximum (finish_reason length).
    const text = typeof b.reply === 'function' ? String(b.reply(body)) : (b.reply ?? defaultReply(body));
    const max = Number(body.max_completion_tokens ?? body.max_tokens ?? Infinity);
    let tokens = encode(text);
    let finishReason = 'stop';
    if (tokens.length > max) {
      tokens = tokens.slice(0, max);
      finishReason = 'length';
    }
    const counted = { prompt_tokens: countChatTokens(body.messages), completion_tokens: tokens.length, cached_tokens: 0 };
    const given = typeof b.usage === 'function' ? b.usage(counted, body) : b.usage;
    const u = { ...counted, ...(given ?? {}) };
    const usage = flavor === 'deepseek'
      ? {
          prompt_tokens: u.prompt_tokens, completion_tokens: u.completion_tokens, total_tokens: u.prompt_tokens + u.completion_tokens,
          prompt_cache_hit_tokens: u.cached_tokens, prompt_cache_miss_tokens: u.prompt_tokens - u.cached_tokens,
        }
      : {
          prompt_tokens: u.prompt_tokens, completion_tokens: u.completion_tokens, total_tokens: u.prompt_tokens + u.completion_tokens,
          prompt_tokens_details: { cached_tokens: u.cached_tokens, audio_tokens: 0 },
          completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
        };
    const id = `chatcmpl-standin${Date.now().toString(36)}${(seq++).toString(36)}`;
    const created = Math.floor(Date.now() / 1000);
    const withUsage = body.stream_options?.include_usage === true && !b.omitUsage;

    if (!body.stream) {
      res.writeHead(200, { 'content-type': 'application/json', 'x-request-id': `req_${id}` });
      res.end(JSON.stringify({
        id, object: 'chat.completion', created, model: body.model, system_fingerprint: 'fp_standin',
        choices: [{ index: 0, message: { role: 'assistant', content: decode(tokens), refusal: null }, logprobs: null, finish_reason: finishReason }],
        ...(b.omitUsage ? {} : { usage }),
      }));
      record.completed = true;
      return;
    }

    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-request-id': `req_${id}` });
    const chunk = (choices, extra = {}) =>
      `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model: body.model, system_fingerprint: 'fp_standin', choices, ...(withUsage ? { usage: null } : {}), ...extra })}\n\n`;
    const write = (s) => !res.destroyed && res.write(s);
    write(chunk([{ index: 0, delta: { role: 'assistant', content: '', refusal: null }, logprobs: null, finish_reason: null }]));
    const per = Math.max(1, b.tokensPerChunk ?? 3);
    let sent = 0;
    for (let i = 0; i < tokens.length; i += per) {
      if (b.chunkDelayMs) await sleep(b.chunkDelayMs);
      if (res.destroyed) return;
      write(chunk([{ index: 0, delta: { content: decode(tokens.slice(i, i + per)) }, logprobs: null, finish_reason: null }]));
      sent++;
      if (b.malformed && sent === 1) {
        write('data: {"id": "chatcmpl-broken", "choices": [{"delta": {"content": "oops"\n\n');
        res.end();
        return;
      }
      if (b.cutAfterChunks !== undefined && sent >= b.cutAfterChunks) {
        cut = true;
        res.socket?.destroy();
        return;
      }
    }
    if (b.cutAfterChunks !== undefined && sent < b.cutAfterChunks) {
      cut = true;
      res.socket?.destroy();
      return;
    }
    write(chunk([{ index: 0, delta: {}, logprobs: null, finish_reason: finishReason }]));
    if (withUsage) write(`data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model: body.model, system_fingerprint: 'fp_standin', choices: [], usage })}\n\n`);
    write('data: [DONE]\n\n');
    res.end();
    record.completed = !res.destroyed;
  }

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(undefined));
  });
  const origin = `http://127.0.0.1:${/** @type {import('node:net').AddressInfo} */ (server.address()).port}`;
  return {
    url: flavor === 'deepseek' ? origin : `${origin}/v1`,
    origin,
    flavor,
    requests,
    /** Sets the default behaviour of every following request (replaces the previous default). */
    behave(b) {
      defaults = { ...b };
    },
    /** Behaviours for the next requests, one each, before the default applies again. */
    queue(...b) {
      pending.push(...b);
    },
    /** Back to the start options; forgets queued behaviours and recorded requests. */
    reset() {
      defaults = { ...initial };
      pending = [];
      requests.length = 0;
    },
    async stop() {
      await new Promise((resolve) => {
        server.close(() => resolve(undefined));
        for (const s of sockets) s.destroy();
      });
    },
  };
}

export { startOpenAIStandin as start };
