// One template variant with its live meter: encoding (GSM-7 or UCS-2), length against the
// segment limit, the segment count, the variables it uses, the characters that force UCS-2 and
// syntax errors — measured on a sample body (each variable as its fallback, else its name; a
// first step with the opt-out language the server appends). The preview shows exact figures.

import { useMemo } from 'react';
import { countSegments, nonGsmCharacters } from '../../lib/segments';
import { parseTemplate, sampleBody, templateVariables, TemplateSyntaxError } from '../../lib/template';

export function measure(source: string, optOutLanguage: string) {
  try {
    const parts = parseTemplate(source);
    const body = sampleBody(parts, optOutLanguage);
    return { ok: true as const, variables: templateVariables(parts), count: countSegments(body), nonGsm: nonGsmCharacters(body) };
  } catch (e) {
    return { ok: false as const, error: e instanceof TemplateSyntaxError ? e.message : String(e) };
  }
}

export function TemplateField({
  value,
  onChange,
  optOutLanguage,
  label,
  testId,
  invalid,
}: {
  value: string;
  onChange: (v: string) => void;
  optOutLanguage: string;
  label: string;
  testId: string;
  invalid?: boolean;
}) {
  const m = useMemo(() => measure(value, optOutLanguage), [value, optOutLanguage]);
  return (
    <div className="variant">
      <label className="wide">
        {label}
        <textarea
          value={value}
          maxLength={1600}
          onChange={(e) => onChange(e.target.value)}
          aria-invalid={invalid || !m.ok || undefined}
          data-testid={testId}
          placeholder="Hi {{first_name|there}}, …"
        />
      </label>
      {m.ok ? (
        <div
          className="meter"
          data-testid="segment-meter"
          data-encoding={m.count.encoding}
          data-units={m.count.units}
          data-segments={m.count.segments}
        >
          <span>{m.count.encoding === 'gsm7' ? 'GSM-7' : 'UCS-2'}</span>
          <span>
            {m.count.segments === 1
              ? `${m.count.units} / ${m.count.encoding === 'gsm7' ? 160 : 70}`
              : `${m.count.units} ${m.count.encoding === 'gsm7' ? 'septets' : 'code units'} (${m.count.encoding === 'gsm7' ? 153 : 67} per part)`}
          </span>
          <span className={m.count.segments > 1 ? 'warn' : ''} data-testid="segment-count">
            {m.count.segments} segment{m.count.segments === 1 ? '' : 's'}
          </span>
          {m.nonGsm.length > 0 && <span className="warn">UCS-2 because of: {m.nonGsm.join(' ')}</span>}
          {m.variables.length > 0 && <span>variables: {m.variables.join(', ')}</span>}
          {optOutLanguage && <span>incl. opt-out language</span>}
        </div>
      ) : (
        <div className="meter">
          <span className="bad" data-testid="template-syntax-error">
            {m.error}
          </span>
        </div>
      )}
    </div>
  );
}
