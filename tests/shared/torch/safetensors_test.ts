import assert from "node:assert/strict";
import { TorchCheckpointError } from "../../../shared/torch/errors.ts";
import {
  looksLikeSafetensors,
  MAX_HEADER_BYTES,
  readSafetensors,
} from "../../../shared/torch/safetensors.ts";
import { toFloat32 } from "../../../shared/torch/tensor.ts";
import { concat, encodeSafetensors, FIXTURES, float32Bytes, utf8 } from "./builders.ts";

interface ExpectedTensor {
  shape: number[];
  values: number[];
}

const expected: Record<string, ExpectedTensor> = JSON.parse(
  await Deno.readTextFile(`${FIXTURES}reader_expected.json`),
);

function assertRejects(bytes: Uint8Array, pattern: RegExp): void {
  assert.throws(
    () => readSafetensors(bytes, "test.safetensors"),
    (error: unknown) => {
      assert.ok(
        error instanceof TorchCheckpointError,
        `expected TorchCheckpointError, got ${error}`,
      );
      assert.match(error.message, pattern);
      return true;
    },
  );
}

Deno.test("safetensors reads PyTorch's tensors", async (t) => {
  const bytes = await Deno.readFile(`${FIXTURES}reader_plain.safetensors`);
  const { tensors, metadata } = readSafetensors(bytes);

  await t.step("metadata", () => {
    assert.deepEqual(metadata, { source: "torch_parity.py" });
  });
  for (const [name, reference] of Object.entries(expected)) {
    await t.step(name, () => {
      const tensor = tensors.get(name);
      assert.ok(tensor, `tensor ${name} is missing`);
      assert.deepEqual(tensor.shape, reference.shape);
      assert.deepEqual(Array.from(toFloat32(tensor, name)), reference.values.map(Math.fround));
    });
  }
  await t.step("int64 buffer", () => {
    const counter = tensors.get("bn.num_batches_tracked")!;
    assert.equal(counter.dtype, "int64");
    assert.deepEqual(Array.from(toFloat32(counter, "counter")), [12]);
  });
  await t.step("float16 stays float16 until converted", () => {
    assert.equal(tensors.get("half")!.dtype, "float16");
  });
});

Deno.test("safetensors rejects damaged files", async (t) => {
  const good = encodeSafetensors(
    { a: { dtype: "F32", shape: [2], data_offsets: [0, 8] } },
    float32Bytes([1, 2]),
  );

  await t.step("the good file reads", () => {
    assert.deepEqual(Array.from(toFloat32(readSafetensors(good).tensors.get("a")!, "a")), [1, 2]);
  });
  await t.step("fewer than 8 bytes", () => {
    assertRejects(good.subarray(0, 5), /truncated.*5 bytes/);
  });
  await t.step("header cut off", () => {
    assertRejects(good.subarray(0, 20), /truncated.*header needs/);
  });
  await t.step("data cut off", () => {
    assertRejects(good.subarray(0, good.byteLength - 1), /truncated.*"a" ends at data byte 8/);
  });
  await t.step("header length above the maximum", () => {
    const bytes = good.slice();
    new DataView(bytes.buffer).setBigUint64(0, BigInt(MAX_HEADER_BYTES + 1), true);
    assertRejects(bytes, /invalid safetensors header length/);
  });
  await t.step("header that is not JSON", () => {
    const header = utf8("{not json}");
    const length = new Uint8Array(8);
    new DataView(length.buffer).setBigUint64(0, BigInt(header.byteLength), true);
    assertRejects(concat(length, header), /corrupt safetensors header.*not valid UTF-8 JSON/);
  });
  await t.step("header that is an array", () => {
    assertRejects(encodeSafetensors([1, 2], new Uint8Array()), /expected a JSON object.*an array/);
  });
  await t.step("unsupported dtype", () => {
    const bytes = encodeSafetensors(
      { a: { dtype: "BF16", shape: [2], data_offsets: [0, 4] } },
      new Uint8Array(4),
    );
    assertRejects(bytes, /"a" has dtype "BF16".*F32, F16, I64/);
  });
  await t.step("negative dimension", () => {
    const bytes = encodeSafetensors(
      { a: { dtype: "F32", shape: [-2], data_offsets: [0, 8] } },
      new Uint8Array(8),
    );
    assertRejects(bytes, /"a" has an invalid shape \[-2\]/);
  });
  await t.step("byte range that does not fit the shape", () => {
    const bytes = encodeSafetensors(
      { a: { dtype: "F32", shape: [3], data_offsets: [0, 8] } },
      new Uint8Array(8),
    );
    assertRejects(bytes, /"a" spans 8 bytes, but shape \[3\] of float32 needs 12/);
  });
  await t.step("reversed byte range", () => {
    const bytes = encodeSafetensors(
      { a: { dtype: "F32", shape: [0], data_offsets: [8, 0] } },
      new Uint8Array(8),
    );
    assertRejects(bytes, /"a" has invalid data_offsets \[8,0\]/);
  });
  await t.step("overlapping tensors", () => {
    const bytes = encodeSafetensors(
      {
        a: { dtype: "F32", shape: [2], data_offsets: [0, 8] },
        b: { dtype: "F32", shape: [2], data_offsets: [4, 12] },
      },
      new Uint8Array(12),
    );
    assertRejects(bytes, /"a" and "b" overlap/);
  });
  await t.step("metadata that is not strings", () => {
    const bytes = encodeSafetensors({ __metadata__: { epoch: 3 } }, new Uint8Array());
    assertRejects(bytes, /invalid "__metadata__".*\{"epoch":3\}/);
  });
});

Deno.test("looksLikeSafetensors tells safetensors from zip", () => {
  const safetensors = encodeSafetensors({}, new Uint8Array());
  assert.equal(looksLikeSafetensors(safetensors), true);
  assert.equal(looksLikeSafetensors(utf8("PK\x03\x04 and more bytes")), false);
  assert.equal(looksLikeSafetensors(new Uint8Array(4)), false);
});
