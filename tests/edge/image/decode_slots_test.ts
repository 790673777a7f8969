import assert from "node:assert/strict";
import { DecodeSlots } from "../../../edge/image/decode_slots.ts";

Deno.test("DecodeSlots", async (t) => {
  await t.step("runs at most size tasks at once, in order", async () => {
    const slots = new DecodeSlots(2);
    let running = 0;
    let maxRunning = 0;
    const order: number[] = [];
    const task = (id: number) => async () => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      await new Promise((resolve) => setTimeout(resolve, 5));
      order.push(id);
      running--;
      return id;
    };
    const results = await Promise.all([1, 2, 3, 4, 5].map((id) => slots.run(task(id))));
    assert.deepEqual(results, [1, 2, 3, 4, 5]);
    assert.equal(maxRunning, 2);
    assert.deepEqual(order.slice(2), [3, 4, 5]);
  });

  await t.step("skips a waiting task whose signal aborts", async () => {
    const slots = new DecodeSlots(1);
    let release!: () => void;
    const first = slots.run(() => new Promise<void>((resolve) => release = resolve));
    const controller = new AbortController();
    let ran = false;
    const second = slots.run(() => {
      ran = true;
      return Promise.resolve();
    }, controller.signal);
    controller.abort(new Error("deadline passed"));
    // The first task starts after a microtask, so wait for it before releasing.
    await new Promise((resolve) => setTimeout(resolve, 0));
    release();
    await first;
    await assert.rejects(second, /deadline passed/);
    assert.equal(ran, false);
    assert.equal(await slots.run(() => Promise.resolve("free")), "free");
  });

  await t.step("frees the slot when a task throws", async () => {
    const slots = new DecodeSlots(1);
    await assert.rejects(slots.run(() => Promise.reject(new Error("bad image"))), /bad image/);
    assert.equal(await slots.run(() => Promise.resolve(7)), 7);
  });

  await t.step("rejects an invalid size", () => {
    assert.throws(() => new DecodeSlots(0), RangeError);
  });
});
