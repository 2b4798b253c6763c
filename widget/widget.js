/*!
 * Chat with Me website widget (no framework). Embed:
 *   <script src="https://<host>/widget/widget.js" data-widget-key="wk_…"
 *           data-api="https://<project>.supabase.co/functions/v1/widget" async></script>
 * It talks only to the `widget` edge function (README "Website chat widget"):
 * POST /session, POST /messages (SSE: message, delta…, bot | handoff),
 * GET /events (SSE, resumed with ?after=<last message id>), POST /end.
 * The session secret lives in sessionStorage (this tab only) and is sent as
 * Authorization: Bearer; it never goes into a URL.
 */
(function () {
  'use strict';
  var script = document.currentScript;
  if (!script) return;
  var key = script.getAttribute('data-widget-key');
  var api = (script.getAttribute('data-api') || new URL('/functions/v1/widget', script.src).href).replace(/\/+$/, '');
  var store = 'cwm-widget:' + key;
  var session = null;
  var seen = {};
  var lastId = null;

  var css = '.cwm-btn{position:fixed;right:20px;bottom:20px;border:0;border-radius:24px;padding:12px 18px;font:15px sans-serif;cursor:pointer;z-index:2147483000}' +
    '.cwm-panel{position:fixed;right:20px;bottom:76px;width:320px;max-height:460px;display:none;flex-direction:column;background:#fff;border:1px solid #ddd;border-radius:10px;box-shadow:0 4px 24px rgba(0,0,0,.15);font:14px sans-serif;z-index:2147483000}' +
    '.cwm-open .cwm-panel{display:flex}.cwm-head{padding:10px 12px;font-weight:bold;border-radius:10px 10px 0 0}' +
    '.cwm-log{flex:1;overflow-y:auto;padding:10px;min-height:200px}.cwm-msg{margin:6px 0;padding:7px 10px;border-radius:8px;max-width:85%;white-space:pre-wrap;word-wrap:break-word}' +
    '.cwm-visitor{margin-left:auto;background:#e8eefc}.cwm-bot,.cwm-greeting{background:#f2f2f2}.cwm-agent{background:#e6f6ea}.cwm-note{color:#777;font-style:italic;font-size:12px}' +
    '.cwm-form{display:flex;border-top:1px solid #eee}.cwm-input{flex:1;border:0;padding:10px;font:14px sans-serif}.cwm-send{border:0;padding:0 14px;cursor:pointer}';

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  }

  var root = el('div', 'cwm-widget');
  root.appendChild(el('style', null, css));
  var button = el('button', 'cwm-btn', 'Chat with us');
  var panel = el('div', 'cwm-panel');
  var head = el('div', 'cwm-head', 'Chat');
  var log = el('div', 'cwm-log');
  var form = el('form', 'cwm-form');
  var input = el('input', 'cwm-input');
  input.placeholder = 'Type your message…';
  input.maxLength = 2000;
  var send = el('button', 'cwm-send', 'Send');
  send.type = 'submit';
  form.appendChild(input);
  form.appendChild(send);
  panel.appendChild(head);
  panel.appendChild(log);
  panel.appendChild(form);
  root.appendChild(button);
  root.appendChild(panel);

  function add(role, text, id) {
    if (id && seen[id]) return seen[id];
    var m = el('div', 'cwm-msg cwm-' + role, text);
    if (id) {
      seen[id] = m;
      m.setAttribute('data-id', id);
      lastId = id;
    }
    log.appendChild(m);
    log.scrollTop = log.scrollHeight;
    return m;
  }
  function note(text) {
    log.appendChild(el('div', 'cwm-note', text));
    log.scrollTop = log.scrollHeight;
  }

  /** Reads a text/event-stream body, calling on(event, data) per event (https://html.spec.whatwg.org/multipage/server-sent-events.html). */
  async function readSse(res, on) {
    var reader = res.body.getReader();
    var decoder = new TextDecoder();
    var buf = '';
    for (;;) {
      var r = await reader.read();
      if (r.done) break;
      buf += decoder.decode(r.value, { stream: true }).replace(/\r\n?/g, '\n');
      var i;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        var block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        var ev = 'message';
        var data = [];
        block.split('\n').forEach(function (line) {
          if (line.indexOf('event:') === 0) ev = line.slice(6).trim();
          else if (line.indexOf('data:') === 0) data.push(line.slice(5).replace(/^ /, ''));
        });
        if (data.length) {
          try { on(ev, JSON.parse(data.join('\n'))); } catch (e) { /* ignore malformed */ }
        }
      }
    }
  }

  function authed(init) {
    init = init || {};
    init.headers = Object.assign({ authorization: 'Bearer ' + session.secret }, init.headers || {});
    return init;
  }

  async function start() {
    try { session = JSON.parse(sessionStorage.getItem(store) || 'null'); } catch (e) { session = null; }
    if (session && new Date(session.expires_at) > new Date()) {
      var res = await fetch(api + '/messages', authed());
      if (res.ok) {
        showSite(session.website);
        (await res.json()).messages.forEach(function (m) { add(m.role, m.content, m.id); });
        listen();
        return;
      }
    }
    var r = await fetch(api + '/session', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ widget_key: key }) });
    if (!r.ok) {
      note(r.status === 429 ? 'We are busy right now, please try again in a moment.' : 'The chat is not available here.');
      return;
    }
    session = await r.json();
    sessionStorage.setItem(store, JSON.stringify(session));
    showSite(session.website);
    listen();
  }

  function showSite(site) {
    head.textContent = site.name;
    var color = (site.colors && site.colors.primary) || '#3355cc';
    var text = (site.colors && site.colors.text) || '#ffffff';
    [button, head, send].forEach(function (b) { b.style.background = color; b.style.color = text; });
    if (!log.querySelector('.cwm-greeting')) log.insertBefore(el('div', 'cwm-msg cwm-greeting', site.greeting), log.firstChild);
  }

  /** The owner's and agents' replies: GET /events, resumed after the last message seen. */
  async function listen() {
    for (;;) {
      try {
        var res = await fetch(api + '/events' + (lastId ? '?after=' + encodeURIComponent(lastId) : ''), authed());
        if (res.status === 401) { note('This conversation has ended.'); return; }
        if (res.ok) await readSse(res, function (ev, m) { if (ev === 'message') add(m.role, m.content, m.id); });
      } catch (e) { /* network: retry */ }
      await new Promise(function (r) { setTimeout(r, 1000); });
    }
  }

  async function sendMessage(text) {
    var res = await fetch(api + '/messages', authed({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ content: text }) }));
    if (!res.ok) {
      var retry = res.headers.get('retry-after');
      note(res.status === 429 ? 'Too many messages; wait ' + (retry || 'a few') + ' s.' : res.status === 413 ? 'That message is too long.' : 'Could not send.');
      return;
    }
    var bot = null;
    await readSse(res, function (ev, d) {
      if (ev === 'message') add('visitor', d.content, d.id);
      else if (ev === 'delta') { bot = bot || add('bot', ''); bot.textContent += d.text; log.scrollTop = log.scrollHeight; }
      else if (ev === 'bot') {
        if (bot && seen[d.id] && seen[d.id] !== bot) bot.remove();
        else if (bot) { bot.textContent = d.content; seen[d.id] = bot; bot.setAttribute('data-id', d.id); lastId = d.id; } else add('bot', d.content, d.id);
      } else if (ev === 'handoff') note('A human will answer you shortly.');
      else if (ev === 'error') note('The answer was interrupted.');
    });
  }

  button.addEventListener('click', function () {
    var open = root.classList.toggle('cwm-open');
    if (open && !session) start();
  });
  form.addEventListener('submit', function (e) {
    e.preventDefault();
    var text = input.value.trim();
    if (!text || !session) return;
    input.value = '';
    sendMessage(text);
  });
  (document.body || document.documentElement).appendChild(root);
})();
