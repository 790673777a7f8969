import assert from "node:assert/strict";
import {
  clientAddressKey,
  rateLimit,
  TokenBuckets,
} from "../../../../edge/middleware/rate_limit/index.ts";
import { appWith } from "../../helpers/middleware_app.ts";

/** Creates a clock in milliseconds that the test advances by hand. */
function manualClock(): { now: () => number; advance: (ms: number) => void } {
  let time = 1_000_000;
  return { now: () => time, advance: (ms) => time += ms };
}

function connectionFrom(hostname: string) {
  return { remoteAddr: { transport: "tcp" as const, hostname, port: 40_000 } };
}

Deno.test("TokenBuckets", async (t) => {
  await t.step("allows a burst, then rejects with the wait", () => {
    const clock = manualClock();
    const buckets = new TokenBuckets({ requestsPerMinute: 6, burst: 3, now: clock.now });
    assert.deepEqual(buckets.take("a"), { allowed: true, remaining: 2, retryAfterSeconds: 0 });
    assert.equal(buckets.take("a").remaining, 1);
    assert.equal(buckets.take("a").remaining, 0);
    const rejected = buckets.take("a");
    assert.equal(rejected.allowed, false);
    // 6 per minute is one token every 10 s.
    assert.equal(rejected.retryAfterSeconds, 10);
  });

  await t.step("refills at the configured rate", () => {
    const clock = manualClock();
    const buckets = new TokenBuckets({ requestsPerMinute: 6, burst: 1, now: clock.now });
    assert.equal(buckets.take("a").allowed, true);
    clock.advance(9_000);
    const early = buckets.take("a");
    assert.equal(early.allowed, false);
    assert.equal(early.retryAfterSeconds, 1);
    clock.advance(1_000);
    assert.equal(buckets.take("a").allowed, true);
  });

  await t.step("never refills past the burst", () => {
    const clock = manualClock();
    const buckets = new TokenBuckets({ requestsPerMinute: 60, burst: 2, now: clock.now });
    clock.advance(3_600_000);
    assert.equal(buckets.take("a").remaining, 1);
  });

  await t.step("keeps clients apart", () => {
    const clock = manualClock();
    const buckets = new TokenBuckets({ requestsPerMinute: 1, burst: 1, now: clock.now });
    assert.equal(buckets.take("a").allowed, true);
    assert.equal(buckets.take("a").allowed, false);
    assert.equal(buckets.take("b").allowed, true);
  });

  await t.step("caps the number of tracked clients", () => {
    const clock = manualClock();
    const buckets = new TokenBuckets({
      requestsPerMinute: 1,
      burst: 1,
      maxClients: 3,
      now: clock.now,
    });
    for (const key of ["a", "b", "c", "d", "e"]) buckets.take(key);
    assert.ok(buckets.size <= 3, `tracks ${buckets.size} clients`);
    // The newest client keeps its empty bucket.
    assert.equal(buckets.take("e").allowed, false);
  });

  await t.step("peek leaves the tokens in place", () => {
    const clock = manualClock();
    const buckets = new TokenBuckets({ requestsPerMinute: 6, burst: 2, now: clock.now });
    assert.deepEqual(buckets.peek("a"), { allowed: true, remaining: 2, retryAfterSeconds: 0 });
    assert.equal(buckets.size, 0, "peek must not create a bucket");
    buckets.take("a");
    buckets.take("a");
    assert.deepEqual(buckets.peek("a"), { allowed: false, remaining: 0, retryAfterSeconds: 10 });
    assert.equal(buckets.peek("a").allowed, false, "peek must not change the wait");
    clock.advance(10_000);
    assert.deepEqual(buckets.peek("a"), { allowed: true, remaining: 1, retryAfterSeconds: 0 });
    assert.equal(buckets.take("a").remaining, 0);
  });

  await t.step("rejects invalid settings", () => {
    assert.throws(() => new TokenBuckets({ requestsPerMinute: 0, burst: 1 }), /requestsPerMinute/);
    assert.throws(() => new TokenBuckets({ requestsPerMinute: 1, burst: 0 }), /burst/);
  });
});

Deno.test("rateLimit middleware", async (t) => {
  await t.step("returns 429 with Retry-After", async () => {
    const clock = manualClock();
    const app = appWith(rateLimit({ requestsPerMinute: 30, burst: 2, now: clock.now }));
    const first = connectionFrom("192.0.2.1");
    for (let i = 0; i < 2; i++) {
      const response = await app.request("/", {}, first);
      assert.equal(response.status, 200);
      assert.equal(response.headers.get("ratelimit-limit"), "2");
      assert.equal(response.headers.get("ratelimit-remaining"), String(1 - i));
      await response.body?.cancel();
    }
    const limited = await app.request("/", {}, first);
    assert.equal(limited.status, 429);
    assert.equal(limited.headers.get("retry-after"), "2");
    const body = await limited.json();
    assert.equal(body.error.code, "rate_limited");
    assert.match(body.error.message, /Retry in 2 s/);

    const other = await app.request("/", {}, connectionFrom("192.0.2.2"));
    assert.equal(other.status, 200);
    await other.body?.cancel();
  });

  await t.step("uses the custom key function", async () => {
    const app = appWith(rateLimit({
      requestsPerMinute: 1,
      burst: 1,
      keyOf: (c) => c.req.header("x-client") ?? "none",
    }));
    const a1 = await app.request("/", { headers: { "x-client": "a" } });
    const a2 = await app.request("/", { headers: { "x-client": "a" } });
    const b1 = await app.request("/", { headers: { "x-client": "b" } });
    assert.deepEqual([a1.status, a2.status, b1.status], [200, 429, 200]);
    await Promise.all([a1, a2, b1].map((response) => response.body?.cancel()));
  });

  await t.step("keys requests without connection info as unknown", async () => {
    const app = appWith(async (c, next) => {
      c.header("x-key", clientAddressKey(c));
      await next();
    });
    const response = await app.request("/");
    assert.equal(response.headers.get("x-key"), "addr:unknown");
    await response.body?.cancel();
  });
});
