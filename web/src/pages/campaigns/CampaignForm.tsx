// Create or edit a campaign's content: name, audience (a saved lead filter), steps with template
// variants (live segment meter each) and follow-up delays, number pool, retext policy, opt-out
// language and crusade. The server checks everything; its error names the field, which is marked.

import { useEffect, useState, type FormEvent } from 'react';
import { endpoints, type PhoneNumber } from '../../api';
import { sender, type Campaign, type CampaignInput, type Crusade, type Step } from '../../senderApi';
import { ProblemBanner, problemOf, type Problem } from '../../ui';
import { TemplateField } from './TemplateField';

const list = (text: string) =>
  text
    .split(/[,\s]+/)
    .map((s) => s.trim())
    .filter(Boolean);

const DEFAULT_STEP: Step = { after_days: 0, templates: [''] };

export function CampaignForm({
  workspaceId,
  campaign,
  onSaved,
  onCancel,
}: {
  workspaceId: string;
  campaign?: Campaign;
  onSaved: (c: Campaign) => void;
  onCancel: () => void;
}) {
  const [name, setName] = useState(campaign?.name ?? '');
  const [tags, setTags] = useState((campaign?.audience.tags ?? []).join(', '));
  const [states, setStates] = useState((campaign?.audience.states ?? []).join(', '));
  const [areaCodes, setAreaCodes] = useState((campaign?.audience.area_codes ?? []).join(', '));
  const [audienceVertical, setAudienceVertical] = useState(campaign?.audience.vertical ?? '');
  const [steps, setSteps] = useState<Step[]>(campaign?.steps ?? [DEFAULT_STEP]);
  const [pool, setPool] = useState<string[]>(campaign?.number_pool ?? []);
  const [recipientDays, setRecipientDays] = useState(String(campaign?.retext_recipient_days ?? 30));
  const [pairDays, setPairDays] = useState(String(campaign?.retext_pair_days ?? 90));
  const [optOut, setOptOut] = useState(campaign?.opt_out_language ?? 'Reply STOP to opt out.');
  const [crusadeId, setCrusadeId] = useState(campaign?.crusade_id ?? '');
  const [vertical, setVertical] = useState(campaign?.vertical ?? '');
  const [numbers, setNumbers] = useState<PhoneNumber[]>([]);
  const [crusades, setCrusades] = useState<Crusade[]>([]);
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);
  const isDraft = !campaign || campaign.status === 'draft';

  useEffect(() => {
    endpoints
      .numbers(workspaceId, { status: 'active' })
      .then((p) => setNumbers(p.numbers.filter((n) => n.sms)))
      .catch(() => setNumbers([]));
    sender
      .crusades(workspaceId)
      .then((r) => setCrusades(r.items))
      .catch(() => setCrusades([]));
  }, [workspaceId]);

  const setStep = (i: number, change: Partial<Step>) => setSteps((s) => s.map((st, j) => (j === i ? { ...st, ...change } : st)));
  const setVariant = (i: number, k: number, text: string) =>
    setSteps((s) => s.map((st, j) => (j === i ? { ...st, templates: st.templates.map((t, m) => (m === k ? text : t)) } : st)));

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setProblem(null);
    const body: CampaignInput = {
      name: name.trim(),
      steps,
      audience: {
        tags: list(tags),
        states: list(states).map((s) => s.toUpperCase()),
        area_codes: list(areaCodes),
        ...(audienceVertical.trim() ? { vertical: audienceVertical.trim() } : {}),
      },
      number_pool: pool,
      retext_recipient_days: Number(recipientDays),
      retext_pair_days: Number(pairDays),
      opt_out_language: optOut,
      vertical: vertical.trim() || null,
    };
    if (isDraft) body.crusade_id = crusadeId || null;
    try {
      const saved = campaign
        ? await sender.updateCampaign(workspaceId, campaign.id, body)
        : await sender.createCampaign(workspaceId, { ...body, crusade_id: crusadeId || undefined, vertical: vertical.trim() || undefined });
      onSaved(saved);
    } catch (err) {
      setProblem(problemOf(err));
    } finally {
      setBusy(false);
    }
  }

  const bad = (field: string) => problem?.field === field || undefined;

  return (
    <form className="form" onSubmit={submit} data-testid="campaign-form">
      <div className="form-row">
        <label>
          Name
          <input required value={name} maxLength={200} onChange={(e) => setName(e.target.value)} aria-invalid={bad('name')} data-testid="campaign-name" />
        </label>
        {isDraft && (
          <label>
            Crusade
            <select value={crusadeId} onChange={(e) => setCrusadeId(e.target.value)} data-testid="campaign-crusade">
              <option value="">None (its own schedule)</option>
              {crusades.map((c) => (
                <option key={c.id} value={c.id}>
                  {c.name} · {c.status}
                </option>
              ))}
            </select>
          </label>
        )}
        <label>
          Vertical (retext policy)
          <input value={vertical} placeholder="e.g. real_estate" onChange={(e) => setVertical(e.target.value)} data-testid="campaign-vertical" />
        </label>
      </div>

      <fieldset className="step" data-testid="campaign-audience">
        <legend>Audience — leads matching every given key (any of the tags); empty means every lead</legend>
        <div className="form-row">
          <label>
            Tags
            <input value={tags} placeholder="seller, hot" onChange={(e) => setTags(e.target.value)} aria-invalid={bad('audience.tags')} data-testid="audience-tags" />
          </label>
          <label>
            States
            <input value={states} placeholder="FL, NY" onChange={(e) => setStates(e.target.value)} aria-invalid={bad('audience.states')} data-testid="audience-states" />
          </label>
          <label>
            Area codes
            <input value={areaCodes} placeholder="305, 212" onChange={(e) => setAreaCodes(e.target.value)} aria-invalid={bad('audience.area_codes')} data-testid="audience-area-codes" />
          </label>
          <label>
            Lead vertical
            <input value={audienceVertical} placeholder="any" onChange={(e) => setAudienceVertical(e.target.value)} data-testid="audience-vertical" />
          </label>
        </div>
      </fieldset>

      <div>
        <h2>Steps</h2>
        <p className="hint">
          The first step goes at launch. A follow-up goes a number of days after the step before, to recipients who have not
          replied. Variants of a step are chosen per lead. Variables: <code>{'{{first_name}}'}</code>, with a fallback{' '}
          <code>{'{{first_name|there}}'}</code>; a lead with no value and no fallback is skipped.
        </p>
        {steps.map((step, i) => (
          <div className="step" key={i} data-testid="campaign-step" data-step={i}>
            <div className="step-head">
              <strong>{i === 0 ? 'Step 1 — at launch' : `Step ${i + 1} — follow-up`}</strong>
              {i > 0 && (
                <label className="check">
                  after
                  <input
                    type="number"
                    min={1}
                    max={365}
                    value={step.after_days}
                    onChange={(e) => setStep(i, { after_days: Number(e.target.value) })}
                    aria-invalid={bad(`steps[${i}].after_days`)}
                    style={{ width: 80 }}
                    data-testid="step-after-days"
                  />
                  days without a reply
                </label>
              )}
              {i > 0 && (
                <button type="button" className="btn btn-sm btn-danger" onClick={() => setSteps((s) => s.filter((_, j) => j !== i))} data-testid="step-remove">
                  Remove step
                </button>
              )}
            </div>
            {step.templates.map((t, k) => (
              <div key={k}>
                <TemplateField
                  label={step.templates.length > 1 ? `Variant ${k + 1}` : 'Message'}
                  value={t}
                  onChange={(v) => setVariant(i, k, v)}
                  optOutLanguage={i === 0 ? optOut : ''}
                  invalid={bad(`steps[${i}].templates[${k}]`)}
                  testId="step-template"
                />
                {step.templates.length > 1 && (
                  <button
                    type="button"
                    className="link-btn"
                    onClick={() => setStep(i, { templates: step.templates.filter((_, m) => m !== k) })}
                    data-testid="variant-remove"
                  >
                    Remove variant
                  </button>
                )}
              </div>
            ))}
            {step.templates.length < 10 && (
              <button type="button" className="btn btn-sm" onClick={() => setStep(i, { templates: [...step.templates, ''] })} data-testid="variant-add">
                Add variant
              </button>
            )}
          </div>
        ))}
        {steps.length < 10 && (
          <button type="button" className="btn btn-sm" onClick={() => setSteps((s) => [...s, { after_days: 3, templates: [''] }])} data-testid="step-add">
            Add follow-up step
          </button>
        )}
      </div>

      <div className="form-row">
        <label className="wide">
          Opt-out language (appended after a newline to the first message a recipient ever gets from us)
          <input value={optOut} maxLength={200} onChange={(e) => setOptOut(e.target.value)} aria-invalid={bad('opt_out_language')} data-testid="campaign-opt-out" />
        </label>
      </div>
      <div className="form-row">
        <label>
          Recipient retext days
          <input type="number" min={0} value={recipientDays} onChange={(e) => setRecipientDays(e.target.value)} aria-invalid={bad('retext_recipient_days')} data-testid="campaign-retext-recipient" />
        </label>
        <label>
          Pair retext days
          <input type="number" min={0} value={pairDays} onChange={(e) => setPairDays(e.target.value)} aria-invalid={bad('retext_pair_days')} data-testid="campaign-retext-pair" />
        </label>
      </div>
      <p className="hint">
        Recipient: no campaign texts the same person again within this many days. Pair: the same one of our numbers does not
        text the same person again within this many days.
      </p>

      <fieldset className="step" data-testid="campaign-pool">
        <legend>Number pool — none ticked: every active SMS number of the workspace</legend>
        {numbers.length === 0 ? (
          <p className="hint">No active SMS numbers. Add some under Numbers.</p>
        ) : (
          <div className="pool">
            {numbers.map((n) => (
              <label className="check" key={n.id}>
                <input
                  type="checkbox"
                  checked={pool.includes(n.id)}
                  onChange={(e) => setPool((p) => (e.target.checked ? [...p, n.id] : p.filter((x) => x !== n.id)))}
                  data-testid="pool-number"
                  data-e164={n.e164}
                />
                <span className="mono">{n.e164}</span>
                <span className="muted">{n.state ?? ''}</span>
              </label>
            ))}
          </div>
        )}
      </fieldset>

      <ProblemBanner problem={problem} testId="campaign-error" />
      <div className="section-actions">
        <button className="btn btn-primary" type="submit" disabled={busy} data-testid="campaign-save">
          {busy ? 'Saving…' : campaign ? 'Save changes' : 'Create draft'}
        </button>
        <button className="btn" type="button" onClick={onCancel} data-testid="campaign-form-cancel">
          Cancel
        </button>
      </div>
    </form>
  );
}
