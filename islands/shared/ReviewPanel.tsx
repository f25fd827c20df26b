/**
 * The incident page's review panel: acknowledge, mark a true or false
 * positive, mute the symbol's webhooks for a while. Writing needs the API
 * key: the panel asks for it once per browser session and keeps it in
 * `sessionStorage` only (gone when the tab closes; never in a cookie, never
 * in `localStorage`); a 401 forgets it and asks again.
 *
 * @module
 */
import { useState } from "preact/hooks";
import { KeyForm, useApiKey, withBearer } from "./apiKey.tsx";
import { fmtDateTime } from "./format.ts";

/** An incident's review as the API returns it. */
export interface Review {
  incident_id: string;
  acknowledged: boolean;
  verdict: "true_positive" | "false_positive" | null;
  note: string | null;
  updated_at: string;
}

/** Props of {@linkcode ReviewPanel}. */
export interface ReviewPanelProps {
  incidentId: string;
  symbol: string;
  review: Review | null;
  /** end of the symbol's mute (epoch ms), or null */
  mutedUntil: number | null;
  /** false when SENTINEL_API_KEY is not configured (writing is disabled) */
  adminEnabled: boolean;
}

const MUTES = [15, 60, 360] as const;

/** The panel. */
export function ReviewPanel(p: ReviewPanelProps) {
  const [review, setReview] = useState(p.review);
  const [mutedUntil, setMutedUntil] = useState(p.mutedUntil);
  const key = useApiKey();
  const [problem, setProblem] = useState<string | null>(null);

  /** Runs `call` with the key (asked for first when this tab has none). */
  const withKey = (call: (key: string) => Promise<boolean>) =>
    key.run(async (k) => {
      setProblem(null);
      await call(k);
    });

  const send = async <T,>(k: string, path: string, method: string, body?: unknown) => {
    const r = await withBearer<T>(k, path, method, body);
    if (!r.ok) {
      setProblem(
        r.status === 401
          ? "The API key was refused; enter it again."
          : `${r.error}${r.detail ? `: ${r.detail}` : ""}`,
      );
      return null;
    }
    return r.value;
  };

  const reviewPath = `/incidents/${encodeURIComponent(p.incidentId)}/review`;
  const update = (body: Record<string, unknown>) =>
    withKey(async (k) => {
      const r = await send<Review>(k, reviewPath, "POST", body);
      if (r) setReview(r);
      return r !== null;
    });
  const mute = (minutes: number | null) =>
    withKey(async (k) => {
      if (minutes === null) {
        const r = await send(k, `/mutes/${p.symbol}`, "DELETE");
        if (r) setMutedUntil(null);
        return r !== null;
      }
      const r = await send<{ until_ms: number }>(k, "/mutes", "POST", {
        symbol: p.symbol,
        minutes,
      });
      if (r) setMutedUntil(r.until_ms);
      return r !== null;
    });

  const verdictLabel = review?.verdict === "true_positive"
    ? "true positive"
    : review?.verdict === "false_positive"
    ? "false positive"
    : "not judged";

  return (
    <section class="card" aria-labelledby="review-h" data-review>
      <h3 id="review-h">Review</h3>
      <p class="small" data-review-state>
        {review?.acknowledged ? "Acknowledged" : "Not acknowledged"} · {verdictLabel}
        {review ? ` · ${fmtDateTime(review.updated_at)}` : ""}
        {mutedUntil ? ` · ${p.symbol} muted until ${fmtDateTime(mutedUntil)}` : ""}
      </p>
      {p.adminEnabled
        ? (
          <div class="controls">
            <button
              type="button"
              data-act="ack"
              aria-pressed={review?.acknowledged ?? false}
              onClick={() => update({ acknowledged: !(review?.acknowledged ?? false) })}
            >
              {review?.acknowledged ? "Unacknowledge" : "Acknowledge"}
            </button>
            <button
              type="button"
              data-act="true_positive"
              aria-pressed={review?.verdict === "true_positive"}
              onClick={() => update({ verdict: "true_positive" })}
            >
              True positive
            </button>
            <button
              type="button"
              data-act="false_positive"
              aria-pressed={review?.verdict === "false_positive"}
              onClick={() => update({ verdict: "false_positive" })}
            >
              False positive
            </button>
            {mutedUntil
              ? (
                <button type="button" data-act="unmute" onClick={() => mute(null)}>
                  Unmute {p.symbol}
                </button>
              )
              : MUTES.map((m) => (
                <button
                  key={m}
                  type="button"
                  data-act={`mute-${m}`}
                  onClick={() => mute(m)}
                >
                  Mute {p.symbol} {m < 60 ? `${m} min` : `${m / 60} h`}
                </button>
              ))}
          </div>
        )
        : (
          <p class="muted small">
            Reviewing is disabled: set SENTINEL_API_KEY on the server to enable it.
          </p>
        )}
      {key.asking ? <KeyForm onKey={key.submit} /> : null}
      {problem ? <p class="notice bad" data-review-problem>{problem}</p> : null}
    </section>
  );
}
