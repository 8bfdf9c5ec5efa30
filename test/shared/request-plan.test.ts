// The one request plan (shared/request-plan.ts) on its own: defaults from the
// manifest, every bound at its edge, labels and guidance, the schedule's step
// limit, unknown fields, and one RequestError listing every problem at once.
import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { LIBRARY_LIMITS, planRequest, type PlanManifest } from '../../shared/request-plan.ts';
import { RequestError } from '../../shared/request-error.ts';

const model: PlanManifest = { name: 'm', sampler: { name: 'ddim', steps: 15, eta: 0.5 }, schedule: { kind: 'cosine', T: 300 } };
const labelled: PlanManifest = { ...model, name: 'lab', labels: ['t1', 'ct'], sampler: { name: 'ddim', steps: 15, guidance: 2 } };
const limits = { maxCount: 4, maxSteps: 50 };

/** The issues planRequest throws for `raw`. */
function issues(raw: unknown, manifest: PlanManifest = model, opts = {}) {
  try {
    planRequest(raw, manifest, opts);
  } catch (e) {
    expect(e).toBeInstanceOf(RequestError);
    return (e as RequestError).issues;
  }
  throw new Error('planned without an error');
}

describe('planRequest', () => {
  it("fills every absent field from the manifest's defaults and the library's", () => {
    expect(planRequest({}, model)).toEqual({ count: 1, steps: 15, sampler: 'ddim', eta: 0.5, seed: 0, guidance: 1 });
    expect(planRequest({}, { ...model, sampler: { name: 'ddpm', steps: 7 } })).toEqual({ count: 1, steps: 7, sampler: 'ddpm', eta: 0, seed: 0, guidance: 1 });
    expect(planRequest({}, model, { defaultSeed: () => 42 }).seed).toBe(42);
  });

  it('keeps what was asked for', () => {
    expect(planRequest({ count: 3, steps: 20, sampler: 'dpm-solver++', eta: 1, seed: 9, guidance: 1 }, model)).toEqual({ count: 3, steps: 20, sampler: 'dpm-solver++', eta: 1, seed: 9, guidance: 1 });
  });

  it('takes every bound at its edge and refuses one past it', () => {
    expect(planRequest({ count: 4, steps: 50, eta: 0, seed: Number.MAX_SAFE_INTEGER }, model, { limits })).toMatchObject({ count: 4, steps: 50, eta: 0 });
    expect(planRequest({ count: 1, steps: 1, eta: 1, seed: 0 }, model, { limits })).toMatchObject({ count: 1, steps: 1, eta: 1, seed: 0 });
    expect(issues({ count: 5 }, model, { limits }).map((i) => i.path)).toEqual(['count']);
    expect(issues({ count: 0 }, model, { limits }).map((i) => i.path)).toEqual(['count']);
    expect(issues({ steps: 51 }, model, { limits }).map((i) => i.path)).toEqual(['steps']);
    expect(issues({ eta: 1.01 }).map((i) => i.path)).toEqual(['eta']);
    expect(issues({ eta: -0.01 }).map((i) => i.path)).toEqual(['eta']);
    expect(issues({ seed: -1 }).map((i) => i.path)).toEqual(['seed']);
    expect(issues({ seed: 1.5 }).map((i) => i.path)).toEqual(['seed']);
    expect(issues({ guidance: 100.5 }, labelled).map((i) => i.path)).toEqual(['guidance']);
    expect(LIBRARY_LIMITS).toEqual({ maxCount: 1024, maxSteps: 100_000 });
  });

  it("caps steps at the schedule's T, and says when the model's own default is over the caller's limit", () => {
    expect(planRequest({ steps: 300 }, model).steps).toBe(300);
    expect(issues({ steps: 301 })).toEqual([{ path: 'steps', message: 'must be an integer in [1, 300], got 301' }]);
    expect(issues({}, { ...model, sampler: { name: 'ddim', steps: 60 } }, { limits })).toEqual([
      { path: 'steps', message: "the model's default of 60 steps is over the limit of 50; ask for fewer" },
    ]);
    expect(issues({}, { ...model, schedule: { kind: 'warp' } })[0]).toMatchObject({ path: 'steps', message: expect.stringMatching(/^the model's schedule cannot be read \(/) });
  });

  it('refuses a default sampler this code does not know, naming the choices', () => {
    expect(issues({}, { ...model, sampler: { name: 'euler', steps: 10 } })).toEqual([{ path: 'sampler', message: 'the model\'s default sampler "euler" is unknown here; choose one of ddpm, ddim, dpm-solver++, vdm' }]);
    expect(planRequest({ sampler: 'ddpm' }, { ...model, sampler: { name: 'euler', steps: 10 } }).sampler).toBe('ddpm');
  });

  it('resolves a label by name or index, and refuses one the model lacks', () => {
    expect(planRequest({ label: 'ct' }, labelled)).toMatchObject({ label: 1, guidance: 2 });
    expect(planRequest({ label: 0 }, labelled)).toMatchObject({ label: 0 });
    expect(issues({ label: 'mr' }, labelled)).toEqual([{ path: 'label', message: 'expected one of 0="t1", 1="ct"; got "mr"' }]);
    expect(issues({ label: 2 }, labelled)).toEqual([{ path: 'label', message: 'expected one of 0="t1", 1="ct"; got 2' }]);
    expect(issues({ label: 't1' })).toEqual([{ path: 'label', message: 'model "m" is not class-conditional' }]);
  });

  it('guidance needs a label, and says whether the weight was asked for or the default', () => {
    expect(issues({}, labelled)).toEqual([{ path: 'guidance', message: "guidance 2 (the model's default) needs a label" }]);
    expect(issues({ guidance: 3 }, model)).toEqual([{ path: 'guidance', message: 'guidance 3 needs a label' }]);
    expect(planRequest({ guidance: 1 }, labelled).guidance).toBe(1);
    // A bad label is reported once, not again as a guidance problem.
    expect(issues({ label: 'mr', guidance: 3 }, labelled).map((i) => i.path)).toEqual(['label']);
  });

  it('reports every problem at once, unknown fields too, and the first as the message', () => {
    const all = issues({ count: 0, steps: 0, eta: 2, seed: -1, colour: 'red' });
    expect(all.map((i) => i.path)).toEqual(['(body)', 'count', 'steps', 'eta', 'seed']);
    expect(all[0].message).toBe('unknown field "colour"; fields: count, steps, sampler, eta, seed, guidance, label');
    const e = (() => {
      try {
        planRequest({ count: 0, eta: 2 }, model);
      } catch (err) {
        return err as RequestError;
      }
    })()!;
    expect(e.message).toMatch(/^count: .+; eta: /);
  });

  it('refuses what is not an options object', () => {
    for (const raw of [null, 3, 'x', [1]]) expect(issues(raw)).toEqual([{ path: '(body)', message: 'expected an object of sampling options' }]);
  });

  it("validates a caller's extra fields beside the common ones and returns only those given", () => {
    const extra = { output: z.enum(['png', 'json']).default('png') };
    expect(planRequest({}, model, { extra })).toMatchObject({ output: 'png' });
    expect(planRequest({ output: 'json' }, model, { extra })).toMatchObject({ output: 'json' });
    expect(issues({ output: 'gif' }, model, { extra }).map((i) => i.path)).toEqual(['output']);
    expect(planRequest({}, model)).not.toHaveProperty('output');
  });

  it('reports one problem per bad field: a refused value is not checked again against the model', () => {
    expect(issues({ steps: 0 })).toHaveLength(1);
    expect(issues({ steps: 'many' })).toHaveLength(1);
    expect(issues({ sampler: 'euler' }, { ...model, sampler: { name: 'heun', steps: 10 } })).toHaveLength(1);
    // A refused guidance does not fall back to the default and then complain that the default needs a label.
    expect(issues({ guidance: 200 }, labelled)).toEqual([expect.objectContaining({ path: 'guidance', message: expect.not.stringMatching(/needs a label/) })]);
    // Nor a refused steps (the default over the limit) or label (the default guidance then lacking one).
    expect(issues({ steps: 0 }, { ...model, sampler: { name: 'ddim', steps: 60 } }, { limits }).map((i) => i.path)).toEqual(['steps']);
    expect(issues({ label: -1 }, labelled).map((i) => i.path)).toEqual(['label']);
    // One field's problem does not hide another's that the model causes.
    expect(issues({ count: 0 }, { ...model, sampler: { name: 'heun', steps: 10 } }).map((i) => i.path)).toEqual(['count', 'sampler']);
  });

  it("accepts a model default exactly at the caller's step limit", () => {
    expect(planRequest({}, { ...model, sampler: { name: 'ddim', steps: 50 } }, { limits }).steps).toBe(50);
  });

  it('leaves out what was not asked for: no label key without a label, no extra field that was not given', () => {
    expect(Object.keys(planRequest({}, model)).sort()).toEqual(['count', 'eta', 'guidance', 'sampler', 'seed', 'steps']);
    const plan = planRequest({}, model, { extra: { note: z.string().optional() } });
    expect('note' in plan).toBe(false);
  });
});

describe('RequestError', () => {
  it('is a ConfigError on its first field, its message every problem, and names itself', () => {
    const e = new RequestError([{ path: 'count', message: 'too many' }, { path: 'eta', message: 'too big' }]);
    expect([e.name, e.field, e.message]).toEqual(['RequestError', 'count', 'count: too many; eta: too big']);
    const empty = new RequestError([]);
    expect([empty.field, empty.message]).toEqual(['(body)', '(body): invalid request']);
  });
});
