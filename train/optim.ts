/**
 * SGD, Adam and AdamW with PyTorch's update rules and weight-decay
 * semantics, and the cosine learning-rate schedule.
 *
 * tfjs 4.22 has no AdamW and no weight-decay option, so all three are written
 * here with tfjs ops. Their state (momentum buffers, Adam moments, the step
 * count) is plain named tensors, so checkpoints can save and restore it.
 *
 * - SGD: `g += wd * p`; `buf = momentum * buf + g`; `p -= lr * buf`
 *   (torch.optim.SGD without dampening or Nesterov).
 * - Adam: `g += wd * p` (L2 added to the gradient); bias-corrected moments;
 *   `p -= lr * m_hat / (sqrt(v_hat) + eps)` (torch.optim.Adam).
 * - AdamW: `p *= 1 - lr * wd` (decoupled decay), then the Adam update
 *   without the L2 term (torch.optim.AdamW).
 *
 * Decay applies to every trainable tensor, BatchNorm and biases included,
 * as with PyTorch's default parameter groups.
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** Optimizer names accepted by `--optim`. */
export const OPTIMIZER_NAMES = ["sgd", "adam", "adamw"] as const;
/** An optimizer name. */
export type OptimizerName = typeof OPTIMIZER_NAMES[number];

/** Hyperparameters of {@linkcode TorchOptimizer}. */
export interface OptimizerArgs {
  /** Update rule. */
  name: OptimizerName;
  /** SGD momentum. Default: 0.9. Unused by Adam and AdamW. */
  momentum?: number;
  /** Weight decay: L2 for SGD and Adam, decoupled for AdamW. Default: 0. */
  weightDecay?: number;
  /** Adam betas. Default: [0.9, 0.999]. */
  betas?: [number, number];
  /** Adam epsilon. Default: 1e-8, PyTorch's. */
  epsilon?: number;
}

/** A trainable tensor with a stable name, for example `layer1.0.conv1/kernel`. */
export interface NamedVariable {
  name: string;
  variable: tf.Variable;
}

/** Serializable optimizer state: the step count and named slot tensors. */
export interface OptimizerState {
  step: number;
  slots: Record<string, tf.Tensor>;
}

/** SGD, Adam or AdamW over a fixed list of variables. */
export class TorchOptimizer {
  readonly args: Required<OptimizerArgs>;
  #params: NamedVariable[];
  #slots = new Map<string, tf.Variable>();
  #step = 0;

  constructor(params: NamedVariable[], args: OptimizerArgs) {
    if (!OPTIMIZER_NAMES.includes(args.name)) {
      throw new Error(
        `Unknown optimizer "${args.name}". Use one of: ${OPTIMIZER_NAMES.join(", ")}.`,
      );
    }
    this.args = {
      momentum: 0.9,
      weightDecay: 0,
      betas: [0.9, 0.999],
      epsilon: 1e-8,
      ...args,
    };
    this.#params = params;
  }

  /** Number of updates applied so far. */
  get step(): number {
    return this.#step;
  }

  #slot(key: string, like: tf.Tensor): tf.Variable {
    let slot = this.#slots.get(key);
    if (!slot) {
      slot = tf.variable(tf.zerosLike(like), false, undefined, "float32");
      this.#slots.set(key, slot);
    }
    return slot;
  }

  /**
   * Applies one update. `grads` maps variable names (as given to the
   * constructor) to gradients; a variable without a gradient is left as is.
   */
  apply(grads: Record<string, tf.Tensor>, learningRate: number): void {
    this.#step += 1;
    const { name, momentum, weightDecay, betas, epsilon } = this.args;
    const [beta1, beta2] = betas;
    const correction1 = 1 - beta1 ** this.#step;
    const correction2 = 1 - beta2 ** this.#step;
    for (const { name: key, variable } of this.#params) {
      const raw = grads[key];
      if (!raw) continue;
      tf.tidy(() => {
        let grad = raw;
        if (weightDecay > 0 && name !== "adamw") grad = tf.add(grad, tf.mul(variable, weightDecay));
        if (name === "sgd") {
          let update = grad;
          if (momentum > 0) {
            const buffer = this.#slot(`${key}/momentum`, variable);
            buffer.assign(tf.add(tf.mul(buffer, momentum), grad));
            update = buffer;
          }
          variable.assign(tf.sub(variable, tf.mul(update, learningRate)));
          return;
        }
        const m = this.#slot(`${key}/m`, variable);
        const v = this.#slot(`${key}/v`, variable);
        m.assign(tf.add(tf.mul(m, beta1), tf.mul(grad, 1 - beta1)));
        v.assign(tf.add(tf.mul(v, beta2), tf.mul(tf.square(grad), 1 - beta2)));
        const denominator = tf.add(tf.sqrt(tf.div(v, correction2)), epsilon);
        const stepSize = learningRate / correction1;
        let base: tf.Tensor = variable;
        if (name === "adamw" && weightDecay > 0) {
          base = tf.mul(variable, 1 - learningRate * weightDecay);
        }
        variable.assign(tf.sub(base, tf.mul(tf.div(m, denominator), stepSize)));
      });
    }
  }

  /** Returns the state for a checkpoint. The tensors are copies. */
  getState(): OptimizerState {
    const slots: Record<string, tf.Tensor> = {};
    for (const [key, slot] of this.#slots) slots[key] = slot.clone();
    return { step: this.#step, slots };
  }

  /** Restores a state returned by {@linkcode TorchOptimizer.getState}. */
  setState(state: OptimizerState): void {
    this.dispose();
    this.#step = state.step;
    for (const [key, value] of Object.entries(state.slots)) {
      this.#slots.set(key, tf.variable(value, false, undefined, "float32"));
    }
  }

  /** Frees the slot tensors. */
  dispose(): void {
    for (const slot of this.#slots.values()) slot.dispose();
    this.#slots.clear();
  }
}

/**
 * Cosine decay from `lr` at epoch 0 to `lr * lrf` at the last epoch
 * (`epochs - 1`); a single-epoch run uses `lr`.
 */
export function cosineLearningRate(
  epoch: number,
  options: { lr: number; lrf: number; epochs: number },
): number {
  const { lr, lrf, epochs } = options;
  if (epochs <= 1) return lr;
  const progress = Math.min(1, epoch / (epochs - 1));
  const factor = lrf + (1 - lrf) * 0.5 * (1 + Math.cos(Math.PI * progress));
  return lr * factor;
}
