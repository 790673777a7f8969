/**
 * PyTorch checkpoint import: safe readers for `torch.save` zip files and
 * `.safetensors` files, and the mapping of a state_dict onto the project's
 * TensorFlow.js models.
 *
 * @example
 * ```ts
 * import { applyStateDict, loadStateDictFile } from "./mod.ts";
 * import { buildResNet } from "../model/resnet.ts";
 * const model = buildResNet({ depth: 18, numClasses: 6, imgSize: 224, cbam: { kind: "stages", stages: [1, 2, 3, 4] } });
 * const result = applyStateDict(model, await loadStateDictFile("resnet18.pth"), {
 *   allowClassifierMismatch: true,
 *   allowMissingCbam: true,
 * });
 * console.log(result.skipped, result.freshCbam);
 * ```
 * @module
 */
export {
  applyStateDict,
  type ApplyStateDictOptions,
  type ApplyStateDictResult,
  CLASSIFIER_LAYER_NAMES,
} from "./apply_state_dict.ts";
export { TorchCheckpointError } from "./errors.ts";
export {
  type CheckpointFormat,
  detectFormat,
  extractStateDict,
  loadStateDictFile,
  NESTED_STATE_DICT_KEYS,
  parseStateDict,
  stripModulePrefix,
} from "./load_state_dict.ts";
export { readSafetensors, type SafetensorsFile } from "./safetensors.ts";
export type { RawTensor, StateDict, StateDictTensor, TorchDType } from "./tensor.ts";
export { readTorchZip } from "./torch_zip.ts";
export {
  type CbamSizes,
  guessModelName,
  inferCbamSizes,
  inferClassCount,
  inferMobileNetV2Cbam,
  inferResNetBaseWidth,
  inferResNetCbam,
} from "./inspect.ts";
