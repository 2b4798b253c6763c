/**
 * Structured logs: one JSON object per line on stdout/stderr, which the
 * Supabase edge runtime collects as the function's logs
 * (https://supabase.com/docs/guides/functions/logging) and `npm start` writes
 * to .local/functions/<name>.log.
 *
 * Never log a secret, a token or a request body: fields whose name looks like
 * one (authorization, token, secret, signature, password, cookie, api key,
 * jwt) are replaced by "[redacted]" whatever their value, as a safety net.
 */

export type Level = 'debug' | 'info' | 'warn' | 'error';
export type Fields = Record<string, unknown>;

const SENSITIVE = /authorization|token|secret|signature|password|cookie|api[-_]?key|jwt|private[-_]?key/i;

function redact(value: unknown, depth = 0): unknown {
  if (value === null || typeof value !== 'object' || depth > 4) return value;
  if (value instanceof Error) return { name: value.name, message: value.message };
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  const out: Fields = {};
  for (const [k, v] of Object.entries(value)) out[k] = SENSITIVE.test(k) ? '[redacted]' : redact(v, depth + 1);
  return out;
}

/** A logger bound to fixed fields (function name, request id). */
export interface Logger {
  debug(msg: string, fields?: Fields): void;
  info(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  error(msg: string, fields?: Fields): void;
  child(fields: Fields): Logger;
}

/** Creates a logger whose every line carries `base` (e.g. `{ fn: 'me' }`). */
export function createLogger(base: Fields = {}): Logger {
  const write = (level: Level, msg: string, fields?: Fields) => {
    const line = JSON.stringify({ time: new Date().toISOString(), level, msg, ...(redact({ ...base, ...fields }) as Fields) });
    if (level === 'error' || level === 'warn') console.error(line);
    else console.log(line);
  };
  return {
    debug: (m, f) => write('debug', m, f),
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
    child: (f) => createLogger({ ...base, ...f }),
  };
}
