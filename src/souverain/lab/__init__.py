"""`souverain lab`: throwaway Debian hosts on this machine, systemd as PID 1, reached over SSH.

One module per concern:

- ``naming``: lab name → interface, namespace, table names and subnet (pure)
- ``checks``: refusals before anything is created (not root, tools missing, range in use)
- ``commands``: running a controller command and turning its failure into a LabError
- ``image``: the cached debootstrap base image
- ``rootfs``: one host's root, prepared from the image before it boots
- ``network``: bridge, namespaces, veth pairs, NAT (ip and nft)
- ``host``: starting and stopping one systemd-nspawn host
- ``ssh``: the lab key, known_hosts, ssh command lines
- ``state``: what a lab created, written before each resource is created
- ``deploydir``: the ready deployment directory (suite.yml, key, known_hosts)
- ``manager``: up, down, status
"""
