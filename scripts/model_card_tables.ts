/**
 * Prints the Markdown tables of a model card from a training log: per-class
 * precision, recall, F1 and support on one split, and its confusion matrix.
 *
 * @example
 * ```sh
 * deno run --allow-read scripts/model_card_tables.ts weights/default/train_log.json test
 * ```
 * @module
 */
import type { EvalMetrics } from "../train/metrics.ts";

function percent(value: number): string {
  return (value * 100).toFixed(1);
}

/** Formats per-class metrics as a Markdown table, macro means last. */
export function metricsTable(metrics: EvalMetrics): string {
  const rows = Object.entries(metrics.perClass).map(([name, m]) =>
    `| ${name} | ${percent(m.precision)} | ${percent(m.recall)} | ${percent(m.f1)} | ${m.support} |`
  );
  const support = Object.values(metrics.perClass).reduce((sum, m) => sum + m.support, 0);
  const macro = metrics.macro;
  return [
    "| class | precision % | recall % | F1 % | images |",
    "| --- | ---: | ---: | ---: | ---: |",
    ...rows,
    `| macro mean | ${percent(macro.precision)} | ${percent(macro.recall)} | ${
      percent(macro.f1)
    } | ${support} |`,
  ].join("\n");
}

/** Formats a confusion matrix as a Markdown table: rows true, columns predicted. */
export function confusionTable(metrics: EvalMetrics): string {
  const names = Object.keys(metrics.perClass);
  return [
    `| true \\ predicted | ${names.join(" | ")} |`,
    `| --- | ${names.map(() => "---:").join(" | ")} |`,
    ...metrics.confusionMatrix.map((row, i) => `| ${names[i]} | ${row.join(" | ")} |`),
  ].join("\n");
}

if (import.meta.main) {
  const [path, split = "test"] = Deno.args;
  if (!path) {
    console.error(
      "Usage: deno run --allow-read scripts/model_card_tables.ts <train_log.json> [val|test]",
    );
    Deno.exit(2);
  }
  const log = JSON.parse(await Deno.readTextFile(path));
  const metrics: EvalMetrics | undefined = split === "test" ? log.test : log.best?.val;
  if (!metrics) {
    console.error(`${path} has no ${split} metrics.`);
    Deno.exit(1);
  }
  console.log(`Accuracy ${percent(metrics.accuracy)}% on ${split}\n`);
  console.log(metricsTable(metrics));
  console.log();
  console.log(confusionTable(metrics));
}
