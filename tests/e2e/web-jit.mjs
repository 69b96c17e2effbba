// The access page in headless Chromium: alice requests web1 from the form,
// bob approves it from his approvals table, alice sees the grant with a
// live countdown (and an "Open terminal" link, web1 has port 22), bob
// revokes it and it is gone. Real IdP sign-in; no console errors or CSP
// violations.
//
// Every wait is for a condition the page shows (a row with an id, a
// state attribute, the gateway's log line), never for a fixed time: this
// test runs next to other heavy tests.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startGateway } from '../harness/gateway.mjs';
import { launchBrowser } from '../harness/browser/browser.mjs';
import { startIdp } from '../harness/idp/lib.mjs';
import { isolateNetwork } from '../harness/netns.mjs';
import { freePort, testRun } from '../harness/testkit.mjs';

const IDP_READY_MS = 30000;
// Loopback only: in a network namespace of its own when possible, so
// address changes made by other tests cannot fail Chromium's requests.
isolateNetwork();
const t = testRun('gh-e2e-webjit', 150000);
const { tmp } = t;
let idp, gw, browser;

async function signIn(page, base, user) {
  await page.goto(`${base}/access.html`);
  // Not signed in: the page sends us to the IdP's own login page.
  await page.waitForURL((u) => !u.toString().startsWith(base));
  await page.click(`button[value="${user}"]`);
  await page.waitForURL(`${base}/access.html`);
  await page.waitForSelector('body[data-ready="yes"]');
}

// The gateway fetches the IdP's discovery document and keys after it is
// ready; until then /auth/login answers 503 idp_unavailable. Wait for its
// log line (a slow machine can take longer than a browser start).
async function idpReady(gateway) {
  const t0 = Date.now();
  for (;;) {
    const log = gateway.log();
    if (log.includes('msg="identity provider ready"')) return Date.now() - t0;
    if (Date.now() - t0 > IDP_READY_MS) {
      throw new Error(`the gateway did not reach the IdP in ${IDP_READY_MS} ms:\n${log.slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
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
  // A failed step says where each page was and what it showed, on lines
  // of their own (testkit prints only the first lines of an error), and
  // leaves a screenshot of each page named after the step.
  let step = 0;
  const check = (what, fn) => {
    step++;
    return t.check(what, async () => {
      try {
        await fn();
      } catch (e) {
        for (const [who, page] of [['alice', alice], ['bob', bob]]) {
          const text = await page.textContent('body', { timeout: 2000 }).catch(() => '?');
          const data = await page.evaluate(() => JSON.stringify(document.body.dataset)).catch(() => '?');
          const shot = path.join(artifacts, `step${step}-${who}-failure.png`);
          await page.screenshot({ path: shot, fullPage: true, timeout: 5000 }).catch(() => {});
          console.log(`  # ${who} at ${page.url()} body${data}`);
          console.log(`  #   text: ${String(text).replace(/\s+/g, ' ').slice(0, 600)}`);
          console.log(`  #   screenshot: ${shot}`);
        }
        throw e;
      }
    });
  };
  try {
    const idpMs = await idpReady(gw);
    console.log(`# waited ${idpMs} ms for the gateway to reach the IdP`);
    await check('alice requests web1 from the form', async () => {
      await signIn(alice, base, 'alice');
      assert.equal(await alice.inputValue('#rq-ports'), '22');
      await alice.fill('#rq-reason', 'deploy <b>fix</b>');
      await alice.click('#request-form button[type=submit]');
      await alice.waitForSelector('#notice[data-kind="ok"]');
      const said = await alice.textContent('#notice');
      const m = said.match(/^Request #(\d+) is waiting for approval\.$/);
      assert.ok(m, `notice: ${said}`);
      // Wait for that request's row (the list is redrawn after the POST).
      const rowSel = `#my-requests tbody tr[data-request="${m[1]}"]`;
      await alice.waitForSelector(rowSel, { state: 'attached' });
      const cells = await alice.$$eval(`${rowSel} td`, (tds) => tds.map((td) => td.textContent));
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
      await bob.waitForSelector('#notice[data-kind="ok"]');
      assert.equal(await bob.textContent('#notice'), 'Done.');
      // The notice comes after the redraw: the table is already empty.
      assert.equal(await bob.$$eval(rowSel, (r) => r.length), 0);
      assert.equal(await bob.isVisible('#approvals-empty'), true);
      await bob.screenshot({ path: path.join(artifacts, 'bob-approvals.png') });
    });
    await check('alice sees her grant with a countdown and a terminal link', async () => {
      await alice.reload();
      await alice.waitForSelector('body[data-ready="yes"]');
      const cell = '#my-grants tbody tr td:nth-child(4)';
      await alice.waitForSelector(cell);
      const ends = await alice.textContent(cell);
      assert.match(ends, /^ends in (0h )?(59|60)m \d+s$|^ends in 1h 0m \d+s$/);
      // The countdown ticks: wait for the text to change.
      await alice.waitForFunction(([sel, was]) => document.querySelector(sel)?.textContent !== was,
        [cell, ends], { timeout: 10000 });
      assert.equal(await alice.textContent('#my-requests tbody tr:first-child td:nth-child(5)'), 'approved');
      assert.equal(await alice.getAttribute('#my-grants tbody tr a:has-text("Open terminal")', 'href'),
        '/terminal.html?target=web1');
      await alice.screenshot({ path: path.join(artifacts, 'alice-access.png') });
    });
    await check('bob revokes it; alice has no live grant', async () => {
      await bob.reload();
      await bob.waitForSelector('body[data-ready="yes"]');
      await bob.waitForSelector('#grants tbody tr');
      await bob.click('#grants tbody tr button:has-text("Revoke")');
      await bob.waitForSelector('#notice:not([hidden])');
      assert.equal(await bob.textContent('#notice'), 'Done.');
      assert.equal(await bob.$$eval('#grants tbody tr', (r) => r.length), 0);
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
  await t.check('gatehoused stops cleanly', () => assert.equal(code, 0));
} catch (e) {
  t.fail(e);
} finally {
  if (browser) await browser.close();
  if (gw) await gw.stop();
  if (idp) await idp.stop();
  t.finish();
}
