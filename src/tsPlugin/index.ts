// The TypeScript server plugin the extension ships (`contributes.typescriptServerPlugins` in
// package.json): in any folder, with or without node_modules or a tsconfig, `import … from
// "learning-mechanics"` resolves to the SDK's declarations shipped with the extension, so
// experiment files get completions, hover docs and type errors. It changes nothing on disk: it
// wraps the project's module resolution and fills in only names the project could not resolve.
// Bundled to dist/ts-plugin/index.js (cjs, whose module.exports is this factory, as tsserver
// requires); tsserver hands it its own `typescript` module.
import type * as TS from "typescript";
import { shippedDeclaration, typesRootFrom } from "./shipped";

type Ts = typeof TS;

export default function init(modules: { typescript: Ts }): TS.server.PluginModule {
  const ts = modules.typescript;
  return {
    create(info: TS.server.PluginCreateInfo): TS.LanguageService {
      const typesRoot = typesRootFrom(__dirname);
      const host = info.languageServiceHost;
      const fileExists = (p: string): boolean =>
        host.fileExists !== undefined ? host.fileExists(p) : ts.sys.fileExists(p);
      const shipped = (name: string, containingFile: string): TS.ResolvedModuleFull | undefined => {
        let file: string | undefined;
        try {
          file = shippedDeclaration(name, containingFile, typesRoot, fileExists);
        } catch {
          // An exception here would break the whole project's language service: leave the name unresolved.
          return undefined;
        }
        // External library: its own errors are not the user's, and it is never emitted.
        return file === undefined
          ? undefined
          : { resolvedFileName: file, extension: ts.Extension.Dts, isExternalLibraryImport: true };
      };

      // TypeScript 5.0 and later call resolveModuleNameLiterals; older ones resolveModuleNames.
      const literals = host.resolveModuleNameLiterals?.bind(host);
      if (literals !== undefined) {
        host.resolveModuleNameLiterals = (names, containingFile, ...rest) =>
          literals(names, containingFile, ...rest).map((r, i) => {
            if (r.resolvedModule !== undefined) return r;
            const found = shipped(names[i]?.text ?? "", containingFile);
            return found === undefined ? r : { ...r, resolvedModule: found };
          });
      }
      const plain = host.resolveModuleNames?.bind(host);
      if (plain !== undefined) {
        host.resolveModuleNames = (names, containingFile, ...rest) =>
          plain(names, containingFile, ...rest).map((r, i) => r ?? shipped(names[i] ?? "", containingFile));
      }
      info.project.projectService.logger.info(
        `learning-mechanics-ts-plugin: "learning-mechanics" resolves to ${typesRoot} when the project does not resolve it`,
      );
      return info.languageService;
    },
  };
}
