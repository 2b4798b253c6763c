/**
 * The demo's transcript: numbered steps, who did what, checked results, and
 * the checks themselves (a wrong answer stops the journey: exit code 1).
 * Colours only on a terminal, never with NO_COLOR.
 */
const useColor = process.stdout.isTTY && !process.env.NO_COLOR;
const paint = (code) => (s) => (useColor ? `\x1b[${code}m${s}\x1b[0m` : String(s));
export const bold = paint('1');
export const dim = paint('2');
export const green = paint('32');
export const red = paint('31');
export const cyan = paint('36');

export const started = Date.now();
let stepNo = 0;
/** Number of the step running now (0 before the first). */
export const currentStep = () => stepNo;
export const out = (line = '') => process.stdout.write(`${line}\n`);

/** Starts numbered step `title`. */
export function step(title) {
  stepNo += 1;
  out();
  out(bold(`${String(stepNo).padStart(2)}. ${title}`));
}
/** Width of the speaker column. */
export const WHO = 11;
/** `who` does or sees `what` (one transcript line). */
export const say = (who, what) => out(`    ${cyan(who.padEnd(WHO))}${what}`);
/** A checked result. */
export const ok = (what) => out(`    ${' '.repeat(WHO)}${green('✓')} ${what}`);
/** A detail line (figures, ids). */
export const note = (what) => out(`    ${' '.repeat(WHO + 2)}${dim(what)}`);
/** A line about the stack, before the journey. */
export const info = (what) => out(`  ${dim(what)}`);

/** A wrong answer: the demo stops here with exit code 1. */
export class JourneyError extends Error {}
/** The stack cannot be used by the demo (real providers): exit code 2. */
export class NeedsStandins extends Error {}

const json = (v) => JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? String(x) : x));

/** Asserts `cond`; otherwise stops the journey with `message` (and `detail`, as JSON). */
export function check(cond, message, detail) {
  if (!cond) throw new JourneyError(`${message}${detail === undefined ? '' : `\n       got: ${json(detail)}`}`);
}
/** Asserts `actual === expected`. */
export const checkEqual = (actual, expected, message) =>
  check(actual === expected, `${message}: expected ${typeof expected === 'bigint' ? expected : JSON.stringify(expected)}`, actual);

/**
 * The rows of a supabase-js answer (`{ data, error }`); an error stops the
 * journey with PostgREST's code and message (`what` says which call).
 * @template T
 * @param {string} what
 * @param {PromiseLike<{ data: T, error: any }>} request
 * @returns {Promise<T>}
 */
export async function expectData(what, request) {
  const { data, error } = await request;
  if (error) throw new JourneyError(`${what}: ${error.code ? `[${error.code}] ` : ''}${error.message}${error.details ? ` (${error.details})` : ''}`);
  return data;
}

/** Micro-USD (number or bigint) as dollars: 1000000 → "$1.000000". */
export const usd = (micro) => {
  const n = BigInt(micro);
  const sign = n < 0n ? '-' : '';
  const a = n < 0n ? -n : n;
  return `${sign}$${a / 1_000_000n}.${String(a % 1_000_000n).padStart(6, '0')}`;
};
/** A URL with its password hidden. */
export const redact = (url) => url.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:****@');
export const short = (id) => `${String(id).slice(0, 8)}…`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` until it returns a truthy value or `ms` pass (then returns the last value). */
export async function eventually(fn, ms = 15_000) {
  const until = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v || Date.now() > until) return v;
    await sleep(150);
  }
}
