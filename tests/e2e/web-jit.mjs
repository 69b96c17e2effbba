// The access page in headless Chromium: alice requests web1 from the form,
// bob approves it from his approvals table, alice sees the grant with a
// live countdown, bob revokes it and it is gone. Real IdP sign-in; no
// console errors or CSP violations.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startGateway } from '../harness/gateway.mjs';
import { launchBrowser } from '../harness/browser/browser.mjs';
import { startIdp } from '../harness/idp/lib.mjs';
import { freePort, testRun } from '../harness/testkit.mjs';

const t = testRun('gh-e2e-webjit', 150000);
const { tmp, check } = t;
let idp, gw, browser;

async function signIn(page, base, user) {
  await page.goto(`${base}/access.html`);
  // Not signed in: the page sends us to the IdP's own login page.
  await page.waitForURL((u) => !u.toString().startsWith(base));
  await page.click(`button[value="${user}"]`);
  await page.waitForURL(`${base}/access.html`);
  await page.waitForSelector('body[data-ready="yes"]');
}

try {
  const port = await freePort();
  const base = `https://127.0.0.1:${port}`;
  idp = await startIdp({ stateDir: path.join(tmp, 'idp'), redirectUris: [`${base}/auth/callback`] });
  const conf = path.join(tmp, 'gatehoused.conf');
  fs.writeFileSync(conf, '[target web1]\naddress = 198.18.0.2\nports = 22\napprovers = gatehouse-approvers\n');
  gw = await startGateway({
    dir: path.join(tmp, 'gw'),
    args: ['-c', conf, '-o', `server.port=${port}`, '-o', `oidc.issuer=${idp.issuer}`,
      '-o', `oidc.client_secret_file=${idp.info.webClientSecretFile}`],
  });
  const artifacts = path.join(process.env.GH_BUILD_DIR || tmp, 'test-artifacts', 'e2e-web-jit');
  browser = await launchBrowser({ spki: gw.spki, artifacts });
  // Two people, two separate cookie jars.
  const bobBrowser = await launchBrowser({ spki: gw.spki, artifacts });
  const problems = [];
  const watch = (page) => {
    page.on('console', (m) => { if (m.type() === 'error' && !/status of 40[19]/.test(m.text())) problems.push(m.text()); });
    page.on('pageerror', (e) => problems.push(String(e)));
  };
  const alice = await browser.newPage();
  const bob = await bobBrowser.newPage();
  watch(alice);
  watch(bob);
  try {
    await check('alice requests web1 from the form', async () => {
      await signIn(alice, base, 'alice');
      assert.equal(await alice.inputValue('#rq-ports'), '22');
      await alice.fill('#rq-reason', 'deploy <b>fix</b>');
      await alice.click('#request-form button[type=submit]');
      await alice.waitForSelector('#notice[data-kind="ok"]');
      assert.match(await alice.textContent('#notice'), /waiting for approval/);
      const cells = await alice.$$eval('#my-requests tbody tr:first-child td', (tds) => tds.map((td) => td.textContent));
      assert.equal(cells[1], 'web1');
      assert.equal(cells[4], 'pending');
      assert.equal(cells[5], 'deploy <b>fix</b>'); // shown as text, not HTML
      assert.equal(await alice.isVisible('#approvals-card'), false);
    });
    await check('bob approves it from his approvals table', async () => {
      await signIn(bob, base, 'bob');
      const rowSel = '#approvals tbody tr';
      await bob.waitForSelector(rowSel);
      assert.equal(await bob.textContent(`${rowSel} td:nth-child(2)`), 'alice');
      await bob.fill(`${rowSel} input`, 'ok');
      await bob.click(`${rowSel} button:has-text("Approve")`);
      await bob.waitForSelector('#approvals-empty:not([hidden])');
      await bob.screenshot({ path: path.join(artifacts, 'bob-approvals.png') });
    });
    await check('alice sees her grant with a countdown', async () => {
      await alice.reload();
      await alice.waitForSelector('#my-grants tbody tr');
      const ends = await alice.textContent('#my-grants tbody tr td:nth-child(4)');
      assert.match(ends, /^ends in (0h )?(59|60)m \d+s$|^ends in 1h 0m \d+s$/);
      await new Promise((r) => setTimeout(r, 1200));
      assert.notEqual(await alice.textContent('#my-grants tbody tr td:nth-child(4)'), ends, 'the countdown does not tick');
      assert.equal(await alice.textContent('#my-requests tbody tr:first-child td:nth-child(5)'), 'approved');
      await alice.screenshot({ path: path.join(artifacts, 'alice-access.png') });
    });
    await check('bob revokes it; alice has no live grant', async () => {
      await bob.reload();
      await bob.waitForSelector('#grants tbody tr');
      await bob.click('#grants tbody tr button:has-text("Revoke")');
      await bob.waitForSelector('#notice:not([hidden])');
      assert.equal(await bob.textContent('#notice'), 'Done.');
      await alice.reload();
      await alice.waitForSelector('body[data-ready="yes"]');
      await alice.screenshot({ path: path.join(artifacts, 'alice-after-revoke.png') });
      assert.equal(await alice.$$eval('#my-grants tbody tr', (r) => r.length), 0);
      assert.equal(await alice.isVisible('#my-grants-empty'), true);
    });
    await check('no console errors or CSP violations', () => assert.deepEqual(problems, []));
  } finally {
    await bobBrowser.close();
  }
  const code = await gw.stop();
  gw = null;
  await check('gatehoused stops cleanly', () => assert.equal(code, 0));
} catch (e) {
  t.fail(e);
} finally {
  if (browser) await browser.close();
  if (gw) await gw.stop();
  if (idp) await idp.stop();
  t.finish();
}
