// The gatehouse user CLI with real peers: device-flow login against the
// test IdP, the real gatehoused, OpenSSH's ssh and scp against an sshd
// target in a network namespace, through `gatehouse proxy`, `gatehouse
// ssh`, `gatehouse ssh-config` and `gatehouse tunnel`. Covers request
// --wait, refusals (no grant, another port, SSRF attempts) before any byte
// reaches the target, 100 MB up and down with checksums, four tunnels at
// once, revocation mid-transfer, the target's sshd killed mid-transfer,
// certificate pinning, and `gatehouse rdp` starting its client.
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { startGateway } from '../harness/gateway.mjs';
import { startIdp, approveDevice, loginAndGetTokens } from '../harness/idp/lib.mjs';
import { upTarget } from '../harness/target.mjs';
import { apiCaller, freePort, sleep, testRun, until } from '../harness/testkit.mjs';

const GH = process.env.GATEHOUSE;
const t = testRun('gh-e2e-tunnel', 420000);
const { tmp } = t;
// GH_ONLY=word runs login and the checks whose name holds the word.
const check = (what, fn) => (!process.env.GH_ONLY || /^login/.test(what) || what.includes(process.env.GH_ONLY)
  ? t.check(what, fn) : Promise.resolve());
const procs = [];

// Run gatehouse (or anything) to its end; output captured.
function run(cmd, args, { env, input, timeout = 120000 } = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout, env, input, maxBuffer: 1 << 26 });
  return { status: r.status, signal: r.signal, stdout: r.stdout || '', stderr: r.stderr || '' };
}
// Start a long-running process; its output collects in .out / .err.
function start(cmd, args, env) {
  const c = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  c.out = '';
  c.err = '';
  c.stdout.on('data', (d) => { c.out += d; });
  c.stderr.on('data', (d) => { c.err += d; });
  c.done = new Promise((resolve) => c.on('exit', (code, sig) => resolve({ code, sig, at: Date.now() })));
  procs.push(c);
  return c;
}
const sha256 = (f) => crypto.createHash('sha256').update(fs.readFileSync(f)).digest('hex');
const openFds = (pid) => fs.readdirSync(`/proc/${pid}/fd`).length;

let idp, gw, vm;
try {
  const port = await freePort();
  const base = `https://127.0.0.1:${port}`;
  process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0'; // the gateway's self-signed cert, loopback
  vm = await upTarget({ dir: path.join(tmp, 'vm'), name: 'vm' });
  const v = vm.env;
  idp = await startIdp({ stateDir: path.join(tmp, 'idp'), redirectUris: [`${base}/auth/callback`] });
  const conf = path.join(tmp, 'gatehoused.conf');
  const hk = `host_key = ${v.GH_TARGET_HOSTKEY_SHA256}`;
  const auto = ['auto_approve = gatehouse-users', 'reason_required = no'];
  fs.writeFileSync(conf, [
    '[target web1]', `address = ${v.GH_TARGET_ADDR}`, 'ports = 22', hk,
    '[target web2]', `address = ${v.GH_TARGET_ADDR}`, 'ports = 22, 80', hk,
    '[target bulk]', `address = ${v.GH_TARGET_ADDR}`, 'ports = 22', hk, ...auto,
    '[target doomed]', `address = ${v.GH_TARGET_ADDR}`, 'ports = 22', hk, ...auto,
    '[target rdpbox]', `address = ${v.GH_TARGET_ADDR}`, 'ports = 22, 3389', hk, ...auto,
    // Declared by DNS name (the names exist only for this gatehoused).
    '[target named]', 'address = web1.gh-test.internal', 'ports = 22', hk, ...auto,
    '[target loopy]', 'address = loopy.gh-test.internal', 'ports = 22', hk, ...auto,
    '[target nxname]', 'address = nx.gh-test.invalid', 'ports = 22', hk, ...auto,
    '',
  ].join('\n'));
  const gwDir = path.join(tmp, 'gw');
  gw = await startGateway({
    dir: gwDir,
    args: ['-c', conf, '-o', `server.port=${port}`, '-o', `oidc.issuer=${idp.issuer}`,
      '-o', `oidc.client_secret_file=${idp.info.webClientSecretFile}`,
      '-o', `oidc.cli_client_id=${idp.info.cliClientId}`, '-o', `oidc.cli_resource=${idp.resource}`],
    hosts: { 'web1.gh-test.internal': v.GH_TARGET_ADDR, 'loopy.gh-test.internal': '127.0.0.1' },
  });
  const db = path.join(gwDir, 'gatehouse-data', 'gatehouse.db');
  const sql = (q) => execFileSync('sqlite3', [db, q]).toString().trim();
  const caFile = path.join(gwDir, 'gatehouse-data', 'tls', 'cert.pem');
  for (let i = 0; i < 100 && (await fetch(`${base}/auth/login`, { redirect: 'manual' })).status !== 302; i++) await sleep(100);
  const tok = {};
  for (const u of ['alice', 'bob']) {
    tok[u] = (await loginAndGetTokens(idp, { user: u, redirectUri: `${base}/auth/callback` })).access_token;
  }
  const call = apiCaller(base, tok);

  // alice's environment: her own config dir (the token cache) and home.
  const xdg = path.join(tmp, 'xdg');
  const env = { ...process.env, XDG_CONFIG_HOME: xdg, HOME: path.join(tmp, 'home'), GATEHOUSE_TOKEN: '', GATEHOUSE_SERVER: '' };
  fs.mkdirSync(env.HOME, { recursive: true });
  const gh = (args, opts = {}) => run(GH, args, { env, ...opts });
  // The target's key under the names the CLI routes by (the host key is
  // checked under the target's name: there is no address to check).
  const hostKey = fs.readFileSync(v.GH_TARGET_KNOWN_HOSTS, 'utf8').trim().split(' ').slice(1).join(' ');
  const kh = path.join(tmp, 'known_hosts');
  fs.writeFileSync(kh, ['web1', 'web1.gatehouse', 'bulk', 'doomed', '[127.0.0.1]:*'].map((h) => `${h} ${hostKey}`).join('\n') + '\n');
  // Options both ssh and scp take (scp's -l is a bandwidth limit: the
  // user goes in user@host for scp).
  const baseOpts = ['-i', v.GH_TARGET_KEY, '-o', `UserKnownHostsFile=${kh}`, '-o', 'StrictHostKeyChecking=yes',
    '-o', 'BatchMode=yes', '-o', 'Ciphers=aes128-gcm@openssh.com', '-o', 'ConnectTimeout=15'];
  const sshOpts = ['-F', '/dev/null', ...baseOpts, '-l', v.GH_TARGET_USER];
  const U = v.GH_TARGET_USER;
  const proxyCmd = (target = '%n', p = '%p') => `ProxyCommand=${GH} proxy ${target} ${p}`;
  const grantsOf = (target) => sql(`SELECT id FROM grants WHERE target='${target}' AND revoked_ms IS NULL ORDER BY id DESC LIMIT 1`);
  const sshdLog = () => fs.readFileSync(v.GH_TARGET_SSHD_LOG, 'utf8');

  await check('login: the device grant approved at the IdP; the cache is 0600 and remembers the trust', async () => {
    const c = start(GH, ['login', '--server', base, '--ca-file', caFile], env);
    await until(() => /user code: (\S+)/.test(c.err), 'the user code');
    await approveDevice(idp, c.err.match(/user code: (\S+)/)[1], 'alice');
    const { code } = await c.done;
    assert.equal(code, 0, c.err);
    assert.match(c.out, /Logged in to https:\/\/127\.0\.0\.1:\d+ as alice/);
    const st = fs.statSync(path.join(xdg, 'gatehouse', 'tokens.json'));
    assert.equal(st.mode & 0o777, 0o600);
    assert.equal(fs.statSync(path.join(xdg, 'gatehouse')).mode & 0o777, 0o700);
    const cache = JSON.parse(fs.readFileSync(path.join(xdg, 'gatehouse', 'tokens.json'), 'utf8'));
    assert.equal(cache.servers[base].ca_file, caFile);
    // Later commands need no --server and no --ca-file.
    const s = gh(['status']);
    assert.equal(s.status, 0, s.stderr);
    assert.match(s.stdout, /alice/);
  });

  await check('targets lists what alice may request', async () => {
    const r = gh(['targets']);
    assert.equal(r.status, 0, r.stderr);
    for (const n of ['web1', 'web2', 'bulk']) assert.match(r.stdout, new RegExp(`\\b${n}\\b`));
  });

  await check('no grant: refused with a clear message before any byte reaches the target', async () => {
    const rows = sql('SELECT count(*) FROM remote_sessions');
    const log = sshdLog().length;
    const s = gh(['ssh', 'web1', '--', ...sshOpts, 'true']);
    assert.equal(s.status, 1, s.stderr);
    assert.match(s.stderr, /no grant for web1 port 22 \(no_grant\).*gatehouse request web1/);
    const p = gh(['proxy', 'web1', '22'], { input: 'SSH-2.0-probe\r\n' });
    assert.equal(p.status, 1);
    assert.match(p.stderr, /web1:22: .*\(no_grant\)/);
    assert.equal(sql('SELECT count(*) FROM remote_sessions'), rows);
    await sleep(200);
    assert.equal(sshdLog().length, log, 'the target saw a connection');
  });

  await check('request --wait waits for the approver and says so', async () => {
    const c = start(GH, ['request', 'web1', '--port', '22', '--duration', '1h', '--reason', 'deploy', '--wait'], env);
    await until(() => /Waiting for an approver to decide on request (\d+)/.test(c.err), 'the wait message');
    const id = c.err.match(/request (\d+)/)[1];
    await sleep(500);
    assert.equal(c.exitCode, null, 'it must still wait');
    const a = await call('bob', 'POST', `/api/v1/requests/${id}/approve`, { reason: 'ok' });
    assert.equal(a.status, 200, JSON.stringify(a.body));
    const { code } = await c.done;
    assert.equal(code, 0, c.err);
    assert.match(c.err, /Approved/);
    assert.match(c.out, /state:\s+approved/);
    const r = gh(['requests']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`${id}\\s+approved\\s+alice\\s+web1`));
  });

  await check('real ssh through gatehouse proxy runs a command on the target', async () => {
    const r = run('ssh', [...sshOpts, '-o', proxyCmd(), 'web1', 'echo via-$((6*7)); id -un'], { env });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, `via-42\n${v.GH_TARGET_USER}\n`);
    const row = sql("SELECT kind, protocol, bytes_in > 0, bytes_out > 0, end_reason FROM remote_sessions WHERE target='web1' ORDER BY id DESC LIMIT 1");
    assert.match(row, /^tunnel\|tcp\|1\|1\|(user|target)_closed$/);
  });

  await check('gatehouse ssh runs OpenSSH with host key checking left on', async () => {
    const r = gh(['ssh', 'web1', '--', ...sshOpts, 'uname', '-n']);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(r.stdout.trim().length > 0);
    // A known_hosts with another key for web1: ssh refuses (checking is on).
    const bad = path.join(tmp, 'bad_known_hosts');
    fs.writeFileSync(bad, 'web1 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOv0yCwZ5y7cmKJ5T0FZqg6nR0o0m2mYw1mF9Lrj9A0S\n');
    const o = sshOpts.map((x) => (x === `UserKnownHostsFile=${kh}` ? `UserKnownHostsFile=${bad}` : x));
    const f = gh(['ssh', 'web1', '--', ...o, 'true']);
    assert.notEqual(f.status, 0);
    assert.match(f.stderr, /HOST IDENTIFICATION HAS CHANGED|Host key verification failed/);
  });

  await check('ssh-config: plain ssh and scp to web1.gatehouse', async () => {
    const r = gh(['ssh-config']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^Host \*\.gatehouse$/m);
    assert.match(r.stdout, /ProxyCommand '.*gatehouse' '--server' 'https:\/\/127\.0\.0\.1:\d+' '--ca-file' '.*cert\.pem' proxy %n %p/);
    const cfg = path.join(tmp, 'ssh_config');
    fs.writeFileSync(cfg, r.stdout);
    const o = ['-F', cfg, ...baseOpts];
    const s = run('ssh', [...o, `${U}@web1.gatehouse`, 'echo cfg-ok'], { env });
    assert.equal(s.status, 0, s.stderr);
    assert.equal(s.stdout, 'cfg-ok\n');
    const src = path.join(tmp, 'small.bin');
    fs.writeFileSync(src, crypto.randomBytes(200000));
    const c = run('scp', ['-q', ...o, src, `${U}@web1.gatehouse:small.bin`], { env });
    assert.equal(c.status, 0, c.stderr);
    assert.equal(fs.readFileSync(path.join(v.GH_TARGET_HOME, 'small.bin')).equals(fs.readFileSync(src)), true);
  });

  await check('a grant for port 22 does not open port 80; SSRF attempts are refused and audited', async () => {
    const g = await call('alice', 'POST', '/api/v1/requests', { target: 'web2', ports: '22', duration: 600, reason: 'x' });
    const a = await call('bob', 'POST', `/api/v1/requests/${g.body.id}/approve`, {});
    assert.equal(a.status, 200, JSON.stringify(a.body));
    const rows = sql('SELECT count(*) FROM remote_sessions');
    const log = sshdLog().length;
    const cases = [
      [['web2', '80'], 'port_not_granted'],
      [['nosuch', '22'], 'unknown_target'],
      [['127.0.0.1', '22'], 'unknown_target'],
      [[v.GH_TARGET_ADDR, '22'], 'unknown_target'],
      [['169.254.169.254', '80'], 'unknown_target'],
      [['web2', String(port)], 'port_not_declared'],
      [['web2', '2222'], 'port_not_declared'],
    ];
    for (const [args, why] of cases) {
      const r = gh(['proxy', ...args], { input: 'GET / HTTP/1.0\r\n\r\n' });
      assert.equal(r.status, 1, `${args}: ${r.status} ${r.stderr} ${gw.log().split('\n').slice(-8).join('\n')}`);
      assert.match(r.stderr, new RegExp(`\\(${why}\\)`), `${args}: ${r.stderr}`);
    }
    assert.equal(sql('SELECT count(*) FROM remote_sessions'), rows);
    assert.equal(sshdLog().length, log);
    // The door's decision is audited with what was asked for.
    const audit = sql("SELECT group_concat(detail, ' ') FROM audit WHERE action = 'jit.decide'");
    for (const [[name, p], why] of cases) {
      assert.ok(audit.includes(`"target":"${name}","port":${p},"decision":"${why}"`), `${name}:${p} ${why} not audited`);
    }
  });

  // scp through `gatehouse tunnel`: one WebSocket per local connection.
  const tport = await freePort();
  const tun = start(GH, ['tunnel', 'bulk', '--port', '22', '--local-port', String(tport)], env);
  const scpOpts = ['-q', '-F', '/dev/null', ...baseOpts, '-P', String(tport), '-o', 'HostKeyAlias=bulk'];

  await check('scp of 100 MB up and down through gatehouse tunnel: checksums match', async () => {
    await call('alice', 'POST', '/api/v1/requests', { target: 'bulk', ports: '22', duration: 3600, reason: 'bulk' });
    await until(() => /listening on 127\.0\.0\.1:\d+/.test(tun.out), 'the tunnel to listen');
    const src = path.join(tmp, 'big.bin');
    const fd = fs.openSync(src, 'w');
    for (let i = 0; i < 100; i++) fs.writeSync(fd, crypto.randomBytes(1 << 20));
    fs.closeSync(fd);
    const up = run('scp', [...scpOpts, src, `${U}@127.0.0.1:big.bin`], { env, timeout: 180000 });
    assert.equal(up.status, 0, up.stderr + tun.err);
    assert.equal(sha256(path.join(v.GH_TARGET_HOME, 'big.bin')), sha256(src));
    const back = path.join(tmp, 'big.back');
    const down = run('scp', [...scpOpts, `${U}@127.0.0.1:big.bin`, back], { env, timeout: 180000 });
    assert.equal(down.status, 0, down.stderr + tun.err);
    assert.equal(sha256(back), sha256(src));
    fs.rmSync(back);
    const row = sql("SELECT bytes_in > 100000000, bytes_out > 100000000 FROM remote_sessions WHERE target='bulk' ORDER BY id DESC LIMIT 2");
    assert.match(row, /1\|0\n0\|1|0\|1\n1\|0/);
  });

  await check('four tunnels at once through one listener: each its own session, all intact', async () => {
    const before = Number(sql("SELECT count(*) FROM remote_sessions WHERE target='bulk'"));
    const files = [];
    for (let i = 0; i < 4; i++) {
      const f = path.join(tmp, `par${i}.bin`);
      fs.writeFileSync(f, crypto.randomBytes(8 << 20));
      files.push(f);
    }
    const jobs = files.map((f, i) => new Promise((resolve) => {
      const c = spawn('scp', [...scpOpts, f, `${U}@127.0.0.1:par${i}.bin`], { env, stdio: 'ignore' });
      c.on('exit', resolve);
    }));
    await until(() => Number(sql("SELECT count(*) FROM remote_sessions WHERE target='bulk' AND ended_ms IS NULL")) === 4,
      'four live tunnel sessions', 30000);
    assert.deepEqual(await Promise.all(jobs), [0, 0, 0, 0]);
    files.forEach((f, i) => assert.equal(sha256(path.join(v.GH_TARGET_HOME, `par${i}.bin`)), sha256(f)));
    assert.equal(Number(sql("SELECT count(*) FROM remote_sessions WHERE target='bulk'")), before + 4);
  });

  await check('the target sshd killed mid-transfer: the CLI reports it, the gateway frees everything', async () => {
    await call('alice', 'POST', '/api/v1/requests', { target: 'bulk', ports: '22', duration: 3600, reason: 'bulk' });
    await until(() => /listening on 127\.0\.0\.1:\d+/.test(tun.out), 'the tunnel to listen');
    const fds = openFds(gw.pid);
    const c = spawn('ssh', [...sshOpts, '-p', String(tport), '-o', 'HostKeyAlias=bulk', '127.0.0.1', 'cat /dev/zero'],
      { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let got = 0;
    c.stdout.on('data', (d) => { got += d.length; });
    const done = new Promise((resolve) => c.on('exit', resolve));
    await until(() => got > 5e6, 'bytes flowing');
    // The session's own sshd processes (every descendant of the
    // listener), not the listener.
    const descendants = (pid) => {
      const r = spawnSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' });
      const direct = (r.stdout || '').trim().split('\n').filter(Boolean).map(Number);
      return direct.flatMap((k) => [k, ...descendants(k)]);
    };
    const kids = descendants(v.GH_TARGET_SSHD_PID);
    assert.ok(kids.length >= 1);
    setTimeout(() => c.kill('SIGKILL'), 30000).unref();
    const errBefore = tun.err.length;
    for (const k of kids) process.kill(k, 'SIGKILL');
    const code = await done;
    assert.notEqual(code, 0);
    await until(() => /closed by the target/.test(tun.err.slice(errBefore)), 'the tunnel to report it');
    await until(() => sql("SELECT count(*) FROM remote_sessions WHERE ended_ms IS NULL") === '0', 'no live session');
    await until(() => openFds(gw.pid) <= fds, `gatehoused's descriptors back to ${fds}`, 5000);
    assert.equal(tun.exitCode, null, 'the tunnel keeps serving');
  });

  await check('revocation mid-transfer: the transfer stops within 2 s and the CLI says why', async () => {
    await call('alice', 'POST', '/api/v1/requests', { target: 'doomed', ports: '22', duration: 3600, reason: 'doomed' });
    const c = spawn('ssh', [...sshOpts, '-o', proxyCmd(), 'doomed', 'cat /dev/zero'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let got = 0;
    let err = '';
    c.stdout.on('data', (d) => { got += d.length; });
    c.stderr.on('data', (d) => { err += d; if (process.env.GHDBG) fs.appendFileSync('/tmp/rv-err.log', d); });
    const done = new Promise((resolve) => c.on('exit', (code) => resolve({ code, at: Date.now() })));
    setTimeout(() => c.kill('SIGKILL'), 60000).unref();
    await until(() => got > 5e6, 'bytes flowing');
    const gid = grantsOf('doomed');
    const t0 = Date.now();
    if (process.env.GHDBG) fs.appendFileSync('/tmp/rv-err.log', `REVOKE ${(t0 / 1000) % 1000}\n`);
    const r = await call('bob', 'POST', `/api/v1/grants/${gid}/revoke`, { reason: 'incident' });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const { code, at } = await done;
    assert.notEqual(code, 0);
    assert.ok(at - t0 < 2000, `ended ${at - t0} ms after the revocation: ${err}`);
    assert.match(err, /doomed:22: .*\(grant_revoked\)/);
  });

  await check('certificate pinning: the right pin works, a wrong one is refused before the token is sent', async () => {
    const der = execFileSync('sh', ['-c', `openssl x509 -in '${caFile}' -pubkey -noout | openssl pkey -pubin -outform der`]);
    const pin = crypto.createHash('sha256').update(der).digest('base64');
    await call('alice', 'POST', '/api/v1/requests', { target: 'bulk', ports: '22', duration: 3600, reason: 'pin' });
    const ok = run('ssh', [...sshOpts, '-o', `ProxyCommand=${GH} --insecure-pin ${pin} proxy bulk 22`, 'bulk', 'echo pinned'], { env });
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal(ok.stdout, 'pinned\n');
    const wrong = crypto.createHash('sha256').update('not the key').digest('hex');
    const before = sql("SELECT count(*) FROM audit WHERE action LIKE 'auth.%' OR action = 'jit.decide'");
    const bad = gh(['--insecure-pin', wrong, 'proxy', 'bulk', '22'], { input: '', timeout: 30000 });
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /certificate mismatch/);
    assert.equal(sql("SELECT count(*) FROM audit WHERE action LIKE 'auth.%' OR action = 'jit.decide'"), before);
  });

  await check('gatehouse rdp starts xfreerdp3 against a local tunnel to the RDP port', async () => {
    // The real client (xfreerdp3 /auth-only needs no display); on the
    // target's port 3389 a listener that keeps what arrives (a real RDP
    // server is the RDP issue's).
    const svc = spawn('ip', ['netns', 'exec', v.GH_TARGET_NS, 'python3', '-c',
      'import socket\ns=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1);s.bind(("0.0.0.0",3389));s.listen(1)\n'
      + 'c,_=s.accept();c.settimeout(10);print(c.recv(64).hex(),flush=True);c.close()'],
    { stdio: ['ignore', 'pipe', 'ignore'] });
    procs.push(svc);
    let got = '';
    svc.stdout.on('data', (d) => { got += d; });
    await sleep(300);
    const g = await call('alice', 'POST', '/api/v1/requests', { target: 'rdpbox', ports: '3389', duration: 600, reason: 'rdp' });
    assert.equal(g.body.state, 'approved', JSON.stringify(g.body));
    const r = gh(['rdp', 'rdpbox', '--', '/auth-only', '/u:alice', '/p:x', '/cert:ignore'], { timeout: 30000 });
    assert.doesNotMatch(r.stderr, /cannot run/);
    await until(() => got.includes('\n'), 'the bytes at port 3389', 10000);
    // TPKT version 3, then an X.224 Connection Request (0xe0): the RDP
    // client's first packet came through the grant to the target's 3389.
    assert.match(got.trim(), /^0300[0-9a-f]{4}[0-9a-f]{2}e0/, got);
    const n = gh(['rdp', 'rdpbox', '--client', path.join(tmp, 'no-such-client')]);
    assert.equal(n.status, 1);
    assert.match(n.stderr, /cannot run .*no-such-client/);
  });

  await check('a long-running tunnel renews its access token: 5 s tokens, a connection 8 s later works', async () => {
    const port2 = await freePort();
    const base2 = `https://127.0.0.1:${port2}`;
    const idp2 = await startIdp({ stateDir: path.join(tmp, 'idp2'), redirectUris: [`${base2}/auth/callback`], accessTokenTtl: 5 });
    let gw2 = null;
    let tun2 = null;
    try {
      gw2 = await startGateway({
        dir: path.join(tmp, 'gw2'),
        args: ['-c', conf, '-o', `server.port=${port2}`, '-o', `oidc.issuer=${idp2.issuer}`, '-o', 'oidc.clock_skew=0',
          '-o', `oidc.client_secret_file=${idp2.info.webClientSecretFile}`,
          '-o', `oidc.cli_client_id=${idp2.info.cliClientId}`, '-o', `oidc.cli_resource=${idp2.resource}`],
      });
      for (let i = 0; i < 100 && (await fetch(`${base2}/auth/login`, { redirect: 'manual' })).status !== 302; i++) await sleep(100);
      const env2 = { ...env, XDG_CONFIG_HOME: path.join(tmp, 'xdg2') };
      const ca2 = path.join(tmp, 'gw2', 'gatehouse-data', 'tls', 'cert.pem');
      const c = start(GH, ['login', '--server', base2, '--ca-file', ca2], env2);
      await until(() => /user code: (\S+)/.test(c.err), 'the user code');
      await approveDevice(idp2, c.err.match(/user code: (\S+)/)[1], 'alice');
      assert.equal((await c.done).code, 0, c.err);
      const a2 = (await loginAndGetTokens(idp2, { user: 'alice', redirectUri: `${base2}/auth/callback` })).access_token;
      const g = await fetch(`${base2}/api/v1/requests`, {
        method: 'POST',
        headers: { authorization: `Bearer ${a2}`, 'content-type': 'application/json' },
        body: JSON.stringify({ target: 'bulk', ports: '22', duration: 600, reason: 'renew' }),
      });
      assert.equal(g.status, 201);
      const lp = await freePort();
      tun2 = start(GH, ['tunnel', 'bulk', '--port', '22', '--local-port', String(lp)], env2);
      await until(() => /listening/.test(tun2.out), 'the tunnel to listen');
      const ssh2 = (what) => run('ssh', [...sshOpts, '-p', String(lp), '-o', 'HostKeyAlias=bulk', '127.0.0.1', `echo ${what}`], { env });
      assert.equal(ssh2('first').stdout, 'first\n');
      await sleep(8000); // the first access token has expired
      const r = ssh2('renewed');
      assert.equal(r.status, 0, `${r.stderr}${tun2.err}`);
      assert.equal(r.stdout, 'renewed\n');
    } finally {
      if (tun2) tun2.kill('SIGTERM');
      if (gw2) await gw2.stop();
      await idp2.stop();
    }
  });

  await check('targets declared by DNS name: resolved off the loop; loopback answers and unknown names refused', async () => {
    for (const t of ['named', 'loopy', 'nxname']) {
      await call('alice', 'POST', '/api/v1/requests', { target: t, ports: '22', duration: 600, reason: 'dns' });
      assert.notEqual(grantsOf(t), '', `no grant for ${t}`);
    }
    const r = run('ssh', [...sshOpts, '-o', proxyCmd(), '-o', 'HostKeyAlias=web1', 'named', 'echo named-ok'], { env });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'named-ok\n');
    const addr = v.GH_TARGET_ADDR.replace(/\./g, '\\.');
    const resolved = gw.log().split('\n').filter((l) => l.includes('target name'));
    assert.ok(resolved.some((l) => new RegExp(`target name resolved" session=\\d+ target="named" address=${addr}$`).test(l)),
      resolved.join('\n'));
    // A name whose answer is loopback is not followed; nor is one that
    // does not resolve. Each is a session that ended connect_failed.
    const l = gh(['proxy', 'loopy', '22'], { input: '' });
    assert.equal(l.status, 1, l.stderr);
    assert.match(l.stderr, /loopy:22: loopy\.gh-test\.internal resolves only to loopback.*\(connect_failed\)/);
    const n = gh(['proxy', 'nxname', '22'], { input: '' });
    assert.equal(n.status, 1, n.stderr);
    assert.match(n.stderr, /nxname:22: cannot resolve nx\.gh-test\.invalid: .*\(connect_failed\)/);
    assert.equal(sql("SELECT group_concat(end_reason) FROM remote_sessions WHERE target IN ('loopy', 'nxname')"),
      'connect_failed,connect_failed');
  });

  await check('clear errors: not logged in, gateway unreachable, a login the gateway refuses', async () => {
    const none = gh(['proxy', 'web1', '22'], { env: { ...env, XDG_CONFIG_HOME: path.join(tmp, 'xdg-none') }, input: '' });
    assert.equal(none.status, 3, none.stderr);
    assert.match(none.stderr, /not logged in: run gatehouse login --server URL/);
    const dead = await freePort();
    const un = gh(['--server', `https://127.0.0.1:${dead}`, 'proxy', 'web1', '22'],
      { env: { ...env, GATEHOUSE_TOKEN: 'x.y.z' }, input: '' });
    assert.equal(un.status, 1, un.stderr);
    assert.match(un.stderr, new RegExp(`web1:22: cannot reach the gateway https://127\\.0\\.0\\.1:${dead}: Connection refused`));
    const bad = gh(['--server', base, '--ca-file', caFile, 'proxy', 'web1', '22'],
      { env: { ...env, GATEHOUSE_TOKEN: 'expired.or.forged' }, input: '' });
    assert.equal(bad.status, 3, bad.stderr);
    assert.match(bad.stderr, /web1:22: the bearer token was refused \(malformed\): run gatehouse login --server https:/);
  });

  await check('the tunnel ends cleanly on SIGTERM; usage errors are exit 2', async () => {
    tun.kill('SIGTERM');
    const { code } = await tun.done;
    assert.equal(code, 0, tun.err);
    assert.equal(gh(['tunnel', 'bulk', '--port', '22']).status, 2);
    assert.equal(gh(['proxy', 'bad/name', '22']).status, 2);
    assert.equal(gh(['proxy', 'web1', '70000']).status, 2);
    const h = gh(['tunnel', '--help']);
    assert.equal(h.status, 0);
    assert.match(h.stdout, /usage: gatehouse \[global options\] tunnel TARGET/);
    // No token in any output.
    for (const c of procs) assert.doesNotMatch(`${c.out || ''}${c.err || ''}`, /eyJ[\w-]+\.eyJ/);
  });
} catch (e) {
  t.fail(e);
} finally {
  if (gw && process.env.GH_TEST_VERBOSE) console.log(gw.log().split('\n').slice(-40).join('\n'));
  for (const c of procs) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  // A clean exit: under ASan a leak or an error would make it non-zero.
  if (gw) {
    const code = await gw.stop();
    if (code !== 0) t.fail(new Error(`gatehoused exited ${code}:\n${gw.log().split('\n').slice(-30).join('\n')}`));
  }
  if (idp) await idp.stop();
  if (vm) await vm.down().catch((e) => t.fail(e));
  t.finish();
}
