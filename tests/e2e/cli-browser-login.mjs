// `gatehouse login --browser` end to end, with the real peers: the CLI
// starts a real browser (headless Chromium, through $BROWSER), which signs
// in at the test IdP (oidc-provider) and is sent back to the CLI's
// listener on 127.0.0.1 (authorization code + PKCE, RFC 8252); the CLI
// trades the code at the IdP and the gateway takes the token.
//
//   1. sign-in as alice; before the browser goes, strays and a forged
//      redirect knock on the listener and are turned away;
//   2. Cancel at the IdP: the CLI says so, exits 3 and keeps nothing.
//
// Loopback only: it runs in a network namespace of its own when it can
// (Chromium fails requests when addresses change elsewhere).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { startGateway } from '../harness/gateway.mjs';
import { startIdp } from '../harness/idp/lib.mjs';
import { isolateNetwork } from '../harness/netns.mjs';
import { freePort, sleep, testRun, until } from '../harness/testkit.mjs';

isolateNetwork();
const GH = process.env.GATEHOUSE;
const SRC = process.env.GH_SOURCE_DIR || path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const t = testRun('gh-e2e-cli-browser', 170000);
const { tmp, check } = t;
const procs = [];

function login(args, env) {
  const c = spawn(GH, [...args, 'login', '--browser'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  c.out = '';
  c.err = '';
  c.stdout.on('data', (d) => { c.out += d; });
  c.stderr.on('data', (d) => { c.err += d; });
  c.done = new Promise((r) => c.on('exit', (code) => r(code)));
  procs.push(c);
  return c;
}

let idp, gw;
try {
  const port = await freePort();
  const base = `https://127.0.0.1:${port}`;
  process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0'; // the readiness probe; the CLI pins the CA
  idp = await startIdp({ stateDir: path.join(tmp, 'idp'), redirectUris: [`${base}/auth/callback`] });
  gw = await startGateway({
    dir: path.join(tmp, 'gw'),
    args: ['-o', `server.port=${port}`, '-o', `oidc.issuer=${idp.issuer}`,
      '-o', `oidc.client_secret_file=${idp.info.webClientSecretFile}`,
      '-o', `oidc.cli_client_id=${idp.info.cliClientId}`, '-o', `oidc.cli_resource=${idp.resource}`],
  });
  for (let i = 0; i < 100 && (await fetch(`${base}/auth/login`, { redirect: 'manual' })).status !== 302; i++) await sleep(100);
  const caFile = path.join(tmp, 'gw', 'gatehouse-data', 'tls', 'cert.pem');
  // $BROWSER is one program given the URL: a wrapper around the opener.
  const opener = path.join(tmp, 'browser.sh');
  fs.writeFileSync(opener, `#!/bin/sh\nexec "${process.execPath}" "${path.join(SRC, 'tests/harness/browser/open-url.mjs')}" "$1"\n`, { mode: 0o755 });
  const envFor = (name, user, go) => ({
    ...process.env,
    XDG_CONFIG_HOME: path.join(tmp, `xdg-${name}`),
    HOME: tmp,
    GATEHOUSE_TOKEN: '',
    GATEHOUSE_SERVER: '',
    BROWSER: opener,
    GH_BROWSER_USER: user,
    GH_BROWSER_URL: path.join(tmp, `${name}.url`),
    GH_BROWSER_RESULT: path.join(tmp, `${name}.json`),
    ...(go ? { GH_BROWSER_GO: path.join(tmp, `${name}.go`) } : {}),
  });

  await check('login --browser: Chromium signs in at the IdP and comes back to the CLI; strays turned away', async () => {
    const env = envFor('alice', 'alice', true);
    const c = login(['--server', base, '--ca-file', caFile], env);
    await until(() => fs.existsSync(env.GH_BROWSER_URL), 'the CLI to start the browser', 30000);
    const authUrl = fs.readFileSync(env.GH_BROWSER_URL, 'utf8');
    const u = new URL(authUrl);
    assert.ok(c.err.includes(authUrl), c.err); // printed too, for a browser elsewhere
    assert.equal(u.searchParams.get('code_challenge_method'), 'S256');
    assert.equal(u.searchParams.get('code_challenge').length, 43);
    assert.ok(!authUrl.includes('code_verifier'));
    const back = new URL(u.searchParams.get('redirect_uri'));
    assert.equal(back.hostname, '127.0.0.1');
    // Anything may knock on a loopback port: another path, a forged
    // redirect (wrong state), a repeated parameter. Each is turned away
    // and the sign-in goes on.
    const state = u.searchParams.get('state');
    assert.equal((await fetch(`${back.origin}/favicon.ico`)).status, 404);
    assert.equal((await fetch(`${back.origin}/callback?code=evil&state=wrong`)).status, 400);
    assert.equal((await fetch(`${back.origin}/callback?code=a&code=b&state=${state}`)).status, 400);
    fs.writeFileSync(env.GH_BROWSER_GO, '');
    assert.equal(await c.done, 0, c.err);
    assert.match(c.out, /Logged in to https:\/\/127\.0\.0\.1:\d+ as alice/);
    // The browser lives on after the CLI (nobody waits for it).
    await until(() => fs.existsSync(env.GH_BROWSER_RESULT), 'the browser to finish', 60000);
    const page = JSON.parse(fs.readFileSync(env.GH_BROWSER_RESULT, 'utf8'));
    assert.ok(!page.error, page.error);
    assert.match(page.text, /Signed in/);
    const cache = path.join(env.XDG_CONFIG_HOME, 'gatehouse', 'tokens.json');
    assert.equal(fs.statSync(cache).mode & 0o777, 0o600);
    const st = spawn(GH, ['status'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    st.stdout.on('data', (d) => { out += d; });
    assert.equal(await new Promise((r) => st.on('exit', r)), 0);
    assert.match(out, /user:\s+alice/);
    // Neither the code nor a token reached the CLI's output.
    const code = new URL(page.url).searchParams.get('code');
    assert.ok(code && !`${c.out}${c.err}`.includes(code));
  });

  await check('login --browser: Cancel at the IdP ends it with exit 3 and nothing kept', async () => {
    const env = envFor('cancel', 'cancel', false);
    const c = login(['--server', base, '--ca-file', caFile], env);
    assert.equal(await c.done, 3, c.err);
    assert.match(c.err, /sign-in was denied at the identity provider/);
    // The browser lives on after the CLI (nobody waits for it).
    await until(() => fs.existsSync(env.GH_BROWSER_RESULT), 'the browser to finish', 60000);
    const page = JSON.parse(fs.readFileSync(env.GH_BROWSER_RESULT, 'utf8'));
    assert.ok(!page.error, page.error);
    assert.match(page.text, /Sign-in failed/);
    assert.ok(!fs.existsSync(path.join(env.XDG_CONFIG_HOME, 'gatehouse', 'tokens.json')));
  });
} finally {
  for (const c of procs) if (c.exitCode === null) c.kill('SIGKILL');
  if (gw) await gw.stop();
  if (idp) await idp.stop();
  t.finish();
}
