import assert from "node:assert/strict";
import { configure, getLogger, type LogRecord, reset } from "@logtape/logtape";
import { requestId } from "hono/request-id";
import { ApiError } from "../../../../edge/errors.ts";
import { bodyLimit } from "../../../../edge/middleware/body_limit/index.ts";
import { requestLog } from "../../../../edge/middleware/request_log/index.ts";
import { appWith } from "../../helpers/middleware_app.ts";

const CATEGORY = ["waste-vision-test", "request-log"];

/** Renders a record's message as the text formatter would, without the header. */
function render(record: LogRecord): string {
  return record.message.map(String).join("");
}

/** Creates a body stream of `chunks` chunks of `chunkSize` bytes each. */
function chunkedBody(chunks: number, chunkSize: number): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent === chunks) return controller.close();
      sent++;
      controller.enqueue(new Uint8Array(chunkSize));
    },
  });
}

Deno.test("requestLog", async (t) => {
  const records: LogRecord[] = [];
  await configure({
    reset: true,
    sinks: { memory: (record) => records.push(record) },
    loggers: [
      { category: CATEGORY, lowestLevel: "debug", sinks: ["memory"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["memory"] },
    ],
  });
  const app = appWith(
    requestId(),
    requestLog({ logger: getLogger(CATEGORY) }),
    bodyLimit({ maxBytes: 100 }),
  );

  try {
    await t.step("writes one line with the request's fields", async () => {
      records.length = 0;
      const secret = "Bearer secret-api-key";
      const response = await app.request("/?top_k=2", {
        method: "POST",
        body: new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3]),
        headers: { authorization: secret, "x-request-id": "req-123" },
      });
      const responseText = await response.text();
      assert.equal(records.length, 1);
      const { properties, level } = records[0];
      assert.equal(level, "info");
      assert.equal(properties.method, "POST");
      assert.equal(properties.path, "/");
      assert.equal(properties.status, 200);
      assert.equal(properties.requestBytes, 7);
      assert.equal(properties.responseBytes, new TextEncoder().encode(responseText).length);
      assert.equal(properties.requestId, "req-123");
      assert.equal(properties.errorCode, null);
      assert.equal(typeof properties.ms, "number");
      const logged = JSON.stringify(records[0]);
      assert.ok(!logged.includes("secret-api-key"), "the API key must not be logged");
      assert.ok(!logged.includes("top_k"), "the query string must not be logged");
    });

    await t.step("logs a rejected request with its status", async () => {
      records.length = 0;
      const response = await app.request("/", { method: "POST", body: new Uint8Array(101) });
      await response.body?.cancel();
      assert.equal(records.length, 1);
      assert.equal(records[0].properties.status, 413);
    });

    await t.step("logs the error code of an error response", async () => {
      records.length = 0;
      const response = await app.request("/", { method: "POST", body: new Uint8Array(101) });
      await response.body?.cancel();
      assert.equal(records[0].properties.errorCode, "payload_too_large");
      assert.match(render(records[0]), /, error payload_too_large$/);
    });

    await t.step("leaves the error code out of a success line", async () => {
      records.length = 0;
      const response = await app.request("/");
      await response.body?.cancel();
      assert.doesNotMatch(render(records[0]), /error/);
    });

    await t.step("logs the bytes read, not the declared length", async () => {
      records.length = 0;
      const response = await app.request("/", {
        method: "POST",
        body: new Uint8Array(24),
        headers: { "content-length": "99999999999" },
      });
      await response.body?.cancel();
      assert.equal(response.status, 413);
      assert.equal(records[0].properties.requestBytes, 0, "the body was rejected unread");
    });

    await t.step("logs the bytes read before the limit stopped the body", async () => {
      records.length = 0;
      const request = new Request("http://localhost/", {
        method: "POST",
        body: chunkedBody(10, 60),
        headers: { "transfer-encoding": "chunked" },
      });
      const response = await app.fetch(request);
      await response.body?.cancel();
      assert.equal(response.status, 413);
      assert.equal(records[0].properties.requestBytes, 120);
    });

    await t.step("logs 0 bytes in for a body never read", async () => {
      records.length = 0;
      const unread = appWith(requestLog({ logger: getLogger(CATEGORY) }));
      const response = await unread.request("/", {
        method: "POST",
        body: new Uint8Array(50),
        headers: { "content-length": "50" },
      });
      await response.body?.cancel();
      assert.equal(records[0].properties.requestBytes, 0);
    });

    await t.step("logs 503 as a warning and 500 as an error", async () => {
      const failing = appWith(
        requestLog({ logger: getLogger(CATEGORY) }),
        (c, next) => {
          if (c.req.header("x-fail") === "500") return Promise.resolve(c.json({}, 500));
          if (c.req.header("x-fail") === "503") {
            throw new ApiError("model_unavailable", "The model is still loading.");
          }
          return next();
        },
      );
      records.length = 0;
      for (const status of ["503", "500"]) {
        const response = await failing.request("/", { headers: { "x-fail": status } });
        await response.body?.cancel();
      }
      assert.deepEqual(records.map((record) => record.level), ["warning", "error"]);
      assert.equal(records[0].properties.errorCode, "model_unavailable");
    });
  } finally {
    await reset();
  }
});
