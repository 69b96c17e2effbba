// Gatehouse access page: request access, see my requests and grants with
// a countdown, and (for approvers) approve, deny and revoke.
// All data goes into the page as text (textContent), never as HTML.
//
// State the page exposes (tests wait on these, never on time):
//   body[data-ready="yes"]      the first refresh has been drawn
//   body[data-refreshes="N"]    N refreshes drawn so far
//   body[data-auth="unavailable"] sign-in is not available yet (retrying)
//   #my-requests tr[data-request=ID], #my-grants tr[data-grant=ID]
'use strict';

const $ = (id) => document.getElementById(id);
const REFRESH_MS = 15000;
const SIGNIN_RETRY_MS = 2000;
let me = null;
let targets = [];

class ApiError extends Error {
  constructor(status, data) {
    super(data.message ? `${data.message} (${data.error})` : `HTTP ${status}`);
    this.status = status;
    this.code = data.error;
    this.detail = data.message;
  }
}

async function api(method, path, body) {
  const res = await window.ghFetch(path, {
    method,
    credentials: 'same-origin',
    cache: 'no-store',
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
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

function duration(s) {
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h ? `${h}h${m ? `${m}m` : ''}` : `${m}m`;
}

function countdown(expires) {
  const left = Math.max(0, expires - Math.floor(Date.now() / 1000));
  if (left === 0) return 'ended';
  const h = Math.floor(left / 3600);
  const m = Math.floor((left % 3600) / 60);
  const s = left % 60;
  return `ends in ${h ? `${h}h ` : ''}${m}m ${s}s`;
}

function row(cells) {
  const tr = document.createElement('tr');
  for (const c of cells) {
    const td = document.createElement('td');
    if (c instanceof Node) td.appendChild(c); else td.textContent = String(c);
    tr.appendChild(td);
  }
  return tr;
}

function fill(tableId, rows) {
  const body = $(tableId).querySelector('tbody');
  body.replaceChildren(...rows);
}

function button(label, onClick) {
  const b = document.createElement('button');
  b.type = 'button';
  b.className = 'button small';
  b.textContent = label;
  b.addEventListener('click', onClick);
  return b;
}

// "22,3389" (or an array) includes port 22?
function hasSsh(ports) {
  return String(ports).split(',').some((p) => p.trim() === '22');
}

function terminalLink(target) {
  const a = document.createElement('a');
  a.className = 'button small';
  a.href = `/terminal.html?target=${encodeURIComponent(target)}`;
  a.target = '_blank';
  a.rel = 'noopener';
  a.textContent = 'Open terminal';
  return a;
}

// Fetch everything, then draw it. Never call this directly: refresh()
// serialises the calls.
async function load() {
  const mine = await api('GET', `/api/v1/requests?user=${encodeURIComponent(me.user_id)}`);
  const grants = await api('GET', `/api/v1/grants?user=${encodeURIComponent(me.user_id)}&live=1`);
  let pending = null;
  let all = null;
  if (targets.some((t) => t.can_approve)) {
    pending = await api('GET', '/api/v1/requests?state=pending');
    all = await api('GET', '/api/v1/grants?live=1');
  }

  // Drawn only once every answer is in, so the tables always agree.
  fill('my-requests', mine.items.slice().reverse().map((r) => {
    const tr = row([r.id, r.target, r.ports, duration(r.duration), r.state, r.reason]);
    tr.dataset.request = r.id;
    tr.dataset.state = r.state;
    return tr;
  }));
  const live = grants.items.map((g) => {
    const tr = row([g.id, g.target, g.ports, countdown(g.expires),
      hasSsh(g.ports) ? terminalLink(g.target) : '']);
    tr.dataset.expires = g.expires;
    tr.dataset.cell = 3;
    tr.dataset.grant = g.id;
    return tr;
  });
  fill('my-grants', live);
  $('my-grants-empty').hidden = live.length > 0;

  if (pending) {
    $('approvals-card').hidden = false;
    $('grants-card').hidden = false;
    const rows = pending.items.filter((r) => r.requester !== me.user_id).map((r) => {
      const decide = document.createElement('span');
      const reason = document.createElement('input');
      reason.placeholder = 'reason';
      reason.size = 12;
      decide.append(reason,
        button('Approve', () => act(`/api/v1/requests/${r.id}/approve`, { reason: reason.value })),
        button('Deny', () => act(`/api/v1/requests/${r.id}/deny`, { reason: reason.value })));
      const tr = row([r.id, r.requester, r.target, r.ports, duration(r.duration), r.reason, decide]);
      tr.dataset.request = r.id;
      return tr;
    });
    fill('approvals', rows);
    $('approvals-empty').hidden = rows.length > 0;
    fill('grants', all.items.map((g) => {
      const tr = row([g.id, g.user, g.target, g.ports, countdown(g.expires),
        button('Revoke', () => act(`/api/v1/grants/${g.id}/revoke`, { reason: 'revoked from the web' }))]);
      tr.dataset.expires = g.expires;
      tr.dataset.cell = 4;
      tr.dataset.grant = g.id;
      return tr;
    }));
  }
  document.body.dataset.refreshes = String(Number(document.body.dataset.refreshes || 0) + 1);
  document.body.dataset.ready = 'yes';
}

// One refresh at a time. A call made while one runs queues exactly one
// more, which starts after the running one (so after whatever the caller
// just changed) and is shared by every caller that asks meanwhile. An
// older answer can therefore never be drawn over a newer one.
let running = null;
let queued = null;
function refresh() {
  if (queued) return queued;
  const start = () => {
    queued = null;
    running = load().finally(() => { running = null; });
    return running;
  };
  if (!running) return start();
  queued = running.catch(() => {}).then(start);
  return queued;
}

// Refresh; on failure say so and return what was said ('' when it worked).
async function refreshOrSay() {
  try {
    await refresh();
    return '';
  } catch (e) {
    const text = `Could not refresh the lists: ${e.message}`;
    notice(text, 'error');
    return text;
  }
}

// Say how an action went, after the redraw that shows its result.
function outcome(text, kind, refreshFailed) {
  if (refreshFailed) notice(`${text} ${refreshFailed}`, 'error');
  else notice(text, kind);
}

// Do something, redraw, then say how it went: when the notice appears the
// tables already show the result.
async function act(path, body) {
  let text = 'Done.';
  let kind = 'ok';
  try {
    await api('POST', path, body);
  } catch (e) {
    text = e.message;
    kind = 'error';
  }
  outcome(text, kind, await refreshOrSay());
}

function tick() {
  for (const tr of document.querySelectorAll('tr[data-expires]')) {
    tr.cells[Number(tr.dataset.cell)].textContent = countdown(Number(tr.dataset.expires));
  }
}

// Who am I? Not signed in: off to the IdP. Sign-in not available yet
// (the gateway has not reached its IdP, e.g. just after it started): say
// so and ask again shortly, instead of landing on an error page.
async function whoAmI() {
  for (;;) {
    try {
      return await api('GET', '/api/v1/me');
    } catch (e) {
      if (e.code === 'idp_unavailable' || e.status >= 500 || !(e instanceof ApiError)) {
        document.body.dataset.auth = 'unavailable';
        notice(`Sign-in is not available right now (${e.detail || e.message}); trying again…`, 'error');
        await new Promise((r) => setTimeout(r, SIGNIN_RETRY_MS));
        continue;
      }
      window.location.assign('/auth/login?return_to=/access.html');
      return null;
    }
  }
}

async function main() {
  me = await whoAmI();
  if (!me) return;
  document.body.dataset.auth = 'signed-in';
  notice('');
  $('who').textContent = me.name || me.user_id;
  targets = (await api('GET', '/api/v1/targets')).targets;
  const select = $('rq-target');
  for (const t of targets.filter((x) => x.can_request)) {
    const o = document.createElement('option');
    o.value = t.name;
    o.textContent = `${t.name} (${t.ports})`;
    o.dataset.ports = t.ports;
    select.appendChild(o);
  }
  const setPorts = () => { $('rq-ports').value = select.selectedOptions[0]?.dataset.ports || ''; };
  select.addEventListener('change', setPorts);
  setPorts();
  $('request-card').hidden = select.options.length === 0;
  $('request-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const submit = ev.target.querySelector('button[type=submit]');
    submit.disabled = true;
    let text;
    let kind = 'ok';
    try {
      const r = await api('POST', '/api/v1/requests', {
        target: select.value,
        ports: $('rq-ports').value.replace(/\s+/g, ''),
        duration: Number($('rq-duration').value),
        reason: $('rq-reason').value,
      });
      text = r.state === 'approved' ? `Request #${r.id} approved by policy.` : `Request #${r.id} is waiting for approval.`;
    } catch (e) {
      text = e.message;
      kind = 'error';
    }
    const failed = await refreshOrSay();
    submit.disabled = false;
    outcome(text, kind, failed);
  });
  await refreshOrSay();
  setInterval(tick, 1000);
  setInterval(refreshOrSay, REFRESH_MS);
}

document.addEventListener('DOMContentLoaded', () => {
  main().catch((e) => notice(`The page could not start: ${e.message}`, 'error'));
});
