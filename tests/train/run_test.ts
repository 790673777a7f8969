import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { parseTrainArgs, type TrainConfig } from "../../train/config.ts";
import { runTraining } from "../../train/run.ts";
import { loadCheckpoint } from "../../train/checkpoint.ts";

const FIXTURES = new URL("../fixtures/trashnet-mini", import.meta.url).pathname;

function baseConfigFor(out: string, extra: string[] = []): TrainConfig {
  return parseTrainArgs([
    "--data",
    FIXTURES,
    "--img-size",
    "32",
    "--epochs",
    "2",
    "--batch-size",
    "6",
    "--val-fraction",
    "0.25",
    "--backend",
    "cpu",
    "--workers",
    "1",
    "--checkpoint-every",
    "0",
    "--out",
    out,
    ...extra,
  ]).config;
}

const configFor = baseConfigFor;

async function lastWeights(out: string): Promise<Float32Array[]> {
  const checkpoint = await loadCheckpoint(`${out}/checkpoints/last`);
  const arrays: Float32Array[] = [];
  for (const name of [...checkpoint.weights.keys()].sort()) {
    for (const tensor of checkpoint.weights.get(name)!) {
      arrays.push(new Float32Array(await tensor.data()));
    }
  }
  tf.dispose([...checkpoint.weights.values()].flat());
  return arrays;
}

const RESUME_CASES: { label: string; args: string[] }[] = [
  { label: "default settings", args: [] },
  {
    label: "frozen prefix outside the tape, color jitter and blur",
    args: ["--trainable-from", "layer3", "--color-jitter", "0.3", "--blur", "0.5"],
  },
];

for (const { label, args } of RESUME_CASES) {
  Deno.test(`training interrupted mid-epoch and resumed equals an uninterrupted run on cpu: ${label}`, async () => {
    await checkResumeEqualsWhole(args);
  });
}

async function checkResumeEqualsWhole(args: string[]): Promise<void> {
  const configFor = (out: string) => baseConfigFor(out, args);
  const root = await Deno.makeTempDir({ prefix: "run_test_" });
  const whole = await runTraining(configFor(`${root}/whole`), { command: "test" });
  assert.equal(whole.status, "finished");

  const controller = new AbortController();
  const interrupted = await runTraining(configFor(`${root}/split`), {
    command: "test",
    signal: controller.signal,
    onStep: (epoch, step) => {
      if (epoch === 0 && step === 2) controller.abort();
    },
  });
  assert.equal(interrupted.status, "interrupted");
  const state = JSON.parse(
    await Deno.readTextFile(`${root}/split/checkpoints/last/trainer_state.json`),
  );
  assert.equal(state.position.epoch, 0);
  assert.equal(state.position.stepInEpoch, 2);

  const resumed = await runTraining({ ...configFor(`${root}/split`), resume: true }, {
    command: "test",
  });
  assert.equal(resumed.status, "finished");
  assert.deepEqual(await lastWeights(`${root}/split`), await lastWeights(`${root}/whole`));
  assert.deepEqual(
    resumed.log.epochs.map((e) => e.val.accuracy),
    whole.log.epochs.map((e) => e.val.accuracy),
  );
  await Deno.remove(root, { recursive: true });
}

Deno.test("training writes a log with every required field", async () => {
  const root = await Deno.makeTempDir({ prefix: "run_test_" });
  const out = `${root}/run`;
  await runTraining(configFor(out, ["--epochs", "1", "--balance", "weights", "--optim", "sgd"]), {
    command: "test",
  });
  const log = JSON.parse(await Deno.readTextFile(`${out}/train_log.json`));
  assert.equal(log.status, "finished");
  assert.equal(log.config.optim, "sgd");
  assert.deepEqual(log.dataset.sizes, { train: 18, val: 6, test: 0 });
  assert.ok(log.model.parameters.total > log.model.parameters.trainable - 1);
  assert.ok(log.model.macs > 0);
  const epoch = log.epochs[0];
  for (const block of [epoch.train, epoch.val]) {
    assert.equal(typeof block.accuracy, "number");
    assert.equal(Object.keys(block.perClass).length, 6);
    for (const metrics of Object.values(block.perClass) as Record<string, number>[]) {
      for (const key of ["precision", "recall", "specificity", "f1"]) {
        assert.equal(typeof metrics[key], "number");
      }
    }
    for (const key of ["precision", "recall", "specificity", "f1"]) {
      assert.equal(typeof block.macro[key], "number");
    }
    assert.equal(block.confusionMatrix.length, 6);
  }
  assert.equal(log.best.epoch, 1);
  for (
    const file of [
      "curves.svg",
      "confusion_val.svg",
      "config.json",
      "class_map.json",
      "dataset.json",
    ]
  ) {
    assert.ok((await Deno.stat(`${out}/${file}`)).isFile, `${file} missing`);
  }
  const classMap = JSON.parse(await Deno.readTextFile(`${out}/class_map.json`));
  assert.deepEqual(classMap, {
    0: "cardboard",
    1: "glass",
    2: "metal",
    3: "paper",
    4: "plastic",
    5: "trash",
  });
  const metadata = JSON.parse(await Deno.readTextFile(`${out}/model/metadata.json`));
  assert.equal(metadata.training.bestEpoch, 1);
  assert.equal(metadata.input.imgSize, 32);
  // Six val images are too few for a calibration fit, so none is stored.
  assert.equal(metadata.calibration, undefined);
  assert.equal(log.calibration, undefined);
  await Deno.remove(root, { recursive: true });
});

Deno.test("training refuses to overwrite an existing run", async () => {
  const root = await Deno.makeTempDir({ prefix: "run_test_" });
  const out = `${root}/run`;
  await Deno.mkdir(out, { recursive: true });
  await Deno.writeTextFile(`${out}/train_log.json`, "{}");
  await assert.rejects(runTraining(configFor(out), { command: "test" }), /already contains a run/);
  await assert.rejects(
    runTraining({ ...configFor(`${root}/empty`), resume: true }, { command: "test" }),
    /No checkpoint/,
  );
  await Deno.remove(root, { recursive: true });
});

Deno.test("resume after the last epoch exports the best epoch", async () => {
  const root = await Deno.makeTempDir({ prefix: "run_test_" });
  const out = `${root}/run`;
  await runTraining(configFor(out, ["--epochs", "1", "--optim", "sgd"]), { command: "test" });
  // A kill between the last checkpoint and the export leaves no model/.
  await Deno.remove(`${out}/model`, { recursive: true });
  const resumed = await runTraining({
    ...configFor(out, ["--epochs", "1", "--optim", "sgd"]),
    resume: true,
  }, {
    command: "test",
  });
  assert.equal(resumed.status, "finished");
  assert.equal(resumed.log.best?.epoch, 1);
  assert.ok((await Deno.stat(`${out}/model/model.json`)).isFile);
  await Deno.remove(root, { recursive: true });
});

Deno.test("resume rejects data whose split changed", async () => {
  const root = await Deno.makeTempDir({ prefix: "run_test_" });
  const data = `${root}/data`;
  for (const entry of Deno.readDirSync(FIXTURES)) {
    if (!entry.isDirectory) continue;
    await Deno.mkdir(`${data}/${entry.name}`, { recursive: true });
    for (const file of Deno.readDirSync(`${FIXTURES}/${entry.name}`)) {
      await Deno.copyFile(
        `${FIXTURES}/${entry.name}/${file.name}`,
        `${data}/${entry.name}/${file.name}`,
      );
    }
  }
  const out = `${root}/run`;
  const config = { ...configFor(out, ["--epochs", "1", "--optim", "sgd"]), data };
  const controller = new AbortController();
  await runTraining(config, {
    command: "test",
    signal: controller.signal,
    onStep: () => controller.abort(),
  });
  const datasetBefore = await Deno.readTextFile(`${out}/dataset.json`);
  const glass = [...Deno.readDirSync(`${data}/glass`)][0].name;
  await Deno.remove(`${data}/glass/${glass}`);
  await assert.rejects(
    runTraining({ ...config, resume: true }, { command: "test" }),
    /images per class changed/,
  );
  assert.equal(await Deno.readTextFile(`${out}/dataset.json`), datasetBefore);
  await Deno.remove(root, { recursive: true });
});

Deno.test("a run that fails during setup writes nothing", async () => {
  const root = await Deno.makeTempDir({ prefix: "run_test_" });
  const out = `${root}/run`;
  await assert.rejects(
    runTraining(configFor(out, ["--trainable-from", "layer9"]), { command: "test" }),
    /--trainable-from "layer9"/,
  );
  assert.equal(await Deno.stat(out).then(() => true, () => false), false);
  await assert.rejects(
    runTraining({ ...configFor(`${FIXTURES}/run`) }, { command: "test" }),
    /is inside --data/,
  );
  await Deno.remove(root, { recursive: true });
});

Deno.test("resume with --epochs set to the finished epochs exports now", async () => {
  const root = await Deno.makeTempDir({ prefix: "run_test_" });
  const out = `${root}/run`;
  const controller = new AbortController();
  const first = await runTraining(configFor(out, ["--optim", "sgd"]), {
    command: "test",
    signal: controller.signal,
    onStep: (epoch, step) => {
      if (epoch === 1 && step === 1) controller.abort();
    },
  });
  assert.equal(first.status, "interrupted");
  const exported = await runTraining({
    ...configFor(out, ["--optim", "sgd"]),
    epochs: 1,
    resume: true,
  }, {
    command: "test",
  });
  assert.equal(exported.status, "finished");
  assert.equal(exported.log.epochs.length, 1);
  const metadata = JSON.parse(await Deno.readTextFile(`${out}/model/metadata.json`));
  assert.equal(metadata.training.epochs, 1);
  await Deno.remove(root, { recursive: true });
});
