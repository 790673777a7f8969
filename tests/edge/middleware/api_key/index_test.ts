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
