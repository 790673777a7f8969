/**
 * Small file helpers for run outputs: JSON and text written atomically
 * (a temporary file renamed into place), so a killed run never leaves a
 * half-written log.
 * @module
 */

/** Writes `text` to `path` through a temporary file and a rename. */
export async function writeTextAtomic(path: string, text: string): Promise<void> {
  const temporary = `${path}.tmp`;
  await Deno.writeTextFile(temporary, text);
  await Deno.rename(temporary, path);
}

/** Writes `value` as indented JSON to `path` atomically. */
export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  await writeTextAtomic(path, JSON.stringify(value, null, 2) + "\n");
}

/** Returns whether `path` exists. */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}
