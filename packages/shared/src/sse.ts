/**
 * Server-sent events, as the HTML standard defines the `text/event-stream`
 * format (https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation):
 * lines end with CRLF, LF or CR; `event:` names the event (default `message`),
 * `data:` lines are joined with "\n", `id:` sets the last event id, lines
 * starting with `:` are comments, a blank line dispatches the event (an event
 * without data is dropped), one space after the colon is removed.
 *
 * Only `fetch`, `ReadableStream` and `TextDecoder` are used, so it runs in
 * browsers, Deno, Node 18+ and React Native (with a fetch that streams
 * bodies, e.g. `expo/fetch`; otherwise use `parseSseText` on the whole body).
 */
import { createParser, type EventSourceParser } from 'eventsource-parser';

/** One dispatched event. */
export interface SseEvent {
  /** The `event:` field, or `message`. */
  event: string;
  /** The `data:` lines joined with "\n". */
  data: string;
  /** The last `id:` seen so far, if any. */
  id?: string;
}

/**
 * Incremental parser (eventsource-parser, https://github.com/rexxars/eventsource-parser,
 * which implements the standard's interpretation): feed it text chunks, get
 * the events they complete.
 */
export class SseParser {
  private out: SseEvent[] = [];
  private lastId: string | undefined;
  /** The text so far ends with CR: the parser waits to see whether an LF follows. */
  private endsWithCr = false;
  private parser: EventSourceParser = createParser({
    onEvent: (e) => {
      if (e.id !== undefined) this.lastId = e.id;
      const ev: SseEvent = { event: e.event ?? 'message', data: e.data };
      if (this.lastId !== undefined) ev.id = this.lastId;
      this.out.push(ev);
    },
  });

  /** Parses `chunk` (any split, even inside a line or a CRLF) and returns the events it completes. */
  push(chunk: string): SseEvent[] {
    if (chunk) this.endsWithCr = chunk.endsWith('\r');
    this.parser.feed(chunk);
    return this.out.splice(0);
  }

  /**
   * Ends the stream: a line end still pending (a final CR that could have
   * been the start of a CRLF) counts, and an event not followed by a blank
   * line is not dispatched (per the standard). Returns the events this completes.
   */
  end(): SseEvent[] {
    if (this.endsWithCr) this.parser.feed('\n'); // completes the CR as a line end (CRLF = one line end)
    this.endsWithCr = false;
    this.parser.reset();
    return this.out.splice(0);
  }
}

/** Parses a whole `text/event-stream` body at once. */
export function parseSseText(text: string): SseEvent[] {
  const parser = new SseParser();
  return [...parser.push(text), ...parser.end()];
}

/** Yields the events of a streamed body as they arrive. Cancelling the iteration cancels the body. */
export async function* readSseStream(body: ReadableStream<Uint8Array>): AsyncGenerator<SseEvent, void, undefined> {
  const reader = body.getReader();
  const decoder = new TextDecoder('utf-8');
  const parser = new SseParser();
  let finished = false;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      for (const ev of parser.push(decoder.decode(value, { stream: true }))) yield ev;
    }
    finished = true;
    for (const ev of [...parser.push(decoder.decode()), ...parser.end()]) yield ev;
  } finally {
    if (!finished) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}
