// The line every bench ends with, which bench/run.mjs checks for:
// BENCH <name> ours=… baseline=… ratio=… unit=… [extra].
export function report(name, ours, baseline, unit, extra = "") {
  const ratio = ours / baseline;
  console.log(
    `BENCH ${name} ours=${ours.toFixed(2)} baseline=${baseline.toFixed(2)} ratio=${ratio.toFixed(4)} unit=${unit}${extra ? " " + extra : ""}`,
  );
}
