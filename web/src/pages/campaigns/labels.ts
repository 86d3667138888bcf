// Words for the engine's verdicts and counters, as the console shows them.

export const VERDICT_LABELS: Record<string, string> = {
  send: 'Will send',
  opted_out: 'Opted out',
  dnc: 'On the DNC list',
  invalid: 'Invalid phone',
  landline: 'Landline',
  pair_cooldown: 'Pair cooldown',
  recipient_cooldown: 'Recipient cooldown',
  daily_limit: 'Daily limit (later)',
  outside_hours: 'Outside hours (later)',
  template: 'Template value missing',
  no_number: 'No number in the pool',
};

export const VERDICT_HINTS: Record<string, string> = {
  send: 'Goes out when the campaign starts.',
  opted_out: 'The recipient opted out (STOP, a revocation, the carrier or an import).',
  dnc: 'The phone is on the internal DNC list, alone or in a range.',
  invalid: 'The phone does not parse or was reported invalid by the carrier.',
  landline: 'The lead is a landline, or the carrier said so.',
  pair_cooldown: 'This number texted this recipient within the pair retext days.',
  recipient_cooldown: 'Any of our numbers texted this recipient within the recipient retext days.',
  daily_limit: 'The state’s per-24 h limit is reached; it goes when it opens again.',
  outside_hours: 'Outside the recipient’s allowed hours; it goes at the next opening.',
  template: 'A variable has no value for this lead and no fallback.',
  no_number: 'No active SMS number in the pool.',
};

export const verdictLabel = (v: string) => VERDICT_LABELS[v] ?? v;

export const COUNTER_LABELS: [key: 'materialized' | 'queued' | 'sent' | 'delivered' | 'undelivered' | 'failed' | 'unknown' | 'canceled' | 'replies' | 'opt_outs', label: string][] = [
  ['materialized', 'Planned'],
  ['queued', 'Queued'],
  ['sent', 'Sent'],
  ['delivered', 'Delivered'],
  ['undelivered', 'Undelivered'],
  ['failed', 'Failed'],
  ['unknown', 'Unknown'],
  ['canceled', 'Canceled'],
  ['replies', 'Replies'],
  ['opt_outs', 'Opt-outs'],
];
