#!/usr/bin/env python3
"""The config reference of docs/configs.md, generated from experiment.proto.

Reads mdm/proto/experiment.proto and prints, for every field of
mdm.proto.Experiment (top-level fields and the fields of its blocks), a
Markdown table row: the field's path, its default, and its comment.

  tools/config_reference.py PROTO                 # print the table
  tools/config_reference.py PROTO --write PAGE    # replace PAGE's table
  tools/config_reference.py PROTO --check PAGE    # exit 1 if PAGE differs

A field's meaning is the comment block directly above it (or above its
enum type, when the field has none) plus any comment after it on its line.
Fields declared directly below another without a comment of their own share
that field's comment. Enum fields list their values. In PAGE the table is
everything after the line MARKER.
"""
import re
import sys

MARKER = ("<!-- Generated from mdm/proto/experiment.proto by "
          "tools/config_reference.py; edit the proto's comments, then run "
          "tools/config_reference.py mdm/proto/experiment.proto --write "
          "docs/configs.md -->")

FIELD = re.compile(
    r"^\s*(optional|repeated)\s+([\w.]+)\s+(\w+)\s*=\s*\d+\s*"
    r"(?:\[default\s*=\s*(.*?)\])?\s*;\s*(?://\s*(.*))?$")
MESSAGE = re.compile(r"^\s*message\s+(\w+)\s*\{")
ENUM = re.compile(r"^\s*enum\s+(\w+)\s*\{")
ENUM_VALUE = re.compile(r"^\s*(\w+)\s*=\s*\d+\s*;")
COMMENT = re.compile(r"^\s*//\s?(.*)$")
ZERO = {"bool": "false", "string": "(empty)", "bytes": "(empty)"}


def parse(text):
    """{message: [field dicts]} and {enum: (values, comment)}."""
    messages, enums = {}, {}
    stack = []  # ("message" | "enum", name)
    comment, previous = [], None
    lines = []  # A field declared over several lines becomes one.
    for line in text.splitlines():
        if lines and re.match(r"^\s*(optional|repeated)\s", lines[-1]) and \
                ";" not in lines[-1]:
            lines[-1] += " " + line.strip()
        else:
            lines.append(line)
    for line in lines:
        if m := COMMENT.match(line):
            part = m.group(1).strip()
            if comment and re.search(r"[A-Za-z]-$", comment[-1]):
                comment[-1] += part  # A hyphenated word split over lines.
            else:
                comment.append(part)
            continue
        if not line.strip():
            comment, previous = [], None
            continue
        if m := MESSAGE.match(line):
            stack.append(("message", m.group(1)))
            messages[m.group(1)] = []
            comment, previous = [], None
            continue
        if m := ENUM.match(line):
            stack.append(("enum", m.group(1)))
            enums[m.group(1)] = ([], " ".join(comment))
            comment = []
            continue
        if line.strip().startswith("}"):
            stack.pop()
            comment = []
            continue
        if not stack:  # syntax, package
            comment = []
            continue
        kind, name = stack[-1]
        if kind == "enum":
            if m := ENUM_VALUE.match(line):
                if not m.group(1).endswith("_UNSPECIFIED"):
                    enums[name][0].append(m.group(1))
            comment = []
            continue
        m = FIELD.match(line)
        if m is None:
            comment = []
            continue
        label, ftype, fname, default, trailing = m.groups()
        own = " ".join(comment)
        field = {"label": label, "type": ftype, "name": fname,
                 "default": default, "comment": own,
                 "trailing": (trailing or "").strip(),
                 "shares": None}
        if not own and ftype in enums and enums[ftype][1]:
            field["comment"] = enums[ftype][1]
        elif not own and previous is not None:
            field["shares"] = previous["name"]
            field["comment"] = previous["comment"]
        messages[name].append(field)
        previous = field if not field["shares"] else previous
        comment = []
    return messages, enums


def default_of(field, enums):
    if field["label"] == "repeated":
        m = re.search(r"Default \(([^)]*)\)", field["trailing"])
        return m.group(1) if m else "(empty)"
    d = field["default"]
    if d is None:
        if field["type"] in enums:
            return enums[field["type"]][0][0]
        return ZERO.get(field["type"], "0")
    d = d.strip()
    if d.startswith('"'):
        return d.strip('"') or "(empty)"
    return d


def meaning_of(field, enums, block):
    parts = []
    if field["shares"]:
        parts.append(f"With `{block}{field['shares']}`: {field['comment']}")
    elif field["comment"]:
        parts.append(field["comment"])
    trailing = field["trailing"]
    if trailing and not trailing.startswith("Default ("):
        parts.append(trailing)
    values = enums.get(field["type"], ([], ""))[0]
    said = " ".join(parts)
    if values and not all(re.search(rf"\b{v}\b", said) for v in values):
        parts.append("One of " + ", ".join(values) + ".")
    text = " ".join(parts).replace("|", "\\|")
    return text


def table(text):
    messages, enums = parse(text)
    rows = ["| field | default | meaning |", "|---|---|---|"]
    for field in messages["Experiment"]:
        if field["type"] in messages:
            block = field["name"] + "."
            for sub in messages[field["type"]]:
                rows.append(f"| `{block}{sub['name']}` | {default_of(sub, enums)} "
                            f"| {meaning_of(sub, enums, block)} |")
        else:
            rows.append(f"| `{field['name']}` | {default_of(field, enums)} "
                        f"| {meaning_of(field, enums, '')} |")
    return "\n".join(rows) + "\n"


def main(argv):
    if len(argv) not in (2, 4) or (len(argv) == 4 and
                                  argv[2] not in ("--write", "--check")):
        sys.exit(__doc__)
    generated = table(open(argv[1]).read())
    if len(argv) == 2:
        sys.stdout.write(generated)
        return 0
    page_path = argv[3]
    page = open(page_path).read()
    if MARKER not in page:
        sys.exit(f"{page_path}: no line {MARKER}")
    head = page[:page.index(MARKER) + len(MARKER)] + "\n\n"
    if argv[2] == "--write":
        open(page_path, "w").write(head + generated)
        return 0
    if page != head + generated:
        sys.stderr.write(
            f"{page_path} differs from what {argv[1]} generates: run\n"
            f"  tools/config_reference.py {argv[1]} --write {page_path}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
