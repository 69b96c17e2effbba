// Load: approvals and revocations in a loop while many decisions run at
// the same time, against a real gatehoused and real IdP tokens. Bounded
// (a fixed number of rounds), loopback only. Nothing may fail with a
// server error or "database is locked", and no update may be lost: every
// request approved has exactly one grant, and every grant revoked is gone.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { startGateway } from '../harness/gateway.mjs';
import { startIdp, loginAndGetTokens } from '../harness/idp/lib.mjs';
import { apiCaller, freePort, testRun } from '../harness/testkit.mjs';

const ROUNDS = 40;        // request -> approve (twice, racing) -> revoke
const DECIDERS = 8;       // concurrent decision loops
const DECISIONS = 60;     // per decision loop
const t = testRun('gh-e2e-jitload', 180000);
const { tmp, check } = t;

let idp, gw;
try {
  const port = await freePort();
  const base = `https://127.0.0.1:${port}`;
  process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0'; // self-signed, loopback
  idp = await startIdp({ stateDir: path.join(tmp, 'idp'), redirectUris: [`${base}/auth/callback`] });
  const conf = path.join(tmp, 'gatehoused.conf');
  fs.writeFileSync(conf, '[target web1]\naddress = 198.18.0.2\nports = 22\n');
  gw = await startGateway({
    dir: path.join(tmp, 'gw'),
    args: ['-c', conf, '-o', `server.port=${port}`, '-o', `oidc.issuer=${idp.issuer}`],
  });
  for (let i = 0; i < 100 && (await fetch(`${base}/auth/login`, { redirect: 'manual' })).status !== 302; i++) {
    await new Promise((r) => setTimeout(r, 100));
  }
  const tok = {};
  for (const u of ['alice', 'bob', 'dave']) {
    tok[u] = (await loginAndGetTokens(idp, { user: u, redirectUri: `${base}/auth/callback` })).access_token;
  }
  const statuses = new Map();
  const call = apiCaller(base, tok, { onStatus: (st) => statuses.set(st, (statuses.get(st) || 0) + 1) });

  let approvals = 0;
  let conflicts = 0;
  const grants = [];
  const writer = (async () => {
    for (let i = 0; i < ROUNDS; i++) {
      const q = await call('alice', 'POST', '/api/v1/requests', { target: 'web1', ports: '22', duration: 600, reason: `round ${i}` });
      assert.equal(q.status, 201);
      const [a, b] = await Promise.all([
        call('bob', 'POST', `/api/v1/requests/${q.body.id}/approve`, {}),
        call('dave', 'POST', `/api/v1/requests/${q.body.id}/approve`, {}),
      ]);
      for (const r of [a, b]) {
        if (r.status === 200) { approvals++; grants.push(r.body.grant_id); } else if (r.status === 409) conflicts++;
      }
      const g = grants[grants.length - 1];
      const rv = await call('dave', 'POST', `/api/v1/grants/${g}/revoke`, { reason: 'loop' });
      assert.equal(rv.status, 200);
    }
  })();
  const decisions = { allow: 0, no_grant: 0 };
  const readers = Array.from({ length: DECIDERS }, async () => {
    for (let i = 0; i < DECISIONS; i++) {
      const d = await call('alice', 'GET', '/api/v1/decide?target=web1&port=22');
      assert.equal(d.status, 200);
      decisions[d.body.decision] = (decisions[d.body.decision] || 0) + 1;
    }
  });
  await Promise.all([writer, ...readers]);
  console.log(`# ${ROUNDS} rounds, ${DECIDERS * DECISIONS} decisions: ${JSON.stringify(decisions)}, statuses ${JSON.stringify([...statuses])}`);

  await check('no server error under load', () => {
    assert.ok(![...statuses.keys()].some((s) => s >= 500), JSON.stringify([...statuses]));
  });
  await check('each request approved exactly once; the racing approval got 409', () => {
    assert.equal(approvals, ROUNDS);
    assert.equal(conflicts, ROUNDS);
    assert.equal(new Set(grants).size, ROUNDS);
  });
  await check('every decision answered allow or no_grant, and all grants ended revoked', async () => {
    assert.equal((decisions.allow || 0) + (decisions.no_grant || 0), DECIDERS * DECISIONS);
    assert.equal((await call('alice', 'GET', '/api/v1/decide?target=web1&port=22')).body.decision, 'no_grant');
    const db = path.join(tmp, 'gw', 'gatehouse-data', 'gatehouse.db');
    const q = (sql) => execFileSync('sqlite3', [db, sql]).toString().trim();
    assert.equal(q("SELECT count(*) FROM access_requests WHERE state = 'approved'"), String(ROUNDS));
    assert.equal(q('SELECT count(*) FROM grants'), String(ROUNDS));
    assert.equal(q('SELECT count(*) FROM grants WHERE revoked_ms IS NULL'), '0');
    assert.equal(q("SELECT count(*) FROM audit WHERE action = 'jit.approve' AND outcome = 'ok'"), String(ROUNDS));
  });
  await check('no "database is locked" in the log', () => {
    assert.ok(!/database is locked/i.test(gw.log()));
  });
  const code = await gw.stop();
  gw = null;
  await check('gatehoused stops cleanly', () => assert.equal(code, 0));
} catch (e) {
  t.fail(e);
} finally {
  if (gw) await gw.stop();
  if (idp) await idp.stop();
  t.finish();
}
