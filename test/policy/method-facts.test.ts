import { describe, expect, it } from 'vitest';
import { METHOD_IDS } from '../../src/core/methods/method-ids.ts';
import { METHOD_REGISTRY } from '../../src/core/methods/registry.ts';
import { METHOD_GATE_FACTS } from '../../src/core/policy/gates.ts';

describe('METHOD_GATE_FACTS', () => {
  it.each(METHOD_IDS)('states the same strength, channel and gate counting as the %s method itself', (id) => {
    const method = METHOD_REGISTRY[id];
    expect(METHOD_GATE_FACTS[id]).toEqual({ methodId: method.id, strength: method.strength, channel: method.channel, countsAsGate: method.countsAsGate });
  });
});
