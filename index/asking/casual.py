"""Chat language in questions: "wat rocket took jwst up lol", "who's the boss rn?", "why'd they shut it cos
of the wind or smth?" → the question a reader would write.

Members type the way they chat. Two things in such a question hurt an answer without carrying any of its
meaning: chat spellings ("wat", "u", "rn", "cos") and filler ("lol", "tbh", "even", "does anyone know").
Both reach retrieval and, worse, the sentence scoring: a word no article holds is a question term that no
sentence covers, at the highest weight (a word in no article has the top idf), so the best sentence looks
like a poor match and the bot says the articles don't say. `plain_question` spells the chat words out and
drops the filler before the question is embedded and scored; the question is kept as asked everywhere it
is shown or logged.

The lists are general chat English, written from usage rather than fitted on any question set; they hold
only words that are never the subject of a news question ("lol", "ngl") or whose chat reading is the only
likely one in a question ("u", "ppl", "rn"). A question made only of such words is left as it was."""

from __future__ import annotations

import re
from collections.abc import Callable

# chat spelling -> the words it stands for (whole words, matched case-insensitively)
SPELLED_OUT = {
    "u": "you",
    "ya": "you",
    "ur": "your",
    "y": "why",
    "r": "are",
    "n": "and",
    "wat": "what",
    "wut": "what",
    "wht": "what",
    "whta": "what",
    "wen": "when",
    "wher": "where",
    "hw": "how",
    "whos": "who is",
    "whats": "what is",
    "wheres": "where is",
    "whens": "when is",
    "hows": "how is",
    "whys": "why is",
    "ppl": "people",
    "peeps": "people",
    "govt": "government",
    "gov": "government",
    "rn": "now",
    "atm": "now",
    "cos": "because",
    "coz": "because",
    "cuz": "because",
    "cus": "because",
    "bc": "because",
    "b/c": "because",
    "abt": "about",
    "bout": "about",
    "w/": "with",
    "w/o": "without",
    "thru": "through",
    "yr": "year",
    "yrs": "years",
    "mil": "million",
    "bil": "billion",
    "gonna": "going to",
    "wanna": "want to",
    "gotta": "got to",
    "tryna": "trying to",
    "dunno": "",
    "tmrw": "tomorrow",
    "tmr": "tomorrow",
    "tmw": "tomorrow",
    "yday": "yesterday",
    "b4": "before",
    "2day": "today",
    "2moro": "tomorrow",
    "tonite": "tonight",
    "prez": "president",
    "smth": "something",
    "sth": "something",
    "smthn": "something",
    "bday": "birthday",
    "info": "information",
    "deets": "details",
    "tix": "tickets",
    "fest": "festival",
    "uni": "university",
    "ref": "referee",
    "convo": "conversation",
    "econ": "economy",
    "pres": "president",
    "comp": "competition",
    "pic": "picture",
    "pics": "pictures",
    "vid": "video",
    "vids": "videos",
    "diff": "difference",
    "approx": "approximately",
    "shud": "should",
    "cud": "could",
    "wud": "would",
    "coulda": "could have",
    "shoulda": "should have",
    "woulda": "would have",
    "kinda": "kind of",
    "sorta": "sort of",
    "lotta": "lot of",
    "outta": "out of",
    "teh": "the",
    "dat": "that",
    "dey": "they",
    "thx": "",
    "ty": "",
}

# filler: chat markers, hedges and asides that never carry a question's meaning
FILLER_WORDS = frozenset(
    """lol lel lmao lmfao rofl haha hahaha hehe xd omg omfg ngl tbh tbf imo imho idk iirc afaik afair btw
    fyi smh fr frfr srsly rly pls plz plss please thanks thank hey heya hi hiya hello yo sup oi guys gals
    folks yall y'all mate bro bruh dude fam um umm uh uhh er erm hmm hmmm huh eh ah oh ok okay kk
    actually basically literally honestly seriously exactly even just anyway anyways tho ffs wtf""".split()
)
# filler phrases, matched before single words (longest first)
FILLER_PHRASES = (
    "does anyone know",
    "do any of you know",
    "does anybody know",
    "anyone know",
    "anybody know",
    "do we know",
    "do you know",
    "do u know",
    "any idea",
    "any ideas",
    "quick question",
    "random question",
    "can someone tell me",
    "can somebody tell me",
    "can anyone tell me",
    "could someone tell me",
    "can you tell me",
    "can u tell me",
    "could you tell me",
    "tell me",
    "remind me",
    "i wonder",
    "i reckon",
    "reckon",
    "i heard",
    "i guess",
    "i mean",
    "i think",
    "i forgot",
    "i forget",
    "or something",
    "or smth",
    "or whatever",
    "and stuff",
    "you know",
    "u know",
    "or what",
    "or nah",
    "or no",
    "and like",
    "again",
)
_PHRASES = re.compile(
    r"(?<![\w'’])(?:" + "|".join(re.escape(p) for p in sorted(FILLER_PHRASES, key=len, reverse=True)) + r")(?![\w'’])",
    re.IGNORECASE,
)
# a word with its apostrophes, hyphens and slashes ("who's", "u-turn", "w/"), or a dotted abbreviation
# ("u.s.", "U.K."), which is one word here so that its letters are never read as chat spellings
_TOKEN = re.compile(r"\w[\w'’/-]*(?:\.\w+)+\.?|\w[\w'’/-]*")
_STRETCHED = re.compile(r"([a-z])\1{2,}")  # "sooo", "whyyy": three or more of a letter
_SPACES = re.compile(r"\s+")
_DANGLING = re.compile(r"^[\s,;:.!-]+|[\s,;:-]+(?=[?.!]?$)")


def plain_question(text: str) -> str:
    """The question without chat spellings and filler; `text` itself when nothing is left of it."""
    cleaned = _PHRASES.sub(" ", text)
    cleaned = _TOKEN.sub(_plain_word, cleaned)
    cleaned = _SPACES.sub(" ", cleaned)
    cleaned = re.sub(r"\s+([?.!,;:])", r"\1", cleaned)
    cleaned = _DANGLING.sub("", cleaned).strip()
    if not _TOKEN.search(cleaned):
        return text
    return cleaned


def _plain_word(match: re.Match[str]) -> str:
    word = match.group()
    if len(word) == 1 and not _stands_alone(match):
        return word  # "r&d", "p&o", "a/b": a letter inside something else
    if len(word) > 1 and word.isupper():
        return word  # an acronym: "IMO", "ATM", "BC", "OK" are organisations, machines and eras here
    lower = word.lower().replace("’", "'")
    if lower in FILLER_WORDS:
        return ""
    if word in SPELLED_OUT:  # lower case only: "U" and "Y" are letters, "Gov" a name
        return SPELLED_OUT[word]
    if not word.islower():
        return word
    squeezed = _STRETCHED.sub(r"\1\1", lower)  # "whyyy" -> "whyy" -> looked up as "why" below
    if squeezed != lower:
        single = _STRETCHED.sub(r"\1", lower)
        for candidate in (squeezed, single):
            if candidate in FILLER_WORDS:
                return ""
            if candidate in SPELLED_OUT:
                return SPELLED_OUT[candidate]
        return single if len(single) > 2 else word
    return word


def _stands_alone(match: re.Match[str]) -> bool:
    """Whether a one-letter word has only spaces or sentence punctuation around it."""
    text = match.string
    before = text[match.start() - 1] if match.start() else " "
    after = text[match.end()] if match.end() < len(text) else " "
    return (before.isspace() or before in "([\"'") and (after.isspace() or after in "?!.,;:)]\"'")


# A word members use -> the words a news article uses for the same thing. A question term is covered by a
# sentence holding the term or any one of its equivalents (every word of a phrase). Everyday English, only
# words whose news sense is the likely one; some entries (moaning, chipping, pot, sacked) were written after
# reading misses of the members' tune half (bench/members_eval.py), never its report half.
EQUIVALENTS = {
    "boss": ("chief", "head", "chairman", "chairwoman", "director", "manager", "commissioner", "leader"),
    "bosses": ("chiefs", "executives", "directors", "managers", "board"),
    "ceo": ("chief executive",),
    "pm": ("prime minister",),
    "cops": ("police",),
    "cop": ("police", "officer"),
    "reffing": ("referee",),
    "reffed": ("referee",),
    "kids": ("children",),
    "mum": ("mother",),
    "dad": ("father",),
    "nan": ("grandmother",),
    "semis": ("semi-final", "semi-finals"),
    "quarters": ("quarter-final", "quarter-finals"),
    "footy": ("football",),
    "uni": ("university",),
    "jail": ("prison", "jailed", "imprisoned"),
    "sacked": ("fired", "dismissed", "ousted", "axed", "removed"),
    "fired": ("sacked", "dismissed", "ousted"),
    "quit": ("resign", "resigned", "stepped down", "leave"),
    "cash": ("money", "funding", "funds"),
    "pay": ("wages", "salary", "paid"),
    "buy": ("acquire", "purchase", "takeover", "bought"),
    "bought": ("acquired", "purchased", "takeover"),
    "killed": ("died", "dead", "death", "deaths"),
    "died": ("killed", "dead", "death", "deaths"),
    "hurt": ("injured", "injuries", "injury"),
    "injured": ("hurt", "injuries", "injury"),
    "shut": ("closed", "closure"),
    "plane": ("aircraft", "jet", "flight"),
    "planes": ("aircraft", "jets"),
    "jets": ("aircraft", "planes"),
    "won": ("beat", "victory", "win"),
    "beat": ("won", "defeated", "victory"),
    "lost": ("defeat", "beaten", "lose", "losses"),
    "firm": ("company",),
    "firms": ("companies",),
    "film": ("movie",),
    "movie": ("film",),
    "telly": ("television",),
    "tv": ("television",),
    "moaning": ("complained", "criticised", "critical", "criticism"),
    "whinging": ("complained", "criticised", "critical"),
    "pot": ("fund", "total"),
    "chipping": ("contribute", "contributing", "contribution"),
}


def equivalents(tokenize: Callable[[str], list[str]]) -> dict[str, tuple[frozenset[str], ...]]:
    """EQUIVALENTS as terms of `tokenize` (the retrieval tokens): stem -> the stem sets that stand for it."""
    table: dict[str, tuple[frozenset[str], ...]] = {}
    for word, alternatives in EQUIVALENTS.items():
        stems = tokenize(word)
        if len(stems) != 1:
            continue
        found = tuple(frozenset(s) for s in (tokenize(a) for a in alternatives) if s)
        table[stems[0]] = tuple(dict.fromkeys(table.get(stems[0], ()) + found))
    return table
