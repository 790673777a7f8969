import assert from "node:assert/strict";

const REPO = new URL("../../", import.meta.url).pathname;

async function runRobustness(args: string[]): Promise<Deno.CommandOutput> {
  const permissions = ["--allow-read", "--allow-write", "--allow-env", "--allow-sys"];
  return await new Deno.Command(Deno.execPath(), {
    args: ["run", ...permissions, `${REPO}scripts/robustness.ts`, ...args],
    cwd: REPO,
    stdout: "piped",
    stderr: "piped",
  }).output();
}

const FIXTURE_RUN = [
  "--model",
  `${REPO}weights/default`,
  "--data",
  `${REPO}tests/fixtures/trashnet-mini`,
];

Deno.test("robustness reports every change for the default model", async () => {
  const out = await Deno.makeTempFile({ suffix: ".json" });
  const output = await runRobustness([...FIXTURE_RUN, "--json", out]);
  const stderr = new TextDecoder().decode(output.stderr);
  assert.equal(output.code, 0, stderr);
  const report = JSON.parse(await Deno.readTextFile(out));
  const names = report.results.map((r: { shift: string }) => r.shift);
  assert.deepEqual(names, [
    "original",
    "dim light",
    "warm light",
    "soft focus",
    "turned camera",
    "busy background",
  ]);
  for (const result of report.results) {
    assert.ok(result.accuracy >= 0, `${result.shift} accuracy`);
    assert.ok(result.accuracy <= 1, `${result.shift} accuracy`);
    assert.equal(typeof result.flaggedShare, "number", `${result.shift} flagged share`);
  }
  // The 24 fixture photos are TrashNet photos, which the default model mostly recognizes.
  assert.ok(report.results[0].accuracy > 0.7, `original accuracy ${report.results[0].accuracy}`);
  const table = new TextDecoder().decode(output.stdout);
  assert.match(table, /\| busy background \|/);
  await Deno.remove(out);
});

Deno.test("robustness rejects a missing background photo", async () => {
  const output = await runRobustness([...FIXTURE_RUN, "--background", "missing-photo.jpg"]);
  const stderr = new TextDecoder().decode(output.stderr);
  assert.notEqual(output.code, 0);
  assert.match(stderr, /--background missing-photo\.jpg: cannot read or decode it/);
});
