// lib.mjs - start the test IdP (idp.mjs) and drive its flows from node tests.
//
//   import { startIdp, scriptedLogin, exchangeCode, verifyJwt } from '.../idp/lib.mjs';
//   const idp = await startIdp({ redirectUris: [`${gw.url}/auth/callback`] });
//   const { code, codeVerifier } = await scriptedLogin(idp, { user: 'bob' });
//   const tokens = await exchangeCode(idp, { code, codeVerifier });
//   const { payload } = verifyJwt(tokens.access_token, await idp.jwks());
//   await idp.rotateKeys();          // new keys sign, old ones still verify
//   await idp.stop();                // SIGTERM, returns the exit code
//
// When the gateway builds the authorization request itself:
//   const { location } = await completeAuthorization(authUrlFromGateway, { idp, user: 'bob' });
//   // location = the gateway's redirect_uri with ?code=...&state=...&iss=...
//
// Node >= 18.12, built-in fetch only. Cookies are kept in a CookieJar per
// browser-like user agent: use a fresh jar per user.
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import {
  WEB_CLIENT_ID, CLI_CLIENT_ID, OTHER_CLIENT_ID, DEFAULT_SCOPE, TEST_LOGIN_HEADER,
  DEFAULT_USERS, generateSigningKeys, writeFileAtomic0600, jwksPath, readPrivateJwks, publicJwk,
  jwkThumbprint, resourceFor,
} from './common.mjs';

export {
  WEB_CLIENT_ID, CLI_CLIENT_ID, OTHER_CLIENT_ID, DEFAULT_SCOPE, DEFAULT_USERS, TEST_LOGIN_HEADER,
  generateSigningKeys, writeFileAtomic0600, jwksPath, readPrivateJwks, publicJwk, jwkThumbprint, resourceFor,
};

export const IDP_SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'idp.mjs');
export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const READY_TIMEOUT_MS = 15000;
const sleep = (ms) => new Promise((r) => { setTimeout(r, ms); });

// ---------------------------------------------------------------- cookies

function splitSetCookie(headers) {
  if (typeof headers.getSetCookie === 'function') return headers.getSetCookie();
  // Node < 18.14 joins them with ", "; Expires dates contain ", " too.
  const joined = headers.get('set-cookie');
  return joined ? joined.split(/,\s*(?=[^;,=\s]+=)/) : [];
}

// A small RFC 6265 cookie jar: host-only cookies, Path, Max-Age/Expires,
// Secure. Enough for the IdP (and for a gateway on the same host).
export class CookieJar {
  #cookies = new Map();

  store(url, headers) {
    const u = new URL(url);
    for (const line of splitSetCookie(headers)) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      if (eq < 1) continue;
      const c = {
        name: pair.slice(0, eq).trim(),
        value: pair.slice(eq + 1).trim(),
        host: u.hostname,
        path: u.pathname.lastIndexOf('/') > 0 ? u.pathname.slice(0, u.pathname.lastIndexOf('/')) : '/',
        secure: false,
        expires: Infinity,
      };
      for (const a of attrs) {
        const i = a.indexOf('=');
        const k = (i < 0 ? a : a.slice(0, i)).trim().toLowerCase();
        const v = i < 0 ? '' : a.slice(i + 1).trim();
        if (k === 'path' && v.startsWith('/')) c.path = v;
        else if (k === 'secure') c.secure = true;
        else if (k === 'max-age' && /^-?\d+$/.test(v)) c.expires = Date.now() + Number(v) * 1000;
        else if (k === 'expires' && c.expires === Infinity) {
          const t = Date.parse(v);
          if (!Number.isNaN(t)) c.expires = t;
        }
      }
      const key = `${c.host}|${c.path}|${c.name}`;
      if (c.expires <= Date.now()) this.#cookies.delete(key);
      else this.#cookies.set(key, c);
    }
  }

  header(url) {
    const u = new URL(url);
    const now = Date.now();
    const out = [];
    for (const [key, c] of this.#cookies) {
      if (c.expires <= now) { this.#cookies.delete(key); continue; }
      if (c.host !== u.hostname) continue;
      if (c.secure && u.protocol !== 'https:') continue;
      const p = u.pathname;
      if (!(p === c.path || (p.startsWith(c.path) && (c.path.endsWith('/') || p[c.path.length] === '/')))) continue;
      out.push(c);
    }
    out.sort((a, b) => b.path.length - a.path.length);
    return out.length ? out.map((c) => `${c.name}=${c.value}`).join('; ') : undefined;
  }

  get(name) {
    for (const c of this.#cookies.values()) if (c.name === name) return c.value;
    return undefined;
  }

  clear() { this.#cookies.clear(); }
}

// fetch without following redirects, with a cookie jar and a timeout.
export async function jarFetch(url, { jar, method = 'GET', headers = {}, body, timeoutMs = 10000 } = {}) {
  const h = { ...headers };
  const cookie = jar?.header(url);
  if (cookie) h.cookie = cookie;
  const res = await fetch(url, {
    method, headers: h, body, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs),
  });
  if (jar) jar.store(url, res.headers);
  return res;
}

// ---------------------------------------------------------------- PKCE, JWT

export function pkcePair() {
  const codeVerifier = crypto.randomBytes(32).toString('base64url');
  const codeChallenge = crypto.createHash('sha256').update(codeVerifier).digest('base64url');
  return { codeVerifier, codeChallenge, codeChallengeMethod: 'S256' };
}

export const randomToken = (n = 16) => crypto.randomBytes(n).toString('base64url');

export function decodeJwt(token) {
  const parts = String(token).split('.');
  if (parts.length !== 3) throw new Error('not a compact JWS');
  const json = (s) => JSON.parse(Buffer.from(s, 'base64url').toString('utf8'));
  return {
    header: json(parts[0]),
    payload: json(parts[1]),
    signingInput: `${parts[0]}.${parts[1]}`,
    signature: Buffer.from(parts[2], 'base64url'),
  };
}

// Verify a JWS against a public JWK set with node's crypto only. The key is
// chosen by kid and must match the alg (RS256 or ES256 - nothing else, and
// never "none"). Returns { header, payload, jwk }. Does not check claims.
export function verifyJwt(token, jwks, { algorithms = ['RS256', 'ES256'] } = {}) {
  const { header, payload, signingInput, signature } = decodeJwt(token);
  if (!algorithms.includes(header.alg)) throw new Error(`alg ${header.alg} not allowed`);
  const jwk = (jwks.keys || []).find((k) => k.kid === header.kid);
  if (!jwk) throw new Error(`no key with kid ${header.kid}`);
  if (jwk.alg && jwk.alg !== header.alg) throw new Error(`key ${jwk.kid} is for ${jwk.alg}, token says ${header.alg}`);
  const key = crypto.createPublicKey({ key: publicJwk(jwk), format: 'jwk' });
  let ok;
  if (header.alg === 'RS256') {
    if (jwk.kty !== 'RSA') throw new Error('RS256 needs an RSA key');
    ok = crypto.verify('sha256', Buffer.from(signingInput), key, signature);
  } else if (header.alg === 'ES256') {
    if (jwk.kty !== 'EC' || jwk.crv !== 'P-256') throw new Error('ES256 needs a P-256 key');
    ok = crypto.verify('sha256', Buffer.from(signingInput), { key, dsaEncoding: 'ieee-p1363' }, signature);
  } else {
    throw new Error(`unsupported alg ${header.alg}`);
  }
  if (!ok) throw new Error('signature does not verify');
  return { header, payload, jwk };
}

// ---------------------------------------------------------------- the IdP process

function basicAuth(id, secret) {
  const enc = (s) => encodeURIComponent(s).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${enc(id)}:${enc(secret)}`).toString('base64')}`;
}

/**
 * Start idp.mjs as a child process and wait for its ready line.
 * opts: stateDir (default: a fresh temp dir, removed by stop()), port (0),
 *   redirectUris, audience, accessTokenAlg, idTokenAlg, accessTokenTtl,
 *   webAuthMethod, usersFile, logPath (default stateDir/idp.log), env.
 * Returns an object: issuer, port, pid, stateDir, logPath, info (the ready
 *   line), webClientSecret, otherClientSecret, redirectUris, audience,
 *   resource, otherResource, clients, discovery(), jwks(), log(),
 *   reloadKeys(), rotateKeys(), stop().
 */
export async function startIdp(opts = {}) {
  const ownDir = !opts.stateDir;
  const stateDir = opts.stateDir || fs.mkdtempSync(path.join(os.tmpdir(), 'gh-idp-'));
  fs.mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const logPath = opts.logPath || path.join(stateDir, 'idp.log');
  const args = [IDP_SCRIPT, '--port', String(opts.port ?? 0), '--state-dir', stateDir, '--exit-on-stdin-eof'];
  for (const u of opts.redirectUris || []) args.push('--gateway-redirect-uri', u);
  if (opts.audience) args.push('--audience', opts.audience);
  if (opts.accessTokenAlg) args.push('--access-token-alg', opts.accessTokenAlg);
  if (opts.idTokenAlg) args.push('--id-token-alg', opts.idTokenAlg);
  if (opts.accessTokenTtl) args.push('--access-token-ttl', String(opts.accessTokenTtl));
  if (opts.webAuthMethod) args.push('--web-auth-method', opts.webAuthMethod);
  if (opts.usersFile) args.push('--users', opts.usersFile);

  const logFd = fs.openSync(logPath, 'a', 0o600);
  // stdin is a pipe we never write: if this process dies, the IdP sees EOF
  // and exits, so a killed test leaves no IdP behind.
  const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', logFd], env: { ...process.env, ...opts.env } });
  fs.closeSync(logFd);
  child.stdin.on('error', () => {});
  const readLog = () => { try { return fs.readFileSync(logPath, 'utf8'); } catch { return ''; } };

  let exited = null;
  const exitPromise = new Promise((resolve) => {
    child.on('exit', (code, signal) => { exited = { code, signal }; resolve(exited); });
  });

  let info;
  try {
    info = await new Promise((resolve, reject) => {
      let buf = '';
      const timer = setTimeout(() => reject(new Error('timed out')), READY_TIMEOUT_MS);
      child.stdout.setEncoding('utf8');
      child.stdout.on('data', (d) => {
        buf += d;
        const nl = buf.indexOf('\n');
        if (nl >= 0) {
          clearTimeout(timer);
          try { resolve(JSON.parse(buf.slice(0, nl))); } catch (e) { reject(e); }
        }
      });
      exitPromise.then((e) => { clearTimeout(timer); reject(new Error(`exited (${e.code ?? e.signal})`)); });
    });
    if (!info.ready) throw new Error('ready line without ready:true');
  } catch (err) {
    if (!exited) child.kill('SIGKILL');
    await exitPromise;
    const text = readLog();
    if (ownDir) fs.rmSync(stateDir, { recursive: true, force: true });
    throw new Error(`test IdP did not become ready: ${err.message}\n${text}`);
  }
  child.stdout.resume(); // nothing more is expected there; never block the child

  let discoveryCache;
  const idp = {
    ...info,
    info,
    logPath,
    ownStateDir: ownDir,
    webClientSecret: fs.readFileSync(info.webClientSecretFile, 'utf8').trim(),
    otherClientSecret: fs.readFileSync(info.otherClientSecretFile, 'utf8').trim(),
    get clients() {
      return {
        web: {
          clientId: WEB_CLIENT_ID, clientSecret: this.webClientSecret, authMethod: info.webClientAuthMethod, redirectUri: info.redirectUris[0],
        },
        cli: { clientId: CLI_CLIENT_ID, authMethod: 'none', redirectUri: 'http://127.0.0.1/callback' },
        other: {
          clientId: OTHER_CLIENT_ID, clientSecret: this.otherClientSecret, authMethod: 'client_secret_basic', redirectUri: info.redirectUris[0],
        },
      };
    },
    clientFor(clientId) {
      const c = Object.values(this.clients).find((x) => x.clientId === clientId);
      if (!c) throw new Error(`unknown client ${clientId}`);
      return c;
    },
    log: readLog,
    get exited() { return exited; },

    async discovery({ fresh = false } = {}) {
      if (!discoveryCache || fresh) {
        const res = await fetch(`${info.issuer}/.well-known/openid-configuration`, { signal: AbortSignal.timeout(5000) });
        if (res.status !== 200) throw new Error(`discovery: HTTP ${res.status}`);
        discoveryCache = await res.json();
      }
      return discoveryCache;
    },

    // The public JWKS, read from the jwks_uri named in discovery.
    async jwks() {
      const { jwks_uri: uri } = await this.discovery();
      const res = await fetch(uri, { signal: AbortSignal.timeout(5000) });
      if (res.status !== 200) throw new Error(`jwks: HTTP ${res.status}`);
      return res.json();
    },

    // SIGHUP: the IdP re-reads stateDir/jwks.json. Waits until the served
    // JWKS leads with the first RS256 and ES256 keys of that file.
    async reloadKeys({ timeoutMs = 5000 } = {}) {
      const { keys } = readPrivateJwks(jwksPath(stateDir));
      const firstKid = (alg) => keys.find((k) => k.alg === alg)?.kid;
      const want = { RS256: firstKid('RS256'), ES256: firstKid('ES256') };
      process.kill(child.pid, 'SIGHUP');
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const served = await this.jwks();
        const got = (alg) => served.keys.find((k) => k.alg === alg)?.kid;
        if (got('RS256') === want.RS256 && got('ES256') === want.ES256
          && served.keys.length === keys.length) return served;
        if (Date.now() > deadline) throw new Error(`IdP did not reload its keys\n${readLog().slice(-2000)}`);
        await sleep(25);
      }
    },

    // Put a fresh RS256 + ES256 pair first in jwks.json (they sign from now
    // on) and keep the old keys after them (still served, so tokens signed
    // before keep verifying) unless dropOld. Returns the new and old kids.
    async rotateKeys({ dropOld = false } = {}) {
      const file = jwksPath(stateDir);
      const old = readPrivateJwks(file).keys;
      const fresh = generateSigningKeys();
      writeFileAtomic0600(file, `${JSON.stringify({ keys: dropOld ? fresh : [...fresh, ...old] }, null, 2)}\n`);
      const jwks = await this.reloadKeys();
      return {
        RS256: fresh.find((k) => k.alg === 'RS256').kid,
        ES256: fresh.find((k) => k.alg === 'ES256').kid,
        previous: old.map((k) => k.kid),
        jwks,
      };
    },

    // SIGTERM (or another signal); waits up to 5 s, then SIGKILL. Returns
    // the exit code (null if killed by a signal). Removes an own temp dir.
    async stop(signal = 'SIGTERM') {
      if (!exited) child.kill(signal);
      const timer = setTimeout(() => { if (!exited) child.kill('SIGKILL'); }, 5000);
      const r = await exitPromise;
      clearTimeout(timer);
      try { child.stdin.destroy(); } catch { /* already closed */ }
      if (ownDir && !opts.keepStateDir) fs.rmSync(stateDir, { recursive: true, force: true });
      return r.code;
    },
  };
  return idp;
}

// ---------------------------------------------------------------- token endpoint

// Raw token endpoint call. Returns { status, body } (body parsed as JSON if
// possible). client: { clientId, clientSecret?, authMethod } or a client id.
export async function tokenRequest(idp, params, client = idp.clients.web) {
  const c = typeof client === 'string' ? idp.clientFor(client) : client;
  const { token_endpoint: url } = await idp.discovery();
  const form = new URLSearchParams(params);
  const headers = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
  if (c.authMethod === 'client_secret_basic') headers.authorization = basicAuth(c.clientId, c.clientSecret);
  else if (c.authMethod === 'client_secret_post') { form.set('client_id', c.clientId); form.set('client_secret', c.clientSecret); } else form.set('client_id', c.clientId);
  const res = await fetch(url, {
    method: 'POST', headers, body: form.toString(), signal: AbortSignal.timeout(10000),
  });
  const text = await res.text();
  let body;
  try { body = JSON.parse(text); } catch { body = text; }
  return { status: res.status, body };
}

export async function exchangeCode(idp, {
  code, codeVerifier, redirectUri, client = idp.clients.web, extra = {},
}) {
  const c = typeof client === 'string' ? idp.clientFor(client) : client;
  const r = await tokenRequest(idp, {
    grant_type: 'authorization_code', code, code_verifier: codeVerifier, redirect_uri: redirectUri || c.redirectUri, ...extra,
  }, c);
  if (r.status !== 200) throw new Error(`token endpoint: HTTP ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

export async function refreshTokens(idp, { refreshToken, client = idp.clients.web }) {
  const r = await tokenRequest(idp, { grant_type: 'refresh_token', refresh_token: refreshToken }, client);
  if (r.status !== 200) throw new Error(`refresh: HTTP ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

// ---------------------------------------------------------------- authorization code flow

const unescapeHtml = (s) => s.replace(/&(amp|lt|gt|quot|#39);/g, (m, e) => ({
  amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'",
}[e]));

// oidc-provider's self-submitting pages (response_mode=form_post, ending the
// previous session when another user signs in, /device?user_code=...):
// returns { action, fields } for the single POST form, or null.
export function parseAutoSubmit(html, baseUrl) {
  if (!/document\.forms\[0\]\.submit\(\)/.test(html)) return null;
  const form = html.match(/<form method="post" action="([^"]*)">([\s\S]*?)<\/form>/);
  if (!form) return null;
  const fields = new URLSearchParams();
  for (const m of form[2].matchAll(/<input type="hidden" name="([^"]*)" value="([^"]*)"\/>/g)) {
    fields.append(unescapeHtml(m[1]), unescapeHtml(m[2]));
  }
  return { action: new URL(unescapeHtml(form[1]), baseUrl).href, fields };
}

/**
 * Drive an authorization request URL (built by us or by the gateway) through
 * the IdP until it redirects out of the issuer's origin; that Location is
 * the client's redirect_uri with code (or error), state and iss.
 * user + via pick how the login happens when the IdP asks for one:
 *   'header' (default): X-Test-Login: <user> on every request;
 *   'login_hint': nothing extra (the URL must carry login_hint=<user>);
 *   'form': POST the login page's form, as a person clicking <user> would.
 * deny: true cancels on the login page instead (the client gets
 * error=access_denied). Self-submitting forms (oidc-provider's form_post
 * pages) are submitted like a browser would. Returns { location, params,
 * method, pages, jar }: method is 'POST' (params = the form fields) when the
 * client asked for response_mode=form_post; pages lists the IdP paths visited.
 */
export async function completeAuthorization(authUrl, {
  idp, issuer = idp?.issuer, user, via = 'header', deny = false, jar = new CookieJar(), maxHops = 25,
} = {}) {
  const origin = new URL(issuer || authUrl).origin;
  const headers = via === 'header' && user && !deny ? { [TEST_LOGIN_HEADER]: user } : {};
  const pages = [];
  let url = authUrl;
  let method = 'GET';
  let body;
  for (let hop = 0; hop < maxHops; hop += 1) {
    const u = new URL(url);
    if (u.origin !== origin) {
      return {
        location: url, params: u.searchParams, method: 'GET', pages, jar,
      };
    }
    pages.push(`${method} ${u.pathname}`);
    const reqHeaders = { ...headers };
    if (body) reqHeaders['content-type'] = 'application/x-www-form-urlencoded';
    const res = await jarFetch(url, {
      jar, method, headers: reqHeaders, body,
    });
    method = 'GET';
    body = undefined;
    if (res.status >= 300 && res.status < 400 && res.headers.get('location')) {
      await res.arrayBuffer();
      url = new URL(res.headers.get('location'), url).href;
      continue;
    }
    const text = await res.text();
    const auto = res.status === 200 ? parseAutoSubmit(text, url) : null;
    if (auto) {
      if (new URL(auto.action).origin !== origin) {
        // response_mode=form_post: the browser would POST these to the client.
        return {
          location: auto.action, params: auto.fields, method: 'POST', pages, jar,
        };
      }
      url = auto.action;
      method = 'POST';
      body = auto.fields.toString();
      continue;
    }
    const m = u.pathname.match(/^\/interaction\/([^/]+)$/);
    if (res.status === 200 && m && text.includes('action="/interaction/')) {
      // Our login page: sign in (or cancel) like a person would.
      if (deny) {
        url = `${origin}/interaction/${m[1]}/abort`;
        method = 'POST';
        body = '';
        continue;
      }
      if (via === 'form' && user) {
        url = `${origin}/interaction/${m[1]}/login`;
        method = 'POST';
        body = new URLSearchParams({ user }).toString();
        continue;
      }
    }
    throw new Error(`authorization stopped at ${method} ${u.pathname}: HTTP ${res.status}\n${text.slice(0, 1500)}`);
  }
  throw new Error('too many redirects');
}

/**
 * Build an authorization request (PKCE S256, state, nonce) and complete it.
 * opts: user, client (object or id; default gatehouse-web), redirectUri,
 *   scope, via ('login_hint' default here: login_hint=<user> is sent),
 *   jar, deny, extraParams (e.g. { prompt: 'login', resource: '...' }),
 *   omit (array of param names to leave out, for negative tests).
 * Returns { code, state, iss, error, errorDescription, location, method,
 *   params, codeVerifier, codeChallenge, nonce, redirectUri, client, jar, authUrl }.
 */
export async function scriptedLogin(idp, {
  user, client = idp.clients.web, redirectUri, scope = DEFAULT_SCOPE, via = 'login_hint',
  jar = new CookieJar(), deny = false, extraParams = {}, omit = [],
} = {}) {
  const c = typeof client === 'string' ? idp.clientFor(client) : client;
  const { authorization_endpoint: endpoint } = await idp.discovery();
  const pkce = pkcePair();
  const state = randomToken();
  const nonce = randomToken();
  const ru = redirectUri || c.redirectUri;
  const params = {
    client_id: c.clientId,
    response_type: 'code',
    redirect_uri: ru,
    scope,
    state,
    nonce,
    code_challenge: pkce.codeChallenge,
    code_challenge_method: 'S256',
    ...(via === 'login_hint' && user ? { login_hint: user } : {}),
    ...extraParams,
  };
  for (const k of omit) delete params[k];
  const authUrl = `${endpoint}?${new URLSearchParams(params)}`;
  const r = await completeAuthorization(authUrl, {
    idp, user, via, deny, jar,
  });
  const p = r.params;
  return {
    code: p.get('code') || undefined,
    state: p.get('state') || undefined,
    iss: p.get('iss') || undefined,
    error: p.get('error') || undefined,
    errorDescription: p.get('error_description') || undefined,
    location: r.location,
    method: r.method,
    params: p,
    pages: r.pages,
    codeVerifier: pkce.codeVerifier,
    codeChallenge: pkce.codeChallenge,
    sentState: state,
    nonce,
    redirectUri: ru,
    client: c,
    jar,
    authUrl,
  };
}

// scriptedLogin + exchangeCode. Throws unless a code came back.
export async function loginAndGetTokens(idp, opts = {}) {
  const login = await scriptedLogin(idp, opts);
  if (!login.code) throw new Error(`no code: ${login.error} ${login.errorDescription || ''}`);
  if (login.state !== login.sentState) throw new Error('state mismatch');
  const tokens = await exchangeCode(idp, {
    code: login.code, codeVerifier: login.codeVerifier, redirectUri: login.redirectUri, client: login.client,
  });
  return { ...tokens, login };
}

// ---------------------------------------------------------------- device flow

export async function deviceAuthorize(idp, { client = idp.clients.cli, scope = DEFAULT_SCOPE, extra = {} } = {}) {
  const c = typeof client === 'string' ? idp.clientFor(client) : client;
  const { device_authorization_endpoint: url } = await idp.discovery();
  const form = new URLSearchParams({ client_id: c.clientId, scope, ...extra });
  const headers = { 'content-type': 'application/x-www-form-urlencoded' };
  if (c.authMethod === 'client_secret_basic') { headers.authorization = basicAuth(c.clientId, c.clientSecret); form.delete('client_id'); }
  const res = await fetch(url, {
    method: 'POST', headers, body: form.toString(), signal: AbortSignal.timeout(10000),
  });
  const body = await res.json();
  if (res.status !== 200) throw new Error(`device authorization: HTTP ${res.status} ${JSON.stringify(body)}`);
  return body;
}

function hiddenInput(html, name) {
  const re = new RegExp(`<input[^>]*name="${name}"[^>]*value="([^"]*)"`, 'i');
  const m = html.match(re);
  return m ? m[1] : undefined;
}

/**
 * Approve (or deny) a device-flow user code as <user>, through the real
 * verification pages: GET /device (xsrf), POST the code with confirm=yes,
 * then the login interaction (X-Test-Login) and auto-consent, until the
 * success page. Returns { pages }. deny: true presses "Cancel" on the
 * confirmation page instead (the device then gets access_denied).
 */
export async function approveDevice(idp, userCode, user, { jar = new CookieJar(), deny = false } = {}) {
  const { device_authorization_endpoint: daUrl } = await idp.discovery();
  const verificationUri = `${new URL(daUrl).origin}/device`;
  const pages = [];
  let res = await jarFetch(verificationUri, { jar });
  const html = await res.text();
  pages.push(`GET /device ${res.status}`);
  const xsrf = hiddenInput(html, 'xsrf');
  const action = (html.match(/<form[^>]*id="op.deviceInputForm"[^>]*action="([^"]+)"/) || [])[1] || verificationUri;
  if (res.status !== 200 || !xsrf) throw new Error(`device page: HTTP ${res.status}, no xsrf\n${html.slice(0, 800)}`);
  const form = new URLSearchParams({ xsrf, user_code: userCode });
  if (deny) form.set('abort', 'yes'); else form.set('confirm', 'yes');
  let url = new URL(action, verificationUri).href;
  res = await jarFetch(url, {
    jar, method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form.toString(),
  });
  pages.push(`POST ${new URL(url).pathname} ${res.status}`);
  for (let hop = 0; hop < 20; hop += 1) {
    if (res.status >= 300 && res.status < 400 && res.headers.get('location')) {
      await res.arrayBuffer();
      url = new URL(res.headers.get('location'), url).href;
      res = await jarFetch(url, { jar, headers: { [TEST_LOGIN_HEADER]: user } });
      pages.push(`GET ${new URL(url).pathname} ${res.status}`);
      continue;
    }
    const text = await res.text();
    if (res.status === 200 && text.includes('id="device-success"')) return { pages, approved: true };
    if (deny && text.includes('cancelled')) return { pages, approved: false };
    throw new Error(`device approval stopped at ${new URL(url).pathname}: HTTP ${res.status}\n${text.slice(0, 1500)}`);
  }
  throw new Error('device approval: too many redirects');
}

// Poll the token endpoint for a device code (honours interval/slow_down).
// Returns the token response, or throws with the terminal error.
export async function pollDeviceToken(idp, {
  deviceCode, client = idp.clients.cli, interval = 5, timeoutMs = 30000,
}) {
  const deadline = Date.now() + timeoutMs;
  let wait = interval;
  for (;;) {
    const r = await tokenRequest(idp, { grant_type: DEVICE_CODE_GRANT, device_code: deviceCode }, client);
    if (r.status === 200) return r.body;
    const err = r.body?.error;
    if (err === 'slow_down') wait += 5;
    else if (err !== 'authorization_pending') {
      const e = new Error(`device token: ${err} ${r.body?.error_description || ''}`);
      e.response = r;
      throw e;
    }
    if (Date.now() + wait * 1000 > deadline) throw new Error('device token: timed out');
    await sleep(wait * 1000);
  }
}

// ---------------------------------------------------------------- logout

/**
 * RP-initiated logout as the user agent holding jar: GET end_session with
 * id_token_hint / post_logout_redirect_uri / state, press "Yes, sign me out",
 * follow to the end. Returns { location } (the post-logout redirect URI, or
 * the IdP's signed-out page URL when none was given).
 */
export async function scriptedLogout(idp, {
  jar, idTokenHint, postLogoutRedirectUri, state, clientId,
} = {}) {
  const { end_session_endpoint: endpoint } = await idp.discovery();
  const q = new URLSearchParams();
  if (idTokenHint) q.set('id_token_hint', idTokenHint);
  if (clientId) q.set('client_id', clientId);
  if (postLogoutRedirectUri) q.set('post_logout_redirect_uri', postLogoutRedirectUri);
  if (state) q.set('state', state);
  let url = `${endpoint}?${q}`;
  let res = await jarFetch(url, { jar });
  const html = await res.text();
  // Signed in: a confirmation page (press "Yes"); not signed in: a
  // self-submitting form.
  const auto = res.status === 200 ? parseAutoSubmit(html, url) : null;
  const xsrf = hiddenInput(html, 'xsrf');
  const action = (html.match(/<form[^>]*method="post"[^>]*action="([^"]+)"/) || [])[1];
  if (res.status !== 200 || !xsrf || !action) throw new Error(`logout page: HTTP ${res.status}\n${html.slice(0, 800)}`);
  url = auto ? auto.action : new URL(action, url).href;
  const form = auto ? auto.fields : new URLSearchParams({ xsrf, logout: 'yes' });
  res = await jarFetch(url, {
    jar, method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form.toString(),
  });
  const origin = new URL(idp.issuer).origin;
  for (let hop = 0; hop < 10; hop += 1) {
    if (res.status >= 300 && res.status < 400 && res.headers.get('location')) {
      await res.arrayBuffer();
      url = new URL(res.headers.get('location'), url).href;
      if (new URL(url).origin !== origin) return { location: url };
      res = await jarFetch(url, { jar });
      continue;
    }
    const text = await res.text();
    if (res.status === 200 && text.includes('id="logout-success"')) return { location: url };
    throw new Error(`logout stopped at ${new URL(url).pathname}: HTTP ${res.status}\n${text.slice(0, 800)}`);
  }
  throw new Error('logout: too many redirects');
}
