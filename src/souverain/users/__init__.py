"""People of each tenant, kept in the suite's directory (`souverain user`).

``people`` validates what a person is (uid, names, email, groups) and reads CSV imports;
``directory`` talks to slapd over LDAPS with ldap3; ``passwords`` gets a password from a
prompt, a file or stdin (never from the command line) or generates one.
"""
