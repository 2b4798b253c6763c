/**
 * Runs one edge function's entrypoint (Deno.args[0]) in this Deno process for
 * the local stack (stack/runtime/functions.mjs), unchanged, and exits when the stack
 * that spawned it goes away: its stdin is a pipe from the stack, which closes
 * when the stack exits for any reason, even SIGKILL. Not deployed.
 */
const entry = Deno.args[0];
if (!entry) {
  console.error('usage: deno run … stack/runtime/deno-launcher.js <path/to/index.ts>');
  Deno.exit(2);
}

(async () => {
  const buf = new Uint8Array(256);
  try {
    while ((await Deno.stdin.read(buf)) !== null) {
      // the stack never writes; only EOF matters
    }
  } catch {
    // stdin closed abruptly: same meaning
  }
  Deno.exit(0);
})();

await import(new URL(`file://${entry}`).href);
