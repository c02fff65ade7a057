import { describe, expect, it } from 'vitest';
import { maskEmail, maskPhone } from '../../src/core/account/masking.ts';

describe('maskEmail', () => {
  it('shows the first and last character of the local part and the domain', () => {
    expect(maskEmail('alice@example.org')).toBe('a•••e@example.org');
    expect(maskEmail('alexandra.smith@example.org')).toBe('a•••h@example.org');
  });

  it('shows only the first character of a short local part', () => {
    expect(maskEmail('bob@example.org')).toBe('b•••@example.org');
    expect(maskEmail('a@example.org')).toBe('a•••@example.org');
    expect(maskEmail('anna@example.org')).toBe('a•••@example.org');
  });

  it('never reveals the length or a malformed value', () => {
    expect(maskEmail('ab@x.test').length).toBe(maskEmail('abc@x.test').length);
    expect(maskEmail('not-an-address')).toBe('•••');
    expect(maskEmail('a@b@c.test')).toBe('•••');
    expect(maskEmail('@x.test')).toBe('•••');
  });

  it('masks by code point, never splitting a surrogate pair', () => {
    expect(maskEmail('😀lice😀@x.test')).toBe('😀•••😀@x.test');
  });
});

describe('maskPhone', () => {
  it('keeps the first three and last two characters with seven dots between', () => {
    expect(maskPhone('+447700900123')).toBe('+44•••••••23');
    expect(maskPhone('+15550100')).toBe('+15•••••••00');
    expect(maskPhone('+861234567890123')).toBe('+86•••••••23');
  });

  it('hides a too-short value entirely', () => {
    expect(maskPhone('+12345')).toBe('•••••••');
    expect(maskPhone('')).toBe('•••••••');
  });
});
