"""Feeds: a collection follows RSS/Atom feeds on a loopback web server, and new articles arrive by
themselves — stored once, edits updating them, announcements queued once, limits and failures each said
in one sentence. Real HTTP, the real model, real SQLite and PostgreSQL."""

from __future__ import annotations

import functools
import json
import socket
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import fresh_database, run_cli
from feed_server import Entry, FeedServer, atom, rdf, rss

import index.articles.fetch
from index import Engine
from index.errors import FetchError, InvalidInput
from index.feeds.syndication import SUMMARY_MARK, normalise_link

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
TOWNS = [
    "Ashford",
    "Brackley",
    "Carnforth",
    "Dunmow",
    "Eyemouth",
    "Frodsham",
    "Gorleston",
    "Helmsley",
    "Ilkley",
    "Jedburgh",
    "Kendal",
    "Ledbury",
    "Malton",
    "Nairn",
    "Oakham",
    "Penrith",
    "Quorn",
    "Ripon",
    "Settle",
    "Thirsk",
]
THINGS = [
    "library",
    "footbridge",
    "swimming pool",
    "bus station",
    "market hall",
    "lido",
    "museum",
    "cycle path",
    "harbour wall",
    "community orchard",
    "cinema",
    "skate park",
    "town hall clock",
    "railway halt",
    "allotments",
    "bandstand",
    "fire station",
    "high street",
    "sports centre",
    "ferry pier",
]


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def story(n: int) -> tuple[str, list[str]]:
    """A distinct local-news article: a title and six paragraphs about one town's one project."""
    town, thing = TOWNS[n % len(TOWNS)], THINGS[n % len(THINGS)]
    cost = 120 + 37 * n
    paragraphs = [
        f"Councillors in {town} have approved a plan to rebuild the {thing}, which closed two years ago after "
        f"inspectors found serious damage to its roof and foundations.",
        f"The work on the {thing} will cost £{cost},000 and is expected to take eighteen months, the council "
        "said on Tuesday.",
        f"Local residents had campaigned for the reopening of the {thing} since it shut, collecting more than "
        f"{n + 3},000 signatures on a petition delivered to the town hall.",
        f"The council leader, Margaret {town}son, said the decision showed that the authority listened to the "
        f"people of {town} and would spend money where it mattered most to families.",
        f"Builders are due to start in the spring, and a temporary replacement will open in a nearby church hall "
        f"so that services are not lost while the {thing} is closed.",
        f"Opposition councillors questioned whether the budget for the {thing} was realistic given rising prices "
        f"for steel, timber and labour across the region this year.",
    ]
    return f"{town} to rebuild its {thing}", paragraphs


def html_of(paragraphs: list[str]) -> str:
    return "".join(f"<p>{p}</p>" for p in paragraphs)


def entries(numbers: range | list[int], *, full: bool = True, base: str = "https://news.example/") -> list[Entry]:
    """Feed entries, newest (highest number) first, one hour apart."""
    found = []
    for n in sorted(numbers, reverse=True):
        title, paragraphs = story(n)
        found.append(
            Entry(
                title=title,
                link=f"{base}story/{n}",
                text=html_of(paragraphs) if full else paragraphs[0][:140],
                guid=f"story-{n}",
                published=T0 - timedelta(days=3) + timedelta(hours=n),
                full_content=full,
            )
        )
    return found


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as running:
        yield running


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def feed_engine(make_engine: Callable[..., Engine], server: FeedServer, clock: Clock) -> Callable[..., Engine]:
    """Engines on the test's clock that may fetch from the loopback feed server."""

    def make(**settings: object) -> Engine:
        return make_engine(
            clock=clock, **{"fetch_allow_private": True, "fetch_allowed_ports": frozenset({server.port}), **settings}
        )

    return make


def only(reports: list) -> object:
    assert len(reports) == 1, reports
    return reports[0]


# -- following and the first poll ----------------------------------------------------------------
def test_a_server_follows_an_rss_feed_its_newest_items_arrive_silently_and_members_can_ask(
    feed_engine: Callable[..., Engine], server: FeedServer
):
    engine = feed_engine()
    url = server.publish("/news.rss", rss("Example News", entries(range(12))))
    feed, new = engine.feeds.add("guild-1", url, channel="42", announce=True)
    assert new and feed.title == "Example News" and feed.url == url and feed.status == "active"

    report = only(engine.feeds.poll_due())
    assert (report.added, report.updated, report.skipped, report.error) == (10, 0, 2, None)
    titles = {a.title for a in engine.list_articles("guild-1")}
    assert titles == {story(n)[0] for n in range(2, 12)}, "the newest ten, not the two oldest"
    article = next(a for a in engine.list_articles("guild-1") if a.title == story(11)[0])
    assert article.url == "https://news.example/story/11" and article.published == "2026-11-28"
    assert engine.feeds.announcements() == ([], []), "the first poll announces nothing"

    answer = engine.ask("guild-1", "how much is the new cinema in kendal going to cost")
    assert answer.quotes, answer.message
    assert answer.quotes[0].title == "Kendal to rebuild its cinema"
    assert any("£490,000" in quote.text for quote in answer.quotes)

    assert not engine.feeds.poll_due(), "not due again before the interval"


def test_atom_teasers_bring_the_linked_page_and_a_page_without_text_leaves_the_marked_summary(
    feed_engine: Callable[..., Engine], server: FeedServer
):
    engine = feed_engine()
    teasers = entries(range(3), full=False, base=server.url("/"))
    for entry in teasers[:2]:  # stories 2 and 1 have pages; story 0's link is a 404
        n = int(entry.guid.split("-")[1])
        server.page(f"/story/{n}", *story(n))
    teasers[2] = Entry(
        teasers[2].title, teasers[2].link, " ".join(story(0)[1][:2]), teasers[2].guid, teasers[2].published
    )
    url = server.publish("/atom.xml", atom("Atom News", teasers), "application/atom+xml")
    engine.feeds.add("c", url)

    report = only(engine.feeds.poll_due())
    assert (report.added, report.skipped) == (3, 0), report
    assert server.count("/story/2") == 1 and server.count("/story/1") == 1 and server.count("/story/0") == 1
    by_title = {a.title: a for a in engine.list_articles("c")}
    page_article = by_title[story(2)[0]]
    assert "petition delivered to the town hall" in engine.article_text("c", page_article.id), "the page's text"
    marked = by_title[story(0)[0] + SUMMARY_MARK]
    assert engine.article_text("c", marked.id).startswith("Councillors in Ashford"), "the entry's own summary"


def test_an_rss_1_0_feed_is_read_and_its_items_keyed_by_their_links(
    feed_engine: Callable[..., Engine], server: FeedServer
):
    engine = feed_engine()
    items = [Entry(e.title, e.link, e.text, None, e.published) for e in entries(range(4))]
    url = server.publish("/rdf", rdf("RDF News", items), "application/rdf+xml")
    engine.feeds.add("c", url)
    assert only(engine.feeds.poll_due()).added == 4
    assert {a.url for a in engine.list_articles("c")} == {f"https://news.example/story/{n}" for n in range(4)}


def test_a_page_that_names_its_feed_is_followed_through_it_and_a_page_that_does_not_is_refused(
    feed_engine: Callable[..., Engine], server: FeedServer
):
    engine = feed_engine()
    feed_url = server.publish("/feeds/all.xml", rss("Linked", entries(range(2))))
    page = server.publish(
        "/home",
        '<!doctype html><html><head><title>Home</title><link rel="alternate" type="application/rss+xml" '
        'title="All stories" href="/feeds/all.xml"></head><body><p>Welcome to our news site.</p></body></html>',
        "text/html; charset=utf-8",
    )
    feed, _ = engine.feeds.add("c", page)
    assert feed.url == feed_url
    mislabelled = server.publish("/as-html.xml", rss("Mislabelled", entries(range(1))), "text/html")
    assert engine.feeds.add("c", mislabelled)[0].title == "Mislabelled", "a feed served as text/html is a feed"

    server.page("/about", "About us", ["We are a small newsroom with big ambitions and a long history."] * 3)
    with pytest.raises(InvalidInput, match="not a feed, and it names no feed"):
        engine.feeds.add("c", server.url("/about"))
    assert [f.url for f in engine.feeds.list("c")] == [feed_url, mislabelled], "the refused page is not followed"


def test_a_dry_run_shows_what_following_would_take_and_stores_nothing(
    feed_engine: Callable[..., Engine], server: FeedServer
):
    engine = feed_engine()
    url = server.publish("/news.rss", rss("Example News", entries(range(12))))
    preview = engine.feeds.preview(url)
    payload = preview.to_json()
    assert payload["title"] == "Example News" and payload["would_add"] == 10 and len(payload["items"]) == 12
    assert payload["items"][0]["title"] == story(11)[0] and payload["items"][0]["full_text"] is True
    assert engine.feeds.list("c") == [] and engine.list_articles("c") == []


# -- later polls ----------------------------------------------------------------------------------
def test_new_items_are_announced_once_edits_update_in_place_and_old_items_never_come_back(
    feed_engine: Callable[..., Engine], server: FeedServer, clock: Clock
):
    engine = feed_engine()
    url = server.publish("/news.rss", rss("Example News", entries(range(12))))
    engine.feeds.add("c", url, channel="42", announce=True)
    engine.feeds.poll_due()
    ids = {a.title: a.id for a in engine.list_articles("c")}

    # an hour on: story 12 is new, story 11 was edited, and the feed re-publishes the two oldest items
    # (never stored: older than the backfill) and drops nothing else
    edited = entries([11])[0]
    edited = Entry(
        edited.title,
        edited.link,
        edited.text.replace("eighteen months", "two years"),
        edited.guid,
        edited.published,
        True,
    )
    later = [*entries([12]), edited, *entries(range(11))]
    server.publish("/news.rss", rss("Example News", later))
    clock.advance(minutes=16)
    report = only(engine.feeds.poll_due())
    assert (report.added, report.updated, report.unchanged, report.skipped) == (1, 1, 11, 0), report.to_json()
    after = {a.title: a.id for a in engine.list_articles("c")}
    assert len(after) == 11 and after[story(11)[0]] == ids[story(11)[0]], "the edit keeps the article's id"
    assert "two years" in engine.article_text("c", ids[story(11)[0]])
    assert story(0)[0] not in after and story(1)[0] not in after, "old items re-published are not stored"

    posts, notices = engine.feeds.announcements()
    assert [p.article.title for p in posts] == [story(12)[0]] and notices == []
    (post,) = posts
    assert post.channel == "42" and post.feed_title == "Example News" and post.lead is not None
    assert post.lead.text in engine.article_text("c", post.article.id), "the lead is quoted verbatim"
    assert engine.feeds.announcements() == ([], []), "announced once"

    clock.advance(minutes=16)
    again = only(engine.feeds.poll_due())
    assert again.not_modified and again.added == again.updated == 0
    assert engine.feeds.announcements() == ([], [])


def test_conditional_get_a_304_or_the_same_bytes_cost_no_parsing(
    feed_engine: Callable[..., Engine], server: FeedServer, clock: Clock
):
    engine = feed_engine()
    with_validators = server.publish("/a.rss", rss("A", entries(range(2))))
    without = server.publish("/b.rss", rss("B", entries(range(2, 4))), validators=False)
    engine.feeds.add("c", with_validators)
    engine.feeds.add("c", without)
    assert sum(r.added for r in engine.feeds.poll_due()) == 4

    clock.advance(minutes=15)
    reports = {r.url: r for r in engine.feeds.poll_due()}
    assert reports[with_validators].not_modified and reports[without].not_modified
    assert server.not_modified == 1, "the feed with validators answered 304"
    sent = [headers for path, headers in server.requests if path == "/a.rss"][-1]
    assert sent.get("If-None-Match", "").startswith('"') and "If-Modified-Since" in sent
    assert all(r.unchanged == 0 and r.added == 0 for r in reports.values()), "nothing was parsed"


def test_entries_without_ids_are_keyed_by_link_or_by_title_and_date_and_stay_the_same_item(
    feed_engine: Callable[..., Engine], server: FeedServer, clock: Clock
):
    engine = feed_engine()
    base = entries(range(3))
    anonymous = [
        Entry(base[0].title, base[0].link + "?utm_source=rss#top", base[0].text, None, base[0].published, True),
        Entry(base[1].title, None, base[1].text, None, base[1].published, True),
        base[2],
    ]
    url = server.publish("/x.rss", rss("X", anonymous), validators=False)
    engine.feeds.add("c", url)
    assert only(engine.feeds.poll_due()).added == 3
    server.publish("/x.rss", rss("X", anonymous) + "\n", validators=False)  # new bytes, same items
    clock.advance(minutes=15)
    assert only(engine.feeds.poll_due()).unchanged == 3
    assert normalise_link("HTTPS://News.Example:443/story/2/?utm_source=rss&id=4#top") == (
        "https://news.example/story/2?id=4"
    )


def test_a_malformed_feed_is_read_as_far_as_it_goes_and_garbage_is_a_clear_error_that_loses_nothing(
    feed_engine: Callable[..., Engine], server: FeedServer, clock: Clock
):
    engine = feed_engine()
    broken = rss("Broken", entries(range(2))).replace("</channel></rss>", "<item><title>Unclosed &bogus; entity")
    url = server.publish("/broken.rss", broken)
    engine.feeds.add("c", url)
    report = only(engine.feeds.poll_due())
    assert report.added == 2 and report.error is None

    server.publish("/broken.rss", b"\x00\x01 this is not xml at all {json: maybe}", "application/xml")
    clock.advance(minutes=15)
    report = only(engine.feeds.poll_due())
    assert report.error and "not a feed" in report.error and report.error.endswith(".")
    assert len(engine.list_articles("c")) == 2, "nothing stored is lost"
    (feed,) = engine.feeds.list("c")
    assert feed.status == "failing" and feed.failures == 1


def test_failures_back_off_and_a_week_of_them_pauses_the_feed_and_tells_its_channel_once(
    feed_engine: Callable[..., Engine], server: FeedServer, clock: Clock
):
    engine = feed_engine(fetch_max_bytes=50_000)
    url = server.publish("/huge.rss", rss("Huge", entries(range(2))))
    engine.feeds.add("c", url, channel="7", announce=False)  # a feed is followed while it works
    server.publish("/huge.rss", rss("Huge", entries(range(2))) + " " * 60_000)
    delays = []
    while True:
        reports = engine.feeds.poll_due()
        if reports:
            (report,) = reports
            assert "larger than the 50.0 kB limit" in report.error
            (feed,) = engine.feeds.list("c")
            if feed.status.startswith("paused"):
                break
            delays.append(datetime.fromisoformat(feed.next_poll) - clock.now)
        clock.advance(minutes=5)
        assert clock.now < T0 + timedelta(days=9), "never paused"
    assert delays[:4] == [timedelta(minutes=30), timedelta(hours=1), timedelta(hours=2), timedelta(hours=4)]
    assert max(delays) == timedelta(hours=6)
    assert feed.status == "paused: too large"
    posts, notices = engine.feeds.announcements()
    assert posts == [] and len(notices) == 1
    assert notices[0].channel == "7" and "failed for a week (too large)" in notices[0].text
    assert engine.feeds.announcements() == ([], []), "told once"
    clock.advance(days=1)
    assert engine.feeds.poll_due() == [], "a paused feed is not polled"

    server.publish("/huge.rss", rss("Huge", entries(range(2))))
    engine.feeds.resume("c", feed.id)
    assert only(engine.feeds.poll_due()).added == 2


def test_the_feed_decides_when_it_is_polled_next_if_it_asks_for_longer(
    feed_engine: Callable[..., Engine], server: FeedServer, clock: Clock
):
    engine = feed_engine()
    ttl = server.publish("/ttl.rss", rss("TTL", entries(range(1)), ttl=60))
    cached = server.publish(
        "/cached.rss", rss("Cached", entries(range(1, 2))), headers={"Cache-Control": "max-age=7200"}
    )
    unavailable = server.publish("/busy.rss", rss("Busy", entries(range(2, 3))))
    for url in (ttl, cached, unavailable):
        engine.feeds.add("c", url)
    server.publish("/busy.rss", "busy", "text/plain", status=503, headers={"Retry-After": "10800"})
    engine.feeds.poll_due()
    next_poll = {f.url: datetime.fromisoformat(f.next_poll) - clock.now for f in engine.feeds.list("c")}
    assert next_poll == {ttl: timedelta(hours=1), cached: timedelta(hours=2), unavailable: timedelta(hours=3)}


# -- limits ---------------------------------------------------------------------------------------
def test_limits_each_say_one_sentence(feed_engine: Callable[..., Engine], server: FeedServer, clock: Clock):
    engine = feed_engine(max_feeds=2, feed_max_items=5, feed_announce_per_hour=2)
    first = server.publish("/one.rss", rss("One", entries(range(8))))
    engine.feeds.add("c", first, channel="9", announce=True)
    engine.feeds.add("c", server.publish("/two.rss", rss("Two", entries(range(20, 21)))))
    with pytest.raises(InvalidInput, match="already follows 2 feeds, the limit"):
        engine.feeds.add("c", server.publish("/three.rss", rss("Three", entries(range(30, 31)))))
    assert engine.feeds.add("other", server.url("/three.rss"))[1], "the limit is per server"

    reports = {r.url: r for r in engine.feeds.poll_due()}
    assert reports[first].added == 5 and reports[first].skipped == 3
    assert reports[first].problems == ["The feed holds 8 items; only the newest 5 are read per poll."]

    server.publish("/one.rss", rss("One", entries(range(8, 12)) + entries(range(8))))
    clock.advance(minutes=15)
    assert only([r for r in engine.feeds.poll_due() if r.url == first]).added == 4
    posts, notices = engine.feeds.announcements()
    assert len(posts) == 2 and len(notices) == 1
    assert "More than 2 new articles arrived from feeds this hour" in notices[0].text
    assert engine.feeds.announcements() == ([], [])


def test_a_redirect_to_a_private_address_is_refused(
    feed_engine: Callable[..., Engine], server: FeedServer, monkeypatch: pytest.MonkeyPatch
):
    # feeds.example is "public" (the stub says so) and played by the loopback server; it redirects to a
    # name resolving to a private address, which must be refused before any connection to it.
    server.publish(
        "/moved.rss",
        b"",
        status=302,
        headers={"Location": f"http://intranet.example:{server.port}/feed"},
        validators=False,
    )
    table = {"feeds.example": "93.184.216.34", "intranet.example": "10.0.0.8"}
    looked_up: list[str] = []

    def resolver(host: str, port: int, *args: object, **kwargs: object) -> list:
        looked_up.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (table[host], port))]

    connected: list[str] = []
    real = socket.create_connection

    def route(address: tuple[str, int], *args: object, **kwargs: object) -> socket.socket:
        connected.append(address[0])
        assert address[0] == "93.184.216.34", f"connected to {address[0]}"
        return real(("127.0.0.1", server.port), *args, **kwargs)

    monkeypatch.setattr(index.articles.fetch.socket, "create_connection", route)
    engine = feed_engine(fetch_allow_private=False)
    engine.feeds.fetcher = functools.partial(
        index.articles.fetch.fetch, resolver=resolver, allowed_ports=frozenset({server.port})
    )
    with pytest.raises(FetchError, match=r"Refused to fetch intranet\.example: it points to a private address"):
        engine.feeds.add("c", f"http://feeds.example:{server.port}/moved.rss")
    assert looked_up == ["feeds.example", "intranet.example"] and connected == ["93.184.216.34"]
    assert engine.feeds.list("c") == []


# -- several processes on one database --------------------------------------------------------------
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_two_processes_on_one_database_poll_a_feed_once(
    feed_engine: Callable[..., Engine],
    server: FeedServer,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    backend: str,
):
    url = ""
    cleanup = None
    if backend == "postgresql":
        cleanup = fresh_database(request.getfixturevalue("postgres_server"))
        url = cleanup.__enter__()
    try:
        shared = tmp_path / "shared"
        first = feed_engine(data_dir=shared, database_url=url)
        second = feed_engine(data_dir=shared if not url else tmp_path / "other", database_url=url)
        first.feeds.add("c", server.publish("/news.rss", rss("News", entries(range(6)))))
        start = threading.Barrier(2)
        reports: list[list] = [[], []]

        def poll(engine: Engine, slot: int) -> None:
            start.wait()
            reports[slot] = engine.feeds.poll_due()

        threads = [threading.Thread(target=poll, args=(e, i)) for i, e in enumerate((first, second))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert sorted(len(r) for r in reports) == [0, 1], reports
        assert server.count("/news.rss") == 2, "one fetch to follow (add), one poll"
        assert len(second.list_articles("c")) == 6 and len(first.list_articles("c")) == 6
    finally:
        if cleanup is not None:
            cleanup.__exit__(None, None, None)


# -- the CLI ----------------------------------------------------------------------------------------
def test_the_cli_follows_lists_polls_and_removes_feeds(server: FeedServer, tmp_path: Path):
    env = {"BYLINE_FETCH_ALLOW_PRIVATE": "1", "BYLINE_FETCH_ALLOWED_PORTS": str(server.port)}
    url = server.publish("/news.rss", rss("Example News", entries(range(3))))
    data = tmp_path / "cli"

    added = run_cli("feed", "add", url, "--json", data_dir=data, env=env)
    assert added.returncode == 0, added.stderr.decode()
    payload = json.loads(added.stdout)
    assert payload == {"id": payload["id"], "url": url, "title": "Example News", "status": "added"}

    polled = run_cli("feed", "poll", "--json", data_dir=data, env=env)
    assert polled.returncode == 0, polled.stderr
    (report,) = json.loads(polled.stdout)["feeds"]
    assert {k: report[k] for k in ("id", "url", "added", "updated", "unchanged", "skipped", "error")} == {
        "id": payload["id"],
        "url": url,
        "added": 3,
        "updated": 0,
        "unchanged": 0,
        "skipped": 0,
        "error": None,
    }
    again = run_cli("feed", "poll", "--json", data_dir=data, env=env)
    assert json.loads(again.stdout) == {"feeds": []}, "not due again"

    listed = run_cli("feed", "list", data_dir=data, env=env).stdout.decode()
    assert f"#{payload['id']}" in listed and "Example News" in listed and "active" in listed
    articles = run_cli("list", "--json", data_dir=data, env=env)
    assert len(json.loads(articles.stdout)) == 3

    wrong = run_cli("feed", "remove", "999", data_dir=data, env=env)
    assert wrong.returncode == 1 and "follows no feed 999" in wrong.stderr.decode()
    removed = run_cli("feed", "remove", str(payload["id"]), "--json", data_dir=data, env=env)
    assert removed.returncode == 0 and json.loads(removed.stdout)["status"] == "removed"
    assert json.loads(run_cli("feed", "list", "--json", data_dir=data, env=env).stdout) == []
    assert len(json.loads(run_cli("list", "--json", data_dir=data, env=env).stdout)) == 3, "its articles stay"

    not_feed = run_cli("feed", "add", server.url("/missing"), data_dir=data, env=env)
    assert not_feed.returncode == 1 and "HTTP 404" in not_feed.stderr.decode() and not_feed.stdout == b""


def test_two_cli_processes_polling_one_postgresql_database_fetch_the_feed_once(
    server: FeedServer, tmp_path: Path, postgres_url: str
):
    import subprocess
    import sys

    from conftest import cli_env

    env = {
        "BYLINE_FETCH_ALLOW_PRIVATE": "1",
        "BYLINE_FETCH_ALLOWED_PORTS": str(server.port),
        "BYLINE_DATABASE_URL": postgres_url,
    }
    url = server.publish("/news.rss", rss("News", entries(range(4))))
    assert run_cli("feed", "add", url, data_dir=tmp_path / "first", env=env).returncode == 0
    pollers = [
        subprocess.Popen(
            [sys.executable, "-m", "bot", "feed", "poll", "--json"],
            cwd=tmp_path,
            env=cli_env(tmp_path / name, env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for name in ("first", "second")
    ]
    outputs = [p.communicate(timeout=300) for p in pollers]
    assert [p.returncode for p in pollers] == [0, 0], [err.decode() for _, err in outputs]
    polled = sorted(len(json.loads(out)["feeds"]) for out, _ in outputs)
    assert polled == [0, 1], "each feed is polled by exactly one process"
    assert server.count("/news.rss") == 2, "one fetch to follow it, one poll"
    listed = run_cli("list", "--json", data_dir=tmp_path / "second", env=env)
    assert len(json.loads(listed.stdout)) == 4


def test_one_fetch_and_one_embedding_serve_every_server_following_a_feed(
    feed_engine: Callable[..., Engine], server: FeedServer
):
    engine = feed_engine()
    url = server.publish("/news.rss", rss("News", entries(range(3))))
    for guild in ("a", "b", "c"):
        engine.feeds.add(f"guild-{guild}", url, channel="1", announce=True)
    encoded: list[int] = []
    real = engine.embedder.encode
    engine.embedder.encode = lambda texts, *a, **k: encoded.append(len(texts)) or real(texts, *a, **k)
    fetches = server.count("/news.rss")

    report = only(engine.feeds.poll_due())
    assert report.added == 9 and server.count("/news.rss") == fetches + 1, "one fetch for three servers"
    assert sum(encoded) == sum(encoded[:1]) and len([n for n in encoded if n]) == 1, "embedded once, not thrice"
    engine.embedder.encode = real
    answers = [engine.ask(f"guild-{g}", "how much will the brackley footbridge cost") for g in "abc"]
    assert len({tuple(q.text for q in a.quotes) for a in answers}) == 1 and answers[0].quotes
    assert "£157,000" in " ".join(q.text for q in answers[0].quotes)


def test_a_poll_round_rebuilds_a_collections_keyword_index_once_and_keywords_find_the_new_articles(
    feed_engine: Callable[..., Engine], server: FeedServer
):
    engine = feed_engine()
    for n in range(3):
        engine.feeds.add("c", server.publish(f"/{n}.rss", rss(f"Feed {n}", entries(range(n * 2, n * 2 + 2)))))
    rebuilt: list[str] = []
    real = engine.feeds.rebuild_lexical
    engine.feeds.rebuild_lexical = lambda collection: rebuilt.append(collection) or real(collection)
    assert sum(r.added for r in engine.feeds.poll_due()) == 6
    assert rebuilt == ["c"], "one rebuild for the round, not one per feed"
    lexical = engine.search_index("c").lexical
    assert len(lexical) == sum(a.chunks for a in engine.list_articles("c")), "every new chunk is in BM25"


def test_an_entity_bomb_in_a_feed_is_not_expanded(feed_engine: Callable[..., Engine], server: FeedServer):
    # "billion laughs": ten levels of entities, each ten of the one before (10^9 characters if expanded)
    entities = '<!ENTITY a0 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx">' + "".join(
        f'<!ENTITY a{i} "{f"&a{i - 1};" * 10}">' for i in range(1, 10)
    )
    bomb = (
        f'<?xml version="1.0"?><!DOCTYPE rss [{entities}]><rss version="2.0"><channel><title>&a9;</title>'
        "<item><title>&a9;</title><link>https://news.example/x</link><description>&a9;</description></item>"
        "</channel></rss>"
    )
    url = server.publish("/bomb.rss", bomb)
    engine = feed_engine()
    try:
        preview = engine.feeds.preview(url)
    except InvalidInput:
        return  # refused outright is fine too
    assert len(preview.title) < 1000 and all(len(item.body_html) < 1000 for item in preview.items)


def test_a_bug_polling_one_feed_leaves_the_others_polled_and_it_is_tried_again_after_its_claim_lapses(
    feed_engine: Callable[..., Engine], server: FeedServer, clock: Clock
):
    engine = feed_engine()
    broken = server.publish("/a.rss", rss("A", entries(range(2))))
    fine = server.publish("/b.rss", rss("B", entries(range(2, 4))))
    engine.feeds.add("c", broken)
    engine.feeds.add("c", fine)
    real = engine.feeds.fetcher

    def fetcher(url: str, **options: object):
        if url == broken:
            raise RuntimeError("a bug")
        return real(url, **options)

    engine.feeds.fetcher = fetcher
    reports = {r.url: r for r in engine.feeds.poll_due()}
    assert reports[fine].added == 2 and reports[broken].error == "Polling this feed failed on our side."
    engine.feeds.fetcher = real
    clock.advance(minutes=5)
    assert engine.feeds.poll_due() == [], "still claimed"
    clock.advance(minutes=6)
    assert [(r.url, r.added) for r in engine.feeds.poll_due()] == [(broken, 2)]
