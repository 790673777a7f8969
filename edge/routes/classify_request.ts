/**
 * Parsing of a classify request: the `top_k` query parameter and the image
 * bytes from a multipart or raw body.
 * @module
 */
import { ApiError } from "../errors.ts";

/** The default number of predictions returned. */
export const DEFAULT_TOP_K = 3;

/**
 * Parses `top_k`: an integer from 1 to `classCount`, {@linkcode DEFAULT_TOP_K}
 * (capped at `classCount`) when absent. Throws `invalid_parameter` otherwise.
 */
export function parseTopK(value: string | undefined, classCount: number): number {
  if (value === undefined) return Math.min(DEFAULT_TOP_K, classCount);
  const topK = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(topK) || topK < 1 || topK > classCount) {
    throw new ApiError(
      "invalid_parameter",
      `top_k must be an integer from 1 to ${classCount} (the number of classes), got "${value}".`,
    );
  }
  return topK;
}

/** Returns the media type of a Content-Type header, lower-cased, without parameters. */
export function mediaTypeOf(contentType: string | undefined): string {
  return (contentType ?? "").split(";")[0].trim().toLowerCase();
}

async function readMultipartImage(body: Uint8Array, contentType: string): Promise<Uint8Array> {
  let form: FormData;
  try {
    const bytes = body as Uint8Array<ArrayBuffer>;
    form = await new Response(bytes, { headers: { "content-type": contentType } }).formData();
  } catch (error) {
    throw new ApiError(
      "invalid_parameter",
      "The multipart/form-data body cannot be parsed. Check the boundary in the Content-Type header, or let the HTTP library build the body.",
      { cause: error },
    );
  }
  const field = form.get("image");
  if (field === null) {
    const names = [...new Set(form.keys())].map((name) => `"${name}"`).join(", ") || "none";
    throw new ApiError(
      "invalid_parameter",
      `The multipart body has no field "image" (fields found: ${names}). Send the photo in a file field named "image".`,
    );
  }
  if (typeof field === "string") {
    throw new ApiError(
      "invalid_parameter",
      'The multipart field "image" is text, not a file. Attach the photo as a file (with a filename).',
    );
  }
  return new Uint8Array(await field.arrayBuffer());
}

/**
 * Returns the image bytes of a classify request: the file field `image` of a
 * multipart/form-data body, or else the whole body. Any other Content-Type is
 * accepted because the decoder recognizes the format from the bytes alone;
 * clients such as `curl --data-binary` send
 * `application/x-www-form-urlencoded` unless told otherwise. Throws
 * `empty_body` or `invalid_parameter`.
 */
export async function extractImageBytes(
  body: Uint8Array,
  contentType: string | undefined,
): Promise<Uint8Array> {
  if (body.byteLength === 0) {
    throw new ApiError("empty_body", "The request body is empty. Send the photo's bytes.");
  }
  const mediaType = mediaTypeOf(contentType);
  if (mediaType === "multipart/form-data") {
    const image = await readMultipartImage(body, contentType!);
    if (image.byteLength === 0) {
      throw new ApiError("empty_body", 'The multipart field "image" is empty (0 bytes).');
    }
    return image;
  }
  return body;
}
