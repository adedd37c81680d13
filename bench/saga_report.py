"""The saga benchmark's table (stdout) and chart (PNG, matplotlib's Agg backend)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

PROCESSES = (
    "cart",
    "payment",
    "inventory",
    "fulfillment",
    "notification",
    "catalog",
    "kafka",
    "postgres",
    "driver",
)


def _label(phase: dict[str, Any]) -> str:
    rate = phase["offered_per_s"]
    if rate is None:
        return f"max ({phase['customers']})"
    return f"{rate:g}/s half" if phase.get("half_max") else f"{rate:g}/s"


def _ms(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:,.0f}"


def print_table(results: dict[str, Any]) -> None:
    phases = results["phases"]
    print(
        f"\n{results['cores']} cores; Kafka + PostgreSQL ({results['infra']}, fsync on); "
        f"{results['seconds']:g} s per phase"
        + (
            f" ({results['max_seconds']:g} s at max, {results['half_max_seconds']:g} s at half max)"
            if "half_max_seconds" in results
            else ""
        )
    )
    print("\nthroughput and end-to-end latency (checkout 201 -> event ce_time), ms")
    head = (
        f"{'offered':>12}{'accepted/s':>11}{'done/s':>8}{'undone':>7}{'flow p50':>9}"
        f"{'ship p50':>9}{'p95':>7}{'p99':>7}{'deliv p50':>10}{'p95':>7}{'p99':>7}"
    )
    print(head)
    for p in phases:
        ship, deliver = p["ship_ms"], p["deliver_ms"]
        print(
            f"{_label(p):>12}{p['accepted_per_s']:>11.1f}{p['orders_per_s']:>8.1f}"
            f"{p['orders_not_delivered']:>7}{_ms(p['checkout_flow_ms']['p50']):>9}"
            f"{_ms(ship['p50']):>9}{_ms(ship['p95']):>7}{_ms(ship['p99']):>7}"
            f"{_ms(deliver['p50']):>10}{_ms(deliver['p95']):>7}{_ms(deliver['p99']):>7}"
        )
    stages = list(phases[0]["stages_ms"])
    print("\nper saga stage (event ce_time to event ce_time), ms p50 / p99")
    print(f"{'offered':>12}" + "".join(f"{s:>22}" for s in stages))
    for p in phases:
        cells = [
            f"{_ms(p['stages_ms'][s]['p50'])} / {_ms(p['stages_ms'][s]['p99'])}"
            if s in p["stages_ms"]
            else "-"
            for s in stages
        ]
        print(f"{_label(p):>12}" + "".join(f"{c:>22}" for c in cells))
    services = PROCESSES[:6]
    print("\nevents published per second, by service")
    print(f"{'offered':>12}" + "".join(f"{s:>13}" for s in services))
    for p in phases:
        rates = p["events_per_s"]
        print(f"{_label(p):>12}" + "".join(f"{rates.get(s, 0):>13.1f}" for s in services))
    print(
        f"\nCPU over the window, % of {results['cores']} cores (other: processes not ours;"
        f" {results['background_busy_percent']:.0f}% busy before we started)"
    )
    columns = (*PROCESSES, "other", "machine")
    print(f"{'offered':>12}" + "".join(f"{s:>13}" for s in columns))
    for p in phases:
        cpu = p["cpu_percent"]
        print(f"{_label(p):>12}" + "".join(f"{cpu.get(s, math.nan):>13.1f}" for s in columns))
    idle = results.get("idle_cpu_percent", {})
    print(f"{'idle shop':>12}" + "".join(f"{idle.get(s, math.nan):>13.1f}" for s in columns))
    print("\nCPU ms per accepted order (the same shares over the orders accepted in the window)")
    print(f"{'offered':>12}" + "".join(f"{s:>13}" for s in columns))
    for p in phases:
        ms = p.get("cpu_ms_per_order", {})
        print(f"{_label(p):>12}" + "".join(f"{ms.get(s, math.nan):>13.2f}" for s in columns))
    print()
    print(
        f"{'raw aiokafka produce+consume':<42}{results['raw_kafka_events_per_s']:>12,.0f} events/s"
    )
    rebuild = results["rebuild"]
    cart = rebuild["cart_store"]
    if "store" in rebuild:  # from bench/rebuild_benchmark.py
        print(
            f"{'read-model rebuild (rebuild_benchmark)':<42}"
            f"{results['rebuild_events_per_s']:>12,.0f} events/s  ({rebuild['store']} store,"
            f" {rebuild['backend']}, {rebuild['events']:,} events" + _runs(rebuild) + ")"
        )
    print(
        f"{'cart read-model rebuild (this run)':<42}{cart['events_per_s']:>12,.0f} events/s"
        f"  ({cart['events']:,} stored events, {cart['projected']:,} projected,"
        f" {cart['seconds']:.2f} s)"
    )
    print(
        f"{'headline':<42}{results['orders_per_s']:>12.1f} orders/s (max run);"
        f" ship p50 {_ms(results['p50_ship_ms'])} ms, p99 {_ms(results['p99_ship_ms'])} ms"
        f" at {results['headline_rate']:g}/s offered"
        + (" (half the max run's rate)" if results.get("half_max_rate") else "")
    )


def chart(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    phases = results["phases"]
    fixed = sorted(  # the half-max phase, run last, among the others by its rate
        (p for p in phases if p["offered_per_s"] is not None), key=lambda p: p["offered_per_s"]
    )
    top = [p for p in phases if p["offered_per_s"] is None]
    fig, (ax_rate, ax_lat, ax_cpu) = plt.subplots(1, 3, figsize=(17, 5.2))
    fig.suptitle(
        f"orderflow saga: {results['cores']} cores, Kafka + PostgreSQL (fsync on), "
        f"{results['seconds']:g} s per rate, {results.get('half_max_seconds', 0):g} s at half max;"
        " raw aiokafka "
        f"{results['raw_kafka_events_per_s']:,.0f} events/s"
    )
    offered = [p["offered_per_s"] for p in fixed]
    # throughput
    ax_rate.plot(offered, offered, ":", color="grey", label="offered")
    ax_rate.plot(offered, [p["accepted_per_s"] for p in fixed], "s-", label="checkouts accepted/s")
    ax_rate.plot(offered, [p["orders_per_s"] for p in fixed], "o-", label="orders delivered/s")
    for p in top:
        x = p["accepted_per_s"]
        ax_rate.plot([x], [p["orders_per_s"]], "r*", ms=14, label=f"max run ({p['customers']})")
        ax_rate.annotate(
            f"{p['orders_per_s']:.1f}/s",
            (x, p["orders_per_s"]),
            xytext=(6, -12),
            textcoords="offset points",
        )
    ax_rate.set_xlabel("offered load (orders/s); max run at its accepted rate")
    ax_rate.set_ylabel("orders/s")
    ax_rate.set_title("throughput")
    ax_rate.grid(alpha=0.3)
    ax_rate.legend(fontsize=8)
    # latency
    for key, style, name in (("p50", "o-", "ship p50"), ("p99", "s-", "ship p99")):
        ax_lat.plot(offered, [p["ship_ms"][key] for p in fixed], style, label=name)
    ax_lat.plot(offered, [p["deliver_ms"]["p99"] for p in fixed], "^--", label="delivered p99")
    for p in top:
        x = p["accepted_per_s"]
        ax_lat.plot([x], [p["ship_ms"]["p50"]], "r*", ms=12, label="max run ship p50")
        ax_lat.plot([x], [p["ship_ms"]["p99"]], "rx", ms=10, label="max run ship p99")
    ax_lat.set_yscale("symlog", linthresh=100)  # a 201 can come after the Shipped
    ax_lat.set_xlabel("offered load (orders/s)")
    ax_lat.set_ylabel("checkout 201 -> event, ms (symlog)")
    ax_lat.set_title("end-to-end latency")
    ax_lat.grid(alpha=0.3, which="both")
    ax_lat.legend(fontsize=8)
    # CPU
    labels = [_label(p) for p in phases]
    bottom = [0.0] * len(phases)
    for name in (*PROCESSES, "other"):
        values = [p["cpu_percent"].get(name, 0.0) for p in phases]
        style = {"color": "lightgrey", "hatch": "//"} if name == "other" else {}
        ax_cpu.bar(labels, values, bottom=bottom, label=name, **style)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax_cpu.plot(
        labels,
        [p["cpu_percent"]["machine"] for p in phases],
        "k_",
        ms=30,
        mew=2,
        label="machine busy",
    )
    ax_cpu.set_ylim(0, 135)
    ax_cpu.set_ylabel(f"% of {results['cores']} cores")
    ax_cpu.set_title(
        f"CPU by process ({results['background_busy_percent']:.0f}% busy before start)"
    )
    ax_cpu.set_yticks(range(0, 101, 20))
    ax_cpu.legend(fontsize=7, ncol=4, loc="upper left")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _runs(rebuild: dict[str, Any]) -> str:
    """The rebuilds the figure is the median of, when there were several."""
    runs = rebuild.get("runs_events_per_s", [])
    if len(runs) < 2:
        return ""
    return "; median of " + ", ".join(f"{r:,}" for r in runs)
