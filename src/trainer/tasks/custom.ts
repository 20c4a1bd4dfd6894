// User-defined tasks: the user's generator gets a fixed, named random stream and its result is
// checked before the trainer trusts it, with messages that name the task.
import { Rng } from "../../sdk/rng";
import type { CustomTaskSpec } from "../../sdk/spec";
import type { TaskData } from "./task";
import { validateTaskData } from "./validateData";
import { SystemError } from "../errors";

export function generateCustomTask(spec: CustomTaskSpec): TaskData {
  const label = `custom task "${spec.name}"`;
  if (typeof spec.generate !== "function")
    throw new SystemError("task.generate", `${label}: generate must be a function (rng) => TaskData`);
  let data: unknown;
  try {
    data = spec.generate(new Rng(0, "custom", spec.name));
  } catch (e) {
    // The cause's stack points at the user's line: the error reads as a "runtime" error there.
    throw new Error(`${label}: generate threw: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  if (
    data instanceof Promise ||
    (typeof data === "object" && data !== null && typeof (data as { then?: unknown }).then === "function")
  )
    throw new SystemError(
      "task.generate",
      `${label}: generate returned a Promise; it must return the TaskData synchronously`,
    );
  try {
    validateTaskData(data as TaskData, label);
  } catch (e) {
    throw new SystemError("task.generate", e instanceof Error ? e.message : String(e));
  }
  return data as TaskData;
}
