"""The `churnseg` command: parse options, configure logging, call a pipeline, map errors to exits.

Exit codes: 0 success, 1 unexpected failure, 2 bad input/config (a one-line message says why).
"""

from __future__ import annotations

import logging
import time
import warnings
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

USER_ERRORS: tuple[type[BaseException], ...] = (
    ConfigError, DataContractError, FileNotFoundError)


def _user_errors() -> tuple[type[BaseException], ...]:
    """Expected input problems, imported lazily so `--help` stays fast."""
    from churnseg.model.package import FeatureMismatchError
    from churnseg.model.train import TrainingDataError
    from churnseg.tracking import ModelNotFoundError
    from pipelines.score import ScoringError

    return USER_ERRORS + (TrainingDataError, FeatureMismatchError, ModelNotFoundError,
                          ScoringError)


@app.callback()
def _main(verbose: VerboseOpt = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO, format="%(message)s",
        handlers=[RichHandler(console=console, show_path=False, rich_tracebacks=False)],
        force=True,
    )
    for noisy in ("alembic", "urllib3", "mlflow", "numba", "matplotlib", "shap", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # MLflow's schema hints and dataset-source guesses are addressed to library authors
    warnings.filterwarnings("ignore", category=UserWarning, module=r"mlflow\..*")


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
        except Exception as exc:
            if isinstance(exc, _user_errors()):
                fail(str(exc))
            raise
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
    """The main job on embedded defaults: simulate -> validate -> train -> promote -> score."""
    from churnseg.config import ScoreConfig, SegmentRules, TrainConfig
    from churnseg.data.simulate import simulation_window
    from pipelines import promote as promote_job
    from pipelines import score as score_job
    from pipelines import simulate as sim_job
    from pipelines import train as train_job

    started = time.perf_counter()
    data_dir = out / "data" / "simulated"
    sim_cfg = load_config(_config_file(None, "simulate.yaml"), SimulateConfig,
                          {"accounts": accounts, "seed": seed})
    sim_job.run(sim_cfg, data_dir)
    log.info("1/4 simulated %d accounts into %s (%.0fs)", sim_cfg.accounts, data_dir,
             time.perf_counter() - started)
    data_cfg = load_config(_config_file(None, "data.yaml"), DataConfig, {
        "root": str(data_dir), "quarantine_dir": str(out / "outputs" / "quarantine")})
    train_cfg = load_config(_config_file(None, "train.yaml"), TrainConfig)
    result = train_job.run(data_cfg, train_cfg)
    m = result.metrics
    log.info("2/4 trained: test ROC-AUC %.3f (oracle %.3f), ECE %.4f, lift@10%% %.2f (%.0fs)",
             m["test_roc_auc"], m.get("oracle_roc_auc", float("nan")), m["test_ece"],
             m["test_lift_at_10"], time.perf_counter() - started)
    decision = promote_job.run(train_cfg.tracking, result.record.version)
    log.info("3/4 promotion: %s", decision.reason)
    rules = load_config(_config_file(None, "segments.yaml"), SegmentRules)
    score_cfg = load_config(_config_file(None, "score.yaml"), ScoreConfig).model_copy(
        update={"segments": rules.segments, "priority": rules.priority})
    _, end = simulation_window(sim_cfg)
    scored = score_job.run(data_cfg, score_cfg, train_cfg.tracking, end, out / "outputs" / "scores",
                           model_uri=f"models:/{train_cfg.tracking.registered_model}/"
                                     f"{result.record.version}")
    log.info("4/4 scored %d accounts at %s -> %s", len(scored.priority), end.date(),
             scored.out_dir)
    log.info("main job done in %.0fs", time.perf_counter() - started)



TrainConfigOpt = Annotated[Path | None, typer.Option("--config", help="train.yaml")]


@app.command()
@guarded
def train(
    data: DataOpt = None,
    config: TrainConfigOpt = None,
    data_config_file: DataConfigOpt = None,
    tracking_uri: Annotated[str | None, typer.Option("--tracking-uri",
                                                     help="MLflow tracking URI")] = None,
    features_table: Annotated[Path | None, typer.Option(
        "--features-table", help="precomputed feature table (Parquet/CSV) instead of raw tables")
    ] = None,
    label: Annotated[str | None, typer.Option(help="label column of --features-table")] = None,
    id_column: Annotated[str | None, typer.Option("--id", help="id column of --features-table")
                         ] = None,
    tune: Annotated[int, typer.Option(help="Optuna trials (0 = no tuning)")] = 0,
    promote_after: Annotated[bool, typer.Option("--promote/--no-promote",
                                                help="run promotion after training")] = False,
) -> None:
    """Train, calibrate, evaluate and register a churn model; everything is logged to MLflow."""
    from churnseg.config import TrainConfig
    from pipelines import promote as promote_job
    from pipelines import train as job

    overrides: dict[str, Any] = {}
    if tracking_uri:
        overrides["tracking.uri"] = tracking_uri
    if features_table is not None:
        overrides["feature_table.path"] = str(features_table)
        if label:
            overrides["feature_table.label_column"] = label
        if id_column:
            overrides["feature_table.id_column"] = id_column
    cfg = load_config(_config_file(config, "train.yaml"), TrainConfig, overrides)
    result = job.run(data_config(data, data_config_file), cfg, tune=tune)
    m = {k: result.metrics.get(f"test_{k}", float("nan"))
         for k in ("roc_auc", "pr_auc", "ece", "lift_at_10")}
    console.print(
        f"test ROC-AUC {m['roc_auc']:.4f}  PR-AUC {m['pr_auc']:.4f}  ECE {m['ece']:.4f}  "
        f"lift@10% {m['lift_at_10']:.2f} -> run {result.record.run_id}, "
        f"{result.record.registered_name} v{result.record.version}", highlight=False)
    if promote_after:
        decision = promote_job.run(cfg.tracking, result.record.version)
        console.print(decision.reason, highlight=False)


@app.command()
@guarded
def promote(
    version: Annotated[str | None, typer.Option(help="candidate version (default: latest)")
                       ] = None,
    config: TrainConfigOpt = None,
    tracking_uri: Annotated[str | None, typer.Option("--tracking-uri")] = None,
) -> None:
    """Make a registered model the champion if it beats the current one on the same holdout."""
    from churnseg.config import TrainConfig
    from pipelines import promote as job

    overrides = {"tracking.uri": tracking_uri} if tracking_uri else {}
    cfg = load_config(_config_file(config, "train.yaml"), TrainConfig, overrides)
    decision = job.run(cfg.tracking, version)
    console.print(decision.reason, highlight=False)
    if not decision.promote:
        raise typer.Exit(3)


@app.command()
@guarded
def score(
    data: DataOpt = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="YYYY-MM-DD (default: today)")
                     ] = None,
    out: Annotated[Path, typer.Option(help="output folder; results go to OUT/<as_of>/")] = Path(
        "outputs/scores"),
    model: Annotated[str | None, typer.Option(
        "--model", help="model URI (default: models:/<registered>@champion)")] = None,
    config: Annotated[Path | None, typer.Option("--config", help="score.yaml")] = None,
    segments: Annotated[Path | None, typer.Option("--segments", help="segments.yaml")] = None,
    train_config: Annotated[Path | None, typer.Option("--train-config",
                                                      help="train.yaml (tracking section)")
                            ] = None,
    data_config_file: DataConfigOpt = None,
    tracking_uri: Annotated[str | None, typer.Option("--tracking-uri")] = None,
) -> None:
    """Score the population at AS_OF: ranked priority list with owners, playbooks and reasons."""
    from rich.progress import Progress

    from churnseg.config import ScoreConfig, SegmentRules, TrainConfig
    from pipelines import score as job

    rules = load_config(_config_file(segments, "segments.yaml"), SegmentRules)
    score_cfg = load_config(_config_file(config, "score.yaml"), ScoreConfig).model_copy(
        update={"segments": rules.segments, "priority": rules.priority})
    overrides = {"tracking.uri": tracking_uri} if tracking_uri else {}
    tracking_cfg = load_config(_config_file(train_config, "train.yaml"), TrainConfig,
                               overrides).tracking
    when = as_of or today().isoformat()
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("explaining", total=None)
        result = job.run(data_config(data, data_config_file), score_cfg, tracking_cfg, when, out,
                         model_uri=model,
                         progress=lambda d, t: progress.update(task, completed=d, total=t))
    owners = result.priority["owner"].value_counts().to_dict()
    console.print(f"scored {len(result.priority)} accounts at {when}: owners {owners}; "
                  f"outputs in {result.out_dir}", highlight=False)


@app.command()
@guarded
def report(
    as_of: Annotated[str, typer.Option("--as-of", help="YYYY-MM-DD of a scoring run")],
    out: Annotated[Path, typer.Option(help="scoring output folder")] = Path("outputs/scores"),
    segments: Annotated[Path | None, typer.Option("--segments", help="segments.yaml")] = None,
    bom: Annotated[bool, typer.Option("--bom", help="UTF-8 BOM in the CSV (Excel)")] = False,
) -> None:
    """(Re)write the HTML priority page and the CRM CSV of a scoring run."""
    from churnseg.config import SegmentRules
    from pipelines import report as job

    rules = load_config(_config_file(segments, "segments.yaml"), SegmentRules)
    result = job.run(out, as_of, rules.priority, bom=bom)
    console.print(f"wrote {result.html} and {result.crm_csv}", highlight=False)


@app.command()
@guarded
def features(
    as_of: Annotated[str, typer.Option("--as-of", help="YYYY-MM-DD")],
    out: Annotated[Path, typer.Option(help="feature matrix (Parquet)")],
    data: DataOpt = None,
    config: Annotated[Path | None, typer.Option("--config", help="train.yaml (snapshots, "
                                                "features)")] = None,
    data_config_file: DataConfigOpt = None,
    catalog: Annotated[Path | None, typer.Option(help="also write the feature catalog (CSV)")
                       ] = None,
) -> None:
    """Write the feature matrix of the population at AS_OF (labels when the window matured)."""
    from churnseg.config import TrainConfig
    from pipelines import features as job

    cfg = load_config(_config_file(config, "train.yaml"), TrainConfig)
    path = job.run(data_config(data, data_config_file), cfg.snapshots, cfg.features, as_of, out,
                   catalog_out=catalog)
    console.print(f"wrote {path}", highlight=False)


def today() -> date:
    return date.today()


if __name__ == "__main__":
    app()
