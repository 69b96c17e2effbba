// idle-conns.mjs - open N TLS connections to host:port, make one
// keep-alive HTTP/1.1 request on each (so the server holds a live, idle
// connection rather than a half-open handshake), print "ready N" and hold
// them until stdin closes or SIGTERM.
import tls from 'node:tls';

const [host, port, count] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])];
const socks = [];
let done = 0, failed = 0;

function one() {
  return new Promise((resolve) => {
    const s = tls.connect({ host, port, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] }, () => {
      s.write(`GET /healthz HTTP/1.1\r\nHost: ${host}\r\nConnection: keep-alive\r\n\r\n`);
    });
    let got = false;
    s.on('data', () => { if (!got) { got = true; done++; resolve(); } });
    s.on('error', () => { if (!got) { got = true; failed++; resolve(); } });
    socks.push(s);
  });
}

const BATCH = 50; // connects in flight at once: a burst, not a flood
for (let i = 0; i < count; i += BATCH) {
  await Promise.all(Array.from({ length: Math.min(BATCH, count - i) }, one));
}
console.log(`ready ${done} failed ${failed}`);
const bye = () => { for (const s of socks) s.destroy(); process.exit(0); };
process.stdin.on('end', bye);
process.stdin.resume();
process.on('SIGTERM', bye);
