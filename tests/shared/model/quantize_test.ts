import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { useBackend } from "../../../shared/backend.ts";
import { foldBatchNorm } from "../../../shared/model/fold.ts";
import { loadInferenceModelDir, loadModelDir, saveModelDir } from "../../../shared/model/io.ts";
import {
  MODEL_FORMAT_VERSION,
  ModelFormatError,
  type ModelMetadata,
  type WeightQuantization,
} from "../../../shared/model/metadata.ts";
import {
  float32ToFloat16Bits,
  quantizeWeights,
  storedByteLength,
} from "../../../shared/model/quantize.ts";
import { maxAbsDifference, randomInput, TEST_IMG_SIZE, testResNet } from "./random_batch_norm.ts";

await useBackend("cpu");

function metadata(inference?: ModelMetadata["inference"]): ModelMetadata {
  return {
    formatVersion: MODEL_FORMAT_VERSION,
    modelId: "quantize-test",
    modelVersion: "1",
    architecture: {
      family: "resnet",
      depth: 18,
      cbam: { kind: "stages", stages: [1, 2, 3, 4] },
      cbamReduction: 4,
      cbamKernelSize: 3,
      baseWidth: 8,
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
    ...(inference ? { inference } : {}),
  };
}

async function weightBytes(dir: string): Promise<number> {
  let total = 0;
  for await (const entry of Deno.readDir(dir)) {
    if (entry.name.endsWith(".bin")) total += (await Deno.stat(`${dir}/${entry.name}`)).size;
  }
  return total;
}

Deno.test("float32ToFloat16Bits", () => {
  const cases: [number, number][] = [
    [0, 0x0000],
    [-0, 0x8000],
    [1, 0x3c00],
    [-2, 0xc000],
    [0.5, 0x3800],
    [65504, 0x7bff],
    [1e6, 0x7c00],
    [-Infinity, 0xfc00],
    [2 ** -24, 0x0001],
    [2 ** -26, 0x0000],
    // 1 + 2^-11 lies halfway between two halves; the even one wins.
    [1 + 2 ** -11, 0x3c00],
    [1 + 3 * 2 ** -11, 0x3c02],
  ];
  for (const [value, bits] of cases) {
    assert.equal(float32ToFloat16Bits(value), bits, `bits of ${value}`);
  }
  assert.equal(float32ToFloat16Bits(Number.NaN) & 0x7c00, 0x7c00);
  assert.notEqual(float32ToFloat16Bits(Number.NaN) & 0x3ff, 0);
});

Deno.test("quantizeWeights", async (t) => {
  const specs: tf.io.WeightsManifestEntry[] = [
    { name: "kernel", shape: [2, 3], dtype: "float32" },
    { name: "bias", shape: [3], dtype: "float32" },
  ];
  const values = new Float32Array([-1, -0.25, 0, 0.3, 0.7, 2, 0.1, 0.2, 0.3]);

  await t.step("uint8 stores kernels in one byte within scale / 2", () => {
    const { specs: out, data } = quantizeWeights(specs, values.buffer.slice(0), "uint8");
    assert.equal(data.byteLength, 6 + 3 * 4);
    assert.equal(storedByteLength(out), data.byteLength);
    const quantization = out[0].quantization!;
    assert.equal(quantization.dtype, "uint8");
    assert.equal(quantization.min, -1);
    const bytes = new Uint8Array(data, 0, 6);
    for (let i = 0; i < 6; i++) {
      const restored: number = bytes[i] * quantization.scale! + quantization.min!;
      assert.ok(Math.abs(restored - values[i]) <= quantization.scale! / 2 + 1e-7);
    }
    assert.equal(out[1].quantization, undefined);
    assert.deepEqual(new Float32Array(data.slice(6, 18)), values.slice(6));
  });

  await t.step("float16 halves kernels and keeps biases", () => {
    const { specs: out, data } = quantizeWeights(specs, values.buffer.slice(0), "float16");
    assert.equal(data.byteLength, 6 * 2 + 3 * 4);
    assert.deepEqual(out[0].quantization, { dtype: "float16" });
    assert.equal(out[1].quantization, undefined);
  });

  await t.step("float32 returns the input", () => {
    const data = values.buffer.slice(0);
    assert.equal(quantizeWeights(specs, data, "float32").data, data);
  });

  await t.step("rejects data of the wrong length", () => {
    assert.throws(() => quantizeWeights(specs, new ArrayBuffer(8), "uint8"), RangeError);
  });
});

Deno.test("quantized and folded model folders", async (t) => {
  const root = await Deno.makeTempDir({ prefix: "quantize-test-" });
  const model = testResNet({ kind: "stages", stages: [1, 2, 3, 4] }, 9);
  const { model: folded } = foldBatchNorm(model);
  const x = randomInput(2, 4);
  const expected = model.predict(x) as tf.Tensor;
  const logitScale = tf.tidy(() => tf.max(tf.abs(expected)).dataSync()[0]);

  async function roundTrip(quantization: WeightQuantization, tolerance: number) {
    const dir = `${root}/${quantization}`;
    await saveModelDir(
      dir,
      folded,
      metadata({ batchNormFolded: true, weightQuantization: quantization }),
    );
    const loaded = await loadModelDir(dir);
    assert.equal(loaded.metadata.formatVersion, 2);
    assert.deepEqual(loaded.metadata.inference, {
      batchNormFolded: true,
      weightQuantization: quantization,
    });
    const actual = loaded.model.predict(x) as tf.Tensor;
    const difference = maxAbsDifference(expected, actual);
    assert.ok(
      difference <= tolerance * logitScale,
      `${quantization}: max difference ${difference} > ${tolerance} x ${logitScale}`,
    );
    actual.dispose();
    loaded.model.dispose();
    return await weightBytes(dir);
  }

  try {
    let float32Bytes = 0;
    await t.step("plain folder keeps format version 1", async () => {
      await saveModelDir(`${root}/plain`, model, metadata());
      const loaded = await loadModelDir(`${root}/plain`);
      assert.equal(loaded.metadata.formatVersion, 1);
      loaded.model.dispose();
      float32Bytes = await weightBytes(`${root}/plain`);
    });

    await t.step("folded float32 matches within 1e-4", async () => {
      const bytes = await roundTrip("float32", 1e-4);
      assert.ok(bytes < float32Bytes, "folding removes the BatchNorm weights");
    });

    await t.step("float16 loads transparently at half the size", async () => {
      const bytes = await roundTrip("float16", 0.01);
      assert.ok(bytes < 0.55 * float32Bytes, `${bytes} bytes against ${float32Bytes}`);
    });

    await t.step("uint8 loads transparently at a quarter of the size", async () => {
      const bytes = await roundTrip("uint8", 0.1);
      assert.ok(bytes < 0.3 * float32Bytes, `${bytes} bytes against ${float32Bytes}`);
    });

    await t.step("loadInferenceModelDir compiles a quantized folder", async () => {
      const loaded = await loadInferenceModelDir(`${root}/float16`);
      const actual = loaded.model.predict(x);
      assert.ok(maxAbsDifference(expected, actual) <= 0.01 * logitScale);
      assert.equal(loaded.model.stats.foldedBatchNorm, 0);
      actual.dispose();
      loaded.model.dispose();
    });

    await t.step("rejects truncated quantized weights", async () => {
      const dir = `${root}/uint8`;
      const shard = [...Deno.readDirSync(dir)].find((e) => e.name.endsWith(".bin"))!.name;
      const bytes = await Deno.readFile(`${dir}/${shard}`);
      await Deno.writeFile(`${dir}/${shard}`, bytes.subarray(0, bytes.length - 3));
      await assert.rejects(() => loadModelDir(dir), ModelFormatError);
    });

    await t.step("rejects an invalid inference field", async () => {
      const dir = `${root}/float16`;
      const path = `${dir}/metadata.json`;
      const text = await Deno.readTextFile(path);
      const broken = {
        ...JSON.parse(text),
        inference: { batchNormFolded: true, weightQuantization: "int4" },
      };
      await Deno.writeTextFile(path, JSON.stringify(broken));
      await assert.rejects(() => loadModelDir(dir), /inference\.weightQuantization/);
    });
  } finally {
    tf.dispose([x, expected]);
    folded.dispose();
    model.dispose();
    await Deno.remove(root, { recursive: true });
  }
});
