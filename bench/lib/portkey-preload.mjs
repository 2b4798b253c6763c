/**
 * Loaded with `node --import` before Portkey's gateway (peers.mjs), which runs
 * unchanged:
 * 1. its server listens on 127.0.0.1 (`listen(port)` without a host would
 *    listen on every interface);
 * 2. `fetch` answers with a copy of the response whose headers may be
 *    changed: the gateway adds its `x-portkey-*` headers to the response it
 *    relays, and @hono/node-server's `Response` keeps the provider response's
 *    own Headers object, which fetch makes immutable
 *    (https://fetch.spec.whatwg.org/#concept-headers-guard); without this,
 *    every streamed answer fails with `TypeError: immutable`. The body is the
 *    same stream, not read here.
 */
import net from 'node:net';

const NativeResponse = globalThis.Response;
const nativeFetch = globalThis.fetch;
globalThis.fetch = async (...args) => {
  const res = await nativeFetch(...args);
  return new NativeResponse(res.body, { status: res.status, statusText: res.statusText, headers: new Headers(res.headers) });
};

const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  // listen(port[, backlog][, callback]) → listen(port, '127.0.0.1', …)
  if (typeof args[0] === 'number' && typeof args[1] !== 'string') args.splice(1, args[1] === undefined ? 1 : 0, '127.0.0.1');
  return listen.apply(this, args);
};
