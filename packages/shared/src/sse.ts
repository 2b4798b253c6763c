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

/** One dispatched event. */
export interface SseEvent {
  /** The `event:` field, or `message`. */
  event: string;
  /** The `data:` lines joined with "\n". */
  data: string;
  /** The last `id:` seen so far, if any. */
  id?: string;
}

/** Incremental parser: feed it text chunks, get the events they complete. */
export class SseParser {
  private buffer = '';
  private event = '';
  private data: string[] = [];
  private lastId: string | undefined;
  private pendingCr = false;

  /** Parses `chunk` (any split, even inside a line or a CRLF) and returns the events it completes. */
  push(chunk: string): SseEvent[] {
    let text = chunk;
    if (this.pendingCr && text.startsWith('\n')) text = text.slice(1);
    this.pendingCr = false;
    this.buffer += text;
    const out: SseEvent[] = [];
    for (;;) {
      const m = /\r\n|\r|\n/.exec(this.buffer);
      if (!m) break;
      // A CR at the very end may be the first half of a CRLF split across chunks.
      if (m[0] === '\r' && m.index === this.buffer.length - 1) {
        this.pendingCr = true;
      }
      const line = this.buffer.slice(0, m.index);
      this.buffer = this.buffer.slice(m.index + m[0].length);
      const ev = this.line(line);
      if (ev) out.push(ev);
    }
    return out;
  }

  /** Ends the stream: an event not followed by a blank line is not dispatched (per the standard). */
  end(): SseEvent[] {
    this.buffer = '';
    this.event = '';
    this.data = [];
    return [];
  }

  private line(line: string): SseEvent | null {
    if (line === '') {
      if (this.data.length === 0) {
        this.event = '';
        return null;
      }
      const ev: SseEvent = { event: this.event || 'message', data: this.data.join('\n') };
      if (this.lastId !== undefined) ev.id = this.lastId;
      this.event = '';
      this.data = [];
      return ev;
    }
    if (line.startsWith(':')) return null;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.event = value;
    else if (field === 'data') this.data.push(value);
    else if (field === 'id' && !value.includes('\0')) this.lastId = value;
    return null;
  }
}

/** Parses a whole `text/event-stream` body at once. */
export function parseSseText(text: string): SseEvent[] {
  return new SseParser().push(text);
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
    for (const ev of parser.push(decoder.decode())) yield ev;
  } finally {
    if (!finished) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}
