"""Engine results → Discord embeds. Quotes are shown verbatim (markdown-escaped, so that a `*` in an
article is not bold); everything is kept inside Discord's limits by trimming at word boundaries, never
mid-word, and saying so. Mentions never ping: the client sends AllowedMentions.none() with every message,
and embeds cannot ping anyway."""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import quote as percent

import discord

from index.engine import NO_ANSWER, citation_numbers
from index.feeds.records import Announcement, Feed
from index.models import AddResult, Answer, Article, CitedSentence, Digest, Story, Summary, TopicSummary

# Discord's limits (https://discord.com/developers/docs/resources/message#embed-object-embed-limits).
TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FIELD_LIMIT = 1024
FOOTER_LIMIT = 2048
EMBED_TOTAL_LIMIT = 6000
CHOICE_NAME_LIMIT = 100
# Nothing the bot posts on its own (digests, feed announcements) may ping anyone.
NO_MENTIONS = discord.AllowedMentions.none()

ANSWER_COLOUR = discord.Colour(0x2B6CB0)
ABSTAIN_COLOUR = discord.Colour(0x718096)
ERROR_COLOUR = discord.Colour(0xC53030)


def trim(text: str, limit: int) -> str:
    """At most `limit` characters, cut at a word boundary with an ellipsis."""
    text = text.strip()
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut[limit // 2 :]:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:") + "…"


def escape(text: str) -> str:
    return discord.utils.escape_markdown(text, as_needed=False)


_PING = re.compile(r"@(?=everyone|here|[!&]?\d)")


def no_pings(text: str) -> str:
    """@everyone, @here, <@id> and <@&role> with a zero-width space after the @, so they cannot ping even if
    allowed_mentions were lost. Only for text that is not a verbatim quote (a model's wording, a title in a
    message's content): quotes stay exactly as the article has them, and every payload already carries
    AllowedMentions.none()."""
    return _PING.sub("@\u200b", text)


def fragment_link(url: str | None, text: str) -> str | None:
    """The article URL with a text fragment (#:~:text=start,end) that makes browsers scroll to and
    highlight the quoted sentence; a browser that cannot match it simply opens the page."""
    if not url or not url.startswith(("http://", "https://")) or "#" in url:
        return url
    words = text.split()
    if len(words) <= 8:
        directive = percent(" ".join(words), safe="")
    else:
        directive = f"{percent(' '.join(words[:4]), safe='')},{percent(' '.join(words[-4:]), safe='')}"
    return f"{url}#:~:text={directive}"


_SPACE = re.compile(r"\s+")


def quote_body(text: str, answer_span: tuple[int, int] | None, budget: int) -> tuple[str, bool]:
    """A verbatim quote as one line of Discord markdown, the words that answer in bold; cut to `budget`
    characters (the answer kept whole where it fits). Returns the line and whether it was cut."""
    one_line = lambda piece: _SPACE.sub(" ", piece)  # noqa: E731  (a line break would end the block quote)
    if answer_span is None or not 0 <= answer_span[0] < answer_span[1] <= len(text):
        plain = one_line(text).strip()
        return (escape(plain), False) if len(plain) <= budget else (escape(trim(plain, budget)), True)
    before, answer, after = (
        one_line(p) for p in (text[: answer_span[0]], text[slice(*answer_span)], text[answer_span[1] :])
    )
    before, after = before.lstrip(), after.rstrip()
    cut = False
    if len(before) + len(answer) + len(after) > budget:
        room = budget - len(before) - len(answer)
        if room < 12:  # the answer itself does not fit: the plain quote, cut
            return quote_body(text, None, budget)
        lead = " " if after.startswith(" ") else ""
        after, cut = lead + trim(after, room - len(lead)), True
    return f"{escape(before)}**{escape(answer)}**{escape(after)}", cut


def _source_line(number: int, title: str, url: str | None, published: str | None, article_id: int) -> str:
    name = escape(trim(title, 120))
    linked = f"[{name}]({url})" if url else f"{name} (article #{article_id})"
    return f"**[{number}]** {linked}" + (f" · {published}" if published else "")


def answer_embed(answer: Answer, articles_searched: int) -> discord.Embed:
    """The answer: each quote as a block quote with its numbered link, the sources, and a footer."""
    footer = f"Searched {articles_searched:,} article{'s' if articles_searched != 1 else ''} · {answer.took_ms:.0f} ms"
    if answer.mode == "llm" and not answer.abstained:
        footer += " · worded by a language model; every sentence checked against the quotes it cites"
    if answer.abstained:
        embed = discord.Embed(
            title=trim(answer.question, TITLE_LIMIT),
            description="This server's articles don't cover that, so I won't guess.",
            colour=ABSTAIN_COLOUR,
        )
        if answer.related:
            lines = [
                "• "
                + (f"[{escape(trim(r.title, 120))}]({r.url})" if r.url else escape(trim(r.title, 120)))
                + (f" · {r.published}" if r.published else "")
                + f" (#{r.article_id})"
                for r in answer.related
            ]
            embed.add_field(name="Closest articles", value=trim("\n".join(lines), FIELD_LIMIT), inline=False)
        elif answer.answer != NO_ANSWER:
            embed.description = trim(answer.answer, DESCRIPTION_LIMIT)
        embed.set_footer(text=footer)
        return embed

    # Extractive: one number per article. LLM mode: the model's verified text cites [n] = quotes[n-1].
    llm = answer.mode == "llm"
    numbers = list(range(1, len(answer.quotes) + 1)) if llm else citation_numbers(answer.quotes)
    lead = trim(escape(no_pings(answer.answer)), DESCRIPTION_LIMIT // 3) + "\n\n" if llm else ""
    sources: dict[int, str] = {}
    for quote, number in zip(answer.quotes, numbers, strict=True):
        sources.setdefault(number, _source_line(number, quote.title, quote.url, quote.published, quote.article_id))
    sources_text = trim("\n".join(sources.values()), FIELD_LIMIT)
    # Share the description fairly between quotes; a quote that does not fit is trimmed (the Sources
    # button shows it whole).
    room = DESCRIPTION_LIMIT - len(lead) - 40 * len(answer.quotes)
    budget = max(200, room // max(1, len(answer.quotes)))
    blocks = []
    trimmed = False
    for quote, number in zip(answer.quotes, numbers, strict=True):
        body, cut = quote_body(quote.text, quote.answer_span, budget)
        trimmed = trimmed or cut
        link = fragment_link(quote.url, quote.text)
        marker = f"[[{number}]]({link})" if link else f"[{number}]"
        blocks.append(f"> {body} {marker}")
    description = lead + "\n\n".join(blocks)
    if trimmed:
        footer += " · long quotes shortened: press Sources for them in full"
    embed = discord.Embed(
        title=trim(answer.question, TITLE_LIMIT), description=trim(description, DESCRIPTION_LIMIT), colour=ANSWER_COLOUR
    )
    embed.add_field(name="Sources", value=sources_text, inline=False)
    embed.set_footer(text=trim(footer + " · quotes are verbatim from the articles", FOOTER_LIMIT))
    return fit(embed)


def passages_embeds(answer: Answer, passages: Sequence[tuple[str, str, str]]) -> list[discord.Embed]:
    """The Sources view: every quote in full, in its context (the sentence before and after), one embed
    per quote, long passages trimmed around the quote, which is always shown whole when it fits."""
    embeds = []
    llm = answer.mode == "llm"
    numbers = list(range(1, len(answer.quotes) + 1)) if llm else citation_numbers(answer.quotes)
    for quote, number, (before, text, after) in zip(answer.quotes, numbers, passages, strict=True):
        core = f"**{escape(text)}**"
        before_text, after_text = escape(before), escape(after)
        room = DESCRIPTION_LIMIT - len(core) - 4
        if room <= 0:
            description = trim(core, DESCRIPTION_LIMIT)
        else:
            half = room // 2
            left = before_text if len(before_text) <= half else "…" + before_text[-(half - 1) :]
            rest = room - len(left)
            right = after_text if len(after_text) <= rest else after_text[: rest - 1] + "…"
            description = " ".join(p for p in (left, core, right) if p)
        embed = discord.Embed(
            title=trim(f"[{number}] {quote.title}", TITLE_LIMIT),
            url=fragment_link(quote.url, quote.text),
            description=description,
            colour=ANSWER_COLOUR,
        )
        where = f"article #{quote.article_id}, characters {quote.start}–{quote.end}"
        embed.set_footer(text=(f"{quote.published} · " if quote.published else "") + where)
        embeds.append(embed)
    return embeds


def summary_embed(summary: Summary, published: str | None = None) -> discord.Embed:
    """An extractive summary; every sentence links to its place in the article."""
    if summary.mode == "llm" and summary.summary:
        # The model's verified text, then the article's sentences it cites: [n] is sentences[n-1].
        lines = [escape(no_pings(summary.summary)), ""]
        for number, sentence in enumerate(summary.sentences, start=1):
            link = fragment_link(summary.url, sentence.text)
            lines.append(f"> {escape(sentence.text)} " + (f"[[{number}]]({link})" if link else f"[{number}]"))
        description = "\n".join(lines)
    elif summary.sentences:
        lines = []
        for sentence in summary.sentences:
            link = fragment_link(summary.url, sentence.text)
            lines.append(f"• {escape(sentence.text)}" + (f" [↗]({link})" if link else ""))
        description = "\n".join(lines)
    else:
        description = "This article has no sentences to summarise."
    embed = discord.Embed(
        title=trim(summary.title, TITLE_LIMIT),
        url=summary.url if summary.url and summary.url.startswith(("http://", "https://")) else None,
        description=trim(description, DESCRIPTION_LIMIT),
        colour=ANSWER_COLOUR,
    )
    footer = f"Article #{summary.article_id}" + (f" · {published}" if published else "")
    embed.set_footer(text=footer + " · every sentence is quoted verbatim from the article")
    return fit(embed)


def add_result_line(result: AddResult) -> str:
    verb = {"added": "Added", "updated": "Updated", "duplicate": "Already here (duplicate)"}[result.status]
    title = escape(no_pings(trim(result.title, 150)))
    chunks = f"{result.chunks} chunk" + ("" if result.chunks == 1 else "s")
    return f"{verb}: **{title}** (#{result.id}, {chunks})"


def article_list_embed(articles: Sequence[Article], page: int, page_size: int) -> discord.Embed:
    pages = max(1, -(-len(articles) // page_size))
    page = max(0, min(page, pages - 1))
    shown = articles[page * page_size : (page + 1) * page_size]
    lines = []
    for article in shown:
        title = escape(trim(article.title, 90))
        linked = f"[{title}]({article.url})" if article.url else title
        lines.append(f"`#{article.id}` {linked}" + (f" · {article.published}" if article.published else ""))
    embed = discord.Embed(
        title="Articles in this server",
        description=trim("\n".join(lines), DESCRIPTION_LIMIT)
        if lines
        else "No articles yet: a moderator can add one with /article add.",
        colour=ANSWER_COLOUR,
    )
    noun = "article" if len(articles) == 1 else "articles"
    embed.set_footer(text=f"Page {page + 1} of {pages} · {len(articles):,} {noun}")
    return embed


def _cited_block(sentence: CitedSentence, number: int, budget: int) -> str:
    body = trim(escape(" ".join(sentence.text.split())), budget)
    link = fragment_link(sentence.url, sentence.text)
    marker = f"[[{number}]]({link})" if link else f"[{number}]"
    return f"> {body} {marker}" + (f" · {sentence.published}" if sentence.published else "")


def topic_summary_embed(summary: TopicSummary) -> discord.Embed:
    """A topic summary: each sentence a block quote with its numbered link and date, then the sources."""
    window = f" · {summary.since or '…'} to {summary.until or '…'}" if summary.since or summary.until else ""
    footer = f"{summary.took_ms:.0f} ms{window}"
    if summary.abstained:
        embed = discord.Embed(
            title=trim(summary.topic, TITLE_LIMIT), description=escape(summary.message), colour=ABSTAIN_COLOUR
        )
        if summary.articles:
            lines = [
                _source_line(n, a.title, a.url, a.published, a.article_id) for n, a in enumerate(summary.articles, 1)
            ]
            embed.add_field(name="Closest articles", value=trim("\n".join(lines), FIELD_LIMIT), inline=False)
        embed.set_footer(text=footer)
        return embed
    numbers = {a.article_id: n for n, a in enumerate(summary.articles, start=1)}
    budget = max(200, (DESCRIPTION_LIMIT - 60 * len(summary.sentences)) // max(1, len(summary.sentences)))
    blocks = [_cited_block(s, numbers[s.article_id], budget) for s in summary.sentences]
    embed = discord.Embed(
        title=trim(summary.topic, TITLE_LIMIT),
        description=trim("\n\n".join(blocks), DESCRIPTION_LIMIT),
        colour=ANSWER_COLOUR,
    )
    sources = [_source_line(n, a.title, a.url, a.published, a.article_id) for n, a in enumerate(summary.articles, 1)]
    embed.add_field(name="Sources", value=trim("\n".join(sources), FIELD_LIMIT), inline=False)
    across = f"Across {len(summary.articles)} article{'s' if len(summary.articles) != 1 else ''}"
    embed.set_footer(text=trim(f"{across} · {footer} · every sentence is quoted verbatim", FOOTER_LIMIT))
    return fit(embed)


def _story_field(number: int, story: Story) -> tuple[str, str]:
    lead = []
    for sentence in story.lead:  # the article list below is the citation; the arrow jumps to the sentence
        link = fragment_link(sentence.url, sentence.text)
        lead.append(f"> {trim(escape(' '.join(sentence.text.split())), 350)}" + (f" [↗]({link})" if link else ""))
    links = []
    for article in story.articles:
        title = escape(trim(article.title, 80))
        when = article.published or article.added[:10]
        links.append(f"• {f'[{title}]({article.url})' if article.url else f'{title} (#{article.id})'} · {when}")
    value = "\n".join(lead + links)
    if len(value) > FIELD_LIMIT:  # many articles in one story: keep the lead, shorten the list
        more = len(story.articles)
        while links and len("\n".join([*lead, *links, f"… and {more - len(links)} more"])) > FIELD_LIMIT:
            links.pop()
        value = "\n".join([*lead, *links, f"… and {more - len(links)} more"])
    return trim(f"{number}. {story.articles[0].title}", TITLE_LIMIT), trim(value, FIELD_LIMIT)


def digest_embeds(digest: Digest, per_page: int = 5) -> list[discord.Embed]:
    """The digest as pages of `per_page` stories, each a field: its lead quoted, then its articles."""
    title = f"Digest: {digest.since} to {digest.until}"
    articles = f"{digest.article_count:,} article" + ("s" if digest.article_count != 1 else "")
    stories = f"{len(digest.stories):,} stor" + ("ies" if len(digest.stories) != 1 else "y")
    summary = f"{articles} in {stories}, newest first."
    if not digest.stories:
        return [
            discord.Embed(
                title=title, description="No articles were added or published in these days.", colour=ABSTAIN_COLOUR
            )
        ]
    pages = []
    count = -(-len(digest.stories) // per_page)
    for page in range(count):
        embed = discord.Embed(title=title, description=summary, colour=ANSWER_COLOUR)
        for number, story in enumerate(
            digest.stories[page * per_page : (page + 1) * per_page], start=page * per_page + 1
        ):
            name, value = _story_field(number, story)
            embed.add_field(name=name, value=value, inline=False)
        embed.set_footer(text=f"Page {page + 1} of {count} · every lead is quoted verbatim from the articles")
        pages.append(fit(embed))
    return pages


def feed_item_embed(post: Announcement) -> discord.Embed:
    """A new article from a feed: its title (linked), one quoted lead sentence, the feed it came from."""
    article = post.article
    embed = discord.Embed(title=trim(article.title, TITLE_LIMIT), url=article.url or None, colour=ANSWER_COLOUR)
    if post.lead is not None:
        link = fragment_link(post.lead.url, post.lead.text)
        body = trim(escape(" ".join(post.lead.text.split())), 1000)
        embed.description = f"> {body}" + (f" [↗]({link})" if link else "")
    when = article.published or article.added[:10]
    embed.set_footer(text=trim(f"New from {post.feed_title} · {when} · ask me about it (#{article.id})", FOOTER_LIMIT))
    return fit(embed)


def feed_choice_name(feed: Feed) -> str:
    """An autocomplete label: '#3 Example News (paused)', at most 100 characters."""
    suffix = "" if feed.status == "active" else f" ({trim(feed.status, 30)})"
    return trim(f"#{feed.id} {feed.title}", CHOICE_NAME_LIMIT - len(suffix)) + suffix


def error_embed(sentence: str) -> discord.Embed:
    return discord.Embed(description=trim(sentence, DESCRIPTION_LIMIT), colour=ERROR_COLOUR)


def fit(embed: discord.Embed) -> discord.Embed:
    """Discord refuses an embed over 6,000 characters in all; trim the description until it fits."""
    excess = len(embed) - EMBED_TOTAL_LIMIT
    if excess > 0 and embed.description:
        embed.description = trim(embed.description, max(1, len(embed.description) - excess - 1))
    return embed


def article_choice_name(article_id: int, title: str, published: str | None) -> str:
    """An autocomplete label: '#12 Title · 2024-03-14', at most 100 characters."""
    suffix = f" · {published}" if published else ""
    return trim(f"#{article_id} {title}", CHOICE_NAME_LIMIT - len(suffix)) + suffix
