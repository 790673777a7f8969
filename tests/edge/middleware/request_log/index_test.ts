import assert from "node:assert/strict";
import { configure, getLogger, type LogRecord, reset } from "@logtape/logtape";
import { requestId } from "hono/request-id";
import { bodyLimit } from "../../../../edge/middleware/body_limit/index.ts";
import { requestLog } from "../../../../edge/middleware/request_log/index.ts";
import { appWith } from "../../helpers/middleware_app.ts";

const CATEGORY = ["waste-vision-test", "request-log"];

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
  } finally {
    await reset();
  }
});
