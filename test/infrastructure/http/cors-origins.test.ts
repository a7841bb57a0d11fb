import { describe, expect, it } from 'vitest';
import { parseCorsOrigins } from '../../../src/infrastructure/http/cors-origins.js';

describe('parseCorsOrigins', () => {
  it('reads a comma-separated list, trimmed, lower-cased and without repeats', () => {
    expect(parseCorsOrigins(' https://crm.example.com, http://localhost:5173 ,HTTPS://CRM.example.com,')).toEqual([
      'https://crm.example.com',
      'http://localhost:5173',
    ]);
  });

  it('is empty when nothing is listed', () => {
    expect(parseCorsOrigins('')).toEqual([]);
  });

  it.each(['*', 'crm.example.com', 'https://crm.example.com/', 'https://crm.example.com/app', 'ftp://crm.example.com', 'https://user@crm.example.com'])(
    'refuses %s, naming it',
    (origin) => {
      expect(() => parseCorsOrigins(`https://ok.example.com,${origin}`)).toThrow(origin);
    },
  );
});
