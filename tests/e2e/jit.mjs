// JIT access through the API with real tokens from the test IdP: targets,
// request -> approve -> the decision function allows; self-approval,
// longer-than-asked, double approval, deny, revoke, auto-approval, IDOR,
// CSRF, hostile and oversized input; every decision audited.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { startGateway } from '../harness/gateway.mjs';
import { startIdp, loginAndGetTokens } from '../harness/idp/lib.mjs';
import { apiCaller, freePort, signInSession, testRun } from '../harness/testkit.mjs';

const t = testRun('gh-e2e-jit', 150000);
const { tmp, check } = t;

let idp, gw;
try {
  const port = await freePort();
  const base = `https://127.0.0.1:${port}`;
  process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0'; // the gateway's self-signed cert, loopback
  idp = await startIdp({ stateDir: path.join(tmp, 'idp'), redirectUris: [`${base}/auth/callback`] });
  const conf = path.join(tmp, 'gatehoused.conf');
  fs.writeFileSync(conf, [
    '[target web1]', 'address = 198.18.0.2', 'ports = 22', 'approvers = gatehouse-approvers',
    'max_duration = 7200',
    '[target db1]', 'address = 198.18.0.6', 'ports = 5432', 'requesters = dba', 'approvers = dba-leads',
    '[target auto1]', 'address = 198.18.0.10', 'ports = 22, 3389', 'auto_approve = gatehouse-users',
    'reason_required = no', '',
  ].join('\n'));
  gw = await startGateway({
    dir: path.join(tmp, 'gw'),
    args: ['-c', conf, '-o', `server.port=${port}`, '-o', `oidc.issuer=${idp.issuer}`,
      '-o', `oidc.client_secret_file=${idp.info.webClientSecretFile}`],
  });
  for (let i = 0; i < 100 && (await fetch(`${base}/auth/login`, { redirect: 'manual' })).status !== 302; i++) {
    await new Promise((r) => setTimeout(r, 100));
  }
  const redirectUri = `${base}/auth/callback`;
  const tok = {};
  for (const u of ['alice', 'bob', 'carol', 'dave', 'eve']) {
    tok[u] = (await loginAndGetTokens(idp, { user: u, redirectUri })).access_token;
  }
  const call = apiCaller(base, tok);
  const decide = async (user, target, p) => (await call(user, 'GET', `/api/v1/decide?target=${target}&port=${p}`)).body.decision;

  await check('targets: a user sees what they may request, not the rest', async () => {
    const a = await call('alice', 'GET', '/api/v1/targets');
    assert.equal(a.status, 200);
    const names = a.body.targets.map((x) => x.name).sort();
    assert.deepEqual(names, ['auto1', 'web1']);
    const web = a.body.targets.find((x) => x.name === 'web1');
    assert.equal(web.can_request, true);
    assert.equal(web.can_approve, false);
    assert.equal((await call('bob', 'GET', '/api/v1/targets')).body.targets.find((x) => x.name === 'web1').can_approve, true);
    assert.deepEqual((await call('eve', 'GET', '/api/v1/targets')).body.targets, []);
    assert.equal((await call('dave', 'GET', '/api/v1/targets')).body.targets.length, 3);
  });

  let reqId, grantId, raceGrant;
  await check('no grant: the decision function says no_grant', async () => {
    assert.equal(await decide('alice', 'web1', 22), 'no_grant');
  });
  await check('alice requests web1:22 for an hour: pending', async () => {
    const r = await call('alice', 'POST', '/api/v1/requests', { target: 'web1', ports: '22', duration: 3600, reason: 'deploy fix' });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.equal(r.body.state, 'pending');
    reqId = r.body.id;
  });
  await check('self-approval refused', async () => {
    const r = await call('alice', 'POST', `/api/v1/requests/${reqId}/approve`, {});
    assert.equal(r.status, 403);
    assert.equal(r.body.error, 'self_approval'); // checked before any role
    const d = await call('dave', 'POST', '/api/v1/requests', { target: 'web1', ports: '22', duration: 60, reason: 'x' });
    const s = await call('dave', 'POST', `/api/v1/requests/${d.body.id}/approve`, {});
    assert.equal(s.status, 403);
    assert.equal(s.body.error, 'self_approval'); // an admin neither
  });
  await check('an approver may only shorten', async () => {
    const r = await call('bob', 'POST', `/api/v1/requests/${reqId}/approve`, { duration: 7200 });
    assert.equal(r.status, 403);
    assert.equal(r.body.error, 'longer_than_asked');
  });
  await check('bob approves for 30 minutes: approved with a grant', async () => {
    const r = await call('bob', 'POST', `/api/v1/requests/${reqId}/approve`, { duration: 1800, reason: 'ok' });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.state, 'approved');
    assert.equal(r.body.decided_by, 'bob');
    assert.ok(r.body.grant_id > 0);
    grantId = r.body.grant_id;
  });
  await check('the decision function allows alice on web1:22, and nothing more', async () => {
    assert.equal(await decide('alice', 'web1', 22), 'allow');
    assert.equal(await decide('alice', 'web1', 80), 'port_not_declared');
    assert.equal(await decide('bob', 'web1', 22), 'no_grant');
    assert.equal(await decide('alice', 'db1', 5432), 'unknown_target'); // not hers to see
    assert.equal(await decide('alice', 'no-such', 22), 'unknown_target');
  });
  await check('approving twice: 409', async () => {
    const r = await call('dave', 'POST', `/api/v1/requests/${reqId}/approve`, {});
    assert.equal(r.status, 409);
  });
  await check('two approvers at once: exactly one wins', async () => {
    const q = await call('alice', 'POST', '/api/v1/requests', { target: 'web1', ports: '22', duration: 600, reason: 'race' });
    const [a, b] = await Promise.all([
      call('bob', 'POST', `/api/v1/requests/${q.body.id}/approve`, {}),
      call('dave', 'POST', `/api/v1/requests/${q.body.id}/approve`, {}),
    ]);
    assert.deepEqual([a.status, b.status].sort(), [200, 409]);
    raceGrant = (a.status === 200 ? a : b).body.grant_id;
  });
  await check('an auditor may read a request; someone else gets 404 (no IDOR)', async () => {
    assert.equal((await call('carol', 'GET', `/api/v1/requests/${reqId}`)).status, 200);
    assert.equal((await call('eve', 'GET', `/api/v1/requests/${reqId}`)).status, 404);
    assert.equal((await call('eve', 'GET', '/api/v1/requests/999999')).status, 404);
  });
  await check('deny and cancel', async () => {
    const q = await call('alice', 'POST', '/api/v1/requests', { target: 'web1', ports: '22', duration: 600, reason: 'no' });
    const d = await call('bob', 'POST', `/api/v1/requests/${q.body.id}/deny`, { reason: 'not now' });
    assert.equal(d.status, 200);
    assert.equal(d.body.state, 'denied');
    assert.equal(d.body.decision_reason, 'not now');
    const q2 = await call('alice', 'POST', '/api/v1/requests', { target: 'web1', ports: '22', duration: 600, reason: 'oops' });
    assert.equal((await call('bob', 'POST', `/api/v1/requests/${q2.body.id}/cancel`, {})).status, 403);
    const c = await call('alice', 'POST', `/api/v1/requests/${q2.body.id}/cancel`, {});
    assert.equal(c.body.state, 'cancelled');
  });
  await check('revoking the grant ends the access', async () => {
    assert.equal((await call('alice', 'POST', `/api/v1/grants/${grantId}/revoke`, { reason: 'x' })).status, 404);
    assert.equal(await decide('alice', 'web1', 22), 'allow');
    const r = await call('bob', 'POST', `/api/v1/grants/${grantId}/revoke`, { reason: 'done' });
    assert.equal(r.status, 200);
    // The race above left alice a second live grant on web1.
    assert.equal((await call('dave', 'POST', `/api/v1/grants/${raceGrant}/revoke`, {})).status, 200);
    assert.equal(await decide('alice', 'web1', 22), 'no_grant');
    const again = await call('bob', 'POST', `/api/v1/grants/${grantId}/revoke`, {});
    assert.equal(again.status, 409);
  });
  await check('auto-approval by policy', async () => {
    const r = await call('alice', 'POST', '/api/v1/requests', { target: 'auto1', ports: '3389', duration: 600 });
    assert.equal(r.status, 201);
    assert.equal(r.body.state, 'approved');
    assert.equal(r.body.decided_by, 'policy');
    assert.equal(await decide('alice', 'auto1', 3389), 'allow');
    assert.equal(await decide('alice', 'auto1', 22), 'port_not_granted');
  });
  await check('policy refusals carry their rule', async () => {
    const cases = [
      [{ target: 'web1', ports: '22', duration: 7201, reason: 'x' }, 403, 'bad_duration'],
      [{ target: 'web1', ports: '80', duration: 60, reason: 'x' }, 403, 'port_not_declared'],
      [{ target: 'web1', ports: '22', duration: 60, reason: '' }, 403, 'reason_required'],
      [{ target: 'web1', ports: '22', duration: 60, reason: 'r'.repeat(2000) }, 403, 'reason_too_long'],
      [{ target: 'db1', ports: '5432', duration: 60, reason: 'x' }, 404, 'unknown_target'],
      [{ target: "web1'; DROP TABLE grants; --", ports: '22', duration: 60, reason: 'x' }, 404, 'unknown_target'],
      [{ target: 'web1', ports: '22; 80', duration: 60, reason: 'x' }, 400, 'bad_ports'],
      [{ target: 'web1', ports: '22', duration: '60', reason: 'x' }, 400, 'bad_request'],
      [{ target: 'web1', ports: '22', duration: 60, reason: 'x', source_cidr: '10.0.0.0/99' }, 400, 'bad_source_cidr'],
    ];
    for (const [body, status, code] of cases) {
      const r = await call('alice', 'POST', '/api/v1/requests', body);
      assert.equal(r.status, status, `${JSON.stringify(body).slice(0, 80)} -> ${JSON.stringify(r.body)}`);
      assert.equal(r.body.error, code);
    }
    const eve = await call('eve', 'POST', '/api/v1/requests', { target: 'web1', ports: '22', duration: 60, reason: 'x' });
    assert.equal(eve.status, 404);
  });
  await check('hostile bodies: not JSON, a NUL, duplicate keys, too big', async () => {
    assert.equal((await call('alice', 'POST', '/api/v1/requests', 'not json')).status, 400);
    assert.equal((await call('alice', 'POST', '/api/v1/requests', '{"target":"web\\u0000x","ports":"22","duration":60,"reason":"x"}')).status, 400);
    assert.equal((await call('alice', 'POST', '/api/v1/requests', '{"target":"web1","target":"auto1","ports":"22","duration":60}')).status, 400);
    const big = await fetch(`${base}/api/v1/requests`, {
      method: 'POST', headers: { authorization: `Bearer ${tok.alice}`, 'content-type': 'application/json' },
      body: JSON.stringify({ target: 'web1', ports: '22', duration: 60, reason: 'x'.repeat(70000) }),
    }).catch((e) => ({ status: `closed (${e.cause?.code || e.message})` }));
    assert.ok(big.status === 413 || String(big.status).startsWith('closed'), `got ${big.status}`);
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
  });
  await check('a cookie session cannot be driven cross-site (CSRF)', async () => {
    const cookie = await signInSession(base, idp, 'alice');
    const r = await fetch(`${base}/api/v1/requests`, {
      method: 'POST',
      headers: { cookie, origin: 'https://evil.example', 'content-type': 'application/json' },
      body: JSON.stringify({ target: 'web1', ports: '22', duration: 60, reason: 'x' }),
    });
    assert.equal(r.status, 403);
    const ok = await fetch(`${base}/api/v1/requests`, {
      method: 'POST',
      headers: { cookie, origin: base, 'content-type': 'application/json' },
      body: JSON.stringify({ target: 'web1', ports: '22', duration: 60, reason: 'same-site' }),
    });
    assert.equal(ok.status, 201);
  });
  await check('an admin grants directly; nobody else may', async () => {
    const g = await call('dave', 'POST', '/api/v1/grants', { user: 'carol', target: 'web1', ports: '22', duration: 600, reason: 'incident' });
    assert.equal(g.status, 201, JSON.stringify(g.body));
    assert.equal(g.body.how, 'direct');
    assert.equal(await decide('carol', 'web1', 22), 'allow');
    const b = await call('bob', 'POST', '/api/v1/grants', { user: 'bob', target: 'web1', ports: '22', duration: 600 });
    assert.equal(b.status, 403);
    assert.equal(b.body.error, 'not_an_admin');
    const long = await call('dave', 'POST', '/api/v1/grants', { user: 'carol', target: 'web1', ports: '22', duration: 7201 });
    assert.equal(long.body.error, 'bad_duration');
    const port = await call('dave', 'POST', '/api/v1/grants', { user: 'carol', target: 'web1', ports: '80', duration: 60 });
    assert.equal(port.body.error, 'port_not_declared');
  });
  await check('listing: each sees what is theirs to see', async () => {
    const mine = (await call('alice', 'GET', '/api/v1/requests')).body.items;
    assert.ok(mine.length >= 5);
    assert.ok(mine.every((r) => r.requester === 'alice'));
    const all = (await call('carol', 'GET', '/api/v1/requests')).body.items;
    assert.ok(all.some((r) => r.requester === 'dave'), 'the auditor sees everyone');
    const bobs = (await call('bob', 'GET', '/api/v1/requests?state=denied')).body.items;
    assert.ok(bobs.length >= 1 && bobs.every((r) => r.state === 'denied' && r.target === 'web1'));
    assert.deepEqual((await call('eve', 'GET', '/api/v1/requests')).body.items, []);
    assert.deepEqual((await call('eve', 'GET', '/api/v1/requests?user=alice')).body.items, []);
    // lws stops looking for an argument at the first one longer than its
    // buffer: a long argument before "live=" must not hide it.
    const live = (await call('alice', 'GET', '/api/v1/grants?user=alice&live=1')).body.items;
    const long = await call('carol', 'GET', `/api/v1/requests?user=${'u'.repeat(3000)}`);
    assert.equal(long.status, 400, 'a filter too long to hold must not be dropped');
    assert.ok(live.length >= 1 && live.every((g) => g.user === 'alice' && g.revoked === 0));
    assert.ok(live.some((g) => g.target === 'auto1'));
    assert.ok(!live.some((g) => g.id === grantId), 'a revoked grant is not live');
  });
  await check('the audit log is for auditors and admins, and pages', async () => {
    assert.equal((await call('alice', 'GET', '/api/v1/audit')).status, 403);
    const p1 = (await call('carol', 'GET', '/api/v1/audit?limit=2&action=jit.request')).body;
    assert.equal(p1.items.length, 2);
    assert.ok(p1.items.every((e) => e.action === 'jit.request'));
    assert.equal(p1.next_after, p1.items[1].id);
    const p2 = (await call('carol', 'GET', `/api/v1/audit?limit=2&action=jit.request&after=${p1.next_after}`)).body;
    assert.ok(p2.items.length >= 1 && p2.items[0].id > p1.next_after);
    const byActor = (await call('dave', 'GET', '/api/v1/audit?user=bob')).body.items;
    assert.ok(byActor.length > 0 && byActor.every((e) => e.actor === 'bob'));
  });
  await check('every decision is in the audit log', () => {
    const db = path.join(tmp, 'gw', 'gatehouse-data', 'gatehouse.db');
    const rows = execFileSync('sqlite3', [db, "SELECT actor || ' ' || action || ' ' || outcome FROM audit WHERE action LIKE 'jit.%'"]).toString();
    for (const line of ['alice jit.request ok', 'bob jit.approve ok', 'policy jit.approve ok', 'bob jit.deny ok',
      'alice jit.cancel ok', 'bob jit.revoke ok', 'alice jit.decide ok', 'alice jit.decide denied',
      'alice jit.request denied', 'dave jit.approve denied']) {
      assert.ok(rows.split('\n').includes(line), `missing audit row: ${line}`);
    }
  });
  const code = await gw.stop();
  gw = null;
  await check('gatehoused stops cleanly (exit 0; under ASan: no leak)', () => assert.equal(code, 0));

  // Pending requests expire after jit.pending_ttl. The tokens above stay
  // valid for another gateway trusting the same IdP.
  gw = await startGateway({
    dir: path.join(tmp, 'gw2'),
    args: ['-c', conf, '-o', `oidc.issuer=${idp.issuer}`, '-o', 'jit.pending_ttl=2'],
  });
  const base2 = gw.url.replace(/\/$/, '');
  for (let i = 0; i < 100 && (await fetch(`${base2}/auth/login`, { redirect: 'manual' })).status !== 302; i++) {
    await new Promise((r) => setTimeout(r, 100));
  }
  await check('a request nobody decides expires after jit.pending_ttl', async () => {
    const mk = await fetch(`${base2}/api/v1/requests`, {
      method: 'POST', headers: { authorization: `Bearer ${tok.alice}`, 'content-type': 'application/json' },
      body: JSON.stringify({ target: 'web1', ports: '22', duration: 60, reason: 'slow approvers' }),
    });
    const q = await mk.json();
    assert.equal(q.state, 'pending');
    // The gateway's once-a-second tick expires it 2-3 s after creation;
    // a loaded machine may run the tick late, so wait for it (at most 8 s)
    // rather than sleep a fixed time.
    let r;
    for (let i = 0; i < 80; i++) {
      await new Promise((res) => setTimeout(res, 100));
      r = await (await fetch(`${base2}/api/v1/requests/${q.id}`, { headers: { authorization: `Bearer ${tok.alice}` } })).json();
      if (r.state !== 'pending') break;
    }
    assert.equal(r.state, 'expired');
    assert.equal(r.decided_by, 'system');
    const late = await fetch(`${base2}/api/v1/requests/${q.id}/approve`, {
      method: 'POST', headers: { authorization: `Bearer ${tok.bob}`, 'content-type': 'application/json' }, body: '{}',
    });
    assert.equal(late.status, 409);
  });
} catch (e) {
  t.fail(e);
} finally {
  if (gw) await gw.stop();
  if (idp) await idp.stop();
  t.finish();
}
