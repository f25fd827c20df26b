/**
 * The API key in the browser: asked for once per tab, kept in
 * `sessionStorage` only (gone when the tab closes; never a cookie, never
 * `localStorage`), sent as a bearer token, forgotten on a 401. Shared by
 * the incident review panel and the model registry.
 *
 * @module
 */
import { useState } from "preact/hooks";
import { apiJson, type ApiResult } from "./api.ts";

/** Where the key lives for the session. */
export const KEY_STORAGE = "sentinel-api-key";

/** The key of this tab's session, or null. */
export function storedKey(): string | null {
  try {
    return sessionStorage.getItem(KEY_STORAGE);
  } catch {
    return null;
  }
}

/**
 * A JSON call with the session's key as a bearer token; a 401 forgets the
 * key (the next action asks again).
 */
export async function withBearer<T>(
  key: string,
  path: string,
  method: string,
  body?: unknown,
): Promise<ApiResult<T>> {
  const r = await apiJson<T>(path, {
    method,
    headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!r.ok && r.status === 401) sessionStorage.removeItem(KEY_STORAGE);
  return r;
}

/**
 * State for actions that need the key: `run(action)` runs it at once when
 * the tab has a key, else shows {@linkcode KeyForm} and runs it once the key
 * is entered.
 */
export function useApiKey() {
  const [pending, setPending] = useState<((key: string) => Promise<void>) | null>(null);
  const run = (action: (key: string) => Promise<void>) => {
    const key = storedKey();
    if (key) action(key);
    else setPending(() => action);
  };
  const submit = (key: string) => {
    sessionStorage.setItem(KEY_STORAGE, key);
    const next = pending;
    setPending(null);
    next?.(key);
  };
  return { asking: pending !== null, run, submit };
}

/** The form asking for the key. */
export function KeyForm(p: { onKey: (key: string) => void }) {
  const [value, setValue] = useState("");
  return (
    <form
      class="controls"
      data-key-form
      onSubmit={(e) => {
        e.preventDefault();
        if (value.length === 0) return;
        setValue("");
        p.onKey(value);
      }}
    >
      <label>
        API key
        <input
          type="password"
          name="api-key"
          autocomplete="off"
          value={value}
          onInput={(e) => setValue((e.currentTarget as HTMLInputElement).value)}
        />
      </label>
      <button type="submit">Use for this session</button>
      <span class="muted small">kept in this tab's session only, never saved</span>
    </form>
  );
}
