#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Adds the mmn_stopgap crate to a kernel-generated rust-project.json.

The kernel's scripts/generate_rust_analyzer.py finds an external module's
crate root only when a Makefile or Kbuild *in the same directory* names
<root>.o; ours is rust/mmn_stopgap.rs, named by the top-level Kbuild. This
adds the crate the way the generator adds a driver's: depending on core,
kernel, pin_init, zerocopy and zerocopy_derive, with the kernel crate's cfgs.
"""
import json
import pathlib
import sys


def main() -> None:
    project = pathlib.Path(sys.argv[1])
    root = pathlib.Path(sys.argv[2]).resolve()
    data = json.loads(project.read_text())
    crates = data["crates"]
    index = {c.get("display_name"): i for i, c in enumerate(crates)}
    if "mmn_stopgap" in index:
        return
    deps = [{"crate": index[n], "name": n}
            for n in ("core", "kernel", "pin_init", "zerocopy", "zerocopy_derive")
            if n in index]
    kernel = crates[index["kernel"]]
    crates.append({
        "display_name": "mmn_stopgap",
        "root_module": str(root / "rust" / "mmn_stopgap.rs"),
        "is_workspace_member": True,
        "deps": deps,
        "cfg": kernel.get("cfg", []),
        "edition": "2021",
        "env": {"RUST_MODFILE": "This is only for rust-analyzer"},
    })
    project.write_text(json.dumps(data, sort_keys=True, indent=4))
    print(f"rust-project.json: added mmn_stopgap ({len(deps)} deps)")


if __name__ == "__main__":
    main()
