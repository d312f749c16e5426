"""`mlpipe card VERSION [--html FILE] [--json FILE]`: the model card of a pushed version.

Reads `<run home>/serving/<VERSION>/model_card.json`, which the pipeline's ModelCard step wrote
beside the pushed model, and prints it; `--html` writes the same self-contained page the step
wrote, rendered from that JSON, `--json` a copy of the JSON. No TensorFlow or TFX is imported.
"""

import json
import pathlib

from mlpipe.components.model_card import CARD_JSON, render
from mlpipe.errors import EXIT_OK, BadInputError


class CardError(BadInputError):
    """No such version, or a version without a readable card (exit 2)."""


def register(command) -> None:
    card = command("card", show_card, "show the model card of a pushed model version: "
                                      "details, intended use, limitations, data, metrics with "
                                      "confidence intervals, thresholds, fairness, attributions")
    card.add_argument("version", help="a pushed model version (its folder name under serving/)")
    card.add_argument("--html", metavar="FILE",
                      help="also write the card as one self-contained HTML file")
    card.add_argument("--json", metavar="FILE",
                      help="also write the card's JSON (model_card.json; '-' for standard output)")


def show_card(invocation) -> int:
    home, args = invocation.home, invocation.args
    card = load_card(home, args.version)
    print(render.render_text(card), end="")
    if args.html:
        path = pathlib.Path(args.html)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render.render_html(card), encoding="utf-8")
        print(f"\nHTML model card: {path}")
    if args.json == "-":
        print(json.dumps(card, indent=2))
    elif args.json:
        path = pathlib.Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(card, indent=2), encoding="utf-8")
        print(f"JSON model card: {path}")
    return EXIT_OK


def load_card(home, version: str) -> dict:
    """The card of a pushed version of this run home; CardError naming the versions there."""
    serving = home.serving_dir
    folder = serving / version
    if not version or pathlib.Path(version).name != version or not folder.is_dir():
        raise CardError(f"no pushed model version '{version}' in {serving} "
                        f"({_versions_text(home)})")
    card_file = folder / CARD_JSON
    if not card_file.is_file():
        raise CardError(f"version {version} in {serving} has no model card (no {CARD_JSON}: "
                        "pushed by a pipeline without the ModelCard step) "
                        f"({_versions_text(home)})")
    try:
        card = json.loads(card_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise CardError(f"{card_file}: cannot be read as a model card "
                        f"({type(error).__name__}: {error})") from error
    if not isinstance(card, dict) or "model_details" not in card:
        raise CardError(f"{card_file}: not a model card (no model_details)")
    return card


def _versions_text(home) -> str:
    versions = [path.name for path in home.pushed_versions()]
    if not versions:
        return "no version has been pushed there; run `mlpipe run`, or pass the --home used"
    with_card = [name for name in versions if (home.serving_dir / name / CARD_JSON).is_file()]
    without = [name for name in versions if name not in with_card]
    text = f"versions with a card: {', '.join(with_card) or 'none'}"
    return text + (f"; without one: {', '.join(without)}" if without else "")
