// tixserver: a real `tix serve` for the browser tests, as tests/system/tixserver.py runs one
// for pytest: the binary of $TIX_BIN (default build/asan/tix) on 127.0.0.1 over a fresh,
// seeded data directory, with its output kept for failure reports. stop() requires a graceful
// exit 0 with no sanitizer report.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { randomBytes } from "node:crypto";

export const REPO = resolve(new URL("../../..", import.meta.url).pathname);
const START_TIMEOUT_MS = 30000;
const STOP_TIMEOUT_MS = 30000;
const SANITIZER = /ERROR: (Address|Leak|Thread)Sanitizer|WARNING: ThreadSanitizer|runtime error: |SUMMARY: (Address|Undefined|Leak)/;

export function tixBinary() {
  return process.env.TIX_BIN || join(REPO, "build", "asan", "tix");
}

// A free TCP port on 127.0.0.1 (so that a restarted server can come back on the same one).
export function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once("error", fail);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

export class TixServer {
  // args: more `tix serve` options; seed: run `tix seed` first (the three demo events).
  constructor({ args = [], seed = true } = {}) {
    this.args = args;
    this.seed = seed;
    this.dataDir = mkdtempSync(join(tmpdir(), "tix-browser-"));
    this.adminToken = randomBytes(16).toString("hex");
    this.lines = [];
    this.proc = null;
    this.port = 0;
  }

  get url() {
    return `http://127.0.0.1:${this.port}`;
  }

  async start() {
    if (this.seed && !this.seeded) {
      const r = spawnSync(tixBinary(), ["seed", "--data", this.dataDir], { encoding: "utf8", timeout: 120000 });
      if (r.status !== 0) throw new Error(`tix seed exited ${r.status}: ${r.stderr}${r.error || ""}`);
      this.seeded = true;
    }
    if (!this.port) this.port = await freePort();
    this.proc = spawn(tixBinary(), ["serve", "--listen", `127.0.0.1:${this.port}`, "--data", this.dataDir,
      "--admin-token", this.adminToken, "--threads", "2", ...this.args], { stdio: ["ignore", "pipe", "pipe"] });
    const proc = this.proc;
    const ready = new Promise((ok, fail) => {
      const timer = setTimeout(() => fail(new Error("tix did not start in time\n" + this.output())), START_TIMEOUT_MS);
      const onLine = (line) => {
        this.lines.push(line);
        if (/listening on /.test(line)) {
          clearTimeout(timer);
          ok();
        }
      };
      for (const stream of [proc.stdout, proc.stderr]) {
        let rest = "";
        stream.setEncoding("utf8");
        stream.on("data", (chunk) => {
          const parts = (rest + chunk).split("\n");
          rest = parts.pop();
          parts.forEach(onLine);
        });
      }
      proc.once("exit", (code) => {
        clearTimeout(timer);
        fail(new Error(`tix exited with ${code} before it was ready\n` + this.output()));
      });
    });
    this.exited = new Promise((ok) => proc.once("exit", (code, signal) => ok({ code, signal })));
    await ready;
    return this;
  }

  // SIGTERM; the exit must be 0 and the output free of sanitizer reports.
  async stop() {
    if (!this.proc) return;
    const proc = this.proc;
    this.proc = null;
    proc.kill("SIGTERM");
    const timer = setTimeout(() => proc.kill("SIGKILL"), STOP_TIMEOUT_MS);
    const { code, signal } = await this.exited;
    clearTimeout(timer);
    const reports = this.lines.filter((l) => SANITIZER.test(l));
    if (code !== 0 || reports.length) {
      throw new Error(`tix stopped with code ${code} signal ${signal}, ${reports.length} sanitizer lines\n` + this.output());
    }
  }

  // stop(), and the data directory removed.
  async close() {
    try {
      await this.stop();
    } finally {
      rmSync(this.dataDir, { recursive: true, force: true });
    }
  }

  output(last = 80) {
    return "---- tix output ----\n" + this.lines.slice(-last).join("\n") + "\n----";
  }

  // A JSON request to the server (admin token unless auth is given): {status, body}.
  async request(method, path, body, auth = this.adminToken) {
    const res = await fetch(this.url + path, {
      method,
      headers: { "Content-Type": "application/json", ...(auth ? { Authorization: "Bearer " + auth } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let json = null;
    try {
      json = JSON.parse(text);
    } catch {
      json = text;
    }
    return { status: res.status, body: json };
  }
}
