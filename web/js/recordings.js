// Gatehouse recordings page: find session recordings (GET
// /api/v1/recordings; the server decides what each person may see) and
// play or download them. The filters live in the address, so a search can
// be shared as a link. All data goes into the page as text.
//
// For tests: body[data-state] is loading | ready | error;
// #recordings tr[data-recording=ID].
'use strict';

const $ = (id) => document.getElementById(id);
const PAGE = 100;
let nextAfter = 0;

class ApiError extends Error {
  constructor(status, data) {
    super(data.message ? `${data.message} (${data.error})` : `HTTP ${status}`);
    this.status = status;
    this.code = data.error;
  }
}

async function api(path) {
  const res = await window.ghFetch(path, { credentials: 'same-origin', cache: 'no-store' });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

function notice(text, kind) {
  const n = $('notice');
  n.textContent = text;
  n.dataset.kind = kind || 'info';
  n.hidden = !text;
}

function pad(n) {
  return String(n).padStart(2, '0');
}

function when(ms) {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

function hms(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  return `${Math.floor(s / 3600)}:${pad(Math.floor((s % 3600) / 60))}:${pad(s % 60)}`;
}

function bytes(n) {
  if (n == null) return '—';
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

function link(text, href, download) {
  const a = document.createElement('a');
  a.href = href;
  a.textContent = text;
  a.className = 'action';
  if (download) a.setAttribute('download', '');
  return a;
}

function row(r) {
  const tr = document.createElement('tr');
  tr.dataset.recording = r.id;
  const actions = document.createElement('span');
  actions.append(link('play', `/play.html?id=${encodeURIComponent(r.id)}`),
    link('download', `/api/v1/recordings/${encodeURIComponent(r.id)}/cast`, true));
  const cells = [
    r.id, r.user, r.target, when(r.started),
    r.ended == null ? 'recording…' : hms(r.ended - r.started),
    bytes(r.size), r.state, actions,
  ];
  for (const c of cells) {
    const td = document.createElement('td');
    if (c instanceof Node) td.appendChild(c); else td.textContent = String(c);
    tr.appendChild(td);
  }
  tr.cells[0].className = 'num';
  tr.cells[4].className = 'num';
  tr.cells[5].className = 'num';
  return tr;
}

// The filters in the address -> the API's query.
function query(after) {
  const p = new URLSearchParams(window.location.search);
  const q = new URLSearchParams();
  if (p.get('user')) q.set('user', p.get('user'));
  if (p.get('target')) q.set('target', p.get('target'));
  // Dates are the viewer's local days: from the start of "from" to the
  // end of "to"; the API takes unix seconds.
  const day = (s) => { const d = new Date(`${s}T00:00:00`); return Number.isNaN(d.getTime()) ? null : d; };
  const from = p.get('from') && day(p.get('from'));
  const to = p.get('to') && day(p.get('to'));
  if (from) q.set('since', String(Math.floor(from.getTime() / 1000)));
  if (to) {
    to.setDate(to.getDate() + 1);
    q.set('until', String(Math.floor(to.getTime() / 1000)));
  }
  q.set('limit', String(PAGE));
  if (after) q.set('after', String(after));
  return q.toString();
}

async function load(more) {
  document.body.dataset.state = 'loading';
  $('more').hidden = true;
  const body = $('recordings').querySelector('tbody');
  try {
    const data = await api(`/api/v1/recordings?${query(more ? nextAfter : 0)}`);
    const rows = data.items.map(row);
    if (more) body.append(...rows); else body.replaceChildren(...rows);
    nextAfter = data.next_after || 0;
    $('more').hidden = !nextAfter;
    $('empty').hidden = body.rows.length > 0;
    if (!more) notice('');
    document.body.dataset.state = 'ready';
  } catch (e) {
    if (!more) body.replaceChildren();
    $('empty').hidden = true;
    notice(e.status === 403
      ? `You may not see recordings: ${e.message}`
      : `Could not load the recordings: ${e.message}`, 'error');
    document.body.dataset.state = 'error';
  }
}

function fillForm() {
  const p = new URLSearchParams(window.location.search);
  $('f-user').value = p.get('user') || '';
  $('f-target').value = p.get('target') || '';
  $('f-from').value = p.get('from') || '';
  $('f-to').value = p.get('to') || '';
}

function search(ev) {
  ev.preventDefault();
  const p = new URLSearchParams();
  for (const [k, id] of [['user', 'f-user'], ['target', 'f-target'], ['from', 'f-from'], ['to', 'f-to']]) {
    const v = $(id).value.trim();
    if (v) p.set(k, v);
  }
  const qs = p.toString();
  window.history.replaceState(null, '', qs ? `?${qs}` : window.location.pathname);
  load(false);
}

async function main() {
  let me;
  try {
    me = await api('/api/v1/me');
  } catch (e) {
    if (e.code === 'unauthenticated' || e.code === 'session_expired') {
      window.location.assign('/auth/login?return_to=/recordings.html');
      return;
    }
    notice(`Sign-in is not available right now: ${e.message}`, 'error');
    document.body.dataset.state = 'error';
    return;
  }
  $('who').textContent = me.name || me.user_id;
  fillForm();
  $('filters').addEventListener('submit', search);
  $('filters').addEventListener('reset', () => {
    window.setTimeout(() => { window.history.replaceState(null, '', window.location.pathname); load(false); }, 0);
  });
  $('more').addEventListener('click', () => load(true));
  api('/api/v1/targets').then((t) => {
    $('f-targets').replaceChildren(...t.targets.map((x) => {
      const o = document.createElement('option');
      o.value = x.name;
      return o;
    }));
  }).catch(() => {});
  await load(false);
}

document.addEventListener('DOMContentLoaded', () => {
  main().catch((e) => {
    notice(`The page could not start: ${e.message}`, 'error');
    document.body.dataset.state = 'error';
  });
});
