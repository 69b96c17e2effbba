// gatehousectl against a real gatehoused with real tokens from the test
// IdP: list, approve, deny, revoke, grants, audit, decide, each as the
// role that may (or may not) do it; plus the client's own guards: token
// file permissions, https-only, a wrong CA, and the token never printed.
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { startGateway } from '../harness/gateway.mjs';
import { startIdp, loginAndGetTokens } from '../harness/idp/lib.mjs';
import { apiCaller, freePort, testRun } from '../harness/testkit.mjs';

const CTL = process.env.GATEHOUSECTL;
const t = testRun('gh-e2e-ctl', 200000);
const { tmp, check } = t;

let idp, gw;
try {
  if (!CTL) throw new Error('GATEHOUSECTL is not set (ctest sets it)');
  const port = await freePort();
  const base = `https://127.0.0.1:${port}`;
  process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0'; // our own fetch calls only; gatehousectl verifies
  idp = await startIdp({ stateDir: path.join(tmp, 'idp'), redirectUris: [`${base}/auth/callback`] });
  const conf = path.join(tmp, 'gatehoused.conf');
  fs.writeFileSync(conf, [
    '[target web1]', 'address = 198.18.0.2', 'ports = 22', 'approvers = gatehouse-approvers',
    'max_duration = 7200', '',
  ].join('\n'));
  gw = await startGateway({
    dir: path.join(tmp, 'gw'),
    args: ['-c', conf, '-o', `server.port=${port}`, '-o', `oidc.issuer=${idp.issuer}`,
      '-o', `oidc.client_secret_file=${idp.info.webClientSecretFile}`],
  });
  for (let i = 0; i < 100 && (await fetch(`${base}/auth/login`, { redirect: 'manual' })).status !== 302; i++) {
    await new Promise((r) => setTimeout(r, 100));
  }
  const caFile = path.join(tmp, 'gw', 'gatehouse-data', 'tls', 'cert.pem');
  const redirectUri = `${base}/auth/callback`;
  const tok = {};
  const tokFile = {};
  for (const u of ['alice', 'bob', 'carol', 'dave', 'eve']) {
    tok[u] = (await loginAndGetTokens(idp, { user: u, redirectUri })).access_token;
    tokFile[u] = path.join(tmp, `${u}.token`);
    fs.writeFileSync(tokFile[u], `${tok[u]}\n`, { mode: 0o600 });
  }
  const outputs = [];
  // Run gatehousectl as user; returns { status, stdout, stderr }.
  const ctl = (user, args, { server = base, ca = caFile, env = {} } = {}) => {
    const pre = ['--server', server];
    if (ca) pre.push('--ca-file', ca);
    if (user) pre.push('--token-file', tokFile[user]);
    const r = spawnSync(CTL, [...pre, ...args], {
      encoding: 'utf8', timeout: 60000, env: { ...process.env, GATEHOUSE_TOKEN: '', ...env },
    });
    outputs.push(r.stdout, r.stderr);
    return { status: r.status, stdout: r.stdout, stderr: r.stderr, all: `${r.stdout}${r.stderr}` };
  };
  const call = apiCaller(base, tok);

  let reqId, grantId;
  await check('whoami and targets work with the gateway cert as --ca-file', () => {
    const w = ctl('bob', ['whoami']);
    assert.equal(w.status, 0, w.all);
    assert.match(w.stdout, /^user_id:\s+bob$/m);
    const tg = ctl('bob', ['targets']);
    assert.equal(tg.status, 0, tg.all);
    assert.match(tg.stdout, /^NAME\s+PORTS/m);
    assert.match(tg.stdout, /^web1\s+22\s+2h\s/m);
  });
  await check('alice requests web1:22 (API); bob lists pending in a table', async () => {
    const r = await call('alice', 'POST', '/api/v1/requests', { target: 'web1', ports: '22', duration: 3600, reason: 'deploy fix' });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    reqId = r.body.id;
    const l = ctl('bob', ['requests', 'list', '--state', 'pending']);
    assert.equal(l.status, 0, l.all);
    const lines = l.stdout.trim().split('\n');
    assert.match(lines[0], /^ID\s+STATE\s+REQUESTER\s+TARGET\s+PORTS\s+DURATION\s+CREATED/);
    const row = lines.find((x) => x.startsWith(`${reqId} `));
    assert.ok(row, l.stdout);
    assert.match(row, /pending\s+alice\s+web1\s+22\s+1h\s+\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4}/);
    assert.match(row, /deploy fix$/);
  });
  await check('requests show ID', () => {
    const s = ctl('carol', ['requests', 'show', String(reqId)]);
    assert.equal(s.status, 0, s.all);
    assert.match(s.stdout, /^state:\s+pending$/m);
  });
  await check('alice approving her own request: exit 1 with the server message', () => {
    const r = ctl('alice', ['requests', 'approve', String(reqId)]);
    assert.equal(r.status, 1, r.all);
    assert.match(r.stderr, /^gatehousectl: .+ \(self_approval\)$/m);
  });
  await check('requests deny without --reason: exit 2 (usage)', () => {
    const r = ctl('bob', ['requests', 'deny', String(reqId)]);
    assert.equal(r.status, 2, r.all);
    assert.match(r.stderr, /--reason/);
    const bad = ctl('bob', ['requests', 'approve', String(reqId), '--duration', '30x']);
    assert.equal(bad.status, 2, bad.all);
    assert.equal(ctl('bob', ['requests', 'approve']).status, 2);
    assert.equal(ctl('bob', ['requests', 'frobnicate']).status, 2);
    assert.equal(ctl('bob', ['requests', 'list', '--bogus']).status, 2);
  });
  await check('bob approves for 30m (exit 0); alice decide web1 22 -> allow', () => {
    const r = ctl('bob', ['requests', 'approve', String(reqId), '--duration', '30m', '--reason', 'ok']);
    assert.equal(r.status, 0, r.all);
    assert.match(r.stdout, /^state:\s+approved$/m);
    assert.match(r.stdout, /^decided_by:\s+bob$/m);
    grantId = Number(r.stdout.match(/^grant_id:\s+(\d+)$/m)[1]);
    assert.ok(grantId > 0);
    const d = ctl('alice', ['decide', 'web1', '22']);
    assert.equal(d.status, 0, d.all);
    assert.match(d.stdout, /^decision:\s+allow$/m);
  });
  await check('grants list --live --json parses and holds the grant', () => {
    const r = ctl('bob', ['grants', 'list', '--live', '--json']);
    assert.equal(r.status, 0, r.all);
    const j = JSON.parse(r.stdout);
    const g = j.items.find((x) => x.id === grantId);
    assert.ok(g, r.stdout);
    assert.equal(g.user, 'alice');
    assert.equal(g.target, 'web1');
    assert.equal(g.expires - g.starts, 1800);
    const table = ctl('bob', ['grants', 'list', '--live']);
    assert.match(table.stdout, new RegExp(`^${grantId}\\s+alice\\s+web1\\s+22\\s`, 'm'));
  });
  await check('bob revokes the grant (exit 0); decide then says no_grant', () => {
    assert.equal(ctl('bob', ['grants', 'revoke', String(grantId)]).status, 2); // no --reason
    const r = ctl('bob', ['grants', 'revoke', String(grantId), '--reason', 'x']);
    assert.equal(r.status, 0, r.all);
    const d = ctl('alice', ['decide', 'web1', '22']);
    assert.match(d.stdout, /^decision:\s+no_grant$/m);
    const again = ctl('bob', ['grants', 'revoke', String(grantId), '--reason', 'x']);
    assert.equal(again.status, 1);
    assert.match(again.stderr, /\(not_live\)$/m);
  });
  await check('deny with a reason works', async () => {
    const q = await call('alice', 'POST', '/api/v1/requests', { target: 'web1', ports: '22', duration: 600, reason: 'later' });
    const r = ctl('bob', ['requests', 'deny', String(q.body.id), '--reason', 'not now']);
    assert.equal(r.status, 0, r.all);
    assert.match(r.stdout, /^decision_reason:\s+not now$/m);
  });
  await check('audit list: carol sees jit.approve; alice gets 403 (exit 1)', () => {
    const r = ctl('carol', ['audit', 'list', '--since', '1h', '--action', 'jit.approve']);
    assert.equal(r.status, 0, r.all);
    assert.match(r.stdout, /^ID\s+TIME\s+ACTOR\s+ACTION/m);
    assert.match(r.stdout, /\sbob\s+jit\.approve\s/);
    const all = ctl('carol', ['audit', 'list']);
    assert.match(all.stdout, /jit\.revoke/);
    const a = ctl('alice', ['audit', 'list']);
    assert.equal(a.status, 1, a.all);
    assert.match(a.stderr, /\(not_an_auditor\)$/m);
  });
  await check('grants create: dave (admin) grants directly, or a clear message', () => {
    const r = ctl('dave', ['grants', 'create', 'alice', 'web1', '--port', '22', '--duration', '10m', '--reason', 'oncall']);
    console.log(`# grants create: ${r.status === 0 ? 'the gateway granted directly' : 'not supported by this gateway'}`);
    if (r.status === 0) {
      assert.match(r.stdout, /^how:\s+direct$/m);
      assert.match(ctl('alice', ['decide', 'web1', '22']).stdout, /^decision:\s+allow$/m);
    } else {
      assert.equal(r.status, 1, r.all);
      assert.match(r.stderr, /does not support direct grants yet/);
    }
    assert.equal(ctl('bob', ['grants', 'create', 'alice', 'web1', '--port', '22', '--duration', '10m']).status, 1);
    const u = ctl('dave', ['grants', 'create', 'alice', 'nosuch', '--port', '22', '--duration', '10m']);
    assert.equal(u.status, 1, u.all);
    assert.match(u.stderr, /\(unknown_target\)$/m);
    assert.equal(ctl('dave', ['grants', 'create', 'alice', 'web1', '--duration', '10m']).status, 2); // no --port
  });
  await check('grants create on a gateway without POST /api/v1/grants (http to loopback is allowed)', async () => {
    const old = http.createServer((req, res) => {
      req.resume();
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"error":"not_found","message":"no such page"}');
    });
    await new Promise((r) => old.listen(0, '127.0.0.1', r));
    try {
      const r = await new Promise((resolve) => {
        const c = spawn(CTL, ['--server', `http://127.0.0.1:${old.address().port}`, '--token-file', tokFile.dave,
          'grants', 'create', 'alice', 'web1', '--port', '22', '--duration', '1h']);
        let out = '';
        c.stdout.on('data', (d) => { out += d; });
        c.stderr.on('data', (d) => { out += d; });
        c.on('exit', (code) => resolve({ status: code, all: out }));
      });
      outputs.push(r.all);
      assert.equal(r.status, 1, r.all);
      assert.match(r.all, /this gateway does not support direct grants yet/);
    } finally {
      old.close();
    }
  });
  await check('a token file readable by others is refused (exit 2, says chmod 600)', () => {
    const loose = path.join(tmp, 'loose.token');
    fs.writeFileSync(loose, `${tok.bob}\n`, { mode: 0o644 });
    fs.chmodSync(loose, 0o644);
    const r = spawnSync(CTL, ['--server', base, '--ca-file', caFile, '--token-file', loose, 'whoami'], { encoding: 'utf8' });
    outputs.push(r.stdout, r.stderr);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /accessible by group or others.*chmod 600/);
  });
  await check('GATEHOUSE_TOKEN works when no token file is given', () => {
    const r = spawnSync(CTL, ['--server', base, '--ca-file', caFile, 'whoami'],
      { encoding: 'utf8', env: { ...process.env, GATEHOUSE_TOKEN: tok.carol } });
    outputs.push(r.stdout, r.stderr);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^user_id:\s+carol$/m);
  });
  await check('http:// to a non-loopback host is refused before sending (exit 2)', () => {
    const r = ctl('bob', ['whoami'], { server: 'http://gatehouse.example.com:8443' });
    assert.equal(r.status, 2, r.all);
    assert.match(r.stderr, /plain http/);
    const s = ctl('bob', ['whoami'], { server: 'ftp://127.0.0.1/' });
    assert.equal(s.status, 2, s.all);
  });
  await check('a wrong --ca-file fails with a TLS error (exit 1); no CA: system store refuses', () => {
    const other = path.join(tmp, 'other');
    fs.mkdirSync(other);
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
      '-keyout', path.join(other, 'key.pem'), '-out', path.join(other, 'cert.pem'), '-days', '1',
      '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { stdio: 'ignore' });
    const r = ctl('bob', ['whoami'], { ca: path.join(other, 'cert.pem') });
    assert.equal(r.status, 1, r.all);
    assert.match(r.stderr, /certificate|SSL|TLS/i);
    assert.equal(r.stdout, '');
    const sys = ctl('bob', ['whoami'], { ca: null });
    assert.equal(sys.status, 1, sys.all);
    assert.match(sys.stderr, /certificate|SSL|TLS/i);
  });
  await check('-k works but warns on stderr', () => {
    const r = ctl('bob', ['-k', 'whoami'], { ca: null });
    assert.equal(r.status, 0, r.all);
    assert.match(r.stderr, /warning: --insecure/);
  });
  await check('--insecure-pin with the gateway key (from its log) works; a wrong pin fails', () => {
    const hex = Buffer.from(gw.spki, 'base64').toString('hex');
    const ok = ctl('bob', ['--insecure-pin', hex, 'whoami'], { ca: null });
    assert.equal(ok.status, 0, ok.all);
    const bad = ctl('bob', ['--insecure-pin', 'ab'.repeat(32), 'whoami'], { ca: null });
    assert.equal(bad.status, 1, bad.all);
  });
  await check('no token anywhere in stdout or stderr', () => {
    const joined = outputs.join('\n');
    for (const u of Object.keys(tok)) {
      assert.ok(!joined.includes(tok[u]), `the token of ${u} was printed`);
      assert.ok(!joined.includes(tok[u].split('.')[2]), `the signature of ${u}'s token was printed`);
    }
  });
  const code = await gw.stop();
  gw = null;
  await check('gatehoused stops cleanly', () => assert.equal(code, 0));
} catch (e) {
  t.fail(e);
} finally {
  if (gw) await gw.stop();
  if (idp) await idp.stop();
  t.finish();
}
