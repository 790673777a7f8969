import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { useBackend } from "../../shared/backend.ts";
import { loadModelDir, saveModelDir } from "../../shared/model/io.ts";
import { MODEL_FORMAT_VERSION, type ModelMetadata } from "../../shared/model/metadata.ts";
import { main, saveInferenceExport } from "../../train/export_inference.ts";
import {
  maxAbsDifference,
  randomInput,
  TEST_IMG_SIZE,
  testMobileNetV2,
} from "../shared/model/random_batch_norm.ts";

await useBackend("cpu");

const METADATA: ModelMetadata = {
  formatVersion: MODEL_FORMAT_VERSION,
  modelId: "export-test",
  modelVersion: "1",
  architecture: {
    family: "mobilenet_v2",
    cbam: { kind: "stages", stages: [1, 2, 3, 4, 5] },
    cbamReduction: 4,
    cbamKernelSize: 3,
  },
  input: {
    imgSize: TEST_IMG_SIZE,
    resizeRatio: 0.875,
    mean: [0.485, 0.456, 0.406],
    std: [0.229, 0.224, 0.225],
    layout: "NHWC",
  },
  classNames: ["a", "b", "c", "d", "e", "f"],
  createdAt: "2026-01-01T00:00:00Z",
};

Deno.test("export_inference", async (t) => {
  const root = await Deno.makeTempDir({ prefix: "export-inference-test-" });
  const model = testMobileNetV2(12);
  const x = randomInput(1, 8);
  const expected = model.predict(x) as tf.Tensor;
  await saveModelDir(`${root}/plain`, model, METADATA);

  try {
    await t.step("converts a folder with --fold and --quantize", async () => {
      const code = await main([
        "--model",
        `${root}/plain`,
        "--out",
        `${root}/folded`,
        "--fold",
        "--quantize",
        "float16",
      ]);
      assert.equal(code, 0);
      const loaded = await loadModelDir(`${root}/folded`);
      assert.equal(loaded.metadata.formatVersion, 2);
      assert.deepEqual(loaded.metadata.inference, {
        batchNormFolded: true,
        weightQuantization: "float16",
      });
      const names = loaded.model.layers.map((layer) => layer.getClassName());
      assert.ok(!names.includes("BatchNormalization"));
      const actual = loaded.model.predict(x) as tf.Tensor;
      const scale = tf.tidy(() => tf.max(tf.abs(expected)).dataSync()[0]);
      assert.ok(maxAbsDifference(expected, actual) <= 0.01 * scale);
      actual.dispose();
      loaded.model.dispose();
    });

    await t.step("rejects a conversion that changes nothing", async () => {
      await assert.rejects(
        () => main(["--model", `${root}/plain`, "--out", `${root}/same`]),
        /nothing to do/,
      );
    });

    await t.step("rejects an unknown quantization", async () => {
      await assert.rejects(
        () => main(["--model", `${root}/plain`, "--out", `${root}/x`, "--quantize", "int4"]),
        /Allowed choices are float32, float16, uint8/,
      );
    });

    await t.step("plain export stays format version 1", async () => {
      await saveInferenceExport(`${root}/plain2`, model, METADATA, { quantize: "float32" });
      const loaded = await loadModelDir(`${root}/plain2`);
      assert.equal(loaded.metadata.formatVersion, 1);
      assert.equal(loaded.metadata.inference, undefined);
      loaded.model.dispose();
    });
  } finally {
    tf.dispose([x, expected]);
    model.dispose();
    await Deno.remove(root, { recursive: true });
  }
});
