import assert from "node:assert/strict";
import { labelsForModel } from "../../train/evaluate.ts";

const MODEL_CLASSES = ["cardboard", "glass", "metal", "paper", "plastic", "trash"];

Deno.test("labelsForModel maps every data class to the model's index", () => {
  assert.deepEqual(labelsForModel(MODEL_CLASSES, MODEL_CLASSES), [0, 1, 2, 3, 4, 5]);
});

Deno.test("labelsForModel accepts a subset of the classes", () => {
  assert.deepEqual(labelsForModel(MODEL_CLASSES, ["glass", "plastic"]), [1, 4]);
});

Deno.test("labelsForModel names the class folders the model lacks", () => {
  assert.throws(
    () => labelsForModel(MODEL_CLASSES, ["glass", "organic", "textile"]),
    /class folders the model does not know: organic, textile/,
  );
});

Deno.test("labelsForModel ignores the case of folder names", () => {
  assert.deepEqual(labelsForModel(MODEL_CLASSES, ["Cardboard", "GLASS"]), [0, 1]);
});
