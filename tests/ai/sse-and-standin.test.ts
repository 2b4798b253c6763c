/**
 * No database: the shared SSE parser against the HTML standard's rules, and
 * the OpenAI stand-in against the real `openai` SDK (what the ai-chat function
 * relies on: chunks, the final usage chunk, errors, cut and malformed streams,
 * DeepSeek's usage fields, the output cap).
 */
import { parseSseText, readSseStream, SseParser } from '@chat-with-me/shared';
import { countTokens } from 'gpt-tokenizer/encoding/o200k_base';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countChatTokens, startOpenAIStandin } from '../../stack/standins/openai.mjs';

describe('SSE parser', () => {
  it('dispatches on blank lines, joins data lines, names events, skips comments', () => {
    const text = ': keep-alive\n\nevent: start\ndata: {"a":1}\n\ndata: line one\ndata: line two\n\nevent: done\ndata:{"b":2}\n\n';
    expect(parseSseText(text)).toEqual([
      { event: 'start', data: '{"a":1}' },
      { event: 'message', data: 'line one\nline two' },
      { event: 'done', data: '{"b":2}' },
    ]);
  });

  it('handles CRLF and CR line ends, and chunks split anywhere (even inside a CRLF; a final CR counts at the end)', () => {
    const text = 'event: delta\r\ndata: {"text":"héllo"}\r\n\r\nevent: delta\rdata: x\r\r';
    for (let cut = 0; cut <= text.length; cut++) {
      const p = new SseParser();
      const events = [...p.push(text.slice(0, cut)), ...p.push(text.slice(cut)), ...p.end()];
      expect(events, `cut at ${cut}`).toEqual([
        { event: 'delta', data: '{"text":"héllo"}' },
        { event: 'delta', data: 'x' },
      ]);
    }
  });

  it('does not dispatch an event that is not ended by a blank line; keeps the last id', () => {
    expect(parseSseText('id: 7\nevent: a\ndata: 1\n\nevent: b\ndata: 2\n')).toEqual([{ event: 'a', data: '1', id: '7' }]);
  });

  it('reads a byte stream split inside multi-byte characters', async () => {
    const bytes = new TextEncoder().encode('event: delta\ndata: {"text":"€ and 😀"}\n\n');
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < bytes.length; i += 3) c.enqueue(bytes.slice(i, i + 3));
        c.close();
      },
    });
    const events = [];
    for await (const e of readSseStream(body)) events.push(e);
    expect(events).toEqual([{ event: 'delta', data: '{"text":"€ and 😀"}' }]);
  });
});

describe('OpenAI stand-in with the real SDK', () => {
  let standin: Awaited<ReturnType<typeof startOpenAIStandin>>;
  let client: OpenAI;
  beforeAll(async () => {
    standin = await startOpenAIStandin({ apiKey: 'sk-standin-test' });
    client = new OpenAI({ apiKey: 'sk-standin-test', baseURL: standin.url, maxRetries: 0, logLevel: 'off' });
  });
  afterAll(() => standin?.stop());

  const messages = [
    { role: 'system' as const, content: 'You are terse.' },
    { role: 'user' as const, content: 'Name a colour.' },
  ];

  it('streams chunks with deltas, then finish_reason, then a usage chunk (include_usage), then [DONE]', async () => {
    standin.reset();
    standin.behave({ reply: 'Blue, like the sky.' });
    const stream = await client.chat.completions.create({ model: 'gpt-6-luna', messages, stream: true, stream_options: { include_usage: true } });
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    expect(chunks[0]!.choices[0]!.delta).toMatchObject({ role: 'assistant', content: '' });
    expect(chunks.slice(0, -1).every((c) => c.usage === null && c.object === 'chat.completion.chunk')).toBe(true);
    const text = chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('');
    expect(text).toBe('Blue, like the sky.');
    expect(chunks.at(-2)!.choices[0]!.finish_reason).toBe('stop');
    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    expect(last.usage).toMatchObject({
      prompt_tokens: countChatTokens(messages),
      completion_tokens: countTokens('Blue, like the sky.'),
      total_tokens: countChatTokens(messages) + countTokens('Blue, like the sky.'),
      prompt_tokens_details: { cached_tokens: 0 },
    });
    expect(standin.requests[0]).toMatchObject({ path: '/v1/chat/completions', completed: true, clientClosed: false });
  });

  it('counts chat tokens like OpenAI: 3 per message + role + content, + 3 for the reply', () => {
    expect(countChatTokens(messages)).toBe(3 + (3 + countTokens('system') + countTokens('You are terse.')) + (3 + countTokens('user') + countTokens('Name a colour.')));
  });

  it('without include_usage sends no usage chunk; the raw wire ends with data: [DONE]', async () => {
    standin.behave({ reply: 'Red.' });
    const res = await fetch(`${standin.url}/chat/completions`, {
      method: 'POST',
      headers: { authorization: 'Bearer sk-standin-test', 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', messages, stream: true }),
    });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const text = await res.text();
    expect(text.trimEnd().endsWith('data: [DONE]')).toBe(true);
    expect(text).not.toContain('"usage"');
    expect(text.split('\n\n').filter(Boolean).every((l) => l.startsWith('data: '))).toBe(true);
  });

  it('answers JSON with usage, and cuts the answer at max_completion_tokens (finish_reason length)', async () => {
    standin.behave({ reply: 'one two three four five six seven eight' });
    const r = await client.chat.completions.create({ model: 'm', messages, max_completion_tokens: 3 });
    expect(r.object).toBe('chat.completion');
    expect(r.choices[0]).toMatchObject({ finish_reason: 'length', message: { role: 'assistant', content: 'one two three' } });
    expect(r.usage).toMatchObject({ completion_tokens: 3, prompt_tokens: countChatTokens(messages) });
  });

  it('reports given usage, and DeepSeek-style usage fields for flavor deepseek', async () => {
    standin.behave({ usage: { prompt_tokens: 1000, completion_tokens: 10, cached_tokens: 400 } });
    const r = await client.chat.completions.create({ model: 'm', messages });
    expect(r.usage).toMatchObject({ prompt_tokens: 1000, completion_tokens: 10, prompt_tokens_details: { cached_tokens: 400 } });
    const ds = await startOpenAIStandin({ flavor: 'deepseek', usage: { cached_tokens: 2 } });
    try {
      const dsClient = new OpenAI({ apiKey: 'any', baseURL: ds.url, maxRetries: 0 });
      expect(ds.url).not.toMatch(/\/v1$/);
      const d = await dsClient.chat.completions.create({ model: 'deepseek-v4-flash', messages, max_tokens: 50 });
      expect(d.usage).toMatchObject({ prompt_cache_hit_tokens: 2, prompt_cache_miss_tokens: countChatTokens(messages) - 2 });
      expect(ds.requests[0]!.path).toBe('/chat/completions');
    } finally {
      await ds.stop();
    }
  });

  it('answers errors in OpenAI’s shape: bad key 401, given status, unknown model 404', async () => {
    const bad = new OpenAI({ apiKey: 'wrong', baseURL: standin.url, maxRetries: 0 });
    const e401 = await bad.chat.completions.create({ model: 'm', messages }).catch((e) => e);
    expect(e401).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(e401).toMatchObject({ status: 401, code: 'invalid_api_key', type: 'invalid_request_error' });
    standin.queue({ error: { status: 503, message: 'The engine is currently overloaded', type: 'server_error', code: null } });
    const e503 = await client.chat.completions.create({ model: 'm', messages }).catch((e) => e);
    expect(e503).toMatchObject({ status: 503, type: 'server_error' });
    const only = await startOpenAIStandin({ models: ['gpt-6-luna'] });
    try {
      const e404 = await new OpenAI({ apiKey: 'k', baseURL: only.url, maxRetries: 0 }).chat.completions.create({ model: 'gpt-9', messages }).catch((e) => e);
      expect(e404).toMatchObject({ status: 404, code: 'model_not_found' });
    } finally {
      await only.stop();
    }
  });

  it('can cut a stream (connection error mid-way) or send a malformed chunk (parse error)', async () => {
    standin.queue({ reply: 'a b c d e f g h', cutAfterChunks: 1, chunkDelayMs: 10 });
    const cut = await (async () => {
      for await (const _ of await client.chat.completions.create({ model: 'm', messages, stream: true })) { /* read */ }
    })().catch((e) => e);
    expect(cut).toBeInstanceOf(Error);
    standin.queue({ malformed: true });
    const bad = await (async () => {
      for await (const _ of await client.chat.completions.create({ model: 'm', messages, stream: true })) { /* read */ }
    })().catch((e) => e);
    expect(bad).toBeInstanceOf(SyntaxError);
  });

  it('waits latencyMs before answering', async () => {
    standin.queue({ latencyMs: 300 });
    const t = Date.now();
    await client.chat.completions.create({ model: 'm', messages });
    expect(Date.now() - t).toBeGreaterThanOrEqual(280);
  });
});
