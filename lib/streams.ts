/**
 * Small web-stream helpers shared by the sources and the tests.
 *
 * @module
 */

/**
 * A UTF-8 `TextDecoderStream` typed as bytes → text. With the DOM library in
 * the type check (the dashboard's islands), `TextDecoderStream` accepts any
 * `BufferSource`, which `ReadableStream<Uint8Array>.pipeThrough` refuses; the
 * runtime object is the same either way.
 *
 * @example
 * ```ts
 * import { utf8Decoder } from "./streams.ts";
 * const bytes = ReadableStream.from([new TextEncoder().encode("héllo")]);
 * const parts = await Array.fromAsync(bytes.pipeThrough(utf8Decoder()));
 * console.log(parts.join("")); // "héllo"
 * ```
 */
export function utf8Decoder(): TransformStream<Uint8Array, string> {
  return new TextDecoderStream() as unknown as TransformStream<Uint8Array, string>;
}
