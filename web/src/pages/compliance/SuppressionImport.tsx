// CSV import of a suppression list (opt-outs or DNC): send the file as text/csv and show what
// became of every row — accepted, already listed, or rejected with the column at fault and why.

import { useState, type FormEvent } from 'react';
import type { SuppressionReport } from '../../senderApi';
import { ProblemBanner, problemOf, type Problem } from '../../ui';

export function SuppressionImport({ kind, columns, run, onImported }: { kind: string; columns: string; run: (csv: string) => Promise<SuppressionReport>; onImported: () => void }) {
  const [file, setFile] = useState<File | null>(null);
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [report, setReport] = useState<SuppressionReport | null>(null);

  async function submit(e: FormEvent) {
    e.preventDefault();
    if (!file) return;
    setBusy(true);
    setProblem(null);
    setReport(null);
    try {
      setReport(await run(await file.text()));
      onImported();
    } catch (err) {
      setProblem(problemOf(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className="import-block" data-testid={`${kind}-import`}>
      <form className="form-row" onSubmit={submit}>
        <label>
          Import a CSV file
          <input type="file" accept=".csv,text/csv" onChange={(e) => setFile(e.target.files?.[0] ?? null)} data-testid={`${kind}-import-file`} />
        </label>
        <button className="btn" type="submit" disabled={busy || !file} data-testid={`${kind}-import-submit`}>
          {busy ? 'Importing…' : 'Import'}
        </button>
      </form>
      <p className="hint">{columns}</p>
      <ProblemBanner problem={problem} testId={`${kind}-import-error`} />
      {report && (
        <div data-testid="suppression-report">
          <p role="status" data-testid="suppression-summary">
            {report.accepted} accepted, {report.already_listed} already listed, {report.rejected} rejected
            {report.ignored_columns.length > 0 && ` (ignored columns: ${report.ignored_columns.join(', ')})`}
          </p>
          <div className="table-wrap">
            <table className="table" data-testid="suppression-results">
              <thead>
                <tr>
                  <th>Row</th>
                  <th>Phone</th>
                  <th>Result</th>
                  <th>Reason</th>
                </tr>
              </thead>
              <tbody>
                {report.rows.map((r) => (
                  <tr key={r.row} data-testid="suppression-row" data-row={r.row} data-status={r.status}>
                    <td>{r.row}</td>
                    <td className="mono">{r.phone ?? '—'}</td>
                    <td>
                      <span className={`badge ${r.status === 'rejected' ? 'outcome-denied' : 'outcome-ok'}`}>{r.status.replace('_', ' ')}</span>
                    </td>
                    <td data-testid="suppression-reason">
                      {r.field && <code>{r.field}</code>}
                      {r.field && r.reason && ': '}
                      {r.reason ?? ''}
                    </td>
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
