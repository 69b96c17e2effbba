// Gatehouse index page: shows the gateway's health. No inline script (CSP).
'use strict';

async function showHealth() {
  const status = document.getElementById('status');
  const version = document.getElementById('version');
  try {
    const res = await fetch('/healthz', { cache: 'no-store' });
    const body = await res.json();
    status.textContent = body.status === 'ok'
      ? 'The gateway is up.'
      : 'The gateway reports a problem: ' + body.status;
    status.dataset.state = body.status === 'ok' ? 'ok' : 'error';
    version.textContent = 'Gatehouse ' + body.version;
  } catch (e) {
    status.textContent = 'The gateway did not answer.';
    status.dataset.state = 'error';
  }
}

document.addEventListener('DOMContentLoaded', showHealth);
