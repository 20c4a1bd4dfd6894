// Every ID the extension shares with package.json, in one place (a typo is a compile error). No `vscode` import:
// test/unit/extension-ids.test.ts reads this file and package.json and checks that they agree.

export const EXTENSION_NAME = "Learning Mechanics";
export const CONFIG_SECTION = "learningMechanics";

/** Command IDs. Every one is registered at activation (commands.ts), whatever the state. */
export const Commands = {
  train: "learningMechanics.train",
  stop: "learningMechanics.stop",
  resume: "learningMechanics.resume",
  openDashboard: "learningMechanics.openDashboard",
  openRun: "learningMechanics.openRun",
  compareRuns: "learningMechanics.compareRuns",
  showTrainerLog: "learningMechanics.showTrainerLog",
  selectBackend: "learningMechanics.selectBackend",
  refreshRuns: "learningMechanics.refreshRuns",
  revealRunFolder: "learningMechanics.revealRunFolder",
  deleteRun: "learningMechanics.deleteRun",
  openGrokking: "learningMechanics.openGrokking",
  openLazyRich: "learningMechanics.openLazyRich",
  openInfluence: "learningMechanics.openInfluence",
  openSharpness: "learningMechanics.openSharpness",
  openConservation: "learningMechanics.openConservation",
  openIcl: "learningMechanics.openIcl",
  analyzeRun: "learningMechanics.analyzeRun",
  createExample: "learningMechanics.createExample",
  runPython: "learningMechanics.runPython",
  openSweep: "learningMechanics.openSweep",
  runSweep: "learningMechanics.runSweep",
  cancelSweep: "learningMechanics.cancelSweep",
  openLmc: "learningMechanics.openLmc",
  branchRun: "learningMechanics.branchRun",
  lmcWith: "learningMechanics.lmcWith",
  compareWithParent: "learningMechanics.compareWithParent",
  calibrateInfluence: "learningMechanics.calibrateInfluence",
  openCalibration: "learningMechanics.openCalibration",
} as const;
export type CommandId = (typeof Commands)[keyof typeof Commands];

/** Setting keys, without the `learningMechanics.` prefix. */
export const SettingKeys = {
  runRoots: "runRoots",
  experimentGlob: "experimentGlob",
  backend: "backend",
  maxConcurrentTrainers: "maxConcurrentTrainers",
  nodePath: "nodePath",
  pythonPath: "pythonPath",
  device: "device",
  autoAnalyze: "autoAnalyze",
  maxConcurrentAnalyzers: "maxConcurrentAnalyzers",
  slurmPartition: "slurm.partition",
  slurmTime: "slurm.time",
  slurmGpus: "slurm.gpus",
  slurmCpusPerTask: "slurm.cpusPerTask",
  slurmMem: "slurm.mem",
  slurmAccount: "slurm.account",
  slurmSbatchArgs: "slurm.sbatchArgs",
} as const;

export const BACKENDS = ["auto", "torch", "gpu", "native", "wasm", "cpu"] as const;
export type BackendSetting = (typeof BACKENDS)[number];

/** Where the torch backend computes; "auto": CUDA when PyTorch sees a GPU, else the CPU. */
export const DEVICES = ["auto", "cpu", "cuda", "mps"] as const;
export type DeviceSetting = (typeof DEVICES)[number];

/** View and view-container IDs. */
export const Views = {
  container: "learningMechanics",
  runs: "learningMechanics.runs",
} as const;

/** Webview panel type of the loss curves (also its serializer's key). */
export const LOSS_CURVES_VIEW_TYPE = "learningMechanics.lossCurves";

/** Webview panel type of the sweep panel (also its serializer's key). */
export const SWEEP_VIEW_TYPE = "learningMechanics.sweep";

/** Webview panel type of the linear-mode-connectivity panel (also its serializer's key). */
export const LMC_VIEW_TYPE = "learningMechanics.lmc";

/** Webview panel types of the intervention panels: a branch against its parent, and a calibration. */
export const COMPARE_VIEW_TYPE = "learningMechanics.compare";
export const CALIBRATION_VIEW_TYPE = "learningMechanics.calibration";

/** Webview panel types of the analysis panels (also their serializers' keys). */
export const AnalysisViewTypes = {
  grokking: "learningMechanics.grokking",
  lazyRich: "learningMechanics.lazyRich",
  influence: "learningMechanics.influence",
  sharpness: "learningMechanics.sharpness",
  conservation: "learningMechanics.conservation",
  icl: "learningMechanics.icl",
} as const;

/** When the analyzer runs by itself: never, or on runs in the run roots as their checkpoints appear. */
export const AUTO_ANALYZE = ["off", "runRoots"] as const;
export type AutoAnalyze = (typeof AUTO_ANALYZE)[number];

/** Context keys used in `when` clauses. */
export const ContextKeys = {
  training: "learningMechanics.training",
} as const;

/** Tree item context values (menus in package.json match on them). */
export const TreeItemContext = {
  run: "learningMechanics.run",
  runActive: "learningMechanics.runActive",
  experiment: "learningMechanics.experiment",
  system: "learningMechanics.system",
  /** A TensorBoard log: opens in the loss-curves panel; no analyses, resume or delete. */
  tensorboard: "learningMechanics.tensorboardLog",
  tensorboardGroup: "learningMechanics.tensorboardGroup",
  /** A sweep folder: its points are its children; opens the sweep panel; Cancel Sweep. */
  sweep: "learningMechanics.sweep",
} as const;

/** Appended to a run's context value when it is a branch (run.json has `branchOf`): Compare with Parent. */
export const BRANCH_CONTEXT_SUFFIX = ".branch";

/** How long a freshly spawned trainer may take to print `ready` (bundling tfjs takes a moment). */
export const READY_TIMEOUT_MS = 30_000;
/** How long `list` may take (the trainer bundles and evaluates the experiment file). */
export const LIST_TIMEOUT_MS = 60_000;
/** After `stop`, how long the trainer gets to write its final checkpoint before it is killed. */
export const STOP_GRACE_MS = 15_000;
/** Debounce for run-folder file events. */
export const WATCH_DEBOUNCE_MS = 150;
