/**
 * The command line of `deno task serve`, run as a subprocess with the
 * task's own permissions: it listens on the documented HOST values, logs a
 * missing model folder once without a stack trace, serves 503 meanwhile,
 * exits with one line on an invalid setting, and
 * stops once when SIGTERM comes twice.
 *
 * The arguments come from the task in deno.json, and the server is started
 * directly rather than through `deno task`, so that the test signals the
 * server process itself.
 */
import assert from "node:assert/strict";

const REPO = new URL("../../", import.meta.url);
const STARTUP_TIMEOUT_MS = 60_000;

async function serveTaskArgs(): Promise<string[]> {
  const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", REPO)));
  const [program, ...args] = String(config.tasks.serve).split(/\s+/);
  assert.equal(program, "deno", `the serve task must start with "deno": ${config.tasks.serve}`);
  return args;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A server subprocess and everything it has written to stdout and stderr. */
interface ServerProcess {
  child: Deno.ChildProcess;
  output(): string;
  /** Settles when both output streams have ended. */
  drained: Promise<void>;
}

function startServer(args: string[], env: Record<string, string>): ServerProcess {
  const child = new Deno.Command(Deno.execPath(), {
    args,
    cwd: REPO,
    env: { NO_COLOR: "1", DECODE_WORKERS: "0", ...env },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let text = "";
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) text += chunk;
  };
  const drained = Promise.all([collect(child.stdout), collect(child.stderr)]).then(() => {});
  return { child, output: () => text, drained };
}

/** Waits until the output matches `pattern` and returns the match. */
async function waitForOutput(server: ServerProcess, pattern: RegExp): Promise<RegExpMatchArray> {
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  let exited = false;
  server.child.status.then(() => exited = true);
  while (Date.now() < deadline) {
    const match = server.output().match(pattern);
    if (match) return match;
    if (exited) break;
    await delay(50);
  }
  throw new Error(`The server output never matched ${pattern}:\n${server.output()}`);
}

async function stopServer(server: ServerProcess): Promise<void> {
  try {
    server.child.kill("SIGKILL");
  } catch {
    // The server has already exited.
  }
  await server.child.status;
  await server.drained;
}

function countLines(text: string, pattern: RegExp): number {
  return text.split("\n").filter((line) => pattern.test(line)).length;
}

Deno.test("serve task with HOST=127.0.0.1 and no model", async (t) => {
  const args = await serveTaskArgs();
  const modelDir = `runs/missing-model-${crypto.randomUUID()}`;
  const server = startServer(args, { HOST: "127.0.0.1", PORT: "0", MODEL_DIR: modelDir });

  try {
    let baseUrl = "";
    await t.step("listens on 127.0.0.1", async () => {
      const [, port] = await waitForOutput(server, /Listening on http:\/\/127\.0\.0\.1:(\d+)\//);
      baseUrl = `http://127.0.0.1:${port}`;
    });

    await t.step("logs the missing folder once, without a stack trace", async () => {
      await waitForOutput(server, /The model failed to load/);
      const output = server.output();
      assert.equal(countLines(output, /\[ERR\]/), 1, output);
      assert.ok(output.includes(`Model folder ${modelDir} (MODEL_DIR) not found`), output);
      assert.match(output, /set MODEL_DIR=runs\/<name>\/model/);
      assert.equal(countLines(output, /^\s+at /), 0, `stack trace in:\n${output}`);
    });

    await t.step("answers 503 on /readyz and 200 on /healthz", async () => {
      const ready = await fetch(`${baseUrl}/readyz`);
      assert.equal(ready.status, 503);
      assert.equal((await ready.json()).error.code, "model_unavailable");
      const health = await fetch(`${baseUrl}/healthz`);
      await health.body?.cancel();
      assert.equal(health.status, 200);
    });

    await t.step("stops once when SIGTERM comes twice", async () => {
      // An upload that stalls after 100 of its 5000 bytes keeps the shutdown
      // of Deno 2.9 waiting, so the second signal reaches a server that is
      // stopping. Deno 2.5 does not wait for it and exits first.
      const port = Number(new URL(baseUrl).port);
      const connection = await Deno.connect({ hostname: "127.0.0.1", port });
      const head = "POST /v1/classify HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5000\r\n\r\n";
      await connection.write(new TextEncoder().encode(head + "x".repeat(100)));
      await delay(300);
      server.child.kill("SIGTERM");
      await delay(300);
      try {
        server.child.kill("SIGTERM");
      } catch {
        console.warn(
          `Deno ${Deno.version.deno} stopped the server before the second SIGTERM, ` +
            "so this run checks a single signal only.",
        );
      }
      await delay(300);
      connection.close();
      const status = await server.child.status;
      await server.drained;
      const output = server.output();
      assert.equal(status.code, 0, output);
      assert.equal(countLines(output, /Received SIGTERM, stopping/), 1, output);
      assert.equal(countLines(output, /\bStopped$/), 1, output);
    });
  } finally {
    await stopServer(server);
  }
});

Deno.test("serve task with HOST=localhost", async () => {
  const args = await serveTaskArgs();
  const server = startServer(args, {
    HOST: "localhost",
    PORT: "0",
    MODEL_DIR: `runs/missing-model-${crypto.randomUUID()}`,
  });
  try {
    const [, port] = await waitForOutput(server, /Listening on http:\/\/[^ ]+:(\d+)\//);
    const health = await fetch(`http://localhost:${port}/healthz`);
    await health.body?.cancel();
    assert.equal(health.status, 200);
    assert.equal(
      countLines(server.output(), /NotCapable: Requires net access/),
      0,
      server.output(),
    );
  } finally {
    await stopServer(server);
  }
});

Deno.test("serve task with an invalid setting stops with one line", async () => {
  const server = startServer(await serveTaskArgs(), { HOST: "127.0.0.1", LOG_LEVEL: "loud" });
  const status = await server.child.status;
  await server.drained;
  const lines = server.output().trim().split("\n");
  assert.equal(status.code, 1);
  assert.equal(lines.length, 1, server.output());
  assert.match(lines[0], /^error: LOG_LEVEL="loud" is invalid\. Set one of trace, debug/);
});
