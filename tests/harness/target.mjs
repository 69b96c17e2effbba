// target.mjs - sshd "private VMs" (tests/harness/target) from node tests.
//
//   const vm = await upTarget({ dir: path.join(tmp, 'vm1'), name: 'vm1' });
//   vm.env.GH_TARGET_ADDR, vm.env.GH_TARGET_PASSWORD, ...
//   await vm.down();           // idempotent; also run by the test's cleanup
//
// The calling node process is the owner: `target gc` removes the target if
// it dies without cleaning up.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const TARGET = path.join(path.dirname(fileURLToPath(import.meta.url)), 'target');

function run(args) {
  return new Promise((resolve, reject) => {
    execFile(TARGET, args, { timeout: 60000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`target ${args[0]} failed: ${stderr || err.message}`));
      else resolve(stdout);
    });
  });
}

export async function upTarget({ dir, name }) {
  // The target's user lives under dir: every parent must be searchable.
  fs.mkdirSync(dir, { recursive: true });
  fs.chmodSync(path.dirname(dir), 0o755);
  const args = ['up', '--state-dir', dir, '--owner-pid', String(process.pid)];
  if (name) args.push('--name', name);
  await run(args);
  const env = {};
  for (const line of fs.readFileSync(path.join(dir, 'target.env'), 'utf8').split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) env[line.slice(0, i)] = line.slice(i + 1);
  }
  let downed = false;
  return {
    env,
    dir,
    async down() {
      if (downed) return;
      downed = true;
      await run(['down', '--state-dir', dir]);
    },
  };
}
