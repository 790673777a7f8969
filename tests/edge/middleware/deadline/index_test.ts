import assert from "node:assert/strict";
import { deadline } from "../../../../edge/middleware/deadline/index.ts";
import { appWith } from "../../helpers/middleware_app.ts";

Deno.test("deadline", async (t) => {
  await t.step("returns 408 for a slow handler", async () => {
    let signalAborted = false;
    const app = appWith(deadline({ timeoutMs: 50 }), async (c, next) => {
      const signal = c.var.deadline;
      await new Promise((resolve) => setTimeout(resolve, 200));
      signalAborted = signal.aborted;
      await next();
    });
    const response = await app.request("/");
    assert.equal(response.status, 408);
    const body = await response.json();
    assert.equal(body.error.code, "request_timeout");
    assert.match(body.error.message, /50 ms deadline/);
    // Let the slow handler finish so the test leaks no timer.
    await new Promise((resolve) => setTimeout(resolve, 250));
    assert.equal(signalAborted, true);
  });

  await t.step("passes a fast request through with a live signal", async () => {
    let signalAborted: boolean | undefined;
    const app = appWith(deadline({ timeoutMs: 1_000 }), async (c, next) => {
      signalAborted = c.var.deadline.aborted;
      await next();
    });
    const response = await app.request("/");
    assert.equal(response.status, 200);
    assert.equal(signalAborted, false);
    await response.body?.cancel();
  });

  await t.step("rejects an invalid timeout", () => {
    assert.throws(() => deadline({ timeoutMs: 0 }), RangeError);
  });
});
