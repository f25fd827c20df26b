/**
 * Model administration is guarded by `SENTINEL_API_KEY` as a bearer token.
 * Without a configured key the guarded routes answer 403 and say how to
 * enable them; a missing or wrong token is 401 with `WWW-Authenticate`.
 * Tokens are compared through their SHA-256 digests with a loop that always
 * runs to the end, so the time taken says nothing about how much matched
 * (not even the key's length).
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import { errorJson } from "./errors.ts";

const encoder = new TextEncoder();

async function digest(s: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(s)));
}

/**
 * True when `given` equals `expected`, in time independent of where they differ.
 *
 * @example
 * ```ts
 * import { tokensEqual } from "./auth.ts";
 * console.log(await tokensEqual("a-long-secret-key", "a-long-secret-key")); // true
 * console.log(await tokensEqual("a-long-secret-kez", "a-long-secret-key")); // false
 * ```
 */
export async function tokensEqual(given: string, expected: string): Promise<boolean> {
  const [a, b] = await Promise.all([digest(given), digest(expected)]);
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

/** Extracts the token of an `Authorization: Bearer <token>` header, or null. */
export function bearerToken(header: string | undefined): string | null {
  if (!header) return null;
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  return m ? m[1] : null;
}

/** How to turn administration on, said by every 403. */
export const ENABLE_ADMIN_HINT =
  "set SENTINEL_API_KEY (16+ characters) to enable model administration";

/**
 * Middleware: lets the request through only with the right bearer token.
 * `apiKey` is read per request, so a test or a reload may change it.
 */
export function requireApiKey(apiKey: () => string | null): MiddlewareHandler {
  return async (c, next) => {
    const key = apiKey();
    if (!key) return errorJson(c, 403, "model administration is disabled", ENABLE_ADMIN_HINT);
    const token = bearerToken(c.req.header("authorization"));
    if (token === null || !(await tokensEqual(token, key))) {
      c.header("WWW-Authenticate", 'Bearer realm="sentinel"');
      return errorJson(
        c,
        401,
        "unauthorized",
        token === null
          ? "send the API key as Authorization: Bearer <SENTINEL_API_KEY>"
          : "wrong API key",
      );
    }
    await next();
  };
}
