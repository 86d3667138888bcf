// Message templates as the server reads them (sender/src/templates.rs): `{{first_name}}`
// variables, optionally with a fallback `{{first_name|there}}`; names are letters, digits and _,
// case-insensitive. The editor uses this to name syntax errors before saving and to build the
// sample body whose encoding and segments it shows live.

export type TemplatePart = { text: string } | { name: string; fallback: string | null };

export class TemplateSyntaxError extends Error {
  /** Character index (0-based) of the offending `{{`. */
  at: number;
  constructor(message: string, at: number) {
    super(message);
    this.at = at;
  }
}

/** Splits a template into text and variables; throws TemplateSyntaxError on bad syntax. */
export function parseTemplate(source: string): TemplatePart[] {
  const parts: TemplatePart[] = [];
  let rest = source;
  let offset = 0;
  for (;;) {
    const start = rest.indexOf('{{');
    if (start < 0) break;
    if (start > 0) parts.push({ text: rest.slice(0, start) });
    const after = rest.slice(start + 2);
    const end = after.indexOf('}}');
    if (end < 0) throw new TemplateSyntaxError(`Unclosed “{{” at character ${offset + start + 1}.`, offset + start);
    const inner = after.slice(0, end);
    const bar = inner.indexOf('|');
    const name = (bar < 0 ? inner : inner.slice(0, bar)).trim();
    const fallback = bar < 0 ? null : inner.slice(bar + 1).trim();
    if (!/^[A-Za-z0-9_]+$/.test(name)) {
      throw new TemplateSyntaxError(
        `Empty or invalid variable name at character ${offset + start + 1}; use letters, digits and _.`,
        offset + start,
      );
    }
    parts.push({ name: name.toLowerCase(), fallback });
    const consumed = start + 2 + end + 2;
    offset += consumed;
    rest = rest.slice(consumed);
  }
  if (rest) parts.push({ text: rest });
  return parts;
}

/** The variable names a template uses, in order of first use. */
export function templateVariables(parts: TemplatePart[]): string[] {
  const names: string[] = [];
  for (const p of parts) if ('name' in p && !names.includes(p.name)) names.push(p.name);
  return names;
}

/**
 * Renders with `values` (blank counts as missing), falling back to each variable's fallback.
 * Returns the body and the variables that had neither (the server skips such a recipient with
 * reason `template`).
 */
export function renderTemplate(parts: TemplatePart[], values: Record<string, string>): { body: string; missing: string[] } {
  let body = '';
  const missing: string[] = [];
  for (const p of parts) {
    if ('text' in p) {
      body += p.text;
      continue;
    }
    const v = values[p.name]?.trim();
    const value = v ? v : p.fallback;
    if (value !== null) body += value;
    else if (!missing.includes(p.name)) missing.push(p.name);
  }
  return { body, missing };
}

/**
 * The body the live counter measures: each variable as its fallback, or as its sample value,
 * or (neither given) as its own name; plus the opt-out language after a newline when given
 * (the server appends it to a first message).
 */
export function sampleBody(parts: TemplatePart[], optOutLanguage = '', samples: Record<string, string> = {}): string {
  const values: Record<string, string> = {};
  for (const name of templateVariables(parts)) values[name] = samples[name] ?? '';
  let body = '';
  for (const p of parts) {
    if ('text' in p) body += p.text;
    else body += values[p.name]?.trim() || (p.fallback ?? p.name);
  }
  return optOutLanguage ? `${body}\n${optOutLanguage}` : body;
}
