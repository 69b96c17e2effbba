// common.mjs - pieces shared by the test IdP (idp.mjs) and its client
// library (lib.mjs): the demo users, client ids, resource indicators and the
// signing-key file format. Node >= 18.12, no dependencies.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export const WEB_CLIENT_ID = 'gatehouse-web';
export const CLI_CLIENT_ID = 'gatehouse-cli';
export const OTHER_CLIENT_ID = 'other-app';

export const DEFAULT_AUDIENCE = 'gatehouse';
export const OTHER_AUDIENCE = 'other-api';
export const DEFAULT_GATEWAY_REDIRECT_URI = 'https://127.0.0.1:8443/auth/callback';
export const CLI_REDIRECT_URI = 'http://127.0.0.1/callback';
export const OTHER_APP_REDIRECT_URI = 'https://other-app.example.test/callback';

// Request header that logs a user in at the interaction step (test IdP only).
export const TEST_LOGIN_HEADER = 'x-test-login';

export const SCOPES = ['openid', 'offline_access', 'email', 'profile', 'groups'];
export const DEFAULT_SCOPE = 'openid email profile groups';

// Static demo users. sub = username (stable across restarts).
export const DEFAULT_USERS = {
  alice: { name: 'Alice Anders', groups: ['gatehouse-users'] },
  bob: { name: 'Bob Brandt', groups: ['gatehouse-users', 'gatehouse-approvers'] },
  carol: { name: 'Carol Chen', groups: ['gatehouse-auditors'] },
  dave: { name: 'Dave Dunn', groups: ['gatehouse-admins'] },
  eve: { name: 'Eve Evans', groups: [] },
};

// Full claim set of a user; oidc-provider filters it by the granted scopes.
export function userClaims(username, u) {
  return {
    sub: u.sub || username,
    email: u.email || `${username}@example.test`,
    email_verified: u.email_verified !== undefined ? u.email_verified : true,
    name: u.name || username,
    preferred_username: username,
    groups: Array.isArray(u.groups) ? [...u.groups] : [],
  };
}

// Resource indicators must be absolute URIs; audiences need not be. An
// audience that already is an absolute URI is its own indicator.
export function resourceFor(audience) {
  if (/^[a-z][a-z0-9+.-]*:/i.test(audience)) {
    try {
      new URL(audience); // eslint-disable-line no-new
      if (!audience.includes('#')) return audience;
    } catch { /* fall through */ }
  }
  return `urn:gatehouse:resource:${encodeURIComponent(audience)}`;
}

// RFC 7638 JWK thumbprint, used as kid.
export function jwkThumbprint(jwk) {
  let members;
  if (jwk.kty === 'RSA') members = { e: jwk.e, kty: jwk.kty, n: jwk.n };
  else if (jwk.kty === 'EC') members = { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y };
  else if (jwk.kty === 'OKP') members = { crv: jwk.crv, kty: jwk.kty, x: jwk.x };
  else throw new Error(`unsupported kty ${jwk.kty}`);
  return crypto.createHash('sha256').update(JSON.stringify(members)).digest('base64url');
}

// One fresh RS256 (RSA 2048) and one ES256 (P-256) private JWK, each with
// kid, alg and use set (oidc-provider signs with the first key of an alg).
export function generateSigningKeys() {
  const rsa = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
  const ec = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
  return [
    { ...rsa, kid: jwkThumbprint(rsa), alg: 'RS256', use: 'sig' },
    { ...ec, kid: jwkThumbprint(ec), alg: 'ES256', use: 'sig' },
  ];
}

export const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

export function publicJwk(jwk) {
  const out = { ...jwk };
  for (const m of PRIVATE_JWK_MEMBERS) delete out[m];
  return out;
}

// Write a file readable by its owner only, atomically (temp file + rename),
// so a reader (the IdP on SIGHUP) never sees half a file.
export function writeFileAtomic0600(file, data) {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`);
  const fd = fs.openSync(tmp, 'wx', 0o600);
  try {
    fs.writeFileSync(fd, data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.chmodSync(tmp, 0o600);
  fs.renameSync(tmp, file);
}

export function jwksPath(stateDir) { return path.join(stateDir, 'jwks.json'); }
export function webSecretPath(stateDir) { return path.join(stateDir, 'web-client-secret'); }
export function otherSecretPath(stateDir) { return path.join(stateDir, 'other-app-secret'); }

// Read and sanity-check a private JWK set file. Throws with a clear message.
export function readPrivateJwks(file) {
  const jwks = JSON.parse(fs.readFileSync(file, 'utf8'));
  if (!jwks || !Array.isArray(jwks.keys) || jwks.keys.length === 0) {
    throw new Error(`${file}: not a JWK set with keys`);
  }
  jwks.keys.forEach((k, i) => {
    if (!k || typeof k !== 'object' || !k.kty || !k.d) throw new Error(`${file}: keys[${i}] is not a private JWK`);
  });
  const has = (alg) => jwks.keys.some((k) => k.alg === alg || (!k.alg && (alg === 'RS256' ? k.kty === 'RSA' : k.crv === 'P-256')));
  if (!has('RS256')) throw new Error(`${file}: no RS256 key`);
  if (!has('ES256')) throw new Error(`${file}: no ES256 key`);
  return jwks;
}
