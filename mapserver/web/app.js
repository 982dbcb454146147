// livmap status page: reads /api/v1 with the operator's bearer token and follows the event
// stream. EventSource cannot send an Authorization header, so the stream is read with fetch()
// and a streaming reader (the token never goes into a URL, where logs and history keep it);
// after a drop it resumes from the last event id it saw (?after=N), so nothing is missed.
'use strict';

const API = '/api/v1';
const TOKEN_KEY = 'livmap-token';
const MAX_EVENTS = 100;
const MAX_MOVES = 50;
const MAX_MOBILE = 30;

const state = {
  token: sessionStorage.getItem(TOKEN_KEY) || localStorage.getItem(TOKEN_KEY) || '',
  sites: [],
  moves: [], // moved events, newest first
  events: [], // non-refresh events, newest first
  lastId: 0,
  regPages: [undefined], // cursors of the pages seen: [first, second, ...]
  regPage: 0,
  stream: undefined, // AbortController of the open stream
};

const $ = (selector) => document.querySelector(selector);

/** An element with text (never HTML) and attributes. */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    if (name === 'class') node.className = value;
    else if (name === 'style') node.style.cssText = value;
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function ago(iso) {
  const seconds = Math.round((Date.now() - Date.parse(iso)) / 1000);
  if (seconds < 0) return `in ${formatSpan(-seconds)}`;
  return `${formatSpan(seconds)} ago`;
}

function formatSpan(s) {
  if (s < 90) return `${s} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  return `${Math.round(s / 3600)} h`;
}

const clock = (iso) => new Date(iso).toLocaleTimeString([], { hour12: false });
const eidText = (eid, iid) => (iid ? `[${iid}] ${eid}` : eid);

class AuthError extends Error {}

async function api(path, options = {}) {
  const res = await fetch(API + path, { ...options, headers: { authorization: `Bearer ${state.token}`, ...(options.headers || {}) } });
  if (res.status === 401) throw new AuthError('the token was refused');
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body.message || `${res.status} ${res.statusText}`);
  return body;
}

// ---- sign in ---------------------------------------------------------------------------------

function showLogin(message) {
  stopStream();
  $('#status').hidden = true;
  $('#signout').hidden = true;
  $('#login').hidden = false;
  $('#login-error').hidden = !message;
  $('#login-error').textContent = message || '';
  setConn('offline');
  $('#token').focus();
}

$('#login-form').addEventListener('submit', (event) => {
  event.preventDefault();
  state.token = $('#token').value.trim();
  sessionStorage.removeItem(TOKEN_KEY);
  localStorage.removeItem(TOKEN_KEY);
  ($('#remember').checked ? localStorage : sessionStorage).setItem(TOKEN_KEY, state.token);
  start();
});

$('#signout').addEventListener('click', () => {
  sessionStorage.removeItem(TOKEN_KEY);
  localStorage.removeItem(TOKEN_KEY);
  state.token = '';
  showLogin();
});

function failed(err) {
  if (err instanceof AuthError) {
    sessionStorage.removeItem(TOKEN_KEY);
    localStorage.removeItem(TOKEN_KEY);
    showLogin('The API refused that token.');
    return true;
  }
  console.error(err);
  return false;
}

async function start() {
  if (!state.token) return showLogin();
  try {
    await refreshSites();
  } catch (err) {
    if (!failed(err)) showLogin(`Cannot read the API: ${err.message}`);
    return;
  }
  $('#login').hidden = true;
  $('#status').hidden = false;
  $('#signout').hidden = false;
  fetch('/version').then((r) => r.json()).then((v) => { $('#version').textContent = `livmap ${v.version} · Node ${v.node}`; }).catch(() => {});
  try {
    const history = await api('/events/history?limit=1000');
    state.lastId = history.lastId;
    for (const e of history.events) remember(e);
    renderMoves();
    renderEvents();
    await Promise.all([refreshRegistrations(), refreshMobile()]);
  } catch (err) {
    if (failed(err)) return;
  }
  openStream();
}

// ---- sites -----------------------------------------------------------------------------------

async function refreshSites() {
  const { sites } = await api('/sites');
  state.sites = sites;
  renderSites();
  const select = $('#f-site');
  const chosen = select.value;
  select.replaceChildren(el('option', { value: '' }, 'any'), ...sites.map((s) => el('option', { value: s.name }, s.name)));
  select.value = sites.some((s) => s.name === chosen) ? chosen : '';
}

function renderSites() {
  const cards = state.sites.map((site) => {
    // An xTR is named by where it registers from; its id too when that is not its address (an xTR-ID).
    const xtrRows = site.xtrs.map((x) => el('tr', { 'data-etr': x.etrId },
      el('td', { class: 'mono', title: x.etrId }, x.source,
        x.etrId === `rloc:${x.source.replace(/^\[?(.*?)\]?:\d+$/, '$1')}` ? null : el('div', { class: 'muted small' }, x.etrId)),
      el('td', { title: x.lastRegisteredAt }, ago(x.lastRegisteredAt)),
      el('td', {}, `${x.registrations}${x.left ? ` + ${x.left} left` : ''}`),
      el('td', { class: `state state-${x.state}` }, x.state)));
    return el('div', { class: 'card', 'data-site': site.name },
      el('h3', {}, el('span', {}, site.name, site.description ? el('span', { class: 'muted small' }, ` — ${site.description}`) : null),
        el('span', {},
          el('span', { class: 'badge', title: 'live registrations' }, `${site.registrations} reg`), ' ',
          el('span', { class: `badge ${site.authFailures ? 'bad' : ''}`, title: 'Map-Registers refused for authentication since start', 'data-auth-failures': site.authFailures }, `${site.authFailures} auth failure${site.authFailures === 1 ? '' : 's'}`))),
      el('div', { class: 'prefixes mono' }, site.prefixes.map((p) => `${eidText(p.eid, p.iid)}${p.acceptMoreSpecifics ? ' (+more-specifics)' : ''}`).join(', ')),
      site.xtrs.length
        ? el('table', {}, el('thead', {}, el('tr', {}, ['xTR (registers from)', 'last registration', 'prefixes', 'state'].map((h) => el('th', {}, h)))), el('tbody', {}, xtrRows))
        : el('p', { class: 'muted small' }, 'No xTR has registered since the server started.'));
  });
  $('#sites-list').replaceChildren(...cards);
}

// ---- registrations (filters, cursor paging) --------------------------------------------------

function regQuery(cursor) {
  const params = new URLSearchParams();
  const site = $('#f-site').value;
  const eid = $('#f-eid').value.trim();
  const etr = $('#f-etr').value.trim();
  if (site) params.set('site', site);
  if (eid) params.set('eid', eid);
  if (etr) params.set('etr', etr);
  params.set('limit', $('#f-limit').value);
  if (cursor) params.set('cursor', cursor);
  return params.toString();
}

async function refreshRegistrations() {
  let page;
  try {
    page = await api(`/registrations?${regQuery(state.regPages[state.regPage])}`);
  } catch (err) {
    if (err instanceof AuthError) throw err;
    $('#reg-error').hidden = false;
    $('#reg-error').textContent = err.message;
    return;
  }
  $('#reg-error').hidden = true;
  state.regPages.length = state.regPage + 1;
  if (page.nextCursor) state.regPages.push(page.nextCursor);
  const limit = Number($('#f-limit').value);
  const first = state.regPage * limit + 1;
  $('#reg-total').textContent = `${page.total} live`;
  $('#reg-page').textContent = page.registrations.length ? `${first}–${first + page.registrations.length - 1} of ${page.total}` : 'none';
  $('#reg-prev').disabled = state.regPage === 0;
  $('#reg-next').disabled = !page.nextCursor;
  $('#registrations tbody').replaceChildren(...page.registrations.map((r) => el('tr', { 'data-eid': r.eid, 'data-etr': r.etrId },
    el('td', {}, r.site),
    el('td', { class: 'mono' }, eidText(r.eid, r.iid)),
    el('td', { class: 'mono' }, r.etrId),
    el('td', { class: 'mono' }, r.source),
    el('td', { class: 'mono' }, r.rlocs.map((l) => l.address).join(', ')),
    el('td', { title: r.claimedAt }, clock(r.claimedAt)),
    el('td', { title: r.lastRefreshed }, ago(r.lastRefreshed)),
    el('td', { title: r.expiresAt }, ago(r.expiresAt)),
    el('td', { class: `state state-${r.left ? 'left' : 'registered'}` }, r.left ? 'left' : 'listed'))));
}

$('#reg-filter').addEventListener('submit', (event) => {
  event.preventDefault();
  state.regPages = [undefined];
  state.regPage = 0;
  refreshRegistrations().catch(failed);
});
$('#reg-next').addEventListener('click', () => { state.regPage++; refreshRegistrations().catch(failed); });
$('#reg-prev').addEventListener('click', () => { state.regPage = Math.max(0, state.regPage - 1); refreshRegistrations().catch(failed); });

// ---- moves and mobile EIDs -------------------------------------------------------------------

function remember(event) {
  if (event.type === 'registered' && event.refresh) return;
  state.events.unshift(event);
  state.events.length = Math.min(state.events.length, MAX_EVENTS);
  if (event.type === 'moved') {
    state.moves.unshift(event);
    state.moves.length = Math.min(state.moves.length, MAX_MOVES);
  }
}

const fanout = (m) => `${m.smrs} SMR${m.smrs === 1 ? '' : 's'} · ${m.notifies} Notif${m.notifies === 1 ? 'y' : 'ies'} · ${m.fanoutMs.toFixed(2)} ms`;

function renderMoves(flashId) {
  const widest = Math.max(1, ...state.moves.map((m) => m.fanoutMs));
  $('#moves tbody').replaceChildren(...state.moves.map((m) => el('tr', { 'data-eid': m.eid, 'data-id': m.id, class: m.id === flashId ? 'flash' : undefined },
    el('td', { title: m.at }, clock(m.at)),
    el('td', { class: 'mono' }, m.eid),
    el('td', { class: 'mono' }, `${m.from.join(', ') || '—'} → ${m.to.join(', ') || '—'}`),
    el('td', {}, m.site || '—'),
    el('td', {}, el('div', { class: 'fanout', title: 'time from the binding change to the last SMR / Map-Notify handed to the socket' },
      el('div', { class: 'bar', style: `width:${Math.round((m.fanoutMs / widest) * 80)}px` }),
      fanout(m))))));
  $('#moves .empty').hidden = state.moves.length > 0;
}

/** VM EIDs: registrations more specific than a site prefix that accepts them, and every EID that moved. */
async function refreshMobile() {
  const eids = new Map(); // "iid|eid" -> { eid, iid }
  for (const m of state.moves) eids.set(`0|${m.eid}`, { eid: m.eid, iid: 0 });
  for (const site of state.sites) {
    for (const p of site.prefixes) {
      if (!p.acceptMoreSpecifics || eids.size >= MAX_MOBILE) continue;
      const { registrations } = await api(`/registrations?eid=${encodeURIComponent(p.eid)}&iid=${p.iid}&limit=${MAX_MOBILE}`);
      for (const r of registrations) if (r.eid !== p.eid) eids.set(`${r.iid}|${r.eid}`, { eid: r.eid, iid: r.iid });
    }
  }
  const rows = [];
  for (const { eid, iid } of [...eids.values()].slice(0, MAX_MOBILE)) {
    const binding = await api(`/lookup?eid=${encodeURIComponent(eid)}&iid=${iid}`).catch((err) => { if (err instanceof AuthError) throw err; return undefined; });
    const history = state.moves.filter((m) => m.eid === eid).slice(0, 5);
    rows.push(el('tr', { 'data-eid': eid },
      el('td', { class: 'mono' }, eidText(eid, iid)),
      el('td', { 'data-bound-to': binding && binding.site }, binding ? (binding.kind === 'registered' ? binding.site || binding.registeredUnder : binding.kind) : '?'),
      el('td', { class: 'mono' }, binding ? binding.rlocs.map((l) => l.address).join(', ') : ''),
      el('td', {}, history.length
        ? el('ul', { class: 'history' }, history.map((m) => el('li', { title: m.at }, `${clock(m.at)} → ${m.site || m.to.join(', ')}`)))
        : el('span', { class: 'muted small' }, 'not moved'))));
  }
  $('#mobile tbody').replaceChildren(...rows);
  $('#mobile .empty').hidden = rows.length > 0;
}

// ---- events ----------------------------------------------------------------------------------

function describe(e) {
  switch (e.type) {
    case 'registered': return `${e.eid} by ${e.etrId} (${e.site}) → ${e.rlocs.join(', ')}`;
    case 'moved': return `${e.eid}: ${e.from.join(', ') || '—'} → ${e.to.join(', ') || '—'}${e.site ? ` (${e.site})` : ''}, ${fanout(e)}`;
    case 'refused': return `from ${e.from}: ${e.reason} — ${e.detail}`;
    case 'contested': return `${e.eid}: ${e.claimant} refreshed a claim ${e.holders.join(', ')} made since`;
    default: return `${e.eid} by ${e.etrId} (${e.site})`;
  }
}

function renderEvents() {
  $('#event-list').replaceChildren(...state.events.map((e) => el('li', { 'data-id': e.id },
    el('span', { class: 'muted' }, `${clock(e.at)} `),
    el('span', { class: `type type-${e.type}` }, e.type),
    describe(e))));
}

// ---- the live stream -------------------------------------------------------------------------

function setConn(text) {
  $('#conn').dataset.state = text;
  $('#conn').textContent = text;
}

function stopStream() {
  if (state.stream) state.stream.abort();
  state.stream = undefined;
}

let refreshTimer;
/** Re-reads what events change, at most every 300 ms however many events arrive. */
function scheduleRefresh() {
  if (refreshTimer) return;
  refreshTimer = setTimeout(async () => {
    refreshTimer = undefined;
    try {
      await refreshSites();
      await Promise.all([refreshRegistrations(), refreshMobile()]);
    } catch (err) {
      failed(err);
    }
  }, 300);
}

function onEvent(event) {
  state.lastId = Math.max(state.lastId, event.id);
  if (event.type === 'registered' && event.refresh) return; // every minute per xTR and prefix: the periodic refresh shows them
  remember(event);
  renderEvents();
  if (event.type === 'moved') renderMoves(event.id);
  scheduleRefresh();
}

async function openStream() {
  stopStream();
  const controller = new AbortController();
  state.stream = controller;
  let delay = 1000;
  while (state.stream === controller) {
    try {
      const res = await fetch(`${API}/events?after=${state.lastId}`, { headers: { authorization: `Bearer ${state.token}`, accept: 'text/event-stream' }, signal: controller.signal });
      if (res.status === 401) throw new AuthError('the token was refused');
      if (!res.ok || !res.body) throw new Error(`event stream: ${res.status}`);
      setConn('live');
      delay = 1000;
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let cut;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const data = block.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
          if (data) onEvent(JSON.parse(data));
        }
      }
    } catch (err) {
      if (controller.signal.aborted) return;
      if (failed(err)) return;
    }
    if (state.stream !== controller) return;
    // The server went away or restarted: catch up from the last id seen once it is back.
    setConn('reconnecting');
    await new Promise((resolve) => setTimeout(resolve, delay));
    delay = Math.min(delay * 2, 15000);
  }
}

// Ages ("12 s ago") and last-registration times move on even when no event arrives.
setInterval(() => {
  if (!$('#status').hidden && state.token) refreshSites().then(() => refreshRegistrations()).catch(failed);
}, 10000);

start();
