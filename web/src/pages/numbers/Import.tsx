// CSV import of numbers: what became of every row — created, updated, or rejected with the
// column at fault and why (the server's reason names the column).

import { endpoints, type ImportReport, type ImportRowResult } from '../../api';
import { CsvImport } from '../../lib/csvImport';

export function ImportNumbers({ workspaceId, onImported }: { workspaceId: string; onImported: () => void }) {
  return (
    <CsvImport<ImportRowResult, ImportReport>
      testId="numbers-import"
      reportPrefix="import"
      columns="Columns: e164 (or phone) and account_sid, then optionally sms, mms, campaign_10dlc, mps, daily_cap, state."
      run={(csv) => endpoints.importNumbers(workspaceId, csv)}
      onImported={onImported}
      summary={(r) => `${r.created} created, ${r.updated} updated, ${r.rejected} rejected`}
      subject={{ heading: 'Number', of: (r) => r.e164 }}
      reason={(r) => r.reason ?? ''}
    />
  );
}
