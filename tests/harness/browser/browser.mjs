// browser.mjs - headless Chromium for tests, driven by playwright-core.
//
// Uses Debian's /usr/bin/chromium (playwright never downloads a browser
// here), a fresh profile per launch, no background networking, DNS for
// everything but loopback mapped to NOTFOUND, and trusts exactly one
// certificate: the gateway's, by the base64 SHA-256 of its public key.
//
//   const b = await launchBrowser({ spki: gw.spki, artifacts: dir });
//   await b.withPage('login', async (page) => { ... });  // screenshot on failure
//   await b.close();
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const CHROMIUM = process.env.GH_CHROMIUM || '/usr/bin/chromium';

const BASE_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
  '--no-first-run',
  '--password-store=basic',
  '--disable-dev-shm-usage',
  '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost',
];

export async function launchBrowser({ spki, artifacts, extraArgs = [] } = {}) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'gh-chromium-'));
  const args = [...BASE_ARGS, ...extraArgs];
  if (spki) args.push(`--ignore-certificate-errors-spki-list=${spki}`);
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args,
    viewport: { width: 1280, height: 800 },
  });
  const artifactsDir = artifacts || path.join(os.tmpdir(), 'gh-artifacts');
  fs.mkdirSync(artifactsDir, { recursive: true });

  return {
    context,
    artifactsDir,
    async newPage() {
      return context.newPage();
    },
    // Run fn(page); if it throws, save <name>-failure.png and rethrow.
    async withPage(name, fn) {
      const page = await context.newPage();
      try {
        return await fn(page);
      } catch (err) {
        const shot = path.join(artifactsDir, `${name}-failure.png`);
        try {
          await page.screenshot({ path: shot, fullPage: true });
          err.message += `\n(screenshot: ${shot})`;
        } catch { /* page may be gone */ }
        throw err;
      } finally {
        await page.close().catch(() => {});
      }
    },
    async close() {
      await context.close().catch(() => {});
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}
