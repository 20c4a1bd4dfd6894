// `lm train`, `lm resume`, `lm branch` (and each point of a sweep): one run in the worker.
import { FileRefusedError } from "../../shared/safeRead";
import type { TrainerEvent } from "../../shared/trainerProtocol";
import type { RunRequest } from "../session";
import { trainSummary } from "../summary";
import { printer, runJob } from "./output";

/** Trains or resumes one run in the worker, printing progress; the run folder on stdout; the CLI's exit code. */
export async function trainCommand(request: RunRequest): Promise<number> {
  const print = printer();
  let ended: (TrainerEvent & { type: "finished" }) | undefined;
  const { result, interrupted } = await runJob(
    { kind: "run", request },
    (e) => {
      if (e.type === "finished") ended = e;
      print(e);
    },
    "stopping after this step (Ctrl-C again to quit at once)…",
  );
  if (result.kind !== "run") return 1;
  // What the run came to, on stderr (stdout stays the run folder's path alone, for scripts).
  if (ended?.runDir && !interrupted && (ended.status === "finished" || ended.status === "stopped")) {
    try {
      process.stderr.write(trainSummary(ended.runDir));
    } catch (e) {
      if (!(e instanceof FileRefusedError)) throw e;
      process.stderr.write(`warn: no summary: ${e.message}\n`);
    }
  }
  return interrupted ? 130 : result.outcome.exitCode;
}
