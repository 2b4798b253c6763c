/**
 * Where one ai-chat call's time goes, measured in the function with
 * `performance.now()` and answered as W3C Server Timing
 * (https://www.w3.org/TR/server-timing/): a `Server-Timing` header on every
 * answer the function makes, and the whole split in `server_timing`
 * (`AiServerTiming`, @chat-with-me/shared) of the JSON answer and of the SSE
 * `done` event.
 *
 * Phases (milliseconds; a phase that runs twice, e.g. the provider request
 * before and after a fallback, adds up):
 * - `auth`: the Clerk session token's verification;
 * - `db`: database work before the provider call (the caller's reads as the
 *   user, admin settings when not cached, start_ai_interaction, a fallback's
 *   moves), as the function waits for it: pool, round trips and SQL;
 * - `provider`: waiting for the provider: until its answer's headers in the
 *   header of a streamed answer (sent before the stream), until its last byte
 *   in `server_timing`;
 * - `settle`: database work after the answer (finish_ai_interaction: store,
 *   charge, title), before the JSON answer or `done`;
 * - `other`: the rest of `total` (body, context and token counts, SSE,
 *   validation of what is sent);
 * - `total`: from the request reaching the function to the header being sent
 *   (header) or to `done` / the JSON answer (`server_timing`).
 */
import type { AiServerTiming } from '@chat-with-me/shared';

type Phase = 'auth' | 'db' | 'provider' | 'settle';

/** Milliseconds with 0.1 ms precision. */
const tenth = (ms: number) => Math.round(ms * 10) / 10;

export class CallTiming {
  private readonly started = performance.now();
  private readonly spent: Record<Phase, number> = { auth: 0, db: 0, provider: 0, settle: 0 };
  private providerSince: number | null = null;

  /** Runs `fn`, adding the time it takes to `phase`. */
  async measure<T>(phase: Phase, fn: () => Promise<T>): Promise<T> {
    const t = performance.now();
    try {
      return await fn();
    } finally {
      this.spent[phase] += performance.now() - t;
    }
  }

  /** The provider request starts (its time counts until `providerDone`). */
  providerStart() {
    this.providerSince = performance.now();
  }

  /** The provider's answer ended (its last byte, or a failure). */
  providerDone() {
    if (this.providerSince === null) return;
    this.spent.provider += performance.now() - this.providerSince;
    this.providerSince = null;
  }

  /** The split so far (a provider request still running counts until now). */
  summary(): AiServerTiming {
    const now = performance.now();
    const provider = this.spent.provider + (this.providerSince === null ? 0 : now - this.providerSince);
    const total = now - this.started;
    const { auth, db, settle } = this.spent;
    return {
      auth_ms: tenth(auth),
      db_ms: tenth(db),
      provider_ms: tenth(provider),
      settle_ms: tenth(settle),
      other_ms: tenth(Math.max(0, total - auth - db - provider - settle)),
      total_ms: tenth(total),
    };
  }

  /** The `Server-Timing` header value of split `s` (by default, so far; phases with no time left out, `total` always). */
  header(s: AiServerTiming = this.summary()): string {
    const metrics: [string, number, string][] = [
      ['auth', s.auth_ms, 'token check'],
      ['db', s.db_ms, 'database before the provider'],
      ['provider', s.provider_ms, 'provider'],
      ['settle', s.settle_ms, 'database after the answer'],
      ['other', s.other_ms, 'function'],
    ];
    return [...metrics.filter(([, ms]) => ms > 0), ['total', s.total_ms, 'function total'] as const]
      .map(([name, ms, desc]) => `${name};dur=${ms};desc="${desc}"`)
      .join(', ');
  }
}
