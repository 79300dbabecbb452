"""Remote targets against the servers' own command-line clients, in one run, on the real test servers.

Usage (the servers of scripts/xrootd-server.sh and scripts/webdav-server.sh must run)::

    .venv/bin/python benchmarks/remote.py            # 1 file of 1 GB, 1,000 files of 10 kB; writes docs/benchmarks.md
    .venv/bin/python benchmarks/remote.py --quick    # 100 MB and 100 files, writes nothing
    .venv/bin/python benchmarks/remote.py --protocols webdav   # rewrites the WebDAV rows, keeps the XRootD ones

For each protocol, the same files go up and down through b2core's file system (what a task's
outputs and on_temporary_files inputs use: temporary name, size + checksum check, server-side
rename; downloads verified) and through the server's own client in the same run: xrdcp for XRootD
(one call per file, and one recursive `xrdcp -r` for the small files), curl for WebDAV (one curl
process for all small files, reusing its connection; plain, and doing b2core's PUT + MOVE);
b2core and the clients take turns per transfer, so a change of the machine's load hits both.
Ratios: throughput of b2core against the client for the large file (goal >= 90%), time of b2core
against the client for the small ones (goal <= 2x). Nothing here is part of the test suite.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from docs_section import DOCS, write_section
from memory_touch import touch_memory

PKI = Path("/var/lib/b2core-webdav/pki")
XROOTD = "root://localhost:1094"
WEBDAV = "https://localhost:8443"
SMALL_SIZE = 10_000


@dataclass(frozen=True)
class Timing:
    """Wall-clock and CPU seconds of one transfer; CPU is this process's plus that of the clients it ran."""

    wall: float
    cpu: float


def timed(action: Callable[[], Any]) -> Timing:
    """Time one call: wall clock, and CPU of this process (all threads) and of its finished children."""
    before, start = os.times(), time.perf_counter()
    action()
    wall, after = time.perf_counter() - start, os.times()
    cpu = sum(getattr(after, f) - getattr(before, f) for f in ("user", "system", "children_user", "children_system"))
    return Timing(wall, cpu)


def run(argv: list[str]) -> None:
    """Run a client command; its failure stops the benchmark."""
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)


def make_files(folder: Path, big_mb: int, small: int) -> tuple[Path, Path]:
    """One big file of random bytes and a folder of small ones."""
    big = folder / "big.bin"
    with open(big, "wb") as stream:
        for _ in range(big_mb):
            stream.write(os.urandom(1024 * 1024))
    smalls = folder / "small"
    smalls.mkdir()
    for i in range(small):
        (smalls / f"f{i:04d}.bin").write_bytes(os.urandom(SMALL_SIZE))
    return big, smalls


def drop_downloads(folder: Path, size: int) -> None:
    """Delete the local copies of the large file: five runs of 1 GB downloads need not stay on disk."""
    for path in folder.rglob("*.bin"):
        if path.stat().st_size == size:
            path.unlink()


Plan = dict[str, Callable[[], Any]]  # transfer ("big up", ...) -> the call that does it, timed later
TRANSFERS = ("big up", "big down", "small up", "small down")


def through_targets(fs: Any, big: Path, smalls: Path, remote: str, local: Path) -> Plan:
    """Up and down through b2core's remote file system."""
    names = sorted(p.name for p in smalls.iterdir())
    fs.mkdir(f"{remote}/small")
    (local / "small").mkdir(parents=True)
    return {
        "big up": lambda: fs.copy_file_to_remote(str(big), f"{remote}/big.bin", force=True),
        "big down": lambda: fs.copy_file_from_remote(f"{remote}/big.bin", str(local / "big.bin")),
        "small up": lambda: [fs.copy_file_to_remote(str(smalls / n), f"{remote}/small/{n}", force=True) for n in names],
        "small down": lambda: [
            fs.copy_file_from_remote(f"{remote}/small/{n}", str(local / "small" / n)) for n in names
        ],
    }


def through_xrdcp(big: Path, smalls: Path, remote: str, local: Path) -> dict[str, Plan]:
    """Up and down with xrdcp: per file, and the small folder in one recursive call."""
    names = sorted(p.name for p in smalls.iterdir())
    (local / "small").mkdir(parents=True)
    url = f"{XROOTD}/{remote}"
    per_file = {
        "big up": lambda: run(["xrdcp", "-f", "-s", str(big), f"{url}/big.bin"]),
        "big down": lambda: run(["xrdcp", "-f", "-s", f"{url}/big.bin", str(local / "big.bin")]),
        "small up": lambda: [run(["xrdcp", "-f", "-s", str(smalls / n), f"{url}/small/{n}"]) for n in names],
        "small down": lambda: [run(["xrdcp", "-f", "-s", f"{url}/small/{n}", str(local / "small" / n)]) for n in names],
    }
    checked = {
        "big up": lambda: run(["xrdcp", "-f", "-s", "--cksum", "adler32", str(big), f"{url}/big-ck.bin"]),
        "big down": lambda: run(
            ["xrdcp", "-f", "-s", "--cksum", "adler32", f"{url}/big-ck.bin", str(local / "ck.bin")]
        ),
    }
    (local / "recursive").mkdir()
    recursive = {
        "small up": lambda: run(["xrdcp", "-f", "-s", "--path", "-r", str(smalls), f"{url}/recursive/"]),
        "small down": lambda: run(["xrdcp", "-f", "-s", "-r", f"{url}/recursive/small", str(local / "recursive")]),
    }
    return {"xrdcp": per_file, "xrdcp -r": recursive, "xrdcp --cksum adler32": checked}


def through_curl(big: Path, smalls: Path, remote: str, local: Path) -> dict[str, Plan]:
    """Up and down with curl, the small files in one curl process each way (one connection)."""
    names = sorted(p.name for p in smalls.iterdir())
    (local / "small").mkdir(parents=True)
    curl = ["curl", "-sfS", "--cert", str(PKI / "x509up"), "--capath", str(PKI / "certificates")]
    url = f"{WEBDAV}{remote}"
    for folder in ("", "/small"):
        run([*curl, "-X", "MKCOL", f"{url}{folder}/"])
    up = local / "up.cfg"
    up.write_text("".join(f'upload-file = "{smalls / n}"\nurl = "{url}/small/{n}"\n' for n in names))
    atomic = local / "atomic.cfg"  # b2core's requests: PUT to a temporary name, MOVE onto the final one
    tls = f'silent\nshow-error\nfail\ncert = "{PKI / "x509up"}"\ncapath = "{PKI / "certificates"}"\n'  # `next` resets
    atomic.write_text(
        "next\n".join(
            f'{tls}upload-file = "{smalls / n}"\nurl = "{url}/atomic/{n}.tmp"\nnext\n{tls}request = "MOVE"\n'
            f'header = "Destination: {url}/atomic/{n}"\nheader = "Overwrite: T"\nurl = "{url}/atomic/{n}.tmp"\n'
            for n in names
        )
    )
    run([*curl, "-X", "MKCOL", f"{url}/atomic/"])
    down = local / "down.cfg"
    down.write_text("".join(f'url = "{url}/small/{n}"\noutput = "{local / "small" / n}"\n' for n in names))
    return {
        "curl": {
            "big up": lambda: run([*curl, "-T", str(big), f"{url}/big.bin"]),
            "big down": lambda: run([*curl, "-o", str(local / "big.bin"), f"{url}/big.bin"]),
            "small up": lambda: run([*curl, "-K", str(up)]),
            "small down": lambda: run([*curl, "-K", str(down)]),
        },
        "curl PUT + MOVE": {"small up": lambda: run([*curl, "-K", str(atomic)])},
    }


def file_system(protocol: str) -> Any:
    """b2core's file system for a protocol, with the test credentials."""
    import b2core

    if protocol == "xrootd":
        from b2core_xrootd import XRootDSystem

        return XRootDSystem(XROOTD)
    from b2core_webdav import WebDAVSystem

    b2core.set_setting("X509_USER_PROXY", str(PKI / "x509up"))
    b2core.set_setting("X509_CERT_DIR", str(PKI / "certificates"))
    return WebDAVSystem(WEBDAV)


def unchecked(fs: Any, big: Path, remote: str, local: Path) -> Plan:
    """The large file with remote_verify_checksums off: what the checksum comparison costs."""
    import b2core

    def without_checksums(action: Callable[[], Any]) -> Callable[[], Any]:
        def transfer() -> None:
            b2core.set_setting("remote_verify_checksums", False)
            try:
                action()
            finally:
                b2core.clear_setting("remote_verify_checksums")

        return transfer

    return {
        "big up": without_checksums(lambda: fs.copy_file_to_remote(str(big), f"{remote}/big.bin", force=True)),
        "big down": without_checksums(lambda: fs.copy_file_from_remote(f"{remote}/big.bin", str(local / "nock.bin"))),
    }


def measure(protocol: str, big: Path, smalls: Path, scratch: Path) -> dict[str, dict[str, Timing]]:
    """Every timing of one protocol; b2core and its client take turns per transfer, as the load drifts."""
    fs = file_system(protocol)
    base = f"/b2core-bench/{uuid.uuid4().hex}"
    try:
        plans = {"b2core": through_targets(fs, big, smalls, f"{base}/targets", scratch / protocol / "targets")}
        if protocol == "xrootd":
            plans["b2core, no checksums"] = unchecked(fs, big, f"{base}/unchecked", scratch / protocol / "targets")
        client = through_xrdcp if protocol == "xrootd" else through_curl
        plans.update(client(big, smalls, f"{base}/client", scratch / protocol / "client"))
        results: dict[str, dict[str, Timing]] = {variant: {} for variant in plans}
        size = big.stat().st_size
        for what in TRANSFERS:
            for variant, plan in plans.items():
                if what in plan:
                    if what.startswith("big"):  # the side that writes the file gets memory the VM backs
                        touch_memory(scratch, size * 11 // 10 // 2**20)
                    results[variant][what] = timed(plan[what])
                    if what == "big down":
                        drop_downloads(scratch / protocol, size)
        return results
    finally:
        fs.remove(base)


PAIRS = {  # (b2core variant, client) compared in the table; the first pairs do the same work on both sides
    "xrootd": [
        ("b2core", "xrdcp --cksum adler32"),
        ("b2core, no checksums", "xrdcp"),
        ("b2core", "xrdcp"),
        ("b2core", "xrdcp -r"),
    ],
    "webdav": [("b2core", "curl"), ("b2core", "curl PUT + MOVE")],
}
DOES = {  # what each side does per file, for the table
    (
        "xrootd",
        "b2core",
    ): (
        "copy engine (files up to 8 MB: one open, write, close) to a temporary name, size + adler32 vs the"
        " server's, rename; down: the same (read; the server's adler32 asked alongside the open, the copy"
        " engine's end-to-end adler32 over 8 MB)"
    ),
    ("xrootd", "b2core, no checksums"): "the same with remote_verify_checksums = false (size only)",
    ("xrootd", "xrdcp"): "one xrdcp per file, no checksum, final name",
    ("xrootd", "xrdcp -r"): "one recursive xrdcp for the folder, no checksum",
    ("xrootd", "xrdcp --cksum adler32"): "one xrdcp, adler32 of source and target compared",
    (
        "webdav",
        "b2core",
    ): "PUT to a temporary name + MOVE; GET; http.client, one keep-alive connection (no digest offered)",
    ("webdav", "curl"): "one curl process for all files, one connection: PUT / GET to the final name",
    ("webdav", "curl PUT + MOVE"): "one curl process, one connection: PUT to a temporary name + MOVE, as b2core",
}


def rows(protocol: str, results: dict[str, dict[str, Timing]], big_mb: int, small: int) -> list[str]:
    """Markdown table rows of one protocol: wall (CPU) times, and the ratios of b2core against each client."""
    lines = []
    for variant, client in PAIRS[protocol]:
        ours, theirs = results[variant], results[client]
        for what in [w for w in theirs if w in ours]:
            mine, other = ours[what], theirs[what]
            if what.startswith("big"):
                rate = f"{big_mb / mine.wall:.0f} vs {big_mb / other.wall:.0f} MB/s"
                met = other.wall / mine.wall >= 0.9
                ratio = f"**{other.wall / mine.wall:.0%}** of the throughput ({'met' if met else 'missed'})"
            else:
                rate = f"{mine.wall / small * 1000:.1f} vs {other.wall / small * 1000:.1f} ms per file"
                met = mine.wall / other.wall <= 2
                ratio = f"**{mine.wall / other.wall:.2f}x** the time ({'met' if met else 'missed'})"
            lines.append(
                f"| {protocol} | {what} | {variant}: {DOES[protocol, variant]} | {client}: {DOES[protocol, client]} "
                f"| {mine.wall:.2f} s ({mine.cpu:.2f} s) | {other.wall:.2f} s ({other.cpu:.2f} s) | {rate} | {ratio} |"
            )
    return lines


def earlier_rows(measured: list[str]) -> tuple[list[str], list[str]]:
    """The page's rows of the protocols this run did not measure, and notes saying when those were measured."""
    text = DOCS.read_text() if DOCS.exists() else ""
    found = re.search(r"<!-- begin remote -->(.*?)<!-- end remote -->", text, re.S)
    section = found.group(1) if found else ""
    rows, notes = [], []
    for protocol in [p for p in PAIRS if p not in measured]:
        mine = [line for line in section.splitlines() if line.startswith(f"| {protocol} |")]
        if not mine:
            continue
        rows += mine
        note = re.search(rf"^The {protocol} rows were measured .*$", section, re.M)
        run = re.search(r"^Measured (\S+) with (`[^`]*`) \(([^)]*)\)", section, re.M)
        if note:
            notes.append(note.group(0))
        elif run:
            notes.append(f"The {protocol} rows were measured {run.group(1)} with {run.group(2)} ({run.group(3)}).")
    return rows, notes


def write_docs(
    table: list[str], big_mb: int, small: int, repeat: int, command: str, loads: tuple[float, float]
) -> None:
    """Replace only the remote section of docs/benchmarks.md (rows of protocols not run are kept)."""
    measured = sorted({line.split("|")[1].strip() for line in table})
    kept, notes = earlier_rows(measured)
    table = [row for protocol in PAIRS for row in [*table, *kept] if row.startswith(f"| {protocol} |")]
    machine = (
        f"{platform.node()}: {os.cpu_count()} CPUs, load average {loads[0]:.1f} at the start, {loads[1]:.1f} at the end"
    )
    section = "\n".join(
        [
            "## Remote targets against xrdcp and curl",
            "",
            f"Measured {datetime.date.today()} with `{command}` ({machine}), on the test servers of",
            "`scripts/xrootd-server.sh` and `scripts/webdav-server.sh` on this machine: "
            f"1 file of {big_mb} MB and {small} files of 10 kB, each up and down {repeat} times (medians shown),",
            "through b2core's file system (what task outputs and on_temporary_files inputs use) and through",
            "the server's own client in the same run, taking turns per transfer (the load drifts). Goals: at",
            "least 90% of the client's throughput for the",
            "large file, at most 2x its time for the small files. Times are wall clock, CPU seconds in",
            "brackets (the client process's own: b2core's Python process, or the xrdcp/curl processes; the",
            "servers' CPU is in neither). The first rows of each protocol compare the same work on both sides.",
            "Right before each large transfer (on either side, untimed) the benchmark writes and deletes 1.1",
            "times the large file: on this VM, page cache on memory the host does not back at that moment costs",
            "the writer about 1.5 s of system CPU per GB (0.25 s on memory touched just before). One such write",
            "at the start of the run, as earlier versions of this benchmark did, did not last: the same 1 GB",
            "WebDAV download took 1.9-3.4 s, and 1.24-1.32 s with a write right before it (this VM has a",
            "virtio-balloon device), so earlier tables charged it to whichever side got such memory.",
            "",
            "| protocol | transfer | b2core does | client does | b2core wall (CPU) | client wall (CPU) "
            "| rate (b2core vs client) | b2core |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |",
            *table,
            "",
            *([*notes, ""] if notes else []),
            *READING,
        ]
    )
    write_section("remote", section)


READING = [
    "Reading it: after an upload b2core compares its local adler32 (computed in a second thread while",
    "the file travels) with the server's, which makes the XRootD server read the whole file again;",
    "`xrdcp --cksum adler32` pays the same (and reads the local file in a second pass), so that is",
    "the fair client for b2core's default; with `remote_verify_checksums = false` b2core runs the copy",
    "engine of plain xrdcp. A large download runs the copy engine with its end-to-end adler32 check, as",
    "`xrdcp --cksum adler32` (the local adler32 computed while the file is written), so nothing is read",
    "again afterwards. Small files over XRootD: each is published atomically (one open, write and close,",
    "then checksum query and rename) and downloaded with one open (the checksum query sent alongside),",
    "read and close, from one process over one connection, which beats one xrdcp per file by far; one",
    "recursive `xrdcp -r`, which neither checks nor renames, is faster still.",
    "",
    "WebDAV: the atomic rename is a second request per file (PUT to the temporary name, then MOVE)",
    "where plain curl makes one, so small uploads are also compared with curl doing the same PUT + MOVE",
    "in one process. Measured on the Python test server (wsgidav on cheroot) with a bare `http.client`",
    "loop: a 10 kB PUT costs it about 2.5 ms, a MOVE about 1 ms, so the protocol alone puts the floor",
    "at about 1.4x plain curl. b2core's client is the standard library's `http.client` over one",
    "kept-alive connection (requests, used before, cost about 1 ms of CPU per request, curl 0.3 ms):",
    "a small PUT sends the file read whole, a large one in 4 MB pieces after `Expect:",
    "100-continue` (curl asks the same); a download's body is received straight from the TLS socket into",
    "one 4 MB buffer the client keeps (one `recv_into` per TLS record, one file write per 4 MB), past",
    "http.client's buffered reader. The test server offers no digests, so no checksum is compared over",
    "WebDAV here, and none is computed locally: a WebDAV door's first large upload asks for the digest",
    "afterwards, and only a door that answered one gets the local adler32 computed during later uploads.",
]


def medians(runs: list[dict[str, dict[str, Timing]]]) -> dict[str, dict[str, Timing]]:
    """Per variant and transfer the median wall and CPU time of the runs: the machine is shared and noisy."""
    return {
        variant: {
            what: Timing(
                statistics.median(run[variant][what].wall for run in runs),
                statistics.median(run[variant][what].cpu for run in runs),
            )
            for what in transfers
        }
        for variant, transfers in runs[0].items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 MB and 100 small files; write nothing")
    parser.add_argument("--protocols", default="xrootd,webdav", help="comma-separated: xrootd, webdav")
    parser.add_argument("--repeat", type=int, default=3, help="runs of every transfer; the table shows medians")
    args = parser.parse_args()
    big_mb, small = (100, 100) if args.quick else (1024, 1000)
    scratch = Path(tempfile.mkdtemp(prefix="b2core-bench-remote-"))
    try:
        big, smalls = make_files(scratch, big_mb, small)
        load_at_start = os.getloadavg()[0]
        table = []
        for protocol in args.protocols.split(","):
            runs = [measure(protocol, big, smalls, scratch / f"run{i}") for i in range(args.repeat)]
            results = medians(runs)
            lines = rows(protocol, results, big_mb, small)
            print("\n".join(lines), flush=True)
            table += lines
        if not args.quick:
            command = "python benchmarks/remote.py " + " ".join(sys.argv[1:])
            write_docs(table, big_mb, small, args.repeat, command.strip(), (load_at_start, os.getloadavg()[0]))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
