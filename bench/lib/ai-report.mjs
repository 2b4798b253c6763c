/**
 * The AI section's split and peer figures in the report (report.mjs calls
 * these): ai-chat's total overhead as database work + the rest (from the
 * function's `server_timing`), and, after `npm run bench -- --peers`,
 * Portkey's gateway measured in the same rounds (sections/ai.mjs, lib/peers.mjs).
 */

const ms = (v) => `${v.toFixed(2)} ms`;

/** Summary rows: ai-chat's part that is not database work against Portkey's whole overhead (goal: no larger). */
export function aiPeerRows(a) {
  const pk = a.peers?.portkey;
  if (!pk || !a.split) return [];
  return [[
    `4. AI proxy: ai-chat's overhead that is not database work, against Portkey ${pk.version}'s whole overhead (total time, ${pk.total.n} requests)`,
    `median ${ms(a.split.rest.p50)} (database ${ms(a.split.database.p50)} besides)`,
    `Portkey: overhead median ${ms(pk.overhead.total.p50)}`,
    pk.ratios.rest_to_portkey_overhead_total.toFixed(2),
    '≤ 1',
    pk.ratios.rest_to_portkey_overhead_total <= 1 ? '✅ yes' : '❌ no',
  ]];
}

/** Report lines: the split of ai-chat's overhead, and the peer's figures next to ai-chat's. */
export function aiSplitSection(a, table) {
  const out = [];
  if (a.split) {
    out.push(`The split (medians per call; \`server_timing\` of \`done\`, measured in the function, W3C Server Timing phases): total overhead = **${ms(a.split.database.p50)} database work** (the caller's reads, \`start_ai_interaction\`, and ${ms(a.split.settlement.p50)} of settlement before \`done\`) **+ ${ms(a.split.rest.p50)} the rest** (token check, context, the gateway hop, Deno, the \`openai\` SDK, SSE). Without the settlement before \`done\`, the total overhead would be ${ms(a.split.total_overhead_without_settlement.p50)}.`);
    if (a.split.function_phases) {
      const f = a.split.function_phases;
      out.push('');
      out.push(`In the function (medians of \`server_timing\`): token check ${ms(f.auth_ms.p50)}, database before the provider ${ms(f.db_ms.p50)}, provider ${ms(f.provider_ms.p50)}, settlement ${ms(f.settle_ms.p50)}, the rest of the function ${ms(f.other_ms.p50)}, total ${ms(f.total_ms.p50)}; outside it (the gateway hop, HTTP, the SDKs' difference): ${ms(a.split.outside_function.p50)}.`);
    }
    out.push('');
  }
  const pk = a.peers?.portkey;
  if (pk) {
    out.push(`Next to a peer: ${pk.name} ${pk.version} (npm \`@portkey-ai/gateway\`, Node, bench/lib/peers.mjs) in front of the same stand-in, the same request body with the \`openai\` SDK, in the same rounds. Its stream handler waits 25 ms before it relays the first chunk (as published: \`build/start-server.js\`), which is most of its time-to-first-token overhead; the chunks that queued meanwhile then follow at once.`);
    out.push('');
    out.push(table(['', 'direct p50', 'via Portkey p50', 'Portkey overhead median', 'Portkey overhead p95', 'ai-chat overhead median', 'ai-chat / Portkey'], [
      ['time to first token', ms(a.direct.ttft.p50), ms(pk.ttft.p50), ms(pk.overhead.ttft.p50), ms(pk.overhead.ttft.p95), ms(a.overhead.ttft.p50), pk.ratios.overhead_ttft.toFixed(2)],
      ['total', ms(a.direct.total.p50), ms(pk.total.p50), ms(pk.overhead.total.p50), ms(pk.overhead.total.p95), ms(a.overhead.total.p50), pk.ratios.overhead_total.toFixed(2)],
    ]));
    out.push('');
  }
  return out;
}
