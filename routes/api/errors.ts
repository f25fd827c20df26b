/**
 * How the API says no: every error is JSON `{error, detail}` with the right
 * status. Validation failures (422) name each bad field; anything unexpected
 * is a generic 500 whose cause goes to the log, never to the client.
 *
 * @module
 */
import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { z } from "zod";

/** One bad field of a request. */
export interface FieldError {
  field: string;
  message: string;
}

/**
 * One entry per bad field of a failed zod parse. An unknown key becomes its
 * own entry ("unknown field"); an error about the whole value is named after
 * the part of the request that carried it (`(body)`, `(query)`, ...).
 *
 * @example
 * ```ts
 * import { z } from "zod";
 * import { fieldErrors } from "./errors.ts";
 * const r = z.strictObject({ a: z.number() }).safeParse({ a: "1", b: 2 });
 * if (!r.success) console.log(fieldErrors(r.error.issues, "json").map((e) => e.field)); // ["a", "b"]
 * ```
 */
export function fieldErrors(issues: readonly z.core.$ZodIssue[], target: string): FieldError[] {
  const out: FieldError[] = [];
  for (const i of issues) {
    if (i.code === "unrecognized_keys") {
      const prefix = i.path.length ? `${i.path.join(".")}.` : "";
      for (const k of i.keys) out.push({ field: prefix + k, message: "unknown field" });
    } else {
      out.push({
        field: i.path.length ? i.path.map(String).join(".") : `(${partName(target)})`,
        message: i.message,
      });
    }
  }
  return out;
}

function partName(target: string): string {
  return target === "json" ? "body" : target === "param" ? "path" : target;
}

/** Answers `{error, detail}` with `status`. */
export function errorJson(
  c: Context,
  status: ContentfulStatusCode,
  error: string,
  detail: string | FieldError[],
): Response {
  return c.json({ error, detail }, status);
}

/**
 * The `defaultHook` of the app: a failed zod validation answers 422 with one
 * entry per field.
 */
export function validationHook(
  result: { success: boolean; error?: z.ZodError; target?: string },
  c: Context,
): Response | undefined {
  if (result.success || !result.error) return undefined;
  return errorJson(
    c,
    422,
    "validation failed",
    fieldErrors(result.error.issues, result.target ?? "request"),
  );
}
