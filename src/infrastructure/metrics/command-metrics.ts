import { CommandHandler, type CommandObservation } from '../../commands/command-handler.js';
import type { Metrics } from './metrics.js';

/** Counts and times every command any CommandHandler runs; returns the function that stops it. */
export function observeCommands(metrics: Metrics): () => void {
  const observer = ({ command, outcome, durationMs }: CommandObservation) => {
    metrics.commands.inc({ command, outcome });
    metrics.commandDuration.observe({ command }, durationMs / 1000);
  };
  CommandHandler.observers.add(observer);
  return () => CommandHandler.observers.delete(observer);
}
