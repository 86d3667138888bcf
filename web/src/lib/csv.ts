// A small RFC 4180 reader (quoted fields, doubled quotes, CRLF) and the leads bulk-add format:
// a header row naming the columns, then one lead per line. Known columns become lead fields;
// any other column goes into `attributes`. The server checks every value and answers per row.

/** The rows of a CSV text, each a list of fields; blank lines are dropped. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  let i = 0;
  const endRow = () => {
    row.push(field);
    if (!(row.length === 1 && row[0].trim() === '')) rows.push(row);
    row = [];
    field = '';
  };
  while (i < text.length) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i += 2;
        continue;
      }
      if (c === '"') quoted = false;
      else field += c;
      i += 1;
      continue;
    }
    if (c === '"' && field === '') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i += 1;
      endRow();
    } else field += c;
    i += 1;
  }
  if (field !== '' || row.length > 0) endRow();
  return rows;
}

export const LEAD_COLUMNS = ['phone', 'first_name', 'last_name', 'state', 'time_zone', 'tags', 'vertical', 'line_type'] as const;

export interface LeadInput {
  phone: string;
  first_name?: string;
  last_name?: string;
  state?: string;
  time_zone?: string;
  tags?: string[];
  vertical?: string;
  line_type?: string;
  attributes?: Record<string, string>;
}

/** The result of reading a bulk-add text: the leads, or why the text cannot be read. */
export type LeadsCsv = { leads: LeadInput[]; line_of: number[]; error?: undefined } | { error: string };

/**
 * Reads leads from CSV with a header row. `tags` may hold several, separated by `;` or `|`.
 * Empty cells are left out. `line_of[i]` is the text line (1-based) of lead i, for messages.
 */
export function parseLeadsCsv(text: string): LeadsCsv {
  const rows = parseCsv(text);
  if (rows.length === 0) return { error: 'Paste a header row (phone, first_name, …) and at least one lead.' };
  const header = rows[0].map((h) => h.trim().toLowerCase());
  if (!header.includes('phone')) return { error: 'The header row needs a “phone” column.' };
  const leads: LeadInput[] = [];
  const line_of: number[] = [];
  rows.slice(1).forEach((cells, i) => {
    const lead: LeadInput = { phone: '' };
    const attributes: Record<string, string> = {};
    header.forEach((col, j) => {
      const v = (cells[j] ?? '').trim();
      if (!v) return;
      if (col === 'tags') lead.tags = v.split(/[;|]/).map((t) => t.trim()).filter(Boolean);
      else if ((LEAD_COLUMNS as readonly string[]).includes(col)) (lead as unknown as Record<string, string>)[col] = v;
      else if (col) attributes[col] = v;
    });
    if (Object.keys(attributes).length) lead.attributes = attributes;
    leads.push(lead);
    line_of.push(i + 2);
  });
  if (leads.length === 0) return { error: 'No leads below the header row.' };
  return { leads, line_of };
}
