// Proves the browser helper: Debian's Chromium, headless, loads the
// gateway's index page over HTTPS trusting only the gateway's pinned key,
// runs its script under the CSP without violations, and screenshots work
// (also the automatic one when a step fails).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startGateway } from '../gateway.mjs';
import { launchBrowser } from './browser.mjs';
import { isolateNetwork } from '../netns.mjs';

// Loopback only: in a network namespace of its own when possible, so
// address changes made by other tests cannot fail Chromium's requests
// (seen: ERR_NETWORK_CHANGED on the clean-clone CI run).
isolateNetwork();

const TEST_TIMEOUT_MS = 120000;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gh-browser-'));
const artifacts = process.env.GH_BUILD_DIR
  ? path.join(process.env.GH_BUILD_DIR, 'test-artifacts', 'harness-browser')
  : path.join(tmp, 'artifacts');
let passed = 0;
const ok = (what) => { passed++; console.log(`ok - ${what}`); };

let gw, browser, plain;
const timer = setTimeout(() => { console.error('not ok - timed out'); process.exit(1); }, TEST_TIMEOUT_MS);

try {
  gw = await startGateway({ dir: path.join(tmp, 'gw') });
  ok(`gatehoused ready at ${gw.url}`);
  browser = await launchBrowser({ spki: gw.spki, artifacts });
  ok('chromium launched headless');

  await browser.withPage('index', async (page) => {
    const problems = [];
    // Signed out, the page's /api/v1/me answers 401: Chromium logs that as
    // a failed resource. Anything else is a problem.
    page.on('console', (m) => {
      if (m.type() === 'error' && !/status of 401/.test(m.text())) problems.push(m.text());
    });
    page.on('pageerror', (e) => problems.push(String(e)));
    const res = await page.goto(gw.url, { waitUntil: 'load' });
    assert.equal(res.status(), 200);
    ok('index page loads over HTTPS with the pinned certificate');
    assert.equal(await page.title(), 'Gatehouse');
    assert.equal(await page.textContent('h1'), 'Gatehouse');
    ok('page says Gatehouse');
    // The page's script (external, CSP-allowed) fetches /healthz.
    await page.waitForSelector('#status[data-state="ok"]', { timeout: 10000 });
    assert.match(await page.textContent('#version'), /^Gatehouse \d+\.\d+\.\d+$/);
    ok('page script ran under the CSP and read /healthz');
    const headers = res.headers();
    assert.match(headers['content-security-policy'], /script-src 'self'/);
    assert.deepEqual(problems, []);
    ok('no console errors or CSP violations');
    const shot = path.join(browser.artifactsDir, 'index.png');
    await page.screenshot({ path: shot });
    const png = fs.readFileSync(shot);
    assert.ok(png.length > 2000, `screenshot too small: ${png.length}`);
    assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    ok(`screenshot saved (${shot}, ${png.length} bytes)`);
  });

  // A failing step leaves a screenshot behind.
  let failure;
  try {
    await browser.withPage('deliberate', async (page) => {
      await page.goto(gw.url);
      throw new Error('deliberate failure');
    });
  } catch (e) { failure = e; }
  assert.match(String(failure && failure.message), /deliberate failure[\s\S]*screenshot: .*deliberate-failure\.png/);
  assert.ok(fs.statSync(path.join(browser.artifactsDir, 'deliberate-failure.png')).size > 2000);
  ok('a failing step saves a screenshot');

  // Without the pin, the self-signed certificate is refused: the helper
  // trusts exactly the gateway's key, not every certificate.
  plain = await launchBrowser({ artifacts });
  const page = await plain.newPage();
  await assert.rejects(page.goto(gw.url), /ERR_CERT_AUTHORITY_INVALID|ERR_CERT/);
  ok('without the pin the certificate is refused');
} catch (e) {
  console.error(`not ok - ${e.stack || e}`);
  process.exitCode = 1;
} finally {
  if (plain) await plain.close();
  if (browser) await browser.close();
  if (gw) {
    const code = await gw.stop();
    if (code !== 0) { console.error(`not ok - gatehoused exited ${code}`); process.exitCode = 1; }
  }
  clearTimeout(timer);
  // Artifacts live in the build tree under ctest; otherwise in tmp, which
  // is kept only when something failed.
  if (process.env.GH_BUILD_DIR || !process.exitCode) fs.rmSync(tmp, { recursive: true, force: true });
  console.log(`${passed} passed, ${process.exitCode ? 1 : 0} failed`);
}
