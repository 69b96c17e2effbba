// frames.js - the browser side of the session frame format of
// docs/PROTOCOL.md ("Browser sessions (WebSocket)"): one binary WebSocket
// message is one frame, a type byte then the payload. Pure functions, no
// DOM: the terminal page uses them, and tests can load this file alone.
'use strict';

(function frames(root) {
  const T = Object.freeze({
    OUTPUT: 0x01, INPUT: 0x02, RESIZE: 0x03, STATUS: 0x04, CREDENTIAL: 0x05, START: 0x06, CLOSE: 0x07,
  });
  const PAYLOAD_MAX = 65536; // GH_FRAME_PAYLOAD_MAX
  const DIM_MAX = 1000;
  const enc = new TextEncoder();
  const dec = new TextDecoder('utf-8');

  function frame(type, payload) {
    const f = new Uint8Array(1 + payload.length);
    f[0] = type;
    f.set(payload, 1);
    return f;
  }

  // INPUT frames for bytes (a Uint8Array), cut at PAYLOAD_MAX: the worker
  // writes them to the shell in order, so a cut needs no care.
  function inputBytes(bytes) {
    const out = [];
    for (let i = 0; i < bytes.length; i += PAYLOAD_MAX) {
      out.push(frame(T.INPUT, bytes.subarray(i, i + PAYLOAD_MAX)));
    }
    return out;
  }

  // Text typed or pasted (xterm's onData): UTF-8.
  function input(text) {
    return inputBytes(enc.encode(text));
  }

  // xterm's onBinary: a string whose characters are bytes 0..255.
  function inputBinary(str) {
    const b = new Uint8Array(str.length);
    for (let i = 0; i < str.length; i++) b[i] = str.charCodeAt(i) & 0xff;
    return inputBytes(b);
  }

  const clampDim = (n) => Math.min(DIM_MAX, Math.max(1, Math.floor(Number(n)) || 1));

  function resize(cols, rows) {
    const f = new Uint8Array(5);
    const v = new DataView(f.buffer);
    f[0] = T.RESIZE;
    v.setUint16(1, clampDim(cols));
    v.setUint16(3, clampDim(rows));
    return f;
  }

  function json(type, obj) {
    return frame(type, enc.encode(JSON.stringify(obj)));
  }

  // {username, password} or {username, private_key, passphrase?}
  function credential(c) {
    const o = { username: String(c.username) };
    if (c.private_key) {
      o.private_key = String(c.private_key);
      if (c.passphrase) o.passphrase = String(c.passphrase);
    } else {
      o.password = String(c.password ?? '');
    }
    return json(T.CREDENTIAL, o);
  }

  function close(reason, message) {
    return json(T.CLOSE, { reason, message });
  }

  // An ArrayBuffer from the socket -> {type, payload (Uint8Array)}, plus
  // json for STATUS and CLOSE. Throws on an empty frame or bad JSON.
  function decode(buf) {
    const u8 = buf instanceof Uint8Array ? buf : new Uint8Array(buf);
    if (u8.length < 1) throw new Error('empty frame');
    const f = { type: u8[0], payload: u8.subarray(1) };
    if (f.type === T.STATUS || f.type === T.CLOSE) {
      f.json = JSON.parse(dec.decode(f.payload));
      if (f.json === null || typeof f.json !== 'object' || Array.isArray(f.json)) {
        throw new Error('frame JSON is not an object');
      }
    }
    return f;
  }

  root.GhFrames = Object.freeze({
    T, PAYLOAD_MAX, input, inputBinary, resize, credential, close, decode,
  });
}(typeof globalThis !== 'undefined' ? globalThis : this));
