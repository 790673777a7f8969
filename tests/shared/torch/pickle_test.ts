import assert from "node:assert/strict";
import { TorchCheckpointError } from "../../../shared/torch/errors.ts";
import { type PickleCallable, unpickle } from "../../../shared/torch/pickle.ts";
import { OP, PickleWriter, utf8 } from "./builders.ts";

const NO_GLOBALS = { globals: new Map<string, unknown>(), source: "test.pkl" };

function assertRejects(bytes: Uint8Array, pattern: RegExp, options = NO_GLOBALS): void {
  assert.throws(
    () => unpickle(bytes, options),
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

Deno.test("unpickle decodes plain containers", async (t) => {
  await t.step("dict of scalars, protocol 2", () => {
    const bytes = new PickleWriter().proto(2).bytes(OP.EMPTY_DICT, OP.BINPUT, 0, OP.MARK)
      .unicode("small").int(7)
      .unicode("medium").int(40_000)
      .unicode("negative").int(-5)
      .unicode("float").float(0.875)
      .unicode("yes").bytes(OP.NEWTRUE)
      .unicode("no").bytes(OP.NEWFALSE)
      .unicode("nothing").bytes(OP.NONE)
      .unicode("bytes").bytes(OP.SHORT_BINBYTES, 2, 0xde, 0xad)
      .unicode("latin1").bytes(OP.SHORT_BINSTRING, 2, 0x63, 0xe9)
      .unicode("é").int(1)
      .bytes(OP.SETITEMS)
      .stop();
    const value = unpickle(bytes, NO_GLOBALS);
    assert.deepEqual(
      value,
      new Map<string, unknown>([
        ["small", 7],
        ["medium", 40_000],
        ["negative", -5],
        ["float", 0.875],
        ["yes", true],
        ["no", false],
        ["nothing", null],
        ["bytes", new Uint8Array([0xde, 0xad])],
        ["latin1", "c\u00e9"],
        ["é", 1],
      ]),
    );
  });

  await t.step("LONG1 as number and as bigint", () => {
    // -2 in one byte, then 2^70 in nine bytes.
    const bytes = new PickleWriter().proto(2).bytes(OP.MARK)
      .bytes(OP.LONG1, 1, 0xfe)
      .bytes(OP.LONG1, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0x40)
      .bytes(OP.LONG1, 0)
      .bytes(OP.TUPLE)
      .stop();
    assert.deepEqual(unpickle(bytes, NO_GLOBALS), [-2, 2n ** 70n, 0]);
  });

  await t.step("lists, tuples and the memo", () => {
    const bytes = new PickleWriter().proto(2).bytes(OP.MARK)
      .bytes(OP.EMPTY_LIST, OP.BINPUT, 1)
      .int(1).bytes(OP.APPEND)
      .bytes(OP.MARK).int(2).int(3).bytes(OP.APPENDS)
      .bytes(OP.BINGET, 1)
      .int(4).bytes(OP.TUPLE1)
      .int(5).int(6).bytes(OP.TUPLE2)
      .int(7).int(8).int(9).bytes(OP.TUPLE3)
      .bytes(OP.EMPTY_TUPLE)
      .bytes(OP.TUPLE)
      .stop();
    const [list, sameList, ...tuples] = unpickle(bytes, NO_GLOBALS) as unknown[];
    assert.deepEqual(list, [1, 2, 3]);
    assert.equal(sameList, list, "BINGET must return the memoized object itself");
    assert.deepEqual(tuples, [[4], [5, 6], [7, 8, 9], []]);
    assert.ok(tuples.every((tuple) => Object.isFrozen(tuple)), "tuples are frozen arrays");
    assert.ok(!Object.isFrozen(list), "lists stay mutable");
  });

  await t.step("protocol 4 framing, MEMOIZE and STACK_GLOBAL", () => {
    const marker: PickleCallable = { pythonName: "collections.OrderedDict", call: () => new Map() };
    const bytes = new PickleWriter().proto(4)
      .bytes(OP.FRAME, 20, 0, 0, 0, 0, 0, 0, 0)
      .bytes(OP.SHORT_BINUNICODE, 11, ...utf8("collections"), OP.MEMOIZE)
      .bytes(OP.SHORT_BINUNICODE, 11, ...utf8("OrderedDict"), OP.MEMOIZE)
      .bytes(OP.STACK_GLOBAL, OP.EMPTY_TUPLE, OP.REDUCE)
      .stop();
    const value = unpickle(bytes, { globals: new Map([["collections.OrderedDict", marker]]) });
    assert.deepEqual(value, new Map());
  });

  await t.step("REDUCE passes the argument tuple to an allowed callable", () => {
    const calls: unknown[][] = [];
    const callable: PickleCallable = {
      pythonName: "test.record",
      call: (args) => {
        calls.push([...args]);
        return "built";
      },
    };
    const bytes = new PickleWriter().proto(2).global("test", "record")
      .unicode("a").int(2).bytes(OP.TUPLE2, OP.REDUCE)
      .stop();
    assert.equal(unpickle(bytes, { globals: new Map([["test.record", callable]]) }), "built");
    assert.deepEqual(calls, [["a", 2]]);
  });
});

Deno.test("unpickle rejects globals outside the allow-list", async (t) => {
  const cases: [string, Uint8Array][] = [
    [
      "posix.system",
      new PickleWriter().proto(2).global("posix", "system")
        .unicode("touch /tmp/pwned").bytes(OP.TUPLE1, OP.REDUCE).stop(),
    ],
    [
      "__builtin__.eval",
      new PickleWriter().proto(2).global("__builtin__", "eval")
        .unicode("1+1").bytes(OP.TUPLE1, OP.REDUCE).stop(),
    ],
    [
      "builtins.exec",
      new PickleWriter().proto(4)
        .bytes(OP.SHORT_BINUNICODE, 8, ...utf8("builtins"))
        .bytes(OP.SHORT_BINUNICODE, 4, ...utf8("exec"))
        .bytes(OP.STACK_GLOBAL).unicode("pass").bytes(OP.TUPLE1, OP.REDUCE).stop(),
    ],
    [
      "torchvision.models.resnet.ResNet",
      new PickleWriter().proto(2).global("torchvision.models.resnet", "ResNet")
        .bytes(OP.EMPTY_TUPLE, OP.REDUCE).stop(),
    ],
  ];
  for (const [name, bytes] of cases) {
    await t.step(name, () => {
      const escaped = name.replaceAll(".", "\\.");
      assertRejects(
        bytes,
        new RegExp(`requests the Python global "${escaped}", which is not allowed`),
      );
      assertRejects(bytes, /torch\.save\(model\.state_dict\(\), path\)/);
    });
  }
});

Deno.test("unpickle rejects opcodes that build objects", async (t) => {
  const cases: [string, Uint8Array][] = [
    [
      "INST",
      new PickleWriter().proto(2).bytes(OP.MARK, OP.INST).bytes(...utf8("os\nsystem\n")).stop(),
    ],
    ["OBJ", new PickleWriter().proto(2).bytes(OP.MARK, OP.OBJ).stop()],
    ["NEWOBJ", new PickleWriter().proto(2).bytes(OP.NONE, OP.EMPTY_TUPLE, OP.NEWOBJ).stop()],
    ["EXT1", new PickleWriter().proto(2).bytes(OP.EXT1, 1).stop()],
  ];
  for (const [name, bytes] of cases) {
    await t.step(name, () => {
      assertRejects(
        bytes,
        new RegExp(`opcode ${name} \\(0x[0-9a-f]{2}\\) at byte \\d+, which is not supported`),
      );
    });
  }
});

Deno.test("unpickle rejects corrupt data", async (t) => {
  await t.step("no STOP", () => {
    assertRejects(new PickleWriter().proto(2).int(1).build(), /truncated: it ends before the STOP/);
  });
  await t.step("string past the end", () => {
    const bytes = new PickleWriter().proto(2).bytes(OP.BINUNICODE, 100, 0, 0, 0, 0x61).stop();
    assertRejects(bytes, /truncated: a 100-byte value/);
  });
  await t.step("invalid UTF-8", () => {
    const bytes = new PickleWriter().proto(2).bytes(OP.BINUNICODE, 1, 0, 0, 0, 0xff).stop();
    assertRejects(bytes, /not valid UTF-8/);
  });
  await t.step("memo read before write", () => {
    assertRejects(new PickleWriter().proto(2).bytes(OP.BINGET, 3).stop(), /memo entry 3/);
  });
  await t.step("empty stack", () => {
    assertRejects(new PickleWriter().proto(2).bytes(OP.POP).stop(), /stack is empty/);
  });
  await t.step("missing MARK", () => {
    assertRejects(new PickleWriter().proto(2).int(1).bytes(OP.TUPLE).stop(), /needs a MARK/);
  });
  await t.step("APPEND to a dict", () => {
    const bytes = new PickleWriter().proto(2).bytes(OP.EMPTY_DICT).int(1).bytes(OP.APPEND).stop();
    assertRejects(bytes, /APPEND targets a dict, not a list/);
  });
  await t.step("SETITEM on a list", () => {
    const bytes = new PickleWriter().proto(2).bytes(OP.EMPTY_LIST).int(1).int(2).bytes(OP.SETITEM)
      .stop();
    assertRejects(bytes, /SETITEM targets a list, not a dict/);
  });
  await t.step("BUILD on a list", () => {
    const bytes = new PickleWriter().proto(2).bytes(OP.EMPTY_LIST, OP.EMPTY_DICT, OP.BUILD).stop();
    assertRejects(bytes, /BUILD at byte \d+ sets the state of a list/);
  });
  await t.step("REDUCE of a string", () => {
    const bytes = new PickleWriter().proto(2).unicode("f").bytes(OP.EMPTY_TUPLE, OP.REDUCE).stop();
    assertRejects(bytes, /REDUCE at byte \d+ calls string f, which cannot be called/);
  });
  await t.step("byte that is no opcode", () => {
    assertRejects(
      new PickleWriter().proto(2).bytes(0xff).stop(),
      /holds 0xff, which is not a pickle opcode/,
    );
  });
  await t.step("protocol above 5", () => {
    assertRejects(new PickleWriter().proto(6).stop(), /protocol 6; at most 5/);
  });
  await t.step("persistent id without a loader", () => {
    const bytes = new PickleWriter().proto(2).unicode("id").bytes(OP.BINPERSID).stop();
    assertRejects(bytes, /persistent id/);
  });
});
