// ssh-session.mjs - browser SSH path benchmarks, with the anchors run side
// by side in the same run (../shared/BENCHMARKS.md). Prints figures, never
// asserts. Needs root (an sshd target in a network namespace) and a build.
//
//   GATEHOUSED=build/release/gatehoused node tests/bench/ssh-session.mjs \
//     [--mb 100] [--runs 5] [--echo 500] [--idle 100,1000]
//
// Figures:
//  - output throughput: MB of terminal output (through a PTY on every path)
//    through the gateway's WebSocket vs direct ssh -tt vs ssh -J through an
//    OpenSSH bastion on loopback; median of runs, spread;
//  - keystroke echo round trip: one byte in, its echo out (PTY echo),
//    p50/p99, gateway vs direct ssh;
//  - connect time: WebSocket open -> first shell output byte, vs ssh -tt
//    start -> first output byte;
//  - idle sessions: PSS of gatehoused + every worker, per session, at each N.
// Every SSH hop uses aes128-gcm@openssh.com and curve25519-sha256.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openSession } from '../harness/session.mjs';
import { upTarget } from '../harness/target.mjs';
import { sleep } from '../harness/testkit.mjs';
import { arg, median, spread, quiet, pss, benchGateway, startBastion } from './benchkit.mjs';

const MB = Number(arg('mb', 100));
const RUNS = Number(arg('runs', 5));
const ECHOS = Number(arg('echo', 500));
const IDLE = arg('idle', '100').split(',').map(Number);
const CIPHER = ['-o', 'Ciphers=aes128-gcm@openssh.com', '-o', 'KexAlgorithms=curve25519-sha256'];

const pct = (a, p) => [...a].sort((x, y) => x - y)[Math.min(a.length - 1, Math.floor(a.length * p))];
const fmt = (x, d = 0) => x.toFixed(d);

function children(pid) {
  const out = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const st = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      if (Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(Number(d));
    } catch { /* gone */ }
  }
  return out;
}

// An ssh -tt process; resolves when `bytes` of output arrived (or the
// first byte, for connect time), returning elapsed ms.
function sshRun(sshArgs, cmd, { bytes = 1, input } = {}) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const p = spawn('ssh', [...sshArgs, cmd], { stdio: ['pipe', 'pipe', 'ignore'] });
    let got = 0, done = false;
    p.stdout.on('data', (d) => {
      got += d.length;
      if (!done && got >= bytes) {
        done = true;
        resolve(Number(process.hrtime.bigint() - t0) / 1e6);
        p.kill();
      }
    });
    p.on('exit', () => { if (!done) reject(new Error(`ssh ended after ${got} bytes`)); });
    if (input) p.stdin.write(input);
  });
}

// Echo round trips on an ssh -tt session: write one byte, wait for it.
async function sshEcho(sshArgs, n) {
  const p = spawn('ssh', [...sshArgs, 'stty -icanon; cat >/dev/null'], { stdio: ['pipe', 'pipe', 'ignore'] });
  let pending = null;
  let buf = '';
  p.stdout.on('data', (d) => {
    buf += d.toString('latin1');
    if (pending && buf.includes(pending.ch)) { const r = pending; pending = null; buf = ''; r.resolve(); }
  });
  await sleep(1500);
  buf = '';
  const out = [];
  for (let i = 0; i < n; i++) {
    const ch = String.fromCharCode(97 + (i % 26));
    const t0 = process.hrtime.bigint();
    await new Promise((resolve) => { pending = { ch, resolve }; p.stdin.write(ch); });
    out.push(Number(process.hrtime.bigint() - t0) / 1000);
  }
  p.kill();
  return out;
}

const S = {}; // the IdP and gatehoused (benchGateway)
let vm, bastion;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gh-bench-ssh-'));
fs.chmodSync(tmp, 0o755);
try {
  vm = await upTarget({ dir: path.join(tmp, 'vm'), name: 'bench' });
  const v = vm.env;
  const { port, base, token } = await benchGateway(S, { tmp, v, confExtra: ['recording_required = yes'], idpOpts: {} });
  const key = fs.readFileSync(v.GH_TARGET_KEY, 'utf8');
  const cred = { username: v.GH_TARGET_USER, private_key: key };

  // The OpenSSH bastion for ssh -J: an sshd on loopback in this namespace.
  const { jumpCfg } = await startBastion(S, { tmp, v });
  bastion = S.bastion;
  const direct = ['-F', '/dev/null', '-i', v.GH_TARGET_KEY, '-o', `UserKnownHostsFile=${v.GH_TARGET_KNOWN_HOSTS}`,
    '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', ...CIPHER, '-tt'];
  const jump = ['-F', jumpCfg, '-J', 'bastion', '-i', v.GH_TARGET_KEY, '-o', `UserKnownHostsFile=${v.GH_TARGET_KNOWN_HOSTS}`,
    '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', ...CIPHER, '-tt'];
  const dest = `${v.GH_TARGET_USER}@${v.GH_TARGET_ADDR}`;

  const openShell = async (readOutput = true) => {
    const s = openSession(base, { target: 'bench', token, readOutput });
    await s.waitState('credentials', 30000);
    s.credential(cred);
    await s.waitState('open', 30000);
    return s;
  };
  const bytes = MB * 1000 * 1000;
  const flood = `stty raw -echo; head -c ${bytes} /dev/zero | tr '\\0' x`;

  // ---- throughput ----
  const res = { gw: [], direct: [], jump: [] };
  for (let r = 0; r < RUNS; r++) {
    await quiet();
    const s = await openShell(false);
    await sleep(300);
    const start = s.outputBytes;
    const t0 = process.hrtime.bigint();
    s.input(`${flood}\r`);
    await s.wait(() => s.outputBytes - start >= bytes, 'flood', 600000);
    res.gw.push(bytes / 1e6 / (Number(process.hrtime.bigint() - t0) / 1e9));
    s.ws.terminate();
    res.direct.push(bytes / 1e6 / ((await sshRun([...direct, dest], flood, { bytes })) / 1000));
    res.jump.push(bytes / 1e6 / ((await sshRun([...jump, dest], flood, { bytes })) / 1000));
  }
  const g = median(res.gw), d = median(res.direct), j = median(res.jump);
  console.log(`ssh-output-${MB}MB  gatehouse=${fmt(g)}MB/s  direct=${fmt(d)}MB/s  ssh-J=${fmt(j)}MB/s  ` +
    `vs-direct=${fmt(g / d, 2)}x  vs-J=${fmt(g / j, 2)}x  (${RUNS} runs, spread gw ${spread(res.gw)} direct ${spread(res.direct)} J ${spread(res.jump)})`);

  // ---- echo round trip ----
  await quiet();
  {
    const s = await openShell();
    s.input('stty -icanon; cat >/dev/null\r');
    await sleep(1500);
    const lat = [];
    for (let i = 0; i < ECHOS; i++) {
      const ch = String.fromCharCode(97 + (i % 26));
      const before = s.outputBytes;
      const t0 = process.hrtime.bigint();
      s.input(ch);
      await s.wait(() => s.outputBytes > before, 'echo', 5000);
      lat.push(Number(process.hrtime.bigint() - t0) / 1000);
    }
    s.ws.terminate();
    const dl = await sshEcho([...direct, dest], ECHOS);
    console.log(`echo-rtt  gatehouse p50=${fmt(pct(lat, 0.5))}us p99=${fmt(pct(lat, 0.99))}us  ` +
      `direct p50=${fmt(pct(dl, 0.5))}us p99=${fmt(pct(dl, 0.99))}us  ` +
      `added p50=${fmt(pct(lat, 0.5) - pct(dl, 0.5))}us p99=${fmt(pct(lat, 0.99) - pct(dl, 0.99))}us  (${ECHOS} keystrokes)`);
  }

  // ---- connect time ----
  await quiet();
  {
    const gc = [], dc = [];
    for (let r = 0; r < RUNS; r++) {
      const t0 = process.hrtime.bigint();
      const s = openSession(base, { target: 'bench', token });
      await s.waitState('credentials', 30000);
      s.credential(cred);
      await s.wait(() => s.outputBytes > 0, 'first byte', 30000);
      gc.push(Number(process.hrtime.bigint() - t0) / 1e6);
      s.ws.terminate();
      dc.push(await sshRun([...direct, dest], 'echo x'));
      await sleep(300);
    }
    console.log(`connect  gatehouse=${fmt(median(gc))}ms  direct=${fmt(median(dc))}ms  ratio=${fmt(median(gc) / median(dc), 2)}x  ` +
      `(${RUNS} runs, spread gw ${spread(gc)} direct ${spread(dc)}; the gateway's figure includes its decision, worker start and recording)`);
  }

  // ---- idle sessions: memory per session ----
  for (const n of IDLE) {
    await sleep(2500); // ended sessions' workers are reaped
    const base0 = pss(S.gw.pid);
    const held = [];
    for (let i = 0; i < n; i += 10) {
      held.push(...await Promise.all(Array.from({ length: Math.min(10, n - i) }, () => openShell())));
    }
    await sleep(2000);
    const workers = children(S.gw.pid);
    const total = pss(S.gw.pid) + workers.reduce((a, p) => a + pss(p), 0);
    console.log(`idle-sessions-${n}  per-session=${fmt((total - base0) / n / 1024, 2)}MiB  ` +
      `(gatehoused ${fmt(pss(S.gw.pid) / 1024, 1)}MiB, ${workers.length} workers ${fmt(workers.reduce((a, p) => a + pss(p), 0) / 1024, 1)}MiB; ` +
      `anchors: direct sshd 1.7 MiB, ssh -J 1.64 MiB per session)`);
    for (const s of held) s.ws.terminate();
  }
} catch (e) {
  console.error(e);
  process.exitCode = 1;
} finally {
  if (bastion) bastion.kill();
  if (S.gw) await S.gw.stop();
  if (S.idp) await S.idp.stop();
  if (vm) await vm.down();
  fs.rmSync(tmp, { recursive: true, force: true });
}
