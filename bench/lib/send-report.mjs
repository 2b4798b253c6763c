/**
 * The report's part for where the send path's time goes: the `breakdown` of
 * bench/sections/send.mjs (EXPLAIN ANALYZE per trigger, function and statement
 * statistics). Used by bench/lib/report.mjs.
 */

const us = (msValue) => `${Math.round(msValue * 1000)} µs`;

/**
 * Markdown lines of the breakdown, or none when the run has none.
 * @param {any} b `results.send.breakdown`
 * @param {(header: string[], rows: unknown[][]) => string} table the report's table renderer
 */
export function sendBreakdownSection(b, table) {
  if (!b) return [];
  const out = [];
  const { insert_rls: rls, bare_request: bare, runs } = b.explain;
  out.push('### Where the time goes');
  out.push('');
  out.push(`\`explain (analyze, buffers, timing)\` of the insert as \`authenticated\` inside the request envelope, and of the bare insert, mean of ${runs} statements each on one connection (EXPLAIN's own clock reads add time: compare the rows with each other). ` +
    'The insert node holds the heap and index inserts, the policies and the BEFORE triggers; AFTER triggers and foreign-key checks run after it, within the execution time.');
  out.push('');
  const rows = [
    ['execution time of the statement', us(rls.execution_ms), us(bare.execution_ms)],
    ['planning time', us(rls.planning_ms), us(bare.planning_ms)],
    ['insert node (heap, indexes, policies, BEFORE triggers)', us(rls.insert_node_ms), us(bare.insert_node_ms)],
    ...Object.entries(rls.triggers).map(([name, v]) => [`trigger ${name}`, us(v), '–']),
  ];
  out.push(table(['per message', 'insert_rls', 'bare_request'], rows));
  out.push('');
  if (b.functions.length) {
    out.push(`Functions (\`track_functions = 'pl'\`, pg_stat_user_functions), per message over ${b.stat_runs} inserts and ${b.stat_runs} \`send_message\` calls, interleaved; total includes the functions it calls, self does not:`);
    out.push('');
    out.push(table(['function', 'calls / message', 'total', 'self'],
      b.functions.slice(0, 15).map((f) => [`\`${f.name}\``, f.calls_per_message, us(f.total_ms_per_message), us(f.self_ms_per_message)])));
    out.push('');
  }
  if (b.statements.length) {
    out.push('Statements (`pg_stat_statements.track = all`: those run inside functions and triggers too), the same sends:');
    out.push('');
    out.push(table(['statement', 'top level', 'calls / message', 'mean', 'per message'],
      b.statements.map((s) => [`\`${s.query.replace(/\|/g, '\\|').replace(/`/g, "'")}\``, s.toplevel ? 'yes' : 'no', s.calls_per_message, us(s.mean_ms), us(s.ms_per_message)])));
    out.push('');
  } else if (!b.pg_stat_statements) {
    out.push('Statements: pg_stat_statements is not preloaded on this server.');
    out.push('');
  }
  return out;
}
