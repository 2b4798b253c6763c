/**
 * The SQL ↔ TypeScript boundary of the edge functions (supabase/functions/_shared/db.ts),
 * run from Node against the test database with the same postgres.js:
 * - `parseInt8`, the one parser of PostgreSQL int8 values (money in micro-USD):
 *   exact up to Number.MAX_SAFE_INTEGER, refused beyond (never rounded);
 * - the functions' pool gives rows as the generated Database types declare
 *   them (int8 → number, timestamptz → ISO 8601 string), so handlers type rows
 *   with `Tables<…>` instead of converting by hand;
 * - `callValue`/`callRow`/`callRows`: private functions called with named
 *   arguments, with and without arguments, and a SQL default for an argument
 *   left out.
 */
import { afterAll, describe, expect, inject, it } from 'vitest';
import { callRow, callRows, callValue, database, parseInt8, pool } from '../../supabase/functions/_shared/db.ts';

const url = inject('dbUrl');

afterAll(async () => {
  await pool(url).end();
});

describe('parseInt8', () => {
  it('parses integers exactly up to ±Number.MAX_SAFE_INTEGER', () => {
    expect(parseInt8('0')).toBe(0);
    expect(parseInt8('-1500000')).toBe(-1_500_000);
    expect(parseInt8('9007199254740991')).toBe(Number.MAX_SAFE_INTEGER);
    expect(parseInt8('-9007199254740991')).toBe(-Number.MAX_SAFE_INTEGER);
  });

  it('refuses values beyond Number.MAX_SAFE_INTEGER instead of rounding them', () => {
    expect(() => parseInt8('9007199254740992')).toThrow(RangeError);
    expect(() => parseInt8('-9007199254740993')).toThrow(RangeError);
    expect(() => parseInt8('9223372036854775807')).toThrow(/MAX_SAFE_INTEGER/);
  });

  it('refuses anything that is not an integer literal', () => {
    for (const text of ['', '1.5', '1e3', ' 1', '0x10', 'NaN', 'Infinity', '+1']) {
      expect(() => parseInt8(text), text).toThrow(RangeError);
    }
  });
});

describe("the functions' pool", () => {
  it('gives int8 as numbers and timestamps as ISO strings, as the generated types declare', async () => {
    const [row] = await pool(url)`
      select 9007199254740991::bigint as big, (-42)::bigint as neg, null::bigint as none, 7::integer as int,
             timestamptz '2026-11-22 08:00:00.123456+00' as at, array[1, 2]::bigint[] as list`;
    expect(row).toEqual({ big: Number.MAX_SAFE_INTEGER, neg: -42, none: null, int: 7, at: '2026-11-22T08:00:00.123Z', list: [1, 2] });
  });

  it('fails the query (no wrong amount) when an int8 is beyond the safe range', async () => {
    await expect(pool(url)`select 9007199254740992::bigint as big`).rejects.toThrow(RangeError);
    // The pool keeps working afterwards.
    const [row] = await pool(url)`select 1::bigint as one`;
    expect(row!.one).toBe(1);
  });

  it('calls private functions with named arguments: none, scalar, row and rows results', async () => {
    const db = database(url);
    // No argument: asUser itself calls private.caller_is_suspended().
    expect(await db.asUser({ sub: 'user_boundaryNobody0000000000000' }, (tx) => callValue(tx, 'caller_is_suspended', {}))).toBe(false);
    // A scalar (int8, parsed by parseInt8).
    const maxBytes = await db.asService((tx) => callValue(tx, 'media_max_bytes', { p_purpose: 'avatar' }));
    expect(Number.isSafeInteger(maxBytes) && maxBytes > 0).toBe(true);
    // Rows of a set-returning function (granted to authenticated): one row of nulls for a chat that does not exist.
    const rows = await db.asUser({ sub: 'user_boundaryNobody0000000000000' }, (tx) =>
      callRows(tx, 'ai_chat_conversation', {
        p_chat_id: '00000000-0000-4000-8000-000000000000', p_model_id: null, p_user_id: 'user_boundaryNobody0000000000000', p_history_limit: 5,
      })
    );
    expect(rows).toEqual([{ chat_id: null, chat_kind: null, model: null, caller_name: null, history: null }]);
    // A row of a table; p_time_to_first_token_ms left out (its SQL default); an unknown id is PT404.
    await expect(
      db.asService((tx) =>
        callRow(tx, 'fail_ai_interaction', {
          p_interaction_id: '00000000-0000-4000-8000-000000000000', p_error_code: 'x', p_error: 'x', p_latency_ms: null,
        })
      ),
    ).rejects.toMatchObject({ name: 'PostgresError', code: 'PT404' });
  });
});
