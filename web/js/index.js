// Gatehouse index page: gateway health and the signed-in user.
// No inline script (CSP); no third-party code.
'use strict';

const $ = (id) => document.getElementById(id);

async function showHealth() {
  const status = $('status');
  try {
    const res = await fetch('/healthz', { cache: 'no-store' });
    const body = await res.json();
    status.textContent = body.status === 'ok'
      ? 'The gateway is up.'
      : 'The gateway reports a problem: ' + body.status;
    status.dataset.state = body.status === 'ok' ? 'ok' : 'error';
    $('version').textContent = 'Gatehouse ' + body.version;
  } catch (e) {
    status.textContent = 'The gateway did not answer.';
    status.dataset.state = 'error';
  }
}

async function showMe() {
  let res;
  try {
    res = await fetch('/api/v1/me', { cache: 'no-store', credentials: 'same-origin' });
  } catch (e) {
    return;
  }
  if (res.status === 200) {
    const me = await res.json();
    $('who').textContent = me.name || me.user_id;
    $('who').hidden = false;
    $('logout').hidden = false;
    $('access-link').hidden = false;
    $('recordings-link').hidden = false;
    $('me-user').textContent = me.user_id;
    $('me-email').textContent = me.email || '—';
    $('me-roles').textContent = me.roles.length ? me.roles.join(', ') : 'none';
    $('me-groups').textContent = me.groups.length ? me.groups.join(', ') : 'none';
    $('me-card').hidden = false;
    document.body.dataset.auth = 'signed-in';
    return;
  }
  const err = await res.json().catch(() => ({}));
  $('login').hidden = false;
  $('signin-card').hidden = false;
  if (err.error === 'idp_unavailable') {
    $('signin-msg').textContent = 'Sign-in is not available: ' + err.message;
  }
  document.body.dataset.auth = 'signed-out';
}

async function logout() {
  const res = await fetch('/auth/logout', {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json' },
    body: '{}',
  });
  const body = await res.json().catch(() => ({}));
  window.location.assign(body.end_session_url || '/');
}

document.addEventListener('DOMContentLoaded', () => {
  $('logout').addEventListener('click', logout);
  showHealth();
  showMe();
});
