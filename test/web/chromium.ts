// A headless Chromium (Debian's /usr/bin/chromium) driven over the DevTools protocol on a pipe
// (--remote-debugging-pipe: JSON messages separated by NUL on fds 3 and 4): no driver library,
// no browser download, no port to find.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';

export const CHROMIUM = process.env.LIVMAP_CHROMIUM ?? '/usr/bin/chromium';
export const chromiumMissing = (): string | undefined => (existsSync(CHROMIUM) ? undefined : `${CHROMIUM} is missing (apt-get install chromium)`);

interface Pending {
  resolve(value: Record<string, unknown>): void;
  reject(err: Error): void;
}

export class Browser {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private buffer = '';
  private session = '';
  readonly console: string[] = [];

  private constructor(private readonly child: ChildProcess, private readonly profile: string, private readonly input: Writable, output: Readable) {
    output.setEncoding('utf8');
    output.on('data', (chunk: string) => {
      this.buffer += chunk;
      let end;
      while ((end = this.buffer.indexOf('\0')) >= 0) {
        const message = JSON.parse(this.buffer.slice(0, end)) as { id?: number; result?: Record<string, unknown>; error?: { message: string }; method?: string; params?: Record<string, any> };
        this.buffer = this.buffer.slice(end + 1);
        if (message.id !== undefined) {
          const waiter = this.pending.get(message.id);
          this.pending.delete(message.id);
          if (message.error) waiter?.reject(new Error(message.error.message));
          else waiter?.resolve(message.result ?? {});
        } else if (message.method === 'Runtime.consoleAPICalled') {
          this.console.push(`${message.params?.type}: ${(message.params?.args as Array<{ value?: unknown; description?: string }> ?? []).map((a) => a.value ?? a.description).join(' ')}`);
        } else if (message.method === 'Runtime.exceptionThrown') {
          this.console.push(`exception: ${message.params?.exceptionDetails?.exception?.description ?? message.params?.exceptionDetails?.text}`);
        }
      }
    });
  }

  /** Starts Chromium headless (no sandbox: tests run as root) with a throw-away profile, on one page. */
  static async launch(width = 1400, height = 1000): Promise<Browser> {
    const profile = await mkdtemp(join(tmpdir(), 'livmap-chromium-'));
    const child = spawn(CHROMIUM, [
      '--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--no-default-browser-check', '--disable-extensions',
      '--disable-background-networking', '--disable-sync', '--disable-dev-shm-usage', '--hide-scrollbars', '--mute-audio',
      `--user-data-dir=${profile}`, `--window-size=${width},${height}`, '--remote-debugging-pipe', 'about:blank',
    ], { stdio: ['ignore', 'ignore', 'ignore', 'pipe', 'pipe'] });
    const browser = new Browser(child, profile, child.stdio[3] as Writable, child.stdio[4] as Readable);
    try {
      const { targetInfos } = await browser.send('Target.getTargets') as { targetInfos: Array<{ targetId: string; type: string }> };
      const page = targetInfos.find((x) => x.type === 'page') ?? { targetId: ((await browser.send('Target.createTarget', { url: 'about:blank' })) as { targetId: string }).targetId };
      browser.session = ((await browser.send('Target.attachToTarget', { targetId: page.targetId, flatten: true })) as { sessionId: string }).sessionId;
      await browser.send('Page.enable');
      await browser.send('Runtime.enable');
      await browser.send('Emulation.setDeviceMetricsOverride', { width, height, deviceScaleFactor: 1, mobile: false });
      return browser;
    } catch (err) {
      await browser.close();
      throw err;
    }
  }

  /** A DevTools command, to the page once attached. */
  send(method: string, params: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    const id = this.nextId++;
    const message = { id, method, params, ...(this.session && !method.startsWith('Target.') && !method.startsWith('Browser.') ? { sessionId: this.session } : {}) };
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`DevTools ${method}: no answer within 15 s`));
      }, 15_000);
      this.pending.set(id, {
        resolve: (v) => { clearTimeout(timer); resolve(v); },
        reject: (e) => { clearTimeout(timer); reject(e); },
      });
      this.input.write(`${JSON.stringify(message)}\0`);
    });
  }

  /** Evaluates `expression` in the page (awaiting a promise) and returns its JSON value. */
  async evaluate<T>(expression: string): Promise<T> {
    const answer = await this.send('Runtime.evaluate', { expression, returnByValue: true, awaitPromise: true }) as { result: { value?: T }; exceptionDetails?: { text: string; exception?: { description?: string } } };
    if (answer.exceptionDetails) throw new Error(`in the page: ${answer.exceptionDetails.exception?.description ?? answer.exceptionDetails.text}`);
    return answer.result.value as T;
  }

  /** Navigates and waits for the document to load. */
  async open(url: string): Promise<void> {
    await this.send('Page.navigate', { url });
    await this.waitFor(`document.readyState === 'complete' && location.href === ${JSON.stringify(url)}`, 'the page to load');
  }

  /** Waits until `expression` is truthy in the page. */
  async waitFor(expression: string, what: string, ms = 8000): Promise<void> {
    const end = Date.now() + ms;
    for (;;) {
      if (await this.evaluate<boolean>(`Boolean(${expression})`).catch(() => false)) return;
      if (Date.now() > end) throw new Error(`timed out waiting for ${what} (${expression}); console: ${this.console.join(' | ') || 'empty'}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Types text into the focused element as a keyboard would. */
  async type(selector: string, text: string): Promise<void> {
    await this.evaluate(`document.querySelector(${JSON.stringify(selector)}).focus()`);
    await this.send('Input.insertText', { text });
  }

  /** A PNG of the whole page (not only the viewport). */
  async screenshot(): Promise<Buffer> {
    const { cssContentSize } = await this.send('Page.getLayoutMetrics') as { cssContentSize: { width: number; height: number } };
    const { data } = await this.send('Page.captureScreenshot', {
      format: 'png', captureBeyondViewport: true,
      clip: { x: 0, y: 0, width: Math.ceil(cssContentSize.width), height: Math.ceil(cssContentSize.height), scale: 1 },
    }) as { data: string };
    return Buffer.from(data, 'base64');
  }

  async close(): Promise<void> {
    await this.send('Browser.close').catch(() => undefined);
    const exited = new Promise<void>((resolve) => {
      if (this.child.exitCode !== null || this.child.signalCode !== null) resolve();
      else this.child.once('exit', () => resolve());
    });
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
    for (const waiter of this.pending.values()) waiter.reject(new Error('browser closed'));
    this.pending.clear();
    await rm(this.profile, { recursive: true, force: true });
  }
}
