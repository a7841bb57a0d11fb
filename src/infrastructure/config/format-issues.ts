import type { z } from 'zod';

export interface IssueDetail {
  path: string;
  message: string;
}

export function issueDetails(issues: readonly z.core.$ZodIssue[], prefix = ''): IssueDetail[] {
  return issues.map((issue) => ({
    path: [prefix, ...issue.path.map(String)].filter(Boolean).join('.') || '(root)',
    message: issue.message,
  }));
}

export function formatZodIssues(issues: readonly z.core.$ZodIssue[], prefix = ''): string {
  return issueDetails(issues, prefix)
    .map((d) => `  - ${d.path}: ${d.message}`)
    .join('\n');
}
