#!/usr/bin/env python3
"""Fails on an #include against MDM's documented layer order.

The order is README.md's code block under "### Layers": packages left to
right, "->" between layers, "," within one. A file of mdm/<a> may include
mdm/<b> only when b's layer is a's or lower; mdm/testing (test helpers) may
be included by any file and itself includes only mdm/util.

  tools/check_layers.py [ROOT]      # check ROOT (default: the checkout)
  tools/check_layers.py --self-test # the check on planted cases
"""
import os
import re
import sys
import tempfile

INCLUDE = re.compile(r'^\s*#\s*include\s+"mdm/([a-z_]+)/', re.M)


def layers(readme_text):
    """{package: layer index} from README's "### Layers" block."""
    section = readme_text.split("### Layers", 1)[1]
    block = section.split("```", 2)[1]
    order = {}
    for index, layer in enumerate(re.split(r"->", block)):
        for name in re.findall(r"mdm/([a-z_]+)", layer):
            order[name] = index
    if len(order) < 2:
        sys.exit("README.md's Layers block names no packages")
    return order


def violations(root):
    order = layers(open(os.path.join(root, "README.md")).read())
    found = []
    mdm = os.path.join(root, "mdm")
    for package in sorted(os.listdir(mdm)):
        folder = os.path.join(mdm, package)
        if not os.path.isdir(folder):
            continue
        if package != "testing" and package not in order:
            found.append(f"mdm/{package}: not in README's Layers block")
            continue
        for dirpath, _, files in os.walk(folder):
            for name in sorted(files):
                if not name.endswith((".cc", ".h")):
                    continue
                path = os.path.join(dirpath, name)
                text = open(path, errors="replace").read()
                for target in INCLUDE.findall(text):
                    if target == package:
                        continue
                    if package == "testing":
                        ok = target == "util"
                    else:
                        ok = target == "testing" or (
                            target in order and order[target] <= order[package])
                    if not ok:
                        found.append(f"{os.path.relpath(path, root)}: includes "
                                     f"mdm/{target}, above mdm/{package}")
    return found


def self_test():
    readme = ("# x\n### Layers\n\n```\nmdm/util -> mdm/proto -> mdm/sde, "
              "mdm/data\n  -> mdm/bin\n```\n")
    cases = {
        # path: (text, expected number of violations)
        "mdm/proto/a.cc": ('#include "mdm/util/x.h"\n#include "mdm/proto/b.h"\n', 0),
        "mdm/sde/a.h": ('#include "mdm/data/x.h"\n#include "mdm/testing/t.h"\n', 0),
        "mdm/proto/b.cc": ('#include "mdm/sde/x.h"\n', 1),       # upward
        "mdm/util/c.cc": ('  #  include "mdm/proto/x.h"\n', 1),  # upward
        "mdm/data/d.cc": ('#include "mdm/bin/x.h"\n', 1),        # upward
        "mdm/testing/t.cc": ('#include "mdm/proto/x.h"\n', 1),   # testing
        # A comment is no include; an unknown package is a violation.
        "mdm/bin/e.cc": ('// #include "mdm/sde/x.h"\n#include "mdm/zzz/x.h"\n', 1),
        "mdm/extra/f.cc": ("", 1),                            # unlisted
    }
    with tempfile.TemporaryDirectory() as root:
        open(os.path.join(root, "README.md"), "w").write(readme)
        for path, (text, _) in cases.items():
            os.makedirs(os.path.join(root, os.path.dirname(path)), exist_ok=True)
            open(os.path.join(root, path), "w").write(text)
        found = violations(root)
        failures = 0
        for path, (_, expected) in cases.items():
            package = path.split("/")[1]
            got = sum(1 for f in found
                      if f.startswith(path) or f == f"mdm/{package}: not in "
                      "README's Layers block")
            if got != expected:
                print(f"self-test: {path}: {got} violations, expected {expected}")
                failures += 1
    print("self-test:", "FAILED" if failures else "passed",
          f"({len(cases)} planted cases)")
    return 1 if failures else 0


def main(argv):
    if argv[1:] == ["--self-test"]:
        return self_test()
    root = argv[1] if len(argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..")
    found = violations(root)
    for line in found:
        print(line)
    print(f"layers: {len(found)} upward includes")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
