/**
 * The service started on a model folder that cannot be loaded: it keeps
 * serving 503 `model_unavailable` and logs the failure once, as one line
 * with the folder and the fix.
 */
import assert from "node:assert/strict";
import { configure, type LogRecord, reset } from "@logtape/logtape";
import { DEFAULT_CONFIG } from "../../edge/config.ts";
import { startService } from "../../edge/service.ts";

/** Renders a record's message as the text formatter would, without the header. */
function render(record: LogRecord): string {
  return record.message.map(String).join("");
}

Deno.test("service without its model folder", async (t) => {
  const records: LogRecord[] = [];
  await configure({
    reset: true,
    sinks: { memory: (record) => records.push(record) },
    loggers: [
      { category: ["waste-vision"], lowestLevel: "info", sinks: ["memory"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["memory"] },
    ],
  });
  const root = await Deno.makeTempDir({ prefix: "edge-service-test-" });
  const modelDir = `${root}/missing/model`;
  const service = startService({ ...DEFAULT_CONFIG, modelDir, decodeWorkers: 0 });

  try {
    await service.ready;

    await t.step("logs one error line with the folder and the fix", () => {
      const errors = records.filter((record) => record.level === "error");
      assert.equal(errors.length, 1, errors.map(render).join("\n"));
      const line = render(errors[0]);
      assert.ok(line.includes(`Model folder ${modelDir} (MODEL_DIR) not found`), line);
      assert.match(line, /deno task train --data <image folder> --out runs\/<name>/);
      assert.match(line, /set MODEL_DIR=runs\/<name>\/model/);
      assert.doesNotMatch(line, /\n/);
    });

    await t.step("logs no stack trace", () => {
      for (const record of records) {
        for (const value of Object.values(record.properties)) {
          assert.ok(!(value instanceof Error), `record "${render(record)}" carries an Error`);
        }
      }
    });

    await t.step("answers 503 model_unavailable on /readyz and /v1", async () => {
      assert.equal(service.models.state, "failed");
      for (const path of ["/readyz", "/v1/model"]) {
        const response = await service.app.request(path);
        assert.equal(response.status, 503, path);
        assert.equal((await response.json()).error.code, "model_unavailable", path);
      }
      const health = await service.app.request("/healthz");
      await health.body?.cancel();
      assert.equal(health.status, 200);
    });

    await t.step("logs the 503 responses as warnings", () => {
      const requestLines = records.filter((record) =>
        record.category.join(".") === "waste-vision.edge.request"
      );
      assert.ok(requestLines.length >= 2);
      for (const record of requestLines.filter((line) => line.properties.status === 503)) {
        assert.equal(record.level, "warning", render(record));
      }
    });
  } finally {
    service.close();
    await reset();
    await Deno.remove(root, { recursive: true });
  }
});
