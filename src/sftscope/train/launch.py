"""Multi-process launch: ``sftscope train`` relaunches itself through ``accelerate launch`` when
``num_processes > 1``.

The config is a shipped one (DDP, FSDP2 or DeepSpeed ZeRO-3; ``configs/accelerate/*.yaml``) or a path. On a
CPU-only machine the processes run data parallel with gloo: the Trainer's ``use_cpu`` makes accelerate's state
``MULTI_CPU`` in each launched process (checked with accelerate 1.15), and sharded configs are replaced by the
DDP one with a warning, because accelerate 1.15 enables FSDP/DeepSpeed only for GPU-type devices.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
from pathlib import Path

from ..core.config import PACKAGE_CONFIGS, dump_yaml
from ..core.errors import ConfigError, SftscopeError, did_you_mean
from ..core.io import atomic_write_text

ACCELERATE_CONFIGS = PACKAGE_CONFIGS / "accelerate"
log = logging.getLogger(__name__)


def under_launcher() -> bool:
    """True inside a process started by torchrun/accelerate (they set WORLD_SIZE and LOCAL_RANK)."""
    return "LOCAL_RANK" in os.environ and "WORLD_SIZE" in os.environ


def accelerate_config_path(setting: str | None) -> Path:
    """``ddp`` | ``fsdp2`` | ``zero3`` | a YAML path -> the file."""
    name = setting or "ddp"
    p = Path(name)
    if p.suffix in (".yaml", ".yml"):
        if not p.is_file():
            raise ConfigError([f"train.accelerate_config: file {name!r} not found"])
        return p
    shipped = {f.stem: f for f in ACCELERATE_CONFIGS.glob("*.yaml")}
    if name not in shipped:
        raise ConfigError([f"train.accelerate_config={name!r} is unknown.{did_you_mean(name, shipped)} "
                           f"Choose one of {sorted(shipped)} or give a YAML path"])
    return shipped[name]


def cpu_sharding_note(setting: str | None) -> str | None:
    """The warning for a sharded accelerate config on a CPU run (None when there is nothing to say)."""
    if setting in (None, "ddp"):
        return None
    return (f"train.accelerate_config={setting!r} is not applied on CPU: the processes run as data parallel (gloo, "
            "the ddp config), with full parameters in each. accelerate 1.15 enables FSDP/DeepSpeed only for GPU-type "
            "devices, although torch's FSDP2 itself runs on gloo; the same config shards on GPUs")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch_command(config_file: Path, accelerate_config: Path, out_dir: Path, n: int, progress: bool,
                   mixed_precision: str = "no") -> list[str]:
    """The ``accelerate launch`` command (with ``accelerate_config``) that runs ``sftscope train <config_file>`` in
    ``n`` processes."""
    tail = ["-m", "sftscope.cli", "train", str(config_file), "--out", str(out_dir)]
    if not progress:
        tail.append("--no-progress")
    # accelerate launch <config> ... -m sftscope.cli : the module form keeps the package's entry point.
    return [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(accelerate_config),
            "--num_processes", str(n), "--main_process_port", str(_free_port()),
            # The YAML's mixed_precision must not override train.precision.
            "--mixed_precision", mixed_precision, *tail]


def relaunch(run_cfg, out_dir: Path, data_path: str | None = None, progress: bool = True) -> int:
    """Write the resolved run config beside the outputs and run it in ``train.num_processes`` processes."""
    import torch

    from .recipes import apply_recipe

    # Resolve the recipe now: the dumped file sets every field, so it could not tell unset fields apart later.
    tcfg = apply_recipe(run_cfg.train)
    if tcfg.data is None and data_path:
        tcfg = tcfg.model_copy(update={"data": str(data_path)})
    run_cfg = run_cfg.model_copy(update={"train": tcfg})
    n = tcfg.num_processes
    gpu = torch.cuda.is_available()
    if gpu and torch.cuda.device_count() < n:
        raise ConfigError([f"train.num_processes={n} but only {torch.cuda.device_count()} GPUs are visible. "
                           "Fix: lower train.num_processes or expose more GPUs (CUDA_VISIBLE_DEVICES)"])
    out_dir = Path(out_dir)
    cfg_file = out_dir / "launch_config.yaml"
    atomic_write_text(cfg_file, dump_yaml(run_cfg))
    from .stage import resolve_precision

    precision = resolve_precision(tcfg.precision)
    setting = tcfg.accelerate_config
    if not gpu and (note := cpu_sharding_note(setting)):
        log.warning(note)
        setting = "ddp"
    cmd = launch_command(cfg_file, accelerate_config_path(setting), out_dir, n, progress,
                         {"fp32": "no"}.get(precision, precision))
    import shlex

    atomic_write_text(out_dir / "launch_command.txt", shlex.join(cmd) + "\n")  # to rerun or inspect by hand
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "1")  # n processes on a shared CPU: one thread each avoids oversubscription
    res = subprocess.run(cmd, env=env)
    if res.returncode != 0:
        raise SftscopeError(f"distributed training failed (exit code {res.returncode}); command: {' '.join(cmd)}")
    return res.returncode
