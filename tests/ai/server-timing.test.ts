/**
 * ai-chat says where its time goes: a `Server-Timing` header on its answers
 * (W3C Server Timing, https://www.w3.org/TR/server-timing/: `name;dur=<ms>;desc="…"`,
 * comma-separated) and the whole split in `server_timing` of the JSON answer
 * and of the SSE `done` event (AiServerTiming). Durations are not asserted
 * (speed belongs to `npm run bench`), only what is measured and that the
 * phases add up.
 */
import { randomUUID } from 'node:crypto';
import { AiChatResult, AiServerTiming } from '@chat-with-me/shared';
import { describe, expect, it } from 'vitest';
import { aiStackForFile, aiUser, assistantChat, caller, sseEvents } from './helpers.js';

const stack = aiStackForFile();

/** The metrics of a Server-Timing header: name → duration (ms) and description. */
function serverTiming(header: string | null): Map<string, { dur: number; desc: string | undefined }> {
  expect(header).toBeTruthy();
  const metrics = new Map<string, { dur: number; desc: string | undefined }>();
  for (const part of header!.split(',')) {
    const [name, ...params] = part.trim().split(';');
    const p = Object.fromEntries(params.map((x) => x.split('=', 2) as [string, string]));
    expect(name).toMatch(/^[a-z]+$/);
    expect(p.dur).toMatch(/^\d+(\.\d+)?$/);
    metrics.set(name!, { dur: Number(p.dur), desc: p.desc?.replace(/^"|"$/g, '') });
  }
  return metrics;
}

/** The phases of `s` add up to its total (each rounded to 0.1 ms). */
function expectConsistent(s: AiServerTiming) {
  const sum = s.auth_ms + s.db_ms + s.provider_ms + s.settle_ms + s.other_ms;
  expect(Math.abs(sum - s.total_ms)).toBeLessThanOrEqual(0.5);
}

describe('Server-Timing', () => {
  it('a streamed answer: the header holds the phases up to the provider, `done` the whole split', async () => {
    const user = await aiUser();
    const chat = await assistantChat(user);
    stack.openai.behave({ reply: 'Timed answer.', chunkDelayMs: 2 });
    const res = await (await caller(stack.fns, user)).post({ chat_id: chat, prompt: 'How long?' });
    expect(res.status).toBe(200);
    const header = serverTiming(res.headers.get('server-timing'));
    expect([...header.keys()]).toEqual(expect.arrayContaining(['auth', 'db', 'provider', 'total']));
    expect(header.has('settle')).toBe(false); // the settlement comes after the stream
    expect(header.get('db')!.dur).toBeGreaterThan(0);

    const events = await sseEvents(res);
    const done = AiChatResult.parse(events.at(-1)!.data);
    expect(events.at(-1)!.event).toBe('done');
    const s = done.server_timing;
    expectConsistent(s);
    expect(s.db_ms).toBeGreaterThan(0);
    expect(s.settle_ms).toBeGreaterThan(0);
    expect(s.provider_ms).toBeGreaterThan(0);
    // The header was sent earlier than `done`: the same phases, no more time than `done` reports.
    expect(header.get('auth')?.dur ?? 0).toBe(s.auth_ms);
    expect(header.get('db')!.dur).toBe(s.db_ms);
    expect(header.get('provider')!.dur).toBeLessThanOrEqual(s.provider_ms);
    expect(header.get('total')!.dur).toBeLessThanOrEqual(s.total_ms);
  });

  it('a JSON answer: header and body carry the same split, settlement included', async () => {
    const user = await aiUser();
    const chat = await assistantChat(user);
    const res = await (await caller(stack.fns, user)).post({ chat_id: chat, prompt: 'And as JSON?', stream: false });
    expect(res.status).toBe(200);
    const header = serverTiming(res.headers.get('server-timing'));
    const s = AiChatResult.parse(await res.json()).server_timing;
    expectConsistent(s);
    expect(s.settle_ms).toBeGreaterThan(0);
    expect(Object.fromEntries([...header].map(([k, v]) => [k, v.dur]))).toEqual(
      Object.fromEntries(
        Object.entries({ auth: s.auth_ms, db: s.db_ms, provider: s.provider_ms, settle: s.settle_ms, other: s.other_ms, total: s.total_ms })
          .filter(([k, ms]) => ms > 0 || k === 'total'),
      ),
    );
  });

  it('an error answer carries the phases it went through (no provider call)', async () => {
    const user = await aiUser();
    const res = await (await caller(stack.fns, user)).post({ chat_id: randomUUID(), prompt: 'Nobody here?' });
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: 'not_found' });
    const header = serverTiming(res.headers.get('server-timing'));
    expect(header.has('db')).toBe(true);
    expect(header.has('total')).toBe(true);
    expect(header.has('provider')).toBe(false);
    expect(stack.openai.requests).toHaveLength(0);
  });

  it('an error the database raises (402, no credits for the reservation) carries it too', async () => {
    const user = await aiUser(0);
    const chat = await assistantChat(user);
    const res = await (await caller(stack.fns, user)).post({ chat_id: chat, prompt: 'On credit?' });
    expect(res.status).toBe(402);
    const header = serverTiming(res.headers.get('server-timing'));
    expect(header.has('db')).toBe(true);
    expect(header.has('total')).toBe(true);
    expect(header.has('provider')).toBe(false);
  });
});
