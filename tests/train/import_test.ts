import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { useBackend } from "../../shared/backend.ts";
import { loadModelDir } from "../../shared/model/io.ts";
import { loadStateDictFile, TorchCheckpointError } from "../../shared/torch/mod.ts";
import {
  importCheckpoint,
  parseMobileNetV2Cbam,
  parseResNetCbam,
  readLabels,
} from "../../train/import.ts";

await useBackend("cpu");

const REPO = new URL("../../", import.meta.url).pathname;
const FIXTURES = `${REPO}tests/fixtures/torch/`;
const CHECKPOINT = `${FIXTURES}resnet18_w4_stages.safetensors`;
const CLASS_NAMES = ["cardboard", "glass", "metal", "paper", "plastic"];

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "import_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("import writes a model folder with PyTorch's logits", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/labels.txt`, CLASS_NAMES.join("\n") + "\n\n");
    const out = `${dir}/model`;
    const { metadata } = await importCheckpoint({
      checkpoint: CHECKPOINT,
      model: "resnet18",
      labels: `${dir}/labels.txt`,
      imgSize: 48,
      out,
    });
    assert.deepEqual(metadata.architecture, {
      family: "resnet",
      depth: 18,
      cbam: { kind: "stages", stages: [1, 2, 3, 4] },
      cbamReduction: 16,
      cbamKernelSize: 7,
      baseWidth: 4,
    });

    const labels = JSON.parse(await Deno.readTextFile(`${out}/labels.json`));
    assert.deepEqual(labels, Object.fromEntries(CLASS_NAMES.map((name, i) => [String(i), name])));
    const provenance = JSON.parse(await Deno.readTextFile(`${out}/import.json`));
    assert.equal(provenance.checkpoint, CHECKPOINT);

    const loaded = await loadModelDir(out);
    assert.deepEqual(loaded.metadata.classNames, CLASS_NAMES);
    const expected = await loadStateDictFile(`${FIXTURES}resnet18_w4_stages.expected.safetensors`);
    const input = expected.get("input")!;
    const logits = expected.get("logits")!.data;
    const actual = tf.tidy(() =>
      (loaded.model.predict(tf.tensor(input.data, input.shape)) as tf.Tensor).dataSync()
    );
    const maxLogit = Math.max(...logits.map(Math.abs));
    const maxDiff = Math.max(...actual.map((value, i) => Math.abs(value - logits[i])));
    assert.ok(maxDiff <= 1e-4 * maxLogit, `max |diff| ${maxDiff} for max |logit| ${maxLogit}`);
    loaded.model.dispose();
  });
});

Deno.test("import reads labels in every format", async (t) => {
  await withTempDir(async (dir) => {
    const write = async (name: string, text: string) => {
      await Deno.writeTextFile(`${dir}/${name}`, text);
      return `${dir}/${name}`;
    };
    await t.step("class map JSON", async () => {
      const path = await write("map.json", JSON.stringify({ "1": "b", "0": "a" }));
      assert.deepEqual(await readLabels(path, 2), ["a", "b"]);
    });
    await t.step("JSON array", async () => {
      assert.deepEqual(await readLabels(await write("list.json", '["a", "b"]'), 2), ["a", "b"]);
    });
    await t.step("Windows line ends", async () => {
      assert.deepEqual(await readLabels(await write("crlf.txt", "a\r\nb\r\n"), 2), ["a", "b"]);
    });
    await t.step("count differs from the classifier", async () => {
      await assert.rejects(
        readLabels(await write("three.txt", "a\nb\nc\n"), 5),
        /lists 3 class names, but the checkpoint's classifier has 5 outputs/,
      );
    });
    await t.step("map with a gap", async () => {
      const path = await write("gap.json", JSON.stringify({ "0": "a", "2": "c" }));
      await assert.rejects(readLabels(path, 2), /"1" is missing or not a string/);
    });
    await t.step("repeated name", async () => {
      await assert.rejects(
        readLabels(await write("dup.txt", "a\na\n"), 2),
        /repeats class names: a/,
      );
    });
    await t.step("missing file", async () => {
      await assert.rejects(readLabels(`${dir}/none.txt`, 2), /Labels file not found/);
    });
  });
});

Deno.test("import rejects checkpoints that do not fit", async (t) => {
  await withTempDir(async (dir) => {
    await t.step("other --model", async () => {
      await assert.rejects(
        importCheckpoint({ checkpoint: CHECKPOINT, model: "resnet50", out: `${dir}/a` }),
        /contains a resnet18 \(judging by its keys\), but --model is resnet50/,
      );
    });
    await t.step("unknown --model", async () => {
      await assert.rejects(
        importCheckpoint({ checkpoint: CHECKPOINT, model: "vgg16", out: `${dir}/b` }),
        /Unknown --model "vgg16"/,
      );
    });
    await t.step("--cbam that differs from the checkpoint", async () => {
      await assert.rejects(
        importCheckpoint({
          checkpoint: CHECKPOINT,
          model: "resnet18",
          cbam: "none",
          out: `${dir}/c`,
        }),
        (error: unknown) => {
          assert.ok(error instanceof TorchCheckpointError);
          assert.match(error.message, /12 keys in the checkpoint but not in the model/);
          return true;
        },
      );
    });
    await t.step("no output folder written", async () => {
      const entries = [];
      for await (const entry of Deno.readDir(dir)) entries.push(entry.name);
      assert.deepEqual(entries, []);
    });
  });
});

Deno.test("import parses --cbam", async (t) => {
  await t.step("ResNet", () => {
    assert.deepEqual(parseResNetCbam("layer3,layer1"), { kind: "stages", stages: [1, 3] });
    assert.deepEqual(parseResNetCbam("blocks"), { kind: "blocks" });
    assert.throws(() => parseResNetCbam("layer5"), /Invalid --cbam "layer5" for a ResNet/);
  });
  await t.step("MobileNetV2", () => {
    assert.deepEqual(parseMobileNetV2Cbam("features.17,features.3"), {
      kind: "stages",
      stages: [1, 4],
    });
    assert.deepEqual(parseMobileNetV2Cbam("stages"), { kind: "stages", stages: [1, 2, 3, 4, 5] });
    assert.throws(
      () => parseMobileNetV2Cbam("features.4"),
      /Invalid --cbam "features\.4" for MobileNetV2.*features\.3, features\.6/,
    );
  });
});

Deno.test("import CLI names classes class_N without --labels", async () => {
  await withTempDir(async (dir) => {
    const output = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-read",
        "--allow-write",
        "--allow-env",
        "--allow-sys",
        `${REPO}train/import.ts`,
        `${FIXTURES}resnet18_w4_none.pth`,
        "--model",
        "resnet18",
        "--img-size",
        "48",
        "--out",
        `${dir}/model`,
      ],
      cwd: REPO,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const log = new TextDecoder().decode(output.stdout) + new TextDecoder().decode(output.stderr);
    assert.equal(output.code, 0, log);
    assert.match(log, /No --labels given: the 5 classes are named class_0 to class_4/);
    const metadata = JSON.parse(await Deno.readTextFile(`${dir}/model/metadata.json`));
    assert.deepEqual(metadata.classNames, ["class_0", "class_1", "class_2", "class_3", "class_4"]);
    assert.deepEqual(metadata.architecture.cbam, { kind: "none" });
  });
});
