"""The `churnseg` command: parse options, configure logging, call a pipeline, map errors to exits.

Exit codes: 0 success, 1 unexpected failure, 2 bad input/config (a one-line message says why).
"""

from __future__ import annotations

import logging
import time
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.logging import RichHandler

from churnseg.config import ConfigError, DataConfig, SimulateConfig, load_config
from churnseg.data.io import DataContractError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Churn risk, reasons, value and prioritized interventions.")
console = Console(stderr=True)
log = logging.getLogger("churnseg")

CONFIGS = Path("configs")
DataOpt = Annotated[Path | None, typer.Option("--data", help="folder of Parquet/CSV tables "
                                                "(overrides configs/data.yaml root)")]
DataConfigOpt = Annotated[Path | None, typer.Option("--data-config", help="data.yaml")]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="debug logging")]

USER_ERRORS = (ConfigError, DataContractError, FileNotFoundError)


@app.callback()
def _main(verbose: VerboseOpt = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO, format="%(message)s",
        handlers=[RichHandler(console=console, show_path=False, rich_tracebacks=False)],
        force=True,
    )
    for noisy in ("alembic", "urllib3", "mlflow", "numba", "matplotlib", "shap", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def fail(message: str, code: int = 2) -> None:
    """Print a one-line error and exit non-zero."""
    console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def guarded(fn: Any) -> Any:
    """Run a command body; expected input problems become one-line errors with exit code 2."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except USER_ERRORS as exc:
            fail(str(exc))
    return wrapper


def data_config(data: Path | None, config: Path | None) -> DataConfig:
    """configs/data.yaml (or `config`), with `--data` overriding the root folder."""
    path = config or (CONFIGS / "data.yaml" if (CONFIGS / "data.yaml").exists() else None)
    overrides = {"root": str(data)} if data is not None else {}
    return load_config(path, DataConfig, overrides)


def _config_file(given: Path | None, name: str) -> Path | None:
    if given is not None:
        return given
    default = CONFIGS / name
    return default if default.exists() else None


@app.command()
@guarded
def simulate(
    accounts: Annotated[int | None, typer.Option(help="number of accounts")] = None,
    months: Annotated[int | None, typer.Option(help="simulated months")] = None,
    seed: Annotated[int | None, typer.Option(help="random seed")] = None,
    out: Annotated[Path, typer.Option(help="output folder")] = Path("data/simulated"),
    config: Annotated[Path | None, typer.Option("--config", help="simulate.yaml")] = None,
    no_crisis: Annotated[bool, typer.Option("--no-crisis", help="turn the outage off")] = False,
    no_interventions: Annotated[bool, typer.Option("--no-interventions")] = False,
) -> None:
    """Simulate a SaaS ecommerce platform (tables + ground truth) into OUT."""
    from rich.progress import Progress

    from pipelines import simulate as job

    overrides: dict[str, Any] = {k: v for k, v in
                                 {"accounts": accounts, "months": months, "seed": seed}.items()
                                 if v is not None}
    if no_crisis:
        overrides["crisis.enabled"] = False
    if no_interventions:
        overrides["interventions.enabled"] = False
    cfg = load_config(_config_file(config, "simulate.yaml"), SimulateConfig, overrides)
    started = time.perf_counter()
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("simulating", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        summary = job.run(cfg, out, progress=advance)
    log.info("simulated %d accounts x %d months into %s in %.1fs", cfg.accounts, cfg.months,
             out, time.perf_counter() - started)
    log.debug("%s", summary)


@app.command()
@guarded
def validate(
    data: DataOpt = None,
    config: Annotated[Path | None, typer.Option("--config", help="data.yaml")] = None,
    churn_definition: Annotated[str, typer.Option(help="contractual | inactivity")] = "contractual",
) -> None:
    """Check a dataset against the contract; write rejected rows to the quarantine file."""
    from churnseg.data.contract import required_tables
    from pipelines.validate import open_validated

    cfg = data_config(data, config)
    _, report = open_validated(cfg, required_tables(churn_definition))
    n = len(report.quarantine)
    log.info("validation done: %d tables, %d rows quarantined", len(report.rows_in), n)


@app.command()
@guarded
def run(
    out: Annotated[Path, typer.Option(help="working folder for data and outputs")] = Path("."),
    accounts: Annotated[int, typer.Option(help="simulated accounts")] = 5000,
    seed: Annotated[int, typer.Option()] = 7,
) -> None:
    """The main job on embedded defaults: simulate a platform, then validate it."""
    from pipelines import simulate as sim_job
    from pipelines.validate import open_validated

    data_dir = out / "data" / "simulated"
    cfg = load_config(_config_file(None, "simulate.yaml"), SimulateConfig,
                      {"accounts": accounts, "seed": seed})
    started = time.perf_counter()
    sim_job.run(cfg, data_dir)
    log.info("simulated %d accounts into %s (%.1fs)", cfg.accounts, data_dir,
             time.perf_counter() - started)
    data_cfg = load_config(None, DataConfig, {"root": str(data_dir),
                                              "quarantine_dir": str(out / "outputs/quarantine")})
    open_validated(data_cfg)
    log.info("main job done in %.1fs", time.perf_counter() - started)


def today() -> date:
    return date.today()


if __name__ == "__main__":
    app()
