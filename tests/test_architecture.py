"""The layout tells the architecture: the engine in index/ never depends on the Discord face."""

from __future__ import annotations

import ast
import subprocess
import sys

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
