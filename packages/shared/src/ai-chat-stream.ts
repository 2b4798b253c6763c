/**
 * The streamed `ai-chat` call of the typed client (`functions.aiChatStream`):
 * `fetch` with `accept: text/event-stream`, then the body read through a
 * `ReadableStream` and parsed as server-sent events (./sse.ts), each event's
 * data checked with its schema (`AiChatEvents`). Runs in browsers, Deno, Node
 * 18+ and React Native with a streaming fetch (`expo/fetch`); with a fetch
 * that cannot stream (`res.body` null) the events arrive all at once at the end.
 *
 * ```ts
 * for await (const ev of functions.aiChatStream({ chat_id, prompt })) {
 *   if (ev.event === 'delta') append(ev.data.text);
 *   if (ev.event === 'done') show(ev.data); // stored and charged
 * }
 * ```
 * Errors are thrown as `FunctionsError`: before the stream (the function's
 * error answer: 402, 404, 429…), on an `error` event (the call stopped: when
 * deltas came first, the part received was charged and kept, and the error's
 * `details` give `charged_micro_usd`, `stored` and `answer_message_id`; with no
 * delta nothing was charged), `invalid_response` for an event that does
 * not match its schema or a stream that ends without `done`, `network_error`
 * when the connection drops. Aborting `signal` stops reading; the server
 * still finishes, stores and charges the answer (see the ai-chat function).
 */
import { z } from 'zod';
import { type FunctionsClientOptions, FunctionsError } from './client.ts';
import { ErrorBody } from './errors.ts';
import { type AiChatEvent, AiChatEvents, type AiChatRequestInput } from './functions/ai-chat.ts';
import { parseSseText, readSseStream, type SseEvent } from './sse.ts';

/** Streams one `ai-chat` answer; see the module comment. */
export async function* streamAiChat(
  options: FunctionsClientOptions,
  body: AiChatRequestInput,
  signal?: AbortSignal,
): AsyncGenerator<AiChatEvent, void, undefined> {
  const doFetch = options.fetch ?? ((input: RequestInfo | URL, init?: RequestInit) => fetch(input, init));
  const headers: Record<string, string> = { accept: 'text/event-stream', 'content-type': 'application/json' };
  const token = await options.getToken?.();
  if (token) headers.authorization = `Bearer ${token}`;
  if (options.apiKey) headers.apikey = options.apiKey;

  let res: Response;
  try {
    res = await doFetch(`${options.url.replace(/\/+$/, '')}/ai-chat`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ ...body, stream: true }),
      signal,
    });
  } catch (e) {
    throw new FunctionsError(0, 'network_error', `could not reach ai-chat: ${(e as Error)?.message ?? e}`);
  }
  const requestId = res.headers.get('x-request-id') ?? undefined;
  const type = res.headers.get('content-type') ?? '';
  if (!res.ok || !type.startsWith('text/event-stream')) {
    const text = await res.text().catch(() => '');
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    const err = ErrorBody.safeParse(json);
    if (!res.ok && err.success) {
      throw new FunctionsError(res.status, err.data.error, err.data.message, err.data.details, requestId);
    }
    throw new FunctionsError(res.status, 'invalid_response', `ai-chat answered ${res.status} ${type || 'without a content type'}`, json, requestId);
  }

  const events: AsyncIterable<SseEvent> | Iterable<SseEvent> = res.body ? readSseStream(res.body) : parseSseText(await res.text());
  let done = false;
  try {
    for await (const ev of events) {
      const schema = AiChatEvents[ev.event as keyof typeof AiChatEvents];
      if (!schema) continue; // an event this client does not know: ignore (forward compatible)
      let data: unknown;
      try {
        data = JSON.parse(ev.data);
      } catch {
        throw new FunctionsError(res.status, 'invalid_response', `ai-chat sent a ${ev.event} event that is not JSON`, undefined, requestId);
      }
      const parsed = (schema as z.ZodType).safeParse(data);
      if (!parsed.success) {
        throw new FunctionsError(res.status, 'invalid_response', `ai-chat sent an unexpected ${ev.event} event`, z.treeifyError(parsed.error), requestId);
      }
      if (ev.event === 'error') {
        const e = parsed.data as ErrorBody;
        throw new FunctionsError(res.status, e.error, e.message, e.details, requestId);
      }
      yield { event: ev.event, data: parsed.data } as AiChatEvent;
      if (ev.event === 'done') {
        done = true;
        return;
      }
    }
  } catch (e) {
    if (e instanceof FunctionsError) throw e;
    if (signal?.aborted) throw e;
    throw new FunctionsError(0, 'network_error', `the ai-chat stream broke: ${(e as Error)?.message ?? e}`, undefined, requestId);
  }
  if (!done) {
    throw new FunctionsError(res.status, 'invalid_response', 'the ai-chat stream ended before the answer was complete', undefined, requestId);
  }
}
