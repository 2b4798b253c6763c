#!/usr/bin/env node
/**
 * `npm run reset`: deletes the local database (.local/db) so the next
 * `npm start` initialises it again and re-applies every migration and the seed.
 * Keys (.local/keys.json) and the Clerk stand-in (.local/clerk) are kept, so
 * configured clients keep working. Refuses while the stack is running.
 */
import { rmSync } from 'node:fs';
import { isAlive } from './runtime/db.mjs';
import { LOCAL_DIR, readState, reapLeftovers, statePaths } from './runtime/state.mjs';

const state = readState();
if (state?.pid && isAlive(state.pid)) {
  console.error(`The local stack is running (pid ${state.pid}); stop it with Ctrl-C first.`);
  process.exit(1);
}
await reapLeftovers();
const paths = statePaths(LOCAL_DIR);
rmSync(paths.db, { recursive: true, force: true });
rmSync(paths.stack, { force: true });
console.log('Local database deleted; the next `npm start` recreates it from the migrations and seed.');
