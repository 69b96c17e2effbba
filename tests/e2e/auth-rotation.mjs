// Key rotation at the IdP without restarting the gateway, and browser
// session expiry (idle and absolute), against the real test IdP.
import assert from 'node:assert/strict';
import path from 'node:path';
import { startGateway } from '../harness/gateway.mjs';
import { startIdp, loginAndGetTokens } from '../harness/idp/lib.mjs';
import { freePort, signInSession, sleep, testRun } from '../harness/testkit.mjs';

const t = testRun('gh-e2e-rot', 120000);
const { tmp } = t;
const check = t.check;

let idp, gw;
try {
  const port = await freePort();
  const base = `https://127.0.0.1:${port}`;
  process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0'; // the gateway's self-signed cert, loopback
  idp = await startIdp({ stateDir: path.join(tmp, 'idp'), redirectUris: [`${base}/auth/callback`] });
  gw = await startGateway({
    dir: path.join(tmp, 'gw'),
    args: ['-o', `server.port=${port}`, '-o', `oidc.issuer=${idp.issuer}`,
      '-o', `oidc.client_secret_file=${idp.info.webClientSecretFile}`,
      // No routine refresh during the test: every refresh here is one an
      // unknown kid asked for, so the sequence is deterministic.
      '-o', 'oidc.jwks_min_interval=1', '-o', 'oidc.jwks_refresh=600',
      '-o', 'session.idle_timeout=4', '-o', 'session.lifetime=10'],
  });
  const me = (headers) => fetch(`${base}/api/v1/me`, { headers });
  const bearer = (t) => me({ authorization: `Bearer ${t}` });
  for (let i = 0; i < 100 && (await fetch(`${base}/auth/login`, { redirect: 'manual' })).status !== 302; i++) await sleep(100);
  const redirectUri = `${base}/auth/callback`;

  const oldTok = (await loginAndGetTokens(idp, { user: 'dave', redirectUri })).access_token;
  await check('token signed by the original key works', async () => {
    const r = await bearer(oldTok);
    assert.equal(r.status, 200);
    assert.deepEqual((await r.json()).roles, ['admin']);
  });
  await sleep(1100); // past jwks_min_interval since the gateway's last fetch
  await idp.rotateKeys();
  const newTok = (await loginAndGetTokens(idp, { user: 'dave', redirectUri })).access_token;
  await check('after rotation, a token with the new kid is accepted at once (one JWKS refresh)', async () => {
    const r = await bearer(newTok);
    assert.equal(r.status, 200, JSON.stringify(await r.json()));
  });
  await check('the old key still verifies while the IdP still publishes it', async () => {
    assert.equal((await bearer(oldTok)).status, 200);
  });
  await sleep(1100);
  await idp.rotateKeys({ dropOld: true });
  const newest = (await loginAndGetTokens(idp, { user: 'dave', redirectUri })).access_token;
  await check('tokens of the newest key work, without a gateway restart', async () => {
    assert.equal((await bearer(newest)).status, 200);
  });
  await check('once the old key has left the JWKS, its tokens are refused', async () => {
    const r = await bearer(oldTok);
    assert.equal(r.status, 401);
    assert.equal((await r.json()).error, 'unknown_kid');
  });

  // Browser sessions without a browser: drive the redirects directly.
  const session = async (user) => {
    const c = await signInSession(base, idp, user);
    assert.ok(c, `${user} got no session`);
    return c;
  };
  const idle = await session('alice');
  const idleSince = Date.now();
  const busyBorn = Date.now();
  const busy = await session('bob');
  await check('a new browser session works', async () => {
    assert.equal((await me({ cookie: idle })).status, 200);
  });
  // Use "busy" every 1.5 s (under idle_timeout, 4 s) until "idle" has not
  // been used for more than 4 s.
  await check('a session in use stays alive', async () => {
    while (Date.now() - idleSince < 5000) {
      await sleep(1500);
      assert.equal((await me({ cookie: busy })).status, 200);
    }
  });
  await check('a session idle longer than session.idle_timeout is refused', async () => {
    const r = await me({ cookie: idle });
    assert.equal(r.status, 401);
    assert.equal((await r.json()).error, 'session_expired');
  });
  await check('a session in use is still ended at session.lifetime', async () => {
    while (Date.now() - busyBorn < 10500) {
      await sleep(1500);
      if (Date.now() - busyBorn < 9000) assert.equal((await me({ cookie: busy })).status, 200);
    }
    const r = await me({ cookie: busy });
    assert.equal(r.status, 401);
    assert.equal((await r.json()).error, 'session_expired');
  });
  const code = await gw.stop();
  gw = null;
  await check('gatehoused stops cleanly (exit 0; under ASan: no leak)', () => assert.equal(code, 0));
} catch (e) {
  t.fail(e);
} finally {
  if (gw) await gw.stop();
  if (idp) await idp.stop();
  t.finish();
}
