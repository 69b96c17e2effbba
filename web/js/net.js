// net.js - fetch for the pages: a GET or HEAD that fails at the network
// level (fetch rejects; e.g. Chromium's net::ERR_NETWORK_CHANGED when the
// machine's addresses change under an HTTP/2 connection) is tried again,
// twice, a moment later. Those are safe to repeat; a POST never is, so it
// is tried once and its failure reported.
'use strict';

(function net(root) {
  const TRIES = 3;
  const PAUSE_MS = 300;
  async function ghFetch(url, options = {}) {
    const method = (options.method || 'GET').toUpperCase();
    const tries = method === 'GET' || method === 'HEAD' ? TRIES : 1;
    for (let i = 1; ; i++) {
      try {
        return await fetch(url, options);
      } catch (e) {
        if (i >= tries) throw e;
        await new Promise((r) => setTimeout(r, PAUSE_MS * i));
      }
    }
  }
  root.ghFetch = ghFetch;
}(globalThis));
