// A CSV import: pick a file, send it as text/csv, and show what became of every row (the
// server answers each one: landed, or rejected with the column at fault and why). Numbers and
// the suppression lists (opt-outs, DNC) use it; each says how to summarize its report, which
// value names a row and how to show a row's reason.

import { useState, type FormEvent, type ReactNode } from 'react';
import { ProblemBanner, problemOf, type Problem } from '../ui';

/** One answered source row; `row` is its line in the file (the header is line 1). */
export interface ImportedRow {
  row: number;
  status: string;
}

export interface ImportReportOf<R extends ImportedRow> {
  rows: R[];
  ignored_columns: string[];
}

export interface CsvImportProps<R extends ImportedRow, Rep extends ImportReportOf<R>> {
  /** The form's test id; the file input, button and error add `-file`, `-submit`, `-error`. */
  testId: string;
  /** The report's test ids: `<prefix>-report`, `-summary`, `-results`, `-row`, `-reason`. */
  reportPrefix: string;
  /** The columns the format takes, shown under the form. */
  columns: string;
  run: (csv: string) => Promise<Rep>;
  onImported: () => void;
  /** The counts, e.g. "2 created, 0 updated, 1 rejected". */
  summary: (report: Rep) => string;
  /** The column that names a row (heading, and its value when it parsed). */
  subject: { heading: string; of: (row: R) => string | undefined };
  reason: (row: R) => ReactNode;
}

export function CsvImport<R extends ImportedRow, Rep extends ImportReportOf<R>>({
  testId,
  reportPrefix,
  columns,
  run,
  onImported,
  summary,
  subject,
  reason,
}: CsvImportProps<R, Rep>) {
  const [file, setFile] = useState<File | null>(null);
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [report, setReport] = useState<Rep | null>(null);

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
    <div className="import-block" data-testid={testId}>
      <form className="form-row" onSubmit={submit}>
        <label>
          Import a CSV file
          <input type="file" accept=".csv,text/csv" onChange={(e) => setFile(e.target.files?.[0] ?? null)} data-testid={`${testId}-file`} />
        </label>
        <button className="btn" type="submit" disabled={busy || !file} data-testid={`${testId}-submit`}>
          {busy ? 'Importing…' : 'Import'}
        </button>
      </form>
      <p className="hint">{columns}</p>
      <ProblemBanner problem={problem} testId={`${testId}-error`} />
      {report && (
        <div data-testid={`${reportPrefix}-report`}>
          <p role="status" data-testid={`${reportPrefix}-summary`}>
            {summary(report)}
            {report.ignored_columns.length > 0 && ` (ignored columns: ${report.ignored_columns.join(', ')})`}
          </p>
          <div className="table-wrap">
            <table className="table" data-testid={`${reportPrefix}-results`}>
              <thead>
                <tr>
                  <th>Row</th>
                  <th>{subject.heading}</th>
                  <th>Result</th>
                  <th>Reason</th>
                </tr>
              </thead>
              <tbody>
                {report.rows.map((r) => (
                  <tr key={r.row} data-testid={`${reportPrefix}-row`} data-row={r.row} data-status={r.status}>
                    <td>{r.row}</td>
                    <td className="mono">{subject.of(r) ?? '—'}</td>
                    <td>
                      <span className={`badge ${r.status === 'rejected' ? 'outcome-denied' : 'outcome-ok'}`}>{r.status.replace('_', ' ')}</span>
                    </td>
                    <td data-testid={`${reportPrefix}-reason`}>{reason(r)}</td>
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
