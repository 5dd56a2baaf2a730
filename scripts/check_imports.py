#!/usr/bin/env python3
"""The module boundaries, checked rather than kept by habit (docs/architecture.md).

Reads the package description (`swift package dump-package`) and every `import` of every
target, and fails when:
  - a target imports a module it does not declare (a target dependency or a product);
  - a target declares a dependency it never imports;
  - the rules, engine or planner modules import NIO, GRDB, Hummingbird or AsyncHTTPClient;
  - the plain values import anything but the standard library;
  - the upstream clients import the engine or the rules;
  - the sandbox imports the runtime, the server or the CLI.

Usage: scripts/check_imports.py [PACKAGE_DIR]   (prints one line per violation; exit 1 if any)
"""

import json
import os
import re
import subprocess
import sys

# Modules of the toolchain and the platform: always there, never declared.
SYSTEM = {
    "Foundation", "FoundationEssentials", "Glibc", "Darwin", "Musl", "Dispatch", "CDispatch",
    "Synchronization", "Testing", "XCTest", "_Concurrency", "os",
}
# Products whose module names differ from the product name.
PRODUCT_MODULES = {"Metrics": {"Metrics", "CoreMetrics"}}

PURE = {"LeadsyncValues", "LeadsyncCore", "LeadsyncRules", "LeadsyncSync"}
IO_MODULES = re.compile(r"^(NIO\w*|GRDB|Hummingbird\w*|AsyncHTTPClient)$")
RULES = [
    # (target, forbidden module pattern, why)
    *[(t, IO_MODULES, "the rules, engine and planner stay pure") for t in PURE],
    ("LeadsyncValues", re.compile(r"^(?!Foundation$).+$"), "plain values depend on nothing"),
    ("LeadsyncUpstream", re.compile(r"^(LeadsyncCore|LeadsyncRules|LeadsyncSync)$"),
     "the clients know values, not the engine or the rules"),
    ("LeadsyncSandbox", re.compile(r"^(LeadsyncRuntime|LeadsyncServer|LeadsyncCLI|LeadsyncCore|LeadsyncRules)$"),
     "the sandbox emulates the upstreams; it must not share the product's picture of them"),
]


def main() -> int:
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), ".."))
    dump = subprocess.run(
        ["swift", "package", "dump-package"], cwd=root, check=True, capture_output=True, text=True
    ).stdout
    package = json.loads(dump)
    problems = []
    for target in package["targets"]:
        name = target["name"]
        declared = set()
        # Each declared dependency, by the modules that count as using it.
        dependencies = {}
        for dep in target.get("dependencies", []):
            if "byName" in dep:
                dependencies[dep["byName"][0]] = {dep["byName"][0]}
            elif "target" in dep:
                dependencies[dep["target"][0]] = {dep["target"][0]}
            elif "product" in dep:
                product = dep["product"][0]
                dependencies[product] = PRODUCT_MODULES.get(product, {product})
        for modules in dependencies.values():
            declared |= modules
        imported = set()
        folder = target.get("path") or os.path.join("Tests" if target["type"] == "test" else "Sources", name)
        for dirpath, _, files in os.walk(os.path.join(root, folder)):
            for file in sorted(files):
                if not file.endswith(".swift"):
                    continue
                path = os.path.join(dirpath, file)
                rel = os.path.relpath(path, root)
                for n, line in enumerate(open(path, encoding="utf-8"), 1):
                    m = re.match(r"^\s*(?:@\w+(?:\([^)]*\))?\s+)*import\s+(?:(?:struct|class|enum|func|protocol|typealias|var|let)\s+)?(\w+)", line)
                    if not m:
                        continue
                    module = m.group(1)
                    imported.add(module)
                    if module in SYSTEM or module == name:
                        continue
                    if module not in declared:
                        problems.append(f"{rel}:{n}: {name} imports {module}, which it does not declare")
                    for target_name, pattern, why in RULES:
                        if name == target_name and pattern.match(module):
                            problems.append(f"{rel}:{n}: {name} imports {module}: {why}")
        for dependency, modules in sorted(dependencies.items()):
            if not modules & imported:
                problems.append(f"Package.swift: {name} declares {dependency} and never imports it")
    for p in problems:
        print(p)
    if problems:
        print(f"check-imports: {len(problems)} violations", file=sys.stderr)
        return 1
    print(f"check-imports: {len(package['targets'])} targets, boundaries hold")
    return 0


if __name__ == "__main__":
    sys.exit(main())
