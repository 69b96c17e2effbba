#!/usr/bin/env node
// idp.mjs - the OpenID Provider Gatehouse's tests sign in against.
//
// Built on npm oidc-provider 8.8.1 (OpenID Certified). Test use only: it
// listens on 127.0.0.1 over plain http, and it logs in whoever a request
// names (login_hint or the X-Test-Login header). See README.md.
//
//   node idp.mjs --port 0 --state-dir DIR [--gateway-redirect-uri URL ...]
//                [--audience AUD] [--access-token-alg RS256|ES256]
//                [--id-token-alg RS256|ES256] [--access-token-ttl SECONDS]
//                [--web-auth-method client_secret_basic|client_secret_post]
//                [--users FILE] [--exit-on-stdin-eof]
//
// stdout carries exactly one line, a JSON object with "ready": true, once
// the provider listens; all logging goes to stderr. SIGHUP re-reads
// DIR/jwks.json and swaps the signing keys without a restart. SIGTERM and
// SIGINT stop it with exit status 0.
import http from 'node:http';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

import {
  WEB_CLIENT_ID, CLI_CLIENT_ID, OTHER_CLIENT_ID, DEFAULT_AUDIENCE, OTHER_AUDIENCE,
  DEFAULT_GATEWAY_REDIRECT_URI, CLI_REDIRECT_URI, OTHER_APP_REDIRECT_URI, TEST_LOGIN_HEADER,
  SCOPES, DEFAULT_USERS, userClaims, resourceFor, generateSigningKeys, writeFileAtomic0600,
  jwksPath, webSecretPath, otherSecretPath, readPrivateJwks,
} from './common.mjs';

// stdout is reserved for the ready line: oidc-provider prints its NOTICEs
// with console.info, so every console method goes to stderr.
const toStderr = (...a) => console.error(...a); // eslint-disable-line no-console
console.log = toStderr; // eslint-disable-line no-console
console.info = toStderr; // eslint-disable-line no-console
console.debug = toStderr; // eslint-disable-line no-console

const { default: Provider, errors } = await import('oidc-provider');

function log(msg, fields = {}) {
  const kv = Object.entries(fields).map(([k, v]) => `${k}=${typeof v === 'string' && !/\s/.test(v) ? v : JSON.stringify(v)}`);
  process.stderr.write(`idp[${process.pid}] ${new Date().toISOString()} ${msg}${kv.length ? ` ${kv.join(' ')}` : ''}\n`);
}

function die(msg) {
  log(`fatal: ${msg}`);
  process.exit(2);
}

// ---------------------------------------------------------------- options
let opts;
try {
  ({ values: opts } = parseArgs({
    options: {
      port: { type: 'string', default: '0' },
      'state-dir': { type: 'string' },
      'gateway-redirect-uri': { type: 'string', multiple: true },
      audience: { type: 'string', default: DEFAULT_AUDIENCE },
      'access-token-alg': { type: 'string', default: 'RS256' },
      'id-token-alg': { type: 'string', default: 'RS256' },
      'access-token-ttl': { type: 'string', default: '600' },
      'web-auth-method': { type: 'string', default: 'client_secret_basic' },
      users: { type: 'string' },
      'exit-on-stdin-eof': { type: 'boolean', default: false },
    },
    strict: true,
    allowPositionals: false,
  }));
} catch (err) {
  die(err.message);
}

const port = Number(opts.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) die('--port must be 0..65535');
if (!opts['state-dir']) die('--state-dir DIR is required');
const stateDir = path.resolve(opts['state-dir']);
const redirectUris = opts['gateway-redirect-uri']?.length ? opts['gateway-redirect-uri'] : [DEFAULT_GATEWAY_REDIRECT_URI];
for (const u of redirectUris) {
  try { new URL(u); } catch { die(`bad --gateway-redirect-uri ${u}`); } // eslint-disable-line no-new
}
const { audience } = opts;
const accessTokenAlg = opts['access-token-alg'];
const idTokenAlg = opts['id-token-alg'];
for (const a of [accessTokenAlg, idTokenAlg]) if (!['RS256', 'ES256'].includes(a)) die(`unsupported alg ${a} (RS256 or ES256)`);
const accessTokenTtl = Number(opts['access-token-ttl']);
if (!Number.isInteger(accessTokenTtl) || accessTokenTtl < 1) die('--access-token-ttl must be a positive integer');
const webAuthMethod = opts['web-auth-method'];
if (!['client_secret_basic', 'client_secret_post'].includes(webAuthMethod)) die('--web-auth-method must be client_secret_basic or client_secret_post');

const USERS = { ...DEFAULT_USERS };
if (opts.users) {
  try {
    Object.assign(USERS, JSON.parse(fs.readFileSync(opts.users, 'utf8')));
  } catch (err) {
    die(`--users ${opts.users}: ${err.message}`);
  }
}
const userBySub = new Map(Object.entries(USERS).map(([name, u]) => [userClaims(name, u).sub, userClaims(name, u)]));
const userByName = new Map(Object.entries(USERS).map(([name, u]) => [name, userClaims(name, u)]));

// ---------------------------------------------------------------- state dir
fs.mkdirSync(stateDir, { recursive: true, mode: 0o700 });

function loadOrCreateSecret(file) {
  if (fs.existsSync(file)) {
    const s = fs.readFileSync(file, 'utf8').trim();
    if (s.length < 32) die(`${file}: secret too short`);
    return s;
  }
  const s = crypto.randomBytes(32).toString('base64url');
  writeFileAtomic0600(file, `${s}\n`);
  return s;
}
const webSecret = loadOrCreateSecret(webSecretPath(stateDir));
const otherSecret = loadOrCreateSecret(otherSecretPath(stateDir));

function loadOrCreateJwks() {
  const file = jwksPath(stateDir);
  if (!fs.existsSync(file)) {
    writeFileAtomic0600(file, `${JSON.stringify({ keys: generateSigningKeys() }, null, 2)}\n`);
    log('generated signing keys', { file });
  }
  return readPrivateJwks(file);
}

// ---------------------------------------------------------------- HTML
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({
  '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;',
}[c]));

const STYLE = 'body{font-family:sans-serif;max-width:32em;margin:2em auto;padding:0 1em;color:#222}'
  + 'button{display:block;width:100%;margin:.4em 0;padding:.6em;font-size:1em;cursor:pointer}'
  + '.muted{color:#666;font-size:.9em}code{font-size:1.4em}.err{color:#b00}';

function page(title, body) {
  return `<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>`
    + `<meta name="viewport" content="width=device-width, initial-scale=1"><style>${STYLE}</style></head>`
    + `<body><h1>${esc(title)}</h1>${body}<p class="muted">Gatehouse test identity provider</p></body></html>`;
}

// Pages we render ourselves: no scripts at all, nothing fetched from elsewhere.
const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
};

function sendHtml(res, status, title, body) {
  const html = page(title, body);
  res.writeHead(status, { ...PAGE_HEADERS, 'content-length': Buffer.byteLength(html) });
  res.end(html);
}

// oidc-provider's default page sources pull web fonts from Google; these
// replacements use nothing external.
const providerPages = {
  async userCodeInputSource(ctx, form, out, err) {
    let msg = '<p>Enter the code shown on your device.</p>';
    if (err && (err.userCode || err.name === 'NoCodeError')) msg = '<p class="err">That code is not valid. Try again.</p>';
    else if (err && err.name === 'AbortedError') msg = '<p class="err">The sign-in request was cancelled.</p>';
    else if (err) msg = '<p class="err">There was an error processing your request.</p>';
    ctx.type = 'html';
    ctx.body = page('Device sign-in', `${msg}${form.replace(/\sonfocus="[^"]*"/g, '')}<button type="submit" form="op.deviceInputForm">Continue</button>`);
  },
  async userCodeConfirmSource(ctx, form, client, deviceInfo, userCode) {
    ctx.type = 'html';
    ctx.body = page('Confirm device', `<p><strong>${esc(client.clientName || client.clientId)}</strong> wants to sign in.</p>`
      + `<p>Check that your device shows this code:</p><p><code id="user-code">${esc(userCode)}</code></p>${form}`
      + '<button type="submit" form="op.deviceConfirmForm">Continue</button>'
      + '<button type="submit" form="op.deviceConfirmForm" value="yes" name="abort">Cancel</button>');
  },
  async successSource(ctx) {
    ctx.type = 'html';
    ctx.body = page('Device sign-in complete', '<p id="device-success">The device is signed in. You can close this page.</p>');
  },
  async logoutSource(ctx, form) {
    ctx.type = 'html';
    ctx.body = page('Sign out', `<p>Sign out of the test identity provider?</p>${form}`
      + '<button type="submit" form="op.logoutForm" value="yes" name="logout">Yes, sign me out</button>'
      + '<button type="submit" form="op.logoutForm">No, stay signed in</button>');
  },
  async postLogoutSuccessSource(ctx) {
    ctx.type = 'html';
    ctx.body = page('Signed out', '<p id="logout-success">You are signed out.</p>');
  },
  async renderError(ctx, out) {
    ctx.type = 'html';
    ctx.body = page('Error', Object.entries(out).map(([k, v]) => `<p><strong>${esc(k)}</strong>: <span class="${esc(k)}">${esc(v)}</span></p>`).join(''));
  },
};

// ---------------------------------------------------------------- provider
const cookieKeys = [crypto.randomBytes(32).toString('base64url')];
let issuer; // known once listening

const gatewayResource = resourceFor(audience);
const otherResource = resourceFor(OTHER_AUDIENCE);
const RS_SCOPE = 'openid email profile groups';
const resourceServers = {
  [gatewayResource]: { audience, alg: accessTokenAlg },
  [otherResource]: { audience: OTHER_AUDIENCE, alg: accessTokenAlg },
};
const defaultResourceOf = (clientId) => (clientId === OTHER_CLIENT_ID ? otherResource : gatewayResource);

function clientsMetadata() {
  const origins = [...new Set(redirectUris.map((u) => `${new URL(u).origin}/`))];
  return [
    {
      client_id: WEB_CLIENT_ID,
      client_name: 'Gatehouse (web)',
      client_secret: webSecret,
      application_type: 'web',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: [...redirectUris],
      post_logout_redirect_uris: origins,
      token_endpoint_auth_method: webAuthMethod,
      id_token_signed_response_alg: idTokenAlg,
    },
    {
      client_id: CLI_CLIENT_ID,
      client_name: 'Gatehouse CLI',
      application_type: 'native',
      token_endpoint_auth_method: 'none',
      grant_types: ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token', 'authorization_code'],
      response_types: ['code'],
      redirect_uris: [CLI_REDIRECT_URI],
      id_token_signed_response_alg: idTokenAlg,
    },
    {
      client_id: OTHER_CLIENT_ID,
      client_name: 'Some other application',
      client_secret: otherSecret,
      application_type: 'web',
      grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
      response_types: ['code'],
      redirect_uris: [...redirectUris, OTHER_APP_REDIRECT_URI],
      post_logout_redirect_uris: origins,
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: idTokenAlg,
    },
  ];
}

function buildConfiguration(jwks) {
  return {
    jwks,
    clients: clientsMetadata(),
    async findAccount(ctx, sub) {
      const u = userBySub.get(sub);
      if (!u) return undefined;
      return { accountId: sub, async claims() { return { ...u, groups: [...u.groups] }; } };
    },
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'preferred_username'],
      groups: ['groups'],
    },
    scopes: [...SCOPES],
    conformIdTokenClaims: false,
    responseTypes: ['code'],
    pkce: { methods: ['S256'], required: () => true },
    allowOmittingSingleRegisteredRedirectUri: false,
    clientBasedCORS: () => false,
    cookies: {
      keys: cookieKeys,
      // 'lax', not the default 'none': browsers drop SameSite=None cookies
      // without Secure, and this issuer is plain http.
      long: { httpOnly: true, sameSite: 'lax', signed: true },
      short: { httpOnly: true, sameSite: 'lax', signed: true },
    },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    // Refresh tokens whenever the client may use them (offline_access not needed).
    issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
    // Claims for the resource server (JWT access tokens), by granted scope.
    async extraTokenClaims(ctx, token) {
      if (!token.accountId) return undefined;
      const u = userBySub.get(token.accountId);
      if (!u) return undefined;
      const scopes = new Set((token.scope || '').split(' '));
      const out = {};
      if (scopes.has('email')) Object.assign(out, { email: u.email, email_verified: u.email_verified });
      if (scopes.has('profile')) Object.assign(out, { name: u.name, preferred_username: u.preferred_username });
      if (scopes.has('groups')) out.groups = [...u.groups];
      return out;
    },
    ttl: {
      AccessToken: accessTokenTtl,
      ClientCredentials: accessTokenTtl,
      AuthorizationCode: 60,
      DeviceCode: 600,
      IdToken: 600,
      RefreshToken: 24 * 3600,
      Interaction: 600,
      Session: 24 * 3600,
      Grant: 24 * 3600,
    },
    features: {
      devInteractions: { enabled: false },
      deviceFlow: {
        enabled: true,
        userCodeInputSource: providerPages.userCodeInputSource,
        userCodeConfirmSource: providerPages.userCodeConfirmSource,
        successSource: providerPages.successSource,
      },
      revocation: { enabled: true },
      clientCredentials: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: providerPages.logoutSource,
        postLogoutSuccessSource: providerPages.postLogoutSuccessSource,
      },
      resourceIndicators: {
        enabled: true,
        // No resource parameter: the gateway's audience (other-app: other-api).
        async defaultResource(ctx, client, oneOf) {
          if (oneOf) {
            const preferred = defaultResourceOf(client.clientId);
            if (oneOf.includes(preferred)) return preferred;
            return oneOf.length === 1 ? oneOf[0] : oneOf;
          }
          return defaultResourceOf(client.clientId);
        },
        useGrantedResource: async () => true,
        async getResourceServerInfo(ctx, indicator) {
          const rs = resourceServers[indicator];
          if (!rs) throw new errors.InvalidTarget();
          return {
            scope: RS_SCOPE,
            audience: rs.audience,
            accessTokenTTL: accessTokenTtl,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: rs.alg } },
          };
        },
      },
    },
    renderError: providerPages.renderError,
  };
}

function makeProvider(jwks) {
  const p = new Provider(issuer, buildConfiguration(jwks));
  for (const ev of ['server_error', 'authorization.error', 'grant.error', 'end_session.error',
    'revocation.error', 'code_verification.error', 'device_authorization.error', 'discovery.error',
    'jwks.error', 'introspection.error', 'userinfo.error', 'backchannel.error']) {
    p.on(ev, (ctx, err) => log(ev, { error: err?.error || err?.name, description: err?.error_description || err?.message }));
  }
  return { provider: p, handler: p.callback(), kids: jwks.keys.map((k) => k.kid) };
}

// ---------------------------------------------------------------- interactions
let current; // { provider, handler, kids }

function readForm(req, limit = 16 * 1024) {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks = [];
    req.on('data', (c) => {
      size += c.length;
      if (size > limit) { reject(new Error('request body too large')); req.destroy(); return; }
      chunks.push(c);
    });
    req.on('end', () => resolve(new URLSearchParams(Buffer.concat(chunks).toString('utf8'))));
    req.on('error', reject);
  });
}

function loginPage(uid, details, note) {
  const client = details.params.client_id;
  const users = [...userByName.values()].map((u) => `<button type="submit" name="user" value="${esc(u.preferred_username)}" id="login-${esc(u.preferred_username)}">`
    + `${esc(u.preferred_username)} <span class="muted">(${esc(u.groups.join(', ') || 'no groups')})</span></button>`).join('');
  return `${note ? `<p class="err">${esc(note)}</p>` : ''}<p>Sign in to <strong>${esc(client)}</strong> as:</p>`
    + `<form method="post" action="/interaction/${esc(uid)}/login">${users}</form>`
    + `<form method="post" action="/interaction/${esc(uid)}/abort"><button type="submit" id="login-cancel">Cancel</button></form>`;
}

async function finishLogin(p, req, res, user, how) {
  log('login', { user: user.preferred_username, via: how });
  await p.interactionFinished(req, res, { login: { accountId: user.sub } }, { mergeWithLastSubmission: false });
}

// Consent is always given: every scope, claim and resource scope requested.
async function finishConsent(p, req, res, details) {
  const { prompt: { details: missing }, params, session } = details;
  const grant = details.grantId
    ? await p.Grant.find(details.grantId)
    : new p.Grant({ accountId: session.accountId, clientId: params.client_id });
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  if (missing.missingResourceScopes) {
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes)) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
  }
  const grantId = await grant.save();
  const consent = details.grantId ? {} : { grantId };
  log('consent', { client: params.client_id, user: session.accountId });
  await p.interactionFinished(req, res, { consent }, { mergeWithLastSubmission: true });
}

async function handleInteraction(req, res, url) {
  const m = url.pathname.match(/^\/interaction\/([A-Za-z0-9_-]+)(\/login|\/abort)?$/);
  if (!m) return sendHtml(res, 404, 'Not found', '<p>No such page.</p>');
  const [, uid, action] = m;
  const p = current.provider;
  let details;
  try {
    details = await p.interactionDetails(req, res);
  } catch (err) {
    return sendHtml(res, 400, 'Sign-in failed', `<p class="err">${esc(err.error_description || err.message)}</p>`);
  }
  if (details.uid !== uid) return sendHtml(res, 400, 'Sign-in failed', '<p class="err">interaction mismatch</p>');

  if (action === '/abort') {
    if (req.method !== 'POST') return sendHtml(res, 405, 'Method not allowed', '');
    log('interaction aborted', { client: details.params.client_id });
    return p.interactionFinished(req, res, { error: 'access_denied', error_description: 'End-User aborted interaction' }, { mergeWithLastSubmission: false });
  }

  if (action === '/login') {
    if (req.method !== 'POST') return sendHtml(res, 405, 'Method not allowed', '');
    if (details.prompt.name !== 'login') return sendHtml(res, 400, 'Sign-in failed', '<p class="err">no login pending</p>');
    const form = await readForm(req);
    const user = userByName.get(form.get('user') || '');
    if (!user) return sendHtml(res, 400, 'Sign in', loginPage(uid, details, 'Unknown user.'));
    return finishLogin(p, req, res, user, 'form');
  }

  if (req.method !== 'GET') return sendHtml(res, 405, 'Method not allowed', '');
  if (details.prompt.name === 'login') {
    // Scripted login: the X-Test-Login header wins over login_hint.
    const header = req.headers[TEST_LOGIN_HEADER];
    if (header !== undefined) {
      const user = userByName.get(String(header));
      if (!user) return sendHtml(res, 400, 'Sign-in failed', `<p class="err">X-Test-Login names no test user: ${esc(header)}</p>`);
      return finishLogin(p, req, res, user, 'header');
    }
    const hint = details.params.login_hint;
    if (hint && userByName.has(hint)) return finishLogin(p, req, res, userByName.get(hint), 'login_hint');
    return sendHtml(res, 200, 'Sign in', loginPage(uid, details, hint ? `login_hint names no test user: ${hint}` : ''));
  }
  if (details.prompt.name === 'consent') return finishConsent(p, req, res, details);
  return sendHtml(res, 400, 'Sign-in failed', `<p class="err">unknown prompt ${esc(details.prompt.name)}</p>`);
}

// ---------------------------------------------------------------- server
const server = http.createServer((req, res) => {
  const started = Date.now();
  res.on('finish', () => {
    // Paths only: query strings carry codes and state.
    log('http', { method: req.method, path: (req.url || '').split('?')[0], status: res.statusCode, ms: Date.now() - started });
  });
  if (!current) {
    res.writeHead(503, { 'content-type': 'text/plain' });
    res.end('starting\n');
    return;
  }
  const url = new URL(req.url || '/', issuer);
  if (url.pathname.startsWith('/interaction/')) {
    handleInteraction(req, res, url).catch((err) => {
      log('interaction error', { error: err.message });
      if (!res.headersSent) sendHtml(res, 500, 'Error', '<p class="err">internal error</p>');
      else res.end();
    });
    return;
  }
  current.handler(req, res);
});
server.keepAliveTimeout = 5000;

function reloadKeys(reason) {
  try {
    const jwks = readPrivateJwks(jwksPath(stateDir));
    const next = makeProvider(jwks);
    current = next; // requests already in flight finish on the old instance
    log('signing keys reloaded', { reason, kids: next.kids.join(',') });
  } catch (err) {
    log('signing keys NOT reloaded, keeping the current ones', { reason, error: err.message });
  }
}

let stopping = false;
function stop(sig) {
  if (stopping) return;
  stopping = true;
  log('stopping', { signal: sig });
  server.close(() => { log('stopped'); process.exit(0); });
  if (typeof server.closeAllConnections === 'function') server.closeAllConnections();
  setTimeout(() => { log('stopped (connections did not close in 2 s)'); process.exit(0); }, 2000).unref();
}
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
process.on('SIGHUP', () => reloadKeys('SIGHUP'));
if (opts['exit-on-stdin-eof']) {
  // The parent holds our stdin open; if it dies, we follow.
  process.stdin.on('end', () => stop('stdin-eof'));
  process.stdin.on('error', () => stop('stdin-error'));
  process.stdin.resume();
}

server.on('error', (err) => die(`listen: ${err.message}`));
server.listen(port, '127.0.0.1', () => {
  const actualPort = server.address().port;
  issuer = `http://127.0.0.1:${actualPort}`;
  try {
    current = makeProvider(loadOrCreateJwks());
  } catch (err) {
    die(err.message);
  }
  const ready = {
    ready: true,
    issuer,
    port: actualPort,
    pid: process.pid,
    stateDir,
    jwksFile: jwksPath(stateDir),
    webClientId: WEB_CLIENT_ID,
    webClientSecretFile: webSecretPath(stateDir),
    webClientAuthMethod: webAuthMethod,
    cliClientId: CLI_CLIENT_ID,
    otherClientId: OTHER_CLIENT_ID,
    otherClientSecretFile: otherSecretPath(stateDir),
    redirectUris,
    audience,
    resource: gatewayResource,
    otherAudience: OTHER_AUDIENCE,
    otherResource,
    accessTokenAlg,
    idTokenAlg,
    users: [...userByName.keys()],
  };
  process.stdout.write(`${JSON.stringify(ready)}\n`);
  log('ready', { issuer, kids: current.kids.join(',') });
});
