// The web client's pages in headless Chromium under the real gatehoused
// and its real Content-Security-Policy: every page loads with no console
// error and no CSP violation; xterm.js renders (colours included) on the
// terminal page's self-test; the terminal page speaks the session frame
// protocol of docs/PROTOCOL.md to a gateway WebSocket that Playwright
// stands in for (the real broker is tested by web-terminal.mjs); the
// recordings page answers; the playback page plays a small .cast with
// asciinema-player (with 'wasm-unsafe-eval' added to the CSP, which the
// player needs) and says clearly why it cannot play without it.
//
// Needs web/vendor/ (scripts/web-vendor). Serves a copy of web/ plus
// tests/fixtures/web/ through server.web_root.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startGateway } from '../harness/gateway.mjs';
import { launchBrowser } from '../harness/browser/browser.mjs';
import { startIdp } from '../harness/idp/lib.mjs';
import { isolateNetwork } from '../harness/netns.mjs';
import { freePort, testRun } from '../harness/testkit.mjs';

const SRC = process.env.GH_SOURCE_DIR || path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
// Loopback only: in a network namespace of its own when possible, so
// address changes made by other tests cannot fail Chromium's requests.
isolateNetwork();
const t = testRun('gh-e2e-webpages', 170000);
const { tmp } = t;
let idp, gw, browser;

// Frame types (docs/PROTOCOL.md).
const F = { OUTPUT: 1, INPUT: 2, RESIZE: 3, STATUS: 4, CREDENTIAL: 5, CLOSE: 7 };
const frame = (type, payload) => Buffer.concat([Buffer.from([type]), Buffer.from(payload)]);
const json = (type, obj) => frame(type, JSON.stringify(obj));

// Console errors a page may show: the browser logs every refused API call
// ("Failed to load resource: ... 401"), which the pages handle. Anything
// else (a CSP violation, an exception) is a problem.
function watch(page, problems) {
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const where = m.location()?.url || '';
    if (/Failed to load resource: the server responded with a status of 40[1349]/.test(m.text())
      && /\/(api\/v1|auth)\//.test(where)) return;
    problems.push(`${page.url()}: ${m.text()} (${where})`);
  });
  page.on('pageerror', (e) => problems.push(`${page.url()}: ${e}`));
}

async function violations(page) {
  return page.evaluate(() => window.__ghCsp || []);
}

async function signIn(page, base, user) {
  await page.goto(`${base}/access.html`);
  await page.waitForURL((u) => !u.toString().startsWith(base));
  await page.click(`button[value="${user}"]`);
  await page.waitForURL(`${base}/access.html`);
  await page.waitForSelector('body[data-ready="yes"]');
}

async function idpReady(gateway) {
  const t0 = Date.now();
  while (!gateway.log().includes('msg="identity provider ready"')) {
    if (Date.now() - t0 > 30000) throw new Error(`the gateway did not reach the IdP:\n${gateway.log().slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function untilAsync(what, pred, ms = 10000) {
  const t0 = Date.now();
  while (!(await pred())) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

// Wait in node for a condition on state the mock socket collects.
async function until(what, pred, ms = 10000) {
  const t0 = Date.now();
  while (!pred()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

try {
  const vendor = path.join(SRC, 'web', 'vendor');
  if (!fs.existsSync(path.join(vendor, 'xterm.js'))) throw new Error('web/vendor is missing: run scripts/web-vendor');
  const root = path.join(tmp, 'web');
  fs.cpSync(path.join(SRC, 'web'), root, { recursive: true, filter: (s) => !s.includes(`${path.sep}node_modules`) });
  fs.cpSync(path.join(SRC, 'tests', 'fixtures', 'web'), path.join(root, 'fixtures'), { recursive: true });

  const port = await freePort();
  const base = `https://127.0.0.1:${port}`;
  idp = await startIdp({ stateDir: path.join(tmp, 'idp'), redirectUris: [`${base}/auth/callback`] });
  const conf = path.join(tmp, 'gatehoused.conf');
  fs.writeFileSync(conf, '[target web1]\naddress = 198.18.0.2\nports = 22\nauto_approve = gatehouse-users\nreason_required = no\n');
  gw = await startGateway({
    dir: path.join(tmp, 'gw'),
    args: ['-c', conf, '-o', `server.port=${port}`, '-o', `oidc.issuer=${idp.issuer}`,
      '-o', `oidc.client_secret_file=${idp.info.webClientSecretFile}`, '-o', `server.web_root=${root}`],
  });
  const artifacts = path.join(process.env.GH_BUILD_DIR || tmp, 'test-artifacts', 'e2e-web-pages');
  browser = await launchBrowser({ spki: gw.spki, artifacts });
  await browser.context.addInitScript(() => {
    window.__ghCsp = [];
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__ghCsp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`);
    });
  });
  const problems = [];
  const page = await browser.newPage();
  watch(page, problems);
  const csp = [];
  const leave = async () => { csp.push(...(await violations(page).catch(() => []))); };
  await idpReady(gw);
  const check = (what, fn) => t.check(what, async () => {
    try {
      await fn();
    } catch (e) {
      const shot = path.join(artifacts, `${what.replace(/\W+/g, '-').slice(0, 60)}-failure.png`);
      await page.screenshot({ path: shot, timeout: 5000 }).catch(() => {});
      const data = await page.evaluate(() => JSON.stringify(document.body.dataset)).catch(() => '?');
      const text = await page.textContent('body', { timeout: 2000 }).catch(() => '?');
      console.log(`  # at ${page.url()} body${data}\n  #   text: ${String(text).replace(/\s+/g, ' ').slice(0, 500)}\n  #   screenshot: ${shot}`);
      throw e;
    }
  });

  await check('alice signs in; the index page links to recordings', async () => {
    await signIn(page, base, 'alice');
    await leave();
    await page.goto(`${base}/`);
    await page.waitForSelector('body[data-auth="signed-in"]');
    assert.equal(await page.getAttribute('#recordings-link', 'href'), '/recordings.html');
    assert.equal(await page.isVisible('#recordings-link'), true);
    await leave();
  });

  await check('terminal self-test: xterm renders text and colours under the CSP', async () => {
    await page.goto(`${base}/terminal.html?selftest=1`);
    await page.waitForSelector('body[data-state="open"][data-selftest="1"]');
    const lines = await page.evaluate(() => [0, 1].map((i) => window.ghTerm.buffer.active.getLine(i).translateToString(true)));
    assert.equal(lines[0], 'Gatehouse terminal self-test: no connection.');
    assert.equal(lines[1], 'green bold on blue UTF-8: äöü € ✓ ┌─┐ 24-bit orange');
    // The colours reach the screen: xterm's own CSS is applied (through
    // js/csp-styles.js), not blocked.
    const look = await page.evaluate(() => {
      const span = [...document.querySelectorAll('.xterm-rows span')].find((s) => s.textContent === 'green bold');
      const cs = getComputedStyle(span);
      const orange = [...document.querySelectorAll('.xterm-rows span')].find((s) => s.textContent === '24-bit orange');
      return {
        color: cs.color, weight: cs.fontWeight, orange: getComputedStyle(orange).color,
        styleElements: document.querySelectorAll('style').length,
      };
    });
    assert.equal(look.color, 'rgb(138, 226, 52)'); // xterm's bright green (bold draws bright)
    assert.equal(look.weight, '700');
    assert.equal(look.orange, 'rgb(255, 128, 0)'); // a 24-bit colour: a style attribute
    assert.equal(look.styleElements, 0);
    // Selected text is drawn with style attributes too.
    await page.evaluate(() => window.ghTerm.selectAll());
    await page.waitForFunction(() => window.ghTerm.getSelection().includes('24-bit orange'));
    await page.click('#term');
    await page.keyboard.type('echo hi');
    await page.waitForFunction(() => window.ghTerm.buffer.active.getLine(2).translateToString(true) === '$ echo hi');
    await page.screenshot({ path: path.join(artifacts, 'terminal-selftest.png') });
    await leave();
  });

  await check('terminal: no target named, it says so', async () => {
    await page.goto(`${base}/terminal.html`);
    await page.waitForSelector('body[data-state="closed"][data-reason="no_target"]');
    assert.match(await page.textContent('#closed-text'), /No machine was named/);
    await leave();
  });

  await check('terminal: every close reason of PROTOCOL.md has a sentence', async () => {
    const doc = fs.readFileSync(path.join(SRC, 'docs', 'PROTOCOL.md'), 'utf8');
    const table = doc.slice(doc.indexOf('| reason | code | meaning |'), doc.indexOf('### START'));
    // The first column of each row: `reason`, or several.
    const reasons = table.split('\n').filter((l) => l.startsWith('| `'))
      .flatMap((l) => [...l.split('|')[1].matchAll(/`([a-z_]+)`/g)].map((m) => m[1]));
    assert.ok(reasons.length >= 20, `found ${reasons.length} reasons`);
    const js = fs.readFileSync(path.join(SRC, 'web', 'js', 'terminal.js'), 'utf8');
    const missing = reasons.filter((r) => !new RegExp(`\\n  ${r}: '`).test(js));
    assert.deepEqual(missing, []);
  });

  // A stand-in for the gateway's /api/v1/connect: a script per connection.
  const conns = [];
  let script = null;
  await page.routeWebSocket(/\/api\/v1\/connect/, (ws) => {
    const c = { ws, url: ws.url(), protocols: ws.protocols(), frames: [], closed: null };
    conns.push(c);
    ws.onMessage((m) => {
      const b = Buffer.isBuffer(m) ? m : Buffer.from(m);
      const f = { type: b[0], payload: b.subarray(1), text: typeof m === 'string' };
      c.frames.push(f);
      c.onFrame?.(f);
    });
    ws.onClose((code, reason) => { c.closed = { code, reason }; });
    script(c);
  });
  const inputs = (c) => Buffer.concat(c.frames.filter((f) => f.type === F.INPUT).map((f) => f.payload)).toString('utf8');
  const resizes = (c) => c.frames.filter((f) => f.type === F.RESIZE).map((f) => [f.payload.readUInt16BE(0), f.payload.readUInt16BE(2)]);
  const termSize = () => page.evaluate(() => [window.ghTerm.cols, window.ghTerm.rows]);

  await check('terminal: credentials, open, output, input, resize, grant countdown (mocked gateway)', async () => {
    script = (c) => {
      c.ws.send(json(F.STATUS, {
        state: 'connecting', session: 7, target: 'web1', user: 'alice', grant_id: 3, grant_expires: Date.now() + 4 * 60000,
      }));
      c.ws.send(json(F.STATUS, { state: 'credentials', username: 'deploy' }));
      c.onFrame = (f) => {
        if (f.type !== F.CREDENTIAL) return;
        c.ws.send(json(F.STATUS, { state: 'open', cols: 80, rows: 24 }));
        const e = Buffer.from('hello from web1 é\r\n', 'utf8');
        const cut = e.indexOf(0xc3) + 1; // split the UTF-8 of é across two frames
        c.ws.send(frame(F.OUTPUT, e.subarray(0, cut)));
        c.ws.send(frame(F.OUTPUT, e.subarray(cut)));
      };
    };
    await browser.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
    await page.goto(`${base}/terminal.html?target=web1`);
    await page.waitForSelector('body[data-state="credentials"]');
    const c = conns[conns.length - 1];
    // The terminal's size when it connected (a refit may follow: RESIZE).
    const m = c.url.match(/\/api\/v1\/connect\?target=web1&protocol=ssh&cols=(\d+)&rows=(\d+)$/);
    assert.ok(m, c.url);
    assert.equal(Number(m[1]), (await termSize())[0]);
    assert.ok(Number(m[2]) >= 10 && Number(m[2]) <= 100, c.url);
    assert.deepEqual(c.protocols, ['gatehouse.v1']);
    assert.equal(await page.inputValue('#cred-user'), 'deploy');
    assert.equal(await page.textContent('#st-target'), 'web1');
    assert.match(await page.textContent('#st-user'), /alice/);
    await page.screenshot({ path: path.join(artifacts, 'terminal-credentials.png') });
    await page.fill('#cred-password', 'hunter2');
    await page.click('#cred-form button[type=submit]');
    await until('the CREDENTIAL frame', () => c.frames.some((f) => f.type === F.CREDENTIAL));
    const cred = c.frames.find((f) => f.type === F.CREDENTIAL);
    assert.equal(cred.text, false, 'frames are binary');
    assert.deepEqual(JSON.parse(cred.payload.toString('utf8')), { username: 'deploy', password: 'hunter2' });
    await page.waitForSelector('body[data-state="open"]');
    assert.equal(await page.inputValue('#cred-password'), '', 'the password is cleared from the page');
    assert.equal(await page.isVisible('#cred'), false);
    await page.waitForFunction(() => window.ghTerm.buffer.active.getLine(0).translateToString(true) === 'hello from web1 é');
    // RESIZE after open gives the terminal's own size (the last one: the
    // page may refit once more as its status bar fills in).
    await untilAsync('a RESIZE of the terminal\'s size', async () => {
      const r = resizes(c);
      return r.length > 0 && String(r.at(-1)) === String(await termSize());
    });
    // Keys go out as INPUT frames (UTF-8).
    await page.keyboard.type('ls -l ü');
    await page.keyboard.press('Enter');
    await until('the typed INPUT', () => inputs(c) === 'ls -l ü\r');
    // Ctrl+Shift+V pastes from the clipboard (read permission granted
    // before the page loaded); Ctrl+Shift+C copies the selection. Neither
    // reaches the shell as a key.
    await page.evaluate(() => navigator.clipboard.writeText('pasted ✓'));
    await page.keyboard.press('Control+Shift+V');
    await until('the pasted INPUT', () => inputs(c) === 'ls -l ü\rpasted ✓');
    await page.evaluate(() => window.ghTerm.select(0, 0, 5)); // "hello"
    await page.keyboard.press('Control+Shift+C');
    await page.waitForFunction(async () => (await navigator.clipboard.readText()) === 'hello');
    assert.equal(inputs(c), 'ls -l ü\rpasted ✓');
    // Less than 5 minutes of grant left: h:mm:ss, in the warning colour.
    assert.match(await page.textContent('#st-grant-left'), /^0:0[34]:\d\d$/);
    assert.equal(await page.getAttribute('#st-grant', 'data-level'), 'warn');
    // A smaller window: refit, and a RESIZE with the new size.
    const before = await termSize();
    await page.setViewportSize({ width: 700, height: 500 });
    await untilAsync('a RESIZE to the new size', async () => {
      const r = resizes(c);
      return r.at(-1)[0] < before[0] && String(r.at(-1)) === String(await termSize());
    });
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.screenshot({ path: path.join(artifacts, 'terminal-open.png') });
  });

  await check('terminal: a host key mismatch closes with both fingerprints shown; reconnect; no grant', async () => {
    const c = conns[conns.length - 1];
    const msg = 'pinned SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA, offered SHA256:BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB';
    c.ws.send(json(F.CLOSE, { reason: 'host_key_mismatch', message: msg }));
    c.ws.close({ code: 4502, reason: 'host_key_mismatch' });
    await page.waitForSelector('body[data-state="closed"][data-reason="host_key_mismatch"]');
    assert.match(await page.textContent('#closed-text'), /host key is not the one pinned/);
    assert.equal(await page.textContent('#closed-message'), msg);
    await page.waitForFunction(() => /close code 4502/.test(document.getElementById('closed-code').textContent));
    assert.equal(await page.isVisible('#reconnect'), true);
    assert.equal(await page.getAttribute('#closed a:has-text("Back to access")', 'href'), '/access.html');
    await page.screenshot({ path: path.join(artifacts, 'terminal-closed.png') });

    script = (k) => {
      k.ws.send(json(F.CLOSE, { reason: 'no_grant', message: 'no live grant for web1' }));
      k.ws.close({ code: 4403, reason: 'no_grant' });
    };
    const n = conns.length;
    await page.click('#reconnect');
    await page.waitForSelector('body[data-state="closed"][data-reason="no_grant"]');
    assert.equal(conns.length, n + 1);
    assert.match(await page.textContent('#closed-text'), /no live access grant/);
  });

  await check('terminal: a close without a CLOSE frame is explained by its code; Disconnect sends CLOSE', async () => {
    script = (k) => k.ws.close({ code: 4408 });
    await page.click('#reconnect');
    await page.waitForSelector('body[data-state="closed"][data-reason="closed_4408"]');
    assert.match(await page.textContent('#closed-text'), /access grant ended/);

    script = (k) => {
      k.ws.send(json(F.STATUS, { state: 'open', cols: 80, rows: 24 }));
      k.onFrame = (f) => { if (f.type === F.CLOSE) k.ws.close({ code: 1000, reason: 'user_closed' }); };
    };
    await page.click('#reconnect');
    await page.waitForSelector('body[data-state="open"]');
    await page.click('#disconnect');
    await page.waitForSelector('body[data-state="closed"][data-reason="user_closed"]');
    const k = conns[conns.length - 1];
    const close = k.frames.find((f) => f.type === F.CLOSE);
    assert.equal(JSON.parse(close.payload.toString('utf8')).reason, 'user_closed');
    await leave();
  });

  await check('recordings page: loads, filters in the address, answers gracefully', async () => {
    await page.goto(`${base}/recordings.html?user=alice&from=2024-01-01`);
    await page.waitForSelector('body[data-state="ready"], body[data-state="error"]');
    assert.equal(await page.inputValue('#f-user'), 'alice');
    assert.equal(await page.inputValue('#f-from'), '2024-01-01');
    const state = await page.getAttribute('body', 'data-state');
    if (state === 'ready') {
      assert.equal(await page.isVisible('#empty'), (await page.$$('#recordings tbody tr')).length === 0);
    } else {
      assert.match(await page.textContent('#notice'), /recordings/);
    }
    assert.equal(await page.getAttribute('nav a[aria-current="page"]', 'href'), '/recordings.html');
    await leave();
  });

  await check('play: an unknown recording says so', async () => {
    await page.goto(`${base}/play.html?id=987654`);
    await page.waitForSelector('body[data-state="error"]');
    assert.equal(await page.getAttribute('body', 'data-error'), 'not_found');
    await leave();
  });

  let playHeaders;
  await check("play: under a CSP without 'wasm-unsafe-eval' it explains why it cannot play, without a violation", async () => {
    // The gateway sends 'wasm-unsafe-eval'; a proxy that strips it must
    // not leave a broken page.
    const res = await page.goto(`${base}/play.html?cast=/fixtures/small.cast`);
    playHeaders = { ...res.headers() };
    assert.match(playHeaders['content-security-policy'], /script-src 'self' 'wasm-unsafe-eval'; style-src 'self';/);
    const stripped = { ...playHeaders };
    delete stripped['content-length'];
    delete stripped['content-encoding'];
    stripped['content-security-policy'] = stripped['content-security-policy'].replace(" 'wasm-unsafe-eval'", '');
    const pbody = fs.readFileSync(path.join(root, 'play.html'));
    await page.route(/\/play\.html(\?|$)/, (route) => route.fulfill({ status: 200, headers: stripped, body: pbody }));
    await page.goto(`${base}/play.html?cast=/fixtures/small.cast`);
    await page.waitForSelector('body[data-state="error"]');
    assert.equal(await page.getAttribute('body', 'data-error'), 'csp_wasm');
    assert.equal(await page.getAttribute('body', 'data-wasm'), 'refused');
    assert.match(await page.textContent('#notice'), /'wasm-unsafe-eval'/);
    assert.equal(await page.getAttribute('#download', 'href'), '/fixtures/small.cast');
    await leave();
    await page.unroute(/\/play\.html(\?|$)/);
  });

  await check("play: under the gateway's CSP ('wasm-unsafe-eval'), asciinema-player plays, seeks and changes speed", async () => {
    // The gateway's own headers for play.html, with only that word added.
    const body = fs.readFileSync(path.join(root, 'play.html'));
    const headers = { ...playHeaders };
    delete headers['content-length'];
    delete headers['content-encoding'];
    assert.match(headers['content-security-policy'], /script-src 'self' 'wasm-unsafe-eval'; style-src 'self';/);
    await page.route(/\/play\.html(\?|$)/, (route) => route.fulfill({ status: 200, headers, body }));
    try {
      await page.goto(`${base}/play.html?cast=/fixtures/small.cast`);
      await page.waitForSelector('body[data-state="ready"]');
      // It read this policy (a GET of itself), not a guess.
      assert.equal(await page.getAttribute('body', 'data-wasm'), 'allowed');
      const duration = await page.evaluate(() => window.ghPlayer.getDuration());
      assert.ok(Math.abs(duration - 2.4) < 0.05, `duration ${duration}`);
      await page.selectOption('#speed', '4');
      await page.waitForFunction(() => window.ghPlayer.speed === 4);
      await page.evaluate(() => window.ghPlayer.play());
      // Played to the end (at 4x: about 0.6 s), and stopped there.
      await page.waitForFunction(async () => !window.ghPlayer.playing && (await window.ghPlayer.getCurrentTime()) >= 2.3);
      // (The player's screen separates words with no-break spaces: \s.)
      await page.waitForFunction(() => /green\s+été\s+€/.test(document.getElementById('player').innerText));
      assert.match(await page.innerText('#player'), /\$\s+echo\s+hello\s+hello/);
      // Seek back to 1 s: the screen is as it was then.
      await page.evaluate(() => window.ghPlayer.seek(1.0));
      await page.waitForFunction(() => !/green/.test(document.getElementById('player').innerText));
      assert.match(await page.innerText('#player'), /hello/);
      await page.screenshot({ path: path.join(artifacts, 'play.png') });
      await leave();
    } finally {
      await page.unroute(/\/play\.html(\?|$)/);
    }
  });

  await t.check('no console errors or CSP violations on any page', () => {
    assert.deepEqual(problems, []);
    assert.deepEqual(csp, []);
  });
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
