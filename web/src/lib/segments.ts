// How many SMS segments a body costs, counted exactly as the server does
// (sender/src/twilio/segments.rs): GSM-7 when every character is in the GSM 03.38 alphabet
// (extension characters take an escape and count 2) — 160 septets in one segment, 153 per part
// when concatenated; anything else is UCS-2 in UTF-16 code units — 70 in one, 67 per part.
// A part never splits an escape pair or a surrogate pair.

export type Encoding = 'gsm7' | 'ucs2';

export interface SegmentCount {
  encoding: Encoding;
  /** Septets for GSM-7, UTF-16 code units for UCS-2. */
  units: number;
  /** At least 1: even an empty body is one message. */
  segments: number;
}

const GSM7_BASIC =
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?' +
  '¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà';
const GSM7_EXTENSION = '\f^{}\\[~]|€';

/** Septets a character costs in GSM-7, or null when it is not in the alphabet. */
function gsm7Cost(c: string): number | null {
  if (GSM7_BASIC.includes(c)) return 1;
  if (GSM7_EXTENSION.includes(c)) return 2;
  return null;
}

/** GSM-7 when every character is in its alphabet, else UCS-2. */
export function encodingOf(body: string): Encoding {
  for (const c of body) if (gsm7Cost(c) === null) return 'ucs2';
  return 'gsm7';
}

/** The characters (each once, in order) that force a body into UCS-2. */
export function nonGsmCharacters(body: string): string[] {
  const out: string[] = [];
  for (const c of body) if (gsm7Cost(c) === null && !out.includes(c)) out.push(c);
  return out;
}

/** The encoding, length in units and number of segments of `body`. */
export function countSegments(body: string): SegmentCount {
  const encoding = encodingOf(body);
  const [single, perPart] = encoding === 'gsm7' ? [160, 153] : [70, 67];
  const cost = (c: string) => (encoding === 'gsm7' ? (gsm7Cost(c) ?? 1) : c.length);
  let units = 0;
  for (const c of body) units += cost(c);
  if (units <= single) return { encoding, units, segments: 1 };
  let segments = 1;
  let used = 0;
  for (const c of body) {
    const n = cost(c);
    if (used + n > perPart) {
      segments += 1;
      used = 0;
    }
    used += n;
  }
  return { encoding, units, segments };
}
