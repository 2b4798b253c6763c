/**
 * Fixtures for the client suites (tests/<feature>/client.test.ts): a small world of
 * users, friendships, chats and messages built through supabase-js as each
 * user would build it, plus assertions on PostgREST answers.
 *
 * Every world has fresh users (per-user rate limits never carry over between
 * tests), and the state is read back with `owner()` (tests/helpers/db.ts) only
 * to check what a refused request did NOT change.
 */
import { randomUUID } from 'node:crypto';
import { expect, inject } from 'vitest';
import { apiUrl, clerkToken, clientAs, type Client } from '../helpers/client.js';
import { createUser, owner } from '../helpers/db.js';

export { randomUUID };

/** What supabase-js returns for every query and rpc(). */
export interface Answer<T = unknown> {
  data: T | null;
  error: { code: string; message: string; details: string | null; hint: string | null } | null;
  status: number;
  count?: number | null;
}

/**
 * Asserts a refusal: HTTP `status` (one of), a PostgREST error body with a
 * `code` (matching `code` when given) and a message, and no data.
 */
export function expectRefused(res: Answer<unknown>, status: number | number[], code?: string | RegExp) {
  const statuses = Array.isArray(status) ? status : [status];
  expect(statuses, `status ${res.status}: ${JSON.stringify(res.error)}`).toContain(res.status);
  expect(res.error, `expected an error, got data ${JSON.stringify(res.data)?.slice(0, 200)}`).not.toBeNull();
  expect(typeof res.error!.code).toBe('string');
  expect(res.error!.message).toBeTruthy();
  if (code instanceof RegExp) expect(res.error!.code).toMatch(code);
  else if (code) expect(res.error!.code).toBe(code);
  expect(res.data ?? null).toBeNull();
}

/** 42501 "permission denied" from a missing grant: 401 for anon, 403 for a signed-in caller. */
export const expectNoPrivilege = (res: Answer<unknown>, anon = false) => expectRefused(res, anon ? 401 : 403, '42501');

/**
 * "Not found" from an RPC: SQLSTATE PT404, which PostgREST answers with HTTP
 * 404 (https://docs.postgrest.org/en/v12/references/errors.html#raise-errors-with-http-status-codes).
 * (P0002, used before, is a 500 through PostgREST 12.)
 */
export function expectNotFound(res: Answer<unknown>) {
  expectRefused(res, 404, 'PT404');
}

/** Asserts success and returns the data. */
export function ok<T>(res: Answer<T>): T {
  expect(res.error, `unexpected error (status ${res.status}): ${JSON.stringify(res.error)}`).toBeNull();
  expect(res.status).toBeLessThan(300);
  return res.data as T;
}

/**
 * A raw Data API request as `sub` (or anon when null): what supabase-js cannot
 * express (Prefer headers, CSV, malformed bodies). Returns the status, the
 * headers and the parsed body (text when not JSON).
 */
export async function rest(sub: string | null, path: string, init: { method?: string; body?: string; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { apikey: inject('publishableKey'), 'content-type': 'application/json', ...init.headers };
  if (sub) headers.authorization = `Bearer ${await clerkToken(sub)}`;
  const res = await fetch(`${apiUrl()}/rest/v1${path}`, { method: init.method ?? 'GET', headers, body: init.body });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    /* not JSON */
  }
  return { status: res.status, headers: res.headers, body: body as any, text };
}

/** Up to six user ids, typed so that destructuring them needs no checks. */
type Ids = [string, string, string, string, string, string];

/** `n` (at most 6) fresh users (profile and account, as clerk-webhook creates them). */
export async function freshUsers(n: number, opts: { is_admin?: boolean } = {}): Promise<Ids> {
  return <Promise<Ids>>Promise.all(Array.from({ length: n }, (_, i) => createUser({ display_name: `Client ${i} ${randomUUID().slice(0, 6)}`, ...opts })));
}

export interface World {
  /** Owner of the group, friend of bob, blocks eve. */
  alice: string;
  bob: string;
  /** A plain member of the group (not in the direct chat). */
  carol: string;
  /** Signed in, in no chat of the world (the outsider). */
  dave: string;
  /** Blocked by alice. */
  eve: string;
  admin: string;
  as: Record<'alice' | 'bob' | 'carol' | 'dave' | 'eve' | 'admin', Client>;
  friendship: string;
  direct: string;
  group: string;
  assistant: string;
  /** alice's message in the direct chat, bob's reply, alice's message in the group. */
  directMsg: string;
  replyMsg: string;
  groupMsg: string;
}

/** Builds a world through supabase-js (RPCs as each user). */
export async function buildWorld(): Promise<World> {
  const [alice, bob, carol, dave, eve] = await freshUsers(5);
  const [admin] = await freshUsers(1, { is_admin: true });
  const as = {
    alice: clientAs(alice!), bob: clientAs(bob!), carol: clientAs(carol!), dave: clientAs(dave!), eve: clientAs(eve!), admin: clientAs(admin!),
  };
  const request = ok(await as.alice.rpc('send_friend_request', { p_user_id: bob! }));
  ok(await as.bob.rpc('accept_friend_request', { p_request_id: request.id }));
  const direct = ok(await as.alice.rpc('get_or_create_direct_chat', { p_user_id: bob! })).id;
  const group = ok(await as.alice.rpc('create_group_chat', { p_title: 'World group', p_member_ids: [bob!, carol!] })).id;
  const assistant = ok(await as.alice.rpc('create_assistant_chat', { p_title: 'World assistant' })).id;
  const directMsg = ok(await as.alice.rpc('send_message', { p_chat_id: direct, p_content: 'hello bob', p_client_id: randomUUID() })).id;
  const replyMsg = ok(await as.bob.rpc('send_message', { p_chat_id: direct, p_content: 'hi alice', p_reply_to_id: directMsg })).id;
  const groupMsg = ok(await as.alice.rpc('send_message', { p_chat_id: group, p_content: 'hello group' })).id;
  ok(await as.alice.rpc('block_user', { p_user_id: eve! }));
  return {
    alice: alice!, bob: bob!, carol: carol!, dave: dave!, eve: eve!, admin: admin!, as,
    friendship: request.id, direct, group, assistant, directMsg, replyMsg, groupMsg,
  };
}

/** Number of rows of `table` matching a raw SQL condition on one column (for "nothing changed" checks). */
export async function countWhere(table: string, column: string, value: unknown): Promise<number> {
  if (!/^[a-z_]+$/.test(table) || !/^[a-z_]+$/.test(column)) throw new Error(`bad identifier ${table}.${column}`);
  const [row] = await owner().unsafe(`select count(*)::int as n from public.${table} where ${column}::text = $1`, [String(value)]);
  return row!.n as number;
}

/** A media row owned by `owner_id`, recorded as cloudinary-webhook records one (service role). */
export async function recordMedia(ownerId: string, purpose: 'avatar' | 'chat_image' | 'chat_file' = 'chat_image') {
  const id = randomUUID();
  const publicId = `chat-with-me/${ownerId}/${purpose}/${id}`;
  await owner()`
    insert into public.media (id, owner_id, public_id, resource_type, format, bytes, width, height, secure_url, purpose)
    values (${id}, ${ownerId}, ${publicId}, 'image', 'png', 1234, 10, 10,
            ${`https://res.cloudinary.com/demo/image/upload/${publicId}.png`}, ${purpose})`;
  return { id, secure_url: `https://res.cloudinary.com/demo/image/upload/${publicId}.png` };
}
