"""A small self-contained HTML report: figures inline (base64), tables, notes."""

from __future__ import annotations

import base64
import html
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from neurorep import __version__


@dataclass
class Report:
    """Collect sections, then write one HTML file with every figure inline."""

    title: str
    sections: list[str] = field(default_factory=list)

    def add_text(self, heading: str, text: str) -> None:
        paras = "".join(f"<p>{html.escape(p)}</p>" for p in text.strip().split("\n\n"))
        self.sections.append(f"<h2>{html.escape(heading)}</h2>{paras}")

    def add_figure(self, fig: Any, path: Path, caption: str) -> None:
        """Save ``fig`` as PNG at ``path``, embed it in the report and close it in pyplot."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=150, bbox_inches="tight")
        pyplot = sys.modules.get("matplotlib.pyplot")
        if pyplot is not None:
            pyplot.close(fig)  # the plot functions draw pyplot figures; the report is done with it
        data = base64.b64encode(path.read_bytes()).decode()
        self.sections.append(
            f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{data}"/>'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>"
        )

    def add_table(self, heading: str, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        cols = list(rows[0])
        head = "".join(f"<th>{html.escape(str(c))}</th>" for c in cols)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(_fmt(r[c]))}</td>" for c in cols) + "</tr>"
            for r in rows
        )
        self.sections.append(
            f"<h2>{html.escape(heading)}</h2><table><tr>{head}</tr>{body}</table>"
        )

    def write(self, path: Path) -> Path:
        style = (
            "body{font-family:sans-serif;max-width:960px;margin:2em auto;color:#222}"
            "img{max-width:100%}table{border-collapse:collapse}"
            "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}"
            "figcaption{font-size:90%;color:#555}"
        )
        doc = (
            f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(self.title)}"
            f"</title><style>{style}</style></head><body><h1>{html.escape(self.title)}</h1>"
            f"<p>neurorep {__version__}</p>{''.join(self.sections)}</body></html>"
        )
        path.write_text(doc)
        return path


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)
