// `lm intervene RUN --step K (--remove … | --upweight … --weight W | --move … --from S | --before S)`
// (docs/interventions.md): a branch of RUN at checkpoint K trained with the chosen examples
// removed, upweighted or moved, then the query loss of both runs against what TracIn (and the
// BIF) predicted, written to the branch's intervention.json and said in words.
// `lm intervene BRANCH` alone (re)writes the report of an existing intervention branch.
import { dirname, resolve } from "node:path";
import { readAnalysis } from "../../shared/analysisFormat";
import {
  type InterventionAction,
  type InterventionChange,
  type InterventionSelection,
  predictionWords,
} from "../../shared/interventionFormat";
import { UsageError } from "../errors";
import { parseExampleList, parseInterval, topExamples } from "../intervention";
import { errorText } from "../progress";
import { newRunId, RunFolder } from "../runFolder";
import { interventionOf } from "../train";
import type { CommandValues } from "./commandLine";
import { printer, runJob, usageError, userMistake, wholeNumber } from "./output";
import { trainCommand } from "./train";

const ACTION_FLAGS = ["remove", "upweight", "move"] as const;

/** The action and the examples' source from the command line (a usage error names what is wrong). */
function parseAction(values: CommandValues): { action: InterventionAction; list: string; flag: string } {
  const given = ACTION_FLAGS.filter((f) => values[f] !== undefined);
  if (given.length !== 1)
    throw new UsageError(
      given.length === 0
        ? "intervene: give one of --remove IDX,…, --upweight IDX,… --weight W, --move IDX,… --from S | --before S (IDX: training examples, or `top` for --top-proponents/--top-opponents)"
        : `intervene: --${given.join(" and --")} are exclusive: one intervention per branch`,
    );
  const flag = given[0]!;
  const list = values[flag]!;
  if (flag === "remove") return { action: { kind: "remove" }, list, flag };
  if (flag === "upweight") {
    if (values.weight === undefined)
      throw new UsageError("--upweight needs --weight W (the factor on those examples' loss)");
    const weight = Number(values.weight);
    if (!(Number.isFinite(weight) && weight >= 0))
      throw new UsageError(`--weight must be a number ≥ 0, got "${values.weight}"`);
    return { action: { kind: "upweight", weight }, list, flag };
  }
  if ((values.from === undefined) === (values.before === undefined))
    throw new UsageError(
      "--move needs exactly one of --from S (seen only from step S on) or --before S (only before step S)",
    );
  const which = values.from !== undefined ? "from" : "before";
  const step = wholeNumber(which, values[which]!, 0);
  if (typeof step === "string") throw new UsageError(step);
  return { action: which === "from" ? { kind: "moveFrom", step } : { kind: "moveBefore", step }, list, flag };
}

/** The examples: a list, or TracIn's top k at a checkpoint or over an interval of the parent. */
function chooseExamples(
  parentDir: string,
  branchStep: number,
  list: string,
  flag: string,
  values: CommandValues,
): { examples: number[]; selection: InterventionSelection } {
  const top = (["top-proponents", "top-opponents"] as const).filter((f) => values[f] !== undefined);
  if (list.trim() !== "top") {
    if (top.length > 0) throw new UsageError(`--${top[0]} selects the examples: write --${flag} top with it`);
    return { examples: parseExampleList(flag, list), selection: { kind: "explicit" } };
  }
  if (top.length !== 1)
    throw new UsageError(
      `--${flag} top needs one of --top-proponents N or --top-opponents N (TracIn's k highest or lowest)`,
    );
  const count = wholeNumber(top[0]!, values[top[0]!]!, 1);
  if (typeof count === "string") throw new UsageError(count);
  if (values.at !== undefined && values.over !== undefined) throw new UsageError("--at and --over are exclusive");
  let from = branchStep;
  let to = branchStep;
  if (values.over !== undefined) [from, to] = parseInterval(values.over);
  else if (values.at !== undefined) {
    const at = wholeNumber("at", values.at, 0);
    if (typeof at === "string") throw new UsageError(at);
    from = to = at;
  }
  const tracin = readAnalysis(parentDir, "tracin");
  if (tracin === undefined || tracin.records.length === 0)
    throw new UsageError(
      `${parentDir} has no TracIn scores (analyses/tracin.jsonl): --top-${top[0] === "top-proponents" ? "proponents" : "opponents"} needs them; run lm analyze ${parentDir} --only tracin --run-experiment`,
      1,
    );
  return topExamples(
    tracin,
    top[0] === "top-proponents" ? "topProponents" : "topOpponents",
    count,
    from,
    to,
    `${parentDir}/analyses/tracin.jsonl`,
  );
}

/** Their data.json indices, from the TracIn header when it names them. */
function dataIndicesOf(parentDir: string, rows: readonly number[]): number[] | undefined {
  try {
    const infos = readAnalysis(parentDir, "tracin")?.header.examples ?? [];
    const byRow = new Map(infos.map((e) => [e.index, e.dataIndex]));
    const out = rows.map((r) => byRow.get(r));
    return out.every((d): d is number => d !== undefined) ? out : undefined;
  } catch {
    return undefined;
  }
}

/** The report job: predicted against actual, said in words on stderr. */
async function report(branchDir: string, backend: string | undefined): Promise<number> {
  const { result } = await runJob(
    { kind: "interventionReport", request: { branchDir, ...(backend ? { backend } : {}) } },
    printer(),
  );
  if (result.kind !== "interventionReport") return 1;
  if (!result.outcome.ok) {
    process.stderr.write(errorText(result.outcome.error));
    return 1;
  }
  const { path, record } = result.outcome.report;
  for (const line of predictionWords(record)) process.stderr.write(`${line}\n`);
  for (const note of record.notes) process.stderr.write(`note: ${note}\n`);
  process.stderr.write(`written to ${path}\n`);
  return 0;
}

export async function interveneCommand(runDir: string, values: CommandValues): Promise<number> {
  try {
    const dir = resolve(runDir);
    const manifest = new RunFolder(dir).readManifest();
    const actionGiven = ACTION_FLAGS.some((f) => values[f] !== undefined);
    if (!actionGiven && interventionOf(manifest)) {
      const code = await report(dir, values.backend);
      if (code === 0) process.stdout.write(`${dir}\n`);
      return code;
    }
    if (values.step === undefined)
      return usageError("intervene: missing --step K (the parent's checkpoint to branch from)");
    const step = wholeNumber("step", values.step, 0);
    if (typeof step === "string") return usageError(step);
    const { action, list, flag } = parseAction(values);
    const { examples, selection } = chooseExamples(dir, step, list, flag, values);
    let steps: number | undefined;
    if (values.steps !== undefined) {
      const n = wholeNumber("steps", values.steps, 1);
      if (typeof n === "string") return usageError(n);
      steps = n;
    }
    const dataIndices = dataIndicesOf(dir, examples);
    const change: InterventionChange = {
      kind: "intervention",
      action,
      examples,
      ...(dataIndices ? { dataIndices } : {}),
      selection,
    };
    const branchDir = resolve(values["run-dir"] ?? resolve(values.out ?? dirname(dir), newRunId(manifest.system)));
    process.stderr.write(
      `intervention: ${action.kind} ${examples.length} example${examples.length === 1 ? "" : "s"} (${examples.slice(0, 12).join(", ")}${examples.length > 12 ? ", …" : ""}) from step ${step}\n`,
    );
    const code = await trainCommand({
      kind: "branch",
      parentDir: dir,
      step,
      runDir: branchDir,
      intervention: change,
      ...(steps !== undefined ? { steps } : {}),
      ...(values.backend ? { backend: values.backend } : {}),
      // Where PyTorch runs, for --backend torch (the CLI refused them with a tfjs backend).
      ...(values.device !== undefined ? { device: values.device } : {}),
      ...(values.python !== undefined ? { python: values.python } : {}),
      ...(values.threads !== undefined ? { threads: Number(values.threads) } : {}),
      ...(values["allow-changed"] ? { allowChanged: true } : {}),
    });
    if (code !== 0) return code;
    return await report(branchDir, values.backend);
  } catch (e) {
    return userMistake(e);
  }
}
