import { type AgentSpec, toErrorData } from '../../protocol/index.ts';
import { loadAgentModule } from '../agents/load.ts';
import type { Logger } from '../logger.ts';

/**
 * Imports every registered agent module in this worker and runs its `prewarm` hook once. The
 * first failure rejects with a message naming the agent, its file and the phase (import or
 * prewarm): the worker then fails, and the supervisor's restart policy decides what follows.
 */
export async function prewarmAgents(agents: readonly AgentSpec[], log: Logger): Promise<void> {
  for (const spec of agents) {
    let definition: Awaited<ReturnType<typeof loadAgentModule>>['definition'];
    try {
      ({ definition } = await loadAgentModule(spec.module));
    } catch (err) {
      throw new Error(`agent '${spec.name}' (${spec.module}) failed at import: ${toErrorData(err).message}`);
    }
    if (!definition.prewarm) continue;
    const started = performance.now();
    try {
      await definition.prewarm();
    } catch (err) {
      throw new Error(`agent '${spec.name}' (${spec.module}) failed at prewarm: ${toErrorData(err).message}`);
    }
    log.info({ agent: spec.name, ms: Math.round(performance.now() - started) }, 'agent prewarmed');
  }
}
