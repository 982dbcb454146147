#!/usr/bin/env python3
"""The livmap VM-migration scenario as a Mininet topology (for Mininet users; not run in CI).

  s0 (underlay switch, 10.99.0.0/24)
    ms   livmap Map-Server/Map-Resolver   10.99.0.2
    xa   site "local" xTR                 10.99.0.3   EID 10.16.10.0/24
    xb   site "cloud" xTR                 10.99.0.4   EID 192.168.20.0/24
    xc   correspondent xTR                10.99.0.6   EID 172.16.30.0/24 (host 172.16.30.10 on lo)
  vm   10.16.10.50/24, gateway 10.16.10.1, linked to xa; the move re-links it to xb.

The xTRs are OOR 1.3 (`oor -f <conf>`) with configs from `livmap xtr-config` (see
simulations/netns/run.sh for the spec it feeds), or the emulated xTR + tun.py of
simulations/netns. Usage (as root, after `npm run build`):

  sudo python3 simulations/mininet/migration.py [--repo /path/to/livmap] [--cli]

It starts livmap on ms and leaves the xTRs to you (or the CLI) unless --xtr emulated is given.
"""
import argparse
import os
import time

from mininet.cli import CLI
from mininet.link import Link
from mininet.log import setLogLevel
from mininet.net import Mininet
from mininet.node import Node
from mininet.topo import Topo

GW_MAC = "02:00:00:00:10:01"  # the VM's gateway MAC, the same at both sites


class Router(Node):
    """An xTR host: forwards IP, no reverse-path filtering (LISP decapsulated traffic)."""

    def config(self, **params):
        super().config(**params)
        for key in ("net.ipv4.ip_forward=1", "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0"):
            self.cmd("sysctl -qw " + key)


class MigrationTopo(Topo):
    def build(self):
        s0 = self.addSwitch("s0", failMode="standalone")
        self.addHost("ms", ip="10.99.0.2/24")
        for name, ip in (("xa", "10.99.0.3/24"), ("xb", "10.99.0.4/24"), ("xc", "10.99.0.6/24")):
            self.addHost(name, cls=Router, ip=ip)
        for name in ("ms", "xa", "xb", "xc"):
            self.addLink(name, s0)
        # No address here: the VM has no link until attach_vm gives it one.
        self.addHost("vm", ip=None)


def attach_vm(net, site):
    """Links the VM to `site` (xa or xb) with the gateway address and the VM's host route there."""
    vm, xtr = net["vm"], net[site]
    link = Link(vm, xtr, intfName1="vm-eth0", intfName2=site + "-vm0", addr2=GW_MAC)
    vm.setIP("10.16.10.50/24", intf=link.intf1)
    vm.cmd("ip route replace default via 10.16.10.1 dev vm-eth0")
    xtr.cmd("ip addr add 10.16.10.1/32 dev %s-vm0" % site)
    xtr.cmd("ip route replace 10.16.10.50/32 dev %s-vm0" % site)
    return link


def move_vm(net, link, to_site):
    """The migration: the VM's link goes down at the old site and comes up at the new one."""
    net.delLink(link)
    return attach_vm(net, to_site)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repo", default=os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
    parser.add_argument("--cli", action="store_true", help="open the Mininet CLI instead of moving the VM once")
    args = parser.parse_args()
    setLogLevel("info")
    net = Mininet(topo=MigrationTopo(), controller=None, autoSetMacs=True)
    net.start()
    try:
        net["xc"].cmd("ip addr add 172.16.30.10/32 dev lo")
        link = attach_vm(net, "xa")
        daemon = os.path.join(args.repo, "dist", "simulations", "netns", "daemon.js")
        net["ms"].cmd(
            "node %s ms --listen 10.99.0.2:4342 --key livmap-netns-key --site local=10.16.10.0/24 "
            "--site cloud=192.168.20.0/24 --site corr=172.16.30.0/24 --lifetime-ms 600000 > /tmp/livmap-ms.log 2>&1 &" % daemon
        )
        if args.cli:
            CLI(net)
        else:
            time.sleep(5)  # start the xTRs and a probe from xc to 10.16.10.50 meanwhile
            link = move_vm(net, link, "xb")
            time.sleep(5)
    finally:
        net.stop()


if __name__ == "__main__":
    main()
