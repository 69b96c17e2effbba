// worker-ssh.mjs - the real gatehouse-worker against a real OpenSSH sshd in
// a network namespace (tests/harness/target), driven over fd 3 exactly as
// the broker drives it: START, STATUS, CREDENTIAL, INPUT, RESIZE, OUTPUT,
// CLOSE (docs/PROTOCOL.md). Needs root. GATEHOUSE_WORKER names the binary.
//
// Prints "ok - ..." / "not ok - ..." and "N passed, N failed"; exit 0 when
// all passed. GH_TEST_VERBOSE=1 shows the workers' log lines.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { testRun } from '../harness/testkit.mjs';
import { T, alive, frame, rssKiB, run, sleep, startWorker } from './worker-lib.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const TARGET = path.join(HERE, '..', 'harness', 'target');
const BIN = process.env.GATEHOUSE_WORKER;
// Limits the test asserts, with why:
// the worker's RSS under a flood it cannot pass on: its 1 MiB queue,
// libssh's ~1.25 MB channel window and packet buffers, OpenSSL; measured
// around 10 MiB. 64 MiB leaves room for sanitizer builds' allocators.
const RSS_LIMIT_KIB = 64 * 1024;
// The broker closing its end must end the worker this fast.
const LINK_EXIT_MS = 1000;
// The VM dying mid-session must be reported this fast.
const TARGET_GONE_MS = 2000;
// Bytes the flood sends: `yes` through the PTY becomes "y\r\n".
const FLOOD_BYTES = 50000000;

if (!BIN) {
  console.log('not ok - GATEHOUSE_WORKER is not set (run through ctest)');
  process.exit(1);
}
if (process.getuid() !== 0) {
  console.log('not ok - worker-ssh.mjs needs root (network namespaces)');
  process.exit(1);
}

const t = testRun('gh-worker-ssh', 280000);
fs.chmodSync(t.tmp, 0o755); // the target's user must reach its home below
const stateDir = path.join(t.tmp, 'vm');
fs.mkdirSync(stateDir);
const workers = [];
let targetUp = false;

// Whatever happens (even the run's time limit), no target and no worker
// is left behind.
process.on('exit', () => {
  for (const w of workers) w.kill();
  if (targetUp) {
    try {
      execFileSync(TARGET, ['down', '--state-dir', stateDir], { stdio: 'ignore' });
    } catch {
      // target gc will find it
    }
  }
});

function worker(opts) {
  const w = startWorker(BIN, opts);
  workers.push(w);
  return w;
}

function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}
function assertEq(a, b, msg) {
  if (a !== b) throw new Error(`${msg}: expected ${JSON.stringify(b)}, got ${JSON.stringify(a)}`);
}

// The worker's exit, within ms.
async function exitOf(w, ms = 10000) {
  const r = await Promise.race([w.exited, sleep(ms).then(() => null)]);
  assert(r, `worker ${w.pid} did not exit within ${ms} ms; stderr: ${w.stderr.slice(-1000)}`);
  return r;
}

const env = {};
function startArgs(extra = {}) {
  return {
    address: env.GH_TARGET_ADDR,
    port: Number(env.GH_TARGET_PORT),
    host_key: env.GH_TARGET_HOSTKEY_SHA256,
    cols: 80,
    rows: 24,
    username: env.GH_TARGET_USER,
    connect_timeout: 10,
    keepalive: 30,
    ...extra,
  };
}

// START .. STATUS open with a password (or the given credential).
async function openSession(w, cred, extra = {}) {
  w.start(startArgs(extra));
  const hk = await w.status('hostkey');
  assertEq(hk.fingerprint, env.GH_TARGET_HOSTKEY_SHA256, 'hostkey fingerprint');
  await w.status('credentials');
  w.credential(cred || { username: env.GH_TARGET_USER, password: env.GH_TARGET_PASSWORD });
  await w.status('open');
}

// Processes in the target's namespace other than its listening sshd.
function sessionPids() {
  const out = execFileSync('ip', ['netns', 'pids', env.GH_TARGET_NS]).toString();
  return out.split('\n').map(Number).filter((p) => p > 0 && p !== Number(env.GH_TARGET_SSHD_PID))
    .filter(alive);
}
function comm(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

try {
  const out = await run(TARGET, ['up', '--state-dir', stateDir, '--owner-pid', String(process.pid)]);
  targetUp = true;
  for (const l of out.split('\n')) {
    const i = l.indexOf('=');
    if (i > 0) env[l.slice(0, i)] = l.slice(i + 1);
  }
  console.log(`# target ${env.GH_TARGET_ADDR} user ${env.GH_TARGET_USER} key ${env.GH_TARGET_HOSTKEY_SHA256}`);

  // ------------------------------------------------------------ password
  await t.check('password: open, echo, resize, exit -> target_closed, exit 0', async () => {
    const w = worker({ logLevel: 'trace' });
    await openSession(w);
    const word = `hello-${Math.floor(Math.random() * 1e9)}`;
    w.input(`echo ${word}\r`);
    // The command's output, not its echo: at the start of a line (after
    // the shell's bracketed-paste sequence that line may begin with \r).
    await w.waitOutput(new RegExp(`[\\r\\n]${word}\\r\\n`));
    w.resize(132, 43);
    w.input('stty size\r');
    await w.waitOutput(/[\r\n]43 132\r\n/);
    w.input('exit 7\r');
    const c = await w.waitClose();
    assertEq(c.reason, 'target_closed', 'reason');
    assert(/status 7/.test(c.message), `message names the exit status: ${c.message}`);
    const e = await exitOf(w);
    assertEq(e.code, 0, 'exit code');
    // Never logged, even at trace level.
    assert(!w.stderr.includes(env.GH_TARGET_PASSWORD), 'the password is not in the log');
    assert(/msg="sandboxed" landlock_abi=\d+/.test(w.stderr), 'the sandbox was applied');
  });

  await t.check('sandbox: no_new_privs, not dumpable, limits (from /proc)', async () => {
    const w = worker({ logLevel: 'debug' });
    await openSession(w);
    const status = fs.readFileSync(`/proc/${w.pid}/status`, 'utf8');
    assert(/NoNewPrivs:\s+1/.test(status), 'NoNewPrivs: 1');
    const limits = fs.readFileSync(`/proc/${w.pid}/limits`, 'utf8');
    assert(/Max core file size\s+0\s+0\s/.test(limits), `core 0: ${limits}`);
    assert(/Max open files\s+16\s+16\s/.test(limits), 'nofile 16');
    // The worker's fds: 0-3 and its one TCP socket to the VM.
    const fds = fs.readdirSync(`/proc/${w.pid}/fd`).map(Number).sort((a, b) => a - b);
    assertEq(fds.join(','), '0,1,2,3,4', 'open fds');
    // RSS of an idle open session, for the report.
    console.log(`# idle open session: VmRSS ${rssKiB(w.pid)} KiB`);
    w.close();
    assertEq((await exitOf(w)).code, 0, 'exit code after the broker\'s CLOSE');
  });

  await t.check('a size from START and a CREDENTIAL sent right behind START', async () => {
    const w = worker();
    w.start(startArgs({ cols: 100, rows: 30 }));
    w.credential({ username: env.GH_TARGET_USER, password: env.GH_TARGET_PASSWORD });
    await w.status('hostkey');
    await w.status('credentials');
    await w.status('open');
    w.input('stty size\r');
    await w.waitOutput(/[\r\n]30 100\r\n/);
    w.close();
    assertEq((await exitOf(w)).code, 0, 'exit code');
  });

  await t.check('wrong password -> auth_failed, worker exits 0', async () => {
    const w = worker();
    w.start(startArgs());
    await w.status('hostkey');
    await w.status('credentials');
    w.credential({ username: env.GH_TARGET_USER, password: `wrong-${env.GH_TARGET_PASSWORD}` });
    const c = await w.waitClose();
    assertEq(c.reason, 'auth_failed', 'reason');
    assert(c.message.includes(env.GH_TARGET_USER) && /password/.test(c.message), c.message);
    assertEq((await exitOf(w)).code, 0, 'exit code');
  });

  await t.check('unknown user -> auth_failed', async () => {
    const w = worker();
    w.start(startArgs());
    w.credential({ username: 'no-such-user', password: 'x' });
    const c = await w.waitClose();
    assertEq(c.reason, 'auth_failed', 'reason');
    assertEq((await exitOf(w)).code, 0, 'exit code');
  });

  // ------------------------------------------------------------ host keys
  await t.check('host key mismatch -> host_key_mismatch naming both fingerprints', async () => {
    const w = worker();
    const wrong = 'SHA256:' + 'A'.repeat(43);
    w.start(startArgs({ host_key: wrong }));
    const c = await w.waitClose();
    assertEq(c.reason, 'host_key_mismatch', 'reason');
    assert(c.message.includes(wrong) && c.message.includes(env.GH_TARGET_HOSTKEY_SHA256), c.message);
    assertEq((await exitOf(w)).code, 0, 'exit code');
  });

  await t.check('a pin that differs in one character -> host_key_mismatch', async () => {
    const w = worker();
    const pin = env.GH_TARGET_HOSTKEY_SHA256;
    const last = pin.slice(-1) === 'A' ? 'B' : 'A';
    w.start(startArgs({ host_key: pin.slice(0, -1) + last }));
    assertEq((await w.waitClose()).reason, 'host_key_mismatch', 'reason');
    await exitOf(w);
  });

  await t.check('empty pin -> host_key_unknown naming the presented key', async () => {
    const w = worker();
    w.start(startArgs({ host_key: '' }));
    const c = await w.waitClose();
    assertEq(c.reason, 'host_key_unknown', 'reason');
    assert(c.message.includes(env.GH_TARGET_HOSTKEY_SHA256), c.message);
    assertEq((await exitOf(w)).code, 0, 'exit code');
  });

  await t.check('empty pin with tofu -> STATUS hostkey with the fingerprint', async () => {
    const w = worker();
    w.start(startArgs({ host_key: '', tofu: true }));
    assertEq((await w.status('hostkey')).fingerprint, env.GH_TARGET_HOSTKEY_SHA256, 'fingerprint');
    await w.status('credentials');
    w.close();
    assertEq((await exitOf(w)).code, 0, 'exit code');
  });

  // ------------------------------------------------------------ keys
  const key = fs.readFileSync(env.GH_TARGET_KEY, 'utf8');
  await t.check('private key (ed25519) -> open, command runs', async () => {
    const w = worker({ logLevel: 'trace' });
    await openSession(w, { username: env.GH_TARGET_USER, private_key: key });
    w.input('echo key-$((40+2))\r');
    await w.waitOutput(/[\r\n]key-42\r\n/);
    w.close();
    assertEq((await exitOf(w)).code, 0, 'exit code');
    assert(!w.stderr.includes(key.split('\n')[1]), 'the key is not in the log');
  });

  const encKey = path.join(t.tmp, 'enc_key');
  fs.copyFileSync(env.GH_TARGET_KEY, encKey);
  fs.chmodSync(encKey, 0o600);
  execFileSync('ssh-keygen', ['-q', '-p', '-f', encKey, '-P', '', '-N', 'correct horse']);
  const enc = fs.readFileSync(encKey, 'utf8');
  await t.check('passphrase-protected key -> open; wrong passphrase -> auth_failed', async () => {
    const w = worker();
    await openSession(w, { username: env.GH_TARGET_USER, private_key: enc, passphrase: 'correct horse' });
    w.close();
    assertEq((await exitOf(w)).code, 0, 'exit code');
    const v = worker();
    v.start(startArgs());
    v.credential({ username: env.GH_TARGET_USER, private_key: enc, passphrase: 'wrong' });
    const c = await v.waitClose();
    assertEq(c.reason, 'auth_failed', 'reason');
    assert(/private key could not be read/.test(c.message), c.message);
    assertEq((await exitOf(v)).code, 0, 'exit code');
  });

  // ------------------------------------------------------------ protocol errors
  const protocolError = async (what, send) => {
    await t.check(`broker sends ${what} -> CLOSE protocol_error, exit 2`, async () => {
      const w = worker();
      await send(w);
      const c = await w.waitClose();
      assertEq(c.reason, 'protocol_error', `reason (${c.message})`);
      const e = await exitOf(w);
      assertEq(e.code, 2, 'exit code');
    });
  };
  await protocolError('INPUT before START', (w) => w.input('ls\r'));
  await protocolError('CREDENTIAL before START', (w) => w.credential({ username: 'u', password: 'p' }));
  await protocolError('an unknown type first', (w) => w.send(0x7f, '{}'));
  await protocolError('garbage bytes', (w) => w.raw(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')));
  await protocolError('a zero-length frame', (w) => w.raw(Buffer.from([0, 0, 0, 0])));
  await protocolError('an oversize length prefix', (w) => w.raw(Buffer.from([0x7f, 0xff, 0xff, 0xff, 6])));
  await protocolError('a payload of 64 KiB + 1', (w) => w.send(T.START, Buffer.alloc(65537, 0x20)));
  await protocolError('START that is not JSON', (w) => w.send(T.START, 'protocol=ssh'));
  await protocolError('START for another protocol', (w) => w.start({ ...startArgs(), protocol: 'rdp' }));
  await protocolError('START with a host name', (w) => w.start(startArgs({ address: 'localhost' })));
  await protocolError('START with port 0', (w) => w.start(startArgs({ port: 0 })));
  await protocolError('START with cols 1001', (w) => w.start(startArgs({ cols: 1001 })));
  await protocolError('an OUTPUT frame (wrong direction)', async (w) => {
    w.start(startArgs());
    await w.status('hostkey');
    w.send(T.OUTPUT, 'x');
  });
  await protocolError('an unknown type after START', async (w) => {
    w.start(startArgs());
    await w.status('hostkey');
    w.send(0x08, 'x');
  });
  await protocolError('a bad RESIZE (0 rows) in a session', async (w) => {
    await openSession(w);
    w.send(T.RESIZE, Buffer.from([0, 80, 0, 0]));
  });
  await protocolError('START twice', async (w) => {
    w.start(startArgs());
    w.start(startArgs());
  });
  await protocolError('a CREDENTIAL that is not JSON', async (w) => {
    w.start(startArgs());
    w.send(T.CREDENTIAL, 'user:pass');
  });
  await protocolError('a CREDENTIAL with both password and key', async (w) => {
    w.start(startArgs());
    w.credential({ username: 'u', password: 'p', private_key: 'k' });
  });
  await protocolError('a second CREDENTIAL', async (w) => {
    await openSession(w);
    w.credential({ username: 'u', password: 'p' });
  });

  // ------------------------------------------------------------ connect failures
  await t.check('closed port -> connect_failed', async () => {
    const w = worker();
    w.start(startArgs({ port: 1 }));
    const c = await w.waitClose();
    assertEq(c.reason, 'connect_failed', 'reason');
    assert(/port 1/.test(c.message), c.message);
    assertEq((await exitOf(w)).code, 0, 'exit code');
  });

  await t.check('address without a route -> connect_failed at once', async () => {
    const w = worker();
    const t0 = Date.now();
    w.start(startArgs({ address: '198.19.255.253' }));
    assertEq((await w.waitClose()).reason, 'connect_failed', 'reason');
    assert(Date.now() - t0 < 3000, `took ${Date.now() - t0} ms`);
    await exitOf(w);
  });

  await t.check('a server that never speaks SSH -> connect_failed after connect_timeout', async () => {
    const socks = [];
    const srv = net.createServer((s) => socks.push(s));
    await new Promise((r) => srv.listen(0, '127.0.0.1', r));
    try {
      const w = worker();
      const t0 = Date.now();
      w.start(startArgs({ address: '127.0.0.1', port: srv.address().port, connect_timeout: 1 }));
      const c = await w.waitClose(5000);
      const ms = Date.now() - t0;
      assertEq(c.reason, 'connect_failed', 'reason');
      assert(/within 1 s/.test(c.message), c.message);
      assert(ms >= 900 && ms < 3000, `took ${ms} ms`);
      await exitOf(w);
    } finally {
      for (const s of socks) s.destroy();
      srv.close();
    }
  });

  // ------------------------------------------------------------ broker gone
  const linkGone = async (what, before) => {
    await t.check(`broker end closed ${what} -> worker exits within ${LINK_EXIT_MS} ms`, async () => {
      const w = worker();
      await before(w);
      const t0 = Date.now();
      w.sock.destroy();
      const e = await exitOf(w, 5000);
      const ms = e.at - t0;
      console.log(`# exit after the broker closed (${what}): ${ms} ms, status ${e.code}`);
      assert(ms < LINK_EXIT_MS, `took ${ms} ms`);
      assertEq(e.code, 3, 'exit code');
    });
  };
  await linkGone('before START', () => sleep(200));
  await linkGone('while waiting for the credential', async (w) => {
    w.start(startArgs());
    await w.status('hostkey');
    await w.status('credentials');
  });
  await linkGone('in an open session', (w) => openSession(w));
  await linkGone('while the worker holds INPUT the VM does not take', async (w) => {
    await openSession(w);
    // Stop the shell so that the channel window closes to input.
    // Stop the shell: the PTY, then sshd's channel window (2 MiB) fill
    // up, and the worker is left holding INPUT it cannot write.
    w.input('stty -echo; kill -STOP $$\r');
    await sleep(300);
    for (let i = 0; i < 64; i++) w.input('a'.repeat(65536));
    await sleep(500);
    assert(w.sock.writableLength > 0, 'the worker holds INPUT and stopped reading');
  });

  // ------------------------------------------------------------ VM gone
  await t.check(`sshd killed mid-session -> CLOSE target_closed within ${TARGET_GONE_MS} ms`, async () => {
    const w = worker();
    await openSession(w);
    w.input('echo before-$((1+1))\r');
    await w.waitOutput(/[\r\n]before-2\r\n/);
    const pids = sessionPids();
    assert(pids.length > 0, 'session processes found');
    const t0 = Date.now();
    for (const p of pids) process.kill(p, 'SIGKILL');
    const c = await w.waitClose(5000);
    const ms = Date.now() - t0;
    console.log(`# CLOSE after sshd was killed: ${ms} ms (${c.message})`);
    assertEq(c.reason, 'target_closed', 'reason');
    assert(ms < TARGET_GONE_MS, `took ${ms} ms`);
    assertEq((await exitOf(w)).code, 0, 'exit code');
  });

  await t.check('a VM that stops answering -> target_closed after 3 keepalives', async () => {
    const w = worker();
    await openSession(w, null, { keepalive: 1 });
    const pids = sessionPids();
    for (const p of pids) process.kill(p, 'SIGSTOP');
    try {
      const t0 = Date.now();
      const c = await w.waitClose(8000);
      const ms = Date.now() - t0;
      assertEq(c.reason, 'target_closed', 'reason');
      assert(/keepalive/.test(c.message), c.message);
      assert(ms >= 2000 && ms < 6000, `took ${ms} ms`);
    } finally {
      for (const p of pids) {
        try {
          process.kill(p, 'SIGKILL');
          process.kill(p, 'SIGCONT');
        } catch {
          // gone
        }
      }
    }
    await exitOf(w);
  });

  await t.check('keepalive 1 s on a healthy idle session: still open after 4 s', async () => {
    const w = worker();
    await openSession(w, null, { keepalive: 1 });
    await sleep(4000);
    assertEq(w.frames.length, 0, 'no frame while idle');
    w.input('echo alive-$((3*3))\r');
    await w.waitOutput(/[\r\n]alive-9\r\n/);
    w.close();
    assertEq((await exitOf(w)).code, 0, 'exit code');
  });

  await t.check('shell killed by a signal -> target_closed naming it', async () => {
    const w = worker();
    await openSession(w);
    w.input('kill -KILL $$\r');
    const c = await w.waitClose();
    assertEq(c.reason, 'target_closed', 'reason');
    assert(/signal KILL/.test(c.message), c.message);
    assertEq((await exitOf(w)).code, 0, 'exit code');
  });

  // ------------------------------------------------------------ flood
  await t.check('flood while the broker does not read: RSS bounded, VM held back, nothing lost', async () => {
    // In an ASan build, freed blocks wait in a quarantine (256 MB by
    // default) and would count as RSS: keep it small for this measure.
    const asan = [process.env.ASAN_OPTIONS, 'quarantine_size_mb=8'].filter(Boolean).join(':');
    const w = worker({ env: { ASAN_OPTIONS: asan } });
    await openSession(w);
    let tail = '';
    let ys = 0;
    w.onOutput = (b) => {
      for (let i = 0; i < b.length; i++) if (b[i] === 0x79) ys++;
      tail = (tail + b.toString('latin1')).slice(-200);
    };
    const idle = rssKiB(w.pid);
    // The marker is computed by the shell, so its echo does not match.
    w.input(`yes | head -c ${FLOOD_BYTES}; echo flood-$((6*7))-done\r`);
    await w.until(() => w.outBytes > 100000, 10000, 'the flood to start');
    w.sock.pause();
    let maxPaused = 0;
    for (let i = 0; i < 30; i++) {
      await sleep(100);
      maxPaused = Math.max(maxPaused, rssKiB(w.pid));
    }
    const heldBack = sessionPids().some((p) => comm(p) === 'head' || comm(p) === 'yes');
    const pausedAt = w.outBytes;
    const t0 = Date.now();
    w.sock.resume();
    let maxFlow = 0;
    const sampler = setInterval(() => {
      maxFlow = Math.max(maxFlow, rssKiB(w.pid));
    }, 50);
    try {
      await w.until(() => tail.includes('flood-42-done'), 120000, 'the end of the flood');
    } finally {
      clearInterval(sampler);
    }
    const secs = (Date.now() - t0) / 1000;
    console.log(`# flood: idle ${idle} KiB, paused max ${maxPaused} KiB, flowing max ${maxFlow} KiB; ` +
      `${(w.outBytes - pausedAt) / 1e6} MB in ${secs.toFixed(1)} s after resume`);
    assert(maxPaused < RSS_LIMIT_KIB, `RSS while paused ${maxPaused} KiB`);
    assert(maxFlow < RSS_LIMIT_KIB, `RSS while flowing ${maxFlow} KiB`);
    assert(heldBack, 'the VM was held back (yes/head still running after 3 s)');
    // "yes" appears once in the echoed command line.
    assert(ys - FLOOD_BYTES / 2 >= 0 && ys - FLOOD_BYTES / 2 <= 5, `y count ${ys}`);
    w.onOutput = null;
    w.input('exit\r');
    assertEq((await w.waitClose(20000)).reason, 'target_closed', 'reason');
    assertEq((await exitOf(w)).code, 0, 'exit code');
  });

  await t.check('paste of 4 MiB while the VM does not read: the worker stops reading the link, then all arrives', async () => {
    const w = worker();
    await openSession(w);
    // For 3 s nothing reads the terminal: the PTY, then sshd's channel
    // window (2 MiB) fill, and the worker must stop taking INPUT.
    w.input('stty -echo -icanon; sleep 3; head -c 4194304 >/dev/null; echo in-$((2*21))-done\r');
    await sleep(300);
    const chunk = 'a'.repeat(65536);
    for (let i = 0; i < 64; i++) w.input(chunk);
    await sleep(1500);
    const queued = w.sock.writableLength;
    const rss = rssKiB(w.pid);
    console.log(`# paste held back: ${queued} bytes still queued in the broker's socket, worker VmRSS ${rss} KiB`);
    assert(queued > 512 * 1024, `the worker stopped reading the link (${queued} bytes queued)`);
    assert(rss < RSS_LIMIT_KIB, `RSS ${rss} KiB`);
    await w.waitOutput(/[\r\n]in-42-done\r\n/, 60000);
    assertEq(w.sock.writableLength, 0, 'everything was taken');
    w.close();
    assertEq((await exitOf(w)).code, 0, 'exit code');
  });
} catch (e) {
  t.fail(e);
} finally {
  for (const w of workers) w.kill();
  if (targetUp) {
    await run(TARGET, ['down', '--state-dir', stateDir]).catch((e) => t.fail(e));
    targetUp = false;
  }
  t.finish();
}
