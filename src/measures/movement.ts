// How far a parameter tensor moved from a reference (normally its initialization): the sums behind
// its norm and its relative change ‖W − W₀‖ / ‖W₀‖ (definitions: docs/analyses.md, "Weight space").
// Used by the weight-space analysis and by the trainer for the checkpoint `stats`.

/**
 * ‖W‖², ‖W − W₀‖² and ‖W₀‖² in one pass (the last two 0 without W₀): the sums behind a norm and a
 * relative change.
 */
export function movementSums(w: Float32Array, w0: Float32Array | undefined): { sq: number; diff: number; sq0: number } {
  let sq = 0;
  let diff = 0;
  let sq0 = 0;
  for (let i = 0; i < w.length; i++) {
    const x = w[i]!;
    sq += x * x;
    if (w0) {
      const d = x - w0[i]!;
      diff += d * d;
      sq0 += w0[i]! * w0[i]!;
    }
  }
  return { sq, diff, sq0 };
}
