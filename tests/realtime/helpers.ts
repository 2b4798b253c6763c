/**
 * Helpers for the Realtime suites (tests/realtime/*.test.ts): supabase-js
 * channels on the stack's Realtime stand-in (stack/runtime/realtime.mjs), and
 * what arrived on them.
 */
import type { RealtimeChannel } from '@supabase/supabase-js';
import { expect, vi } from 'vitest';
import type { Client } from '../helpers/client.js';

/** One `subscribe()` status (SUBSCRIBED, CHANNEL_ERROR, CLOSED, TIMED_OUT) with its error message. */
export interface Status {
  status: string;
  message?: string;
}

/** A channel with everything it received and every status it went through. */
export interface Watched {
  channel: RealtimeChannel;
  /** Broadcasts received: `{event, payload, meta?}`. */
  broadcasts: { event: string; payload: any; meta?: any }[];
  /** `system` messages (channel shutdowns carry their reason there). */
  system: { status: string; message: string; extension: string }[];
  statuses: Status[];
}

/**
 * Subscribes `client` to `topic` (private unless told) and waits for the
 * first final status (SUBSCRIBED, CHANNEL_ERROR, TIMED_OUT or CLOSED).
 * `setup` adds listeners before the subscription (Presence ones must).
 */
export async function watch(
  client: Client,
  topic: string,
  opts: { private?: boolean; self?: boolean; ack?: boolean; presenceKey?: string; presence?: boolean; setup?: (c: RealtimeChannel) => void } = {},
): Promise<Watched & { first: Status }> {
  // As the README's client code does: the token first, so the join carries it
  // (supabase-js sets it asynchronously when the client is created).
  await client.realtime.setAuth();
  const channel = client.channel(topic, {
    config: {
      private: opts.private ?? true,
      broadcast: { self: opts.self ?? false, ack: opts.ack ?? false },
      presence: { key: opts.presenceKey ?? '', enabled: opts.presence ?? false },
    },
  });
  const w: Watched = { channel, broadcasts: [], system: [], statuses: [] };
  channel.on('broadcast', { event: '*' }, (m: any) => w.broadcasts.push({ event: m.event, payload: m.payload, meta: m.meta }));
  channel.on('system', {}, (m: any) => w.system.push(m));
  opts.setup?.(channel);
  const first = await new Promise<Status>((resolve) => {
    channel.subscribe((status, err) => {
      const s = { status, message: err?.message };
      w.statuses.push(s);
      resolve(s);
    }, 8000);
  });
  return { ...w, first };
}

/** Waits until `w` received `n` broadcasts (or fails with what it got). */
export async function received(w: Watched, n: number, timeout = 5000) {
  await vi.waitFor(() => expect(w.broadcasts.length, JSON.stringify(w.broadcasts).slice(0, 500)).toBeGreaterThanOrEqual(n), {
    timeout,
    interval: 25,
  });
  return w.broadcasts;
}

/** Lets in-flight frames arrive (for assertions that something did NOT arrive). */
export const settle = (ms = 700) => new Promise((r) => setTimeout(r, ms));

/** Removes every channel of the clients and closes their sockets. */
export async function closeClients(...clients: Client[]) {
  await Promise.all(clients.map((c) => c.removeAllChannels().catch(() => {})));
}
