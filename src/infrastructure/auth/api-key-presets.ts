import type { Scope } from './api-keys.js';

/**
 * Read-only scope sets for the restaurant's other modules, so that wiring one up does not mean choosing scopes
 * by hand (and granting a write scope by mistake).
 */
export const apiKeyPresets = {
  crm: ['campaigns:read', 'notifications:read', 'analytics:read', 'publications:read'],
  accounting: ['analytics:read', 'campaigns:read'],
} as const satisfies Record<string, readonly Scope[]>;

export type ApiKeyPreset = keyof typeof apiKeyPresets;

export const apiKeyPresetNames = Object.keys(apiKeyPresets) as [ApiKeyPreset, ...ApiKeyPreset[]];
