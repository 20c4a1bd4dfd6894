import packageJson from "../../package.json";

/** The product version, from package.json (inlined by the bundler). */
export const VERSION: string = packageJson.version;
