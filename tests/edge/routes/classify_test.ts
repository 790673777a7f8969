import assert from "node:assert/strict";
import { Classifier } from "../../../edge/model/classifier.ts";
import { ModelSlot } from "../../../edge/model/model_slot.ts";
import { createApp } from "../../../edge/app.ts";
import { createImageIntake } from "../../../edge/image/intake.ts";
import { makeJpeg, makePng } from "../helpers/images.ts";
import {
  createTestService,
  multipartBody,
  referencePredictions,
  tensorCount,
} from "../helpers/service.ts";
import { CLASS_NAMES } from "../helpers/tiny_model.ts";

const JPEG = makeJpeg(120, 90, 1);
const PNG = makePng(64, 48, 2);

function postRaw(bytes: Uint8Array, contentType?: string, query = ""): [string, RequestInit] {
  const headers: Record<string, string> = contentType ? { "content-type": contentType } : {};
  return [`/v1/classify${query}`, {
    method: "POST",
    body: bytes as Uint8Array<ArrayBuffer>,
    headers,
  }];
}

async function expectError(response: Response, status: number, code: string): Promise<string> {
  const body = await response.json();
  assert.equal(response.status, status, JSON.stringify(body));
  assert.equal(body.error.code, code);
  assert.equal(typeof body.error.message, "string");
  assert.ok(body.error.message.length > 20, `message too short: ${body.error.message}`);
  return body.error.message;
}

Deno.test("POST /v1/classify", async (t) => {
  const service = await createTestService();
  const { app } = service;
  const baseline = tensorCount();

  async function request(...args: [string, RequestInit]): Promise<Response> {
    const response = await app.request(...args);
    assert.equal(tensorCount(), baseline, "tensors must return to the baseline after a request");
    return response;
  }

  await t.step("classifies a raw JPEG", async () => {
    const response = await request(...postRaw(JPEG, "image/jpeg"));
    assert.equal(response.status, 200);
    const body = await response.json();
    assert.deepEqual(body.predictions, await referencePredictions(JPEG, 3));
    assert.equal(body.label, body.predictions[0].label);
    assert.equal(body.uncertain, false, "the tiny model has no calibration");
    assert.deepEqual(body.model, {
      id: "tiny-resnet18-cbam-test",
      version: "2026-01-01T00:00:00Z",
    });
    assert.deepEqual(body.image, { width: 120, height: 90, format: "jpeg" });
    assert.equal(body.request_id, response.headers.get("x-request-id"));
    for (const name of ["decode", "preprocess", "inference", "total"]) {
      assert.ok(body.timings_ms[name] >= 0, `timings_ms.${name} = ${body.timings_ms[name]}`);
    }
    assert.ok(body.timings_ms.total >= body.timings_ms.inference);
  });

  await t.step("classifies a multipart PNG", async () => {
    const response = await request("/v1/classify", { method: "POST", body: multipartBody(PNG) });
    assert.equal(response.status, 200);
    const body = await response.json();
    assert.deepEqual(body.predictions, await referencePredictions(PNG, 3));
    assert.deepEqual(body.image, { width: 64, height: 48, format: "png" });
  });

  await t.step("detects the format from the bytes, not the Content-Type", async () => {
    const contentTypes = [
      "image/gif",
      "application/octet-stream",
      "application/x-www-form-urlencoded",
      "text/plain",
      undefined,
    ];
    for (const contentType of contentTypes) {
      const response = await request(...postRaw(PNG, contentType));
      assert.equal(response.status, 200, String(contentType));
      assert.equal((await response.json()).image.format, "png");
    }
  });

  await t.step("keeps the client's request id", async () => {
    const [path, init] = postRaw(JPEG, "image/jpeg");
    const response = await request(path, { ...init, headers: { "x-request-id": "phone-42" } });
    assert.equal(response.headers.get("x-request-id"), "phone-42");
    assert.equal((await response.json()).request_id, "phone-42");
  });

  await t.step("returns top_k predictions sorted by score", async () => {
    for (const topK of [1, 2, CLASS_NAMES.length]) {
      const response = await request(...postRaw(JPEG, "image/jpeg", `?top_k=${topK}`));
      const body = await response.json();
      assert.equal(body.predictions.length, topK);
      const scores = body.predictions.map((p: { score: number }) => p.score);
      assert.deepEqual(scores, [...scores].sort((a, b) => b - a));
    }
    const all = await (await request(...postRaw(JPEG, "image/jpeg", "?top_k=6"))).json();
    const labels = all.predictions.map((p: { label: string }) => p.label).sort();
    assert.deepEqual(labels, [...CLASS_NAMES].sort());
    const sum = all.predictions.reduce((total: number, p: { score: number }) => total + p.score, 0);
    assert.ok(Math.abs(sum - 1) < 1e-5, `scores sum to ${sum}`);
  });

  for (const value of ["0", "7", "-1", "2.5", "abc", "", "1e1", " 3"]) {
    await t.step(`rejects top_k=${JSON.stringify(value)}`, async () => {
      const query = `?top_k=${encodeURIComponent(value)}`;
      const message = await expectError(
        await request(...postRaw(JPEG, "image/jpeg", query)),
        400,
        "invalid_parameter",
      );
      assert.match(message, /top_k must be an integer from 1 to 6/);
    });
  }

  await t.step("rejects a bad top_k before reading the body", async () => {
    let pulled = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled++;
        controller.enqueue(new Uint8Array(1024));
      },
    });
    const response = await request("/v1/classify?top_k=0", { method: "POST", body });
    await expectError(response, 400, "invalid_parameter");
    assert.equal(pulled <= 1, true, `pulled ${pulled} chunks`);
  });

  await t.step("rejects an empty body", async () => {
    await expectError(await request(...postRaw(new Uint8Array(), "image/jpeg")), 400, "empty_body");
    await expectError(await request("/v1/classify", { method: "POST" }), 400, "empty_body");
  });

  await t.step("rejects an empty multipart file", async () => {
    const response = await request("/v1/classify", {
      method: "POST",
      body: multipartBody(new Uint8Array()),
    });
    await expectError(response, 400, "empty_body");
  });

  await t.step("rejects multipart without the image field", async () => {
    const response = await request("/v1/classify", {
      method: "POST",
      body: multipartBody(JPEG, "photo"),
    });
    const message = await expectError(response, 400, "invalid_parameter");
    assert.match(message, /no field "image" \(fields found: "photo"\)/);
  });

  await t.step("rejects a text image field", async () => {
    const form = new FormData();
    form.append("image", "not a file");
    const response = await request("/v1/classify", { method: "POST", body: form });
    const message = await expectError(response, 400, "invalid_parameter");
    assert.match(message, /is text, not a file/);
  });

  await t.step("rejects a multipart body with a wrong boundary", async () => {
    const response = await request(
      ...postRaw(new TextEncoder().encode("--x\r\n\r\n"), "multipart/form-data; boundary=y"),
    );
    await expectError(response, 400, "invalid_parameter");
  });

  await t.step("rejects JSON with 415 whatever the Content-Type", async () => {
    const json = new TextEncoder().encode('{"image": "photo.jpg"}');
    const message = await expectError(
      await request(...postRaw(json, "application/json")),
      415,
      "unsupported_media_type",
    );
    assert.match(message, /JPEG, PNG, GIF, WebP/);
  });

  await t.step("rejects text named as a JPEG with 415", async () => {
    const text = new TextEncoder().encode("this is not a photo, just text\n");
    const message = await expectError(
      await request(...postRaw(text, "image/jpeg")),
      415,
      "unsupported_media_type",
    );
    assert.match(message, /JPEG/);
  });

  await t.step("rejects a corrupt JPEG with invalid_image", async () => {
    const corrupt = JPEG.slice();
    corrupt.fill(0x55, 200);
    const response = await request(...postRaw(corrupt.subarray(0, 400), "image/jpeg"));
    const message = await expectError(response, 400, "invalid_image");
    assert.match(message, /JPEG/);
  });
});

Deno.test("POST /v1/classify limits", async (t) => {
  const baseline = tensorCount();

  await t.step("rejects more pixels than MAX_PIXELS with 422", async () => {
    const { app } = await createTestService({ maxPixels: 120 * 90 - 1 });
    const message = await expectError(
      await app.request(...postRaw(JPEG, "image/jpeg")),
      422,
      "image_too_large",
    );
    assert.match(message, /120x90/);
    const atLimit = await createTestService({ maxPixels: 120 * 90 });
    const response = await atLimit.app.request(...postRaw(JPEG, "image/jpeg"));
    assert.equal(response.status, 200);
    await response.body?.cancel();
  });

  await t.step("rejects a body over MAX_BODY_BYTES with 413", async () => {
    const { app } = await createTestService({ maxBodyBytes: JPEG.length - 1 });
    await expectError(await app.request(...postRaw(JPEG, "image/jpeg")), 413, "payload_too_large");
    const chunked = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(JPEG.subarray(0, 1000));
        controller.enqueue(JPEG.subarray(1000));
        controller.close();
      },
    });
    const response = await app.request("/v1/classify", {
      method: "POST",
      body: chunked,
      headers: { "content-type": "image/jpeg" },
    });
    await expectError(response, 413, "payload_too_large");
  });

  await t.step("returns 408 for a stalled upload", async () => {
    const { app } = await createTestService({ requestTimeoutMs: 100 });
    let cancelled = false;
    const slowBody = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(JPEG.subarray(0, 100));
      },
      cancel() {
        cancelled = true;
      },
    });
    const response = await app.request("/v1/classify", {
      method: "POST",
      body: slowBody,
      headers: { "content-type": "image/jpeg" },
    });
    await expectError(response, 408, "request_timeout");
    assert.equal(cancelled, true, "the upload stream must be cancelled");
  });

  assert.equal(tensorCount(), baseline);
});

Deno.test("POST /v1/classify model states", async (t) => {
  const intake = createImageIntake({ maxPixels: 50_000_000, workers: 0 });
  const baseline = tensorCount();

  await t.step("returns 503 while loading", async () => {
    const models = new ModelSlot();
    const app = createApp({ models, intake });
    const response = await app.request(...postRaw(JPEG, "image/jpeg"));
    assert.equal(response.headers.get("retry-after"), "5");
    assert.match(await expectError(response, 503, "model_unavailable"), /still loading/);
  });

  await t.step("returns 503 after a failed load", async () => {
    const models = new ModelSlot();
    await models.load(() => Classifier.load("/nonexistent/model-folder"));
    assert.equal(models.state, "failed");
    assert.match(models.failure ?? "", /not found: \/nonexistent\/model-folder/);
    const app = createApp({ models, intake });
    const response = await app.request(...postRaw(JPEG, "image/jpeg"));
    assert.match(await expectError(response, 503, "model_unavailable"), /failed to load/);
  });

  await t.step("returns 500 when inference fails", async () => {
    const { classifier } = await createTestService();
    // Metadata that claims a 16-pixel input makes the 32-pixel model throw.
    const input = { ...classifier.metadata.input, imgSize: 16 };
    const broken = new Classifier(classifier.model, { ...classifier.metadata, input }, "wasm");
    const app = createApp({ models: new ModelSlot(broken), intake });
    const response = await app.request(...postRaw(JPEG, "image/jpeg"));
    const requestId = response.headers.get("x-request-id")!;
    const message = await expectError(response, 500, "internal_error");
    assert.match(message, new RegExp(`request id ${requestId}`));
    assert.doesNotMatch(message, /at |\.ts|Error:/);
    assert.equal(tensorCount(), baseline);
  });
});
