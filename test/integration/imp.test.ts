// `lm imp` (docs/lottery-tickets.md): the options' refusals, and a real IMP on a tiny MLP (3-sparse
// parity of 12 bits, the `parity` system of examples/lottery-tickets.experiment.ts): the IMP folder is a sweep
// folder the sweep panel reads; the masks are nested and computed from the previous ticket's final
// weights; the tickets start from round 0's initialization, the reinit controls from another; the
// masked weights stay zero; a run retrained by `lm imp --resume` is identical (deterministic);
// and at 6.4% of the weights the ticket beats the random reinitialization by a wide margin. On
// --backend torch: every run trains in the PyTorch worker, its masked weights zero.
import assert from "node:assert/strict";
import { cpSync, existsSync, readFileSync, rmSync } from "node:fs";
import { describe, test } from "node:test";
import { join } from "node:path";
import { readSafetensorsSync } from "../../src/shared/safetensors";
import { parseSweepManifest } from "../../src/shared/sweepFormat";
import { magnitudeMask, testAccuracy } from "../../src/trainer/imp";
import { readMaskFile } from "../../src/trainer/masks";
import { torchPython } from "../support";
import { EXAMPLES, FIXTURES, readManifest, runCli, tempDir } from "./harness";

const tiny = join(FIXTURES, "tiny.experiment.ts");
const lottery = join(EXAMPLES, "lottery-tickets.experiment.ts");

function params(file: string): Map<string, Float32Array> {
  const st = readSafetensorsSync(file);
  return new Map(
    st.tensors
      .filter((t) => !t.name.startsWith("optimizer/"))
      .map((t) => [t.name, Float32Array.from(t.data as Float32Array)]),
  );
}

describe("lm imp", () => {
  test("refusals: fraction outside (0, 1), rounds < 1, a rewind beyond the run or between checkpoints", async () => {
    const out = tempDir("imp-refused");
    const base = ["imp", tiny, "--system", "tinyAdd", "--out", out];
    for (const [args, message] of [
      [["--rounds", "2", "--fraction", "0"], /--fraction must be a number in \(0, 1\) .*got "0"/],
      [["--rounds", "2", "--fraction", "1"], /--fraction must be a number in \(0, 1\) .*got "1"/],
      [["--rounds", "2", "--fraction", "1.5"], /--fraction must be a number in \(0, 1\) .*got "1.5"/],
      [["--rounds", "2", "--fraction", "half"], /--fraction must be a number in \(0, 1\) .*got "half"/],
      [["--rounds", "0", "--fraction", "0.5"], /--rounds must be an integer ≥ 1, got "0"/],
      [["--fraction", "0.5"], /imp: missing --rounds R/],
      [["--rounds", "2"], /imp: missing --fraction F/],
      [["--rounds", "2", "--fraction", "0.5", "--scope", "row"], /--scope must be global or layer, got "row"/],
      [["--rounds", "2", "--fraction", "0.5", "--controls", "reinit,shuffle"], /--controls: unknown control "shuffle"/],
      [
        ["--rounds", "2", "--fraction", "0.5", "--rewind", "60"],
        /--rewind 60 is beyond the run: tinyAdd trains 60 steps/,
      ],
      [
        ["--rounds", "2", "--fraction", "0.5", "--rewind", "500"],
        /--rewind 500 is beyond the run: tinyAdd trains 60 steps/,
      ],
      [
        ["--rounds", "2", "--fraction", "0.5", "--rewind", "30"],
        /--rewind 30 is not a step tinyAdd checkpoints \(every 20 steps: 0, 20, 40, …\)/,
      ],
    ] as const) {
      const r = await runCli([...base, ...args]);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, /^error \(usage\): /);
      assert.match(r.stderr, message);
      assert.equal(r.stdout, "", "no IMP folder");
    }
    const r = await runCli(["train", tiny, "--system", "tinyAdd", "--rounds", "2"]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--rounds applies to imp, not train/);
    assert.equal(existsSync(join(out, "runs")), false);
  });

  test("3 rounds of global pruning at 0.6 with the reinit control: nested masks, rewound tickets, zeros kept, deterministic, ticket ≫ reinit at 6.4%", async () => {
    const out = tempDir("imp");
    const r = await runCli([
      "imp",
      lottery,
      "--system",
      "parity",
      "--rounds",
      "3",
      "--fraction",
      "0.6",
      "--controls",
      "reinit",
      "--out",
      out,
      "--parallel",
      "2",
      "--backend",
      "wasm",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const dir = r.stdout.trim();
    assert.match(dir, /parity-imp-\d{8}-\d{6}$/);
    const parsed = parseSweepManifest(readFileSync(join(dir, "sweep.json"), "utf8"));
    assert.ok(parsed.ok, JSON.stringify(parsed));
    const m = parsed.manifest;
    assert.deepEqual(m.fields, ["weights remaining (%)", "kind", "round"]);
    assert.deepEqual(m.imp, { rounds: 3, fraction: 0.6, scope: "global", rewind: 0, controls: ["reinit"] });
    assert.deepEqual(
      m.points.map((p) => [
        p.run,
        p.status,
        p.values["kind"],
        p.values["round"],
        p.values["weights remaining (%)"],
        p.seed,
      ]),
      [
        ["r0-ticket", "finished", "ticket", 0, 100, 0],
        ["r1-ticket", "finished", "ticket", 1, 39.96, 0],
        ["r1-reinit", "finished", "reinit", 1, 39.96, 1],
        ["r2-ticket", "finished", "ticket", 2, 15.96, 0],
        ["r2-reinit", "finished", "reinit", 2, 15.96, 2],
        ["r3-ticket", "finished", "ticket", 3, 6.362, 0],
        ["r3-reinit", "finished", "reinit", 3, 6.362, 3],
      ],
    );

    // Round 1's mask: the 60% of smallest final |w| of round 0's weight matrices, biases dense.
    const r0 = join(dir, "r0-ticket");
    const final0 = params(join(r0, "checkpoints", "step-00000600.safetensors"));
    const shapes = new Map(
      [...readSafetensorsSync(join(r0, "checkpoints", "step-00000600.safetensors")).tensors].map((t) => [
        t.name,
        t.shape,
      ]),
    );
    const recomputed = magnitudeMask(
      new Map([...final0].map(([n, v]) => [n, { shape: shapes.get(n)!, values: v }])),
      undefined,
      0.6,
      "global",
    );
    const masks = [1, 2, 3].map((k) => readMaskFile(join(dir, "masks", `round-${k}.safetensors`)));
    assert.deepEqual(masks[0], recomputed);
    assert.deepEqual([...masks[0]!.keys()], ["layers.0.weight", "out.weight"]);
    for (let k = 1; k < 3; k++)
      for (const [name, mask] of masks[k]!)
        mask.values.forEach((v, i) => {
          assert.ok(v <= masks[k - 1]!.get(name)!.values[i]!, `round ${k + 1} ⊆ round ${k}`);
        });

    // The ticket starts from round 0's initialization at the kept weights, zero elsewhere; the reinit from another.
    const init0 = params(join(r0, "checkpoints", "step-00000000.safetensors"));
    const ticket = join(dir, "r3-ticket");
    const reinit = join(dir, "r3-reinit");
    const ticket0 = params(join(ticket, "checkpoints", "step-00000000.safetensors"));
    const reinit0 = params(join(reinit, "checkpoints", "step-00000000.safetensors"));
    for (const [name, mask] of masks[2]!) {
      // w · mask, as the trainer masks (a masked negative weight is −0, which is 0).
      const expected = init0.get(name)!.map((w, i) => w * mask.values[i]!);
      assert.deepEqual(ticket0.get(name), expected, `${name}: rewound to step 0, masked`);
      assert.notDeepEqual(reinit0.get(name), expected, `${name}: a fresh initialization`);
    }
    assert.deepEqual(readManifest(ticket).branchOf?.run, "../r0-ticket");
    assert.equal(readManifest(reinit).sweep?.seed, 3);
    // Masked weights are zero at the end of every masked run.
    for (const run of ["r1-ticket", "r2-reinit", "r3-ticket", "r3-reinit"]) {
      const round = Number(run[1]);
      const last = params(join(dir, run, "checkpoints", "step-00000600.safetensors"));
      for (const [name, mask] of masks[round - 1]!)
        mask.values.forEach((v, i) => {
          if (v === 0) assert.ok(last.get(name)![i] === 0, `${run} ${name}[${i}] is ${last.get(name)![i]}`);
        });
    }

    // At 6.4% of the weights the ticket still solves the task and its reinitialization does not.
    const t3 = testAccuracy(ticket)!;
    const c3 = testAccuracy(reinit)!;
    assert.ok(t3.final - c3.final >= 0.2, `ticket ${t3.final} vs reinit ${c3.final}`);
    assert.ok(t3.final >= 0.95, `ticket ${t3.final}`);

    // Deterministic: round 2's ticket trained again (lm imp --resume retrains only what is missing) is byte for byte the same.
    const saved = join(out, "r2-ticket-first");
    cpSync(join(dir, "r2-ticket"), saved, { recursive: true });
    rmSync(join(dir, "r2-ticket"), { recursive: true });
    const again = await runCli(["imp", "--resume", dir, "--parallel", "2", "--backend", "wasm"]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /r2-ticket: finished/);
    assert.doesNotMatch(again.stderr, /r3-ticket: training/, "finished runs are kept");
    const last = "checkpoints/step-00000600.safetensors";
    assert.ok(readFileSync(join(dir, "r2-ticket", last)).equals(readFileSync(join(saved, last))));

    // An IMP folder is not trained as a sweep (its values are coordinates, not config fields).
    const sweep = await runCli(["sweep", "--resume", dir]);
    assert.equal(sweep.code, 1);
    assert.match(sweep.stderr, /is an IMP folder: lm imp --resume .* continues it/);
  });

  test("--rewind 20 --scope layer --controls random: the ticket and the random control branch round 0 at step 20 with their masks", async () => {
    const out = tempDir("imp-rewind");
    const r = await runCli([
      "imp",
      tiny,
      "--system",
      "tinyAdd",
      "--rounds",
      "1",
      "--fraction",
      "0.5",
      "--scope",
      "layer",
      "--rewind",
      "20",
      "--controls",
      "random",
      "--out",
      out,
      "--backend",
      "cpu",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const dir = r.stdout.trim();
    const ticketMask = readMaskFile(join(dir, "masks", "round-1.safetensors"));
    const randomMask = readMaskFile(join(dir, "masks", "random-1.safetensors"));
    // tinyAdd's matrices: the embedding [11, 8], layers.0.weight [16, 32], out.weight [32, 11]; per layer, half of each kept.
    assert.deepEqual(
      [...ticketMask].map(([n, m]) => [n, m.values.reduce((a, v) => a + v, 0), m.values.length]),
      [
        ["embed.weight", 44, 88],
        ["layers.0.weight", 256, 512],
        ["out.weight", 176, 352],
      ],
    );
    assert.deepEqual(
      [...randomMask].map(([n, m]) => [n, m.values.reduce((a, v) => a + v, 0)]),
      [...ticketMask].map(([n, m]) => [n, m.values.reduce((a, v) => a + v, 0)]),
    );
    const at20 = readSafetensorsSync(join(dir, "r0-ticket", "checkpoints", "step-00000020.safetensors"));
    for (const [run, mask] of [
      ["r1-ticket", ticketMask],
      ["r1-random", randomMask],
    ] as const) {
      const m = readManifest(join(dir, run));
      assert.equal(m.branchOf?.step, 20, run);
      assert.equal(m.status, "finished");
      const first = readSafetensorsSync(join(dir, run, "checkpoints", "step-00000020.safetensors"));
      for (const [name, keep] of mask) {
        for (const tensor of [name, `optimizer/m/${name}`]) {
          const parent = at20.byName.get(tensor)!.data;
          const own = first.byName.get(tensor)!.data;
          keep.values.forEach((k, i) => {
            assert.ok(own[i] === Number(parent[i]) * k, `${run} ${tensor}[${i}]: round 0's step-20 value × mask`);
          });
        }
      }
    }
  });
});

const picked = torchPython();

describe("lm imp on the torch backend", { skip: picked.skip }, () => {
  test("2 rounds at 0.5 with the reinit control on a tiny MLP: every run trains on torch, masks nested, masked weights zero", async () => {
    const py = picked.python ?? "python3";
    const out = tempDir("imp-torch");
    const r = await runCli([
      "imp",
      tiny,
      "--system",
      "tinyAdd",
      "--rounds",
      "2",
      "--fraction",
      "0.5",
      "--controls",
      "reinit",
      "--out",
      out,
      "--parallel",
      "1",
      "--backend",
      "torch",
      "--device",
      "cpu",
      "--python",
      py,
      "--threads",
      "1",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const dir = r.stdout.trim();
    const runs = ["r0-ticket", "r1-ticket", "r1-reinit", "r2-ticket", "r2-reinit"];
    for (const run of runs) {
      const m = readManifest(join(dir, run));
      assert.equal(m.status, "finished", run);
      assert.equal(m.backend.name, "torch", `${run} trained on torch`);
      assert.equal(m.backend.device, "cpu");
    }
    // Round 1's mask is half of round 0's final weight matrices by magnitude (computed from the torch run's checkpoint).
    const final = "checkpoints/step-00000060.safetensors";
    const st = readSafetensorsSync(join(dir, "r0-ticket", final));
    const final0 = params(join(dir, "r0-ticket", final));
    const recomputed = magnitudeMask(
      new Map([...final0].map(([n, v]) => [n, { shape: st.byName.get(n)!.shape, values: v }])),
      undefined,
      0.5,
      "global",
    );
    const masks = [1, 2].map((k) => readMaskFile(join(dir, "masks", `round-${k}.safetensors`)));
    assert.deepEqual(masks[0], recomputed);
    let zeros = 0;
    for (const run of ["r1-ticket", "r1-reinit", "r2-ticket", "r2-reinit"]) {
      const round = Number(run[1]);
      for (const step of ["00000000", "00000060"]) {
        const w = params(join(dir, run, "checkpoints", `step-${step}.safetensors`));
        for (const [name, mask] of masks[round - 1]!)
          mask.values.forEach((v, i) => {
            if (v === 0) {
              assert.ok(w.get(name)![i] === 0, `${run} step ${step} ${name}[${i}] is ${w.get(name)![i]}`);
              zeros++;
            }
          });
      }
    }
    assert.ok(zeros > 1000, `${zeros} masked entries checked`);
  });
});
