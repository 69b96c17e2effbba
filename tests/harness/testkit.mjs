// testkit.mjs - the small pieces every node-driven test shares: a run with
// "ok - ..." / "not ok - ..." lines, a closing "N passed, N failed" line,
// a whole-test time limit and a temp dir; a free loopback port; a JSON
// API caller; and a browser sign-in driven without a browser (for session
// tests).
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { completeAuthorization } from './idp/lib.mjs';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Resolve once pred() (which may be async) holds; throw "timed out waiting
// for what" after ms.
export async function until(pred, what, ms = 20000) {
  const end = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

export function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
}

// const t = testRun('gh-e2e-auth', 150000);
// await t.check('what', async () => { ... });   // never throws
// ... finally { await cleanup(); t.finish(); }
export function testRun(prefix, timeoutMs) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `${prefix}-`));
  const counts = { passed: 0, failed: 0 };
  const timer = setTimeout(() => { console.log('not ok - timed out'); process.exit(1); }, timeoutMs);
  return {
    tmp,
    async check(what, fn) {
      try {
        await fn();
        counts.passed++;
        console.log(`ok - ${what}`);
      } catch (e) {
        counts.failed++;
        console.log(`not ok - ${what}\n  ${String(e.stack || e).split('\n').slice(0, 6).join('\n  ')}`);
      }
    },
    fail(e) {
      counts.failed++;
      console.log(`not ok - ${e.stack || e}`);
    },
    finish() {
      clearTimeout(timer);
      fs.rmSync(tmp, { recursive: true, force: true });
      console.log(`${counts.passed} passed, ${counts.failed} failed`);
      process.exitCode = counts.failed || !counts.passed ? 1 : 0;
    },
  };
}

// Sign user in at the gateway (base URL) through the IdP's scripted login,
// following the redirects by hand; returns the "__Host-gh_session=..."
// cookie pair, or undefined when the gateway gave none.
export async function signInSession(base, idp, user) {
  const start = await fetch(`${base}/auth/login`, { redirect: 'manual' });
  const loginCookie = start.headers.get('set-cookie').split(';')[0];
  const back = (await completeAuthorization(start.headers.get('location'), { idp, user })).location;
  const cb = await fetch(back, { headers: { cookie: loginCookie }, redirect: 'manual' });
  return cb.headers.getSetCookie().map((c) => c.split(';')[0])
    .find((c) => c.startsWith('__Host-gh_session='));
}

// call(user, method, path, body?, headers?) against the gateway at base,
// with tok[user] as the bearer token (tok is read at each call, so tokens
// may be added later). body: an object is sent as JSON, a string as it is
// (for malformed-input tests). Resolves { status, body } (body: the JSON
// answer, or null). onStatus(status), when given, sees every answer.
export function apiCaller(base, tok, { onStatus } = {}) {
  return async (user, method, p, body, headers = {}) => {
    const r = await fetch(`${base}${p}`, {
      method,
      headers: { authorization: `Bearer ${tok[user]}`, 'content-type': 'application/json', ...headers },
      body: body === undefined ? undefined : (typeof body === 'string' ? body : JSON.stringify(body)),
    });
    if (onStatus) onStatus(r.status);
    let j = null;
    try { j = await r.json(); } catch { /* not JSON */ }
    return { status: r.status, body: j };
  };
}
