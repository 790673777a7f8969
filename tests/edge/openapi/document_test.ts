import assert from "node:assert/strict";
import { ERROR_CODES } from "../../../edge/errors.ts";
import { buildOpenApiDocument } from "../../../edge/openapi/document.ts";
import { createTestService } from "../helpers/service.ts";

// deno-lint-ignore no-explicit-any
type Json = Record<string, any>;

/** Collects every example error code and its status in the document. */
function documentedErrors(document: Json): Map<string, Set<number>> {
  const found = new Map<string, Set<number>>();
  const visit = (responses: Json) => {
    for (const [status, response] of Object.entries(responses)) {
      const examples = response.content?.["application/json"]?.examples ?? {};
      for (const [code, example] of Object.entries(examples) as [string, Json][]) {
        assert.equal(example.value.error.code, code);
        found.set(code, (found.get(code) ?? new Set()).add(Number(status)));
      }
    }
  };
  for (const item of Object.values(document.paths) as Json[]) {
    for (const operation of Object.values(item) as Json[]) visit(operation.responses);
  }
  visit({ "404": document.components.responses.NotFound });
  return found;
}

Deno.test("OpenAPI document", async (t) => {
  const document = buildOpenApiDocument() as Json;

  await t.step("lists every route the app serves", async () => {
    const { app } = await createTestService();
    const served = app.routes.filter((route) => route.method !== "ALL");
    assert.ok(served.length >= 6, `only ${served.length} routes found`);
    for (const route of served) {
      const operation = document.paths[route.path]?.[route.method.toLowerCase()];
      assert.ok(operation, `${route.method} ${route.path} is missing from the document`);
      assert.ok(operation.responses["200"], `${route.method} ${route.path} has no 200 response`);
    }
    const documented = Object.entries(document.paths).flatMap(([path, item]) =>
      Object.keys(item as Json).map((method) => `${method.toUpperCase()} ${path}`)
    );
    const servedNames = served.map((route) => `${route.method} ${route.path}`);
    assert.deepEqual(documented.sort(), [...new Set(servedNames)].sort());
  });

  await t.step("lists every error code with its status", () => {
    const found = documentedErrors(document);
    for (const [code, spec] of Object.entries(ERROR_CODES)) {
      assert.deepEqual([...found.get(code) ?? []], [spec.status], `${code} is not documented`);
    }
    const schemaCodes = document.components.schemas.Error.properties.error.properties.code.enum;
    assert.deepEqual(schemaCodes, Object.keys(ERROR_CODES));
  });

  await t.step("resolves every schema reference", () => {
    const text = JSON.stringify(document);
    for (const [, name] of text.matchAll(/"#\/components\/schemas\/(\w+)"/g)) {
      assert.ok(document.components.schemas[name], `schema ${name} is referenced but missing`);
    }
  });

  await t.step("documents classify's parameters and bodies", () => {
    const classify = document.paths["/v1/classify"].post;
    assert.equal(classify.parameters[0].name, "top_k");
    assert.deepEqual(Object.keys(classify.requestBody.content).sort(), [
      "application/octet-stream",
      "image/*",
      "multipart/form-data",
    ]);
  });
});
