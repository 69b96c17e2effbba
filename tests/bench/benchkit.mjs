// benchkit.mjs - what the benchmarks share (../shared/BENCHMARKS.md): the
// command line, medians and spreads, waiting for a quiet machine, PSS,
// the gateway under test and the ssh -J anchor's OpenSSH bastion.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { sleep } from '../harness/testkit.mjs';

// --name VALUE from the command line, else def.
export const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : def;
};
export const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
export const spread = (a) => (a.length ? `${Math.round((100 * (Math.max(...a) - Math.min(...a))) / median(a))}%` : '-');

// Wait until the machine is quiet (< 8 % busy over 2 s), at most 30 s.
// Returns false when it never was (the run is noisy: say so).
export async function quiet() {
  const stat = () => fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].split(/\s+/).slice(1).map(Number);
  for (let i = 0; i < 15; i++) {
    const a = stat();
    await sleep(2000);
    const b = stat();
    const d = b.map((x, k) => x - a[k]);
    const total = d.reduce((x, y) => x + y, 0);
    if ((total - d[3] - d[4]) / total < 0.08) return true;
  }
  return false;
}

// PSS of one process in KiB (0 when it is gone).
export function pss(pid) {
  try {
    return Number(/^Pss:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))[1]);
  } catch { return 0; }
}

// A gatehoused trusting the test IdP, with one target "bench" (the vm's
// sshd, port 22, auto-approved; confExtra adds lines) and a grant for
// alice. The IdP and the gateway go into s as each starts, so the
// caller's cleanup finds them even when a later step fails.
export async function benchGateway(s, { tmp, v, confExtra = [], idpOpts = {} }) {
  const { startGateway } = await import('../harness/gateway.mjs');
  const { startIdp, loginAndGetTokens } = await import('../harness/idp/lib.mjs');
  const { freePort } = await import('../harness/testkit.mjs');
  // Absolute: the harness starts gatehoused in its data directory.
  process.env.GATEHOUSED = path.resolve(process.env.GATEHOUSED || 'build/release/gatehoused');
  const port = await freePort();
  const base = `https://127.0.0.1:${port}`;
  process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0'; // the gateway's self-signed cert, loopback
  s.idp = await startIdp({ stateDir: path.join(tmp, 'idp'), redirectUris: [`${base}/auth/callback`], ...idpOpts });
  const conf = path.join(tmp, 'gatehoused.conf');
  fs.writeFileSync(conf, ['[target bench]', `address = ${v.GH_TARGET_ADDR}`, 'ports = 22',
    `host_key = ${v.GH_TARGET_HOSTKEY_SHA256}`, 'auto_approve = gatehouse-users', 'reason_required = no',
    ...confExtra, ''].join('\n'));
  s.gw = await startGateway({
    dir: path.join(tmp, 'gw'),
    args: ['-c', conf, '-o', `server.port=${port}`, '-o', `oidc.issuer=${s.idp.issuer}`,
      '-o', `oidc.client_secret_file=${s.idp.info.webClientSecretFile}`, '-o', 'sessions.max=5000',
      '-o', 'server.max_connections=8000'],
  });
  for (let i = 0; i < 100 && (await fetch(`${base}/auth/login`, { redirect: 'manual' })).status !== 302; i++) await sleep(100);
  const token = (await loginAndGetTokens(s.idp, { user: 'alice', redirectUri: `${base}/auth/callback` })).access_token;
  // The target auto-approves gatehouse-users: a request is the grant.
  const req = await fetch(`${base}/api/v1/requests`, {
    method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ target: 'bench', ports: '22', duration: 7200 }),
  });
  if (!req.ok) throw new Error(`access request refused: ${req.status} ${await req.text()}`);
  return { port, base, token };
}

// Resolve once something listens on 127.0.0.1:port (reject after ms, or
// when child, if given, exits first).
export function waitPort(port, ms = 10000, child) {
  const deadline = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      if (child && child.exitCode !== null) { reject(new Error(`exited ${child.exitCode}`)); return; }
      const c = net.connect(port, '127.0.0.1');
      c.on('connect', () => { c.destroy(); resolve(); });
      c.on('error', () => {
        if (Date.now() > deadline) reject(new Error(`port ${port} never listened`));
        else setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}

// The ssh -J anchor: an OpenSSH bastion (sshd on loopback, key login for
// the vm's user, forwarding on, the pinned cipher and key exchange) and an
// ssh config naming it "bastion". The sshd goes into s.bastion as soon as
// it starts, for the caller's cleanup. Returns { port, jumpCfg }.
export async function startBastion(s, { tmp, v }) {
  const { freePort } = await import('../harness/testkit.mjs');
  const port = await freePort();
  const dir = path.join(tmp, 'bastion');
  fs.mkdirSync(dir);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, 'hostkey')]);
  fs.writeFileSync(path.join(dir, 'sshd_config'), [
    `Port ${port}`, 'ListenAddress 127.0.0.1', `HostKey ${path.join(dir, 'hostkey')}`, 'UsePAM no',
    `PidFile ${path.join(dir, 'pid')}`, `AllowUsers ${v.GH_TARGET_USER}`, 'PasswordAuthentication no',
    'AllowTcpForwarding yes', 'X11Forwarding no', 'Ciphers aes128-gcm@openssh.com', 'KexAlgorithms curve25519-sha256',
    // Many idle tunnels open at once in the memory figures.
    'MaxStartups 100:30:200', '',
  ].join('\n'));
  s.bastion = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', path.join(dir, 'sshd_config')], { stdio: 'ignore' });
  await waitPort(port, 10000, s.bastion);
  const jumpCfg = path.join(tmp, 'jump_config');
  fs.writeFileSync(jumpCfg, [
    'Host bastion', '  HostName 127.0.0.1', `  Port ${port}`, `  User ${v.GH_TARGET_USER}`, `  IdentityFile ${v.GH_TARGET_KEY}`,
    '  StrictHostKeyChecking no', '  UserKnownHostsFile /dev/null', '  BatchMode yes', '  LogLevel ERROR',
    '  Ciphers aes128-gcm@openssh.com', '  KexAlgorithms curve25519-sha256', '',
  ].join('\n'));
  return { port, jumpCfg };
}
