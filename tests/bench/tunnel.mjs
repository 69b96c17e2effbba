// tunnel.mjs - native-client tunnel path benchmarks, with the anchors run
// side by side in the same run (../shared/BENCHMARKS.md). Prints figures,
// never asserts on speed. Needs root (an sshd target in a network namespace)
// and a build.
//
//   GATEHOUSED=build/release/gatehoused [GATEHOUSE=build/release/gatehouse] \
//     node tests/bench/tunnel.mjs [--mb 200] [--runs 5] [--connects 10] \
//     [--idle 10,50] [--no-mem]
//
// The same SSH stream to the target over every path:
//   direct      ssh to the target address (the ceiling);
//   ssh-J       ssh -J through an OpenSSH bastion (a second sshd) on loopback;
//   websockify  websockify (plain ws://) -> target:22, reached through the
//               benchmark's node `ws` forwarder (a local TCP listener, one
//               WebSocket per connection, binary frames, no deflate);
//   gw-ws       the gateway's tunnel endpoint (wss://, gatehouse.tunnel.v1)
//               through the same node `ws` forwarder;
//   gw-cli      the `gatehouse tunnel` CLI listening on loopback;
//   gw-proxy    the `gatehouse proxy` CLI as ssh's ProxyCommand.
// (gw-cli and gw-proxy are skipped, with a note, when $GATEHOUSE is missing.)
//
// Figures:
//  - tunnel-down / tunnel-up: MB/s of `head -c N /dev/zero` from the target to
//    /dev/null here (down), and of `head -c N /dev/zero | ssh 'cat >/dev/null'`
//    (up). Each transfer is one ssh session multiplexed over a ControlMaster
//    connection opened beforehand through that path, so the figure is the
//    stream, not the connect. Median of runs, min/max spread.
//  - tunnel-*-cpu: CPU-seconds per GiB moved, from utime+stime(+cutime+cstime)
//    in /proc/PID/stat before/after: "relay" = everything between the ssh
//    client and the target's sshd (gatehoused, the bastion sshd tree and the
//    client's `ssh -W`, websockify's tree, the node forwarder, the CLI);
//    "all" = the whole machine's busy time in /proc/stat over the transfer.
//  - connect: `ssh ... true` start to exit, fresh connection, per path.
//  - idle-tunnels-N: PSS (/proc/PID/smaps_rollup) added per idle open tunnel
//    (N ssh sessions holding `sleep`), gatehoused vs the bastion sshd tree.
// Every SSH hop uses aes128-gcm@openssh.com and curve25519-sha256.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const SELF = fileURLToPath(import.meta.url);

// ---------------------------------------------------------------- forwarder
// `node tunnel.mjs --forwarder JSON`: a local TCP listener that opens one
// WebSocket per accepted connection and relays bytes both ways. Run as its
// own process so its CPU and memory can be measured on their own. JSON:
// { url, protocol, headers, gatehouse } ; prints "ready PORT".
if (process.argv[2] === '--forwarder') {
  const cfg = JSON.parse(process.argv[3]);
  const { default: WebSocket } = await import('ws');
  const HIGH = 1 << 20, LOW = 256 << 10, CHUNK = 64 << 10;
  const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (sock) => {
    sock.setNoDelay(true);
    const ws = new WebSocket(cfg.url, cfg.protocol ? [cfg.protocol] : [], {
      headers: cfg.headers || {}, rejectUnauthorized: false, perMessageDeflate: false,
    });
    let open = false, ended = false, closed = false, rxMsgs = 0, rxBytes = 0;
    const queue = [];
    const resumeIfLow = () => {
      if (sock.isPaused() && open && ws.bufferedAmount < LOW) sock.resume();
    };
    const toWs = (chunk) => {
      for (let o = 0; o < chunk.length; o += CHUNK) ws.send(chunk.subarray(o, o + CHUNK), { binary: true }, resumeIfLow);
      if (ws.bufferedAmount > HIGH) sock.pause();
    };
    const sendEof = () => {
      if (cfg.gatehouse) ws.send(JSON.stringify({ type: 'eof' }));
      else ws.close(1000);
    };
    sock.on('data', (d) => {
      if (open) toWs(d);
      else { queue.push(d); sock.pause(); }
    });
    sock.on('end', () => {
      ended = true;
      if (open) sendEof();
    });
    const finish = () => {
      if (closed) return;
      closed = true;
      if (ws.readyState === WebSocket.OPEN) ws.close(1000);
      else if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
    };
    sock.on('close', finish);
    sock.on('error', () => sock.destroy());
    sock.on('drain', () => ws.resume());
    ws.on('open', () => {
      open = true;
      for (const d of queue.splice(0)) toWs(d);
      if (ended) sendEof();
      else sock.resume();
    });
    ws.on('message', (data, isBinary) => {
      if (isBinary) {
        rxMsgs++; rxBytes += data.length;
        if (!sock.write(data)) ws.pause();
        return;
      }
      let m;
      try { m = JSON.parse(data.toString('utf8')); } catch { return; }
      if (m.type === 'eof') sock.end();
      else if (m.type === 'close' && m.reason !== 'target_closed') {
        process.stderr.write(`forwarder: tunnel closed: ${m.reason} ${m.message || ''}\n`);
      }
    });
    ws.on('unexpected-response', (req, res) => {
      process.stderr.write(`forwarder: handshake refused: ${res.statusCode}\n`);
      sock.destroy();
    });
    ws.on('close', () => {
      if (process.env.GH_BENCH_FWD_STATS && rxMsgs) process.stderr.write(`forwarder: received ${rxMsgs} binary messages, ${rxBytes} bytes, ${Math.round(rxBytes / rxMsgs)} per message\n`);
      closed = true; sock.end(); setTimeout(() => sock.destroy(), 5000).unref(); });
    ws.on('error', (e) => { process.stderr.write(`forwarder: ${e.message}\n`); sock.destroy(); });
  });
  server.listen(0, '127.0.0.1', () => process.stdout.write(`ready ${server.address().port}\n`));
  process.on('SIGTERM', () => process.exit(0));
  await new Promise(() => {});
}

// ---------------------------------------------------------------- benchmark
const { upTarget } = await import('../harness/target.mjs');
const { freePort, sleep } = await import('../harness/testkit.mjs');
const { arg, median, spread, quiet: quietOnce, pss, benchGateway, startBastion, waitPort } = await import('./benchkit.mjs');
const MB = Number(arg('mb', 200));
const RUNS = Number(arg('runs', 5));
const CONNECTS = Number(arg('connects', 10));
const IDLE = arg('idle', '10,50').split(',').map(Number);
const MEM = !process.argv.includes('--no-mem');
const GATEHOUSE = path.resolve(process.env.GATEHOUSE || 'build/release/gatehouse');
const CIPHER = ['-o', 'Ciphers=aes128-gcm@openssh.com', '-o', 'KexAlgorithms=curve25519-sha256'];
const TICK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
const GiB = 1024 ** 3;

const fmt = (x, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : '-');

if (process.getuid() !== 0) {
  console.log('# tunnel bench: needs root (sshd targets in network namespaces); skipped');
  process.exit(0);
}
// Absolute: the gateway harness starts it with cwd = its data dir.
process.env.GATEHOUSED = path.resolve(process.env.GATEHOUSED || 'build/release/gatehoused');
if (!fs.existsSync(process.env.GATEHOUSED)) {
  console.log(`# tunnel bench: ${process.env.GATEHOUSED} is missing; build first`);
  process.exit(1);
}

// Wait until the machine is quiet; count the batches that never were.
let noisy = 0;
async function quiet() {
  if (!(await quietOnce())) noisy++;
}
function machineBusy() {
  const v = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].split(/\s+/).slice(1).map(Number);
  return (v.reduce((x, y) => x + y, 0) - v[3] - v[4]) / TICK;
}

// /proc helpers: parent map, descendants, CPU and PSS of process trees.
function statFields(pid) {
  try {
    const st = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return st.slice(st.lastIndexOf(')') + 2).split(' '); // [0] = state, [1] = ppid
  } catch { return null; }
}
function descendants(pid) {
  const kids = new Map();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const f = statFields(d);
    if (!f) continue;
    const pp = Number(f[1]);
    if (!kids.has(pp)) kids.set(pp, []);
    kids.get(pp).push(Number(d));
  }
  const out = [];
  const walk = (p) => { for (const c of kids.get(p) || []) { out.push(c); walk(c); } };
  walk(pid);
  return out;
}
// utime+stime+cutime+cstime (fields 14-17) of a process, in seconds: a
// reaped child's time moves into its parent's cutime, so nothing is lost.
function cpuOf(pid) {
  const f = statFields(pid);
  return f ? (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / TICK : 0;
}
const treeCpu = (pid) => (pid ? cpuOf(pid) + descendants(pid).reduce((a, p) => a + cpuOf(p), 0) : 0);
const descCpu = (pid) => (pid ? descendants(pid).reduce((a, p) => a + cpuOf(p), 0) : 0);
const treePss = (pid) => (pid ? pss(pid) + descendants(pid).reduce((a, p) => a + pss(p), 0) : 0);

// Every process we start is tracked, and killed by pid (children first) at
// the end, whatever happened.
const started = new Set();
function track(child) {
  started.add(child);
  child.on('exit', () => started.delete(child));
  return child;
}
async function killTree(child, signal = 'SIGTERM') {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const pids = descendants(child.pid).reverse();
  try { child.kill(signal); } catch { /* gone */ }
  for (const p of pids) { try { process.kill(p, signal); } catch { /* gone */ } }
  const done = new Promise((r) => child.once('exit', r));
  if (await Promise.race([done.then(() => true), sleep(3000).then(() => false)])) return;
  for (const p of [child.pid, ...pids]) { try { process.kill(p, 'SIGKILL'); } catch { /* gone */ } }
}


async function startForwarder(cfg) {
  const env = { ...process.env };
  delete env.NODE_TLS_REJECT_UNAUTHORIZED; // it uses rejectUnauthorized: false itself
  const p = track(spawn(process.execPath, [SELF, '--forwarder', JSON.stringify(cfg)], { stdio: ['ignore', 'pipe', 'pipe'], env }));
  p.stderr.on('data', (d) => process.stderr.write(`# ${d}`));
  const port = await new Promise((resolve, reject) => {
    let buf = '';
    p.stdout.on('data', (d) => {
      buf += d;
      const m = /ready (\d+)/.exec(buf);
      if (m) resolve(Number(m[1]));
    });
    p.on('exit', () => reject(new Error('forwarder exited')));
  });
  return { proc: p, port };
}

// Run an ssh (or a pipeline into it); resolves { ms, code, stderr }.
function runSsh(args, { env, stdinBytes, timeoutMs = 180000 } = {}) {
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    let head = null;
    if (stdinBytes) head = track(spawn('head', ['-c', String(stdinBytes), '/dev/zero'], { stdio: ['ignore', 'pipe', 'ignore'] }));
    const p = track(spawn('ssh', args, {
      stdio: [head ? head.stdout : 'ignore', 'ignore', 'pipe'], env: env ? { ...process.env, ...env } : process.env,
    }));
    let stderr = '';
    p.stderr.on('data', (d) => { stderr += d; });
    let timedOut = false;
    const timer = setTimeout(() => { timedOut = true; killTree(p, 'SIGKILL'); if (head) killTree(head, 'SIGKILL'); }, timeoutMs);
    p.on('exit', (code) => {
      clearTimeout(timer);
      if (head) killTree(head, 'SIGKILL');
      resolve({ ms: Number(process.hrtime.bigint() - t0) / 1e6, code: timedOut ? 'timeout' : code, stderr: stderr.trim() });
    });
  });
}

const S = {}; // the IdP and gatehoused (benchGateway)
let vm, bastion, websockify, cliTunnel;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gh-bench-tun-'));
fs.chmodSync(tmp, 0o755);
let cleaning = null;
async function cleanup() {
  if (cleaning) return cleaning;
  cleaning = (async () => {
    // Clients first (held ssh sessions, masters), then relays, then servers.
    const order = [...started].sort((a, b) => (a === bastion || a === websockify || a === cliTunnel) - (b === bastion || b === websockify || b === cliTunnel));
    for (const c of order) await killTree(c);
    if (S.gw) await S.gw.stop().catch(() => {});
    if (S.idp) await S.idp.stop().catch(() => {});
    if (vm) await vm.down().catch((e) => console.error(`# target down: ${e.message}`));
    fs.rmSync(tmp, { recursive: true, force: true });
  })();
  return cleaning;
}
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, async () => { console.error(`# ${sig}: cleaning up`); await cleanup(); process.exit(130); });
}
for (const ev of ['uncaughtException', 'unhandledRejection']) {
  process.on(ev, async (e) => { console.error(`# ${ev}:`, e); await cleanup(); process.exit(1); });
}

try {
  vm = await upTarget({ dir: path.join(tmp, 'vm'), name: 'bench' });
  const v = vm.env;
  const { port, base, token } = await benchGateway(S, { tmp, v, confExtra: [], idpOpts: { accessTokenTtl: 7200 } });
  const pinHex = Buffer.from(S.gw.spki, 'base64').toString('hex');

  // The OpenSSH bastion for ssh -J: an sshd on loopback in this namespace.
  const { port: bport, jumpCfg } = await startBastion(S, { tmp, v });
  bastion = track(S.bastion);

  // websockify (plain ws://) -> target:22.
  const wsport = await freePort();
  websockify = track(spawn('/usr/bin/websockify', [`127.0.0.1:${wsport}`, `${v.GH_TARGET_ADDR}:22`], { stdio: 'ignore' }));
  await waitPort(wsport, 10000, websockify);

  // The same node ws forwarder in front of websockify and of the gateway.
  const fwdWs = await startForwarder({ url: `ws://127.0.0.1:${wsport}/`, protocol: 'binary' });
  const fwdGw = await startForwarder({
    url: `wss://127.0.0.1:${port}/api/v1/tunnel?target=bench&port=22`, protocol: 'gatehouse.tunnel.v1',
    headers: { authorization: `Bearer ${token}` }, gatehouse: true,
  });

  // The gatehouse CLI, when built.
  const cliGlobal = ['--server', base, '--insecure-pin', pinHex];
  const cliEnv = { GATEHOUSE_TOKEN: token };
  let cliPort = null, cliNote = '';
  if (!fs.existsSync(GATEHOUSE)) {
    cliNote = `${GATEHOUSE} is missing: gw-cli and gw-proxy skipped`;
  } else {
    cliPort = await freePort();
    cliTunnel = track(spawn(GATEHOUSE, [...cliGlobal, 'tunnel', 'bench', '--port', '22', '--local-port', String(cliPort), '--bind', '127.0.0.1'],
      { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...cliEnv } }));
    let cliErr = '';
    cliTunnel.stderr.on('data', (d) => { cliErr += d; });
    try {
      await waitPort(cliPort, 10000, cliTunnel);
    } catch (e) {
      cliNote = `gatehouse tunnel did not listen (${e.message}): ${cliErr.trim().split('\n').slice(-3).join(' | ')}; gw-cli and gw-proxy skipped`;
      await killTree(cliTunnel);
      cliPort = null;
    }
  }

  const dest = (host) => `${v.GH_TARGET_USER}@${host}`;
  const common = ['-F', jumpCfg, '-i', v.GH_TARGET_KEY, '-o', 'IdentitiesOnly=yes', '-o', `UserKnownHostsFile=${v.GH_TARGET_KNOWN_HOSTS}`,
    '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', '-o', 'LogLevel=ERROR', ...CIPHER];
  const viaLocal = (p) => ({ opts: ['-p', String(p), '-o', `HostKeyAlias=${v.GH_TARGET_ADDR}`], host: dest('127.0.0.1') });
  const paths = [
    { name: 'gw-ws', ...viaLocal(fwdGw.port), relay: () => [['gatehoused', S.gw.pid], ['fwd', fwdGw.proc.pid]] },
    ...(cliPort ? [
      { name: 'gw-cli', ...viaLocal(cliPort), relay: () => [['gatehoused', S.gw.pid], ['cli', cliTunnel.pid]] },
      {
        name: 'gw-proxy', opts: ['-o', `ProxyCommand=${[GATEHOUSE, ...cliGlobal, 'proxy', 'bench', '22'].join(' ')}`],
        host: dest(v.GH_TARGET_ADDR), env: cliEnv, relay: () => [['gatehoused', S.gw.pid]], clientKids: 'cli',
      },
    ] : []),
    { name: 'ssh-J', opts: ['-J', 'bastion'], host: dest(v.GH_TARGET_ADDR), relay: () => [['bastion', bastion.pid]], clientKids: 'ssh-W' },
    { name: 'websockify', ...viaLocal(fwdWs.port), relay: () => [['websockify', websockify.pid], ['fwd', fwdWs.proc.pid]] },
    { name: 'direct', opts: [], host: dest(v.GH_TARGET_ADDR), relay: () => [] },
  ];
  const sshArgs = (p, ...rest) => [...common, ...p.opts, ...rest, p.host];

  console.log(`# tunnel bench: ${MB} MB per transfer, ${RUNS} runs, target ${v.GH_TARGET_ADDR}, gateway ${base} (wss), ` +
    `websockify ws://127.0.0.1:${wsport}, bastion 127.0.0.1:${bport}, ${os.cpus().length} CPUs`);
  console.log('# throughput: one ssh session per transfer over a ControlMaster connection opened through each path beforehand ' +
    "(connect excluded); down = ssh 'head -c N /dev/zero' >/dev/null, up = head -c N /dev/zero | ssh 'cat >/dev/null'; " +
    'gateway over wss:// (TLS), websockify over plain ws://; gw-ws and websockify use the same node ws forwarder');
  if (cliNote) console.log(`# note: ${cliNote}`);

  // Sanity: every path reaches the target's sshd (host key checked).
  for (const p of paths) {
    const r = await runSsh([...sshArgs(p), 'true'], { env: p.env, timeoutMs: 30000 });
    p.ok = r.code === 0;
    if (!p.ok) console.log(`# ${p.name}: ssh through it failed (exit ${r.code}): ${r.stderr.split('\n').slice(-2).join(' | ')}`);
  }

  // ---- memory: PSS per idle open tunnel (first, while the gateway's heap
  // is fresh: after bulk transfers malloc keeps freed buffers resident and
  // new tunnels reuse them, which would hide their cost) ----
  if (MEM) {
    const memPaths = paths.filter((p) => p.ok && ['gw-ws', 'gw-cli', 'ssh-J'].includes(p.name));
    for (const n of IDLE) {
      for (const p of memPaths) {
        await sleep(1500);
        const server = p.name === 'ssh-J' ? bastion.pid : S.gw.pid;
        const client = p.name === 'gw-ws' ? fwdGw.proc.pid : p.name === 'gw-cli' ? cliTunnel.pid : null;
        const s0 = treePss(server), k0 = client ? treePss(client) : 0;
        const held = [];
        let failed = 0;
        const one = () => new Promise((resolve) => {
          const c = track(spawn('ssh', [...sshArgs(p), 'echo ready; exec sleep 3600'], { stdio: ['ignore', 'pipe', 'ignore'], env: p.env ? { ...process.env, ...p.env } : process.env }));
          held.push(c);
          const timer = setTimeout(() => { failed++; resolve(); }, 30000);
          c.stdout.on('data', (d) => { if (String(d).includes('ready')) { clearTimeout(timer); resolve(); } });
          c.on('exit', () => { clearTimeout(timer); resolve(); });
        });
        for (let i = 0; i < n; i += 5) await Promise.all(Array.from({ length: Math.min(5, n - i) }, one));
        const up = held.filter((c) => c.exitCode === null).length;
        await sleep(1000);
        const s1 = treePss(server), k1 = client ? treePss(client) : 0;
        // ssh -J: the client side relay is each client's `ssh -W` child.
        const wKids = p.name === 'ssh-J' ? held.flatMap((c) => descendants(c.pid)).reduce((a, pid) => a + pss(pid), 0) : 0;
        const serverName = p.name === 'ssh-J' ? 'bastion sshd tree' : 'gatehoused';
        const clientPart = client ? `  client ${p.name === 'gw-ws' ? 'node forwarder' : 'gatehouse tunnel'}=${fmt((k1 - k0) / up)}KiB/tunnel`
          : p.name === 'ssh-J' ? `  client ssh -W=${fmt(wKids / up)}KiB/conn` : '';
        console.log(`idle-tunnels-${n}  ${p.name}: ${serverName}=${fmt((s1 - s0) / up)}KiB/tunnel (${fmt(s1 / 1024, 1)}MiB with them)${clientPart}` +
          `  (${up} of ${n} held${failed ? `, ${failed} did not open` : ''}; ${serverName} ${fmt(s0 / 1024, 1)}MiB before)`);
        for (const c of held) await killTree(c);
      }
    }
  }

  // ---- throughput over a ControlMaster connection per path ----
  for (const p of paths.filter((x) => x.ok)) {
    p.ctl = path.join(tmp, `cm-${p.name}`);
    p.master = track(spawn('ssh', [...common, ...p.opts, '-M', '-S', p.ctl, '-o', 'ControlPersist=no', '-N', p.host],
      { stdio: ['ignore', 'ignore', 'pipe'], env: p.env ? { ...process.env, ...p.env } : process.env }));
    p.master.stderr.on('data', (d) => process.stderr.write(`# ${p.name} master: ${d}`));
  }
  for (const p of paths.filter((x) => x.master)) {
    for (let i = 0; i < 200 && !fs.existsSync(p.ctl) && p.master.exitCode === null; i++) await sleep(50);
    if (!fs.existsSync(p.ctl)) { console.log(`# ${p.name}: control master did not start`); p.master = null; }
  }
  // A mux client; ProxyCommand=false so that a dead master can never fall
  // back to a connection by another path.
  const mux = (p, cmd) => ['-F', '/dev/null', '-S', p.ctl, '-o', 'ControlMaster=no', '-o', 'ProxyCommand=/bin/false',
    '-o', 'BatchMode=yes', '-o', 'LogLevel=ERROR', p.host, cmd];
  const bytes = MB * 1000 * 1000;
  const res = {};
  for (const p of paths) res[p.name] = { down: [], up: [], cpu: { down: [], up: [] }, parts: {}, all: { down: [], up: [] }, fail: [] };
  for (let r = 0; r < RUNS; r++) {
    for (const p of paths.filter((x) => x.master)) {
      await quiet();
      for (const dir of ['down', 'up']) {
        if (p.master.exitCode !== null) { res[p.name].fail.push(`${dir}: master gone`); continue; }
        const relayCpu = () => [...p.relay().map(([l, pid]) => [l, treeCpu(pid)]),
          ...(p.clientKids ? [[p.clientKids, descCpu(p.master.pid)]] : [])];
        const c0 = relayCpu(), m0 = machineBusy();
        const out = dir === 'down'
          ? await runSsh(mux(p, `head -c ${bytes} /dev/zero`))
          : await runSsh(mux(p, 'cat >/dev/null'), { stdinBytes: bytes });
        await sleep(100); // let relays reap and account
        const c1 = relayCpu(), m1 = machineBusy();
        if (out.code !== 0) {
          res[p.name].fail.push(`${dir}: exit ${out.code} after ${fmt(out.ms / 1000, 1)}s ${out.stderr.slice(0, 200)}`);
          continue;
        }
        res[p.name][dir].push(bytes / 1e6 / (out.ms / 1000));
        const parts = c1.map(([l, c], k) => [l, ((c - c0[k][1]) * GiB) / bytes]);
        res[p.name].cpu[dir].push(parts.reduce((a, x) => a + x[1], 0));
        (res[p.name].parts[dir] ||= []).push(parts);
        res[p.name].all[dir].push(((m1 - m0) * GiB) / bytes);
      }
    }
  }
  for (const dir of ['down', 'up']) {
    const m = (name) => (res[name] && res[name][dir].length ? median(res[name][dir]) : NaN);
    const have = paths.filter((p) => res[p.name][dir].length);
    const vals = have.map((p) => `${p.name}=${fmt(m(p.name))}MB/s`).join('  ');
    const spreads = have.map((p) => `${p.name} ${spread(res[p.name][dir])}`).join(', ');
    const n = Math.max(0, ...have.map((p) => res[p.name][dir].length));
    console.log(`tunnel-${dir}  ${vals}  (${n} runs of ${MB} MB; spread ${spreads})`);
    for (const p of have.filter((x) => x.name.startsWith('gw-'))) {
      const a = m(p.name) / m('ssh-J'), b = m(p.name) / m('websockify'), c = m(p.name) / m('direct');
      console.log(`tunnel-${dir}  ${p.name}  vs-J=${fmt(a, 2)}x  vs-websockify=${fmt(b, 2)}x  vs-direct=${fmt(c, 2)}x  ` +
        `goal >=1.0x ssh-J: ${a >= 1 ? 'met' : 'NOT met'}; >=3x websockify: ${b >= 3 ? 'met' : 'NOT met'}`);
    }
    const cpu = paths.filter((p) => res[p.name][dir].length).map((p) => {
      const parts = res[p.name].parts[dir] || [];
      const split = parts.length && parts[0].length ? ` (${parts[0].map(([l], k) => `${l} ${fmt(median(parts.map((x) => x[k][1])), 2)}`).join(' + ')})` : '';
      return `${p.name}=${fmt(median(res[p.name].cpu[dir]), 2)}${split}/${fmt(median(res[p.name].all[dir]), 2)}`;
    }).join('  ');
    console.log(`tunnel-${dir}-cpu  CPU-s/GiB relay (parts)/all-machine: ${cpu}`);
  }
  for (const p of paths) for (const f of res[p.name].fail) console.log(`# ${p.name} transfer failed: ${f}`);
  for (const p of paths.filter((x) => x.master)) await killTree(p.master);

  // ---- connect time: a fresh `ssh ... true` per path ----
  await quiet();
  {
    const ct = {};
    for (const p of paths.filter((x) => x.ok)) ct[p.name] = [];
    const fails = [];
    for (let i = 0; i < CONNECTS; i++) {
      for (const p of paths.filter((x) => x.ok)) {
        const r = await runSsh([...sshArgs(p), 'true'], { env: p.env, timeoutMs: 30000 });
        if (r.code === 0) ct[p.name].push(r.ms);
        else fails.push(`${p.name}: exit ${r.code} ${r.stderr.slice(0, 200)}`);
        await sleep(100);
      }
    }
    const m = (n) => median(ct[n] || []);
    const vals = Object.keys(ct).filter((n) => ct[n].length).map((n) => `${n}=${fmt(m(n))}ms`).join('  ');
    const ratios = Object.keys(ct).filter((n) => n.startsWith('gw-') && ct[n].length).map((n) => `${n}/J=${fmt(m(n) / m('ssh-J'), 2)}x`).join('  ') + ' (time ratio: lower is faster)';
    const spreads = Object.keys(ct).filter((n) => ct[n].length).map((n) => `${n} ${spread(ct[n])}`).join(', ');
    console.log(`connect  ${vals}  ${ratios}  (ssh true start->exit, median of ${CONNECTS}, spread ${spreads})`);
    for (const f of fails) console.log(`# connect failed: ${f}`);
  }

  if (noisy) console.log(`# note: the machine was not quiet (< 8 % busy) before ${noisy} batch(es): figures are noisier`);
} catch (e) {
  console.error(e);
  process.exitCode = 1;
} finally {
  await cleanup();
}
