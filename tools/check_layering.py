#!/usr/bin/env python3
"""Checks vidprobe's module layering.

Reads the module graph that src/vidprobe/CMakeLists.txt writes (one line per module:
"name: dep dep ...") and fails, naming file, line and module, when a source file of a module
includes a header of a module that is neither itself nor one of its declared dependencies.
"""
import argparse
import pathlib
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s*[<"]vidprobe/([a-z0-9_]+)/')


def read_graph(path):
    graph = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        name, sep, deps = line.partition(":")
        if not sep:
            sys.exit(f"{path}:{number}: expected 'module: deps', got {line!r}")
        graph[name.strip()] = set(deps.replace(";", " ").split())
    return graph


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--graph", type=pathlib.Path, required=True)
    parser.add_argument("--src", type=pathlib.Path, required=True, help="src/vidprobe")
    args = parser.parse_args()
    graph = read_graph(args.graph)
    problems = []
    for module_dir in sorted(p for p in args.src.iterdir() if p.is_dir()):
        module = module_dir.name
        if module not in graph:
            problems.append(f"{module_dir}: folder is not a module declared in the CMake graph")
            continue
        allowed = graph[module] | {module}
        for source in sorted(module_dir.rglob("*")):
            if source.suffix not in (".h", ".cpp"):
                continue
            for number, line in enumerate(source.read_text().splitlines(), 1):
                match = INCLUDE.match(line)
                if match and match.group(1) not in allowed:
                    problems.append(f"{source}:{number}: module '{module}' includes "
                                    f"'{match.group(1)}', which it does not declare "
                                    f"(declared: {' '.join(sorted(graph[module])) or 'none'})")
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} layering violation(s)")
        return 1
    print(f"layering: {len(graph)} modules, no violations")
    return 0


if __name__ == "__main__":
    sys.exit(main())
