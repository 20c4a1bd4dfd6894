// What a task gives the trainer: two splits in memory (see `TaskData` in the SDK spec).
export type { TaskData, Split, InputKind, OutputKind } from "../../sdk/spec";

/** Where relative paths in a task spec (data files) are resolved from: the experiment file's folder. */
export interface TaskContext {
  baseDir: string;
}
