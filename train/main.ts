/**
 * `deno task train`: trains a ResNet+CBAM classifier on an ImageFolder.
 *
 * @example
 * ```sh
 * deno task train --data ../shared/data/trashnet --split ../shared/data/trashnet-splits \
 *   --model resnet18 --cbam stages --img-size 64 --epochs 1 --backend cpu --out runs/r18
 * ```
 * @module
 */
import { parseTrainArgs, resumeConfig } from "./config.ts";
import { getLogger } from "../shared/log.ts";
import { runTraining } from "./run.ts";
import { EXIT_INTERRUPTED, interruptSignal, runCli } from "./cli.ts";

if (import.meta.main) {
  await runCli(async () => {
    const parsed = parseTrainArgs(Deno.args);
    let config = parsed.config;
    let command = ["deno task train", ...Deno.args].join(" ");
    if (config.resume) {
      const resumed = await resumeConfig(config, parsed.explicit);
      config = resumed.config;
      command = resumed.command || command;
      if (resumed.ignored.length > 0) {
        getLogger(["waste-vision", "train"]).warn(
          "--resume keeps the saved settings; ignoring: {flags}",
          { flags: resumed.ignored.join(", ") },
        );
      }
    }
    let stepsDone = false;
    const outcome = await runTraining(config, {
      command,
      signal: interruptSignal(() => stepsDone),
      onStep: () => {
        stepsDone = true;
      },
    });
    return outcome.status === "interrupted" ? EXIT_INTERRUPTED : 0;
  });
}
