// User-defined tasks: the user's generator gets a fixed, named random stream and its result is
// checked before the trainer trusts it, with messages that name the task.
import { Rng } from "../../sdk/rng";
import type { CustomTaskSpec } from "../../sdk/spec";
import type { TaskData } from "./task";
import { validateTaskData } from "./validateData";

export function generateCustomTask(spec: CustomTaskSpec): TaskData {
  const label = `custom task "${spec.name}"`;
  if (typeof spec.generate !== "function") throw new Error(`${label}: generate must be a function (rng) => TaskData`);
  let data: unknown;
  try {
    data = spec.generate(new Rng(0, "custom", spec.name));
  } catch (e) {
    throw new Error(`${label}: generate threw: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  if (
    data instanceof Promise ||
    (typeof data === "object" && data !== null && typeof (data as { then?: unknown }).then === "function")
  )
    throw new Error(`${label}: generate returned a Promise; it must return the TaskData synchronously`);
  validateTaskData(data as TaskData, label);
  return data as TaskData;
}
