// Gatehouse terminal page: /terminal.html?target=NAME opens an SSH session
// to NAME through the gateway's WebSocket (/api/v1/connect, subprotocol
// gatehouse.v1) and shows it in xterm.js. The frame format is in
// docs/PROTOCOL.md and js/frames.js.
//
// For tests: window.ghTerm is the xterm Terminal; body[data-state] is
// connecting | credentials | open | closed; body[data-reason] is the
// reason the session ended (a PROTOCOL.md reason code, or one of
// connection_lost, connect_error, closed_<code>, no_target).
// /terminal.html?selftest=1 makes a terminal with no WebSocket at all: it
// writes a fixed banner and echoes what is typed, locally.
//
// All server text goes into the page as text (textContent), never as HTML.
'use strict';

const $ = (id) => document.getElementById(id);
const F = window.GhFrames;
const params = new URLSearchParams(window.location.search);
const target = params.get('target') || '';
const SELFTEST = params.get('selftest') === '1';
const GRANT_WARN_S = 300;

// Every reason of PROTOCOL.md's table, in plain words.
const REASONS = {
  target_closed: 'The session ended: the shell exited or the machine closed the connection.',
  user_closed: 'You closed the session.',
  no_grant: 'You have no live access grant for this machine. Request access first.',
  port_not_granted: 'Your access grant does not include SSH (port 22) on this machine.',
  source_not_allowed: 'Your access grant does not allow connections from your current network address.',
  unknown_target: 'There is no such machine, or you may not see it.',
  port_not_declared: 'This machine does not offer SSH (port 22) through Gatehouse.',
  unauthenticated: 'You are not signed in.',
  session_expired: 'Your sign-in has ended. Sign in again to reconnect.',
  idp_unavailable: 'Sign-in is not available right now: the gateway cannot reach the identity provider.',
  grant_expired: 'Your access grant ran out, so the session was ended.',
  grant_revoked: 'Your access grant was revoked, so the session was ended.',
  admin_kill: 'An administrator ended this session.',
  target_removed: 'This machine was removed from the gateway\'s configuration, so the session was ended.',
  idle_timeout: 'The session was ended because nothing was typed or shown for too long.',
  host_key_mismatch: 'The machine\'s host key is not the one pinned for it, so Gatehouse did not connect. '
    + 'Someone may be impersonating the machine, or its key was changed: tell an administrator.',
  host_key_unknown: 'No host key is pinned for this machine, so Gatehouse did not connect. Tell an administrator.',
  auth_failed: 'The machine refused the user name and password or key.',
  connect_failed: 'The machine did not answer.',
  worker_failed: 'The gateway\'s session process failed.',
  recording_failed: 'The session could not be recorded, and this machine requires recording, so it was ended.',
  too_many_sessions: 'The gateway is serving as many sessions as it may. Try again later.',
  unsupported_protocol: 'This gateway does not offer that kind of session.',
  error: 'The gateway could not decide on your access (an internal error), so it refused. Try again, or tell an administrator.',
  protocol_error: 'The browser sent something the gateway did not understand, so the session was ended.',
  server_shutdown: 'The gateway is shutting down.',
  // Not from the server: what the page saw itself.
  connection_lost: 'The connection to the gateway was lost.',
  connect_error: 'Could not reach the gateway to start the session.',
  no_target: 'No machine was named: open the terminal from the access page.',
};
// A WebSocket close without a CLOSE frame: what its code means.
const CODES = {
  1000: 'The session ended.',
  1001: REASONS.server_shutdown,
  4400: REASONS.protocol_error,
  4401: 'You are not signed in, or your sign-in has ended.',
  4403: 'The gateway refused the session: you have no access to this machine now.',
  4408: 'Your access grant ended, so the session was ended.',
  4409: REASONS.admin_kill,
  4410: REASONS.target_removed,
  4411: REASONS.idle_timeout,
  4405: 'This gateway does not offer that kind of session.',
  4429: 'The gateway is serving as many sessions as it may. Try again later.',
  4500: REASONS.worker_failed,
  4502: 'The machine\'s host key could not be verified, so Gatehouse did not connect.',
  4503: REASONS.auth_failed,
  4504: REASONS.connect_failed,
  4507: REASONS.recording_failed,
};
const SIGN_IN_AGAIN = new Set(['unauthenticated', 'session_expired']);

let me = null;
let term = null;
let fit = null;
let conn = null;          // the current connection (one at a time)
let grantExpires = null;  // unix ms
let clipboardRead = false;

const clampDim = (n) => Math.min(1000, Math.max(1, Math.floor(n) || 80));

function setState(s, text) {
  document.body.dataset.state = s;
  const c = $('st-conn');
  c.dataset.state = s;
  c.textContent = text;
}

// ---- the terminal --------------------------------------------------------

function createTerminal() {
  if (term) return term;
  term = new window.Terminal({
    cursorBlink: true,
    fontFamily: '"DejaVu Sans Mono", "Liberation Mono", Menlo, Consolas, monospace',
    fontSize: 14,
    scrollback: 5000,
    theme: { background: '#0b0e14', foreground: '#e6e6e6' },
  });
  fit = new window.FitAddon.FitAddon();
  term.loadAddon(fit);
  term.open($('term'));
  window.ghTerm = term;

  term.onData((d) => send(F.input(d)));
  term.onBinary((d) => send(F.inputBinary(d)));
  term.onResize(({ cols, rows }) => { if (conn?.open) send([F.resize(cols, rows)]); });
  term.attachCustomKeyEventHandler(keys);

  let pending = false;
  const refit = () => {
    if (pending) return;
    pending = true;
    window.requestAnimationFrame(() => { pending = false; fitNow(); });
  };
  window.addEventListener('resize', refit);
  if (window.ResizeObserver) new ResizeObserver(refit).observe($('term-wrap'));
  fitNow();
  return term;
}

function fitNow() {
  try {
    fit.fit();
  } catch { /* not laid out yet */ }
}

// Ctrl+Shift+C copies the selection; Ctrl+Shift+V pastes (through the
// clipboard API where the browser permits reading it, else the browser's
// own paste, which xterm takes). Neither goes to the shell as a key.
function keys(ev) {
  if (ev.type !== 'keydown' || !ev.ctrlKey || !ev.shiftKey || ev.altKey || ev.metaKey) return true;
  const k = ev.key.toLowerCase();
  if (k === 'c') {
    ev.preventDefault();
    copySelection();
    return false;
  }
  if (k === 'v') {
    if (clipboardRead) {
      ev.preventDefault();
      navigator.clipboard.readText().then((t) => { if (t) term.paste(t); }).catch(() => {});
    }
    return false;
  }
  return true;
}

function copySelection() {
  if (!term.hasSelection()) return;
  const text = term.getSelection();
  const fallback = () => {
    const ta = document.createElement('textarea');
    ta.value = text;
    ta.setAttribute('readonly', '');
    ta.className = 'offscreen';
    document.body.appendChild(ta);
    ta.select();
    try { document.execCommand('copy'); } catch { /* nothing more to try */ }
    ta.remove();
    term.focus();
  };
  if (navigator.clipboard?.writeText) navigator.clipboard.writeText(text).catch(fallback);
  else fallback();
}

function watchClipboardPermission() {
  if (!navigator.permissions?.query || !navigator.clipboard?.readText) return;
  navigator.permissions.query({ name: 'clipboard-read' }).then((p) => {
    const update = () => { clipboardRead = p.state === 'granted'; };
    update();
    p.addEventListener('change', update);
  }).catch(() => { /* Firefox knows no such permission: the browser's paste it is */ });
}

// ---- status bar ----------------------------------------------------------

function hms(s) {
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  return `${h}:${String(m).padStart(2, '0')}:${String(sec).padStart(2, '0')}`;
}

function tickGrant() {
  const box = $('st-grant');
  if (grantExpires == null) {
    $('st-grant-left').textContent = '—';
    box.dataset.level = '';
    return;
  }
  const left = Math.max(0, Math.floor((grantExpires - Date.now()) / 1000));
  $('st-grant-left').textContent = left > 0 ? hms(left) : 'ended';
  box.dataset.level = left === 0 ? 'over' : left < GRANT_WARN_S ? 'warn' : 'ok';
  box.title = `Your access grant ends at ${new Date(grantExpires).toLocaleString()}`;
}

// ---- the connection ------------------------------------------------------

function send(frames) {
  if (!conn || !conn.open || conn.ws.readyState !== WebSocket.OPEN) return;
  for (const f of frames) conn.ws.send(f);
}

function connect() {
  $('closed').hidden = true;
  $('st-reconnect').hidden = true;
  delete document.body.dataset.reason;
  setState('connecting', 'Connecting…');
  createTerminal();
  term.reset();
  fitNow();
  // The shell starts at the terminal's size (cols, rows); RESIZE follows
  // whenever it changes.
  const url = `wss://${window.location.host}/api/v1/connect?target=${encodeURIComponent(target)}`
    + `&protocol=ssh&cols=${clampDim(term.cols)}&rows=${clampDim(term.rows)}`;
  let ws;
  try {
    ws = new WebSocket(url, 'gatehouse.v1');
  } catch (e) {
    finish({ reason: 'connect_error', message: String(e.message || e) });
    return;
  }
  ws.binaryType = 'arraybuffer';
  const c = { ws, open: false, opened: false, done: false, closeFrame: null, userClosed: false };
  conn = c;
  ws.addEventListener('open', () => {
    if (conn !== c) return;
    c.opened = true;
    setState('connecting', 'Starting the session…');
  });
  ws.addEventListener('message', (ev) => { if (conn === c) onMessage(c, ev.data); });
  ws.addEventListener('close', (ev) => { if (conn === c) onClose(c, ev); });
}

function onMessage(c, data) {
  if (typeof data === 'string') return; // the gateway sends binary frames only
  let f;
  try {
    f = F.decode(data);
  } catch {
    return;
  }
  switch (f.type) {
    case F.T.OUTPUT:
      term.write(f.payload);
      break;
    case F.T.STATUS:
      onStatus(c, f.json);
      break;
    case F.T.CLOSE:
      c.closeFrame = f.json;
      finish({ reason: String(f.json.reason || ''), message: f.json.message == null ? '' : String(f.json.message) });
      break;
    default:
      break; // not a type the gateway sends to a browser
  }
}

function onStatus(c, s) {
  if (typeof s.grant_expires === 'number') {
    grantExpires = s.grant_expires;
    tickGrant();
  }
  switch (s.state) {
    case 'connecting':
      if (s.target) $('st-target').textContent = s.target;
      if (s.session != null) $('st-conn').title = `Session ${s.session}`;
      setState('connecting', 'Connecting to the machine…');
      break;
    case 'credentials':
      askCredential(s);
      break;
    case 'open':
      hideCredential();
      fitNow();
      c.open = true;
      setState('open', 'Connected');
      $('disconnect').hidden = false;
      send([F.resize(term.cols, term.rows)]); // the shell takes our size
      term.focus();
      break;
    default:
      break; // 'grant' (handled above) and anything newer
  }
}

// The session is over: say why, once.
function finish({ reason, message = '', code = null }) {
  const c = conn;
  if (c && c.done) return;
  if (c) {
    c.done = true;
    c.open = false;
  }
  hideCredential();
  $('disconnect').hidden = true;
  setState('closed', 'Disconnected');
  document.body.dataset.reason = reason;
  $('closed-text').textContent = REASONS[reason]
    || (code != null && CODES[code]) || `The session ended (${reason}).`;
  $('closed-message').textContent = message;
  $('closed-message').hidden = !message;
  $('closed-code').textContent = `Reason: ${reason}${code != null ? ` (close code ${code})` : ''}`;
  const again = SIGN_IN_AGAIN.has(reason);
  $('reconnect').textContent = again ? 'Sign in again' : 'Reconnect';
  $('reconnect').dataset.signin = again ? 'yes' : '';
  $('closed').hidden = false;
  $('st-reconnect').hidden = false;
}

function onClose(c, ev) {
  if (c.done) {
    // The CLOSE frame said why; add the code to what is shown.
    const r = document.body.dataset.reason;
    $('closed-code').textContent = `Reason: ${r} (close code ${ev.code})`;
    return;
  }
  let reason;
  if (REASONS[ev.reason]) reason = ev.reason;
  else if (c.userClosed) reason = 'user_closed';
  else if (ev.code === 1006) reason = c.opened ? 'connection_lost' : 'connect_error';
  else reason = `closed_${ev.code}`;
  finish({ reason, message: REASONS[ev.reason] ? '' : ev.reason, code: ev.code });
}

function disconnect() {
  if (!conn || conn.done) return;
  conn.userClosed = true;
  conn.open = false;
  if (conn.ws.readyState === WebSocket.OPEN) {
    conn.ws.send(F.close('user_closed', 'closed from the browser'));
  }
  conn.ws.close(1000);
}

function reconnect() {
  if ($('reconnect').dataset.signin === 'yes') {
    const back = `/terminal.html?target=${encodeURIComponent(target)}`;
    window.location.assign(`/auth/login?return_to=${encodeURIComponent(back)}`);
    return;
  }
  connect();
}

// ---- credentials ---------------------------------------------------------

function askCredential(s) {
  setState('credentials', 'Waiting for your credential');
  $('cred-target').textContent = target;
  $('cred-hostkey').textContent = s.fingerprint ? ` (${s.fingerprint})` : '';
  const user = $('cred-user');
  if (!user.value) user.value = s.username || (me ? String(me.user_id).split('@')[0] : '');
  $('cred').hidden = false;
  (user.value ? (keyChosen() ? $('cred-key') : $('cred-password')) : user).focus();
}

const keyChosen = () => $('cred-form').elements.kind.value === 'key';

function showKind() {
  $('cred-password-box').hidden = keyChosen();
  $('cred-key-box').hidden = !keyChosen();
}

// Empty every field that held a secret.
function clearCredential() {
  for (const id of ['cred-password', 'cred-key', 'cred-passphrase']) $(id).value = '';
}

function hideCredential() {
  clearCredential();
  $('cred').hidden = true;
}

function submitCredential(ev) {
  ev.preventDefault();
  if (!conn || conn.done || conn.ws.readyState !== WebSocket.OPEN) return;
  const c = { username: $('cred-user').value };
  if (keyChosen()) {
    c.private_key = $('cred-key').value;
    c.passphrase = $('cred-passphrase').value;
  } else {
    c.password = $('cred-password').value;
  }
  const frame = F.credential(c);
  conn.ws.send(frame);
  frame.fill(0); // send() took its copy
  hideCredential();
  setState('credentials', 'Checking your credential…');
  term.focus();
}

// ---- self-test (no network) ---------------------------------------------

function selftest() {
  document.body.dataset.selftest = '1';
  $('st-target').textContent = '(self-test)';
  createTerminal();
  term.write('Gatehouse terminal self-test: no connection.\r\n'
    + '\x1b[1;32mgreen bold\x1b[0m \x1b[44mon blue\x1b[0m UTF-8: äöü € ✓ ┌─┐ '
    + '\x1b[38;2;255;128;0m24-bit orange\x1b[0m\r\n$ ');
  term.onData((d) => term.write(d.replace(/\r/g, '\r\n').replace(/\x7f/g, '\b \b')));
  setState('open', 'Self-test: what you type is echoed here, nothing is sent');
  term.focus();
}

// ---- start ---------------------------------------------------------------

async function whoAmI() {
  let res;
  try {
    res = await window.ghFetch('/api/v1/me', { credentials: 'same-origin', cache: 'no-store' });
  } catch {
    return; // the WebSocket will say what is wrong
  }
  if (res.ok) {
    me = await res.json();
    $('st-user').textContent = me.name ? `${me.name} (${me.user_id})` : me.user_id;
    return;
  }
  const err = await res.json().catch(() => ({}));
  if (SIGN_IN_AGAIN.has(err.error)) {
    const back = `/terminal.html?target=${encodeURIComponent(target)}`;
    window.location.assign(`/auth/login?return_to=${encodeURIComponent(back)}`);
    throw new Error('signing in');
  }
}

async function main() {
  $('st-target').textContent = target || '—';
  document.title = `${target || 'terminal'} — Gatehouse`;
  $('cred-form').addEventListener('submit', submitCredential);
  for (const r of $('cred-form').elements.kind) r.addEventListener('change', showKind);
  $('reconnect').addEventListener('click', reconnect);
  $('st-reconnect').addEventListener('click', reconnect);
  $('disconnect').addEventListener('click', disconnect);
  $('closed-dismiss').addEventListener('click', () => { $('closed').hidden = true; term?.focus(); });
  window.addEventListener('pagehide', disconnect);
  setInterval(tickGrant, 1000);
  watchClipboardPermission();

  if (SELFTEST) {
    selftest();
    return;
  }
  if (!target) {
    finish({ reason: 'no_target' });
    $('reconnect').hidden = true;
    return;
  }
  try {
    await whoAmI();
  } catch {
    return;
  }
  connect();
}

document.addEventListener('DOMContentLoaded', main);
