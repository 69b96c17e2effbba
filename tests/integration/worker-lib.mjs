// worker-lib.mjs - drive a real gatehouse-worker as the broker would: fd 3
// is a socketpair end carrying length-prefixed frames (docs/PROTOCOL.md).
//
//   const w = startWorker(bin, { logLevel: 'debug' });
//   w.start({ address, port: 22, host_key: pin, cols: 80, rows: 24 });
//   const st = await w.next();                 // { type, name, payload, json }
//   w.credential({ username, password });
//   await w.waitOutput(/hello/);                 // OUTPUT text so far matches
//   w.input('exit\r'); const close = await w.waitClose();
//   const { code, signal } = await w.exited;
import { spawn, execFile } from 'node:child_process';
import fs from 'node:fs';

export const T = { OUTPUT: 1, INPUT: 2, RESIZE: 3, STATUS: 4, CREDENTIAL: 5, START: 6, CLOSE: 7 };
const NAMES = Object.fromEntries(Object.entries(T).map(([k, v]) => [v, k]));

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// One frame on the link: 32-bit big-endian length (type + payload), type, payload.
export function frame(type, payload = Buffer.alloc(0)) {
  const p = Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
  const b = Buffer.alloc(5 + p.length);
  b.writeUInt32BE(p.length + 1, 0);
  b[4] = type;
  p.copy(b, 5);
  return b;
}

export function resizePayload(cols, rows) {
  const b = Buffer.alloc(4);
  b.writeUInt16BE(cols, 0);
  b.writeUInt16BE(rows, 2);
  return b;
}

// Alive and not a zombie (PID 1 here does not reap orphans).
export function alive(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const st = s.slice(s.lastIndexOf(')') + 2, s.lastIndexOf(')') + 3);
    return st !== 'Z' && st !== 'X';
  } catch {
    return false;
  }
}

// VmRSS of pid in KiB (0 when gone).
export function rssKiB(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

export function run(cmd, args, opts = {}) {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: 60000, ...opts }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')}: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

export function startWorker(bin, { logLevel = 'info', env = {}, args } = {}) {
  const child = spawn(bin, args || ['--fd', '3', '--log-level', logLevel], {
    stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  const w = {
    child,
    pid: child.pid,
    sock: child.stdio[3],
    stderr: '',
    frames: [],
    outText: '',
    outBytes: 0,
    onOutput: null, // (Buffer) => void, instead of keeping the text
    waiters: [],
    closed: false,
    spawnedAt: Date.now(),
  };
  let buf = Buffer.alloc(0);
  child.stderr.on('data', (d) => {
    w.stderr += d.toString();
    if (process.env.GH_TEST_VERBOSE) process.stderr.write(d);
  });
  w.exited = new Promise((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal, at: Date.now() }));
  });
  const wake = () => {
    for (const f of w.waiters.splice(0)) f();
  };
  w.sock.on('data', (d) => {
    buf = buf.length ? Buffer.concat([buf, d]) : d;
    while (buf.length >= 4) {
      const n = buf.readUInt32BE(0);
      if (buf.length < 4 + n) break;
      const type = buf[4];
      const payload = buf.subarray(5, 4 + n);
      buf = buf.subarray(4 + n);
      if (type === T.OUTPUT) {
        w.outBytes += payload.length;
        if (w.onOutput) w.onOutput(payload);
        else w.outText += payload.toString('latin1');
        continue;
      }
      const f = { type, name: NAMES[type] || `0x${type.toString(16)}`, payload: Buffer.from(payload) };
      try {
        f.json = JSON.parse(payload.toString());
      } catch {
        f.json = undefined;
      }
      w.frames.push(f);
    }
    wake();
  });
  w.sock.on('end', () => {
    w.closed = true;
    wake();
  });
  w.sock.on('close', () => {
    w.closed = true;
    wake();
  });
  w.sock.on('error', () => {
    w.closed = true;
    wake();
  });
  child.on('exit', wake);

  w.send = (type, payload) => w.sock.write(frame(type, payload));
  w.raw = (bytes) => w.sock.write(bytes);
  w.json = (type, obj) => w.send(type, JSON.stringify(obj));
  w.start = (obj) => w.json(T.START, { protocol: 'ssh', ...obj });
  w.credential = (obj) => w.json(T.CREDENTIAL, obj);
  w.input = (s) => w.send(T.INPUT, s);
  w.resize = (c, r) => w.send(T.RESIZE, resizePayload(c, r));
  w.close = (reason = 'user_closed') => w.json(T.CLOSE, { reason, message: 'test' });

  // Wait until pred() is truthy (re-checked on every frame or event).
  w.until = (pred, ms, what) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        w.waiters = w.waiters.filter((f) => f !== check);
        reject(new Error(`timed out after ${ms} ms waiting for ${what}; frames: ${
          JSON.stringify(w.frames.map((f) => f.json || f.name))}; output tail: ${
          JSON.stringify(w.outText.slice(-300))}; stderr: ${w.stderr.slice(-1500)}`));
      }, ms);
      const check = () => {
        let v;
        try {
          v = pred();
        } catch (e) {
          clearTimeout(timer);
          reject(e);
          return;
        }
        if (v) {
          clearTimeout(timer);
          resolve(v);
        } else {
          w.waiters.push(check);
        }
      };
      check();
    });
  // The next non-OUTPUT frame.
  w.next = async (ms = 15000) => {
    await w.until(() => w.frames.length > 0, ms, 'a frame');
    return w.frames.shift();
  };
  // The next STATUS with this event; anything else in between is an error.
  w.status = async (event, ms = 15000) => {
    const f = await w.next(ms);
    if (f.type !== T.STATUS || !f.json || f.json.event !== event) {
      throw new Error(`expected STATUS ${event}, got ${f.name} ${f.payload.toString()}`);
    }
    return f.json;
  };
  w.waitClose = async (ms = 15000) => {
    for (;;) {
      const f = await w.next(ms);
      if (f.type === T.CLOSE) return f.json;
    }
  };
  w.waitOutput = (re, ms = 15000) => w.until(() => re.exec(w.outText), ms, `output ${re}`);
  w.kill = () => {
    if (alive(w.pid)) {
      try {
        process.kill(w.pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
  };
  return w;
}
