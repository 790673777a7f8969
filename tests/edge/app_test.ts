import assert from "node:assert/strict";
import { createApp } from "../../edge/app.ts";
import { createImageIntake } from "../../edge/image/intake.ts";
import { ModelSlot } from "../../edge/model/model_slot.ts";
import { makeJpeg } from "./helpers/images.ts";
import { createTestService } from "./helpers/service.ts";
import { CLASS_NAMES, tinyMetadata } from "./helpers/tiny_model.ts";

const JPEG = makeJpeg(40, 30, 3) as Uint8Array<ArrayBuffer>;

async function errorCodeOf(response: Response): Promise<string> {
  return (await response.json()).error.code;
}

Deno.test("GET routes", async (t) => {
  const { app } = await createTestService();

  await t.step("/v1/model describes the model", async () => {
    const response = await app.request("/v1/model");
    assert.equal(response.status, 200);
    const body = await response.json();
    const metadata = tinyMetadata();
    assert.deepEqual(body.labels, CLASS_NAMES);
    assert.deepEqual(body.model, {
      id: metadata.modelId,
      version: metadata.modelVersion,
      architecture: metadata.architecture,
      created_at: metadata.createdAt,
    });
    assert.deepEqual(body.input, {
      size: 32,
      resize_ratio: 0.875,
      mean: metadata.input.mean,
      std: metadata.input.std,
    });
    assert.deepEqual(body.training, {
      best_epoch: 1,
      epochs: 2,
      train_accuracy: 0.3,
      val_accuracy: 0.25,
      val_macro_f1: 0.2,
      dataset_sizes: { train: 12, val: 6 },
    });
    assert.equal(body.backend, "wasm");
  });

  await t.step("/healthz and /readyz return 200", async () => {
    const health = await app.request("/healthz");
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { status: "ok" });
    const ready = await app.request("/readyz");
    assert.equal(ready.status, 200);
    const body = await ready.json();
    assert.equal(body.status, "ready");
    assert.equal(body.model.id, tinyMetadata().modelId);
  });

  await t.step("/ serves the demo page with a nonce-only CSP", async () => {
    const response = await app.request("/");
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type") ?? "", /^text\/html/);
    const html = await response.text();
    const csp = response.headers.get("content-security-policy") ?? "";
    const nonce = /script-src 'nonce-([^']+)'/.exec(csp)?.[1];
    assert.ok(nonce, `no script nonce in CSP: ${csp}`);
    assert.ok(html.includes(`<script nonce="${nonce}">`));
    assert.ok(html.includes(`<style nonce="${nonce}">`));
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /connect-src 'self'/);
    assert.doesNotMatch(html, /(src|href)="https?:/, "the page must load no external assets");
    assert.match(html, /fetch\("\/v1\/classify"/);
  });

  await t.step("/openapi.json is an OpenAPI 3.1 document", async () => {
    const response = await app.request("/openapi.json");
    assert.equal(response.status, 200);
    assert.equal((await response.json()).openapi, "3.1.0");
  });
});

Deno.test("errors of routing", async (t) => {
  const { app } = await createTestService();

  await t.step("unknown path returns 404 not_found", async () => {
    const response = await app.request("/v2/classify", { method: "POST" });
    assert.equal(response.status, 404);
    assert.equal(await errorCodeOf(response), "not_found");
  });

  await t.step("wrong method returns 405 with Allow", async () => {
    const response = await app.request("/v1/classify");
    assert.equal(response.status, 405);
    assert.equal(response.headers.get("allow"), "POST");
    const body = await response.json();
    assert.equal(body.error.code, "method_not_allowed");
    assert.match(body.error.message, /GET is not allowed on \/v1\/classify\. Use POST\./);
  });

  await t.step("every response carries a request id and security headers", async () => {
    for (const path of ["/", "/healthz", "/nope", "/v1/model"]) {
      const response = await app.request(path);
      await response.body?.cancel();
      assert.match(response.headers.get("x-request-id") ?? "", /^[0-9a-f-]{36}$/, path);
      assert.equal(response.headers.get("x-content-type-options"), "nosniff", path);
    }
  });
});

Deno.test("CORS", async (t) => {
  await t.step("allows any origin by default", async () => {
    const { app } = await createTestService();
    const response = await app.request("/v1/model", { headers: { origin: "https://app.example" } });
    await response.body?.cancel();
    assert.equal(response.headers.get("access-control-allow-origin"), "*");
    assert.match(response.headers.get("access-control-expose-headers") ?? "", /X-Request-Id/);
  });

  await t.step("preflight passes without an API key", async () => {
    const { app } = await createTestService({
      corsOrigins: ["https://app.example"],
      apiKeys: ["k-1"],
    });
    const response = await app.request("/v1/classify", {
      method: "OPTIONS",
      headers: {
        origin: "https://app.example",
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization, content-type",
      },
    });
    assert.equal(response.status, 204);
    assert.equal(response.headers.get("access-control-allow-origin"), "https://app.example");
    assert.match(response.headers.get("access-control-allow-headers") ?? "", /Authorization/);
  });

  await t.step("does not allow an origin outside the list", async () => {
    const { app } = await createTestService({ corsOrigins: ["https://app.example"] });
    const response = await app.request("/v1/model", {
      headers: { origin: "https://evil.example" },
    });
    await response.body?.cancel();
    assert.equal(response.headers.get("access-control-allow-origin"), null);
  });
});

Deno.test("API key", async (t) => {
  const { app } = await createTestService({ apiKeys: ["key-one", "key-two"] });

  await t.step("guards /v1 routes", async () => {
    const response = await app.request("/v1/model");
    assert.equal(response.status, 401);
    assert.equal(await errorCodeOf(response), "unauthorized");
    const classify = await app.request("/v1/classify", { method: "POST", body: JPEG });
    assert.equal(classify.status, 401);
    await classify.body?.cancel();
  });

  await t.step("accepts a configured key", async () => {
    const response = await app.request("/v1/classify", {
      method: "POST",
      body: JPEG,
      headers: { authorization: "Bearer key-two", "content-type": "image/jpeg" },
    });
    assert.equal(response.status, 200);
    await response.body?.cancel();
  });

  await t.step("leaves probes, docs and the demo page open", async () => {
    for (const path of ["/", "/healthz", "/readyz", "/openapi.json"]) {
      const response = await app.request(path);
      await response.body?.cancel();
      assert.equal(response.status, 200, path);
    }
  });
});

Deno.test("rate limit", async (t) => {
  const connection = {
    remoteAddr: { transport: "tcp" as const, hostname: "198.51.100.4", port: 1 },
  };

  await t.step("is off by default", async () => {
    const { app } = await createTestService();
    for (let i = 0; i < 5; i++) {
      const response = await app.request("/v1/model", {}, connection);
      await response.body?.cancel();
      assert.equal(response.status, 200);
      assert.equal(response.headers.get("ratelimit-limit"), null);
    }
  });

  await t.step("returns 429 per client address", async () => {
    const { app } = await createTestService({ rateLimit: { requestsPerMinute: 60, burst: 2 } });
    const statuses = [];
    for (let i = 0; i < 3; i++) {
      const response = await app.request("/v1/model", {}, connection);
      statuses.push(response.status);
      if (response.status === 429) {
        assert.equal(await errorCodeOf(response), "rate_limited");
        assert.equal(response.headers.get("retry-after"), "1");
      } else {
        await response.body?.cancel();
      }
    }
    assert.deepEqual(statuses, [200, 200, 429]);
    const health = await app.request("/healthz", {}, connection);
    assert.equal(health.status, 200, "probes are not rate limited");
    await health.body?.cancel();
  });

  await t.step("keys by API key when keys are configured", async () => {
    const { app } = await createTestService({
      apiKeys: ["key-a", "key-b"],
      rateLimit: { requestsPerMinute: 60, burst: 1 },
    });
    const as = (key: string) => ({ headers: { authorization: `Bearer ${key}` } });
    const statuses = [];
    for (const key of ["key-a", "key-a", "key-b"]) {
      const response = await app.request("/v1/model", as(key), connection);
      statuses.push(response.status);
      await response.body?.cancel();
    }
    assert.deepEqual(statuses, [200, 429, 200]);
  });

  await t.step("limits failed key checks per address", async () => {
    const { app } = await createTestService({
      apiKeys: ["key-a"],
      rateLimit: { requestsPerMinute: 6, burst: 3 },
    });
    const statuses = [];
    for (const key of ["bad-1", "bad-2", "bad-3", "bad-4", "key-a"]) {
      const response = await app.request(
        "/v1/model",
        { headers: { authorization: `Bearer ${key}` } },
        connection,
      );
      statuses.push(response.status);
      if (response.status === 429) assert.equal(await errorCodeOf(response), "rate_limited");
      else await response.body?.cancel();
    }
    assert.deepEqual(statuses, [401, 401, 401, 429, 429]);
  });

  await t.step("leaves failed key checks unlimited when it is off", async () => {
    const { app } = await createTestService({ apiKeys: ["key-a"] });
    for (let i = 0; i < 10; i++) {
      const response = await app.request(
        "/v1/model",
        { headers: { authorization: `Bearer bad-${i}` } },
        connection,
      );
      await response.body?.cancel();
      assert.equal(response.status, 401, `attempt ${i}`);
    }
  });
});

Deno.test("readiness before the model loads", async () => {
  const app = createApp({
    models: new ModelSlot(),
    intake: createImageIntake({ maxPixels: 1000, workers: 0 }),
  });
  const ready = await app.request("/readyz");
  assert.equal(ready.status, 503);
  assert.equal(await errorCodeOf(ready), "model_unavailable");
  const model = await app.request("/v1/model");
  assert.equal(model.status, 503);
  await model.body?.cancel();
  const health = await app.request("/healthz");
  assert.equal(health.status, 200);
  await health.body?.cancel();
});
