// The analysis math in one import: `import { analyzeGrokking, linearCka } from "../measures"`.
export * from "./matrix";
export * from "./kernels";
export * from "./fourier";
export * from "./smoothing";
export * from "./grokking";
export * from "./regime";
export * from "./extent";
export * from "./leastSquares";
export * from "./movement";
export * from "./lanczos";
export * from "./sharpness";
export * from "./conservation";
export * from "./symmetries";
export * from "./lmc";
export * from "./rankCorrelation";
export * from "./inContext";
