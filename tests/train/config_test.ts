import assert from "node:assert/strict";
import { parseTrainArgs, resumeConfig } from "../../train/config.ts";

Deno.test("color jitter and blur default to off and parse their values", () => {
  const defaults = parseTrainArgs(["--data", "photos"]).config;
  assert.equal(defaults.colorJitter, 0);
  assert.equal(defaults.blur, 0);
  const set = parseTrainArgs(["--data", "photos", "--color-jitter", "0.2", "--blur", "0.3"]);
  assert.equal(set.config.colorJitter, 0.2);
  assert.equal(set.config.blur, 0.3);
});

Deno.test("color jitter and blur reject bad values and --no-augment", async (t) => {
  const cases: { args: string[]; message: RegExp }[] = [
    { args: ["--color-jitter", "-0.1"], message: /--color-jitter must be a number from 0 to 1/ },
    { args: ["--blur", "2"], message: /--blur must be a number from 0 to 1/ },
    { args: ["--blur", "often"], message: /--blur must be a number from 0 to 1/ },
    { args: ["--no-augment", "--blur", "0.5"], message: /cannot be used with --no-augment/ },
    {
      args: ["--no-augment", "--color-jitter", "0.2"],
      message: /cannot be used with --no-augment/,
    },
  ];
  for (const { args, message } of cases) {
    await t.step(args.join(" "), () => {
      const stderr = Deno.stderr.writeSync;
      // commander prints the error before throwing; keep the test output clean.
      Deno.stderr.writeSync = (data: Uint8Array) => data.length;
      try {
        assert.throws(() => parseTrainArgs(["--data", "photos", ...args]), message);
      } finally {
        Deno.stderr.writeSync = stderr;
      }
    });
  }
});

Deno.test("resuming a run saved before color jitter and blur existed turns them off", async () => {
  const out = await Deno.makeTempDir({ prefix: "config_test_" });
  const saved = parseTrainArgs(["--data", "photos", "--out", out]).config as unknown as Record<
    string,
    unknown
  >;
  delete saved.colorJitter;
  delete saved.blur;
  await Deno.writeTextFile(`${out}/config.json`, JSON.stringify({ command: "old", ...saved }));
  const { config, explicit } = parseTrainArgs(["--resume", "--out", out]);
  const resumed = await resumeConfig(config, explicit);
  assert.equal(resumed.config.colorJitter, 0);
  assert.equal(resumed.config.blur, 0);
  assert.equal(resumed.config.data, "photos");
  await Deno.remove(out, { recursive: true });
});
