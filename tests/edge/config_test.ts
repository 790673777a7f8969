import assert from "node:assert/strict";
import { ConfigError, DEFAULT_CONFIG, ENV_VARIABLES, readConfig } from "../../edge/config.ts";

function readFrom(values: Record<string, string>) {
  return readConfig((name) => values[name]);
}

Deno.test("readConfig", async (t) => {
  await t.step("applies the documented defaults", () => {
    assert.deepEqual(DEFAULT_CONFIG, {
      modelDir: "weights/default",
      hostname: "0.0.0.0",
      port: 8000,
      maxBodyBytes: 15 * 1024 * 1024,
      maxPixels: 50_000_000,
      requestTimeoutMs: 10_000,
      corsOrigins: ["*"],
      apiKeys: [],
      rateLimit: { requestsPerMinute: 0, burst: 0 },
      decodeWorkers: 2,
      backend: "wasm",
      logLevel: "info",
    });
  });

  await t.step("reads every variable", () => {
    const config = readFrom({
      MODEL_DIR: "/srv/model",
      HOST: "127.0.0.1",
      PORT: "9000",
      MAX_BODY_BYTES: "1000",
      MAX_PIXELS: "2000",
      REQUEST_TIMEOUT_MS: "500",
      CORS_ORIGINS: "https://a.example, https://b.example",
      API_KEY: "k1,k2",
      RATE_LIMIT_PER_MINUTE: "30",
      RATE_LIMIT_BURST: "5",
      DECODE_WORKERS: "0",
      TFJS_BACKEND: "cpu",
      LOG_LEVEL: "debug",
    });
    assert.deepEqual(config, {
      modelDir: "/srv/model",
      hostname: "127.0.0.1",
      port: 9000,
      maxBodyBytes: 1000,
      maxPixels: 2000,
      requestTimeoutMs: 500,
      corsOrigins: ["https://a.example", "https://b.example"],
      apiKeys: ["k1", "k2"],
      rateLimit: { requestsPerMinute: 30, burst: 5 },
      decodeWorkers: 0,
      backend: "cpu",
      logLevel: "debug",
    });
  });

  await t.step("accepts IPv6 hosts and host names", () => {
    for (const host of ["::1", "::", "[::]", "fe80::1", "localhost", "edge.internal"]) {
      assert.equal(readFrom({ HOST: host }).hostname, host);
    }
  });

  await t.step("accepts * alone and origins with a port", () => {
    assert.deepEqual(readFrom({ CORS_ORIGINS: " * " }).corsOrigins, ["*"]);
    assert.deepEqual(readFrom({ CORS_ORIGINS: "http://localhost:5173" }).corsOrigins, [
      "http://localhost:5173",
    ]);
  });

  await t.step("sets the burst to the rate when unset", () => {
    assert.deepEqual(readFrom({ RATE_LIMIT_PER_MINUTE: "12" }).rateLimit, {
      requestsPerMinute: 12,
      burst: 12,
    });
  });

  await t.step("treats an empty value as unset", () => {
    assert.equal(readFrom({ PORT: "", API_KEY: " " }).port, 8000);
    assert.deepEqual(readFrom({ API_KEY: "" }).apiKeys, []);
  });

  const invalid: [string, string, RegExp][] = [
    ["PORT", "80a", /PORT="80a" is invalid\. Set an integer from 0 to 65535/],
    ["PORT", "70000", /from 0 to 65535/],
    ["MAX_BODY_BYTES", "0", /MAX_BODY_BYTES="0" is invalid/],
    ["MAX_BODY_BYTES", "15MB", /default 15728640/],
    ["MAX_PIXELS", "-5", /MAX_PIXELS="-5"/],
    ["REQUEST_TIMEOUT_MS", "1.5", /REQUEST_TIMEOUT_MS="1.5"/],
    ["DECODE_WORKERS", "many", /DECODE_WORKERS="many"/],
    ["TFJS_BACKEND", "webgpu", /TFJS_BACKEND="webgpu" is invalid\. Set wasm or cpu/],
    [
      "LOG_LEVEL",
      "loud",
      /LOG_LEVEL="loud" is invalid\. Set one of trace, debug, info, warning, error, fatal/,
    ],
    ["LOG_LEVEL", "warn", /LOG_LEVEL="warn" is invalid/],
    ["HOST", "127.0.0.1:8000", /HOST="127\.0\.0\.1:8000" is invalid\. .*set the port with PORT/],
    ["HOST", "http://localhost", /HOST="http:\/\/localhost" is invalid/],
    ["HOST", "[::1]:8000", /HOST="\[::1\]:8000" is invalid/],
    ["CORS_ORIGINS", "not-an-origin", /CORS_ORIGINS: "not-an-origin" is not an origin/],
    ["CORS_ORIGINS", "https://app.example/", /Write it as https:\/\/app\.example\./],
    ["CORS_ORIGINS", "https://a.example/path", /"https:\/\/a\.example\/path" is not an origin/],
    ["CORS_ORIGINS", ", ,", /CORS_ORIGINS=", ," contains no origin/],
    ["CORS_ORIGINS", "*, https://a.example", /mixes \* with origins/],
  ];
  for (const [name, value, message] of invalid) {
    await t.step(`rejects ${name}=${value}`, () => {
      assert.throws(() => readFrom({ [name]: value }), (error) => {
        assert.ok(error instanceof ConfigError);
        assert.match(error.message, message);
        return true;
      });
    });
  }

  await t.step("rejects RATE_LIMIT_BURST=0 naming the unset fallback", () => {
    assert.throws(
      () => readFrom({ RATE_LIMIT_PER_MINUTE: "6", RATE_LIMIT_BURST: "0" }),
      /RATE_LIMIT_BURST="0" is invalid\. .* or unset it to use RATE_LIMIT_PER_MINUTE\.$/,
    );
  });

  await t.step("rejects RATE_LIMIT_BURST while the limit is off", () => {
    assert.throws(
      () => readFrom({ RATE_LIMIT_BURST: "5" }),
      /RATE_LIMIT_BURST="5" has no effect because RATE_LIMIT_PER_MINUTE is 0/,
    );
  });

  const invalidKeys: [string, RegExp][] = [
    [", ,", /API_KEY is set but contains no key/],
    ["good-key, secret key", /key 2 of 2 contains whitespace/],
    ["clé-secrète", /key 1 of 1 contains whitespace or a character outside visible ASCII/],
  ];
  for (const [value, message] of invalidKeys) {
    await t.step(`rejects API_KEY="${value}" without echoing it`, () => {
      assert.throws(() => readFrom({ API_KEY: value }), (error) => {
        assert.ok(error instanceof ConfigError);
        assert.match(error.message, message);
        for (const key of value.split(",").map((item) => item.trim()).filter(Boolean)) {
          assert.ok(!error.message.includes(key), `the message must not contain "${key}"`);
        }
        return true;
      });
    });
  }

  await t.step("documents every variable it reads", () => {
    const read = new Set<string>();
    readConfig((name) => {
      read.add(name);
      return undefined;
    });
    const documented = new Set(ENV_VARIABLES.map((variable) => variable.name));
    for (const name of read) assert.ok(documented.has(name), `${name} is not documented`);
  });
});
