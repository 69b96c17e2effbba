// session.mjs - a headless client of the gateway's session WebSocket
// (docs/PROTOCOL.md "Browser sessions"), for tests and benchmarks.
//
//   const s = await openSession(base, { target: 'web1', token });
//   await s.waitState('credentials');
//   s.credential({ username, password });
//   await s.waitState('open');
//   s.input('echo hi\r');  await s.waitOutput(/hi/);
//   const c = await s.closed;  // { code, reason, frame: {reason, message} }
import WebSocket from 'ws';

export const F = { OUTPUT: 1, INPUT: 2, RESIZE: 3, STATUS: 4, CREDENTIAL: 5, START: 6, CLOSE: 7 };

export function openSession(base, { target, token, cookie, origin, protocol = 'ssh', cols, rows, readOutput = true } = {}) {
  const url = new URL('/api/v1/connect', base.replace(/^http/, 'ws'));
  url.searchParams.set('target', target);
  url.searchParams.set('protocol', protocol);
  if (cols) url.searchParams.set('cols', String(cols));
  if (rows) url.searchParams.set('rows', String(rows));
  const headers = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (cookie) headers.cookie = cookie;
  const ws = new WebSocket(url, 'gatehouse.v1', { headers, origin, rejectUnauthorized: false, perMessageDeflate: false });
  const s = {
    ws,
    statuses: [],
    outputChunks: [],
    outputBytes: 0,
    closeFrame: null,
    state: 'handshake',
    waiters: [],
    get output() { return Buffer.concat(this.outputChunks).toString('utf8'); },
    send(type, payload = Buffer.alloc(0)) {
      ws.send(Buffer.concat([Buffer.from([type]), Buffer.from(payload)]));
    },
    input(text) { this.send(F.INPUT, Buffer.from(text, 'utf8')); },
    resize(c, r) {
      const b = Buffer.alloc(4);
      b.writeUInt16BE(c, 0);
      b.writeUInt16BE(r, 2);
      this.send(F.RESIZE, b);
    },
    credential(obj) { this.send(F.CREDENTIAL, Buffer.from(JSON.stringify(obj))); },
    wait(pred, what, ms = 15000) {
      if (pred()) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const w = { pred, resolve, timer: null };
        w.timer = setTimeout(() => {
          this.waiters = this.waiters.filter((x) => x !== w);
          reject(new Error(`timed out waiting for ${what}; state=${this.state} statuses=${JSON.stringify(this.statuses)} close=${JSON.stringify(this.closeFrame)} output=${JSON.stringify(this.output.slice(-300))}`));
        }, ms);
        this.waiters.push(w);
      });
    },
    waitState(st, ms) { return this.wait(() => this.state === st, `state ${st}`, ms); },
    waitOutput(re, ms) { return this.wait(() => re.test(this.output), `output ${re}`, ms); },
    poke() {
      for (const w of [...this.waiters]) {
        if (w.pred()) {
          clearTimeout(w.timer);
          this.waiters = this.waiters.filter((x) => x !== w);
          w.resolve();
        }
      }
    },
  };
  s.opened = new Promise((resolve, reject) => {
    ws.on('open', resolve);
    ws.on('unexpected-response', (req, res) => reject(Object.assign(new Error(`handshake refused: ${res.statusCode}`), { status: res.statusCode })));
    ws.on('error', reject);
  });
  s.opened.catch(() => {});
  s.closed = new Promise((resolve) => {
    ws.on('close', (code, reason) => {
      s.state = 'closed';
      s.poke();
      resolve({ code, reason: reason.toString(), frame: s.closeFrame });
    });
    ws.on('error', () => {});
  });
  ws.on('message', (data, isBinary) => {
    if (!isBinary || data.length === 0) throw new Error('gateway sent a non-binary or empty message');
    const type = data[0];
    const body = data.subarray(1);
    if (type === F.OUTPUT) {
      s.outputBytes += body.length;
      if (readOutput) s.outputChunks.push(Buffer.from(body));
    } else if (type === F.STATUS) {
      const j = JSON.parse(body.toString('utf8'));
      s.statuses.push(j);
      if (j.state) s.state = j.state;
    } else if (type === F.CLOSE) {
      s.closeFrame = JSON.parse(body.toString('utf8'));
    }
    s.poke();
  });
  return s;
}

// A raw tunnel (docs/PROTOCOL.md "Tunnels"): bytes as binary messages, JSON
// control as text.
export function openTunnel(base, { target, port, token, origin } = {}) {
  const url = new URL('/api/v1/tunnel', base.replace(/^http/, 'ws'));
  if (target !== undefined) url.searchParams.set('target', target);
  if (port !== undefined) url.searchParams.set('port', String(port));
  const headers = token ? { authorization: `Bearer ${token}` } : {};
  const ws = new WebSocket(url, 'gatehouse.tunnel.v1', { headers, origin, rejectUnauthorized: false, perMessageDeflate: false });
  const t = {
    ws, controls: [], chunks: [], bytes: 0, waiters: [],
    get data() { return Buffer.concat(this.chunks); },
    wait(pred, what, ms = 15000) {
      if (pred()) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const w = { pred, resolve };
        w.timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}: ${JSON.stringify(this.controls)}`)), ms);
        this.waiters.push(w);
      });
    },
    poke() {
      for (const w of [...this.waiters]) {
        if (w.pred()) { clearTimeout(w.timer); this.waiters = this.waiters.filter((x) => x !== w); w.resolve(); }
      }
    },
  };
  t.opened = new Promise((resolve, reject) => {
    ws.on('open', resolve);
    ws.on('unexpected-response', (req, res) => reject(Object.assign(new Error(`handshake refused: ${res.statusCode}`), { status: res.statusCode })));
    ws.on('error', reject);
  });
  t.opened.catch(() => {});
  t.closed = new Promise((resolve) => {
    ws.on('close', (code, reason) => { t.poke(); resolve({ code, reason: reason.toString(), control: t.controls.find((c) => c.type === 'close') }); });
    ws.on('error', () => {});
  });
  ws.on('message', (d, isBinary) => {
    if (isBinary) { t.chunks.push(Buffer.from(d)); t.bytes += d.length; } else t.controls.push(JSON.parse(d.toString('utf8')));
    t.poke();
  });
  return t;
}
