"""Engine results → text for people (terminal and CLI; the Discord face builds embeds from the same
objects). Quotes are shown verbatim; only the decoration around them is ours."""

from __future__ import annotations

from collections.abc import Sequence

from index.engine import citation_numbers
from index.feeds.records import Feed, FeedPreview, PollReport
from index.models import (
    AddResult,
    Answer,
    Article,
    CitedSentence,
    Digest,
    Gap,
    Insights,
    Quote,
    Summary,
    TopicSummary,
)
from index.upkeep.consistency import Report


def source_line(number: int, title: str, url: str | None, published: str | None, article_id: int) -> str:
    parts = [f"[{number}] {title}"]
    if published:
        parts.append(f"({published})")
    parts.append(f"— {url}" if url else f"— article #{article_id}")
    return " ".join(parts)


def answer_text(answer: Answer) -> str:
    if answer.abstained:
        lines = [answer.answer]
        return "\n".join(lines)
    if answer.mode == "llm":  # the model's verified text; its [n] is quotes[n-1], shown in full below it
        return "\n".join([answer.answer, "", *_cited_quotes(answer.quotes)])
    numbers = citation_numbers(answer.quotes)
    lines = [f"“{q.text}” [{n}]" for q, n in zip(answer.quotes, numbers, strict=True)]
    lines.append("")
    cited: set[int] = set()
    for quote, number in zip(answer.quotes, numbers, strict=True):
        if number not in cited:
            cited.add(number)
            lines.append(source_line(number, quote.title, quote.url, quote.published, quote.article_id))
    return "\n".join(lines)


def _cited_quotes(quotes: tuple[Quote, ...]) -> list[str]:
    lines = []
    for number, quote in enumerate(quotes, start=1):
        lines.append(source_line(number, quote.title, quote.url, quote.published, quote.article_id))
        lines.append(f"    “{quote.text}”")
    return lines


def summary_text(summary: Summary) -> str:
    head = f"{summary.title}" + (f" — {summary.url}" if summary.url else f" (article #{summary.article_id})")
    if summary.mode == "llm" and summary.summary:
        cited = [f"[{n}] “{s.text}”" for n, s in enumerate(summary.sentences, start=1)]
        return "\n".join([head, summary.summary, "", *cited])
    body = [f"• {s.text}" for s in summary.sentences] or ["(this article has no sentences to summarise)"]
    return "\n".join([head, *body])


def add_result_text(result: AddResult) -> str:
    return f"{result.status:9} #{result.id}  {result.title}  ({result.chunks} chunks)"


def article_line(article: Article) -> str:
    date = article.published or "—"
    where = f"  {article.url}" if article.url else ""
    return f"#{article.id:<5} {date:10}  {article.title}  ({article.chunks} chunks){where}"


def cited_sentence_line(number: int, sentence: CitedSentence) -> str:
    date = f" ({sentence.published})" if sentence.published else ""
    return f"“{sentence.text}” [{number}]{date}"


def _sources(sentences: Sequence[CitedSentence]) -> tuple[list[int], list[str]]:
    """Citation numbers per article in order of first appearance, and the source lines."""
    numbers: dict[int, int] = {}
    lines: list[str] = []
    for s in sentences:
        if s.article_id not in numbers:
            numbers[s.article_id] = len(numbers) + 1
            lines.append(source_line(numbers[s.article_id], s.title, s.url, s.published, s.article_id))
    return [numbers[s.article_id] for s in sentences], lines


def topic_summary_text(summary: TopicSummary) -> str:
    if summary.abstained:
        closest = "; ".join(f"“{a.title}” (#{a.article_id})" for a in summary.articles)
        return summary.message + (f" The closest articles are {closest}." if closest else "")
    numbers, sources = _sources(summary.sentences)
    lines = [f"{summary.topic}:"]
    lines += [cited_sentence_line(n, s) for n, s in zip(numbers, summary.sentences, strict=True)]
    return "\n".join([*lines, "", *sources])


def digest_text(digest: Digest) -> str:
    head = f"Digest {digest.since} to {digest.until}: {digest.article_count} articles, {len(digest.stories)} stories"
    if not digest.stories:
        return f"No articles were added or published from {digest.since} to {digest.until}."
    blocks = [head]
    for number, story in enumerate(digest.stories, start=1):
        lines = [f"{number}. {story.articles[0].title}"]
        lines += [f"   “{s.text}”" for s in story.lead]
        for article in story.articles:
            when = article.published or article.added[:10]
            lines.append(f"   - {article.title} ({when}) — {article.url or f'article #{article.id}'}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def plural(count: int, word: str, many: str | None = None) -> str:
    return f"{count:,} {word if count == 1 else many or word + 's'}"


def insights_totals(insights: Insights) -> str:
    """The totals in one sentence (the terminal's first line and the embed's description)."""
    if not insights.questions:
        return f"No questions were asked from {insights.since} to {insights.until}."
    share = round(100 * insights.answered / insights.questions)
    return (
        f"{plural(insights.questions, 'question')} from {plural(insights.askers, 'member')}: "
        f'{insights.answered:,} answered ({share}%), {insights.abstained:,} "the articles don\'t say"; '
        f"👍 {insights.up:,} · 👎 {insights.down:,}."
    )


def gap_text(gap: Gap) -> str:
    """One gap: how often, when, and the questions themselves."""
    when = (
        gap.first_asked[:10]
        if gap.first_asked[:10] == gap.last_asked[:10]
        else (f"{gap.first_asked[:10]} to {gap.last_asked[:10]}")
    )
    why = [plural(gap.abstained, "unanswered", "unanswered")] if gap.abstained else []
    why += [f"{gap.downvoted:,} 👎"] if gap.downvoted else []
    return f"asked {plural(gap.count, 'time')} ({', '.join(why)}), {when}: " + " / ".join(
        f"“{q}”" for q in gap.examples
    )


def insights_text(insights: Insights) -> str:
    """Insights for a moderator's terminal: totals, gaps, closed gaps, the most and never quoted articles."""
    blocks = [f"Insights for {insights.collection!r}, {insights.since} to {insights.until}", insights_totals(insights)]
    if insights.gaps:
        lines = ["What the articles could not answer, biggest first:"]
        lines += [f"{n}. {gap_text(g)}" for n, g in enumerate(insights.gaps, start=1)]
        blocks.append("\n".join(lines))
    elif insights.questions:
        blocks.append("No gaps: every question was answered, and none got a 👎.")
    if insights.closed:
        lines = ["Closed since (an article added later answers them now):"]
        for gap in insights.closed:
            ref = gap.closed_by
            assert ref is not None
            lines.append(
                f"- “{gap.examples[0]}” — #{ref.article_id} {ref.title}" + (f" — {ref.url}" if ref.url else "")
            )
        blocks.append("\n".join(lines))
    if insights.most_quoted:
        lines = ["Most quoted:"]
        lines += [f"- #{a.article_id} {a.title} ({plural(a.answers, 'answer')})" for a in insights.most_quoted]
        blocks.append("\n".join(lines))
    if insights.never_quoted_count:
        lines = [f"Never quoted in these days ({insights.never_quoted_count:,}):"]
        lines += [f"- #{a.article_id} {a.title}" for a in insights.never_quoted]
        if insights.never_quoted_count > len(insights.never_quoted):
            lines.append(f"… and {insights.never_quoted_count - len(insights.never_quoted):,} more")
        blocks.append("\n".join(lines))
    blocks.append(f"Questions and votes are kept {insights.kept_days} days, then deleted.")
    return "\n\n".join(blocks)


def check_report_text(report: Report) -> str:
    """What `python -m bot check` found and repaired."""
    lines = [f"removed leftover temporary file {name}" for name in report.temp_files_removed]
    if report.orphans_deleted:
        lines.append(f"deleted {report.orphans_deleted} chunk/sentence rows whose article was gone")
    for name, c in report.collections.items():
        done = []
        if c.articles_relaid:
            done.append(f"laid out and embedded again articles {', '.join(map(str, c.articles_relaid))}")
        if c.articles_removed:
            done.append(f"removed unusable articles {', '.join(map(str, c.articles_removed))}")
        if c.chunks_reembedded or c.sentences_reembedded:
            done.append(f"re-embedded {c.chunks_reembedded} chunk and {c.sentences_reembedded} sentence vectors")
        if c.caches_repaired:
            done.append(f"rebuilt the {' and '.join(c.caches_repaired)} cache from SQLite (its ids disagreed)")
        if c.caches_rebuilt:
            done.append(f"rebuilt the stale {' and '.join(c.caches_rebuilt)} cache")
        counts = f"{c.articles} articles, {c.chunks} chunks, {c.sentences} sentences"
        lines.append(f"{name}: {counts}; " + ("; ".join(done) if done else "consistent"))
    verdict = "consistent" if report.consistent else "repaired"
    lines.append(f"{verdict} ({report.seconds * 1000:.0f} ms)")
    return "\n".join(lines)


def feed_line(feed: Feed) -> str:
    announce = f", announced in <#{feed.channel}>" if feed.announce and feed.channel else ""
    error = f" (last error: {feed.last_error})" if feed.last_error and feed.status != "active" else ""
    return f"#{feed.id:<4} {feed.title}  [{feed.status}{announce}]  {feed.url}{error}"


def poll_report_text(report: PollReport) -> str:
    if report.error:
        return f"#{report.id:<4} {report.url}: {report.error}"
    if report.not_modified:
        return f"#{report.id:<4} {report.url}: not modified"
    counts = f"{report.added} added, {report.updated} updated, {report.unchanged} unchanged, {report.skipped} skipped"
    return "\n".join([f"#{report.id:<4} {report.url}: {counts}", *(f"      {p}" for p in report.problems)])


def feed_preview_text(preview: FeedPreview) -> str:
    lines = [
        f"{preview.title}  ({preview.url}): {len(preview.items)} items; following it would add the newest "
        f"{min(preview.backfill, len(preview.items))} now, silently, and then each new one."
    ]
    if preview.malformed:
        lines.append(f"The feed is malformed ({preview.malformed}); this is what could be read.")
    for item in preview.items:
        how = "full text in the feed" if item.full_text else "teaser: the page would be fetched"
        lines.append(f"  {item.published or '----------'}  {item.title}  ({how})")
    return "\n".join(lines)
