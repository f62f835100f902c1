/// <reference lib="dom" />
/**
 * The web console path, driven for real: cockpit-ws on 127.0.0.1 with cockpit-machines, a test
 * user in group `libvirt`, and Debian's Chromium headless through puppeteer-core. Everything it
 * starts (the system bus if none ran, cockpit-ws, the browser, the test user and every process of
 * that user's sessions) is stopped and removed by `stop()`; nothing it did not start is touched.
 * Needs the packages `.ci/run` installs: cockpit-ws cockpit-bridge cockpit-system cockpit-machines
 * libvirt-dbus libvirt-daemon-system chromium dbus.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import puppeteer, { type Browser, type Frame, type Page } from 'puppeteer-core';
import { waitFor } from './libvirtd.js';

export const CHROMIUM = '/usr/bin/chromium';
export const COCKPIT_WS = '/usr/lib/cockpit/cockpit-ws';
const SYSTEM_BUS = '/run/dbus/system_bus_socket';

/** What the web console needs, or why it cannot run here (a test skips with this reason). */
export function webConsoleMissing(): string | undefined {
  for (const file of [CHROMIUM, COCKPIT_WS, '/usr/share/cockpit/machines', '/usr/sbin/libvirt-dbus']) {
    if (!existsSync(file)) return `${file} is not installed (scripts/setup-host.sh --test installs it)`;
  }
  return undefined;
}

function run(argv: string[], input?: string): string {
  const result = spawnSync(argv[0]!, argv.slice(1), { input, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${argv.join(' ')} failed: ${result.stderr || result.error}`);
  return result.stdout;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

function canConnect(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const client = net.connect(socket, () => {
      client.end();
      resolve(true);
    });
    client.once('error', () => resolve(false));
  });
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A running cockpit with a logged-in browser on its Virtual machines page. */
export interface WebConsole {
  page: Page;
  /** The cockpit URL, http://127.0.0.1:PORT. */
  url: string;
  user: string;
  /** The machines page's frame (cockpit runs each page in an iframe). */
  machines(): Promise<Frame>;
  /** The text of the guest list's row for `name` (name, connection, state), or undefined. */
  guestRow(name: string): Promise<string | undefined>;
  /** Opens the guest's page (its console among the cards). */
  openGuest(name: string): Promise<void>;
  /** The serial console's visible lines, as xterm.js's accessibility tree holds them. */
  consoleText(): Promise<string>;
  /** Types into the console (the focused terminal), e.g. "\r" for a fresh getty prompt. */
  typeInConsole(text: string): Promise<void>;
  /** Waits until the console's text matches `pattern`; returns that text. */
  waitConsole(pattern: RegExp, timeoutMs: number): Promise<string>;
  screenshot(file: string): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts cockpit-ws (and the system bus when none runs), makes a test user, and logs in with
 * headless Chromium. libvirtd must already run (cockpit-machines reaches it through libvirt-dbus).
 */
export async function startWebConsole(): Promise<WebConsole> {
  const cleanups: (() => Promise<void> | void)[] = [];
  const stop = async (): Promise<void> => {
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup();
      } catch {
        // best effort: the others still run
      }
    }
  };
  try {
    if (!(await canConnect(SYSTEM_BUS))) {
      mkdirSync('/run/dbus', { recursive: true });
      const pid = Number(run(['dbus-daemon', '--system', '--fork', '--print-pid']).trim());
      cleanups.push(() => {
        process.kill(pid, 'SIGTERM');
        // libvirt-dbus, activated on the bus this run started, goes with it.
        spawnSync('pkill', ['-x', 'libvirt-dbus']);
      });
      await waitFor('the system D-Bus', () => canConnect(SYSTEM_BUS), 10_000);
    }

    const user = `xkweb${process.pid % 100000}`;
    const password = randomBytes(12).toString('base64url');
    run(['useradd', '--create-home', '--groups', 'libvirt', '--shell', '/bin/bash', user]);
    cleanups.push(() => {
      // cockpit-bridge, the session bus, libvirt-dbus --session and a session libvirtd run as the user.
      spawnSync('pkill', ['-KILL', '-u', user]);
      spawnSync('userdel', ['--remove', user]);
    });
    run(['chpasswd'], `${user}:${password}\n`);

    const port = await freePort();
    const ws: ChildProcess = spawn(
      COCKPIT_WS,
      ['--no-tls', '--port', String(port), '--address', '127.0.0.1'],
      { stdio: 'ignore' },
    );
    cleanups.push(() => {
      ws.kill('SIGTERM');
    });
    const url = `http://127.0.0.1:${port}`;
    await waitFor(
      `cockpit-ws on ${url}`,
      () =>
        fetch(url)
          .then((r) => r.ok)
          .catch(() => false),
      20_000,
    );

    const profile = mkdtempSync(path.join(os.tmpdir(), 'xenkit-chromium-'));
    cleanups.push(() => rmSync(profile, { recursive: true, force: true }));
    const browser: Browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      // As root Chromium needs --no-sandbox; the rest keeps it off every network but loopback.
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        `--user-data-dir=${profile}`,
      ],
    });
    cleanups.push(() => browser.close());
    const page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 900 });
    page.setDefaultTimeout(60_000);
    await page.goto(url, { waitUntil: 'networkidle2' });
    await page.type('#login-user-input', user);
    await page.type('#login-password-input', password);
    await Promise.all([page.waitForNavigation({ waitUntil: 'networkidle2' }), page.click('#login-button')]);
    await page.goto(`${url}/machines`, { waitUntil: 'networkidle2' });

    const machines = async (): Promise<Frame> => {
      let frame: Frame | undefined;
      await waitFor(
        'the Virtual machines page',
        async () => {
          frame = page.frames().find((f) => f.url().includes('/machines/'));
          return frame !== undefined;
        },
        60_000,
      );
      return frame!;
    };
    // On a host without hardware virtualization (TCG) the page first says so, with an Ignore button.
    const frame = await machines();
    await frame.waitForSelector(
      'xpath/.//*[normalize-space()="Virtual machines" or normalize-space()="Ignore"]',
    );
    const ignore = await frame.$('xpath/.//button[normalize-space()="Ignore"]');
    if (ignore) await ignore.click();

    const rowText = (name: string): Promise<string | undefined> =>
      frame.evaluate((n) => {
        const rows = [...document.querySelectorAll('tr')];
        const row = rows.find((r) =>
          [...r.querySelectorAll('a, button, span')].some((e) => e.textContent?.trim() === n),
        );
        return row
          ? [...row.querySelectorAll('td, th')]
              .map((cell) => cell.textContent?.replace(/\s+/g, ' ').trim() ?? '')
              .filter(Boolean)
              .join(' ')
          : undefined;
      }, name);

    const consoleText = (): Promise<string> =>
      frame.evaluate(() =>
        [...document.querySelectorAll('.xterm-accessibility-tree > div')]
          .map((d) => d.textContent ?? '')
          .join('\n'),
      );

    return {
      page,
      url,
      user,
      machines,
      guestRow: rowText,
      async openGuest(name) {
        const link = await frame.waitForSelector(`xpath/.//a[normalize-space()="${name}"]`);
        await link!.click();
        await frame.waitForSelector('.xterm-accessibility-tree');
      },
      consoleText,
      async typeInConsole(text) {
        const input = await frame.waitForSelector('.xterm-helper-textarea');
        await input!.focus();
        await page.keyboard.type(text);
      },
      async waitConsole(pattern, timeoutMs) {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
          const text = await consoleText();
          if (pattern.test(text)) return text;
          if (Date.now() > deadline)
            throw new Error(
              `the web console never showed ${pattern} in ${timeoutMs} ms; it shows:\n${text.slice(-2000)}`,
            );
          await sleep(500);
        }
      },
      async screenshot(file) {
        mkdirSync(path.dirname(file), { recursive: true });
        await page.screenshot({ path: file });
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** What the web console showed of a guest. */
export interface WebConsoleCheck {
  /** The guest's row in the Virtual machines list, e.g. "web1 System Running Shut down". */
  row: string;
  /** The console's text after Enter was typed. */
  console: string;
  screenshot: string;
  elapsedMs: number;
}

/**
 * The web console path end to end: log in to cockpit, find running guest `name` in the Virtual
 * machines list, open it, type `keys` (Enter) on its serial console until it shows `prompt` (a
 * getty's "login:"), and keep a screenshot at `screenshot`. Everything started is stopped again.
 */
export async function checkGuestInWebConsole(
  name: string,
  screenshot: string,
  { prompt = /login:/, keys = '\r' }: { prompt?: RegExp; keys?: string } = {},
): Promise<WebConsoleCheck> {
  const started = Date.now();
  const web = await startWebConsole();
  try {
    const frame = await web.machines();
    await frame.waitForSelector(`xpath/.//a[normalize-space()="${name}"]`);
    let row = (await web.guestRow(name)) ?? '';
    for (let i = 0; i < 60 && !/Running/.test(row); i++) {
      await sleep(500);
      row = (await web.guestRow(name)) ?? '';
    }
    await web.openGuest(name);
    // The serial console shows only what comes after it connects: a fresh prompt needs a key.
    const deadline = Date.now() + 90_000;
    let text = '';
    while (!prompt.test(text)) {
      if (Date.now() > deadline)
        throw new Error(`the web console of ${name} never showed ${prompt}:\n${text.slice(-1500)}`);
      await web.typeInConsole(keys);
      await sleep(2000);
      text = await web.consoleText();
    }
    await web.screenshot(screenshot);
    return { row, console: text, screenshot, elapsedMs: Date.now() - started };
  } catch (error) {
    await web.screenshot(screenshot).catch(() => undefined);
    throw error;
  } finally {
    await web.stop();
  }
}
