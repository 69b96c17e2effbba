// Gatehouse playback page: /play.html?id=N plays recording N
// (/api/v1/recordings/N/cast, fetched same-origin with the session cookie)
// in asciinema-player, with its own controls plus a speed selector, and
// shows the recording's metadata (/api/v1/recordings/N).
// /play.html?cast=/PATH plays a .cast file of this gateway's web root
// instead (same origin only; used by tests, shows no metadata).
//
// For tests: window.ghPlayer (getCurrentTime, getDuration, play, pause,
// seek, setSpeed, speed, player = the asciinema-player instance);
// body[data-state] is loading | ready | error, and body[data-error] says
// which error (not_found, csp_wasm, bad_cast, fetch); body[data-wasm] is
// what the page read from its CSP: allowed | refused | unknown.
'use strict';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(window.location.search);
const SPEEDS = [0.5, 1, 2, 4];

function notice(text, kind) {
  const n = $('notice');
  n.textContent = text;
  n.dataset.kind = kind || 'info';
  n.hidden = !text;
}

function fail(code, text) {
  notice(text, 'error');
  document.body.dataset.error = code;
  document.body.dataset.state = 'error';
}

const pad = (n) => String(n).padStart(2, '0');
function when(ms) {
  if (ms == null) return '—';
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}
function hms(s) {
  const t = Math.max(0, Math.floor(s));
  return `${Math.floor(t / 3600)}:${pad(Math.floor((t % 3600) / 60))}:${pad(t % 60)}`;
}

// asciinema-player compiles its terminal emulator to WebAssembly, which a
// Content-Security-Policy allows only with 'wasm-unsafe-eval' (or
// 'unsafe-eval') in script-src. Read this page's own policy (a GET of
// itself: a HEAD was seen never to finish in Firefox) rather than try and
// trip a violation.
async function wasmAllowed() {
  let csp;
  try {
    const res = await window.ghFetch(window.location.pathname, { cache: 'no-store', credentials: 'same-origin' });
    csp = res.headers.get('content-security-policy');
  } catch {
    return null;
  }
  if (!csp) return true;
  // Several policies arrive joined by ", "; each must allow it.
  return csp.split(',').every((policy) => {
    const dirs = new Map();
    for (const d of policy.split(';')) {
      const [name, ...values] = d.trim().split(/\s+/);
      if (name && !dirs.has(name.toLowerCase())) dirs.set(name.toLowerCase(), values);
    }
    const src = dirs.get('script-src') || dirs.get('default-src');
    return !src || src.includes("'wasm-unsafe-eval'") || src.includes("'unsafe-eval'");
  });
}

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const s = document.createElement('script');
    s.src = src;
    s.addEventListener('load', resolve);
    s.addEventListener('error', () => reject(new Error(`${src} did not load`)));
    document.head.appendChild(s);
  });
}

async function getJson(path) {
  const res = await window.ghFetch(path, { credentials: 'same-origin', cache: 'no-store' });
  const data = await res.json().catch(() => ({}));
  return { res, data };
}

function showMeta(r) {
  $('meta-title').textContent = `Recording #${r.id}`;
  $('m-user').textContent = r.user;
  $('m-target').textContent = r.target;
  $('m-started').textContent = when(r.started);
  $('m-ended').textContent = r.ended == null ? 'still recording' : when(r.ended);
  $('m-duration').textContent = r.ended == null ? '—' : hms((r.ended - r.started) / 1000);
  $('m-size').textContent = r.size == null ? '—' : `${r.size} bytes`;
  $('m-state').textContent = r.state;
  $('m-sha256').textContent = r.sha256 || '— (not complete)';
}

// One player at a time; a speed change makes a new one at the same time.
const gh = {
  player: null,
  speed: 1,
  playing: false,
  cast: null,
  getCurrentTime() { return this.player ? this.player.getCurrentTime() : 0; },
  getDuration() { return this.player ? this.player.getDuration() : undefined; },
  play() { return this.player.play(); },
  pause() { return this.player.pause(); },
  seek(where) { return this.player.seek(where); },
  async setSpeed(speed) {
    if (!SPEEDS.includes(speed) || speed === this.speed) return;
    const at = await this.getCurrentTime();
    this.speed = speed;
    $('speed').value = String(speed);
    mount(at, this.playing);
  },
};
window.ghPlayer = gh;

function mount(startAt, autoPlay) {
  if (gh.player) gh.player.dispose();
  $('player').replaceChildren();
  gh.playing = false;
  const errors = [];
  const logger = {
    log() {}, debug() {}, info() {}, warn() {},
    error(...a) { errors.push(a.map(String).join(' ')); },
  };
  const p = window.AsciinemaPlayer.create({ data: gh.cast }, $('player'), {
    speed: gh.speed,
    startAt: startAt || 0,
    autoPlay: Boolean(autoPlay),
    preload: true,
    controls: true,
    fit: 'width',
    terminalFontFamily: '"DejaVu Sans Mono", monospace',
    logger,
  });
  gh.player = p;
  p.addEventListener('play', () => { gh.playing = true; });
  p.addEventListener('playing', () => { gh.playing = true; });
  p.addEventListener('pause', () => { gh.playing = false; });
  p.addEventListener('ended', () => { gh.playing = false; });
  return { p, errors };
}

// The player says nothing when it has loaded: wait until it knows the
// duration (preload), or reports an error.
async function whenLoaded({ p, errors }) {
  const t0 = Date.now();
  for (;;) {
    if (errors.length) throw new Error(errors.join('; '));
    const d = await p.getDuration();
    if (typeof d === 'number') return d;
    if (Date.now() - t0 > 20000) throw new Error('the player did not load the recording');
    await new Promise((r) => setTimeout(r, 50));
  }
}

function castPath() {
  const id = params.get('id');
  if (id !== null) return /^[0-9]{1,18}$/.test(id) ? { id, url: `/api/v1/recordings/${id}/cast` } : null;
  const cast = params.get('cast');
  // Same origin only: a path, never "//host".
  if (cast !== null && /^\/[^/\\]/.test(cast)) return { url: cast };
  return null;
}

async function main() {
  const src = castPath();
  if (!src) {
    fail('not_found', 'No recording named: open one from the recordings page.');
    return;
  }
  $('download').href = src.url;
  $('download').hidden = false;
  $('speed').addEventListener('change', () => gh.setSpeed(Number($('speed').value)));

  if (src.id) {
    const { res, data } = await getJson(`/api/v1/recordings/${src.id}`);
    if (res.status === 401 && (data.error === 'unauthenticated' || data.error === 'session_expired')) {
      const back = `/play.html?id=${src.id}`;
      window.location.assign(`/auth/login?return_to=${encodeURIComponent(back)}`);
      return;
    }
    if (!res.ok) {
      fail(res.status === 404 ? 'not_found' : 'fetch', res.status === 404
        ? `There is no recording #${src.id}, or you may not see it.`
        : `Could not load recording #${src.id}: ${data.message || `HTTP ${res.status}`}`);
      $('download').hidden = res.status === 404;
      return;
    }
    showMeta(data);
    document.title = `Recording #${data.id} — Gatehouse`;
    getJson('/api/v1/me').then(({ res: r, data: me }) => { if (r.ok) $('who').textContent = me.name || me.user_id; });
  } else {
    $('meta-title').textContent = `File ${src.url}`;
  }

  const wasm = await wasmAllowed();
  document.body.dataset.wasm = wasm === null ? 'unknown' : wasm ? 'allowed' : 'refused';
  if (wasm === false) {
    fail('csp_wasm', 'This browser may not play recordings here: the gateway\'s Content-Security-Policy does '
      + 'not allow WebAssembly (script-src needs \'wasm-unsafe-eval\'), which the player needs. '
      + 'Download the recording and play it with "asciinema play" instead.');
    return;
  }

  try {
    await loadScript('/vendor/asciinema-player.min.js');
  } catch (e) {
    fail('fetch', `Could not load the player: ${e.message}`);
    return;
  }
  const res = await window.ghFetch(src.url, { credentials: 'same-origin', cache: 'no-store' });
  if (!res.ok) {
    fail('fetch', `Could not fetch the recording: HTTP ${res.status}`);
    return;
  }
  gh.cast = await res.text();
  try {
    const nl = gh.cast.indexOf('\n');
    const header = JSON.parse(nl < 0 ? gh.cast : gh.cast.slice(0, nl));
    if (header.version !== 2 && header.version !== 3) throw new Error(`version ${header.version}`);
  } catch (e) {
    fail('bad_cast', `This is not an asciicast recording (${e.message}).`);
    return;
  }
  try {
    const duration = await whenLoaded(mount(0, false));
    $('position').textContent = `length ${hms(duration)}`;
  } catch (e) {
    fail('bad_cast', `The player could not read the recording: ${e.message}`);
    return;
  }
  document.body.dataset.state = 'ready';
}

document.addEventListener('DOMContentLoaded', () => {
  main().catch((e) => fail('fetch', `The page could not start: ${e.message}`));
});
