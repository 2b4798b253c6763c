/**
 * A server-sent-events response body (https://html.spec.whatwg.org/multipage/server-sent-events.html):
 * `event: <name>\ndata: <JSON>\n\n` per event, `: <text>\n\n` comments.
 *
 * The stream outlives its reader: when the client goes away (the runtime
 * cancels the body), `clientGone` turns true and later writes are dropped,
 * while the producer keeps going (ai-chat finishes and stores the answer),
 * unless `onCancel` stops it (ai-chat's `on_disconnect: 'stop'`).
 */
import type { z } from 'zod';

export function sseStream(opts: { onCancel?: () => void } = {}) {
  const encoder = new TextEncoder();
  let controller: ReadableStreamDefaultController<Uint8Array> | undefined;
  let closed = false;
  let gone = false;
  const readable = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
    },
    cancel() {
      gone = true;
      closed = true;
      opts.onCancel?.();
    },
  });
  const write = (text: string) => {
    if (closed || !controller) return;
    try {
      controller.enqueue(encoder.encode(text));
    } catch {
      gone = true;
      closed = true;
    }
  };
  return {
    readable,
    /** True once the client closed the stream. */
    get clientGone() {
      return gone;
    },
    /**
     * Sends event `name` with `data` as one JSON line, checked against
     * `schema` first when given (our events are validated like our JSON
     * answers; a mismatch is a bug and throws).
     */
    send<S extends z.ZodType>(schema: S | null, name: string, data: S extends z.ZodType ? z.input<S> : unknown) {
      const wire = JSON.parse(JSON.stringify(data));
      if (schema) {
        const checked = schema.safeParse(wire);
        if (!checked.success) throw new Error(`SSE ${name} does not match its schema: ${checked.error.message}`);
      }
      write(`event: ${name}\ndata: ${JSON.stringify(wire)}\n\n`);
    },
    /** A comment line (ignored by clients): keeps proxies from closing a quiet stream. */
    comment(text: string) {
      write(`: ${text.replace(/[\r\n]+/g, ' ')}\n\n`);
    },
    /** Ends the stream (idempotent). */
    close() {
      if (closed) return;
      closed = true;
      try {
        controller?.close();
      } catch {
        // already closed by the runtime
      }
    },
  };
}
