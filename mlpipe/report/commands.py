"""`mlpipe report`: the evaluation of a run in the terminal, as one HTML file, or as JSON."""

import pathlib
import sys

from mlpipe.process import import_tensorflow_quietly

EXIT_BAD_INPUT = 2


def register(command) -> None:
    report = command("report", run_report,
                     "show a run's evaluation: blessing, thresholds, metrics, slices, data")
    report.add_argument("run", nargs="?", help="run id (or a unique prefix) or pushed model "
                                               "version; default: the latest run")
    report.add_argument("--html", nargs="?", const="", metavar="FILE",
                        help="also write one self-contained HTML file "
                             "(default path: <run home>/reports/<run>.html)")
    report.add_argument("--json", metavar="FILE", help="also write the numbers as JSON "
                                                       "('-' for standard output)")
    report.add_argument("--compare", nargs=2, metavar=("A", "B"),
                        help="two runs or model versions side by side")


def run_report(config, args) -> int:
    import_tensorflow_quietly()
    from mlpipe.pipeline.run_home import RunHome
    from mlpipe.report import html, terminal
    from mlpipe.report.loader import ReportError, load_report

    home = RunHome.for_pipeline(config.name, args.home)

    def load(selector):
        return load_report(home, selector, config.evaluation.main_metric,
                           config.evaluation.min_slice_size)
    try:
        if args.compare:
            first, second = (load(selector) for selector in args.compare)
            print(terminal.render_comparison(first, second))
            _write_json(args.json, terminal.render_json(first, second))
            return 0
        report = load(args.run)
    except ReportError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(terminal.render_text(report))
    if args.html is not None:
        path = (pathlib.Path(args.html) if args.html
                else home.root / "reports" / f"{report.run_id.replace(':', '-')}.html")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(html.render_html(report))
        print(f"\nHTML report: {path}")
    _write_json(args.json, terminal.render_json(report))
    return 0


def _write_json(target, text: str) -> None:
    if target == "-":
        print(text)
    elif target:
        pathlib.Path(target).write_text(text)
        print(f"JSON report: {target}")
