#!/usr/bin/env node
/**
 * `npm run reset`: deletes the local database (.local/db) so the next
 * `npm start` initialises it again and re-applies every migration and the seed.
 * Refuses while the stack is running.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { ROOT, isAlive } from './runtime/db.mjs';

const state = path.join(ROOT, '.local/stack.json');
if (existsSync(state)) {
  const { pid } = JSON.parse(readFileSync(state, 'utf8'));
  if (isAlive(pid)) {
    console.error(`The local stack is running (pid ${pid}); stop it with Ctrl-C first.`);
    process.exit(1);
  }
}
rmSync(path.join(ROOT, '.local/db'), { recursive: true, force: true });
rmSync(state, { force: true });
console.log('Local database deleted; the next `npm start` recreates it from the migrations and seed.');
