// gatehousectl login / logout / status and the token cache, against real
// gatehoused processes and the real test IdP: the device grant is approved
// (or denied) through the IdP's own /device pages, as a person would.
//
//   A: 10 min access tokens - login, the cache's modes and contents, status,
//      verbs without --token-file, a denied approval, logout (which revokes
//      the refresh token at the IdP), unsafe caches refused.
//   B: 5 s access tokens, gateway clock_skew 0 - a really expired access
//      token is refreshed (and the cache rewritten), four concurrent calls
//      share one refresh under the cache lock, a revoked refresh token
//      means "log in again"; two servers in one cache.
//   C: a gateway without an issuer - /api/v1/auth/cli is 503.
// No token, refresh token or code may appear in any output or log.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { startGateway } from '../harness/gateway.mjs';
import { startIdp, approveDevice, tokenRequest, decodeJwt } from '../harness/idp/lib.mjs';
import { freePort, sleep, testRun } from '../harness/testkit.mjs';

const CTL = process.env.GATEHOUSECTL;
const t = testRun('gh-e2e-login', 230000);
const { tmp, check } = t;

const started = [];
const outputs = [];
const seenSecrets = new Set();

// An IdP and a gatehoused that trusts it (clientSecret: the web client's).
async function startPair(name, { idpOpts = {}, gwArgs = [], issuer = true } = {}) {
  const port = await freePort();
  const base = `https://127.0.0.1:${port}`;
  let idp = null;
  const args = ['-o', `server.port=${port}`];
  if (issuer) {
    idp = await startIdp({ stateDir: path.join(tmp, `idp-${name}`), redirectUris: [`${base}/auth/callback`], ...idpOpts });
    started.push(idp);
    // The test IdP issues gateway-audience JWTs to its CLI client for
    // this resource indicator (it is also that client's default).
    args.push('-o', `oidc.issuer=${idp.issuer}`, '-o', `oidc.client_secret_file=${idp.info.webClientSecretFile}`,
      '-o', `oidc.cli_client_id=${idp.info.cliClientId}`, '-o', `oidc.cli_resource=${idp.resource}`);
  }
  const gw = await startGateway({ dir: path.join(tmp, `gw-${name}`), args: [...args, ...gwArgs] });
  started.push(gw);
  const ready = issuer ? 302 : 503;
  for (let i = 0; i < 100 && (await fetch(`${base}/auth/login`, { redirect: 'manual' })).status !== ready; i++) {
    await sleep(100);
  }
  return { name, idp, gw, base, caFile: path.join(tmp, `gw-${name}`, 'gatehouse-data', 'tls', 'cert.pem') };
}

const xdg = path.join(tmp, 'xdg'); // does not exist yet: login creates it
const cacheDir = path.join(xdg, 'gatehouse');
const cacheFile = path.join(cacheDir, 'tokens.json');
const env = {
  ...process.env, XDG_CONFIG_HOME: xdg, HOME: path.join(tmp, 'home'), GATEHOUSE_TOKEN: '', GATEHOUSE_SERVER: '',
};

const record = (r) => { outputs.push(r.stdout || '', r.stderr || ''); return r; };

// gatehousectl [--server base --ca-file ca] args, no token given.
function ctl(args, { p, server = true, extraEnv = {} } = {}) {
  const pre = [];
  if (p && server) pre.push('--server', p.base);
  if (p) pre.push('--ca-file', p.caFile);
  const r = spawnSync(CTL, [...pre, ...args], { encoding: 'utf8', timeout: 60000, env: { ...env, ...extraEnv } });
  return record({ status: r.status, stdout: r.stdout, stderr: r.stderr, all: `${r.stdout}${r.stderr}` });
}

function ctlAsync(args) {
  return new Promise((resolve) => {
    const c = spawn(CTL, args, { env });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d) => { stdout += d; });
    c.stderr.on('data', (d) => { stderr += d; });
    c.on('exit', (status) => resolve(record({ status, stdout, stderr, all: `${stdout}${stderr}` })));
  });
}

// "gatehousectl login --server URL --ca-file F" (options after the verb),
// approved or denied at the IdP as user once the code is on stderr.
async function login(p, { user = 'bob', deny = false } = {}) {
  const c = spawn(CTL, ['login', '--server', p.base, '--ca-file', p.caFile], { env });
  let stdout = '';
  let stderr = '';
  c.stdout.on('data', (d) => { stdout += d; });
  c.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise((resolve) => c.on('exit', resolve));
  let code = null;
  c.on('exit', (s) => { code = s; });
  const deadline = Date.now() + 20000;
  let m;
  while (!(m = stderr.match(/user code: (\S+)/))) {
    if (code !== null || Date.now() > deadline) {
      c.kill();
      throw new Error(`login showed no user code (exit ${code}):\n${stdout}${stderr}`);
    }
    await sleep(50);
  }
  const approval = await approveDevice(p.idp, m[1], user, { deny });
  const status = await exited;
  return record({ status, stdout, stderr, all: `${stdout}${stderr}`, userCode: m[1], approval });
}

const readCache = () => {
  const j = JSON.parse(fs.readFileSync(cacheFile, 'utf8'));
  for (const e of Object.values(j.servers || {})) {
    if (e.access_token) seenSecrets.add(e.access_token);
    if (e.refresh_token) seenSecrets.add(e.refresh_token);
  }
  return j;
};
const mode = (f) => fs.statSync(f).mode & 0o777;
const now = () => Math.floor(Date.now() / 1000);

let A;
let B;
let C;
try {
  if (!CTL) throw new Error('GATEHOUSECTL is not set (ctest sets it)');
  process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0'; // our own fetch calls only; gatehousectl verifies
  A = await startPair('a');

  await check('GET /api/v1/auth/cli says how to sign in, without credentials; GET only', async () => {
    const r = await fetch(`${A.base}/api/v1/auth/cli`);
    assert.equal(r.status, 200);
    assert.deepEqual(await r.json(), {
      issuer: A.idp.issuer, client_id: 'gatehouse-cli', audience: 'gatehouse',
      scopes: 'openid email profile groups', resource: A.idp.resource,
    });
    const post = await fetch(`${A.base}/api/v1/auth/cli`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    assert.equal(post.status, 405);
    assert.equal((await post.json()).error, 'method_not_allowed');
  });

  await check('before login: a verb says "not logged in" (exit 3); no cache is created', () => {
    const r = ctl(['requests', 'list'], { p: A });
    assert.equal(r.status, 3, r.all);
    assert.match(r.stderr, /^gatehousectl: not logged in to https:\/\/127\.0\.0\.1:\d+: run gatehousectl login --server https:\/\/127\.0\.0\.1:\d+$/m);
    const s = ctl(['requests', 'list'], { p: A, server: false });
    assert.equal(s.status, 3, s.all);
    assert.match(s.stderr, /not logged in: run gatehousectl login --server URL/);
    assert.equal(ctl(['status']).status, 3);
    assert.ok(!fs.existsSync(cacheDir));
  });

  let cached;
  await check('login (device grant, approved by bob at the IdP): exit 0; code and page on stderr', async () => {
    const r = await login(A);
    assert.equal(r.status, 0, r.all);
    assert.ok(r.approval.approved);
    assert.match(r.stderr, new RegExp(`open this page in a browser:\\n\\n    ${A.idp.issuer}/device\\?user_code=${r.userCode}\\n`));
    assert.match(r.stdout, new RegExp(`^Logged in to ${A.base} as bob \\(roles: [a-z,]*approver[a-z,]*\\)\\.$`, 'm'));
    assert.match(r.stdout, /access token expires at \d{4}-\d\d-\d\dT.* and is refreshed as needed\.$/m);
  });

  await check('the cache: directory 0700, file 0600, keyed by server, a JWT for aud=gatehouse, no temp files', () => {
    assert.equal(mode(xdg), 0o700);
    assert.equal(mode(cacheDir), 0o700);
    assert.equal(mode(cacheFile), 0o600);
    assert.deepEqual(fs.readdirSync(cacheDir), ['tokens.json']);
    cached = readCache();
    assert.equal(cached.version, 1);
    assert.deepEqual(Object.keys(cached.servers), [A.base]);
    const e = cached.servers[A.base];
    assert.equal(e.issuer, A.idp.issuer);
    assert.equal(e.client_id, 'gatehouse-cli');
    assert.equal(e.resource, A.idp.resource);
    assert.match(e.token_endpoint, /^http:\/\/127\.0\.0\.1:\d+\/token$/);
    assert.match(e.revocation_endpoint, /\/token\/revocation$/);
    assert.ok(e.refresh_token.length > 10);
    assert.ok(Math.abs(e.expires_at - (now() + 600)) < 30, `expires_at ${e.expires_at}`);
    const { header, payload } = decodeJwt(e.access_token);
    assert.equal(header.typ, 'at+jwt');
    assert.equal(payload.aud, 'gatehouse');
    assert.equal(payload.sub, 'bob');
  });

  await check('status: server, bob, his roles, expiry and issuer; never a token', () => {
    const r = ctl(['status'], { p: A, server: false });
    assert.equal(r.status, 0, r.all);
    assert.match(r.stdout, new RegExp(`^server:\\s+${A.base}$`, 'm'));
    assert.match(r.stdout, /^user:\s+bob$/m);
    assert.match(r.stdout, /^name:\s+Bob Brandt$/m);
    assert.match(r.stdout, /^roles:\s+.*approver/m);
    assert.match(r.stdout, /^roles:\s+.*\buser\b/m);
    assert.match(r.stdout, /^expires:\s+\d{4}-\d\d-\d\dT/m);
    assert.match(r.stdout, /^refresh:\s+yes$/m);
    assert.match(r.stdout, new RegExp(`^issuer:\\s+${A.idp.issuer}$`, 'm'));
    const j = JSON.parse(ctl(['--json', 'status', '--server', A.base], { p: A, server: false }).stdout);
    assert.equal(j.servers.length, 1);
    assert.equal(j.servers[0].user, 'bob');
    assert.ok(j.servers[0].roles.includes('approver'));
    assert.ok(!JSON.stringify(j).includes(cached.servers[A.base].access_token));
  });

  await check('requests list and whoami work with no --token-file (and no --server: the only cached one); no refresh while fresh', () => {
    const before = fs.readFileSync(cacheFile, 'utf8');
    const r = ctl(['requests', 'list'], { p: A, server: false });
    assert.equal(r.status, 0, r.all);
    assert.match(r.stdout, /^(ID\s+STATE\s+REQUESTER|\(none\))/m);
    const w = ctl(['whoami'], { p: A });
    assert.equal(w.status, 0, w.all);
    assert.match(w.stdout, /^user_id:\s+bob$/m);
    assert.match(w.stdout, /^auth:\s+bearer$/m);
    assert.equal(fs.readFileSync(cacheFile, 'utf8'), before);
  });

  await check('a denied device approval: clear message, exit 3, the cache is untouched', async () => {
    const before = fs.readFileSync(cacheFile, 'utf8');
    const r = await login(A, { user: 'alice', deny: true });
    assert.equal(r.approval.approved, false);
    assert.equal(r.status, 3, r.all);
    assert.match(r.stderr, /^gatehousectl: sign-in was denied at the identity provider$/m);
    assert.equal(r.stdout, '');
    assert.equal(fs.readFileSync(cacheFile, 'utf8'), before);
  });

  await check('a cache file with mode 0644, a symlink, or a directory others may write: refused (exit 2)', () => {
    fs.chmodSync(cacheFile, 0o644);
    const r = ctl(['requests', 'list'], { p: A });
    assert.equal(r.status, 2, r.all);
    assert.match(r.stderr, /token cache .*tokens\.json is accessible by group or others \(mode 0644\): refusing it; run 'chmod 600 /);
    assert.equal(ctl(['status']).status, 2);
    assert.equal(ctl(['logout']).status, 2);
    fs.chmodSync(cacheFile, 0o600);
    const real = path.join(tmp, 'elsewhere.json');
    fs.renameSync(cacheFile, real);
    fs.symlinkSync(real, cacheFile);
    const s = ctl(['whoami'], { p: A });
    assert.equal(s.status, 2, s.all);
    assert.match(s.stderr, /tokens\.json is a symbolic link: refusing it/);
    fs.unlinkSync(cacheFile);
    fs.renameSync(real, cacheFile);
    fs.chmodSync(cacheDir, 0o777);
    const d = ctl(['whoami'], { p: A });
    assert.equal(d.status, 2, d.all);
    assert.match(d.stderr, /gatehouse is writable by group or others \(mode 0777\): refusing it; run 'chmod 700 /);
    fs.chmodSync(cacheDir, 0o700);
    assert.equal(ctl(['whoami'], { p: A }).status, 0);
  });

  await check('status with GATEHOUSE_TOKEN shows that token; a cached token the gateway refuses says "run gatehousectl login"', () => {
    const e = readCache().servers[A.base];
    const g = ctl(['status'], { p: A, extraEnv: { GATEHOUSE_TOKEN: e.access_token } });
    assert.equal(g.status, 0, g.all);
    assert.match(g.stdout, /^token:\s+given$/m);
    assert.match(g.stdout, /^user:\s+bob$/m);
    const saved = fs.readFileSync(cacheFile, 'utf8');
    const j = JSON.parse(saved);
    j.servers[A.base].access_token = 'not-a-jwt';
    fs.writeFileSync(cacheFile, JSON.stringify(j), { mode: 0o600 });
    const r = ctl(['whoami'], { p: A });
    assert.equal(r.status, 3, r.all);
    assert.match(r.stderr, /\(malformed\)$/m);
    assert.match(r.stderr, new RegExp(`^gatehousectl: the gateway refused your cached login: run gatehousectl login --server ${A.base}$`, 'm'));
    fs.writeFileSync(cacheFile, saved, { mode: 0o600 });
  });

  await check('logout removes the entry and revokes the refresh token; the next call says not logged in', async () => {
    const rt = readCache().servers[A.base].refresh_token;
    const r = ctl(['logout'], { p: A });
    assert.equal(r.status, 0, r.all);
    assert.equal(r.stdout, `Logged out of ${A.base}.\n`);
    assert.deepEqual(readCache().servers, {});
    assert.equal(mode(cacheFile), 0o600);
    const refresh = await tokenRequest(A.idp, { grant_type: 'refresh_token', refresh_token: rt }, 'gatehouse-cli');
    assert.equal(refresh.status, 400, JSON.stringify(refresh.body));
    assert.equal(refresh.body.error, 'invalid_grant');
    const n = ctl(['requests', 'list'], { p: A });
    assert.equal(n.status, 3, n.all);
    assert.match(n.stderr, /not logged in to https:\/\/127\.0\.0\.1:\d+: run gatehousectl login --server/);
    const again = ctl(['logout'], { p: A });
    assert.equal(again.status, 0, again.all);
    assert.match(again.stderr, /not logged in to .* \(nothing to do\)/);
  });

  await check('login refuses plain http to a non-loopback host and an unsafe cache before any network', () => {
    const h = ctl(['login', '--server', 'http://gatehouse.example.com:8443']);
    assert.equal(h.status, 2, h.all);
    assert.match(h.stderr, /plain http/);
    assert.equal(ctl(['login']).status, 2); // no --server
    fs.chmodSync(cacheFile, 0o640);
    const u = ctl(['login', '--server', A.base]);
    assert.equal(u.status, 2, u.all);
    assert.match(u.stderr, /accessible by group or others/);
    assert.doesNotMatch(u.stderr, /user code/);
    fs.chmodSync(cacheFile, 0o600);
  });

  B = await startPair('b', { idpOpts: { accessTokenTtl: 5 }, gwArgs: ['-o', 'oidc.clock_skew=0'] });

  await check('B: an expired access token is refreshed on the next call; the cache is rewritten (new tokens, 0600)', async () => {
    const r = await login(B);
    assert.equal(r.status, 0, r.all);
    const first = readCache().servers[B.base];
    assert.ok(first.expires_at <= now() + 6);
    await sleep(Math.max(0, (first.expires_at + 1) * 1000 - Date.now()));
    const direct = await fetch(`${B.base}/api/v1/me`, { headers: { authorization: `Bearer ${first.access_token}` } });
    assert.equal(direct.status, 401, 'the old access token has really expired at the gateway');
    assert.equal((await direct.json()).error, 'expired');
    const w = ctl(['whoami'], { p: B });
    assert.equal(w.status, 0, w.all);
    assert.match(w.stdout, /^user_id:\s+bob$/m);
    const second = readCache().servers[B.base];
    assert.notEqual(second.access_token, first.access_token);
    assert.notEqual(second.refresh_token, first.refresh_token, 'the IdP rotates refresh tokens of public clients');
    assert.ok(second.expires_at > first.expires_at);
    assert.equal(mode(cacheFile), 0o600);
    assert.deepEqual(fs.readdirSync(cacheDir), ['tokens.json']);
  });

  await check('two servers in the cache: verbs need --server (exit 2); status lists both', async () => {
    const l = await login(A);
    assert.equal(l.status, 0, l.all);
    assert.deepEqual(Object.keys(readCache().servers).sort(), [A.base, B.base].sort());
    const r = ctl(['requests', 'list'], { p: B, server: false });
    assert.equal(r.status, 2, r.all);
    assert.match(r.stderr, /the token cache holds 2 servers: choose one with --server URL/);
    // One --ca-file for both gateways: a bundle of their two certificates.
    const bundle = path.join(tmp, 'both.pem');
    fs.writeFileSync(bundle, fs.readFileSync(A.caFile, 'utf8') + fs.readFileSync(B.caFile, 'utf8'));
    const k = ctl(['--ca-file', bundle, 'status']);
    assert.equal(k.status, 0, k.all);
    assert.match(k.stdout, new RegExp(`^server:\\s+${A.base}$`, 'm'));
    assert.match(k.stdout, new RegExp(`^server:\\s+${B.base}$`, 'm'));
    assert.equal(k.stdout.match(/^user:\s+bob$/mg).length, 2);
  });

  await check('B: four calls at once after expiry share one refresh (cache lock): all succeed', async () => {
    const e = readCache().servers[B.base];
    await sleep(Math.max(0, (e.expires_at + 1) * 1000 - Date.now()));
    const args = ['--server', B.base, '--ca-file', B.caFile, 'whoami'];
    const rs = await Promise.all([1, 2, 3, 4].map(() => ctlAsync(args)));
    for (const x of rs) {
      assert.equal(x.status, 0, x.all);
      assert.match(x.stdout, /^user_id:\s+bob$/m);
    }
    const after = readCache().servers[B.base];
    assert.notEqual(after.refresh_token, e.refresh_token);
    // The grant survived (a second use of a rotated refresh token would
    // have revoked it): one more refresh works.
    await sleep(Math.max(0, (after.expires_at + 1) * 1000 - Date.now()));
    const w = ctl(['whoami'], { p: B });
    assert.equal(w.status, 0, w.all);
  });

  await check('B: a revoked refresh token: "your login has ended: run gatehousectl login" (exit 3)', async () => {
    const e = readCache().servers[B.base];
    const rev = await fetch(`${B.idp.issuer}/token/revocation`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: e.refresh_token, token_type_hint: 'refresh_token', client_id: 'gatehouse-cli' }).toString(),
    });
    assert.equal(rev.status, 200);
    await sleep(Math.max(0, (e.expires_at + 1) * 1000 - Date.now()));
    const r = ctl(['whoami'], { p: B });
    assert.equal(r.status, 3, r.all);
    assert.match(r.stderr, new RegExp(`^gatehousectl: your login to ${B.base} has ended \\(refresh refused: invalid_grant.*\\): run gatehousectl login --server ${B.base}$`, 'm'));
  });

  C = await startPair('c', { issuer: false });
  await check('C: a gateway without an issuer: /api/v1/auth/cli is 503 and login says why (exit 1)', async () => {
    const r = await fetch(`${C.base}/api/v1/auth/cli`);
    assert.equal(r.status, 503);
    assert.equal((await r.json()).error, 'idp_unavailable');
    const l = ctl(['login', '--server', C.base, '--ca-file', C.caFile]);
    assert.equal(l.status, 1, l.all);
    assert.match(l.stderr, /^gatehousectl: sign-in is not configured on this gateway .*\(idp_unavailable\)$/m);
  });

  await check('no token or refresh token in any output, gatehoused log or IdP log', () => {
    readCache();
    assert.ok(seenSecrets.size >= 6, `${seenSecrets.size} secrets seen`);
    const logs = [A.gw.log(), B.gw.log(), A.idp.log(), B.idp.log()];
    const joined = [...outputs, ...logs].join('\n');
    for (const s of seenSecrets) {
      assert.ok(!joined.includes(s), 'a token or refresh token was printed or logged');
      if (s.split('.').length === 3) assert.ok(!joined.includes(s.split('.')[2]), 'a token signature was printed');
    }
    assert.doesNotMatch(outputs.join('\n'), /eyJ[A-Za-z0-9_-]{10,}\./, 'something JWT-like was printed');
  });
} catch (e) {
  t.fail(e);
} finally {
  for (const s of started.reverse()) await s.stop().catch(() => {});
  t.finish();
}
