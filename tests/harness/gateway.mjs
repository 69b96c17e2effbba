// gateway.mjs - start and stop a real gatehoused for node-driven tests.
//
//   const gw = await startGateway({ dir, args: ['-o', 'log.level=debug'] });
//   gw.url, gw.port, gw.spki, gw.certSha256, gw.logPath
//   await gw.stop();            // SIGTERM, waits, returns the exit code
//
// The binary comes from $GATEHOUSED (set by ctest). Port 0 is used unless
// args set one, so tests never collide.
//
// hosts: { name: address } gives this gatehoused (and nothing else on the
// machine) those DNS names, for targets declared by name: it runs in a
// mount namespace of its own (root) where /etc/hosts holds them and
// /etc/resolv.conf sends every other query to loopback, refused at once,
// so no DNS packet leaves the machine.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const READY_TIMEOUT_MS = 15000;

export async function startGateway({ dir, args = [], binary = process.env.GATEHOUSED, env = {}, hosts = null }) {
  if (!binary) throw new Error('GATEHOUSED is not set (ctest sets it)');
  fs.mkdirSync(dir, { recursive: true });
  const logPath = path.join(dir, 'gatehoused.log');
  // A restart appends to the same log: look only at what this run writes.
  const from = fs.existsSync(logPath) ? fs.statSync(logPath).size : 0;
  const log = fs.openSync(logPath, 'a');
  const fullArgs = args.some((a) => a.startsWith('server.port=')) ? args : ['-o', 'server.port=0', ...args];
  let cmd = binary;
  let cmdArgs = fullArgs;
  if (hosts) {
    const hf = path.join(dir, 'hosts');
    const rf = path.join(dir, 'resolv.conf');
    fs.writeFileSync(hf, ['127.0.0.1 localhost', ...Object.entries(hosts).map(([n, a]) => `${a} ${n}`)].join('\n') + '\n');
    fs.writeFileSync(rf, 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n');
    // unshare and sh exec in place: the PID is gatehoused's.
    cmd = 'unshare';
    cmdArgs = ['--mount', '--', 'sh', '-c',
      'mount --bind "$1" /etc/hosts && mount --bind "$2" /etc/resolv.conf && shift 2 && exec "$@"',
      'sh', hf, rf, path.resolve(binary), ...fullArgs];
  }
  const child = spawn(cmd, cmdArgs, { cwd: dir, stdio: ['ignore', log, log], env: { ...process.env, ...env } });
  fs.closeSync(log);
  let exited = null;
  const exitPromise = new Promise((resolve) => child.on('exit', (code, signal) => {
    exited = { code, signal };
    resolve(exited);
  }));

  const deadline = Date.now() + READY_TIMEOUT_MS;
  let line;
  while (!line) {
    const text = fs.readFileSync(logPath).subarray(from).toString('utf8');
    line = text.split('\n').find((l) => l.includes('msg="Gatehouse is ready"'));
    if (line) break;
    if (exited || Date.now() > deadline) {
      if (!exited) child.kill('SIGKILL');
      throw new Error(`gatehoused did not become ready:\n${text}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const field = (name) => (line.match(new RegExp(` ${name}=([^ ]+)`)) || [])[1];
  return {
    pid: child.pid,
    port: Number(field('port')),
    url: field('url'),
    spki: field('spki_sha256'),
    certSha256: field('cert_sha256'),
    logPath,
    log: () => fs.readFileSync(logPath, 'utf8'),
    async stop(signal = 'SIGTERM') {
      if (!exited) child.kill(signal);
      const r = await exitPromise;
      return r.code;
    },
  };
}
