"""Coverage-guided fuzzing of the bundle reader with atheris (libFuzzer for Python).

    python tests/reliability/fuzz_bundle.py [libFuzzer flags] [CORPUS_DIR ...]
    python tests/reliability/fuzz_bundle.py -max_total_time=60 build/fuzz-corpus

Each input is the bytes of a zip archive, loaded in memory with the runtime's reader
(``bundles.load_and_score``). The property: loading either succeeds or raises
BundleError; a model that loads scores a harmless record (the server's warm-up record) with
nothing worse than a ScoringError. Any other exception, a hang (libFuzzer's -timeout) or memory
past -rss_limit_mb is a crash; libFuzzer then saves the input (see -artifact_prefix).

The mutator knows the format: most of the time it opens the archive, picks one entry and lets
libFuzzer mutate its bytes (or drops, duplicates or renames an entry), then zips the result again,
so that mutations reach the JSON, protobuf and tree parsers instead of breaking the archive's
checksums. Now and then it mutates the archive's raw bytes instead.

Seeds (when no corpus folder holds any): MLeap's fixture bundles and small hand-written JSON and
protobuf bundles (``seed_corpus``).
"""

from __future__ import annotations

import importlib
import io
import random
import sys
import warnings
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))  # the repository root: tests.support

import atheris  # noqa: E402

with atheris.instrument_imports(include=["leapserve.runtime"]):
    importlib.import_module("leapserve.runtime.ops")  # the runtime and every op module, imported now to be instrumented

from tests.support.bundles import load_and_score  # noqa: E402


def seed_corpus(folder: Path) -> Path:
    """Write the seed bundles into ``folder``."""
    from tests.support.bundles import FIXTURES, json_lr_entries, pb_lr_entries, write_zip

    folder.mkdir(parents=True, exist_ok=True)
    for path in sorted(FIXTURES.glob("*.zip")):
        (folder / path.name).write_bytes(path.read_bytes())
    write_zip(folder / "lr-json.zip", json_lr_entries([1.0, -2.0], 0.5), compression=zipfile.ZIP_STORED)
    write_zip(folder / "lr-pb.zip", pb_lr_entries([1.0, -2.0, 3.0], 0.5), compression=zipfile.ZIP_STORED)
    return folder


def TestOneInput(data: bytes) -> None:  # noqa: N802 - atheris' name
    load_and_score(data)


def _entries(data: bytes):
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return [(i.filename, z.read(i)) for i in z.infolist() if not i.is_dir()]


def _rezip(entries) -> bytes:
    warnings.simplefilter("ignore")  # duplicate names are one of the mutations
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        for name, content in entries:
            z.writestr(zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0)), content)
    return buf.getvalue()


def mutate(data: bytes, max_size: int, seed: int) -> bytes:
    rnd = random.Random(seed)
    if rnd.random() < 0.1:
        return atheris.Mutate(data, max_size)
    try:
        entries = _entries(data)
    except Exception:
        return atheris.Mutate(data, max_size)
    if not entries:
        return atheris.Mutate(data, max_size)
    i = rnd.randrange(len(entries))
    name, content = entries[i]
    roll = rnd.random()
    if roll < 0.8:
        entries[i] = (name, atheris.Mutate(content, max(64, 2 * len(content))))
    elif roll < 0.87:
        del entries[i]
    elif roll < 0.94:
        other = rnd.choice(entries)[0]
        entries[i] = (other.rsplit("/", 1)[0] + "/" + name.rsplit("/", 1)[-1], content)
    else:
        entries.append((name, content))
    try:
        out = _rezip(entries)
    except Exception:
        return atheris.Mutate(data, max_size)
    return out if len(out) <= max_size else atheris.Mutate(data, max_size)


def main(argv: list[str]) -> None:
    corpora = [a for a in argv[1:] if not a.startswith("-")]
    if corpora and not any(Path(c).is_dir() and any(Path(c).iterdir()) for c in corpora):
        seed_corpus(Path(corpora[0]))
    atheris.Setup(argv, TestOneInput, custom_mutator=mutate)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
