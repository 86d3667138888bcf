// CSV import of a suppression list (opt-outs or DNC): what became of every row — accepted,
// already listed, or rejected with the column at fault and why.

import type { SuppressionReport, SuppressionRow } from '../../senderApi';
import { CsvImport } from '../../lib/csvImport';

export function SuppressionImport({ kind, columns, run, onImported }: { kind: string; columns: string; run: (csv: string) => Promise<SuppressionReport>; onImported: () => void }) {
  return (
    <CsvImport<SuppressionRow, SuppressionReport>
      testId={`${kind}-import`}
      reportPrefix="suppression"
      columns={columns}
      run={run}
      onImported={onImported}
      summary={(r) => `${r.accepted} accepted, ${r.already_listed} already listed, ${r.rejected} rejected`}
      subject={{ heading: 'Phone', of: (r) => r.phone }}
      reason={(r) => (
        <>
          {r.field && <code>{r.field}</code>}
          {r.field && r.reason && ': '}
          {r.reason ?? ''}
        </>
      )}
    />
  );
}
