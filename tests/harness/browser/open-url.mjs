// open-url.mjs - a person's browser for `gatehouse login --browser`: the
// CLI starts it (through $BROWSER) with the sign-in URL; it opens the URL
// in headless Chromium, signs in at the test IdP as GH_BROWSER_USER (or
// presses Cancel when that is "cancel") and follows the redirect back to
// the CLI's loopback listener. The final page's URL and text go to
// GH_BROWSER_RESULT as JSON.
//
// GH_BROWSER_GO, when set, is a file to wait for before opening the URL
// (so a test can knock on the listener first); the URL is written to
// GH_BROWSER_URL at once.
//
//   node open-url.mjs URL
import fs from 'node:fs';
import { launchBrowser } from './browser.mjs';

const url = process.argv[2];
const { GH_BROWSER_USER: user = 'alice', GH_BROWSER_RESULT: out, GH_BROWSER_GO: go, GH_BROWSER_URL: urlFile } = process.env;
if (urlFile) fs.writeFileSync(urlFile, url);
const end = Date.now() + 60000;
while (go && !fs.existsSync(go) && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
const b = await launchBrowser({});
let result;
try {
  result = await b.withPage('cli-login', async (page) => {
    await page.goto(url);
    await page.click(user === 'cancel' ? '#login-cancel' : `button[value="${user}"]`);
    await page.waitForURL((u) => u.hostname === '127.0.0.1' && u.pathname === '/callback', { timeout: 20000 });
    await page.waitForLoadState();
    return { url: page.url(), text: await page.textContent('body') };
  });
} catch (e) {
  result = { error: String(e && e.message) };
}
await b.close();
// Whole, or not at all: the test waits for the file to appear.
if (out) {
  fs.writeFileSync(`${out}.tmp`, JSON.stringify(result));
  fs.renameSync(`${out}.tmp`, out);
}
