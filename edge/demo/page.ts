/**
 * The demo page served at `GET /`: pick or drop a photo and see what the
 * model predicts. It is one self-contained HTML document with no external
 * assets. Its script and style carry the CSP nonce of the request, because
 * the service's Content-Security-Policy allows no other inline code.
 * @module
 */

const STYLE = `
  body { font: 16px/1.5 system-ui, sans-serif; max-width: 40rem; margin: 2rem auto; padding: 0 1rem; color: #1d2327; }
  h1 { font-size: 1.5rem; }
  #drop { border: 2px dashed #8c8f94; border-radius: 8px; padding: 2rem; text-align: center; cursor: pointer; }
  #drop.over { border-color: #2271b1; background: #f0f6fc; }
  #preview { max-width: 100%; max-height: 20rem; display: block; margin: 1rem auto; }
  #label { font-size: 1.75rem; font-weight: bold; }
  #error { color: #b32d2e; }
  table { border-collapse: collapse; width: 100%; }
  td { padding: 0.2rem 0.5rem; border-bottom: 1px solid #dcdcde; }
  td.score { text-align: right; font-variant-numeric: tabular-nums; }
  details { margin-top: 1rem; color: #50575e; }
  input[type=password] { width: 100%; box-sizing: border-box; }
`;

const SCRIPT = `
  const drop = document.getElementById("drop");
  const fileInput = document.getElementById("file");
  const keyInput = document.getElementById("key");
  const preview = document.getElementById("preview");
  const status = document.getElementById("status");
  const label = document.getElementById("label");
  const errorBox = document.getElementById("error");
  const table = document.getElementById("predictions");

  function showError(message) {
    errorBox.textContent = message;
    status.textContent = "";
  }

  function showResult(result) {
    label.textContent = result.label;
    table.replaceChildren(...result.predictions.map((prediction) => {
      const row = document.createElement("tr");
      const name = document.createElement("td");
      const score = document.createElement("td");
      name.textContent = prediction.label;
      score.className = "score";
      score.textContent = (prediction.score * 100).toFixed(1) + " %";
      row.append(name, score);
      return row;
    }));
    const t = result.timings_ms;
    status.textContent = result.image.width + "x" + result.image.height + " " + result.image.format +
      ", " + t.total + " ms (decode " + t.decode + ", preprocess " + t.preprocess +
      ", inference " + t.inference + ")";
  }

  async function classify(file) {
    errorBox.textContent = "";
    label.textContent = "";
    table.replaceChildren();
    status.textContent = "Classifying " + file.name + "...";
    preview.src = URL.createObjectURL(file);
    const headers = { "Content-Type": file.type || "application/octet-stream" };
    if (keyInput.value) headers.Authorization = "Bearer " + keyInput.value;
    try {
      const response = await fetch("/v1/classify", { method: "POST", headers, body: file });
      const result = await response.json();
      if (!response.ok) return showError(result.error.code + ": " + result.error.message);
      showResult(result);
    } catch (error) {
      showError("The request failed: " + error.message);
    }
  }

  drop.addEventListener("click", () => fileInput.click());
  fileInput.addEventListener("change", () => {
    if (fileInput.files.length > 0) classify(fileInput.files[0]);
  });
  drop.addEventListener("dragover", (event) => {
    event.preventDefault();
    drop.classList.add("over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    if (event.dataTransfer.files.length > 0) classify(event.dataTransfer.files[0]);
  });
`;

/** Returns the demo page's HTML with `nonce` on its script and style elements. */
export function renderDemoPage(nonce: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>waste-vision: classify a photo</title>
<link rel="icon" href="data:,">
<style nonce="${nonce}">${STYLE}</style>
</head>
<body>
<h1>Which bin does it go in?</h1>
<p>Pick or drop a photo of one piece of household waste. The photo is sent to this server,
classified, and discarded: it is never stored.</p>
<div id="drop" role="button" tabindex="0">Drop a photo here, or click to pick one
  <input id="file" type="file" accept="image/*" hidden>
</div>
<img id="preview" alt="">
<p id="status" aria-live="polite"></p>
<p id="label" aria-live="polite"></p>
<p id="error" role="alert"></p>
<table><tbody id="predictions"></tbody></table>
<details><summary>API key</summary>
  <p>Only needed when the server sets API_KEY. It is sent as a Bearer token and kept nowhere.</p>
  <input id="key" type="password" autocomplete="off">
</details>
<script nonce="${nonce}">${SCRIPT}</script>
</body>
</html>
`;
}
