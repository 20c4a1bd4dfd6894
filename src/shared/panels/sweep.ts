// The sweep panel's protocol (the convention is in ./common.ts): one sweep folder (sweep.json and
// its points' run folders, docs/sweeps.md); the points with their values, status and summary
// values (src/shared/sweepView.ts), sent whole at `init` and one by one as runs finish (`point`).
// The page computes the series; a click on a point asks the host to open its run.
import { ALPHA_FIELD } from "../alphaFit";
import { isObject, isString } from "../guards";
import { SWEEP_POINT_STATUSES, type SweepPointStatus, type SweepValue } from "../sweepFormat";
import type { SpreadKind, SweepPanelPoint } from "../sweepView";
import {
  type CommonHostMessage,
  type CommonWebviewMessage,
  commonWebviewGuard,
  isCommonHostMessage,
  type OpenRunMessage,
} from "./common";

/** The sweep as a whole: what the title, axes and legend name. All text from sweep.json (escaped). */
export interface SweepInfo {
  /** The sweep folder (absolute). */
  dir: string;
  system: string;
  /** The swept fields, in declaration order. */
  fields: string[];
  launcher: "local" | "slurm";
  /**
   * Set for an implicit sweep: runs that were not launched as a sweep (no sweep.json) but differ
   * only in `model.alpha` (src/shared/implicitSweep.ts). `dir` is then the folder they share ("" if none).
   */
  implicit?: true;
}

export interface SweepState {
  /** The quantity on y (a key of `SweepPanelPoint.y`); null = the default for the quantities present. */
  y: string | null;
  /** The swept field on x; null = the first. */
  x: string | null;
  /** The field with one line per value; "" = none; null = the second field, if any. */
  group: string | null;
  logX: boolean;
  logY: boolean;
  spread: SpreadKind;
}

export const DEFAULT_SWEEP_STATE: SweepState = {
  y: null,
  x: null,
  group: null,
  logX: false,
  logY: false,
  spread: "minmax",
};

/**
 * The view a sweep opens with when no state is saved: an α sweep (Chizat et al. 2019) on log-log
 * axes with the final relative weight change on y (where the c/α line is drawn); any other sweep
 * with the defaults.
 */
export function defaultSweepState(fields: readonly string[]): SweepState {
  return fields.includes(ALPHA_FIELD)
    ? { ...DEFAULT_SWEEP_STATE, y: "analysis:rwc", x: ALPHA_FIELD, logX: true, logY: true }
    : { ...DEFAULT_SWEEP_STATE };
}

/**
 * How an IMP folder (`lm imp`, docs/lottery-tickets.md) opens when the user has not chosen: final
 * test accuracy against the share of weights remaining on a log axis, one line per kind (ticket,
 * reinit, random). "steps to test_acc ≥ x" and "max test_acc" are in the y menu.
 */
export const IMP_SWEEP_STATE: SweepState = {
  y: "final:test_acc",
  x: "weights remaining (%)",
  group: "kind",
  logX: true,
  logY: false,
  spread: "minmax",
};

/** Messages the extension host posts to the sweep webview. */
export type SweepHostMessage =
  | CommonHostMessage
  /** Replace everything shown; `state` restores view settings. */
  | { type: "init"; sweep: SweepInfo; points: SweepPanelPoint[]; state?: SweepState }
  /** A point changed (its run started, logged, finished, was analysed): replace it, or add it. */
  | { type: "point"; point: SweepPanelPoint };

/** Messages the sweep webview posts to the host: the common ones, and opening a point's run. */
export type SweepWebviewMessage =
  | CommonWebviewMessage<SweepState>
  /** Open the loss curves of this run folder (a point's `runId`). */
  | OpenRunMessage;

const isSweepValue = (x: unknown): x is SweepValue =>
  (typeof x === "number" && Number.isFinite(x)) || typeof x === "string" || typeof x === "boolean";

function isPoint(x: unknown): x is SweepPanelPoint {
  if (!isObject(x)) return false;
  const values = x["values"];
  const y = x["y"];
  return (
    Number.isInteger(x["index"]) &&
    isString(x["runId"]) &&
    Number.isInteger(x["seed"]) &&
    SWEEP_POINT_STATUSES.includes(x["status"] as SweepPointStatus) &&
    isObject(values) &&
    Object.values(values).every(isSweepValue) &&
    isObject(y) &&
    Object.values(y).every((v) => typeof v === "number" && Number.isFinite(v))
  );
}

function isSweepInfo(x: unknown): x is SweepInfo {
  if (!isObject(x)) return false;
  const fields = x["fields"];
  return (
    isString(x["dir"]) &&
    isString(x["system"]) &&
    (x["implicit"] === undefined || x["implicit"] === true) &&
    Array.isArray(fields) &&
    fields.every(isString) &&
    (x["launcher"] === "local" || x["launcher"] === "slurm")
  );
}

const isNullableString = (x: unknown): x is string | null => x === null || isString(x);

export function isSweepState(x: unknown): x is SweepState {
  return (
    isObject(x) &&
    isNullableString(x["y"]) &&
    isNullableString(x["x"]) &&
    isNullableString(x["group"]) &&
    typeof x["logX"] === "boolean" &&
    typeof x["logY"] === "boolean" &&
    (x["spread"] === "minmax" || x["spread"] === "std")
  );
}

export function isSweepHostMessage(x: unknown): x is SweepHostMessage {
  if (isCommonHostMessage(x)) return true;
  if (!isObject(x)) return false;
  switch (x["type"]) {
    case "init": {
      const points = x["points"];
      return (
        isSweepInfo(x["sweep"]) &&
        Array.isArray(points) &&
        points.every(isPoint) &&
        (x["state"] === undefined || isSweepState(x["state"]))
      );
    }
    case "point":
      return isPoint(x["point"]);
    default:
      return false;
  }
}

const isCommonSweepMessage = commonWebviewGuard(isSweepState);

export function isSweepWebviewMessage(x: unknown): x is SweepWebviewMessage {
  if (isObject(x) && x["type"] === "openRun") return isString(x["runId"]);
  return isCommonSweepMessage(x);
}
