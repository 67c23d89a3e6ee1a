import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));

/**
 * Records a measured recovery figure (not an assertion) as a JSON line in
 * test-artifacts/faults.jsonl; docs/reliability.md quotes them.
 */
export function recordFigure(scenario: string, figures: Record<string, number | string | boolean>): void {
  mkdirSync(dir, { recursive: true });
  appendFileSync(
    join(dir, 'faults.jsonl'),
    `${JSON.stringify({ scenario, ...figures, at: new Date().toISOString() })}\n`,
  );
}
