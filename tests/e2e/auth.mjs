// Sign-in end to end against the real test IdP (oidc-provider):
// bearer tokens from the IdP on /api/v1/me, the refused-token catalogue
// (each refused with its reason, audited, nothing else broken), browser
// login in headless Chromium (code + PKCE), state replay and open-redirect
// attempts, logout, and the gateway closed when the IdP is not there.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { startGateway } from '../harness/gateway.mjs';
import { launchBrowser } from '../harness/browser/browser.mjs';
import { startIdp, loginAndGetTokens, completeAuthorization } from '../harness/idp/lib.mjs';
import { isolateNetwork } from '../harness/netns.mjs';
import { freePort, signInSession, testRun } from '../harness/testkit.mjs';

// Loopback only (its browser steps too): in a network namespace of its
// own when possible, as web-pages.mjs.
isolateNetwork();

const t = testRun('gh-e2e-auth', 150000);
const { tmp } = t;
const check = t.check;
const b64u = (b) => Buffer.from(b).toString('base64url');
function sign(header, payload, key, alg) {
  const input = `${b64u(JSON.stringify(header))}.${b64u(JSON.stringify(payload))}`;
  let sig;
  if (alg === 'RS256') sig = crypto.sign('sha256', Buffer.from(input), key);
  else if (alg === 'ES256') sig = crypto.sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
  else if (alg === 'HS256') sig = crypto.createHmac('sha256', key).update(input).digest();
  else sig = Buffer.alloc(0);
  return `${input}.${b64u(sig)}`;
}

let idp, gw, browser;
try {
  const port = await freePort();
  const base = `https://127.0.0.1:${port}`;
  idp = await startIdp({ stateDir: path.join(tmp, 'idp'), redirectUris: [`${base}/auth/callback`] });
  gw = await startGateway({
    dir: path.join(tmp, 'gw'),
    args: ['-o', `server.port=${port}`, '-o', `oidc.issuer=${idp.issuer}`,
      '-o', `oidc.client_secret_file=${idp.info.webClientSecretFile}`,
      '-o', 'oidc.jwks_refresh=2'],
  });
  const db = path.join(tmp, 'gw', 'gatehouse-data', 'gatehouse.db');
  const audit = (where) => execFileSync('sqlite3', [db, `SELECT actor, action, outcome, detail FROM audit WHERE ${where} ORDER BY id`]).toString();
  const get = (p, headers = {}) => fetch(`${base}${p}`, { headers, redirect: 'manual' });
  process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0'; // the gateway's self-signed cert (loopback only)

  // Wait until the gateway has discovered the IdP (login redirects).
  let ready = false;
  for (let i = 0; i < 100 && !ready; i++) {
    ready = (await get('/auth/login')).status === 302;
    if (!ready) await new Promise((r) => setTimeout(r, 100));
  }
  await check('gateway discovers the IdP and /auth/login redirects to it', () => assert.ok(ready, gw.log()));

  const tokens = await loginAndGetTokens(idp, { user: 'bob', redirectUri: `${base}/auth/callback` });
  await check('a real access token from the IdP works on /api/v1/me', async () => {
    const r = await get('/api/v1/me', { authorization: `Bearer ${tokens.access_token}` });
    const me = await r.json();
    assert.equal(r.status, 200, JSON.stringify(me));
    assert.equal(me.user_id, 'bob');
    assert.equal(me.email, 'bob@example.test');
    assert.deepEqual(me.roles, ['user', 'approver']);
    assert.equal(me.auth, 'bearer');
  });

  // The refused-token catalogue. Forged tokens are signed with the IdP's
  // own private keys where the point is a claim, not the signature.
  const jwks = JSON.parse(fs.readFileSync(path.join(tmp, 'idp', 'jwks.json'), 'utf8'));
  const rsa = jwks.keys.find((k) => k.kty === 'RSA');
  const rsaKey = crypto.createPrivateKey({ key: rsa, format: 'jwk' });
  const rsaPubPem = crypto.createPublicKey({ key: rsa, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
  const good = JSON.parse(Buffer.from(tokens.access_token.split('.')[1], 'base64url'));
  const hdr = { alg: 'RS256', typ: 'at+jwt', kid: rsa.kid };
  const now = Math.floor(Date.now() / 1000);
  const [h0, p0, s0] = tokens.access_token.split('.');
  const flip = (s) => s.slice(0, 10) + (s[10] === 'A' ? 'B' : 'A') + s.slice(11);
  const otherTok = await loginAndGetTokens(idp, { user: 'bob', client: idp.clients.other, redirectUri: idp.clients.other.redirect_uris?.[0] }).catch(() => null);
  const catalogue = [
    ['alg none', sign({ alg: 'none', typ: 'at+jwt' }, good, null, 'none'), 'alg_refused'],
    ['HS256 signed with the RSA public key', sign({ ...hdr, alg: 'HS256' }, good, rsaPubPem, 'HS256'), 'alg_refused'],
    ['wrong iss', sign(hdr, { ...good, iss: 'https://evil.example' }, rsaKey, 'RS256'), 'bad_iss'],
    ['wrong aud', sign(hdr, { ...good, aud: 'someone-else' }, rsaKey, 'RS256'), 'bad_aud'],
    ['expired', sign(hdr, { ...good, exp: now - 3600, iat: now - 7200 }, rsaKey, 'RS256'), 'expired'],
    ['nbf in the future', sign(hdr, { ...good, nbf: now + 3600 }, rsaKey, 'RS256'), 'not_yet_valid'],
    ['unknown kid', sign({ ...hdr, kid: 'no-such-kid' }, good, rsaKey, 'RS256'), 'unknown_kid'],
    ['payload changed after signing', `${h0}.${b64u(JSON.stringify({ ...good, sub: 'alice' }))}.${s0}`, 'bad_signature'],
    ['signature bytes changed', `${h0}.${p0}.${flip(s0)}`, 'bad_signature'],
    ['token over the size limit', sign(hdr, { ...good, pad: 'x'.repeat(17000) }, rsaKey, 'RS256'), 'too_big'],
    ['malformed base64', `${h0}.${p0}.***`, 'malformed'],
    ['malformed JSON', `${b64u('{"alg":')}.${p0}.${s0}`, 'malformed'],
    ['an ID token instead of an access token', tokens.id_token, 'bad_typ'],
  ];
  if (otherTok) catalogue.push(['a token from the right IdP for another client', otherTok.access_token, 'bad_aud']);
  for (const [what, tok, reason] of catalogue) {
    await check(`refused: ${what} (${reason})`, async () => {
      const r = await get('/api/v1/me', { authorization: `Bearer ${tok}` });
      const body = await r.json();
      assert.equal(r.status, 401);
      assert.equal(body.error, reason, JSON.stringify(body));
    });
  }
  await check('every refusal is in the audit log with its reason, never the token', () => {
    const rows = audit("action = 'auth.token' AND outcome = 'denied'");
    for (const [, tok, reason] of catalogue) {
      assert.ok(rows.includes(`"reason":"${reason}"`), `no audit row for ${reason}`);
      if (tok.length > 40) assert.ok(!rows.includes(tok.split('.')[2] || tok), 'token in audit');
    }
    assert.ok(!gw.log().includes(s0), 'a signature appears in the log');
  });
  await check('the gateway still serves after the catalogue', async () => {
    const r = await get('/api/v1/me', { authorization: `Bearer ${tokens.access_token}` });
    assert.equal(r.status, 200);
  });
  await check('no credentials: 401 with a reason', async () => {
    const r = await get('/api/v1/me');
    assert.equal(r.status, 401);
    assert.equal((await r.json()).error, 'unauthenticated');
  });

  // Browser login in Chromium.
  browser = await launchBrowser({ spki: gw.spki, artifacts: path.join(process.env.GH_BUILD_DIR || tmp, 'test-artifacts', 'e2e-auth') });
  await check('browser: sign in through the IdP, /api/v1/me shows the user and roles, sign out', async () => {
    await browser.withPage('login', async (page) => {
      await page.goto(`${base}/`);
      await page.waitForSelector('body[data-auth="signed-out"]');
      await page.click('#login');
      // The IdP's own login page: pick alice.
      await page.waitForURL((u) => u.toString().startsWith(idp.issuer));
      await page.click('button[value="alice"]');
      await page.waitForURL(`${base}/`);
      await page.waitForSelector('body[data-auth="signed-in"]');
      assert.equal(await page.textContent('#me-user'), 'alice');
      assert.equal(await page.textContent('#me-roles'), 'user');
      const cookies = await page.context().cookies(base);
      const sc = cookies.find((c) => c.name === '__Host-gh_session');
      assert.ok(sc && sc.httpOnly && sc.secure && sc.sameSite === 'Lax', JSON.stringify(cookies));
      await page.screenshot({ path: path.join(browser.artifactsDir, 'signed-in.png') });
      const me = await page.evaluate(async () => (await fetch('/api/v1/me')).json());
      assert.equal(me.auth, 'session');
      // The page is already at "/": wait for the logout call itself, not
      // for a URL it may already have.
      const [out] = await Promise.all([
        page.waitForResponse((r) => r.url() === `${base}/auth/logout`),
        page.click('#logout'),
      ]);
      assert.equal(out.status(), 200);
      const r = await fetch(`${base}/api/v1/me`, { headers: { cookie: `__Host-gh_session=${sc.value}` } });
      assert.equal(r.status, 401, 'the session still works after logout');
    });
  });
  await check('login and logout audited', () => {
    assert.match(audit("action = 'auth.login' AND outcome = 'ok'"), /^alice\|auth\.login\|ok/m);
    assert.match(audit("action = 'auth.logout'"), /^alice\|auth\.logout\|ok/m);
  });

  await check('callback with a wrong or replayed state is refused', async () => {
    const r1 = await get('/auth/callback?state=forged&code=abc', { cookie: '__Host-gh_login=forged' });
    assert.equal(r1.status, 400);
    const start = await get('/auth/login');
    const loc = new URL(start.headers.get('location'));
    const state = loc.searchParams.get('state');
    const r2 = await get(`/auth/callback?state=${state}&code=abc`);
    assert.equal(r2.status, 400, 'no login cookie must be refused');
    const r3 = await get(`/auth/callback?state=${state}&code=abc`, { cookie: `__Host-gh_login=${state}` });
    assert.notEqual(r3.status, 302, 'bad code must not sign in');
    const r4 = await get(`/auth/callback?state=${state}&code=abc`, { cookie: `__Host-gh_login=${state}` });
    assert.equal(r4.status, 400, 'replayed state must be refused');
  });
  await check('an off-site return_to is ignored', async () => {
    for (const rt of ['//evil.example/', 'https://evil.example/', '/\\evil.example']) {
      const start = await get(`/auth/login?return_to=${encodeURIComponent(rt)}`);
      const cookie = start.headers.get('set-cookie').split(';')[0];
      const loc = (await completeAuthorization(start.headers.get('location'), { idp, user: 'alice' })).location;
      assert.ok(loc && loc.startsWith(`${base}/auth/callback`), `IdP did not return: ${loc}`);
      const cb = await fetch(loc, { headers: { cookie }, redirect: 'manual' });
      assert.equal(cb.status, 302);
      assert.equal(cb.headers.get('location'), '/', `return_to ${rt} was followed`);
    }
  });

  await check('logout needs our Origin and a JSON body (CSRF)', async () => {
    const r = await fetch(`${base}/auth/logout`, { method: 'POST', headers: { origin: 'https://evil.example', 'content-type': 'application/json' }, body: '{}' });
    assert.equal(r.status, 403);
    const r2 = await fetch(`${base}/auth/logout`, { method: 'POST', headers: { origin: base, 'content-type': 'application/x-www-form-urlencoded' }, body: 'a=b' });
    assert.equal(r2.status, 403);
  });

  // IdP gone: existing sessions keep working, new logins get a clear 503.
  const sessionCookie = await signInSession(base, idp, 'carol');
  await idp.stop();
  idp = null;
  await check('IdP stopped: an existing browser session keeps working', async () => {
    assert.ok(sessionCookie, 'carol did not get a session');
    const r = await get('/api/v1/me', { cookie: sessionCookie });
    assert.equal(r.status, 200);
    assert.equal((await r.json()).user_id, 'carol');
  });
  await check('IdP stopped: login gets a clear 503 once a refresh fails, the gateway stays up', async () => {
    await new Promise((r) => setTimeout(r, 3000)); // past oidc.jwks_refresh=2
    const r = await get('/auth/login');
    const b = await r.json();
    assert.equal(r.status, 503);
    assert.equal(b.error, 'idp_unavailable');
    assert.match(b.message, /unreachable/);
    assert.equal((await get('/healthz')).status, 200);
    assert.equal((await get('/api/v1/me', { cookie: sessionCookie })).status, 200);
  });
  const code = await gw.stop();
  gw = null;
  await check('gatehoused stops cleanly', () => assert.equal(code, 0));

  // Closed by default: no IdP configured at all.
  gw = await startGateway({ dir: path.join(tmp, 'gw2') });
  await check('no IdP configured: /api/v1/me is 401 and says why', async () => {
    const r = await fetch(`${gw.url}api/v1/me`);
    const b = await r.json();
    assert.equal(r.status, 401);
    assert.equal(b.error, 'idp_unavailable');
    assert.match(b.message, /oidc\.issuer/);
    const l = await fetch(`${gw.url}auth/login`, { redirect: 'manual' });
    assert.equal(l.status, 503);
  });
  await gw.stop();
  gw = null;
  // An IdP that is configured but unreachable.
  gw = await startGateway({ dir: path.join(tmp, 'gw3'), args: ['-o', `oidc.issuer=http://127.0.0.1:${await freePort()}`] });
  await check('IdP unreachable from the start: login is 503 with the reason, /api/v1/me 401', async () => {
    await new Promise((r) => setTimeout(r, 1500));
    const l = await fetch(`${gw.url}auth/login`, { redirect: 'manual' });
    const b = await l.json();
    assert.equal(l.status, 503);
    assert.match(b.message, /unreachable|not been reached/);
    assert.equal((await fetch(`${gw.url}api/v1/me`)).status, 401);
  });
} catch (e) {
  t.fail(e);
} finally {
  if (browser) await browser.close();
  if (gw) await gw.stop();
  if (idp) await idp.stop();
  t.finish();
}
