import assert from "node:assert/strict";
import { type EpochHistory, renderConfusionSvg, renderCurvesSvg } from "../../train/plots.ts";

/**
 * Checks that every start tag has a matching end tag, in order. Not a full
 * XML parser, but enough to catch truncated or interleaved output.
 */
function assertBalancedTags(svg: string): void {
  const stack: string[] = [];
  for (const match of svg.matchAll(/<(\/?)([a-zA-Z][\w:-]*)[^>]*?(\/?)>/g)) {
    const [, closing, name, selfClosing] = match;
    if (selfClosing) continue;
    if (closing) {
      const open = stack.pop();
      assert.equal(open, name, `</${name}> closes <${open}> at offset ${match.index}`);
    } else {
      stack.push(name);
    }
  }
  assert.deepEqual(stack, [], "unclosed tags");
}

/** Returns the contents of every <text> element. */
function texts(svg: string): string[] {
  return [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((match) => match[1]);
}

const HISTORY: EpochHistory[] = [
  { epoch: 1, trainLoss: 1.61, valLoss: 1.52, trainAccuracy: 0.31, valAccuracy: 0.35 },
  { epoch: 2, trainLoss: 1.12, valLoss: 1.18, trainAccuracy: 0.55, valAccuracy: 0.52 },
  { epoch: 3, trainLoss: 0.83, valLoss: NaN, trainAccuracy: 0.69, valAccuracy: 0.61 },
];

Deno.test("renderCurvesSvg draws loss and accuracy", async (t) => {
  const svg = await renderCurvesSvg(HISTORY);

  await t.step("well-formed SVG", () => {
    assert.ok(svg.startsWith("<svg"), svg.slice(0, 80));
    assert.ok(svg.trimEnd().endsWith("</svg>"));
    assertBalancedTags(svg);
  });

  await t.step("titles, legend and axes", () => {
    const labels = texts(svg);
    for (const expected of ["Loss", "Accuracy", "train", "val", "epoch", "loss", "accuracy"]) {
      assert.ok(labels.includes(expected), `missing text "${expected}" in ${labels}`);
    }
  });

  await t.step("one line per split and metric", () => {
    const lines = [
      ...svg.matchAll(
        /<path aria-label="([^"]*)"[^>]*aria-roledescription="line mark" d="([^"]*)"/g,
      ),
    ];
    assert.equal(lines.length, 4);
    const labels = lines.map((match) => match[1]);
    assert.ok(labels.includes("epoch: 1; loss: 1.61; split: train"), String(labels));
    assert.ok(labels.includes("epoch: 1; accuracy: 0.35; split: val"), String(labels));
  });

  await t.step("NaN loss leaves a gap", () => {
    const valLoss = svg.match(/aria-label="epoch: 1; loss: 1.52; split: val"[^>]* d="([^"]*)"/);
    assert.ok(valLoss, "val loss line not found");
    // Epoch 3 is NaN, so the path is one segment from epoch 1 to 2 and nothing else.
    assert.equal(valLoss[1].match(/[ML]/g)!.join(""), "ML");
  });

  await t.step("rejects an empty history", async () => {
    await assert.rejects(() => renderCurvesSvg([]), /training history is empty/);
  });
});

Deno.test("renderConfusionSvg draws a labelled heatmap", async (t) => {
  const classNames = ["cardboard", "glass", "metal"];
  const matrix = [
    [17, 2, 0],
    [1, 23, 4],
    [0, 5, 31],
  ];
  const svg = await renderConfusionSvg(matrix, classNames, "val, epoch 7");

  await t.step("well-formed SVG", () => {
    assert.ok(svg.startsWith("<svg"), svg.slice(0, 80));
    assertBalancedTags(svg);
  });

  await t.step("class names, title and axis titles", () => {
    const labels = texts(svg);
    for (const expected of [...classNames, "val, epoch 7", "true", "predicted"]) {
      assert.ok(labels.includes(expected), `missing text "${expected}" in ${labels}`);
    }
  });

  await t.step("every count is written in its cell", () => {
    for (const [i, row] of matrix.entries()) {
      for (const [j, count] of row.entries()) {
        const label = `predicted: ${classNames[j]}; true: ${classNames[i]}; count: ${count}`;
        assert.ok(svg.includes(`aria-label="${label}"`), `no cell "${label}"`);
      }
    }
    const counts = texts(svg.slice(svg.indexOf('class="mark-text role-mark')));
    assert.deepEqual(counts.slice(0, 9), matrix.flat().map(String));
  });

  await t.step("markup in class names is escaped", async () => {
    const escaped = await renderConfusionSvg([[1, 0], [0, 1]], ["a&b", "<c>"], "x < y");
    assertBalancedTags(escaped);
    const labels = texts(escaped);
    for (const expected of ["a&amp;b", "&lt;c&gt;", "x &lt; y"]) {
      assert.ok(labels.includes(expected), `missing text "${expected}" in ${labels}`);
    }
  });

  await t.step("default title", async () => {
    const plain = await renderConfusionSvg([[1, 0], [0, 1]], ["a", "b"]);
    assert.ok(texts(plain).includes("Confusion matrix"));
  });

  await t.step("rejects a mismatched matrix", async () => {
    await assert.rejects(
      () => renderConfusionSvg([[1, 0], [0, 1]], classNames),
      /has 2 rows, but 3 class names need a 3 x 3 matrix/,
    );
  });
});
