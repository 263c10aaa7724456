"""Running the playbooks: ansible-runner, live progress, the run log.

Only this package imports ``ansible_runner`` (lazily, inside the function that runs it), so
``souverain --help``, ``validate`` and ``render`` never pay for Ansible.
"""
