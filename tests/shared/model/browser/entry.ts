// Browser bundle for the model-loading test: TensorFlow.js plus the CBAM
// layers, and a function the page calls to load a model and run it.
import * as tf from "@tensorflow/tfjs";
import "../../../../shared/model/cbam.ts";

declare global {
  var predictFixedInput: (modelUrl: string, imgSize: number) => Promise<number[]>;
}

globalThis.predictFixedInput = async (modelUrl, imgSize) => {
  await tf.setBackend("cpu");
  const model = await tf.loadLayersModel(modelUrl);
  const input = tf.tidy(() =>
    tf.sin(tf.range(0, 2 * imgSize * imgSize * 3).reshape([2, imgSize, imgSize, 3]))
  );
  const logits = model.predict(input) as tf.Tensor;
  return Array.from(await logits.data());
};
