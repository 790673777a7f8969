/**
 * Measures how an exported model copes with photos unlike its training
 * data. It evaluates one set of photos unchanged and under each change of
 * `train/shifts.ts`: dim and warm light, soft focus, a turned camera, a busy
 * background. For each, it reports accuracy, macro F1, the share flagged
 * uncertain and the accuracy on the rest. It also reports how often other
 * materials are called `trash`, because a softer photo is a shortcut to
 * `trash` in TrashNet.
 *
 * @example
 * ```sh
 * deno task robustness --model weights/default --data ../shared/data/trashnet \
 *   --split ../shared/data/trashnet-splits --subset test --json runs/robustness.json
 * ```
 * @module
 */
import { Command, Option } from "commander";
import { BACKEND_NAMES, type BackendName, useBackend } from "../shared/backend.ts";
import { decodeImage } from "../shared/image/decode.ts";
import { loadModelDir } from "../shared/model/io.ts";
import { runEval } from "../train/epoch.ts";
import { decodeForModel, uncertainSummary } from "../train/evaluate.ts";
import { metricsFromConfusion } from "../train/metrics.ts";
import { SHIFTS } from "../train/shifts.ts";
import { runCli } from "../train/cli.ts";

const DEFAULT_BACKGROUND = new URL("../tests/fixtures/images/exif_orient_1.jpg", import.meta.url)
  .pathname;

/** Figures for one change of the photos. */
interface ShiftResult {
  shift: string;
  description: string;
  accuracy: number;
  macroF1: number;
  flaggedShare: number | null;
  accuracyKept: number | null;
  otherCalledTrash: number | null;
}

function robustnessCommand(): Command {
  return new Command("robustness")
    .description("Evaluate a model on photos changed to imitate another source.")
    .requiredOption("--model <dir>", "model folder with model.json and metadata.json")
    .requiredOption("--data <dir>", "ImageFolder root whose class folders match the model's")
    .option("--split <dir>", "folder with *_train.txt, *_val.txt and *_test.txt lists")
    .addOption(
      new Option("--subset <name>", "which images: a list of --split, or all")
        .choices(["train", "val", "test", "all"]).default("all"),
    )
    .option("--background <file>", "real-world photo for the busy background", DEFAULT_BACKGROUND)
    .option("--json <file>", "also write the results as JSON")
    .addOption(
      new Option("--backend <name>", "TensorFlow.js backend").choices(BACKEND_NAMES)
        .default("wasm"),
    )
    .showHelpAfterError("(run with --help for every flag)")
    .allowExcessArguments(false)
    .exitOverride();
}

/** Share of photos of other classes that the model calls `trash`, or null without that class. */
function otherCalledTrash(confusion: number[][], classNames: string[]): number | null {
  const trash = classNames.indexOf("trash");
  if (trash < 0) return null;
  let others = 0;
  let called = 0;
  confusion.forEach((row, label) => {
    if (label === trash) return;
    others += row.reduce((a, b) => a + b, 0);
    called += row[trash];
  });
  return others === 0 ? null : called / others;
}

function percent(value: number | null): string {
  return value === null ? "n/a" : (value * 100).toFixed(1);
}

/** Formats the results as a Markdown table. */
export function resultsTable(results: ShiftResult[]): string {
  return [
    "| change | what it does | accuracy % | macro F1 % | flagged uncertain % | accuracy on the rest % | other materials called trash % |",
    "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ...results.map((r) =>
      `| ${r.shift} | ${r.description} | ${percent(r.accuracy)} | ${percent(r.macroF1)} | ${
        percent(r.flaggedShare)
      } | ${percent(r.accuracyKept)} | ${percent(r.otherCalledTrash)} |`
    ),
  ].join("\n");
}

/** Reads and decodes the background photo, before any slow work, with an error that names the flag. */
async function readBackground(path: string) {
  try {
    return await decodeImage(await Deno.readFile(path));
  } catch (error) {
    throw new Error(
      `--background ${path}: cannot read or decode it (${(error as Error).message}). ` +
        "Pass a JPEG, PNG or WebP photo, or leave the flag out for the default one.",
    );
  }
}

async function main(): Promise<number> {
  const command = robustnessCommand();
  command.parse(Deno.args, { from: "user" });
  const options = command.opts();
  const background = await readBackground(options.background);
  await useBackend(options.backend as BackendName);
  const { model, metadata } = await loadModelDir(options.model);
  const { input, classNames } = metadata;
  const { decoded } = await decodeForModel(
    options as { data: string; split?: string; subset: string },
    metadata,
    { workers: Math.max(1, navigator.hardwareConcurrency ?? 2) },
  );
  const labels = decoded.map((d) => d.sample.label);

  const results: ShiftResult[] = [];
  for (const shift of SHIFTS) {
    const changed = decoded.map((d) => ({ ...d, image: shift.apply(d.image, { background }) }));
    const tally = await runEval(model, changed, {
      batchSize: 32,
      preprocess: { ...input },
      numClasses: classNames.length,
    });
    const metrics = metricsFromConfusion(tally.confusion, classNames, tally.lossSum / tally.seen);
    const uncertain = metadata.calibration
      ? uncertainSummary(tally.logits, labels, metadata.calibration)
      : undefined;
    results.push({
      shift: shift.name,
      description: shift.description,
      accuracy: metrics.accuracy,
      macroF1: metrics.macro.f1,
      flaggedShare: uncertain?.flaggedShare ?? null,
      accuracyKept: uncertain?.accuracyKept ?? null,
      otherCalledTrash: otherCalledTrash(tally.confusion, classNames),
    });
    console.error(`${shift.name}: accuracy ${percent(metrics.accuracy)}%`);
  }
  console.log(`${metadata.modelId}, ${decoded.length} photos (${options.subset}):\n`);
  console.log(resultsTable(results));
  if (options.json) {
    await Deno.writeTextFile(
      options.json,
      JSON.stringify({ model: options.model, subset: options.subset, results }, null, 2) + "\n",
    );
  }
  model.dispose();
  return 0;
}

if (import.meta.main) await runCli(main);
