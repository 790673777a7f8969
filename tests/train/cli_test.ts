import assert from "node:assert/strict";

const REPO = new URL("../../", import.meta.url).pathname;
const FIXTURES = `${REPO}tests/fixtures/trashnet-mini`;
const PERMISSIONS = ["--allow-read", "--allow-write", "--allow-env", "--allow-sys"];

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

async function runTool(tool: string, args: string[]): Promise<Result> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...PERMISSIONS, `${REPO}train/${tool}.ts`, ...args],
    cwd: REPO,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

const SMALL_RUN = [
  "--data",
  FIXTURES,
  "--img-size",
  "32",
  "--batch-size",
  "6",
  "--val-fraction",
  "0.25",
  "--backend",
  "cpu",
  "--workers",
  "1",
];

Deno.test("train, then predict and evaluate in fresh processes", async () => {
  const root = await Deno.makeTempDir({ prefix: "cli_test_" });
  const train = await runTool("main", [...SMALL_RUN, "--epochs", "1", "--out", `${root}/run`]);
  assert.equal(train.code, 0, train.stderr);

  const photo = `${FIXTURES}/glass/${[...Deno.readDirSync(`${FIXTURES}/glass`)][0].name}`;
  const predict = await runTool("predict", [
    "--model",
    `${root}/run/model`,
    photo,
    "--all-scores",
    "--json",
    `${root}/p.json`,
  ]);
  assert.equal(predict.code, 0, predict.stderr);
  const [header, row] = predict.stdout.trim().split("\n");
  assert.match(header, /^file,label_1,score_1,label_2,score_2,label_3,score_3,score_cardboard,/);
  assert.ok(row.startsWith(photo));
  const json = JSON.parse(await Deno.readTextFile(`${root}/p.json`));
  const scores = Object.values(json.predictions[0].scores) as number[];
  assert.ok(Math.abs(scores.reduce((a, b) => a + b, 0) - 1) < 1e-5);

  const evaluate = await runTool("evaluate", [
    "--model",
    `${root}/run/model`,
    "--data",
    FIXTURES,
    "--out",
    `${root}/eval`,
  ]);
  assert.equal(evaluate.code, 0, evaluate.stderr);
  const metrics = JSON.parse(await Deno.readTextFile(`${root}/eval/metrics.json`));
  assert.equal(metrics.data.images, 24);
  assert.ok((await Deno.stat(`${root}/eval/confusion_all.svg`)).isFile);

  // Photos of only some classes, as a set from another source may be.
  for (const name of ["glass", "metal"]) {
    await Deno.mkdir(`${root}/few/${name}`, { recursive: true });
    for (const entry of Deno.readDirSync(`${FIXTURES}/${name}`)) {
      await Deno.copyFile(`${FIXTURES}/${name}/${entry.name}`, `${root}/few/${name}/${entry.name}`);
    }
  }
  const few = await runTool("evaluate", [
    "--model",
    `${root}/run/model`,
    "--data",
    `${root}/few`,
    "--out",
    `${root}/eval-few`,
  ]);
  assert.equal(few.code, 0, few.stderr);
  const fewMetrics = JSON.parse(await Deno.readTextFile(`${root}/eval-few/metrics.json`));
  assert.equal(fewMetrics.data.images, 8);
  assert.equal(fewMetrics.metrics.confusionMatrix.length, 6, "rows for all model classes");
  assert.equal(fewMetrics.metrics.perClass.glass.support, 4);
  assert.equal(fewMetrics.metrics.perClass.cardboard.support, 0);
  await Deno.remove(root, { recursive: true });
});

Deno.test("a run killed mid-epoch resumes and finishes", async () => {
  const root = await Deno.makeTempDir({ prefix: "cli_test_" });
  const out = `${root}/run`;
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...PERMISSIONS,
      `${REPO}train/main.ts`,
      ...SMALL_RUN,
      "--epochs",
      "2",
      "--batch-size",
      "3",
      "--checkpoint-every",
      "1",
      "--out",
      out,
    ],
    cwd: REPO,
    stdout: "null",
    stderr: "null",
  }).spawn();
  const statePath = `${out}/checkpoints/last/trainer_state.json`;
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    try {
      const state = JSON.parse(await Deno.readTextFile(statePath));
      if (state.position.stepInEpoch >= 1) break;
    } catch {
      // Not written yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  child.kill("SIGKILL");
  await child.status;
  const killedAt = JSON.parse(await Deno.readTextFile(statePath)).position;
  assert.ok(killedAt.epoch < 2, "the run finished before it was killed");

  const resumed = await runTool("main", ["--resume", "--out", out]);
  assert.equal(resumed.code, 0, resumed.stderr);
  const log = JSON.parse(await Deno.readTextFile(`${out}/train_log.json`));
  assert.equal(log.status, "finished");
  assert.equal(log.epochs.length, 2);
  assert.ok((await Deno.stat(`${out}/model/model.json`)).isFile);
  await Deno.remove(root, { recursive: true });
});

Deno.test("bad input gets a clear error, a non-zero exit and no exported model", async (t) => {
  const root = await Deno.makeTempDir({ prefix: "cli_test_" });
  const emptyClass = `${root}/empty-class`;
  await Deno.mkdir(`${emptyClass}/a`, { recursive: true });
  await Deno.mkdir(`${emptyClass}/b`, { recursive: true });
  await Deno.copyFile(
    `${FIXTURES}/glass/${[...Deno.readDirSync(`${FIXTURES}/glass`)][0].name}`,
    `${emptyClass}/a/x.jpg`,
  );
  const cases: [string, string, string[], RegExp][] = [
    ["missing data folder", "main", ["--data", `${root}/nope`, "--out", `${root}/o1`], /nope/],
    ["class folder without images", "main", ["--data", emptyClass, "--out", `${root}/o2`], /b/],
    [
      "batch size 0",
      "main",
      ["--data", FIXTURES, "--batch-size", "0", "--out", `${root}/o3`],
      /--batch-size must be a positive integer, got "0"/,
    ],
    [
      "unknown model",
      "main",
      ["--data", FIXTURES, "--model", "resnet7", "--out", `${root}/o4`],
      /resnet7/,
    ],
    [
      "unknown flag",
      "main",
      ["--data", FIXTURES, "--learning-rate", "1", "--out", `${root}/o5`],
      /unknown option '--learning-rate'/,
    ],
    [
      "model folder without metadata.json",
      "predict",
      ["--model", root, `${FIXTURES}/glass`],
      /metadata\.json not found/,
    ],
  ];
  for (const [label, tool, args, message] of cases) {
    await t.step(label, async () => {
      const result = await runTool(tool, args);
      assert.notEqual(result.code, 0);
      assert.match(result.stderr + result.stdout, message);
    });
  }
  for (const out of ["o1", "o2", "o3", "o4", "o5"]) {
    const exported = await Deno.stat(`${root}/${out}/model`).then(() => true, () => false);
    assert.equal(exported, false, `${out} has an exported model`);
  }
  await Deno.remove(root, { recursive: true });
});
