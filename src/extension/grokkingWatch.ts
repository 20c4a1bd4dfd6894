// Watches the metrics of trainings this window runs for the grokking transitions, so the user
// hears about them while the run goes on: memorization (train accuracy held above its threshold)
// and generalization (test accuracy held above its). O(1) per metrics line. No `vscode` import.
import {
  advanceGrokkingDetector,
  type GrokkingDetectorState,
  type GrokkingEvent,
  type GrokkingSettings,
  INITIAL_DETECTOR_STATE,
} from "../measures/index";
import type { MetricsRecord } from "../shared/runFormat";

export interface GrokkingNews {
  runDir: string;
  event: GrokkingEvent;
  /** One sentence for a notification. */
  message: string;
}

function grokkingMessage(system: string, event: GrokkingEvent): string {
  if (event.kind === "memorized")
    return `${system} memorized its training set at step ${event.step}; watching for generalization.`;
  if (event.tMem === undefined || event.delay === undefined) return `${system} generalized at step ${event.step}.`;
  const ratio = event.tMem > 0 ? ` (t_gen/t_mem = ${(event.step / event.tMem).toFixed(1)})` : "";
  return `${system} generalized at step ${event.step}, ${event.delay} steps after memorizing at step ${event.tMem}${ratio}.`;
}

export class GrokkingWatch {
  private readonly states = new Map<string, GrokkingDetectorState>();

  constructor(private readonly settingsOf: (runDir: string) => Partial<GrokkingSettings> = () => ({})) {}

  /** Feeds one metrics line of a run; returns what it established. */
  feed(runDir: string, system: string, record: MetricsRecord): GrokkingNews[] {
    const before = this.states.get(runDir) ?? INITIAL_DETECTOR_STATE;
    const { state, events } = advanceGrokkingDetector(before, [record], this.settingsOf(runDir));
    this.states.set(runDir, state);
    return events.map((event) => ({ runDir, event, message: grokkingMessage(system, event) }));
  }

  forget(runDir: string): void {
    this.states.delete(runDir);
  }
}
