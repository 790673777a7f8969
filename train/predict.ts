/**
 * `deno task predict`: classifies image files or folders with an exported
 * model and writes the top-k classes per image as CSV (stdout or `--csv`)
 * and JSON (`--json`).
 *
 * @example
 * ```sh
 * deno task predict --model runs/r18/model photos/ --top-k 3 --json predictions.json
 * ```
 * @module
 */
import { Command, InvalidArgumentError, Option } from "commander";
import { BACKEND_NAMES, type BackendName, useBackend } from "../shared/backend.ts";
import { loadInferenceModelDir } from "../shared/model/io.ts";
import { predictProbabilities, type ScoredLabel, topK } from "../shared/model/classify.ts";
import { DecoderPool } from "../shared/image/decoder_pool.ts";
import { evalResizeSize, preprocessForEval } from "../shared/preprocess.ts";
import { getLogger } from "../shared/log.ts";
import { IMAGE_EXTENSIONS } from "./data/image_folder.ts";
import { runCli } from "./cli.ts";

const logger = getLogger(["waste-vision", "predict"]);

/** The result for one file. */
export interface PredictionRow {
  file: string;
  topK: ScoredLabel[];
  /** Every class score, in class order, when `--all-scores` is given. */
  scores?: Record<string, number>;
  error?: string;
}

function positiveInteger(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1) {
    throw new InvalidArgumentError(`expected a positive integer, got "${value}".`);
  }
  return parsed;
}

function predictCommand(): Command {
  return new Command("predict")
    .description(
      "Classify image files, or every image in the given folders, with an exported model.",
    )
    .argument("<paths...>", "image files or folders")
    .requiredOption("--model <dir>", "model folder with model.json and metadata.json")
    .option("--top-k <k>", "classes listed per image", positiveInteger, 3)
    .option("--all-scores", "also output every class score at full float precision", false)
    .option("--csv <file>", "write CSV here instead of standard output")
    .option("--json <file>", "also write JSON here")
    .option("--batch-size <n>", "images per forward pass", positiveInteger, 16)
    .addOption(
      new Option("--backend <name>", "TensorFlow.js backend").choices(BACKEND_NAMES).default(
        "wasm",
      ),
    )
    .showHelpAfterError("(run with --help for every flag)")
    .exitOverride();
}

async function listImages(paths: string[]): Promise<string[]> {
  const files: string[] = [];
  for (const path of paths) {
    const stat = await Deno.stat(path).catch(() => null);
    if (!stat) throw new Deno.errors.NotFound(`Input not found: ${path}`);
    if (stat.isFile) {
      files.push(path);
      continue;
    }
    const inFolder: string[] = [];
    for await (const entry of Deno.readDir(path)) {
      const extension = entry.name.slice(entry.name.lastIndexOf(".")).toLowerCase();
      if (entry.isFile && IMAGE_EXTENSIONS.includes(extension)) {
        inFolder.push(`${path}/${entry.name}`);
      }
    }
    if (inFolder.length === 0) {
      throw new Error(`Folder ${path} contains no image files (${IMAGE_EXTENSIONS.join(", ")}).`);
    }
    files.push(...inFolder.sort());
  }
  return files;
}

function csvField(value: string): string {
  return /[",\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

/** Formats rows as CSV: file, then label and score per rank, then every score if present. */
export function toCsv(
  rows: PredictionRow[],
  k: number,
  classNames: string[],
  allScores: boolean,
): string {
  const header = [
    "file",
    ...Array.from({ length: k }, (_, i) => [`label_${i + 1}`, `score_${i + 1}`]).flat(),
  ];
  if (allScores) header.push(...classNames.map((name) => `score_${name}`));
  header.push("error");
  const lines = rows.map((row) => {
    const fields = [row.file];
    for (let i = 0; i < k; i++) {
      fields.push(row.topK[i]?.label ?? "", row.topK[i] ? String(row.topK[i].score) : "");
    }
    if (allScores) {
      fields.push(...classNames.map((name) => row.scores ? String(row.scores[name]) : ""));
    }
    fields.push(row.error ?? "");
    return fields.map(csvField).join(",");
  });
  return [header.join(","), ...lines].join("\n") + "\n";
}

async function main(): Promise<number> {
  const command = predictCommand();
  command.parse(Deno.args, { from: "user" });
  const options = command.opts();
  await useBackend(options.backend as BackendName);
  // The inference graph: BatchNorm folded into fused convolution ops.
  const { model, metadata } = await loadInferenceModelDir(options.model);
  const files = await listImages(command.args);
  const { classNames, input } = metadata;
  const k = Math.min(options.topK, classNames.length);
  const config = {
    imgSize: input.imgSize,
    mean: input.mean,
    std: input.std,
    resizeRatio: input.resizeRatio,
  };
  const pool = new DecoderPool();
  const rows: PredictionRow[] = [];
  try {
    for (let start = 0; start < files.length; start += options.batchSize) {
      const chunk = files.slice(start, start + options.batchSize);
      const decoded = await Promise.all(chunk.map(async (file) => {
        try {
          const bytes = await Deno.readFile(file);
          return { file, image: await pool.decode(bytes, { minSide: evalResizeSize(config) }) };
        } catch (error) {
          return { file, error: (error as Error).message };
        }
      }));
      const ok = decoded.filter((d) => "image" in d) as {
        file: string;
        image: Parameters<typeof preprocessForEval>[0];
      }[];
      const size = input.imgSize * input.imgSize * 3;
      const batch = new Float32Array(ok.length * size);
      ok.forEach((d, i) => batch.set(preprocessForEval(d.image, config), i * size));
      const probabilities = ok.length > 0
        ? await predictProbabilities(model, batch, { count: ok.length, imgSize: input.imgSize })
        : new Float32Array();
      let index = 0;
      for (const item of decoded) {
        if ("error" in item) {
          rows.push({ file: item.file, topK: [], error: item.error });
          logger.warn("{file}: {error}", { file: item.file, error: item.error! });
          continue;
        }
        const row = probabilities.subarray(
          index * classNames.length,
          (index + 1) * classNames.length,
        );
        index += 1;
        rows.push({
          file: item.file,
          topK: topK(row, classNames, k),
          scores: options.allScores
            ? Object.fromEntries(classNames.map((n, i) => [n, row[i]]))
            : undefined,
        });
      }
    }
  } finally {
    pool.close();
    model.dispose();
  }
  const csv = toCsv(rows, k, classNames, options.allScores);
  if (options.csv) await Deno.writeTextFile(options.csv, csv);
  else await Deno.stdout.write(new TextEncoder().encode(csv));
  if (options.json) {
    await Deno.writeTextFile(
      options.json,
      JSON.stringify({ model: metadata.modelId, predictions: rows }, null, 2) + "\n",
    );
  }
  return rows.some((r) => r.error) ? 1 : 0;
}

if (import.meta.main) await runCli(main);
