// CSV import of numbers: pick a file, send it as text/csv, and show what became of every row —
// created, updated, or rejected with the column at fault and why.

import { useState, type FormEvent } from 'react';
import { endpoints, errorMessage, type ImportReport } from '../../api';
import { ErrorBanner } from '../../ui';

export function ImportNumbers({ workspaceId, onImported }: { workspaceId: string; onImported: () => void }) {
  const [file, setFile] = useState<File | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [report, setReport] = useState<ImportReport | null>(null);

  async function submit(e: FormEvent) {
    e.preventDefault();
    if (!file) return;
    setBusy(true);
    setError(null);
    setReport(null);
    try {
      setReport(await endpoints.importNumbers(workspaceId, await file.text()));
      onImported();
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <div data-testid="numbers-import">
      <form className="form-row" onSubmit={submit}>
        <label>
          Import a CSV file
          <input type="file" accept=".csv,text/csv" onChange={(e) => setFile(e.target.files?.[0] ?? null)} data-testid="numbers-import-file" />
        </label>
        <button className="btn" type="submit" disabled={busy || !file} data-testid="numbers-import-submit">
          {busy ? 'Importing…' : 'Import'}
        </button>
      </form>
      <p className="hint">
        Columns: e164 (or phone) and account_sid, then optionally sms, mms, campaign_10dlc, mps, daily_cap, state.
      </p>
      <ErrorBanner message={error} testId="numbers-import-error" />
      {report && (
        <div data-testid="import-report">
          <p role="status" data-testid="import-summary">
            {report.created} created, {report.updated} updated, {report.rejected} rejected
            {report.ignored_columns.length > 0 && ` (ignored columns: ${report.ignored_columns.join(', ')})`}
          </p>
          <div className="table-wrap">
            <table className="table" data-testid="import-results">
              <thead>
                <tr>
                  <th>Row</th>
                  <th>Number</th>
                  <th>Result</th>
                  <th>Reason</th>
                </tr>
              </thead>
              <tbody>
                {report.rows.map((r) => (
                  <tr key={r.row} data-testid="import-row" data-row={r.row} data-status={r.status}>
                    <td>{r.row}</td>
                    <td className="mono">{r.e164 ?? '—'}</td>
                    <td>
                      <span className={`badge ${r.status === 'rejected' ? 'outcome-denied' : 'outcome-ok'}`}>{r.status}</span>
                    </td>
                    <td data-testid="import-reason">{r.reason ?? ''}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </div>
      )}
    </div>
  );
}
