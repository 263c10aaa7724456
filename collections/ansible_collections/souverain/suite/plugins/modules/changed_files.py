#!/usr/bin/python
"""Report which rendered files differ on the host (content, mode, owner or group)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: changed_files
short_description: Find which rendered files differ on the host
description:
  - Compares each file's sha256, mode, owner and group with what is on the host and returns
    the destinations that are missing or differ. Reads only; never changes anything.
options:
  files:
    description:
      - The rendered files, as `souverain render` lists them in the inventory (`<role>_files`).
      - Each item needs C(dest) and C(sha256); C(mode), C(owner), C(group) are compared when
        given.
    type: list
    elements: dict
    required: true
author:
  - souverain developers
"""

EXAMPLES = r"""
- name: Find which rendered proxy files differ on the host
  souverain.suite.changed_files:
    files: "{{ proxy_files }}"
  register: proxy_changed_files_result
"""

RETURN = r"""
differ:
  description: Destinations whose file is missing or differs.
  returned: always
  type: list
  elements: str
"""

import grp
import hashlib
import os
import pwd
import stat

from ansible.module_utils.basic import AnsibleModule


def _name(lookup, ident):
    try:
        return lookup(ident)[0]
    except KeyError:
        return str(ident)


def _differs(item):
    path = item["dest"]
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return True
    if not stat.S_ISREG(info.st_mode):
        return True
    mode = item.get("mode")
    if mode is not None and stat.S_IMODE(info.st_mode) != int(str(mode), 8):
        return True
    owner = item.get("owner")
    if owner is not None and _name(pwd.getpwuid, info.st_uid) != owner:
        return True
    group = item.get("group")
    if group is not None and _name(grp.getgrgid, info.st_gid) != group:
        return True
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest() != item["sha256"]


def main():
    module = AnsibleModule(
        argument_spec={"files": {"type": "list", "elements": "dict", "required": True}},
        supports_check_mode=True,
    )
    differ = []
    for item in module.params["files"]:
        if "dest" not in item or "sha256" not in item:
            module.fail_json(msg="each file needs 'dest' and 'sha256'", item=item)
        try:
            if _differs(item):
                differ.append(item["dest"])
        except PermissionError as error:
            module.fail_json(msg=f"cannot read {item['dest']}: {error}")
    module.exit_json(changed=False, differ=differ)


if __name__ == "__main__":
    main()
