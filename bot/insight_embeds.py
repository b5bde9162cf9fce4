"""Insights → Discord embeds: the totals, the gaps in pages, the gaps closed since, the most and never quoted
articles, and the chart as the embed's image (an attachment sent with the message). Kept beside
embeds.py, which holds answers, summaries and lists, so that each stays a readable size."""

from __future__ import annotations

import discord

from bot.embeds import ABSTAIN_COLOUR, ANSWER_COLOUR, escape, fit, trim
from bot.render import gap_text, insights_totals, plural
from index.models import Gap, Insights

CHART_FILE = "insights.png"
GAPS_PER_PAGE = 5
LISTED = 5  # closed gaps, most- and never-quoted articles shown on each page
# Below Discord's per-field 1,024 so that a full page (5 gaps, 3 lists, the totals) stays under the
# 6,000 characters a message may hold: 5 x (100 + 600) + 3 x 600 + ~400 = ~5,700.
GAP_NAME, FIELD_VALUE = 100, 600


def _gap_field(number: int, gap: Gap) -> tuple[str, str]:
    """The gap's count and dates as the field's name, its example questions as the value."""
    head, _, questions = gap_text(gap).partition(": ")
    return trim(f"{number}. {head}", GAP_NAME), trim(escape(questions), FIELD_VALUE)


def _lists(insights: Insights) -> list[tuple[str, str]]:
    """The fields every page repeats under the gaps: what closed, what is quoted most, what never."""
    fields = []
    if insights.closed:
        lines = []
        for gap in insights.closed[:LISTED]:
            ref = gap.closed_by
            assert ref is not None
            article = f"[{escape(ref.title)}]({ref.url})" if ref.url else f"#{ref.article_id} {escape(ref.title)}"
            lines.append(f"✅ “{escape(gap.examples[0])}” → {article}")
        if len(insights.closed) > LISTED:
            lines.append(f"… and {len(insights.closed) - LISTED} more")
        fields.append(("Closed since (a new article answers them now)", "\n".join(lines)))
    if insights.most_quoted:
        lines = [f"#{a.article_id} {escape(a.title)} ({plural(a.answers, 'answer')})" for a in insights.most_quoted]
        fields.append(("Most quoted", "\n".join(lines[:LISTED])))
    if insights.never_quoted_count:
        lines = [f"#{a.article_id} {escape(a.title)}" for a in insights.never_quoted[:LISTED]]
        if insights.never_quoted_count > len(lines):
            lines.append(f"… and {insights.never_quoted_count - len(lines):,} more")
        fields.append((f"Never quoted in these days ({insights.never_quoted_count:,})", "\n".join(lines)))
    return [(name, trim(value, FIELD_VALUE)) for name, value in fields]


def insights_embeds(insights: Insights, chart: str | None = CHART_FILE) -> list[discord.Embed]:
    """Pages of GAPS_PER_PAGE gaps, each page with the totals, the lists and the chart (`chart` names the
    attachment; None: no image)."""
    title = f"Insights: {insights.since} to {insights.until}"
    count = max(1, -(-len(insights.gaps) // GAPS_PER_PAGE))
    colour = ANSWER_COLOUR if insights.questions else ABSTAIN_COLOUR
    pages = []
    for page in range(count):
        embed = discord.Embed(title=title, description=insights_totals(insights), colour=colour)
        first = page * GAPS_PER_PAGE
        for number, gap in enumerate(insights.gaps[first : first + GAPS_PER_PAGE], start=first + 1):
            name, value = _gap_field(number, gap)
            embed.add_field(name=name, value=value, inline=False)
        if not insights.gaps and insights.questions:
            embed.add_field(name="No gaps", value="Every question was answered, and none got a 👎.", inline=False)
        for name, value in _lists(insights):
            embed.add_field(name=name, value=value, inline=False)
        if chart:
            embed.set_image(url=f"attachment://{chart}")
        footer = f"Gaps: what the articles could not answer, biggest first · questions kept {insights.kept_days} days"
        embed.set_footer(text=f"Page {page + 1} of {count} · {footer}" if count > 1 else footer)
        pages.append(fit(embed))
    return pages
