// Gatehouse access page: request access, see my requests and grants with
// a countdown, and (for approvers) approve, deny and revoke.
// All data goes into the page as text (textContent), never as HTML.
'use strict';

const $ = (id) => document.getElementById(id);
let me = null;
let targets = [];

async function api(method, path, body) {
  const res = await fetch(path, {
    method,
    credentials: 'same-origin',
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(data.message ? `${data.message} (${data.error})` : `HTTP ${res.status}`);
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

async function refresh() {
  const mine = await api('GET', `/api/v1/requests?user=${encodeURIComponent(me.user_id)}`);
  fill('my-requests', mine.items.slice().reverse().map((r) =>
    row([r.id, r.target, r.ports, duration(r.duration), r.state, r.reason])));
  const grants = await api('GET', `/api/v1/grants?user=${encodeURIComponent(me.user_id)}&live=1`);
  const live = grants.items.map((g) => {
    const tr = row([g.id, g.target, g.ports, countdown(g.expires)]);
    tr.dataset.expires = g.expires;
    tr.dataset.cell = 3;
    return tr;
  });
  fill('my-grants', live);
  $('my-grants-empty').hidden = live.length > 0;

  if (targets.some((t) => t.can_approve)) {
    $('approvals-card').hidden = false;
    $('grants-card').hidden = false;
    const pending = await api('GET', '/api/v1/requests?state=pending');
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
    const all = await api('GET', '/api/v1/grants?live=1');
    fill('grants', all.items.map((g) => {
      const tr = row([g.id, g.user, g.target, g.ports, countdown(g.expires),
        button('Revoke', () => act(`/api/v1/grants/${g.id}/revoke`, { reason: 'revoked from the web' }))]);
      tr.dataset.expires = g.expires;
      tr.dataset.cell = 4;
      tr.dataset.grant = g.id;
      return tr;
    }));
  }
  document.body.dataset.ready = 'yes';
}

async function act(path, body) {
  try {
    await api('POST', path, body);
    notice('Done.', 'ok');
  } catch (e) {
    notice(e.message, 'error');
  }
  await refresh();
}

function tick() {
  for (const tr of document.querySelectorAll('tr[data-expires]')) {
    tr.cells[Number(tr.dataset.cell)].textContent = countdown(Number(tr.dataset.expires));
  }
}

async function main() {
  try {
    me = await api('GET', '/api/v1/me');
  } catch (e) {
    window.location.assign('/auth/login?return_to=/access.html');
    return;
  }
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
    try {
      const r = await api('POST', '/api/v1/requests', {
        target: select.value,
        ports: $('rq-ports').value.replace(/\s+/g, ''),
        duration: Number($('rq-duration').value),
        reason: $('rq-reason').value,
      });
      notice(r.state === 'approved' ? `Request #${r.id} approved by policy.` : `Request #${r.id} is waiting for approval.`, 'ok');
    } catch (e) {
      notice(e.message, 'error');
    }
    await refresh();
  });
  await refresh();
  setInterval(tick, 1000);
  setInterval(refresh, 15000);
}

document.addEventListener('DOMContentLoaded', main);
