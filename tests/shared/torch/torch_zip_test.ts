import assert from "node:assert/strict";
import { TorchCheckpointError } from "../../../shared/torch/errors.ts";
import { extractStateDict, parseStateDict } from "../../../shared/torch/load_state_dict.ts";
import { toFloat32 } from "../../../shared/torch/tensor.ts";
import { readTorchZip } from "../../../shared/torch/torch_zip.ts";
import { crc32, readZipEntries, readZipEntryData } from "../../../shared/torch/zip.ts";
import {
  buildZip,
  FIXTURES,
  float32Bytes,
  OP,
  PickleWriter,
  tensorPickle,
  torchZip,
  utf8,
} from "./builders.ts";

interface ExpectedTensor {
  shape: number[];
  values: number[];
}

const expected: Record<string, ExpectedTensor> = JSON.parse(
  await Deno.readTextFile(`${FIXTURES}reader_expected.json`),
);

function assertRejects(bytes: Uint8Array, pattern: RegExp): void {
  assert.throws(
    () => parseStateDict(bytes, "test.pth"),
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

Deno.test("torch zip reads views, float16 and shared storages", async (t) => {
  const bytes = await Deno.readFile(`${FIXTURES}reader_plain.pth`);
  const raw = extractStateDict(readTorchZip(bytes, "reader_plain.pth"));
  for (const [name, reference] of Object.entries(expected)) {
    await t.step(name, () => {
      const tensor = raw.get(name);
      assert.ok(tensor, `tensor ${name} is missing`);
      assert.deepEqual(tensor.shape, reference.shape);
      assert.deepEqual(Array.from(toFloat32(tensor, name)), reference.values.map(Math.fround));
    });
  }
  await t.step("dtypes", () => {
    assert.equal(raw.get("half")!.dtype, "float16");
    assert.equal(raw.get("bn.num_batches_tracked")!.dtype, "int64");
  });
  await t.step("state_dict drops num_batches_tracked and widens float16", () => {
    const stateDict = parseStateDict(bytes);
    assert.deepEqual([...stateDict.keys()].sort(), Object.keys(expected).sort());
    const half = stateDict.get("half")!;
    assert.equal(half.dtype, "float16");
    assert.ok(half.data instanceof Float32Array);
  });
});

Deno.test("torch zip finds a nested state_dict and strips module.", async () => {
  const stateDict = parseStateDict(await Deno.readFile(`${FIXTURES}reader_nested.pth`));
  assert.deepEqual([...stateDict.keys()].sort(), Object.keys(expected).sort());
  assert.deepEqual(
    Array.from(stateDict.get("transposed")!.data),
    expected.transposed.values.map(Math.fround),
  );
});

Deno.test("torch zip rejects a pickled nn.Module", async () => {
  const bytes = await Deno.readFile(`${FIXTURES}reader_whole_module.pth`);
  assertRejects(bytes, /requests the Python global "torch\.nn\.modules\.linear\.Linear"/);
  assertRejects(bytes, /torch\.save\(model\.state_dict\(\), path\)/);
});

Deno.test("torch zip rejects the legacy format with a fix", async () => {
  const bytes = await Deno.readFile(`${FIXTURES}reader_legacy.pth`);
  assertRejects(bytes, /legacy serialization format/);
  assertRejects(bytes, /Re-save it with PyTorch 1\.6 or newer/);
});

Deno.test("torch zip rejects truncated and corrupt files", async (t) => {
  const bytes = await Deno.readFile(`${FIXTURES}reader_plain.pth`);

  await t.step("cut in half", () => {
    assertRejects(
      bytes.subarray(0, bytes.byteLength >> 1),
      /end-of-central-directory record is missing/,
    );
  });
  await t.step("one byte of data flipped", () => {
    const name = "reader_plain/data/0";
    const entry = readZipEntries(bytes, "reader_plain.pth").get(name)!;
    const data = readZipEntryData(bytes, entry, "reader_plain.pth");
    const damaged = bytes.slice();
    damaged[data.byteOffset - bytes.byteOffset] ^= 0xff;
    assertRejects(
      damaged,
      /zip entry "reader_plain\/data\/0" has CRC-32 0x[0-9a-f]{8}, but the archive records/,
    );
  });
  await t.step("not a checkpoint at all", () => {
    assertRejects(
      new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0]),
      /neither a torch\.save zip file nor a safetensors file \(first bytes: 89 50 4e 47/,
    );
  });
  await t.step("empty file", () => {
    assertRejects(new Uint8Array(), /first bytes: none, the file is empty/);
  });
});

Deno.test("torch zip checks archive structure and tensor views", async (t) => {
  const pickle = tensorPickle({ numel: 6, size: [3, 2], stride: [1, 3] });
  const storage = float32Bytes([1, 2, 3, 4, 5, 6]);

  await t.step("hand-built archive reads, transposed", () => {
    const tensor = parseStateDict(torchZip(pickle, { "0": storage })).get("w")!;
    assert.deepEqual(tensor.shape, [3, 2]);
    assert.deepEqual(Array.from(tensor.data), [1, 4, 2, 5, 3, 6]);
  });
  await t.step("tensor wrapped as a parameter", () => {
    const wrapped = tensorPickle({ numel: 6, size: [3, 2], stride: [1, 3], parameter: true });
    const tensor = parseStateDict(torchZip(wrapped, { "0": storage })).get("w")!;
    assert.deepEqual(Array.from(tensor.data), [1, 4, 2, 5, 3, 6]);
  });
  await t.step("big-endian byteorder", () => {
    const swapped = storage.slice();
    for (let i = 0; i < swapped.byteLength; i += 4) swapped.subarray(i, i + 4).reverse();
    const bytes = torchZip(pickle, { "0": swapped }, [{
      name: "archive/byteorder",
      data: utf8("big"),
    }]);
    assert.deepEqual(Array.from(parseStateDict(bytes).get("w")!.data), [1, 4, 2, 5, 3, 6]);
  });
  await t.step("invalid byteorder", () => {
    const bytes = torchZip(pickle, { "0": storage }, [{
      name: "archive/byteorder",
      data: utf8("middle"),
    }]);
    assertRejects(bytes, /invalid byteorder entry "middle"/);
  });
  await t.step("compressed entry", () => {
    const bytes = buildZip([
      { name: "archive/data.pkl", data: pickle, method: 8 },
      { name: "archive/data/0", data: storage },
    ]);
    assertRejects(bytes, /"archive\/data\.pkl" is compressed \(method 8\)/);
  });
  await t.step("zip without data.pkl", () => {
    const bytes = buildZip([{ name: "notes.txt", data: utf8("hello") }]);
    assertRejects(
      bytes,
      /not a torch\.save file: expected one "<archive>\/data\.pkl" entry, found 0 \(entries: notes\.txt\)/,
    );
  });
  await t.step("missing storage entry", () => {
    assertRejects(
      torchZip(pickle, {}),
      /storage entry "data\/0" that the pickle refers to is missing/,
    );
  });
  await t.step("storage shorter than its element count", () => {
    assertRejects(
      torchZip(pickle, { "0": storage.subarray(0, 20) }),
      /storage "data\/0" has 20 bytes, but 6 elements of float32 need 24/,
    );
  });
  await t.step("view past the end of its storage", () => {
    const outside = tensorPickle({ numel: 6, offset: 2, size: [3, 2], stride: [2, 1] });
    assertRejects(
      torchZip(outside, { "0": storage }),
      /reads element 7 of storage "data\/0", which has 6 elements/,
    );
  });
  await t.step("unsupported storage type", () => {
    const doubles = tensorPickle({
      storageType: "DoubleStorage",
      numel: 1,
      size: [1],
      stride: [1],
    });
    assertRejects(
      torchZip(doubles, { "0": new Uint8Array(8) }),
      /storage type torch\.DoubleStorage, which is not supported.*model\.float\(\)/,
    );
  });
  await t.step("malformed persistent id", () => {
    const bytes = new PickleWriter().proto(2).bytes(OP.MARK).unicode("storage").bytes(
      OP.TUPLE,
      OP.BINPERSID,
    ).stop();
    assertRejects(torchZip(bytes, {}), /invalid persistent id \("storage"\)/);
  });
  await t.step("no tensors in the file", () => {
    const bytes = new PickleWriter().proto(2).bytes(OP.EMPTY_DICT).unicode("epoch").int(3).bytes(
      OP.SETITEM,
    ).stop();
    assertRejects(torchZip(bytes, {}), /contains no state_dict.*top-level keys are "epoch"/);
  });
});

Deno.test("crc32 matches the standard check value", () => {
  assert.equal(crc32(utf8("123456789")), 0xcbf43926);
});
