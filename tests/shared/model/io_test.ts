import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { useBackend } from "../../../shared/backend.ts";
import { buildResNet, type CbamPlacement } from "../../../shared/model/resnet.ts";
import { loadModelDir, saveModelDir } from "../../../shared/model/io.ts";
import {
  MODEL_FORMAT_VERSION,
  ModelFormatError,
  type ModelMetadata,
} from "../../../shared/model/metadata.ts";

await useBackend("cpu");

const IMG = 32;

function metadataFor(cbam: CbamPlacement, classNames: string[]): ModelMetadata {
  return {
    formatVersion: MODEL_FORMAT_VERSION,
    modelId: "test",
    modelVersion: "1",
    architecture: {
      family: "resnet",
      depth: 18,
      cbam,
      cbamReduction: 4,
      cbamKernelSize: 3,
      baseWidth: 8,
    },
    input: {
      imgSize: IMG,
      resizeRatio: 0.875,
      mean: [0.485, 0.456, 0.406],
      std: [0.229, 0.224, 0.225],
      layout: "NHWC",
    },
    classNames,
    createdAt: new Date().toISOString(),
  };
}

async function savedModel(cbam: CbamPlacement) {
  const model = buildResNet({
    depth: 18,
    numClasses: 3,
    imgSize: IMG,
    baseWidth: 8,
    cbam,
    cbamReduction: 4,
    cbamKernelSize: 3,
    seed: 9,
  });
  // Non-trivial running statistics, so inference mode is really exercised.
  for (const layer of model.layers) {
    if (layer.getClassName() !== "BatchNormalization") continue;
    const [gamma, beta, mean, variance] = layer.getWeights();
    layer.setWeights([
      gamma,
      beta,
      tf.randomUniform(mean.shape, -0.5, 0.5, "float32", 1),
      tf.randomUniform(variance.shape, 0.5, 2, "float32", 2),
    ]);
  }
  const dir = await Deno.makeTempDir({ prefix: "io_test_" });
  await saveModelDir(`${dir}/model`, model, metadataFor(cbam, ["a", "b", "c"]));
  return { model, dir: `${dir}/model`, root: dir };
}

function fixedInput() {
  return tf.tidy(() => tf.sin(tf.range(0, 2 * IMG * IMG * 3).reshape([2, IMG, IMG, 3])));
}

Deno.test("saved CBAM model gives identical logits in a fresh process", async (t) => {
  const placements: CbamPlacement[] = [{ kind: "stages", stages: [1, 2, 3, 4] }, {
    kind: "blocks",
  }];
  for (const cbam of placements) {
    await t.step(cbam.kind, async () => {
      const { model, dir, root } = await savedModel(cbam);
      const expected = Array.from(await (model.predict(fixedInput()) as tf.Tensor).data());
      const output = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--allow-read",
          "--allow-env",
          "--allow-sys",
          new URL("./predict_fixed_input.ts", import.meta.url).pathname,
          dir,
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
      const actual = JSON.parse(new TextDecoder().decode(output.stdout).trim().split("\n").pop()!);
      assert.deepEqual(actual, expected);
      model.dispose();
      await Deno.remove(root, { recursive: true });
    });
  }
});

Deno.test("loadModelDir rejects broken folders with clear errors", async (t) => {
  const { model, dir, root } = await savedModel({ kind: "none" });
  model.dispose();

  await t.step("missing folder", async () => {
    await assert.rejects(
      loadModelDir(`${root}/nope`),
      (e: Error) => e instanceof ModelFormatError && /not found/.test(e.message),
    );
  });

  await t.step("truncated weights", async () => {
    const shard = `${dir}/group1-shard1of1.bin`;
    const bytes = await Deno.readFile(shard);
    await Deno.writeFile(shard, bytes.subarray(0, bytes.length - 100));
    await assert.rejects(loadModelDir(dir), /corrupt or incomplete/);
    await Deno.writeFile(shard, bytes);
  });

  await t.step("newer format version", async () => {
    const path = `${dir}/metadata.json`;
    const text = await Deno.readTextFile(path);
    await Deno.writeTextFile(
      path,
      JSON.stringify({ ...JSON.parse(text), formatVersion: MODEL_FORMAT_VERSION + 1 }),
    );
    await assert.rejects(loadModelDir(dir), /newer than this code reads/);
    await Deno.writeTextFile(path, text);
  });

  await t.step("missing metadata.json", async () => {
    await Deno.remove(`${dir}/metadata.json`);
    await assert.rejects(loadModelDir(dir), /metadata\.json not found/);
  });
  await Deno.remove(root, { recursive: true });
});
