// The new pages in Firefox (Debian's firefox-esr, from install-deps), driven by playwright-core
// over WebDriver BiDi (channel "moz-firefox", no Playwright-patched
// browser needed). Checks what differs between browsers: xterm.js with
// js/csp-styles.js (constructed stylesheets), the terminal's frame
// protocol against a stand-in gateway WebSocket, and asciinema-player's
// WebAssembly under the CSP.
//
// Firefox under BiDi reports an "inline style blocked" page error after
// Playwright's own actions (fill, click, goto) on every page, even on
// pages that create no style at all: that is Playwright's injected
// script, not the page. So this test counts the page's own
// securitypolicyviolation events, not page errors.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { firefox } from 'playwright-core';
import { startGateway } from '../harness/gateway.mjs';
import { isolateNetwork } from '../harness/netns.mjs';
import { testRun } from '../harness/testkit.mjs';

const FIREFOX = process.env.GH_FIREFOX || '/usr/bin/firefox-esr';
const SRC = process.env.GH_SOURCE_DIR || path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
isolateNetwork();
const t = testRun('gh-e2e-webff', 150000);
const { tmp, check } = t;
const json = (type, o) => Buffer.concat([Buffer.from([type]), Buffer.from(JSON.stringify(o))]);
let gw, browser;

try {
  if (!fs.existsSync(FIREFOX)) throw new Error(`${FIREFOX} is missing (apt-get install firefox-esr)`);
  const root = path.join(tmp, 'web');
  fs.cpSync(path.join(SRC, 'web'), root, { recursive: true, filter: (s) => !s.includes(`${path.sep}node_modules`) });
  fs.cpSync(path.join(SRC, 'tests', 'fixtures', 'web'), path.join(root, 'fixtures'), { recursive: true });
  gw = await startGateway({ dir: path.join(tmp, 'gw'), args: ['-o', `server.web_root=${root}`] });
  const base = gw.url.replace(/\/$/, '');
  browser = await firefox.launch({ executablePath: FIREFOX, headless: true, channel: 'moz-firefox' });
  // The gateway's self-signed certificate: loopback only, this test's own.
  const ctx = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1100, height: 700 } });
  await ctx.addInitScript(() => {
    window.__ghCsp = [];
    document.addEventListener('securitypolicyviolation', (e) => window.__ghCsp.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  const page = await ctx.newPage();
  const csp = [];
  const leave = async () => csp.push(...await page.evaluate(() => window.__ghCsp));

  await check('firefox: terminal self-test renders text and colours', async () => {
    await page.goto(`${base}/terminal.html?selftest=1`);
    await page.waitForSelector('body[data-state="open"]');
    await page.waitForFunction(() => [...document.querySelectorAll('.xterm-rows span')].some((s) => s.textContent === 'green bold'));
    const r = await page.evaluate(() => {
      const span = [...document.querySelectorAll('.xterm-rows span')].find((s) => s.textContent === 'green bold');
      return { line: window.ghTerm.buffer.active.getLine(1).translateToString(true), color: getComputedStyle(span).color, styles: document.querySelectorAll('style').length };
    });
    assert.deepEqual(r, { line: 'green bold on blue UTF-8: äöü € ✓ ┌─┐ 24-bit orange', color: 'rgb(138, 226, 52)', styles: 0 });
    await leave();
  });

  await check('firefox: terminal frames against a stand-in gateway', async () => {
    const frames = [];
    await page.routeWebSocket(/\/api\/v1\/connect/, (ws) => {
      ws.onMessage((m) => {
        const b = Buffer.from(m);
        frames.push([b[0], b.subarray(1)]);
        if (b[0] === 5) {
          ws.send(json(4, { state: 'open', cols: 80, rows: 24 }));
          ws.send(Buffer.concat([Buffer.from([1]), Buffer.from('hello firefox é\r\n')]));
        }
      });
      ws.send(json(4, { state: 'connecting', session: 1, target: 'web1', user: 'alice', grant_id: 1, grant_expires: Date.now() + 3600e3 }));
      ws.send(json(4, { state: 'credentials', username: 'deploy' }));
    });
    await page.goto(`${base}/terminal.html?target=web1`);
    await page.waitForSelector('body[data-state="credentials"]');
    await page.fill('#cred-password', 'pw');
    await page.click('#cred-form button[type=submit]');
    await page.waitForSelector('body[data-state="open"]');
    await page.waitForFunction(() => window.ghTerm.buffer.active.getLine(0).translateToString(true) === 'hello firefox é');
    await page.keyboard.type('ls');
    const deadline = Date.now() + 5000;
    while (frames.filter((f) => f[0] === 2).length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(JSON.parse(frames.find((f) => f[0] === 5)[1]), { username: 'deploy', password: 'pw' });
    // The last RESIZE is the terminal's size (a refit after the fonts
    // load may send a second one).
    const size = await page.evaluate(() => [window.ghTerm.cols, window.ghTerm.rows]);
    const rs = frames.filter((f) => f[0] === 3).at(-1)[1];
    assert.deepEqual([rs.readUInt16BE(0), rs.readUInt16BE(2)], size);
    assert.equal(Buffer.concat(frames.filter((f) => f[0] === 2).map((f) => f[1])).toString(), 'ls');
    assert.equal(await page.inputValue('#cred-password'), '');
    await leave();
  });

  await check("firefox: the player plays under the gateway's CSP, and explains a CSP without 'wasm-unsafe-eval'", async () => {
    const res = await ctx.request.get(`${base}/play.html`);
    const headers = { ...res.headers() };
    assert.match(headers['content-security-policy'], /script-src 'self' 'wasm-unsafe-eval';/);
    await page.goto(`${base}/play.html?cast=/fixtures/small.cast`);
    await page.waitForSelector('body[data-state="ready"][data-wasm="allowed"]');
    await page.evaluate(() => window.ghPlayer.play());
    await page.waitForFunction(() => /green\s+été\s+€/.test(document.getElementById('player').innerText));
    await page.evaluate(() => window.ghPlayer.seek(1.0));
    await page.waitForFunction(() => !/green/.test(document.getElementById('player').innerText));
    await leave();
    delete headers['content-length'];
    headers['content-security-policy'] = headers['content-security-policy'].replace(" 'wasm-unsafe-eval'", '');
    const body = await res.body();
    await page.route(/\/play\.html/, (r) => r.fulfill({ status: 200, headers, body }));
    await page.goto(`${base}/play.html?cast=/fixtures/small.cast`);
    await page.waitForSelector('body[data-state="error"][data-error="csp_wasm"]');
    await leave();
    await page.unroute(/\/play\.html/);
  });

  await check('firefox: no CSP violation reported to any page', () => assert.deepEqual(csp, []));
} catch (e) {
  t.fail(e);
} finally {
  if (browser) await browser.close();
  if (gw) await gw.stop();
  t.finish();
}
