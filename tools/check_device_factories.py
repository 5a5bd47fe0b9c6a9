#!/usr/bin/env python3
"""Finds tensors that library code creates on the CPU by accident.

A tensor factory (at::zeros, at::full, at::arange, ...) whose options name
no device makes its tensor on the CPU: on a GPU run that is a host tensor
mixed into device math (an error, or a silent copy and a synchronization).
Every factory call in library code (mdm/**, tests, benchmarks and
mdm/testing left out) must take its options from a tensor or a device
(`x.options()`, `TensorOptions(device)`, `.device(...)`, a variable named
*options or *device), be a *_like factory, or say why the host is right
with a comment `// host: <why>` on its line or the line above (data and
checkpoints live on the host, say).

  tools/check_device_factories.py [ROOT]     # exit 1 listing offenders
  tools/check_device_factories.py --self-test
"""
import pathlib
import re
import sys

FACTORIES = (
    "zeros|ones|randn|rand|randint|randperm|empty|empty_strided|arange|"
    "linspace|logspace|full|eye|tensor|from_blob|scalar_tensor|normal")
CALL = re.compile(r"\b(?:at|torch)::(%s)\s*\(" % FACTORIES)
# Options that carry a device: taken from a tensor or naming one.
DEVICE = re.compile(
    r"\.options\(\)|TensorOptions\(\s*[^)\s]|\.device\(|\b\w*[Oo]ptions\b|"
    r"\b\w*[Dd]evice\b")
MARK = re.compile(r"//\s*host:\s*\S")


def call_text(source, start):
    """The call's text from its name to its closing parenthesis."""
    depth = 0
    for i in range(source.index("(", start), len(source)):
        if source[i] == "(":
            depth += 1
        elif source[i] == ")":
            depth -= 1
            if depth == 0:
                return source[start:i + 1]
    return source[start:]


# A variable of options: `const at::TensorOptions f64 = options.dtype(...);`
# or `const auto f64 = at::TensorOptions().dtype(...);`.
OPTIONS_VARIABLE = re.compile(
    r"\b(?:at::TensorOptions|auto)\s+(\w+)\s*=\s*([^;]*(?:TensorOptions|\b\w*[Oo]ptions\b)[^;]*);")


def carries_device(text):
    # TensorOptions() alone names no device (only what follows might).
    return DEVICE.search(re.sub(r"TensorOptions\(\s*\)", "", text))


def is_marked(lines, line):
    return MARK.search(lines[line]) or (line > 0 and MARK.search(lines[line - 1]))


def without_comments(source):
    """The source with each // comment blanked (lengths kept)."""
    return re.sub(r"//[^\n]*", lambda m: " " * len(m.group(0)), source)


def offenders(path, source):
    lines = source.split("\n")
    code = without_comments(source)
    # Variables of options that carry a device, or that say why the host
    # (a `// host:` mark on their declaration covers their uses).
    covered = set()
    for match in OPTIONS_VARIABLE.finditer(code):
        line = code.count("\n", 0, match.start())
        if carries_device(match.group(2)) or is_marked(lines, line):
            covered.add(match.group(1))
    found = []
    for match in CALL.finditer(code):
        line = code.count("\n", 0, match.start())
        text = call_text(code, match.start())
        if carries_device(text) or covered & set(re.findall(r"\w+", text)):
            continue
        if not is_marked(lines, line):
            found.append(f"{path}:{line + 1}: {' '.join(text.split())}")
    return found


def library_sources(root):
    for path in sorted((root / "mdm").rglob("*")):
        if path.suffix not in (".cc", ".h"):
            continue
        name = path.name
        if name.endswith(("_test.cc", "_bench.cc")) or "testing" in path.parts:
            continue
        yield path


def self_test():
    planted = {
        "at::full({1}, t, at::kDouble);": 1,
        "at::zeros({n}, x.options());": 0,
        "at::zeros_like(x);": 0,
        "at::eye(K, A.options().dtype(at::kDouble));": 0,
        "at::arange(0, n,\n    at::TensorOptions(device).dtype(at::kLong));": 0,
        "at::randn({n}, gen, tensor_options);": 0,
        "at::randn({n});": 1,
        "at::full({1}, t, at::TensorOptions().dtype(at::kDouble));": 1,
        "// host: a checkpoint entry\nat::full({1}, 3.0, at::kDouble);": 0,
        "at::tensor(values, at::kDouble);  // host: a CSV row": 0,
        "torch::from_blob(p, {n}, at::kByte).clone();": 1,
        "at::ones({n}, x.device());": 0,
        "// host:\nat::ones({n});": 1,
        "const at::TensorOptions f64 = options.dtype(at::kDouble);\n"
        "at::rand({n}, gen, f64);": 0,
        "const auto f64 = at::TensorOptions().dtype(at::kDouble);\n"
        "at::rand({n}, gen, f64);": 1,
        "// host: toy data\nconst auto f64 = at::TensorOptions().dtype(at::kDouble);\n"
        "at::rand({n}, gen, f64);": 0,
        "// Example: at::tensor({0.0, 2.0})\nint x;": 0,
        "x = at::zeros({n});  // at::kDouble, x.options()": 1,
    }
    failures = 0
    for source, expected in planted.items():
        got = len(offenders("planted", source))
        if got != expected:
            print(f"self-test: {source!r}: {got} offenders, expected {expected}")
            failures += 1
    print(f"self-test: {len(planted) - failures} of {len(planted)} planted cases right")
    return 1 if failures else 0


def main(argv):
    if argv[1:] == ["--self-test"]:
        return self_test()
    root = pathlib.Path(argv[1] if len(argv) > 1 else ".")
    found = []
    for path in library_sources(root):
        found += offenders(path.relative_to(root), path.read_text())
    for line in found:
        print(line)
    if found:
        print(f"check_device_factories: {len(found)} tensor factories without a "
              "device and without a `// host: <why>` comment")
        return 1
    print("check_device_factories: every tensor factory in library code names "
          "its device or says why the host")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
