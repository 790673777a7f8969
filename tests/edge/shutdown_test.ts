import assert from "node:assert/strict";
import { configure, type LogRecord, reset } from "@logtape/logtape";
import { createShutdown } from "../../edge/shutdown.ts";

Deno.test("createShutdown", async (t) => {
  const records: LogRecord[] = [];
  await configure({
    reset: true,
    sinks: { memory: (record) => records.push(record) },
    loggers: [
      { category: ["waste-vision"], lowestLevel: "debug", sinks: ["memory"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["memory"] },
    ],
  });
  const calls: string[] = [];
  const serverStopped = Promise.withResolvers<void>();
  const shutdown = createShutdown(
    {
      shutdown() {
        calls.push("server.shutdown");
        return serverStopped.promise;
      },
    },
    { close: () => calls.push("service.close") },
  );
  const messages = () => records.map((record) => `${record.level} ${record.message.join("")}`);

  try {
    await t.step("stops once when the signal comes twice", async () => {
      const first = shutdown("SIGINT");
      const second = shutdown("SIGINT");
      assert.equal(second, first, "a repeated signal must wait for the same shutdown");
      serverStopped.resolve();
      await first;
      assert.deepEqual(calls, ["server.shutdown", "service.close"]);
    });

    await t.step("logs the stop once and the repeat at debug level", () => {
      assert.deepEqual(messages(), [
        "info Received SIGINT, stopping",
        "debug Received SIGINT again while stopping, ignoring it",
        "info Stopped",
      ]);
    });

    await t.step("ignores a signal after the stop", async () => {
      await shutdown("SIGTERM");
      assert.deepEqual(calls, ["server.shutdown", "service.close"]);
    });
  } finally {
    await reset();
  }
});
