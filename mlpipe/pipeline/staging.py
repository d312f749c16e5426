"""The data a local run ingests when the config declares missing-value tokens.

CsvExampleGen cannot be told that `NA` means "no value": it would read a numeric column holding
`NA` as text, and the gate would stop the run. With `data.missing_values` declared, the run reads a
copy of each CSV file with those cells blanked (`mlpipe.core.csv_blanks`), staged in the run
home's `staged/` folder under a digest of the files' contents and the tokens: an unchanged re-run
finds the same copy (same path, same file times), so TFX's cache still holds; changed data or
tokens make a new copy. The original files are what the preflight check reads and what the run's
provenance records. Without declared tokens the config is used as it is and nothing is copied.

A glob or a span pattern is staged as the files it matches (for a span pattern, those of the
span the run ingests), each at its path under the pattern's folder, and the pattern is re-rooted
on the copy: the ExampleGen then finds the same span (TFX reads the span from the file path)
in the staged copy.
"""

import hashlib
import json
import os
import pathlib
import shutil
from typing import Dict, List, Optional, Sequence

from mlpipe.config import ProblemConfig
from mlpipe.core import data_files
from mlpipe.core.csv_blanks import blank_tokens
from mlpipe.core.run_home import RunHome
from mlpipe.pipeline.span_files import SpanChoice, input_base_and_pattern


def staged_config(config: ProblemConfig, home: RunHome,
                  known_digests: Optional[Dict[str, str]] = None,
                  span: Optional[SpanChoice] = None) -> ProblemConfig:
    """`config` with data.path (and data.score_path) pointing at staged copies whose declared
    tokens are blank; `config` itself when it declares none. `known_digests`: file -> sha256
    already computed (the preflight check hashes the data as it reads it). `span`: with data by
    span, the span the run ingests (only its files are staged)."""
    tokens = config.data.missing_values
    if not tokens or config.data.format != "csv":  # refused by the config for other formats
        return config
    update = {"path": _stage(config.data.path, tokens, home.staged_dir, known_digests,
                             span.files if span else None)}
    if config.data.score_path:
        update["score_path"] = _stage(config.data.score_path, tokens, home.staged_dir,
                                      known_digests)
    return config.model_copy(update={"data": config.data.model_copy(update=update)})


def _stage(data_path: str, tokens: List[str], staged_dir: pathlib.Path,
           known_digests: Optional[Dict[str, str]], files: Optional[Sequence[str]] = None
           ) -> str:
    """A file or folder -> its staged copy; a glob or span pattern (whose `files` are those
    of the chosen span) -> the pattern on a staged copy of its files."""
    if files is None and not data_files.is_glob(data_path):
        return stage_csv(data_path, tokens, staged_dir, known_digests)
    files = list(files) if files is not None else data_files.data_files(data_path)
    return stage_pattern(data_path, files, tokens, staged_dir, known_digests)


def stage_pattern(pattern: str, files: Sequence[str], tokens: List[str],
                  staged_dir: pathlib.Path, known_digests: Optional[Dict[str, str]] = None
                  ) -> str:
    """The files of a glob or span pattern, blanked under `staged_dir` at their paths below the
    pattern's folder (TFX's input_base); the pattern on that copy ('data/span-{SPAN}/*.csv' ->
    'staged/data-<digest>/span-{SPAN}/*.csv')."""
    base, below = input_base_and_pattern(pattern)
    relative = {path: os.path.relpath(path, base) for path in files}
    copy = _copy(relative, tokens, staged_dir, known_digests or {})
    # A pattern naming folders ('span-{SPAN}/') keeps its form: the files in the folders.
    return str(copy / below[:-1]) + "/" if pattern.endswith("/") else str(copy / below)


def _copy(relative: Dict[str, str], tokens: List[str], staged_dir: pathlib.Path,
          known_digests: Dict[str, str]) -> pathlib.Path:
    """Each file blanked at its relative path under a folder named by the digest of the files'
    relative paths and contents and the tokens (found again, unchanged, by an unchanged run)."""
    digest = hashlib.sha256(json.dumps({
        "tokens": sorted(tokens),
        "files": sorted([name, known_digests.get(path) or _sha256(path)]
                        for path, name in relative.items()),
    }).encode()).hexdigest()[:16]
    copy = staged_dir / f"data-{digest}"
    if not copy.is_dir():
        partial = staged_dir / f"data-{digest}.partial-{os.getpid()}"
        shutil.rmtree(partial, ignore_errors=True)
        for path, name in relative.items():
            (partial / name).parent.mkdir(parents=True, exist_ok=True)
            blank_tokens(path, partial / name, tokens)
        try:
            partial.rename(copy)
        except OSError:  # another run staged the same copy meanwhile
            shutil.rmtree(partial, ignore_errors=True)
    return copy


def stage_csv(data_path: str, tokens: List[str], staged_dir: pathlib.Path,
              known_digests: Optional[Dict[str, str]] = None) -> str:
    """A CSV file or folder -> the path of its blanked copy under `staged_dir` (a file stays a
    file, a folder a folder of files with the same names)."""
    folder = os.path.isdir(data_path)
    files = (sorted(str(path) for path in pathlib.Path(data_path).iterdir() if path.is_file())
             if folder else [data_path])
    known_digests = known_digests or {}
    digest = hashlib.sha256(json.dumps({
        "tokens": sorted(tokens),
        "files": [[os.path.basename(path), known_digests.get(path) or _sha256(path)]
                  for path in files],
    }).encode()).hexdigest()[:16]
    copy = staged_dir / f"data-{digest}"
    if not copy.is_dir():
        partial = staged_dir / f"data-{digest}.partial-{os.getpid()}"
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        for path in files:
            blank_tokens(path, partial / os.path.basename(path), tokens)
        try:
            partial.rename(copy)
        except OSError:  # another run staged the same copy meanwhile
            shutil.rmtree(partial, ignore_errors=True)
    return str(copy) if folder else str(copy / os.path.basename(data_path))


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as source:
        for chunk in iter(lambda: source.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
