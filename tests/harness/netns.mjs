// netns.mjs - run a loopback-only test in a network namespace of its own.
//
//   import { isolateNetwork } from '../harness/netns.mjs';
//   isolateNetwork();   // first thing, before testRun(): may re-run this
//                       // script in a private namespace and exit with it
//
// Why: Chromium fails the requests in flight on an HTTP/2 connection with
// net::ERR_NETWORK_CHANGED whenever an address comes or goes anywhere on
// the machine, and the sshd target harness (tests/harness/target) adds
// and removes veth addresses in the root namespace each time a test
// starts or stops a target. A browser test that ran next to such a test
// failed at random: a step saw a fetch fail, or waited 30 s for a page
// that never loaded. In a namespace of its own (only `lo`, up) nobody
// else's addresses change under it; gatehoused, the IdP and Chromium all
// talk over loopback there.
//
// Needs root and unshare(1) (util-linux) and ip(8); without them the test
// runs where it is, as before, and says so. GH_NETNS=off forces that.
import { spawnSync } from 'node:child_process';

const MARK = 'GH_NETNS';
const SETUP = 'ip link set lo up';

export function isolateNetwork() {
  if (process.env[MARK] === 'private') return 'private';
  if (process.env[MARK] === 'off') return 'shared';
  const why = process.platform !== 'linux' ? 'not Linux'
    : process.getuid() !== 0 ? 'not root'
      : spawnSync('unshare', ['--net', '--', 'sh', '-c', SETUP], { stdio: 'ignore' }).status !== 0
        ? 'unshare --net failed' : null;
  if (why) {
    console.log(`# network not isolated (${why}): address changes on this machine can fail Chromium's requests`);
    return 'shared';
  }
  const r = spawnSync('unshare', ['--net', '--', 'sh', '-c', `${SETUP} && exec "$@"`, 'sh',
    process.execPath, ...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, [MARK]: 'private' },
  });
  process.exit(r.status ?? 1);
}
