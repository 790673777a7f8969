import assert from "node:assert/strict";
import { checkModelDir } from "../../../edge/model/model_dir.ts";
import { ModelFormatError } from "../../../shared/model/metadata.ts";

Deno.test("checkModelDir", async (t) => {
  const root = await Deno.makeTempDir({ prefix: "edge-model-dir-test-" });

  try {
    await t.step("accepts a folder", async () => {
      await checkModelDir(root);
    });

    await t.step("names a missing folder and the fix", async () => {
      await assert.rejects(checkModelDir(`${root}/missing`), (error) => {
        assert.ok(error instanceof ModelFormatError);
        assert.ok(error.message.includes(`Model folder ${root}/missing (MODEL_DIR) not found`));
        assert.match(error.message, /unset MODEL_DIR to serve weights\/default\.$/);
        return true;
      });
    });

    await t.step("offers to restore the default folder", async () => {
      const cwd = Deno.cwd();
      Deno.chdir(root);
      try {
        await assert.rejects(checkModelDir("weights/default"), /or restore weights\/default\.$/);
      } finally {
        Deno.chdir(cwd);
      }
    });

    await t.step("rejects a file", async () => {
      const file = `${root}/model.json`;
      await Deno.writeTextFile(file, "{}");
      await assert.rejects(
        checkModelDir(file),
        (error) =>
          error instanceof ModelFormatError && /is a file, not a model folder/.test(error.message),
      );
    });
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
