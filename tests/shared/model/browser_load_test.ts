import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { useBackend } from "../../../shared/backend.ts";
import { buildResNet } from "../../../shared/model/resnet.ts";
import { saveModelDir } from "../../../shared/model/io.ts";
import { MODEL_FORMAT_VERSION } from "../../../shared/model/metadata.ts";
import { CHROMIUM } from "../../edge/helpers/chromium.ts";

const hasChromium = await Deno.stat(CHROMIUM).then(() => true, () => false);
if (!hasChromium) {
  console.warn(
    `SKIPPED browser model-loading test: ${CHROMIUM} not found. Install it with "apt-get install chromium".`,
  );
}

const IMG = 32;
const HERE = new URL("./browser/", import.meta.url).pathname;

async function bundleEntry(outFile: string): Promise<void> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--platform", "browser", "-o", outFile, `${HERE}entry.ts`],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
}

function serveFolder(root: string): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (request) => {
    const path = new URL(request.url).pathname;
    if (path === "/") {
      return new Response('<!doctype html><script src="/entry.js"></script>', {
        headers: { "content-type": "text/html" },
      });
    }
    try {
      const body = await Deno.readFile(`${root}${decodeURIComponent(path)}`);
      const type = path.endsWith(".js") ? "text/javascript" : "application/octet-stream";
      return new Response(body, { headers: { "content-type": type } });
    } catch {
      return new Response("not found", { status: 404 });
    }
  });
}

Deno.test({
  name: "exported CBAM model loads in Chromium with the same logits",
  ignore: !hasChromium,
  async fn() {
    await useBackend("cpu");
    const root = await Deno.makeTempDir({ prefix: "browser_load_" });
    const model = buildResNet({
      depth: 18,
      numClasses: 4,
      imgSize: IMG,
      baseWidth: 8,
      cbam: { kind: "blocks" },
      seed: 4,
    });
    await saveModelDir(`${root}/model`, model, {
      formatVersion: MODEL_FORMAT_VERSION,
      modelId: "browser-test",
      modelVersion: "1",
      architecture: {
        family: "resnet",
        depth: 18,
        cbam: { kind: "blocks" },
        cbamReduction: 16,
        cbamKernelSize: 7,
        baseWidth: 8,
      },
      input: {
        imgSize: IMG,
        resizeRatio: 0.875,
        mean: [0.485, 0.456, 0.406],
        std: [0.229, 0.224, 0.225],
        layout: "NHWC",
      },
      classNames: ["a", "b", "c", "d"],
      createdAt: new Date().toISOString(),
    });
    const input = tf.tidy(() => tf.sin(tf.range(0, 2 * IMG * IMG * 3).reshape([2, IMG, IMG, 3])));
    const expected = Array.from(await (model.predict(input) as tf.Tensor).data());
    await bundleEntry(`${root}/entry.js`);
    const server = serveFolder(root);
    try {
      const base = `http://127.0.0.1:${server.addr.port}`;
      const output = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          `${HERE}run_in_chromium.ts`,
          `${base}/`,
          `${base}/model/model.json`,
          String(IMG),
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
      const actual = JSON.parse(
        new TextDecoder().decode(output.stdout).trim().split("\n").pop()!,
      ) as number[];
      assert.equal(actual.length, expected.length);
      actual.forEach((value, i) =>
        assert.ok(Math.abs(value - expected[i]) < 1e-4, `logit ${i}: ${value} vs ${expected[i]}`)
      );
    } finally {
      await server.shutdown();
      model.dispose();
      await Deno.remove(root, { recursive: true });
    }
  },
});
