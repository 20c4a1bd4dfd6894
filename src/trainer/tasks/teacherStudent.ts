// Teacher–student regression: x with standard normal entries, a fixed random teacher direction w
// with ‖w‖ = √d, the pre-activation z = w·x/√d ~ N(0, 1), and y = z (linear) or y = g(z)
// (single-index model). Gaussian label noise goes on the training labels only, so the test loss
// measures the distance to the clean teacher.
import { Rng } from "../../sdk/rng";
import type { TeacherStudentSpec } from "../../sdk/spec";
import type { Split, TaskData } from "./task";

/**
 * The link functions g of the single-index teacher, each chosen to have mean zero under z ~ N(0, 1)
 * except relu: "square" is z² − 1 (the second Hermite polynomial He2, so E[g(z)] = 0) and
 * "cubeHermite" is He3(z) = z³ − 3z (information exponent 3: orthogonal to z and z² − 1).
 */
export function linkFunction(link: TeacherStudentSpec["link"]): (z: number) => number {
  switch (link) {
    case "relu":
      return (z) => Math.max(z, 0);
    case "tanh":
      return Math.tanh;
    case "square":
      return (z) => z * z - 1;
    case "cubeHermite":
      return (z) => z * z * z - 3 * z;
  }
}

/** The teacher direction w (‖w‖ = √d), drawn from the task's data seed; the same one `generateTeacherStudent` uses. */
export function teacherVector(spec: Pick<TeacherStudentSpec, "dim" | "dataSeed">): Float64Array {
  const d = spec.dim;
  const rng = new Rng(spec.dataSeed, "teacherStudent").fork("teacher");
  const w = new Float64Array(d);
  let sq = 0;
  for (let i = 0; i < d; i++) {
    w[i] = rng.normal();
    sq += w[i]! * w[i]!;
  }
  const scale = Math.sqrt(d / sq);
  for (let i = 0; i < d; i++) w[i]! *= scale;
  return w;
}

export function generateTeacherStudent(spec: TeacherStudentSpec): TaskData {
  const { dim, teacher, link, trainSize, testSize, noise, dataSeed } = spec;
  if (!Number.isInteger(dim) || dim < 1) throw new Error(`teacherStudent: dim must be a positive integer, got ${dim}`);
  if (!Number.isInteger(trainSize) || trainSize < 1)
    throw new Error(`teacherStudent: trainSize must be a positive integer, got ${trainSize}`);
  if (!Number.isInteger(testSize) || testSize < 0)
    throw new Error(`teacherStudent: testSize must be a non-negative integer, got ${testSize}`);
  if (!(noise >= 0 && Number.isFinite(noise)))
    throw new Error(`teacherStudent: noise must be a finite number ≥ 0, got ${noise}`);

  const w = teacherVector(spec);
  const g = teacher === "linear" ? (z: number) => z : linkFunction(link);
  // Separate streams: the test set and the teacher do not change with trainSize or noise.
  const rng = new Rng(dataSeed, "teacherStudent");
  rng.fork("teacher"); // consumed by teacherVector; keeps the forks below in a fixed order
  const trainRng = rng.fork("train");
  const testRng = rng.fork("test");
  const noiseRng = rng.fork("noise");

  const train = sample(trainRng, trainSize, w, g);
  if (noise > 0) for (let i = 0; i < train.n; i++) train.y[i]! += noise * noiseRng.normal();
  return {
    input: { kind: "features", dim },
    output: { kind: "regression", dim: 1 },
    train,
    test: sample(testRng, testSize, w, g),
  };
}

function sample(rng: Rng, n: number, w: Float64Array, g: (z: number) => number): Split & { y: Float32Array } {
  const d = w.length;
  const x = new Float32Array(n * d);
  const y = new Float32Array(n);
  const invSqrtD = 1 / Math.sqrt(d);
  for (let i = 0; i < n; i++) {
    let dot = 0;
    for (let j = 0; j < d; j++) {
      x[i * d + j] = rng.normal();
      // The label is computed from the stored (float32) input, so it is exact for the data the model sees.
      dot += w[j]! * x[i * d + j]!;
    }
    y[i] = g(dot * invSqrtD);
  }
  return { n, x, y };
}
