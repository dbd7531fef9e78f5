#!/usr/bin/env python3
"""Writes a large synthetic kernel log for bench/scan.sh: mixed containers (kern.log
syslog lines with and without [uptime], dmesg, journalctl short-iso, kmsg records),
ordinary kernel and daemon chatter, and complete OOM reports sprinkled in (global 6.x,
memcg, 3.10-style, storms of header-less kills).

usage: gen_kernel_log.py OUT_FILE SIZE_MB   -- prints the number of kills written."""
import random
import sys

out_path = sys.argv[1]
size_mb = int(sys.argv[2]) if len(sys.argv) > 2 else 1024
rng = random.Random(42)

NOISE = [
    "EXT4-fs (sda1): re-mounted. Opts: errors=remount-ro",
    "IPv6: ADDRCONF(NETDEV_CHANGE): eth0: link becomes ready",
    "e1000e 0000:00:19.0 eth0: NIC Link is Up 1000 Mbps Full Duplex, Flow Control: Rx/Tx",
    "audit: type=1400 audit(1700000000.123:456): apparmor=\"STATUS\" operation=\"profile_replace\" name=\"snap.lxd\" pid=1234 comm=\"apparmor_parser\"",
    "usb 1-1.2: new high-speed USB device number 5 using ehci-pci",
    "nf_conntrack: default automatic helper assignment has been turned off for security reasons",
    "TCP: request_sock_TCP: Possible SYN flooding on port 443. Sending cookies.",
    "device veth3f2a1b0 entered promiscuous mode",
    "docker0: port 2(veth3f2a1b0) entered forwarding state",
    "[UFW BLOCK] IN=eth0 OUT= MAC=52:54:00:12:34:56 SRC=10.0.0.5 DST=10.0.0.1 LEN=60 TOS=0x00 PROTO=TCP SPT=51234 DPT=22 WINDOW=64240",
    "systemd-journald[321]: Data hash table of /var/log/journal/abc/system.journal has a fill level at 75.0 (1234 of 1645 items), suggesting rotation.",
    "CRON[4242]: (root) CMD (command -v debian-sa1 > /dev/null && debian-sa1 1 1)",
    "sshd[9876]: Accepted publickey for deploy from 10.1.2.3 port 50522 ssh2: RSA SHA256:abcdefghijklmnop",
    "kauditd_printk_skb: 12 callbacks suppressed",
    "perf: interrupt took too long (2503 > 2500), lowering kernel.perf_event_max_sample_rate to 79750",
    "BTRFS info (device sdb1): balance: ended with status: 0",
    "xfs filesystem being remounted at /var/lib/docker supports timestamps until 2038",
    "loop3: detected capacity change from 0 to 8",
    "Bluetooth: hci0: Waiting for firmware download to complete",
    "rfkill: input handler disabled",
    "The good old root pool was looked at by the bootloader too",
]

HOST = "web-17"
MONTH = "Aug"


def fmt_line(kind, t, msg, seq):
    if kind == 0:
        return "%s %2d %02d:%02d:%02d %s kernel: [%12.6f] %s\n" % (MONTH, 12, int(t // 3600) % 24, int(t // 60) % 60, int(t) % 60, HOST, t, msg)
    if kind == 1:
        return "[%12.6f] %s\n" % (t, msg)
    if kind == 2:
        return "2025-08-12T%02d:%02d:%02d+0200 %s kernel: %s\n" % (int(t // 3600) % 24, int(t // 60) % 60, int(t) % 60, HOST, msg)
    return "6,%d,%d,-;%s\n" % (seq, int(t * 1e6), msg)


def noise_block(nbytes, t0, kind):
    lines = []
    size = 0
    t = t0
    seq = 1000
    while size < nbytes:
        t += rng.random() * 0.01
        seq += 1
        msg = rng.choice(NOISE)
        if msg.startswith(("systemd", "CRON", "sshd")) and kind == 0:
            prog, rest = msg.split(": ", 1)
            line = "%s %2d %02d:%02d:%02d %s %s: %s\n" % (MONTH, 12, int(t // 3600) % 24, int(t // 60) % 60, int(t) % 60, HOST, prog, rest)
        else:
            line = fmt_line(kind, t, msg, seq)
        lines.append(line)
        size += len(line)
    return "".join(lines)


def oom_report(kind, t, pid, comm, memcg):
    msgs = [
        "%s invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0" % comm,
        "CPU: 1 UID: 0 PID: %d Comm: %s Not tainted 6.8.0-45-generic #45-Ubuntu" % (pid, comm),
        "Call Trace:",
        " <TASK>",
        " dump_stack_lvl+0x57/0x80",
        " dump_header+0x43/0x1c0",
        " oom_kill_process.cold+0x8/0x8a",
        " out_of_memory+0x214/0x500",
        " </TASK>",
    ]
    if memcg:
        msgs += ["memory: usage 524288kB, limit 524288kB, failcnt 1234", "Memory cgroup stats for /kubepods/pod-%d:" % pid]
    else:
        msgs += ["Mem-Info:", "active_anon:1413442 inactive_anon:1509191 isolated_anon:0", "Free swap  = 0kB", "Total swap = 0kB"]
    msgs += ["Tasks state (memory values in pages):",
             "[  pid  ]   uid  tgid total_vm      rss rss_anon rss_file rss_shmem pgtables_bytes swapents oom_score_adj name"]
    for i in range(40):
        p = pid - 40 + i
        msgs.append("[%7d] %5d %5d %8d %8d %8d %8d %9d %14d %8d %13d %s" % (p, 1000, p, 15166 + i, 14365, 12704, 1661, 0, 163840, 0, 0, "worker-%d" % i))
    msgs.append("[%7d] %5d %5d %8d %8d %8d %8d %9d %14d %8d %13d %s" % (pid, 1000, pid, 9015166, 8014365, 8012704, 1661, 0, 16384000, 0, 0, comm))
    if memcg:
        msgs.append("oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/kubepods/pod-%d,task_memcg=/kubepods/pod-%d/c1,task=%s,pid=%d,uid=1000" % (pid, pid, comm, pid))
        prefix = "Memory cgroup out of memory"
    else:
        msgs.append("oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,task_memcg=/user.slice,task=%s,pid=%d,uid=1000" % (comm, pid))
        prefix = "Out of memory"
    msgs.append("%s: Killed process %d (%s) total-vm:36060664kB, anon-rss:32050816kB, file-rss:6644kB, shmem-rss:0kB, UID:1000 pgtables:16000kB oom_score_adj:0" % (prefix, pid, comm))
    msgs.append("oom_reaper: reaped process %d (%s), now anon-rss:0kB, file-rss:0kB, shmem-rss:0kB" % (pid, comm))
    out = []
    for i, m in enumerate(msgs):
        out.append(fmt_line(kind, t + i * 0.000003, m, 5000 + i))
    return "".join(out)


blocks = []
for b in range(16):
    blocks.append(noise_block(4 << 20, 1000.0 + b * 100, b % 4).encode())

target = size_mb << 20
written = 0
kills = 0
pid = 100000
with open(out_path, "wb") as f:
    i = 0
    while written < target:
        blk = blocks[i % len(blocks)]
        f.write(blk)
        written += len(blk)
        kind = i % 4
        pid += 97
        comm = ["java", "python3", "Web Content", "(sd-pam)", "postgres"][i % 5]
        rep = oom_report(kind, 5000.0 + i, pid, comm, i % 2 == 0).encode()
        f.write(rep)
        written += len(rep)
        kills += 1
        if i % 8 == 0:
            # A storm: header-less kills, each its own event.
            for s in range(3):
                pid += 1
                line = fmt_line(kind, 5000.5 + i + s, "Out of memory: Killed process %d (stress-ng) total-vm:1000kB, anon-rss:900kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:40kB oom_score_adj:1000" % pid, 9000 + s).encode()
                f.write(line)
                written += len(line)
                kills += 1
        i += 1
print(kills)
