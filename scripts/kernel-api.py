#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Which kernel crate items the module uses, and which of them a kernel source lacks.

Usage: kernel-api.py KSRC [MODULE_SRC_DIR]

Reads the module's sources (rust/ and its subdirectories), collects every path it
imports or names under `kernel::` (use trees resolved) and the `bindings::`
items, in code (comments, and so the doc examples, are not read; nor are the C
helpers in rust/helpers/, which need only <linux/mmu_notifier.h> and
<linux/hmm.h>), then looks each one up in KSRC's Rust
kernel crate (rust/kernel/) and C headers: a module file for each path
segment, and a public definition or re-export of the last one. Prints one
line per item, "present" or "MISSING", and exits 1 if any is missing.

A static check: it answers "would the module find what it names", not "does
it build" (signatures may differ); scripts/setup.sh + a kernel build answer
that for the supported versions.
"""
import os
import re
import sys


def use_paths(tree, prefix=""):
    """Expands a use tree ("a::{b, c::{d}}") into full paths."""
    tree = tree.strip()
    if not tree:
        return []
    brace = tree.find("{")
    if brace < 0:
        p = (prefix + tree).strip()
        p = re.sub(r"\s+as\s+\w+$", "", p)
        return [p]
    head = tree[:brace]
    body = tree[brace + 1:tree.rfind("}")]
    parts, depth, cur = [], 0, ""
    for ch in body:
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
            continue
        depth += ch == "{"
        depth -= ch == "}"
        cur += ch
    parts.append(cur)
    out = []
    for part in parts:
        part = part.strip().rstrip("/").strip()
        if part and part != "//":
            out += use_paths(part, prefix + head)
    return out


def module_items(src):
    paths, bindings = set(), set()
    for root, _, files in os.walk(src):
        if "compile-fail" in root:
            continue
        for f in files:
            if not f.endswith(".rs"):
                continue
            text = open(os.path.join(root, f)).read()
            text = re.sub(r"//[^\n]*", "", text)
            for m in re.finditer(r"\buse\s+(kernel::[^;]*);", text, flags=re.S):
                for p in use_paths(m.group(1)):
                    p = p.replace(" ", "").replace("\n", "")
                    if p.endswith("::self"):
                        p = p[: -len("::self")]
                    if not p.endswith("*"):
                        paths.add(p)
            for m in re.finditer(r"\bkernel::((?:\w+::)*\w+!?)", text):
                paths.add("kernel::" + m.group(1))
            for m in re.finditer(r"\bbindings::(\w+)", text):
                bindings.add(m.group(1))
    return sorted(paths), sorted(bindings)


def find_module(ksrc, segs):
    """The file of module kernel::segs[0]::... or None."""
    base = os.path.join(ksrc, "rust", "kernel")
    cur = None
    for s in segs:
        cands = [os.path.join(base, s + ".rs"), os.path.join(base, s, "mod.rs")]
        cur = next((c for c in cands if os.path.exists(c)), None)
        if cur is None:
            return None
        base = os.path.join(base, s)
    return cur


def defines(text, name):
    name = name.rstrip("!")
    pats = [
        rf"pub(\([^)]*\))?\s+(unsafe\s+)?(const\s+)?(async\s+)?(extern\s+\"C\"\s+)?fn\s+{name}\b",
        rf"pub(\([^)]*\))?\s+(struct|enum|trait|type|union|mod|static|const)\s+{name}\b",
        rf"macro_rules!\s+{name}\b",
        rf"pub\s+use\s+[^;]*\b{name}\b[^;]*;",
        rf"pub\s+(unsafe\s+)?trait\s+{name}\b",
    ]
    return any(re.search(p, text, flags=re.S) for p in pats)


def present(ksrc, path, lib_text):
    segs = path.split("::")[1:]
    if len(segs) == 1:
        # kernel::name: a module, a macro exported at the root, or a root item.
        name = segs[0]
        if find_module(ksrc, [name]):
            return True
        if re.search(rf"macro_rules!\s+{name.rstrip('!')}\b", all_macros(ksrc)):
            return True
        return defines(lib_text, name)
    mod = find_module(ksrc, segs[:-1])
    if mod is None:
        # A module declared inline, or a re-export: accept a definition anywhere below.
        return False
    if find_module(ksrc, segs):
        return True
    return defines(open(mod).read(), segs[-1])


_macros = None


def all_macros(ksrc):
    global _macros
    if _macros is None:
        chunks = []
        for root, _, files in os.walk(os.path.join(ksrc, "rust")):
            for f in files:
                if f.endswith(".rs"):
                    chunks.append(open(os.path.join(root, f), errors="replace").read())
        _macros = "\n".join(chunks)
    return _macros


def c_identifiers(ksrc):
    """Every identifier of the C headers and the Rust helpers of KSRC."""
    ids = set()
    for top in (os.path.join(ksrc, "include"), os.path.join(ksrc, "arch", "x86", "include"),
                os.path.join(ksrc, "rust", "helpers")):
        for root, _, files in os.walk(top):
            for f in files:
                if f.endswith((".h", ".c")):
                    text = open(os.path.join(root, f), errors="replace").read()
                    ids.update(re.findall(r"\b[A-Za-z_]\w*\b", text))
    return ids


def c_present(name, ids):
    if name in ids or name.removeprefix("rust_helper_") in ids:
        return True
    # bindgen names an enum constant <enum>_<CONSTANT>.
    m = re.search(r"_([A-Z][A-Z0-9_]*)$", name)
    while m:
        if m.group(1) in ids:
            return True
        m = re.search(r"_([A-Z][A-Z0-9_]*)$", m.group(1)[:-1]) if "_" in m.group(1)[1:] else None
    return False


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    ksrc = sys.argv[1]
    src = sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(__file__), "..", "rust")
    paths, bindings = module_items(src)
    lib_text = open(os.path.join(ksrc, "rust", "kernel", "lib.rs")).read()
    ffi = os.path.join(ksrc, "rust", "ffi.rs")
    ffi_text = open(ffi).read() if os.path.exists(ffi) else ""
    ids = c_identifiers(ksrc)
    missing = []
    for p in paths:
        p = re.sub(r"::(try_from|from|new)$", "", p)
        if p == "kernel::bindings":
            ok = os.path.exists(os.path.join(ksrc, "rust", "bindings"))
        elif p.startswith("kernel::bindings::"):
            bindings.append(p.split("::")[-1])
            continue
        elif p.startswith("kernel::ffi::"):
            name = p.split("::")[-1]
            ok = bool(ffi_text) and re.search(rf"\b{name}\b", ffi_text) is not None
        else:
            ok = present(ksrc, p, lib_text)
        if not ok:
            missing.append(p)
        print(f"{'present' if ok else 'MISSING'}  {p}")
    for b in sorted(set(bindings)):
        ok = c_present(b, ids)
        if not ok:
            missing.append("bindings::" + b)
        print(f"{'present' if ok else 'MISSING'}  bindings::{b}")
    print(f"{len(missing)} missing of {len(paths) + len(set(bindings))}")
    sys.exit(1 if missing else 0)


if __name__ == "__main__":
    main()
