"""What `%xla_tune` shows when it is done: default vs tuned time, the winning Config knob by
knob, the finalists' paired re-measurement."""
from __future__ import annotations

from xltune.measure import format_seconds
from xltune.reports import html as H


def knob_changes(result, knobs) -> "object":
    """A DataFrame of the knobs the winning Config sets: knob, default, tuned, what it does."""
    import pandas as pd
    by = {k.name: k for k in knobs}
    rows = []
    for name, value in result.best_config.items():
        k = by.get(name)
        rows.append({"knob": name, "default": k.default if k else None, "tuned": value,
                     "doc": k.doc if k else "(not declared for this program now)"})
    return pd.DataFrame(rows, columns=["knob", "default", "tuned", "doc"])


class TuneSummary:
    def __init__(self, name: str, result, exe, knobs=()):
        self.name = name
        self.result = result
        self.exe = exe
        self.changes = knob_changes(result, knobs)

    def headline(self) -> str:
        r = self.result
        if r.best_time is None:
            return f"{self.name}: rebound to the {r.chosen} Config"
        if r.chosen == "default" or r.best_config == {}:
            return (f"{self.name}: the default Config stays ({format_seconds(r.best_time.median)}; "
                    f"no trial was faster beyond the noise)")
        base = f"default {format_seconds(r.default_time.median)} -> " if r.default_time is not None else ""
        sp = f" ({r.speedup:.2f}x faster)" if r.speedup == r.speedup else ""
        return f"{self.name}: {base}tuned {format_seconds(r.best_time.median)}{sp}"

    def _times(self):
        import pandas as pd
        r = self.result
        pairs = [("default", r.default_time)]
        if r.best_time is not None and r.best_time is not r.default_time:
            pairs.append((f"tuned ({r.chosen})", r.best_time))
        rows = []
        for label, m in pairs:
            if m is not None:
                lo, hi = m.median_ci()
                rows.append({"config": label, "median": format_seconds(m.median), "IQR": format_seconds(m.iqr),
                             "95% CI": f"{format_seconds(lo)} – {format_seconds(hi)}", "n": m.n,
                             "noisy": "yes" if m.noisy else ""})
        return pd.DataFrame(rows, columns=["config", "median", "IQR", "95% CI", "n", "noisy"])

    def html(self) -> str:
        r = self.result
        parts = [f"<h3>{H.esc(self.headline())}</h3>", H.table(self._times())]
        if len(self.changes):
            parts += ["<h4>winning Config</h4>", H.table(self.changes)]
        else:
            parts.append("<div>winning Config: the default (every knob at its heuristic choice)</div>")
        parts.append(f"<div><code>{H.esc(r.best_config.to_json())}</code></div>")
        for line in r.summary_lines()[:1] + list(r.notes):
            parts.append(H.note(line))
        if r.candidates is not None and len(r.candidates):
            cand = r.candidates.drop(columns=[c for c in ("config",) if c in r.candidates])
            parts.append(H.details("finalists (paired re-measurement)", H.table(cand)))
        parts.append(H.note(f"{self.name} is now the tuned executable; %xla_report {self.name} "
                            f"shows the tuning history"))
        return H.wrap("".join(parts))

    def text(self) -> str:
        lines = [self.headline(), self._times().to_string(index=False)]
        if len(self.changes):
            lines += ["winning Config:", self.changes.to_string(index=False)]
        lines.append(f"config {self.result.best_config.to_json()}")
        lines += self.result.summary_lines()[:1] + list(self.result.notes)
        return "\n".join(lines)

    def _repr_html_(self):
        return self.html()

    def __repr__(self):
        return self.text()

    def _repr_pretty_(self, p, cycle):
        p.text(self.text())
