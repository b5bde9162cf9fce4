"""The insights chart: questions per day, answered stacked under "the articles don't say", as PNG bytes.

matplotlib is imported on first use, inside the function: `python -m bot --help` and every other cold
command never pay for it. The Agg backend draws without a display (servers, CI, a bot in a container)."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from index.models import Insights

# 800 x 400 pixels: wide enough for 90 days of bars, and Discord shows it without scaling in an embed.
WIDTH_IN, HEIGHT_IN, DPI = 8.0, 4.0, 100
ANSWERED_COLOUR = "#2B6CB0"  # the embeds' answer colour
ABSTAINED_COLOUR = "#A0AEC0"  # a lighter shade of the embeds' abstention grey


def insights_chart(insights: Insights) -> bytes:
    """A bar per day of the window: answered questions, with the unanswered ones stacked on top."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure  # a Figure of its own: no pyplot global state across threads

    days = [d.day[5:] for d in insights.per_day]  # MM-DD
    answered = [d.answered for d in insights.per_day]
    abstained = [d.abstained for d in insights.per_day]
    figure = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI)
    axes = figure.add_subplot()
    positions = range(len(days))
    axes.bar(positions, answered, color=ANSWERED_COLOUR, label="answered")
    axes.bar(positions, abstained, bottom=answered, color=ABSTAINED_COLOUR, label="the articles don't say")
    step = max(1, len(days) // 10)  # at most ~10 date labels, whatever the window
    axes.set_xticks(list(positions)[::step], days[::step])
    axes.set_ylim(0, max(1, *(a + n for a, n in zip(answered, abstained, strict=True))) * 1.15)  # room for the legend
    axes.set_ylabel("questions")
    axes.set_title(f"Questions per day, {insights.collection}: {insights.since} to {insights.until}")
    axes.yaxis.get_major_locator().set_params(integer=True)
    axes.legend(loc="upper left", frameon=False)
    axes.spines[["top", "right"]].set_visible(False)
    figure.tight_layout()
    buffer = io.BytesIO()
    # no bbox_inches="tight": the image keeps exactly WIDTH_IN x HEIGHT_IN at DPI
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()
