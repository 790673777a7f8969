import assert from "node:assert/strict";
import { apiKeyAuth } from "../../../../edge/middleware/api_key/index.ts";
import { appWith } from "../../helpers/middleware_app.ts";

const KEY = "test-key-7f3a9c";
const SECOND_KEY = "rotated-key-12b4";

Deno.test("apiKeyAuth", async (t) => {
  const app = appWith(apiKeyAuth({ keys: [KEY, SECOND_KEY] }));

  async function requestWith(authorization?: string): Promise<Response> {
    const headers: Record<string, string> = authorization ? { authorization } : {};
    return await app.request("/", { headers });
  }

  await t.step("accepts each configured key", async () => {
    for (const key of [KEY, SECOND_KEY]) {
      const response = await requestWith(`Bearer ${key}`);
      assert.equal(response.status, 200, key);
      await response.body?.cancel();
    }
  });

  await t.step("accepts a lower-case scheme", async () => {
    const response = await requestWith(`bearer ${KEY}`);
    assert.equal(response.status, 200);
    await response.body?.cancel();
  });

  const rejected: [string, string | undefined, RegExp][] = [
    ["missing header", undefined, /Missing Authorization header/],
    ["wrong key", "Bearer not-the-key", /API key is not valid/],
    ["key prefix only", `Bearer ${KEY.slice(0, 4)}`, /API key is not valid/],
    ["basic scheme", `Basic ${btoa("user:" + KEY)}`, /not of the form `Bearer <key>`/],
    ["scheme without key", "Bearer", /not of the form `Bearer <key>`/],
    ["bare key", KEY, /not of the form `Bearer <key>`/],
  ];
  for (const [name, header, message] of rejected) {
    await t.step(`rejects ${name} with 401`, async () => {
      const response = await requestWith(header);
      assert.equal(response.status, 401);
      assert.equal(response.headers.get("www-authenticate"), 'Bearer realm="waste-vision"');
      const body = await response.json();
      assert.equal(body.error.code, "unauthorized");
      assert.match(body.error.message, message);
      assert.ok(!body.error.message.includes(KEY), "the message must not echo a key");
    });
  }

  await t.step("requires at least one key", () => {
    assert.throws(() => apiKeyAuth({ keys: [] }), /keys must not be empty/);
  });
});

function connectionFrom(hostname: string) {
  return { remoteAddr: { transport: "tcp" as const, hostname, port: 40_000 } };
}

Deno.test("apiKeyAuth failure limit", async (t) => {
  let time = 1_000_000;
  const app = appWith(apiKeyAuth({
    keys: [KEY],
    failureLimit: { requestsPerMinute: 6, burst: 2, now: () => time },
  }));

  async function statusOf(authorization: string | undefined, address: string): Promise<number> {
    const headers: Record<string, string> = authorization ? { authorization } : {};
    const response = await app.request("/", { headers }, connectionFrom(address));
    await response.body?.cancel();
    return response.status;
  }

  await t.step("rejects an address after the burst of failures", async () => {
    const statuses = [];
    for (const header of ["Bearer wrong-1", undefined, "Bearer wrong-3"]) {
      statuses.push(await statusOf(header, "192.0.2.10"));
    }
    assert.deepEqual(statuses, [401, 401, 429]);
  });

  await t.step("sends rate_limited with Retry-After", async () => {
    const response = await app.request(
      "/",
      { headers: { authorization: "Bearer wrong-4" } },
      connectionFrom("192.0.2.10"),
    );
    assert.equal(response.status, 429);
    // 6 per minute is one token every 10 s.
    assert.equal(response.headers.get("retry-after"), "10");
    const body = await response.json();
    assert.equal(body.error.code, "rate_limited");
    assert.match(body.error.message, /missing or invalid API key/);
  });

  await t.step("rejects a valid key from the limited address", async () => {
    assert.equal(await statusOf(`Bearer ${KEY}`, "192.0.2.10"), 429);
  });

  await t.step("keeps other addresses apart", async () => {
    assert.equal(await statusOf(`Bearer ${KEY}`, "192.0.2.11"), 200);
    assert.equal(await statusOf("Bearer wrong", "192.0.2.11"), 401);
  });

  await t.step("does not count accepted keys", async () => {
    for (let i = 0; i < 5; i++) {
      assert.equal(await statusOf(`Bearer ${KEY}`, "192.0.2.12"), 200, `request ${i}`);
    }
    assert.equal(await statusOf("Bearer wrong", "192.0.2.12"), 401);
  });

  await t.step("lets the address retry after the refill", async () => {
    time += 10_000;
    assert.equal(await statusOf(`Bearer ${KEY}`, "192.0.2.10"), 200);
  });

  await t.step("counts concurrent failures one by one", async () => {
    const guesses = Array.from(
      { length: 6 },
      (_, i) => statusOf(`Bearer guess-${i}`, "192.0.2.13"),
    );
    const statuses = await Promise.all(guesses);
    assert.equal(statuses.filter((status) => status === 401).length, 2);
    assert.equal(statuses.filter((status) => status === 429).length, 4);
  });
});

Deno.test("apiKeyAuth without a failure limit", async () => {
  const app = appWith(apiKeyAuth({ keys: [KEY] }));
  for (let i = 0; i < 20; i++) {
    const response = await app.request(
      "/",
      { headers: { authorization: `Bearer wrong-${i}` } },
      connectionFrom("192.0.2.20"),
    );
    await response.body?.cancel();
    assert.equal(response.status, 401, `attempt ${i}`);
  }
});
