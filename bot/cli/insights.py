"""`insights`: what members asked and what the articles could not answer, for moderators (the same
engine call as Discord's /insights), as text or JSON, with the questions-per-day chart as a PNG."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from bot.cli.common import EXIT_OK, AddCommand, Command, emit
from index.errors import InvalidInput

if TYPE_CHECKING:
    from index.engine import Engine


def cmd_insights(engine: Engine, args: argparse.Namespace, collection: str) -> int:
    from bot import render

    chart = Path(args.chart) if args.chart else None
    if chart is not None:
        if chart.suffix.lower() != ".png":
            raise InvalidInput(f"--chart writes a PNG image: give a file name ending in .png, not {args.chart!r}.")
        if not chart.parent.is_dir():
            raise InvalidInput(f"--chart: the folder {str(chart.parent)!r} does not exist.")
    insights = engine.insights(collection, args.days)
    if chart is not None:
        from bot.chart import insights_chart

        # a temporary name, then a rename: a reader never sees half a PNG
        partial = chart.with_name(chart.name + ".partial")
        partial.write_bytes(insights_chart(insights))
        partial.replace(chart)
    text = render.insights_text(insights)
    if chart is not None:
        text += f"\n\nChart: {chart}"
    emit(args, insights.to_json(), text)
    return EXIT_OK


def insights_options(parser: argparse.ArgumentParser, command: AddCommand) -> None:
    parser.add_argument(
        "--days",
        type=int,
        default=7,
        metavar="N",
        help="how many days back, today included (default 7; at most BYLINE_ANSWER_LOG_DAYS, default 90)",
    )
    parser.add_argument("--chart", metavar="FILE.png", help="also draw questions per day into this PNG file")


COMMANDS = {
    "insights": Command(
        "for moderators: what members asked, what the articles could not answer (grouped), and how often",
        cmd_insights,
        insights_options,
    ),
}
