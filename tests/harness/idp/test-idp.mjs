#!/usr/bin/env node
// test-idp.mjs - proof that the test IdP behaves as Gatehouse's tests expect.
// Run: node tests/harness/idp/test-idp.mjs (any cwd). Exit 0 = pass.
// Prints "ok - ..." per check; always stops every IdP it started.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import {
  startIdp, scriptedLogin, exchangeCode, tokenRequest, refreshTokens, verifyJwt,
  completeAuthorization, deviceAuthorize, approveDevice, pollDeviceToken, scriptedLogout,
  CookieJar, jarFetch, jwksPath, writeFileAtomic0600, DEFAULT_SCOPE,
} from './lib.mjs';

const TEST_TIMEOUT_MS = 60000;
const GATEWAY_CB = 'https://127.0.0.1:8443/auth/callback';
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

const started = [];
const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'gh-test-idp-'));
let count = 0;
const ok = (msg) => { count += 1; console.log(`ok ${count} - ${msg}`); };

async function stopAll() {
  await Promise.all(started.splice(0).map((idp) => idp.stop().catch(() => {})));
}

const watchdog = setTimeout(async () => {
  console.log(`not ok - test timed out after ${TEST_TIMEOUT_MS / 1000} s`);
  for (const idp of started) {
    try { process.kill(idp.pid, 'SIGKILL'); } catch { /* gone */ }
  }
  fs.rmSync(tmpRoot, { recursive: true, force: true });
  process.exit(1);
}, TEST_TIMEOUT_MS);

async function start(opts) {
  const idp = await startIdp(opts);
  started.push(idp);
  return idp;
}

async function stop(idp) {
  const i = started.indexOf(idp);
  if (i >= 0) started.splice(i, 1);
  return idp.stop();
}

const now = () => Math.floor(Date.now() / 1000);
const mode = (f) => fs.statSync(f).mode & 0o777;

async function main() {
  // ------------------------------------------------------------ start
  const stateDir = path.join(tmpRoot, 'a');
  const idp = await start({ stateDir });
  assert.match(idp.issuer, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.equal(idp.issuer, `http://127.0.0.1:${idp.port}`);
  assert.ok(idp.pid > 0);
  for (const f of [idp.jwksFile, idp.webClientSecretFile, idp.otherClientSecretFile]) {
    assert.equal(mode(f), 0o600, `${f} must be mode 0600`);
  }
  assert.ok(!JSON.stringify(idp.info).includes(idp.webClientSecret), 'ready line must not carry the secret');
  ok(`IdP ready at ${idp.issuer} (pid ${idp.pid}); jwks.json and secrets are 0600`);

  // ------------------------------------------------------------ discovery + JWKS
  const disco = await idp.discovery();
  assert.equal(disco.issuer, idp.issuer);
  for (const k of ['authorization_endpoint', 'token_endpoint', 'jwks_uri', 'device_authorization_endpoint', 'end_session_endpoint', 'revocation_endpoint']) {
    assert.ok(typeof disco[k] === 'string' && disco[k].startsWith(`${idp.issuer}/`), `${k} advertised under the issuer: ${disco[k]}`);
  }
  assert.ok(disco.code_challenge_methods_supported.includes('S256'));
  assert.deepEqual(disco.code_challenge_methods_supported, ['S256']);
  assert.deepEqual(disco.response_types_supported, ['code']);
  for (const s of ['openid', 'email', 'profile', 'groups', 'offline_access']) assert.ok(disco.scopes_supported.includes(s), s);
  ok('discovery: http endpoints under the issuer, PKCE S256 only, scopes offered');

  const jwks0 = await idp.jwks();
  const rs = jwks0.keys.filter((k) => k.alg === 'RS256');
  const es = jwks0.keys.filter((k) => k.alg === 'ES256');
  assert.equal(rs.length, 1);
  assert.equal(es.length, 1);
  assert.equal(rs[0].kty, 'RSA');
  assert.equal(es[0].kty, 'EC');
  assert.equal(es[0].crv, 'P-256');
  for (const k of jwks0.keys) {
    for (const m of PRIVATE_MEMBERS) assert.ok(!(m in k), `public JWK ${k.kid} has private member ${m}`);
    crypto.createPublicKey({ key: k, format: 'jwk' }); // imports as a public key
  }
  ok(`JWKS from ${new URL(disco.jwks_uri).pathname}: one RS256 and one ES256 public key, no private parts`);

  // ------------------------------------------------------------ auth code + PKCE for bob
  const bob = await scriptedLogin(idp, { user: 'bob', redirectUri: GATEWAY_CB });
  assert.ok(bob.location.startsWith(`${GATEWAY_CB}?`), bob.location);
  assert.ok(bob.code, `no code: ${bob.error} ${bob.errorDescription}`);
  assert.equal(bob.state, bob.sentState);
  assert.equal(bob.iss, idp.issuer);
  ok(`scripted login (login_hint=bob) redirected to the gateway callback with code, state, iss (${bob.pages.length} IdP hops)`);

  const wrong = await tokenRequest(idp, {
    grant_type: 'authorization_code', code: bob.code, redirect_uri: GATEWAY_CB, code_verifier: `${bob.codeVerifier.slice(0, -2)}xx`,
  });
  assert.equal(wrong.status, 400);
  assert.equal(wrong.body.error, 'invalid_grant');
  const noVerifier = await tokenRequest(idp, { grant_type: 'authorization_code', code: bob.code, redirect_uri: GATEWAY_CB });
  assert.equal(noVerifier.status, 400);
  assert.equal(noVerifier.body.error, 'invalid_grant');
  const badSecret = await tokenRequest(idp, {
    grant_type: 'authorization_code', code: bob.code, redirect_uri: GATEWAY_CB, code_verifier: bob.codeVerifier,
  }, { ...idp.clients.web, clientSecret: 'not-the-secret' });
  assert.equal(badSecret.status, 401);
  assert.equal(badSecret.body.error, 'invalid_client');
  ok('token request with a wrong or missing code_verifier: 400 invalid_grant; wrong client secret: 401 invalid_client');

  const tokens = await exchangeCode(idp, { code: bob.code, codeVerifier: bob.codeVerifier, redirectUri: GATEWAY_CB });
  assert.equal(tokens.token_type, 'Bearer');
  assert.ok(tokens.id_token && tokens.access_token && tokens.refresh_token);
  const replay = await tokenRequest(idp, {
    grant_type: 'authorization_code', code: bob.code, redirect_uri: GATEWAY_CB, code_verifier: bob.codeVerifier,
  });
  assert.equal(replay.status, 400);
  assert.equal(replay.body.error, 'invalid_grant');
  const revoked = await tokenRequest(idp, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token });
  assert.equal(revoked.status, 400, 'code replay revokes the grant');
  assert.equal(revoked.body.error, 'invalid_grant');
  ok('code exchanged with client_secret_basic + code_verifier (ID, access, refresh token); a replay is refused and revokes the grant');

  const jwks = await idp.jwks();
  const idt = verifyJwt(tokens.id_token, jwks);
  assert.equal(idt.header.alg, 'RS256');
  assert.equal(idt.header.kid, rs[0].kid);
  assert.equal(idt.payload.iss, idp.issuer);
  assert.equal(idt.payload.aud, 'gatehouse-web');
  assert.equal(idt.payload.nonce, bob.nonce);
  assert.equal(idt.payload.sub, 'bob');
  assert.equal(idt.payload.email, 'bob@example.test');
  assert.equal(idt.payload.preferred_username, 'bob');
  assert.deepEqual(idt.payload.groups, ['gatehouse-users', 'gatehouse-approvers']);
  assert.ok(idt.payload.exp > now());
  ok('ID token: RS256 signature verifies (node crypto); iss, aud=gatehouse-web, nonce, sub, email, groups');

  const at = verifyJwt(tokens.access_token, jwks);
  assert.equal(at.header.typ, 'at+jwt');
  assert.equal(at.header.alg, 'RS256');
  assert.equal(at.payload.iss, idp.issuer);
  assert.equal(at.payload.aud, 'gatehouse');
  assert.equal(at.payload.sub, idt.payload.sub);
  assert.equal(at.payload.client_id, 'gatehouse-web');
  assert.deepEqual(at.payload.groups, ['gatehouse-users', 'gatehouse-approvers']);
  assert.ok(at.payload.exp > now() && at.payload.exp <= now() + 600 + 5);
  const tampered = tokens.access_token.replace(/\.[^.]+\./, `.${Buffer.from(JSON.stringify({ ...at.payload, sub: 'dave' })).toString('base64url')}.`);
  assert.throws(() => verifyJwt(tampered, jwks), /signature/);
  ok('access token: JWT typ at+jwt, RS256, aud=gatehouse, sub=bob, groups, exp in the future; a tampered copy fails');

  // ------------------------------------------------------------ negative authorization requests
  const noPkce = await scriptedLogin(idp, { user: 'bob', omit: ['code_challenge', 'code_challenge_method'] });
  assert.equal(noPkce.code, undefined);
  assert.equal(noPkce.error, 'invalid_request');
  assert.match(noPkce.errorDescription, /PKCE/);
  assert.deepEqual(noPkce.pages, ['GET /auth'], 'refused before any login');
  const plain = await scriptedLogin(idp, { user: 'bob', extraParams: { code_challenge_method: 'plain' } });
  assert.equal(plain.code, undefined);
  assert.equal(plain.error, 'invalid_request');
  const badRedirect = await completeAuthorization(bob.authUrl.replace(encodeURIComponent(GATEWAY_CB), encodeURIComponent('https://evil.example.test/cb')), { idp, user: 'bob' })
    .then(() => 'redirected', (e) => e.message);
  assert.match(badRedirect, /HTTP 400/, 'unregistered redirect_uri must be answered on the IdP, never redirected');
  ok('authorization request without code_challenge (or with plain) refused: invalid_request; unknown redirect_uri: 400 on the IdP');

  // ------------------------------------------------------------ other login mechanisms
  const carol = await scriptedLogin(idp, { user: 'carol', via: 'header' });
  assert.ok(!carol.authUrl.includes('login_hint'));
  const carolTok = await exchangeCode(idp, { code: carol.code, codeVerifier: carol.codeVerifier });
  assert.equal(verifyJwt(carolTok.id_token, jwks).payload.sub, 'carol');
  assert.deepEqual(verifyJwt(carolTok.access_token, jwks).payload.groups, ['gatehouse-auditors']);

  const loginPage = await (async () => {
    const jar = new CookieJar();
    let res = await jarFetch(loginPageUrl(bob), { jar });
    res = await jarFetch(new URL(res.headers.get('location'), idp.issuer).href, { jar });
    return { status: res.status, csp: res.headers.get('content-security-policy'), html: await res.text() };
  })();
  assert.equal(loginPage.status, 200);
  assert.ok(!/<script/i.test(loginPage.html), 'login page has no script');
  assert.ok(!/(src|href)="https?:/i.test(loginPage.html), 'login page loads nothing external');
  for (const u of ['alice', 'bob', 'carol', 'dave', 'eve']) assert.ok(loginPage.html.includes(`value="${u}"`), u);
  assert.match(loginPage.csp, /default-src 'none'/);

  const dave = await scriptedLogin(idp, { user: 'dave', via: 'form' });
  const daveTok = await exchangeCode(idp, { code: dave.code, codeVerifier: dave.codeVerifier });
  assert.equal(verifyJwt(daveTok.access_token, jwks).payload.sub, 'dave');
  assert.ok(dave.pages.some((p) => /^POST \/interaction\/[^/]+\/login$/.test(p)));

  const denied = await scriptedLogin(idp, { deny: true });
  assert.equal(denied.code, undefined);
  assert.equal(denied.error, 'access_denied');
  ok('login via X-Test-Login header (carol), the HTML form (dave, page has no script) and cancel (access_denied)');

  const sso = await scriptedLogin(idp, { user: 'eve', jar: carol.jar });
  assert.deepEqual(sso.pages, ['GET /auth'], 'an existing session skips the login');
  assert.equal(verifyJwt((await exchangeCode(idp, { code: sso.code, codeVerifier: sso.codeVerifier })).id_token, jwks).payload.sub, 'carol');
  const switched = await scriptedLogin(idp, { user: 'eve', jar: carol.jar, extraParams: { prompt: 'login' } });
  assert.ok(switched.pages.includes('POST /session/end/confirm'), 'old session ended on the way');
  assert.equal(verifyJwt((await exchangeCode(idp, { code: switched.code, codeVerifier: switched.codeVerifier })).id_token, jwks).payload.sub, 'eve');
  const carolRefresh = await tokenRequest(idp, { grant_type: 'refresh_token', refresh_token: carolTok.refresh_token });
  assert.equal(carolRefresh.body.error, 'invalid_grant', 'refresh tokens without offline_access die with the IdP session');
  const fp = await scriptedLogin(idp, { user: 'alice', extraParams: { response_mode: 'form_post' } });
  assert.equal(fp.method, 'POST');
  assert.equal(fp.location, GATEWAY_CB);
  assert.equal(fp.state, fp.sentState);
  assert.ok(fp.code);
  ok('same cookies: SSO without login; prompt=login switches user (carol -> eve, her session-bound refresh token dies); form_post works');

  // ------------------------------------------------------------ another client
  const other = await scriptedLogin(idp, { user: 'alice', client: 'other-app' });
  const otherTok = await exchangeCode(idp, { code: other.code, codeVerifier: other.codeVerifier, client: 'other-app' });
  assert.equal(verifyJwt(otherTok.id_token, jwks).payload.aud, 'other-app');
  assert.equal(verifyJwt(otherTok.access_token, jwks).payload.aud, 'other-api');
  const otherForGw = await scriptedLogin(idp, { user: 'alice', client: 'other-app', extraParams: { resource: idp.resource } });
  const otherForGwTok = await exchangeCode(idp, { code: otherForGw.code, codeVerifier: otherForGw.codeVerifier, client: 'other-app' });
  const ofg = verifyJwt(otherForGwTok.access_token, jwks).payload;
  assert.equal(ofg.aud, 'gatehouse');
  assert.equal(ofg.client_id, 'other-app');
  const stolen = await tokenRequest(idp, {
    grant_type: 'authorization_code', code: other.code, redirect_uri: GATEWAY_CB, code_verifier: other.codeVerifier,
  });
  assert.equal(stolen.status, 400);
  const cc = await tokenRequest(idp, { grant_type: 'client_credentials' }, 'other-app');
  assert.equal(cc.status, 200);
  assert.equal(verifyJwt(cc.body.access_token, jwks).payload.sub, 'other-app');
  ok('other-app: ID token aud=other-app, access token aud=other-api (aud=gatehouse on request); its code is useless to gatehouse-web');

  // ------------------------------------------------------------ device flow
  const da = await deviceAuthorize(idp, { scope: DEFAULT_SCOPE });
  assert.ok(da.device_code && da.user_code);
  assert.equal(da.verification_uri, `${idp.issuer}/device`);
  const pending = await tokenRequest(idp, { grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: da.device_code }, 'gatehouse-cli');
  assert.equal(pending.status, 400);
  assert.equal(pending.body.error, 'authorization_pending');
  const approval = await approveDevice(idp, da.user_code, 'alice');
  assert.ok(approval.approved);
  const dtok = await pollDeviceToken(idp, { deviceCode: da.device_code });
  const dat = verifyJwt(dtok.access_token, jwks).payload;
  assert.equal(dat.sub, 'alice');
  assert.equal(dat.aud, 'gatehouse');
  assert.equal(dat.client_id, 'gatehouse-cli');
  assert.deepEqual(dat.groups, ['gatehouse-users']);
  assert.equal(verifyJwt(dtok.id_token, jwks).payload.aud, 'gatehouse-cli');
  assert.ok(dtok.refresh_token);
  const da2 = await deviceAuthorize(idp);
  await approveDevice(idp, da2.user_code, 'bob', { deny: true });
  await assert.rejects(pollDeviceToken(idp, { deviceCode: da2.device_code }), /access_denied/);
  ok('device flow: gatehouse-cli, approved as alice through /device pages -> JWT for aud=gatehouse; a denied code gets access_denied');

  // ------------------------------------------------------------ key rotation (SIGHUP)
  const oldKids = jwks0.keys.map((k) => k.kid);
  const rot = await idp.rotateKeys();
  const jwks1 = await idp.jwks();
  assert.equal(jwks1.keys[0].kid, rot.RS256);
  assert.equal(jwks1.keys.find((k) => k.alg === 'ES256').kid, rot.ES256);
  assert.ok(oldKids.every((kid) => jwks1.keys.some((k) => k.kid === kid)), 'old keys still served');
  assert.equal(jwks1.keys.length, 4);
  const alice = await scriptedLogin(idp, { user: 'alice' });
  const aliceTok = await exchangeCode(idp, { code: alice.code, codeVerifier: alice.codeVerifier });
  assert.equal(verifyJwt(aliceTok.access_token, jwks1).header.kid, rot.RS256);
  assert.equal(verifyJwt(aliceTok.id_token, jwks1).header.kid, rot.RS256);
  verifyJwt(tokens.access_token, jwks1); // pre-rotation token still verifies
  const refreshed = await refreshTokens(idp, { refreshToken: daveTok.refresh_token });
  assert.equal(verifyJwt(refreshed.access_token, jwks1).header.kid, rot.RS256);
  assert.equal(verifyJwt(refreshed.access_token, jwks1).payload.sub, 'dave');
  assert.equal(verifyJwt(refreshed.access_token, jwks1).payload.aud, 'gatehouse');
  ok('rotation (SIGHUP, same process and port): new kid first, new tokens signed by it, old tokens verify, pre-rotation refresh token works');

  const goodJwks = fs.readFileSync(jwksPath(stateDir));
  fs.writeFileSync(jwksPath(stateDir), '{"keys": [');
  process.kill(idp.pid, 'SIGHUP');
  for (let i = 0; i < 100 && !idp.log().includes('NOT reloaded'); i += 1) await new Promise((r) => { setTimeout(r, 20); });
  assert.match(idp.log(), /signing keys NOT reloaded/);
  assert.deepEqual((await idp.jwks()).keys.map((k) => k.kid), jwks1.keys.map((k) => k.kid));
  await assert.rejects(idp.rotateKeys(), /JSON/, 'rotateKeys on a broken file fails loudly');
  writeFileAtomic0600(jwksPath(stateDir), goodJwks);
  ok('a broken jwks.json on SIGHUP is refused and the served keys stay as they were');

  // ------------------------------------------------------------ ES256 IdP, other audience, 2 redirect URIs
  const cb2 = 'https://gw.example.test:9443/auth/callback';
  const es256 = await start({
    stateDir: path.join(tmpRoot, 'b'), accessTokenAlg: 'ES256', idTokenAlg: 'ES256', audience: 'https://gw.example.test/', redirectUris: [GATEWAY_CB, cb2], accessTokenTtl: 120,
  });
  const eve = await scriptedLogin(es256, { user: 'eve', redirectUri: cb2, via: 'header' });
  assert.ok(eve.location.startsWith(`${cb2}?`));
  const eveTok = await exchangeCode(es256, { code: eve.code, codeVerifier: eve.codeVerifier, redirectUri: cb2 });
  const esJwks = await es256.jwks();
  const eid = verifyJwt(eveTok.id_token, esJwks);
  const eat = verifyJwt(eveTok.access_token, esJwks);
  assert.equal(eid.header.alg, 'ES256');
  assert.equal(eat.header.alg, 'ES256');
  assert.equal(eat.header.typ, 'at+jwt');
  assert.equal(eat.payload.aud, 'https://gw.example.test/');
  assert.deepEqual(eat.payload.groups, []);
  assert.ok(eat.payload.exp <= now() + 125);
  assert.throws(() => verifyJwt(eveTok.access_token, esJwks, { algorithms: ['RS256'] }), /not allowed/);
  const logout = await scriptedLogout(es256, { jar: eve.jar, idTokenHint: eveTok.id_token, postLogoutRedirectUri: 'https://gw.example.test:9443/', state: 'bye' });
  assert.equal(logout.location, 'https://gw.example.test:9443/?state=bye');
  const afterLogout = await scriptedLogin(es256, { user: 'eve', via: 'form', jar: eve.jar, redirectUri: cb2 });
  assert.ok(afterLogout.pages.some((p) => p.startsWith('POST /interaction/')), 'login needed again after logout');
  ok('second IdP with ES256 tokens (ieee-p1363 verify), URL audience, 2nd redirect URI, 120 s TTL; RP-initiated logout ends the session');

  // ------------------------------------------------------------ restart on the same state dir and port
  const rsaBefore = (await idp.jwks()).keys.map((k) => k.kid);
  const { port } = idp;
  assert.equal(await stop(idp), 0, 'SIGTERM exits 0');
  const again = await start({ stateDir, port });
  assert.equal(again.issuer, idp.issuer);
  assert.deepEqual((await again.jwks()).keys.map((k) => k.kid), rsaBefore);
  assert.equal(again.webClientSecret, idp.webClientSecret);
  verifyJwt(aliceTok.access_token, await again.jwks());
  ok('restart on the same port and state dir: same issuer, keys and client secret');

  // ------------------------------------------------------------ secrets never logged
  for (const x of [idp, again, es256]) {
    const text = x.log();
    assert.ok(!text.includes(x.webClientSecret) && !text.includes(x.otherClientSecret), 'client secret in the log');
    assert.ok(!text.includes(tokens.refresh_token) && !text.includes(bob.code), 'token or code in the log');
  }
  ok('no client secret, code or token in the IdP logs');

  assert.equal(await stop(again), 0);
  assert.equal(await stop(es256), 0);
  ok('SIGTERM stops each IdP with exit status 0');
}

// The same authorization request without login_hint: shows the login page.
function loginPageUrl(ref) {
  const u = new URL(ref.authUrl);
  u.searchParams.delete('login_hint');
  return u.href;
}

async function run() {
  try {
    await main();
    console.log(`1..${count}`);
    return 0;
  } catch (err) {
    console.log(`not ok ${count + 1} - ${err.stack || err}`);
    for (const idp of started) {
      console.log(`# --- log of IdP ${idp.issuer} (last 3000 bytes) ---`);
      console.log(idp.log().slice(-3000).replace(/^/gm, '# '));
    }
    return 1;
  } finally {
    await stopAll();
    fs.rmSync(tmpRoot, { recursive: true, force: true });
  }
}

const rc = await run();
clearTimeout(watchdog);
process.exit(rc);
