"""Engine results → text for people (terminal and CLI; the Discord face builds embeds from the same
objects). Quotes are shown verbatim; only the decoration around them is ours."""

from __future__ import annotations

from index.consistency import Report
from index.engine import citation_numbers
from index.models import AddResult, Answer, Article, Quote, Summary


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
