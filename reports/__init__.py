"""xltune.reports: DataFrames, matplotlib figures and HTML reports from measurements.

    stats_frame(exe), passes_frame(exe), timing_frame(exe, args), bandwidth_frame(timing)
    tuning_frame(result), tuning_figure(result), bench_figure(df or bench --json path), timing_figure(timing)
    stages_html(exe), Summary(exe, name, timing), profile_frame(exe, args)
    performance_report(exe, name, args, tuning=result).save("report.html")

Every time is taken with `xltune.measure`. pandas and matplotlib load when a function needs them.
"""
from __future__ import annotations

from .figures import FigureView, bench_figure, figure_png, timing_figure, tuning_caption, tuning_figure
from .frames import (bandwidth_frame, default_args, machine_copy_bandwidth, min_bytes, passes_frame,
                     read_bench, stats_frame, summarize_timing, timing_frame, tuning_frame)
from .profile import profile_frame
from .report import Report, performance_report, write_html
from .stages import stages_html, stages_text
from .summary import Summary

__all__ = ["FigureView", "bench_figure", "figure_png", "timing_figure", "tuning_caption", "tuning_figure",
           "bandwidth_frame", "default_args", "machine_copy_bandwidth", "min_bytes", "passes_frame",
           "read_bench", "stats_frame", "summarize_timing", "timing_frame", "tuning_frame", "profile_frame", "Report",
           "performance_report", "write_html", "stages_html", "stages_text", "Summary"]
