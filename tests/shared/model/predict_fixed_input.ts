// Loads a model folder in a fresh process and prints its logits for the
// deterministic input that io_test.ts also uses.
import * as tf from "@tensorflow/tfjs";
import { useBackend } from "../../../shared/backend.ts";
import { loadModelDir } from "../../../shared/model/io.ts";

await useBackend("cpu");
const { model, metadata } = await loadModelDir(Deno.args[0]);
const size = metadata.input.imgSize;
const input = tf.tidy(() => tf.sin(tf.range(0, 2 * size * size * 3).reshape([2, size, size, 3])));
const logits = model.predict(input) as tf.Tensor;
console.log(JSON.stringify(Array.from(await logits.data())));
