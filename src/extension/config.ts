// Typed settings (each read once, checked, with a default). Reads through a structural getter so plain `node --test` can cover
// it without `vscode`; context.ts passes `vscode.workspace.getConfiguration(CONFIG_SECTION)`.
import {
  AUTO_ANALYZE,
  type AutoAnalyze,
  BACKENDS,
  type BackendSetting,
  DEVICES,
  type DeviceSetting,
  SettingKeys,
} from "./constants";

/** The values of a setting per level (the shape of `vscode.WorkspaceConfiguration.inspect`). */
export interface SettingLevels<T> {
  globalValue?: T;
  workspaceValue?: T;
  workspaceFolderValue?: T;
}

export interface ConfigSource {
  get<T>(key: string): T | undefined;
  /** Per-level values; without it, `get` is all there is (tests, old hosts). */
  inspect?<T>(key: string): SettingLevels<T> | undefined;
}

/** Where settings may come from: a workspace that is not trusted does not choose the run roots. */
export interface ConfigTrust {
  readonly trusted: boolean;
}

/**
 * The user-level value of a setting: never a workspace's. For the settings that choose what the
 * extension reads or runs (`nodePath` and `pythonPath` always, since VS Code's `machine` scope is only honoured by
 * VS Code; `runRoots` in an untrusted workspace).
 */
function userValue(source: ConfigSource, key: string): unknown {
  if (source.inspect === undefined) return source.get<unknown>(key);
  return source.inspect<unknown>(key)?.globalValue;
}

export interface Config {
  /** Folders holding run folders; relative ones are taken from each workspace folder. */
  readonly runRoots: readonly string[];
  readonly experimentGlob: string;
  readonly backend: BackendSetting;
  readonly maxConcurrentTrainers: number;
  /** Node executable for the trainer; empty: VS Code's own runtime (ELECTRON_RUN_AS_NODE). */
  readonly nodePath: string;
  /** Python interpreter for the torch backend; empty: the Python extension's, else python3 on PATH. */
  readonly pythonPath: string;
  readonly device: DeviceSetting;
  /** "runRoots": analyse runs in the run roots as their checkpoints appear; "off": only when asked. */
  readonly autoAnalyze: AutoAnalyze;
  readonly maxConcurrentAnalyzers: number;
  /** sbatch's options for sweeps and calibrations submitted to Slurm (empty: sbatch's defaults). */
  readonly slurm: SlurmSettings;
}

/** `lm sweep --slurm`'s options, as the settings give them (docs/sweeps.md). */
export interface SlurmSettings {
  readonly partition: string;
  readonly time: string;
  readonly gpus: string;
  readonly cpusPerTask: string;
  readonly mem: string;
  readonly account: string;
  /** Further sbatch arguments, each passed as `--sbatch-arg ARG`. */
  readonly sbatchArgs: readonly string[];
}

/** The `lm` flags for these settings: one per setting that is set, in the CLI's names. */
export function slurmFlags(s: SlurmSettings): string[] {
  const out: string[] = [];
  const pairs: [string, string][] = [
    ["--partition", s.partition],
    ["--time", s.time],
    ["--gpus", s.gpus],
    ["--cpus-per-task", s.cpusPerTask],
    ["--mem", s.mem],
    ["--account", s.account],
  ];
  for (const [flag, value] of pairs) if (value !== "") out.push(flag, value);
  for (const arg of s.sbatchArgs) out.push("--sbatch-arg", arg);
  return out;
}

export const DEFAULT_CONFIG: Config = {
  runRoots: ["runs"],
  experimentGlob: "**/*.experiment.{ts,js,mjs}",
  backend: "auto",
  maxConcurrentTrainers: 2,
  nodePath: "",
  pythonPath: "",
  device: "auto",
  autoAnalyze: "runRoots",
  maxConcurrentAnalyzers: 1,
  slurm: { partition: "", time: "", gpus: "", cpusPerTask: "", mem: "", account: "", sbatchArgs: [] },
};

function text(v: unknown): string {
  return typeof v === "string" ? v.trim() : typeof v === "number" && Number.isFinite(v) ? String(v) : "";
}

export function readConfig(source: ConfigSource, trust: ConfigTrust = { trusted: true }): Config {
  const roots = trust.trusted ? source.get<unknown>(SettingKeys.runRoots) : userValue(source, SettingKeys.runRoots);
  const glob = source.get<unknown>(SettingKeys.experimentGlob);
  const backend = source.get<unknown>(SettingKeys.backend);
  const max = source.get<unknown>(SettingKeys.maxConcurrentTrainers);
  const nodePath = userValue(source, SettingKeys.nodePath);
  const pythonPath = userValue(source, SettingKeys.pythonPath);
  const device = source.get<unknown>(SettingKeys.device);
  const auto = source.get<unknown>(SettingKeys.autoAnalyze);
  const maxAnalyzers = source.get<unknown>(SettingKeys.maxConcurrentAnalyzers);
  return {
    runRoots:
      Array.isArray(roots) && roots.every((r) => typeof r === "string") && roots.length > 0
        ? (roots as string[]).filter((r) => r.trim() !== "")
        : DEFAULT_CONFIG.runRoots,
    experimentGlob: typeof glob === "string" && glob.trim() !== "" ? glob : DEFAULT_CONFIG.experimentGlob,
    backend: BACKENDS.includes(backend as BackendSetting) ? (backend as BackendSetting) : DEFAULT_CONFIG.backend,
    maxConcurrentTrainers:
      typeof max === "number" && Number.isInteger(max) && max >= 1 ? max : DEFAULT_CONFIG.maxConcurrentTrainers,
    nodePath: typeof nodePath === "string" ? nodePath.trim() : DEFAULT_CONFIG.nodePath,
    pythonPath: typeof pythonPath === "string" ? pythonPath.trim() : DEFAULT_CONFIG.pythonPath,
    device: DEVICES.includes(device as DeviceSetting) ? (device as DeviceSetting) : DEFAULT_CONFIG.device,
    autoAnalyze: AUTO_ANALYZE.includes(auto as AutoAnalyze) ? (auto as AutoAnalyze) : DEFAULT_CONFIG.autoAnalyze,
    maxConcurrentAnalyzers:
      typeof maxAnalyzers === "number" && Number.isInteger(maxAnalyzers) && maxAnalyzers >= 1
        ? maxAnalyzers
        : DEFAULT_CONFIG.maxConcurrentAnalyzers,
    slurm: readSlurm(source),
  };
}

function readSlurm(source: ConfigSource): SlurmSettings {
  const extra = source.get<unknown>(SettingKeys.slurmSbatchArgs);
  return {
    partition: text(source.get<unknown>(SettingKeys.slurmPartition)),
    time: text(source.get<unknown>(SettingKeys.slurmTime)),
    gpus: text(source.get<unknown>(SettingKeys.slurmGpus)),
    cpusPerTask: text(source.get<unknown>(SettingKeys.slurmCpusPerTask)),
    mem: text(source.get<unknown>(SettingKeys.slurmMem)),
    account: text(source.get<unknown>(SettingKeys.slurmAccount)),
    sbatchArgs: Array.isArray(extra) ? extra.filter((a): a is string => typeof a === "string" && a.trim() !== "") : [],
  };
}

/** Whether a settings change moves the run roots (then the index is rebuilt and rewatched). Trainers already running keep their settings. */
export function runRootsChanged(before: Config, after: Config): boolean {
  return before.runRoots.join("\0") !== after.runRoots.join("\0");
}
