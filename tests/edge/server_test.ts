/**
 * The edge app behind a real `Deno.serve` on a random loopback port, with
 * decoding in the Web Worker pool: concurrent uploads all get the right
 * predictions, and a large decode does not block other requests.
 */
import assert from "node:assert/strict";
import { configure, type LogRecord, reset } from "@logtape/logtape";
import { makeJpeg, makePng } from "./helpers/images.ts";
import {
  createTestService,
  multipartBody,
  referencePredictions,
  tensorCount,
} from "./helpers/service.ts";
import type { Prediction } from "../../edge/model/classifier.ts";

const CONCURRENT_UPLOADS = 50;

interface Upload {
  bytes: Uint8Array<ArrayBuffer>;
  multipart: boolean;
  expected: Prediction[];
}

async function makeUploads(): Promise<Upload[]> {
  const images = [
    makeJpeg(512, 384, 1),
    makeJpeg(384, 512, 2),
    makePng(300, 200, 3),
    makeJpeg(1024, 768, 4),
    makePng(64, 64, 5),
  ] as Uint8Array<ArrayBuffer>[];
  const expected = await Promise.all(images.map((bytes) => referencePredictions(bytes, 3)));
  return Array.from({ length: CONCURRENT_UPLOADS }, (_, i) => ({
    bytes: images[i % images.length],
    multipart: i % 2 === 1,
    expected: expected[i % images.length],
  }));
}

function send(baseUrl: string, upload: Upload): Promise<Response> {
  return fetch(`${baseUrl}/v1/classify`, {
    method: "POST",
    body: upload.multipart ? multipartBody(upload.bytes) : upload.bytes,
    headers: upload.multipart ? {} : { "content-type": "image/jpeg" },
  });
}

/**
 * A photo that takes hundreds of milliseconds to decode. It is a PNG because
 * a large JPEG decodes at reduced scale (the model's input is 32 pixels)
 * and finishes in tens of milliseconds.
 */
function largePng(): Uint8Array<ArrayBuffer> {
  return makePng(4000, 3000, 6) as Uint8Array<ArrayBuffer>;
}

Deno.test("real server on 127.0.0.1", async (t) => {
  const service = await createTestService({ decodeWorkers: 2 });
  const uploads = await makeUploads();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    service.app.fetch,
  );
  const baseUrl = `http://127.0.0.1:${server.addr.port}`;
  const baseline = tensorCount();

  try {
    await t.step(
      `${CONCURRENT_UPLOADS} concurrent uploads all get the right predictions`,
      async () => {
        const responses = await Promise.all(uploads.map((upload) => send(baseUrl, upload)));
        const bodies = await Promise.all(responses.map((response) => response.json()));
        const requestIds = new Set<string>();
        for (const [i, response] of responses.entries()) {
          assert.equal(response.status, 200, `upload ${i}: ${JSON.stringify(bodies[i])}`);
          assert.deepEqual(bodies[i].predictions, uploads[i].expected, `upload ${i}`);
          requestIds.add(bodies[i].request_id);
        }
        assert.equal(requestIds.size, CONCURRENT_UPLOADS, "request ids must be unique");
        assert.equal(tensorCount(), baseline, "tensors must return to the baseline");
      },
    );

    await t.step("a large decode does not block other requests", async () => {
      const large = fetch(`${baseUrl}/v1/classify`, { method: "POST", body: largePng() });
      let largeDone = false;
      const largeResult = large.then(async (response) => {
        largeDone = true;
        return { status: response.status, body: await response.json() };
      });
      // Wait until the upload has reached the server, then ask for a small classification.
      await new Promise((resolve) => setTimeout(resolve, 200));
      const small = await send(baseUrl, uploads[4]);
      assert.equal(small.status, 200);
      assert.deepEqual((await small.json()).predictions, uploads[4].expected);
      assert.equal(largeDone, false, "the small request must finish while the large one decodes");
      const { status, body } = await largeResult;
      assert.equal(status, 200, JSON.stringify(body));
      assert.equal(tensorCount(), baseline);
    });
  } finally {
    await server.shutdown();
    service.close();
  }
});

/** Reads from `connection` until the status line of the response has arrived. */
async function readStatusLine(connection: Deno.Conn): Promise<string> {
  const buffer = new Uint8Array(4096);
  let text = "";
  while (!text.includes("\r\n")) {
    const count = await connection.read(buffer);
    if (count === null) break;
    text += new TextDecoder().decode(buffer.subarray(0, count));
  }
  return text.split("\r\n")[0];
}

Deno.test("request log of a stalled upload on a real server", async () => {
  const records: LogRecord[] = [];
  await configure({
    reset: true,
    sinks: { memory: (record) => records.push(record) },
    loggers: [
      { category: ["waste-vision", "edge", "request"], lowestLevel: "info", sinks: ["memory"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["memory"] },
    ],
  });
  const service = await createTestService({ requestTimeoutMs: 1000 });
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    service.app.fetch,
  );
  const connection = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });

  try {
    // The client claims 999999 bytes, sends 24 KiB and stalls until the deadline passes.
    const head = "POST /v1/classify HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
      "Content-Type: image/jpeg\r\nContent-Length: 999999\r\n\r\n";
    await connection.write(new TextEncoder().encode(head));
    await connection.write(new Uint8Array(24 * 1024));
    assert.match(await readStatusLine(connection), /^HTTP\/1\.1 408 /);

    assert.equal(records.length, 1);
    const { properties, message } = records[0];
    assert.equal(properties.status, 408);
    assert.equal(properties.requestBytes, 24 * 1024, "bytes in must be the bytes that arrived");
    assert.equal(properties.errorCode, "request_timeout");
    assert.match(message.map(String).join(""), /24576 bytes in, .*, error request_timeout$/);
  } finally {
    connection.close();
    await server.shutdown();
    service.close();
    await reset();
  }
});
