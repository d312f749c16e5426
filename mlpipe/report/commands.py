"""`mlpipe report`: the evaluation of a run in the terminal, as one HTML file, or as JSON."""

import pathlib

from mlpipe.errors import EXIT_OK


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


def run_report(invocation) -> int:
    config, home, args = invocation.config, invocation.home, invocation.args
    from mlpipe.report import html, terminal
    from mlpipe.report.loader import load_report

    def load(selector):
        return load_report(home, selector, config.evaluation.main_metric,
                           config.evaluation.min_slice_size, classes=config.label.classes)
    if args.compare:
        first, second = (load(selector) for selector in args.compare)
        print(terminal.render_comparison(first, second))
        _write_json(args.json, terminal.render_json(first, second))
        return EXIT_OK
    report = load(args.run)
    print(terminal.render_text(report))
    if args.html is not None:
        path = (pathlib.Path(args.html) if args.html
                else home.reports_dir / f"{report.run_id.replace(':', '-')}.html")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(html.render_html(report))
        print(f"\nHTML report: {path}")
    _write_json(args.json, terminal.render_json(report))
    return EXIT_OK


def _write_json(target, text: str) -> None:
    if target == "-":
        print(text)
    elif target:
        pathlib.Path(target).write_text(text)
        print(f"JSON report: {target}")
