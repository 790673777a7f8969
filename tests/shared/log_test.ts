import assert from "node:assert/strict";

const LOG_MODULE = new URL("../../shared/log.ts", import.meta.url).href;

async function runWithLevel(level: string): Promise<{ code: number; stderr: string }> {
  const script = `import { setupLogging } from "${LOG_MODULE}"; await setupLogging();`;
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["eval", script],
    env: { LOG_LEVEL: level, NO_COLOR: "1" },
    stdout: "null",
    stderr: "piped",
  }).output();
  return { code: output.code, stderr: new TextDecoder().decode(output.stderr) };
}

Deno.test("setupLogging warns about an invalid LOG_LEVEL", async () => {
  const { code, stderr } = await runWithLevel("loud");
  assert.equal(code, 0);
  assert.match(stderr, /warning: LOG_LEVEL="loud" is invalid, so the default info applies/);
});

Deno.test("setupLogging accepts a valid LOG_LEVEL silently", async () => {
  const { code, stderr } = await runWithLevel("debug");
  assert.equal(code, 0);
  assert.equal(stderr, "");
});
