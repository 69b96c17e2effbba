// Browser SSH sessions through the WebSocket protocol with real peers: the
// test IdP's tokens, sshd targets in network namespaces, the real worker.
// A headless WebSocket client stands in for the browser (the Chromium test
// is web-terminal.mjs). Covers the decision at the door, the terminal
// round trip and resize, recordings (index, SHA-256, asciinema), every way
// a session ends (target exit, revocation, expiry, admin kill, worker
// crash, sshd killed, gateway killed), bad frames, and backpressure.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { startGateway } from '../harness/gateway.mjs';
import { startIdp, loginAndGetTokens } from '../harness/idp/lib.mjs';
import { F, openSession, openTunnel } from '../harness/session.mjs';
import { upTarget } from '../harness/target.mjs';
import { apiCaller, freePort, sleep, testRun } from '../harness/testkit.mjs';

const t = testRun('gh-e2e-ssh', 280000);
const { tmp, check } = t;

// Children of pid (workers of the gateway), zombies excluded.
function children(pid) {
  const out = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const st = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
      if (Number(f[1]) === pid && f[0] !== 'Z') out.push(Number(d));
    } catch { /* gone */ }
  }
  return out;
}
const rssKiB = (pid) => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);

let idp, gw, vm1, vm2;
const sessions = [];
try {
  const port = await freePort();
  const base = `https://127.0.0.1:${port}`;
  process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0'; // the gateway's self-signed cert, loopback
  [vm1, vm2] = await Promise.all([
    upTarget({ dir: path.join(tmp, 'vm1'), name: 'vm1' }),
    upTarget({ dir: path.join(tmp, 'vm2'), name: 'vm2' }),
  ]);
  const v = vm1.env;
  idp = await startIdp({ stateDir: path.join(tmp, 'idp'), redirectUris: [`${base}/auth/callback`] });
  const conf = path.join(tmp, 'gatehoused.conf');
  const auto = ['auto_approve = gatehouse-users', 'reason_required = no'];
  fs.writeFileSync(conf, [
    '[target web1]', `address = ${v.GH_TARGET_ADDR}`, 'ports = 22', `host_key = ${v.GH_TARGET_HOSTKEY_SHA256}`,
    '[target auto]', `address = ${v.GH_TARGET_ADDR}`, 'ports = 22, 80', `host_key = ${v.GH_TARGET_HOSTKEY_SHA256}`, ...auto,
    '[target vm2]', `address = ${vm2.env.GH_TARGET_ADDR}`, 'ports = 22', `host_key = ${vm2.env.GH_TARGET_HOSTKEY_SHA256}`, ...auto,
    '[target badkey]', `address = ${v.GH_TARGET_ADDR}`, 'ports = 22',
    'host_key = SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', ...auto,
    '[target nokey]', `address = ${v.GH_TARGET_ADDR}`, 'ports = 22', ...auto,
    '[target idle]', `address = ${v.GH_TARGET_ADDR}`, 'ports = 22', `host_key = ${v.GH_TARGET_HOSTKEY_SHA256}`,
    'idle_timeout = 5', ...auto,
    '[target doomed]', `address = ${v.GH_TARGET_ADDR}`, 'ports = 22', `host_key = ${v.GH_TARGET_HOSTKEY_SHA256}`, ...auto,
    '[target webonly]', `address = ${v.GH_TARGET_ADDR}`, 'ports = 22, 80', 'ssh_port = 22', `host_key = ${v.GH_TARGET_HOSTKEY_SHA256}`,
    // Declared by DNS name: the name exists only for this gatehoused.
    '[target byname]', 'address = vm.gh-test.internal', 'ports = 22', `host_key = ${v.GH_TARGET_HOSTKEY_SHA256}`, ...auto,
    '',
  ].join('\n'));
  const gwDir = path.join(tmp, 'gw');
  const gwArgs = ['-c', conf, '-o', `server.port=${port}`, '-o', `oidc.issuer=${idp.issuer}`,
    '-o', `oidc.client_secret_file=${idp.info.webClientSecretFile}`];
  const hosts = { 'vm.gh-test.internal': v.GH_TARGET_ADDR };
  gw = await startGateway({ dir: gwDir, args: gwArgs, hosts });
  const db = path.join(gwDir, 'gatehouse-data', 'gatehouse.db');
  const recDir = path.join(gwDir, 'gatehouse-data', 'recordings');
  const sql = (q) => execFileSync('sqlite3', [db, q]).toString().trim();
  for (let i = 0; i < 100 && (await fetch(`${base}/auth/login`, { redirect: 'manual' })).status !== 302; i++) await sleep(100);
  const redirectUri = `${base}/auth/callback`;
  const tok = {};
  for (const u of ['alice', 'bob', 'carol', 'dave', 'eve']) {
    tok[u] = (await loginAndGetTokens(idp, { user: u, redirectUri })).access_token;
  }
  const call = apiCaller(base, tok);
  const grant = async (target, duration = 3600) => {
    const r = await call('alice', 'POST', '/api/v1/requests', { target, ports: '22', duration, reason: 'test' });
    assert.equal(r.body.state, 'approved', JSON.stringify(r.body));
    return r.body.grant_id;
  };
  // gatehousectl against this gateway, as user (real tokens, CA-pinned).
  const caFile = path.join(gwDir, 'gatehouse-data', 'tls', 'cert.pem');
  const ctl = (user, args) => {
    const tf = path.join(tmp, `${user}.token`);
    fs.writeFileSync(tf, `${tok[user]}\n`, { mode: 0o600 });
    const r = spawnSync(process.env.GATEHOUSECTL, ['--server', base, '--ca-file', caFile, '--token-file', tf, ...args],
      { encoding: 'utf8', timeout: 60000, env: { ...process.env, GATEHOUSE_TOKEN: '' } });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  const creds = { username: v.GH_TARGET_USER, password: v.GH_TARGET_PASSWORD };
  // A session as alice, up to an open shell with a quiet prompt.
  const openShell = async (target = 'auto', c = creds, opts = {}) => {
    const s = openSession(base, { target, token: tok.alice, ...opts });
    sessions.push(s);
    await s.waitState('credentials');
    s.credential(c);
    await s.waitState('open');
    s.input("PS1='$ '; stty -echo\r");
    return s;
  };
  const expectClose = async (s, reason, code) => {
    const c = await s.closed;
    assert.equal(c.frame && c.frame.reason, reason, JSON.stringify(c));
    assert.equal(c.code, code, JSON.stringify(c));
    return c;
  };

  await check('a cross-site page cannot open a session (handshake refused)', async () => {
    const s = openSession(base, { target: 'auto', token: tok.alice, origin: 'https://evil.example' });
    await assert.rejects(s.opened, /handshake refused/);
  });
  await check('no credentials: closed with unauthenticated (4401)', async () => {
    await expectClose(openSession(base, { target: 'auto' }), 'unauthenticated', 4401);
  });
  await check('no grant: refused with the reason; no session row, no worker', async () => {
    const before = sql('SELECT count(*) FROM remote_sessions');
    await expectClose(openSession(base, { target: 'web1', token: tok.alice }), 'no_grant', 4403);
    await expectClose(openSession(base, { target: 'no-such', token: tok.alice }), 'unknown_target', 4403);
    await expectClose(openSession(base, { target: 'web1', token: tok.eve }), 'unknown_target', 4403);
    assert.equal(sql('SELECT count(*) FROM remote_sessions'), before);
    assert.deepEqual(children(gw.pid), []);
    assert.match(sql("SELECT group_concat(detail, ' ') FROM audit WHERE action = 'jit.decide'"), /"decision":"no_grant".*"via":"connect"/);
  });
  await check('a grant for another port does not open the SSH port', async () => {
    const r = await call('alice', 'POST', '/api/v1/requests', { target: 'webonly', ports: '80', duration: 600, reason: 'web' });
    const a = await call('bob', 'POST', `/api/v1/requests/${r.body.id}/approve`, {});
    assert.equal(a.status, 200, JSON.stringify(a.body));
    await expectClose(openSession(base, { target: 'webonly', token: tok.alice }), 'port_not_granted', 4403);
  });

  let recId, sessId;
  const word = `hello-${crypto.randomInt(1e9)}`;
  await check('request, approve, connect, type, see the output, resize, exit', async () => {
    const r = await call('alice', 'POST', '/api/v1/requests', { target: 'web1', ports: '22', duration: 1800, reason: 'terminal' });
    const a = await call('bob', 'POST', `/api/v1/requests/${r.body.id}/approve`, {});
    assert.equal(a.status, 200);
    const s = await openShell('web1', creds, { cols: 90, rows: 25 });
    const st = s.statuses.find((x) => x.state === 'connecting');
    assert.equal(st.target, 'web1');
    assert.equal(st.user, 'alice');
    assert.equal(st.grant_id, a.body.grant_id);
    assert.ok(st.grant_expires > Date.now() + 1700000);
    sessId = st.session;
    assert.equal(s.statuses.find((x) => x.state === 'credentials').username, 'alice');
    s.input(`echo ${word}\r`);
    await s.waitOutput(new RegExp(word));
    s.resize(100, 30);
    await sleep(200);
    s.input('stty size\r');
    await s.waitOutput(/30 100/);
    s.input('exit\r');
    await expectClose(s, 'target_closed', 1000);
  });
  await check('the session is listed as ended, with bytes counted', async () => {
    const l = await call('alice', 'GET', '/api/v1/sessions');
    const row = l.body.items.find((x) => x.id === sessId);
    assert.equal(row.end_reason, 'target_closed');
    assert.equal(row.target, 'web1');
    assert.ok(row.bytes_in > 10 && row.bytes_out > 10, JSON.stringify(row));
    recId = row.recording_id;
    assert.ok(recId > 0);
    assert.deepEqual((await call('eve', 'GET', '/api/v1/sessions')).body.items, []);
    assert.ok((await call('carol', 'GET', '/api/v1/sessions')).body.items.some((x) => x.id === sessId));
  });
  await check('the recording: complete, SHA-256 matches, asciinema plays it', async () => {
    const r = await call('carol', 'GET', `/api/v1/recordings/${recId}`);
    assert.equal(r.status, 200);
    assert.equal(r.body.state, 'complete');
    const file = fs.readdirSync(recDir).find((f) => f.startsWith(`session-${sessId}-`));
    const bytes = fs.readFileSync(path.join(recDir, file));
    assert.equal(r.body.sha256, crypto.createHash('sha256').update(bytes).digest('hex'));
    assert.equal(r.body.size, bytes.length);
    const lines = bytes.toString('utf8').trim().split('\n');
    const hdr = JSON.parse(lines[0]);
    assert.equal(hdr.version, 2);
    assert.equal(hdr.width, 90);
    assert.ok(lines.some((l) => l.includes('"r"') && l.includes('100x30')));
    assert.ok(!bytes.includes(v.GH_TARGET_PASSWORD), 'the password is not in the recording');
    const dl = await fetch(`${base}/api/v1/recordings/${recId}/cast`, { headers: { authorization: `Bearer ${tok.carol}` } });
    assert.equal(dl.status, 200);
    assert.ok(Buffer.from(await dl.arrayBuffer()).equals(bytes));
    const cat = spawnSync('script', ['-qc', `asciinema cat ${path.join(recDir, file)}`, '/dev/null'], { encoding: 'utf8' });
    assert.equal(cat.status, 0, cat.stderr);
    assert.match(cat.stdout, new RegExp(word));
  });
  await check('gatehousectl: sessions list, recordings list/show/download/play against the real server', async () => {
    const l = ctl('carol', ['--json', 'sessions', 'list']);
    assert.equal(l.status, 0, l.stderr);
    assert.ok(JSON.parse(l.stdout).items.some((x) => x.id === sessId && x.end_reason === 'target_closed'));
    const table = ctl('carol', ['sessions', 'list', '--target', 'web1']);
    assert.equal(table.status, 0, table.stderr);
    assert.match(table.stdout, /target_closed/);
    const rl = ctl('carol', ['recordings', 'list', '--user', 'alice']);
    assert.equal(rl.status, 0, rl.stderr);
    assert.match(rl.stdout, /web1/);
    const sh = ctl('carol', ['recordings', 'show', String(recId)]);
    assert.equal(sh.status, 0, sh.stderr);
    assert.match(sh.stdout, /complete/);
    const out = path.join(tmp, 'dl.cast');
    const dl = ctl('carol', ['recordings', 'download', String(recId), '-o', out]);
    assert.equal(dl.status, 0, dl.stderr);
    assert.match(fs.readFileSync(out, 'utf8'), new RegExp(word));
    const play = ctl('carol', ['recordings', 'play', String(recId), '--speed', '100']);
    assert.equal(play.status, 0, play.stderr);
    assert.match(play.stdout, new RegExp(word));
    const denied = ctl('alice', ['recordings', 'show', String(recId)]);
    assert.equal(denied.status, 1);
  });
  await check('recordings: no IDOR (404 for others), owners only where policy allows', async () => {
    assert.equal((await call('eve', 'GET', `/api/v1/recordings/${recId}`)).status, 404);
    assert.equal((await call('alice', 'GET', `/api/v1/recordings/${recId}`)).status, 404); // owner_playback off
    assert.equal((await fetch(`${base}/api/v1/recordings/${recId}/cast`, { headers: { authorization: `Bearer ${tok.bob}` } })).status, 404);
    assert.equal((await call('carol', 'GET', '/api/v1/recordings/999999')).status, 404);
    assert.deepEqual((await call('alice', 'GET', '/api/v1/recordings')).body.items, []);
    assert.ok((await call('dave', 'GET', '/api/v1/recordings?target=web1')).body.items.some((x) => x.id === recId));
    assert.match(sql("SELECT group_concat(actor || ':' || action, ' ') FROM audit WHERE action = 'recording.download'"), /carol:recording.download/);
  });

  for (const g of ['auto', 'vm2', 'badkey', 'nokey', 'idle', 'doomed', 'byname']) await grant(g);
  await check('idle timeout: no input or output for the target\'s idle_timeout ends the session', async () => {
    const s = await openShell('idle');
    const t0 = Date.now();
    await expectClose(s, 'idle_timeout', 4411);
    const ms = Date.now() - t0;
    assert.ok(ms >= 4000 && ms < 8000, `${ms} ms`);
  });
  await check('recording required but not writable: refused before anything starts (fail closed)', async () => {
    const moved = `${recDir}.moved`;
    fs.renameSync(recDir, moved);
    fs.writeFileSync(recDir, 'not a directory');
    try {
      const before = children(gw.pid);
      const c = await expectClose(openSession(base, { target: 'auto', token: tok.alice }), 'recording_failed', 4507);
      assert.match(c.frame.message, /record/);
      assert.deepEqual(children(gw.pid).filter((p) => !before.includes(p)), [], 'no worker was started');
    } finally {
      fs.rmSync(recDir);
      fs.renameSync(moved, recDir);
    }
  });
  await check('a target removed from the configuration (SIGHUP) ends its live sessions', async () => {
    const s = await openShell('doomed');
    const keep = await openShell('auto');
    const text = fs.readFileSync(conf, 'utf8');
    fs.writeFileSync(conf, text.replace(/\[target doomed\][^[]*/, ''));
    try {
      const t0 = Date.now();
      process.kill(gw.pid, 'SIGHUP');
      await expectClose(s, 'target_removed', 4410);
      assert.ok(Date.now() - t0 < 2000);
      keep.input('echo kept\r');
      await keep.waitOutput(/kept/);
      keep.send(F.CLOSE);
      await keep.closed;
    } finally {
      fs.writeFileSync(conf, text);
      process.kill(gw.pid, 'SIGHUP');
    }
  });
  await check('wrong password: auth_failed, and no worker is left', async () => {
    const s = openSession(base, { target: 'auto', token: tok.alice });
    await s.waitState('credentials');
    s.credential({ username: v.GH_TARGET_USER, password: 'not-the-password' });
    const c = await expectClose(s, 'auth_failed', 4503);
    assert.ok(c.frame.message.length > 0);
    for (let i = 0; i < 40 && children(gw.pid).length; i++) await sleep(50);
    assert.deepEqual(children(gw.pid), []);
  });
  await check('host key mismatch: refused, both fingerprints named', async () => {
    const c = await expectClose(openSession(base, { target: 'badkey', token: tok.alice }), 'host_key_mismatch', 4502);
    assert.ok(c.frame.message.includes(v.GH_TARGET_HOSTKEY_SHA256), c.frame.message);
    assert.ok(c.frame.message.includes('SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'), c.frame.message);
  });
  await check('no pinned key: refused (host_key_unknown), the key named', async () => {
    const c = await expectClose(openSession(base, { target: 'nokey', token: tok.alice }), 'host_key_unknown', 4502);
    assert.ok(c.frame.message.includes(v.GH_TARGET_HOSTKEY_SHA256), c.frame.message);
  });
  await check('a key pair works as the credential', async () => {
    const s = await openShell('auto', { username: v.GH_TARGET_USER, private_key: fs.readFileSync(v.GH_TARGET_KEY, 'utf8') });
    s.input('echo key-ok\r');
    await s.waitOutput(/key-ok/);
    s.send(F.CLOSE, Buffer.from('{}'));
    await expectClose(s, 'user_closed', 1000);
  });

  await check('a target declared by DNS name: resolved off the loop, the worker reaches the address', async () => {
    const s = await openShell('byname', { username: v.GH_TARGET_USER, private_key: fs.readFileSync(v.GH_TARGET_KEY, 'utf8') });
    s.input('echo by-name-ok\r');
    await s.waitOutput(/by-name-ok/);
    s.send(F.CLOSE, Buffer.from('{}'));
    await expectClose(s, 'user_closed', 1000);
    const addr = v.GH_TARGET_ADDR.replace(/\./g, '\\.');
    assert.match(gw.log(), new RegExp(`target name resolved" session=\\d+ target="byname" address=${addr}\n`));
  });

  await check('bad frames end only their own session (unknown type, oversize, text, garbage)', async () => {
    const good = await openShell();
    for (const bad of [
      (s) => s.send(0x99, Buffer.from('x')),
      (s) => s.send(F.INPUT, Buffer.alloc(70000, 0x61)),
      (s) => s.ws.send('a text message'),
      (s) => s.send(F.RESIZE, Buffer.from([1, 2, 3])),
      (s) => s.send(F.OUTPUT, Buffer.from('forged output')),
    ]) {
      const s = await openShell();
      bad(s);
      await expectClose(s, 'protocol_error', 4400);
    }
    good.input('echo still-here\r');
    await good.waitOutput(/still-here/);
    good.send(F.CLOSE);
    await good.closed;
  });
  await check('a worker killed with SIGKILL ends only its session', async () => {
    const a = await openShell();
    const before = children(gw.pid);
    const b = await openShell();
    const victim = children(gw.pid).filter((p) => !before.includes(p));
    assert.equal(victim.length, 1);
    process.kill(victim[0], 'SIGKILL');
    await expectClose(b, 'worker_failed', 4500);
    a.input('echo a-lives\r');
    await a.waitOutput(/a-lives/);
    a.send(F.CLOSE);
    await a.closed;
    for (let i = 0; i < 40 && children(gw.pid).length; i++) await sleep(50);
    assert.deepEqual(children(gw.pid), []);
  });
  await check('revocation mid-session: the browser is told within 2 s', async () => {
    const s = await openShell();
    const gid = s.statuses.find((x) => x.state === 'connecting').grant_id;
    const t0 = Date.now();
    const r = await call('bob', 'POST', `/api/v1/grants/${gid}/revoke`, { reason: 'incident' });
    assert.equal(r.status, 200);
    await expectClose(s, 'grant_revoked', 4408);
    const ms = Date.now() - t0;
    console.log(`# revoke -> close: ${ms} ms`);
    assert.ok(ms < 2000, `${ms} ms`);
  });
  await check('expiry mid-session: ends within 2 s of the grant\'s end', async () => {
    await grant('auto', 4);
    const s = await openShell();
    const exp = s.statuses.find((x) => x.state === 'connecting').grant_expires;
    assert.ok(exp - Date.now() < 5000);
    await expectClose(s, 'grant_expired', 4408);
    const late = Date.now() - exp;
    console.log(`# expiry -> close: ${late} ms after the grant's end`);
    assert.ok(late < 2000, `${late} ms`);
  });
  await grant('auto');
  await check('admin kill: only admins; the browser is told within 2 s', async () => {
    const s = await openShell();
    const id = s.statuses.find((x) => x.state === 'connecting').session;
    assert.equal((await call('alice', 'POST', `/api/v1/sessions/${id}/kill`, {})).status, 403);
    assert.equal((await call('carol', 'POST', `/api/v1/sessions/${id}/kill`, {})).status, 403);
    const live = await call('carol', 'GET', '/api/v1/sessions?live=1');
    assert.ok(live.body.items.some((x) => x.id === id && x.ended === null));
    const t0 = Date.now();
    const k = ctl('dave', ['sessions', 'kill', String(id), '--reason', 'audit']);
    assert.equal(k.status, 0, k.stderr);
    const c = await expectClose(s, 'admin_kill', 4409);
    assert.match(c.frame.message, /dave/);
    assert.ok(Date.now() - t0 < 2000);
    assert.equal((await call('dave', 'POST', `/api/v1/sessions/${id}/kill`, {})).status, 409);
  });
  await check('sshd killed mid-session: the browser is told within 2 s, worker reaped', async () => {
    const s = await openShell('vm2', { username: vm2.env.GH_TARGET_USER, password: vm2.env.GH_TARGET_PASSWORD });
    const pids = execFileSync('ip', ['netns', 'pids', vm2.env.GH_TARGET_NS]).toString().trim().split('\n').map(Number);
    const t0 = Date.now();
    for (const p of pids) { try { process.kill(p, 'SIGKILL'); } catch { /* gone */ } }
    await expectClose(s, 'target_closed', 1000);
    assert.ok(Date.now() - t0 < 2000, `${Date.now() - t0} ms`);
    for (let i = 0; i < 40 && children(gw.pid).length; i++) await sleep(50);
    assert.deepEqual(children(gw.pid), []);
  });
  await check('a browser that stops reading while the VM floods: gateway memory stays bounded', async () => {
    const s = await openShell('auto', creds, { readOutput: false });
    const rss0 = rssKiB(gw.pid);
    s.ws._socket.pause(); // stop reading: TCP fills, the gateway must stop reading the worker
    s.input('head -c 300000000 /dev/zero | tr "\\0" x\r');
    let peak = rss0;
    for (let i = 0; i < 25; i++) {
      await sleep(200);
      peak = Math.max(peak, rssKiB(gw.pid));
    }
    console.log(`# gateway RSS: ${rss0} KiB before, peak ${peak} KiB while the browser does not read (+${peak - rss0} KiB)`);
    // Under ASan, freed blocks wait in its quarantine (up to 256 MiB), so
    // RSS measures ASan, not the gateway: the bound is checked in the
    // normal build (measured there: about 1 MiB).
    const asan = execFileSync('ldd', [process.env.GATEHOUSED]).toString().includes('libasan');
    if (!asan) assert.ok(peak - rss0 < 8 * 1024, `grew by ${peak - rss0} KiB`);
    const got = s.outputBytes;
    s.ws._socket.resume();
    await s.wait(() => s.outputBytes > got + 1000000, 'output after resuming');
    s.send(F.CLOSE);
    await s.closed;
  });
  await check('tunnel: bytes both ways to the target\'s SSH port; listed as a tunnel session with its bytes', async () => {
    const tn = openTunnel(base, { target: 'auto', port: 22, token: tok.alice });
    await tn.wait(() => tn.controls.some((c) => c.type === 'open'), 'open');
    await tn.wait(() => tn.data.includes('SSH-2.0-'), 'the sshd banner');
    tn.ws.send(Buffer.from('SSH-2.0-gatehouse_test\r\n'));
    await tn.wait(() => tn.bytes > 200, 'key exchange bytes');
    const id = tn.controls.find((c) => c.type === 'open').session;
    const live = await call('carol', 'GET', '/api/v1/sessions?live=1');
    const row = live.body.items.find((x) => x.id === id);
    assert.equal(row.kind, 'tunnel');
    assert.equal(row.protocol, 'tcp');
    tn.ws.send(JSON.stringify({ type: 'close' }));
    await tn.closed;
    for (let i = 0; i < 20; i++) {
      const r = (await call('carol', 'GET', `/api/v1/sessions?after=${id - 1}&limit=1`)).body.items[0];
      if (r.ended) { assert.ok(r.bytes_in > 20 && r.bytes_out > 200, JSON.stringify(r)); return; }
      await sleep(100);
    }
    assert.fail('the tunnel session did not end');
  });
  await check('tunnel: refused before any byte reaches a target (no grant, undeclared port, SSRF names)', async () => {
    const cases = [
      [{ target: 'web1', port: 22, token: tok.bob }, 'no_grant'],
      [{ target: 'auto', port: 2222, token: tok.alice }, 'port_not_declared'],
      [{ target: 'webonly', port: 22, token: tok.alice }, 'port_not_granted'],
      [{ target: '127.0.0.1', port: 22, token: tok.alice }, 'unknown_target'],
      [{ target: v.GH_TARGET_ADDR, port: 22, token: tok.alice }, 'unknown_target'],
      [{ target: '169.254.169.254', port: 80, token: tok.alice }, 'unknown_target'],
      [{ target: 'localhost', port: port, token: tok.alice }, 'unknown_target'],
      [{ target: 'auto', port: 0, token: tok.alice }, 'port_not_declared'],
      [{ target: 'auto', port: 22 }, 'unauthenticated'],
    ];
    for (const [o, reason] of cases) {
      const tn = openTunnel(base, o);
      const c = await tn.closed;
      assert.equal(c.control && c.control.reason, reason, `${JSON.stringify(o.target)}:${o.port} -> ${JSON.stringify(c)}`);
      assert.equal(tn.bytes, 0);
    }
    assert.match(sql("SELECT group_concat(detail, ' ') FROM audit WHERE action = 'jit.decide'"), /"target":"169.254.169.254".*"via":"tunnel"/);
    const cross = openTunnel(base, { target: 'auto', port: 22, token: tok.alice, origin: 'https://evil.example' });
    await assert.rejects(cross.opened, /handshake refused: 403/);
  });
  await check('tunnel: revocation ends it within 2 s and says why', async () => {
    const tn = openTunnel(base, { target: 'doomed', port: 22, token: tok.alice });
    await tn.wait(() => tn.controls.some((c) => c.type === 'open'), 'open');
    const gid = (await call('alice', 'GET', '/api/v1/grants?live=1&target=doomed')).body.items.at(-1).id;
    const t0 = Date.now();
    assert.equal((await call('bob', 'POST', `/api/v1/grants/${gid}/revoke`, { reason: 'stop' })).status, 200);
    const c = await tn.closed;
    assert.equal(c.control.reason, 'grant_revoked');
    assert.equal(c.code, 4408);
    assert.ok(Date.now() - t0 < 2000);
  });
  await check('gatehoused SIGKILLed mid-session: the recording plays to its last flush; a restart ends the session', async () => {
    const s = await openShell();
    const id = s.statuses.find((x) => x.state === 'connecting').session;
    s.input('echo before-the-crash\r');
    await s.waitOutput(/before-the-crash/);
    await sleep(1500); // one flush
    await gw.stop('SIGKILL');
    await s.closed;
    const file = fs.readdirSync(recDir).find((f) => f.startsWith(`session-${id}-`));
    const cat = spawnSync('script', ['-qc', `asciinema cat ${path.join(recDir, file)}`, '/dev/null'], { encoding: 'utf8' });
    assert.match(cat.stdout, /before-the-crash/);
    gw = await startGateway({ dir: gwDir, args: gwArgs, hosts });
    assert.equal(sql(`SELECT end_reason FROM remote_sessions WHERE id = ${id}`), 'gateway_restart');
    const rec = sql(`SELECT state || ' ' || sha256 || ' ' || size FROM recordings WHERE session_id = ${id}`).split(' ');
    const bytes = fs.readFileSync(path.join(recDir, file));
    assert.deepEqual(rec, ['truncated', crypto.createHash('sha256').update(bytes).digest('hex'), String(bytes.length)]);
    assert.equal(sql('SELECT count(*) FROM remote_sessions WHERE ended_ms IS NULL'), '0');
  });
  await check('every session ended in the store and the audit log', async () => {
    assert.equal(sql('SELECT count(*) FROM remote_sessions WHERE ended_ms IS NULL'), '0');
    const ends = sql("SELECT group_concat(DISTINCT json_extract(detail, '$.reason')) FROM audit WHERE action = 'session.end'");
    for (const r of ['target_closed', 'auth_failed', 'host_key_mismatch', 'grant_revoked', 'grant_expired', 'admin_kill',
      'protocol_error', 'worker_failed', 'idle_timeout', 'target_removed', 'recording_failed']) {
      assert.ok(ends.includes(r), `${r} in ${ends}`);
    }
  });
} catch (e) {
  t.fail(e);
} finally {
  for (const s of sessions) { try { s.ws.terminate(); } catch { /* closed */ } }
  // A clean exit: under ASan a leak or an error would make it non-zero.
  if (gw) {
    const code = await gw.stop();
    if (code !== 0) t.fail(new Error(`gatehoused exited ${code}:\n${gw.log().split('\n').slice(-30).join('\n')}`));
  }
  if (idp) await idp.stop();
  for (const vm of [vm1, vm2]) if (vm) await vm.down().catch((e) => t.fail(e));
  t.finish();
}
