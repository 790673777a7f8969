import assert from "node:assert/strict";
import { type Batch, BatchPrefetcher } from "../../../train/data/loader.ts";

function makeBatch(indices: number[]): Batch {
  return { x: Float32Array.from(indices, (i) => i / 10), y: Int32Array.from(indices) };
}

/** Lets pending timers and microtasks run, as a training step that awaits would. */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 5));
}

async function collect<B>(prefetcher: BatchPrefetcher<B>): Promise<B[]> {
  const batches: B[] = [];
  for await (const batch of prefetcher) batches.push(batch);
  return batches;
}

Deno.test("BatchPrefetcher hands out batches in order", async (t) => {
  const order = [7, 2, 9, 0, 4, 1, 8];

  await t.step("last batch smaller", async () => {
    const prefetcher = new BatchPrefetcher(order, { batchSize: 3, makeBatch });
    assert.equal(prefetcher.batchCount, 3);
    const batches = await collect(prefetcher);
    assert.deepEqual(batches.map((b) => [...b.y]), [[7, 2, 9], [0, 4, 1], [8]]);
    assert.deepEqual([...batches[0].x].map((v) => Math.round(v * 10)), [7, 2, 9]);
  });

  await t.step("dropLast leaves it out", async () => {
    const prefetcher = new BatchPrefetcher(order, { batchSize: 3, makeBatch, dropLast: true });
    assert.equal(prefetcher.batchCount, 2);
    const batches = await collect(prefetcher);
    assert.deepEqual(batches.map((b) => [...b.y]), [[7, 2, 9], [0, 4, 1]]);
  });

  await t.step("next returns undefined at the end", async () => {
    const prefetcher = new BatchPrefetcher([1, 2], { batchSize: 2, makeBatch });
    assert.deepEqual([...(await prefetcher.next())!.y], [1, 2]);
    assert.equal(await prefetcher.next(), undefined);
    assert.equal(await prefetcher.next(), undefined);
  });

  await t.step("no indices, no batches", async () => {
    const prefetcher = new BatchPrefetcher([], { batchSize: 4, makeBatch });
    assert.equal(prefetcher.batchCount, 0);
    assert.deepEqual(await collect(prefetcher), []);
  });

  await t.step("later changes to the index list are ignored", async () => {
    const indices = [1, 2, 3];
    const prefetcher = new BatchPrefetcher(indices, { batchSize: 2, makeBatch });
    indices.reverse();
    const batches = await collect(prefetcher);
    assert.deepEqual(batches.map((b) => [...b.y]), [[1, 2], [3]]);
  });
});

Deno.test("BatchPrefetcher prepares one batch ahead", async (t) => {
  const requested: number[][] = [];
  const prefetcher = new BatchPrefetcher([0, 1, 2, 3, 4, 5], {
    batchSize: 2,
    makeBatch: (indices) => {
      requested.push(indices);
      return makeBatch(indices);
    },
  });

  await t.step("nothing before the first next", async () => {
    await yieldToEventLoop();
    assert.deepEqual(requested, []);
  });

  await t.step("second batch built while the first is in use", async () => {
    const first = await prefetcher.next();
    assert.deepEqual([...first!.y], [0, 1]);
    await yieldToEventLoop();
    assert.deepEqual(requested, [[0, 1], [2, 3]]);
  });

  await t.step("only one batch ahead", async () => {
    await yieldToEventLoop();
    assert.equal(requested.length, 2);
  });

  await t.step("prefetched batch is the one handed out", async () => {
    const second = await prefetcher.next();
    assert.deepEqual([...second!.y], [2, 3]);
    assert.equal(requested.length, 2, "batch 2 was built twice");
    await yieldToEventLoop();
    assert.deepEqual(requested.at(-1), [4, 5]);
  });

  await t.step("nothing after the last", async () => {
    const third = await prefetcher.next();
    assert.deepEqual([...third!.y], [4, 5]);
    await yieldToEventLoop();
    assert.equal(requested.length, 3);
  });
});

Deno.test("BatchPrefetcher overlaps async work", async () => {
  let building = 0;
  const prefetcher = new BatchPrefetcher([0, 1, 2, 3], {
    batchSize: 1,
    makeBatch: async (indices) => {
      building++;
      await new Promise((resolve) => setTimeout(resolve, 20));
      building--;
      return makeBatch(indices);
    },
  });
  const seen: number[] = [];
  for await (const batch of prefetcher) {
    seen.push(batch.y[0]);
    // A training step that awaits: the next batch should be under way meanwhile.
    await yieldToEventLoop();
    if (seen.length < 4) assert.equal(building, 1, `no batch in progress after ${seen}`);
  }
  assert.deepEqual(seen, [0, 1, 2, 3]);
});

Deno.test("BatchPrefetcher errors", async (t) => {
  await t.step("makeBatch error reaches next", async () => {
    const prefetcher = new BatchPrefetcher([0, 1, 2], {
      batchSize: 1,
      makeBatch: (indices) => {
        if (indices[0] === 1) throw new Error("sample 1 is corrupt");
        return makeBatch(indices);
      },
    });
    assert.deepEqual([...(await prefetcher.next())!.y], [0]);
    await yieldToEventLoop();
    await assert.rejects(() => prefetcher.next(), /sample 1 is corrupt/);
    assert.equal(await prefetcher.next(), undefined, "closed after an error");
  });

  await t.step("unused failed batch is not unhandled", async () => {
    const prefetcher = new BatchPrefetcher([0, 1], {
      batchSize: 1,
      makeBatch: (indices) => {
        if (indices[0] === 1) return Promise.reject(new Error("never read"));
        return makeBatch(indices);
      },
    });
    await prefetcher.next();
    await yieldToEventLoop();
    prefetcher.close();
  });

  await t.step("breaking out of the loop closes it", async () => {
    const requested: number[][] = [];
    const prefetcher = new BatchPrefetcher([0, 1, 2, 3], {
      batchSize: 1,
      makeBatch: (indices) => {
        requested.push(indices);
        return makeBatch(indices);
      },
    });
    for await (const _batch of prefetcher) break;
    await yieldToEventLoop();
    assert.deepEqual(requested, [[0]]);
    assert.equal(await prefetcher.next(), undefined);
  });

  await t.step("invalid batch size", () => {
    for (const batchSize of [0, -1, 1.5, NaN]) {
      assert.throws(
        () => new BatchPrefetcher([1], { batchSize, makeBatch }),
        new RegExp(`Invalid batchSize ${batchSize}: use a positive integer`),
      );
    }
  });
});
