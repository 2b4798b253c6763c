/**
 * Measurement helpers: bounded load loops, interleaved rounds, percentiles.
 * Every loop is bounded both in count and in time.
 */

/** Percentile (nearest rank, p in 0..100) of a numeric array. */
export function percentile(values, p) {
  if (!values.length) return NaN;
  const sorted = Float64Array.from(values).sort();
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

export const median = (values) => percentile(values, 50);

/** p50, p95, p99, mean, n of latencies in ms (rounded to µs). */
export function summarize(values) {
  const r = (x) => Math.round(x * 1000) / 1000;
  const mean = values.reduce((a, b) => a + b, 0) / (values.length || 1);
  return { n: values.length, p50: r(percentile(values, 50)), p95: r(percentile(values, 95)), p99: r(percentile(values, 99)), mean: r(mean) };
}

const round = (x, d = 3) => Math.round(x * 10 ** d) / 10 ** d;
export { round };

/**
 * Runs `op(worker, i)` from `concurrency` workers until `durationMs` elapsed or
 * `maxOps` operations were started, whichever comes first.
 * @returns {Promise<{ ops: number, errors: number, seconds: number, rate: number, firstError?: string }>}
 */
export async function runLoad({ concurrency, durationMs, maxOps, op }) {
  let started = 0;
  let done = 0;
  let errors = 0;
  let firstError;
  const t0 = performance.now();
  const deadline = t0 + durationMs;
  const worker = async (w) => {
    let i = 0;
    while (started < maxOps && performance.now() < deadline) {
      started++;
      try {
        await op(w, i++);
        done++;
      } catch (e) {
        errors++;
        firstError ??= String(/** @type {any} */ (e)?.message ?? e);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w)));
  const seconds = (performance.now() - t0) / 1000;
  return { ops: done, errors, seconds, rate: done / seconds, firstError };
}

/**
 * Throughput of several variants measured in interleaved rounds (the order
 * rotates each round), so that a noisy neighbour hits all of them alike.
 * Returns per variant: total ops, rate over all rounds, per-round rates.
 * @param {{ variants: Record<string, (w: number, i: number) => Promise<unknown>>, concurrency: number, rounds: number, roundMs: number, maxOpsPerRound: number, warmupMs?: number }} o
 */
export async function interleavedThroughput({ variants, concurrency, rounds, roundMs, maxOpsPerRound, warmupMs = 0 }) {
  const names = Object.keys(variants);
  /** @type {Record<string, { ops: number, seconds: number, errors: number, rounds: number[], firstError?: string }>} */
  const out = Object.fromEntries(names.map((n) => [n, { ops: 0, seconds: 0, errors: 0, rounds: [] }]));
  if (warmupMs > 0) {
    for (const n of names) await runLoad({ concurrency, durationMs: warmupMs, maxOps: maxOpsPerRound, op: variants[n] });
  }
  for (let r = 0; r < rounds; r++) {
    const order = names.map((_, k) => names[(k + r) % names.length]);
    for (const n of order) {
      const res = await runLoad({ concurrency, durationMs: roundMs, maxOps: maxOpsPerRound, op: variants[n] });
      out[n].ops += res.ops;
      out[n].seconds += res.seconds;
      out[n].errors += res.errors;
      out[n].rounds.push(round(res.rate, 1));
      out[n].firstError ??= res.firstError;
    }
  }
  return Object.fromEntries(
    names.map((n) => [n, { ...out[n], rate: round(out[n].ops / out[n].seconds, 1), seconds: round(out[n].seconds, 2) }]),
  );
}

/**
 * Latency of several variants, interleaved: iteration i runs every variant
 * once (rotating the order), each returning the milliseconds it measured.
 * Bounded by `iterations` and `maxMs`.
 * @param {{ variants: Record<string, (i: number) => Promise<number | { statement: number, request: number }>>, iterations: number, warmup?: number, maxMs: number }} o
 */
export async function interleavedLatency({ variants, iterations, warmup = 0, maxMs }) {
  const names = Object.keys(variants);
  const samples = Object.fromEntries(names.map((n) => [n, { statement: [], request: [] }]));
  for (let i = 0; i < warmup; i++) for (const n of names) await variants[n](i);
  const deadline = performance.now() + maxMs;
  for (let i = 0; i < iterations && performance.now() < deadline; i++) {
    for (let k = 0; k < names.length; k++) {
      const n = names[(k + i) % names.length];
      const t0 = performance.now();
      const v = await variants[n](i);
      const request = performance.now() - t0;
      samples[n].statement.push(typeof v === 'number' ? v : v.statement);
      samples[n].request.push(typeof v === 'number' ? request : v.request);
    }
  }
  return Object.fromEntries(names.map((n) => [n, { statement: summarize(samples[n].statement), request: summarize(samples[n].request) }]));
}

/** Times one awaited call in ms. */
export async function timed(fn) {
  const t0 = performance.now();
  const value = await fn();
  return { ms: performance.now() - t0, value };
}
