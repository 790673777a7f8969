import assert from "node:assert/strict";
import { Hono } from "hono";
import { ApiError } from "../../../../edge/errors.ts";
import { bodyLimit, readLimited } from "../../../../edge/middleware/body_limit/index.ts";
import type { EdgeEnv } from "../../../../edge/types.ts";

const MAX_BYTES = 1000;

function createApp(): Hono<EdgeEnv> {
  const app = new Hono<EdgeEnv>();
  app.post(
    "/upload",
    bodyLimit({ maxBytes: MAX_BYTES }),
    (c) => c.json({ bytes: c.var.body.length }),
  );
  app.onError((error, c) => {
    if (error instanceof ApiError) return c.json(error.toBody(), error.status);
    throw error;
  });
  return app;
}

/** Creates a body stream that sends `chunks` chunks of `chunkSize` bytes each and counts how many were pulled. */
function chunkedStream(chunks: number, chunkSize: number): {
  stream: ReadableStream<Uint8Array>;
  pulled: () => number;
} {
  let sent = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent === chunks) return controller.close();
      sent++;
      controller.enqueue(new Uint8Array(chunkSize).fill(sent % 256));
    },
  });
  return { stream, pulled: () => sent };
}

Deno.test("bodyLimit", async (t) => {
  const app = createApp();

  await t.step("accepts a body at the limit", async () => {
    const response = await app.request("/upload", {
      method: "POST",
      body: new Uint8Array(MAX_BYTES),
    });
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { bytes: MAX_BYTES });
  });

  await t.step("accepts an empty request", async () => {
    const response = await app.request("/upload", { method: "POST" });
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { bytes: 0 });
  });

  await t.step("rejects a declared Content-Length over the limit", async () => {
    const response = await app.request("/upload", {
      method: "POST",
      body: new Uint8Array(MAX_BYTES + 1),
      headers: { "content-length": String(MAX_BYTES + 1) },
    });
    assert.equal(response.status, 413);
    const body = await response.json();
    assert.equal(body.error.code, "payload_too_large");
    assert.match(body.error.message, /1001 bytes/);
    assert.match(body.error.message, /limit of 1000 bytes/);
  });

  await t.step("stops a chunked body without Content-Length at the limit", async () => {
    const { stream, pulled } = chunkedStream(100, 300);
    const request = new Request("http://localhost/upload", {
      method: "POST",
      body: stream,
      headers: { "transfer-encoding": "chunked" },
    });
    const response = await app.fetch(request);
    assert.equal(response.status, 413);
    assert.equal((await response.json()).error.code, "payload_too_large");
    assert.ok(pulled() < 10, `read ${pulled()} chunks of 100 after passing the limit`);
  });

  await t.step("counts bytes when Content-Length understates the body", async () => {
    const { stream } = chunkedStream(5, 400);
    const request = new Request("http://localhost/upload", {
      method: "POST",
      body: stream,
      headers: { "content-length": "10" },
    });
    const response = await app.fetch(request);
    assert.equal(response.status, 413);
    assert.match((await response.json()).error.message, /while streaming/);
  });
});

Deno.test("readLimited", async (t) => {
  await t.step("joins chunks in order", async () => {
    const { stream } = chunkedStream(3, 4);
    const bytes = await readLimited(stream, 100);
    assert.deepEqual(Array.from(bytes), [1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3]);
  });

  await t.step("throws the abort reason when the signal aborts", async () => {
    const controller = new AbortController();
    const stream = new ReadableStream<Uint8Array>({
      pull: () => new Promise(() => {}),
    });
    const reading = readLimited(stream, 100, { signal: controller.signal });
    const reason = new Error("deadline passed");
    controller.abort(reason);
    await assert.rejects(reading, (error) => error === reason);
  });

  await t.step("reports the bytes read, the chunk over the limit included", async () => {
    const { stream } = chunkedStream(5, 40);
    const totals: number[] = [];
    await assert.rejects(
      readLimited(stream, 100, { onRead: (bytesRead) => totals.push(bytesRead) }),
      (error) => error instanceof ApiError && error.code === "payload_too_large",
    );
    assert.deepEqual(totals, [40, 80, 120]);
  });

  await t.step("rejects an invalid limit", () => {
    assert.throws(() => bodyLimit({ maxBytes: 0 }), RangeError);
  });
});
