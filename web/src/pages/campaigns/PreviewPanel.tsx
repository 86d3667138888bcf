// The dry run: what would happen to every audience lead if the campaign started now — counts
// per verdict (zeros included), segments and estimated cost of what will go, and per recipient
// the rendered text, encoding, segments, cost and skip reason. The engine uses the same function.

import { useCallback, useEffect, useState } from 'react';
import { sender, type Preview, type PreviewItem } from '../../senderApi';
import { formatCount, formatUsd, Loading, ProblemBanner, problemOf, type Problem } from '../../ui';
import { VERDICT_HINTS, verdictLabel } from './labels';

export function PreviewPanel({ workspaceId, campaignId, version }: { workspaceId: string; campaignId: string; version: number }) {
  const [preview, setPreview] = useState<Preview | null>(null);
  const [items, setItems] = useState<PreviewItem[]>([]);
  const [verdict, setVerdict] = useState('');
  const [problem, setProblem] = useState<Problem | null>(null);
  const [loading, setLoading] = useState(false);

  const load = useCallback(
    async (cursor: string | null) => {
      setLoading(true);
      try {
        const p = await sender.preview(workspaceId, campaignId, { cursor, limit: 50, verdict: verdict || undefined });
        setPreview(p);
        setItems((old) => (cursor ? [...old, ...p.items] : p.items));
        setProblem(null);
      } catch (e) {
        setProblem(problemOf(e));
      } finally {
        setLoading(false);
      }
    },
    [workspaceId, campaignId, verdict],
  );

  useEffect(() => {
    void load(null);
  }, [load, version]);

  return (
    <section className="card" data-testid="preview">
      <div className="page-header">
        <div>
          <h2>Dry run</h2>
          <p className="hint">What would happen to each lead of the audience if the campaign started now. Nothing is sent.</p>
        </div>
        <button className="btn btn-sm" onClick={() => void load(null)} disabled={loading} data-testid="preview-refresh">
          {loading ? 'Running…' : 'Run again'}
        </button>
      </div>
      <ProblemBanner problem={problem} testId="preview-error" />
      {!preview && loading && <Loading label="Planning every recipient…" />}
      {preview && (
        <>
          <p data-testid="preview-summary" data-total={preview.total} data-segments={preview.segments}>
            <strong>{formatCount(preview.total)}</strong> leads in the audience ·{' '}
            <strong>{formatCount(preview.segments)}</strong> segments to send · estimated <strong>{formatUsd(preview.cost_usd)}</strong>{' '}
            <span className="muted">(US long-code rate per segment, carrier fees excluded)</span>
          </p>
          <div className="counts" data-testid="preview-counts">
            {Object.entries(preview.counts).map(([v, n]) => (
              <button
                key={v}
                type="button"
                className={`count-chip${n === 0 ? ' zero' : ''}`}
                title={VERDICT_HINTS[v]}
                onClick={() => setVerdict((cur) => (cur === v ? '' : v))}
                aria-pressed={verdict === v}
                data-testid="preview-count"
                data-verdict={v}
                data-count={n}
              >
                {verdictLabel(v)}
                <strong>{formatCount(n)}</strong>
              </button>
            ))}
          </div>
          <div className="form-row filters">
            <label>
              Show
              <select value={verdict} onChange={(e) => setVerdict(e.target.value)} data-testid="preview-filter">
                <option value="">Every recipient</option>
                {Object.keys(preview.counts).map((v) => (
                  <option key={v} value={v}>
                    {verdictLabel(v)}
                  </option>
                ))}
              </select>
            </label>
          </div>
          <div className="table-wrap">
            <table className="table" data-testid="preview-table">
              <thead>
                <tr>
                  <th>Recipient</th>
                  <th>From</th>
                  <th>Message</th>
                  <th>Encoding</th>
                  <th>Segments</th>
                  <th>Cost</th>
                  <th>Outcome</th>
                </tr>
              </thead>
              <tbody>
                {items.map((it) => (
                  <tr key={it.lead_id} data-testid="preview-row" data-phone={it.phone} data-verdict={it.verdict}>
                    <td className="mono">
                      {it.phone}
                      <div className="muted">{it.time_zone}</div>
                    </td>
                    <td className="mono">{it.from_number ?? '—'}</td>
                    <td className="body-cell" data-testid="preview-body">
                      {it.body ?? <span className="muted">—</span>}
                    </td>
                    <td>{it.encoding === 'gsm7' ? 'GSM-7' : it.encoding === 'ucs2' ? 'UCS-2' : '—'}</td>
                    <td>{it.body ? it.segments : '—'}</td>
                    <td>{it.body ? formatUsd(it.cost_usd) : '—'}</td>
                    <td>
                      <span className={`badge ${it.verdict === 'send' ? 'outcome-ok' : ''}`} title={VERDICT_HINTS[it.verdict]} data-testid="preview-verdict">
                        {verdictLabel(it.verdict)}
                      </span>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
            {items.length === 0 && (
              <p className="muted pad" data-testid="preview-empty">
                {preview.total === 0 ? 'No lead matches the audience.' : 'No recipient with this outcome.'}
              </p>
            )}
          </div>
          {preview.next_cursor && (
            <div className="pager">
              <button className="btn btn-sm" onClick={() => void load(preview.next_cursor)} disabled={loading} data-testid="preview-more">
                Show more
              </button>
            </div>
          )}
        </>
      )}
    </section>
  );
}
