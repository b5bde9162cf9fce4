"""The layout tells the architecture: the engine in index/ never depends on the Discord face, index/ is a
handful of capability packages that import downward only, no two modules import each other (even
lazily), and no module grows past the size a newcomer can read in one sitting."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO


def test_index_never_imports_discord():
    for path in (REPO / "index").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            for name in names:
                assert name.split(".")[0] not in {"discord", "bot"}, f"{path.name} imports {name}"


def test_importing_the_engine_loads_no_discord_and_no_model():
    code = "import sys, index.engine; print('discord' in sys.modules, 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_env_example_documents_every_setting_with_its_real_default():
    import re

    from bot.config import DiscordSettings
    from index.settings import EngineSettings

    example = (REPO / ".env.example").read_text(encoding="utf-8")
    read = re.findall(r"\b(?:BYLINE|DISCORD)_[A-Z_]+", (REPO / "index" / "settings.py").read_text())
    read += re.findall(r"\"((?:BYLINE|DISCORD)_[A-Z_]+)\"", (REPO / "bot" / "config.py").read_text())
    documented = dict(re.findall(r"^(?:# )?((?:BYLINE|DISCORD)_[A-Z_]+)=(.*)$", example, re.MULTILINE))
    assert set(read) <= set(documented), set(read) - set(documented)
    defaults = EngineSettings()
    for name, value in documented.items():
        if value:
            assert DiscordSettings.from_env({name: value}) == DiscordSettings(), name
        if name.startswith("BYLINE_") and value and name != "BYLINE_DATA_DIR":
            # the value shown is the default: setting it explicitly changes nothing
            assert EngineSettings.from_env({name: value}) == defaults, name


# index/'s packages from the bottom up: a module may import its own package, the shared modules at the top
# (errors, models, settings) and the packages of lower layers; packages of one layer never import each other.
LAYERS = (
    ("inference",),
    ("storage",),
    ("search",),
    ("articles",),
    ("asking",),
    ("summaries", "feeds", "upkeep"),
    ("engine",),
)
SHARED = {"errors", "models", "settings"}
MAX_LINES = 450


def _modules(package: str) -> dict[str, Path]:
    """Dotted module name -> file, for every module of a top-level package (index, bot)."""
    found = {}
    for path in sorted((REPO / package).rglob("*.py")):
        parts = list(path.relative_to(REPO).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The modules of `known` that `name` imports anywhere: at the top, inside functions, under TYPE_CHECKING."""
    out = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else [])
                )
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                out.add(target)
    return out


def _graph() -> dict[str, set[str]]:
    known = {**_modules("index"), **_modules("bot")}
    return {name: _imports(name, path, known) for name, path in known.items()}


def test_index_is_a_few_capability_packages_each_saying_what_it_is_for():
    entries = {p.name for p in (REPO / "index").iterdir() if p.name not in {"__init__.py", "weights", "__pycache__"}}
    assert len(entries) <= 12, sorted(entries)
    packages = {p.name for p in (REPO / "index").iterdir() if (p / "__init__.py").exists()}
    assert packages == {name for layer in LAYERS for name in layer if name != "engine"}
    for name in sorted(packages):
        doc = ast.get_docstring(ast.parse((REPO / "index" / name / "__init__.py").read_text(encoding="utf-8")))
        assert doc and "import" in doc.lower(), (
            f"index/{name}/__init__.py must say what the package is for and may import"
        )


def test_packages_import_downward_only():
    rank = {name: level for level, layer in enumerate(LAYERS) for name in layer}
    problems = []
    for module, imported in _graph().items():
        parts = module.split(".")
        if parts[0] != "index" or len(parts) < 2:
            continue
        for target in imported:
            theirs = target.split(".")
            if theirs[0] != "index" or len(theirs) < 2 or theirs[1] in SHARED or theirs[1] == parts[1]:
                continue
            if parts[1] in SHARED:
                problems.append(f"{module} (shared) imports {target}")
            elif rank[theirs[1]] >= rank[parts[1]]:
                problems.append(f"{module} imports {target}: {theirs[1]} is not below {parts[1]}")
    assert not problems, "\n".join(problems)


def test_no_two_modules_import_each_other_even_lazily():
    graph = _graph()
    cycles = []
    visiting: list[str] = []
    done: set[str] = set()

    def visit(module: str) -> None:
        if module in visiting:
            cycles.append(" -> ".join([*visiting[visiting.index(module) :], module]))
            return
        if module in done:
            return
        visiting.append(module)
        for target in sorted(graph[module]):
            # a package's __init__ naming its own modules (lazy re-exports kept for old import paths) is no cycle
            if not target.startswith(module + "."):
                visit(target)
        visiting.pop()
        done.add(module)

    for module in sorted(graph):
        visit(module)
    assert not cycles, "\n".join(cycles)


def test_no_module_over_450_lines():
    long = {
        str(path.relative_to(REPO)): n
        for package in ("index", "bot")
        for path in _modules(package).values()
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not long, long


def test_old_import_paths_keep_working_for_one_release():
    code = (
        "import warnings; warnings.simplefilter('error', DeprecationWarning)\n"
        "try:\n    import index.answering\nexcept DeprecationWarning as w:\n    print('warned:', w)\n"
        "warnings.simplefilter('ignore')\n"
        "import index.answering, index.asking.answering, index.inputs, index.errors\n"
        "from index.answer import Scoring\nfrom index.asking.scoring import Scoring as New\n"
        "from index.feeds import Feeds\nfrom index.feeds.following import Feeds as NewFeeds\n"
        "from index.summaries import Summaries\n"
        "print(index.answering is index.asking.answering, index.inputs is index.errors, Scoring is New,"
        " Feeds is NewFeeds, Summaries.__module__)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    warned, same = out.stdout.splitlines()
    assert warned == "warned: index.answering moved to index.asking.answering; the old path goes in the next release"
    assert same == "True True True True index.summaries.summarising"


def test_our_own_code_uses_no_old_import_path():
    code = (
        "import importlib, pkgutil, warnings, index, bot\n"
        "warnings.filterwarnings('error', message='.* moved to index', category=DeprecationWarning)\n"
        "for package in (index, bot):\n"
        "    for found in pkgutil.walk_packages(package.__path__, package.__name__ + '.'):\n"
        "        if not found.name.endswith('__main__'):\n"
        "            importlib.import_module(found.name)\n"
        "print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert out.stdout.strip() == "ok", out.stderr[-2000:]
