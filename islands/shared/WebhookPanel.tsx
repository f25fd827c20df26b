/**
 * System Status's incident webhook panel: queued, retrying, delivered and
 * dead-lettered counts, and the dead-lettered notifications with the reason
 * each was given up on (`GET /api/v1/webhooks`), refreshed with the board.
 * Receivers are shown by their place in ALERT_WEBHOOK_URL, never by URL.
 *
 * @module
 */
import { useEffect, useState } from "preact/hooks";
import { apiJson } from "./api.ts";
import { fmtDateTime, fmtInt } from "./format.ts";
import { V1 } from "./paths.ts";
import type { WebhookStatus } from "../../routes/api/webhooks.ts";

export type { WebhookStatus };

function Count(p: { id: string; label: string; value: number | null; tone?: string }) {
  return (
    <div class={`card kpi${p.tone ? ` ${p.tone}` : ""}`} data-webhook-count={p.id}>
      <span class="kpi-label">{p.label}</span>
      <span class="kpi-value">{p.value === null ? "–" : fmtInt(p.value)}</span>
    </div>
  );
}

/** The panel; polls every `pollMs`. */
export function WebhookPanel(p: { initial: WebhookStatus; pollMs: number }) {
  const [w, setW] = useState(p.initial);
  const [problem, setProblem] = useState<string | null>(null);
  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout>;
    const poll = async () => {
      const r = await apiJson<WebhookStatus>(V1.webhooks);
      if (stopped) return;
      if (r.ok) {
        setW(r.value);
        setProblem(null);
      } else setProblem(`cannot refresh: ${r.error}`);
      timer = setTimeout(poll, p.pollMs);
    };
    timer = setTimeout(poll, Math.min(1000, p.pollMs));
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, []);
  const st = w.stats;
  return (
    <div class="stack" data-webhooks>
      <p class="muted small">
        {`${w.receivers} receiver(s), ${w.format} format; each notification is tried up to ${w.max_attempts} times (backoff 1 s doubling to 5 min), then dead-lettered.`}
        {st?.oldest_queued_at ? ` Oldest queued since ${fmtDateTime(st.oldest_queued_at)}.` : ""}
      </p>
      {problem ? <p class="notice bad">{problem}</p> : null}
      {st ? null : <p class="notice bad">The outbox could not be read.</p>}
      <div class="grid kpis">
        <Count id="queued" label="Queued" value={st?.queued ?? null} />
        <Count
          id="retrying"
          label="Retrying"
          value={st?.retrying ?? null}
          tone={st?.retrying ? "warn" : ""}
        />
        <Count id="delivered" label="Delivered" value={st?.delivered ?? null} />
        <Count
          id="dead"
          label="Dead-lettered"
          value={st?.dead_lettered ?? null}
          tone={st?.dead_lettered ? "bad" : ""}
        />
        <Count id="failed" label="Failed attempts" value={st?.failed_attempts ?? null} />
      </div>
      {w.dead_letters.length
        ? (
          <div class="table-scroll capped">
            <table class="table compact" data-dead-letters>
              <caption>dead-lettered notifications, newest first</caption>
              <thead>
                <tr>
                  <th>queued (UTC)</th>
                  <th>incident</th>
                  <th>event</th>
                  <th class="num">receiver</th>
                  <th class="num">attempts</th>
                  <th>reason</th>
                </tr>
              </thead>
              <tbody>
                {w.dead_letters.map((d) => (
                  <tr key={d.id} data-dead-letter={d.id}>
                    <td>{d.created_at ? fmtDateTime(d.created_at) : "–"}</td>
                    <td>
                      <a href={`/incidents/${encodeURIComponent(d.incident_id)}`}>
                        {`${d.symbol} ${d.type.replace(/_/g, " ")}`}
                      </a>
                    </td>
                    <td>{d.kind}</td>
                    <td class="num">#{d.receiver}</td>
                    <td class="num">{fmtInt(d.attempts)}</td>
                    <td data-reason>{d.reason}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )
        : <p class="muted small" data-dead-letters-empty>No notification was dead-lettered.</p>}
    </div>
  );
}
