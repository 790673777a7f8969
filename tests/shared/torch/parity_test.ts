/**
 * Imported checkpoints must compute PyTorch's logits: max |difference| at
 * most 1e-4 x max |PyTorch logit|, in float32, on the cpu and wasm backends.
 *
 * The committed fixtures (narrow widths, 48-pixel inputs) run everywhere.
 * Full-width ResNet-18 and ResNet-50 cases are generated with PyTorch into a
 * temporary folder, and run only where Debian's python3-torch is installed.
 */
import assert from "node:assert/strict";
import { type BackendName, useBackend } from "../../../shared/backend.ts";
import {
  type ParityCase,
  readParityCases,
  RELATIVE_TOLERANCE,
  runParityCase,
} from "../../../scripts/torch_parity_check.ts";
import { FIXTURES } from "./builders.ts";

const PYTHON = "/usr/bin/python3";
const BACKENDS: BackendName[] = ["cpu", "wasm"];
const FULL_WIDTH_CASES = [
  "resnet18_w64_none",
  "resnet18_w64_stages",
  "resnet50_w64_none",
  "resnet50_w64_stages",
];

async function hasTorch(): Promise<boolean> {
  try {
    const command = new Deno.Command(PYTHON, {
      args: ["-c", "import torch, torchvision"],
      stdout: "null",
      stderr: "null",
    });
    return (await command.output()).success;
  } catch {
    return false;
  }
}

async function checkCases(t: Deno.TestContext, dir: string, cases: ParityCase[]): Promise<void> {
  for (const backend of BACKENDS) {
    await useBackend(backend);
    for (const parityCase of cases) {
      await t.step(`${backend} ${parityCase.name}`, async () => {
        const result = await runParityCase(dir, parityCase);
        console.log(
          `${backend} ${parityCase.name}: max |diff| ${result.maxAbsDiff.toExponential(2)}, ` +
            `relative ${result.relativeDiff.toExponential(2)}`,
        );
        assert.ok(result.maxAbsLogit > 0, "the reference logits are all zero");
        assert.ok(
          result.relativeDiff <= RELATIVE_TOLERANCE,
          `max |diff| ${result.maxAbsDiff} exceeds ${RELATIVE_TOLERANCE} x max |logit| ` +
            `${result.maxAbsLogit}`,
        );
      });
    }
  }
  await useBackend("cpu");
}

Deno.test("parity with PyTorch on committed fixtures", async (t) => {
  const cases = await readParityCases(FIXTURES);
  const models = new Set(cases.map((parityCase) => parityCase.model));
  assert.deepEqual([...models].sort(), ["mobilenet_v2", "resnet18", "resnet50"]);
  await checkCases(t, FIXTURES, cases);
});

const torchInstalled = await hasTorch();
if (!torchInstalled) {
  console.warn(
    `Skipping full-width ResNet parity: ${PYTHON} cannot import torch and torchvision ` +
      "(Debian: apt-get install python3-torch python3-torchvision).",
  );
}

Deno.test({
  name: "parity with PyTorch at full width",
  ignore: !torchInstalled,
  fn: async (t) => {
    const dir = await Deno.makeTempDir({ prefix: "torch_parity_" });
    try {
      const script = new URL("../../../scripts/torch_parity.py", import.meta.url).pathname;
      const output = await new Deno.Command(PYTHON, {
        args: [
          script,
          "--set",
          "full",
          "--img-size",
          "64",
          "--out",
          dir,
          "--only",
          FULL_WIDTH_CASES.join(","),
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.ok(
        output.success,
        `torch_parity.py failed: ${new TextDecoder().decode(output.stderr)}`,
      );
      await checkCases(t, dir, await readParityCases(dir));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
