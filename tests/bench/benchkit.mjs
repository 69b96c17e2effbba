// benchkit.mjs - what the benchmarks share (../shared/BENCHMARKS.md): the
// command line, medians and spreads, waiting for a quiet machine, and PSS.
import fs from 'node:fs';
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
