"""The multi-process relaunch: shipped accelerate configs, the command `sftscope train` runs, bad settings."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from sftscope.core.errors import ConfigError
from sftscope.train.launch import ACCELERATE_CONFIGS, accelerate_config_path, launch_command


@pytest.mark.parametrize("name, kind", [("ddp", "MULTI_GPU"), ("fsdp2", "FSDP"), ("zero3", "DEEPSPEED")])
def test_shipped_configs_load_with_accelerates_own_loader(name, kind):
    from accelerate.commands.config.config_args import load_config_from_file

    path = accelerate_config_path(name)
    assert path == ACCELERATE_CONFIGS / f"{name}.yaml"
    cfg = load_config_from_file(str(path))
    assert cfg.distributed_type.name == kind and cfg.use_cpu is False
    if name == "fsdp2":
        assert cfg.fsdp_config["fsdp_version"] == 2 and cfg.fsdp_config["fsdp_state_dict_type"] == "FULL_STATE_DICT"
        assert cfg.fsdp_config["fsdp_activation_checkpointing"] is False  # train.gradient_checkpointing decides
    if name == "zero3":
        assert cfg.deepspeed_config["zero_stage"] == 3 and cfg.deepspeed_config["zero3_save_16bit_model"] is True


def test_the_command_goes_through_accelerate_launch(tmp_path):
    fsdp2 = accelerate_config_path("fsdp2")
    cmd = launch_command(tmp_path / "launch_config.yaml", fsdp2, tmp_path / "out", 8, progress=False,
                         mixed_precision="bf16")
    assert cmd[:3] == [sys.executable, "-m", "accelerate.commands.launch"]
    i = cmd.index("--num_processes")
    assert cmd[i + 1] == "8" and cmd[cmd.index("--config_file") + 1] == str(fsdp2)
    assert cmd[cmd.index("--mixed_precision") + 1] == "bf16"  # train.precision, not the YAML's value
    assert int(cmd[cmd.index("--main_process_port") + 1]) > 0
    tail = cmd[cmd.index("-m", 3):]
    assert tail == ["-m", "sftscope.cli", "train", str(tmp_path / "launch_config.yaml"), "--out", str(tmp_path / "out"),
                    "--no-progress"]
    assert "--no-progress" not in launch_command(tmp_path / "c.yaml", fsdp2, tmp_path / "o", 2, progress=True)


def test_bad_accelerate_config_settings(tmp_path):
    with pytest.raises(ConfigError, match="train.accelerate_config='fsdp' is unknown. Did you mean: 'fsdp2'"):
        accelerate_config_path("fsdp")
    with pytest.raises(ConfigError, match="not found"):
        accelerate_config_path(str(tmp_path / "missing.yaml"))
    mine = tmp_path / "mine.yaml"
    mine.write_text("distributed_type: MULTI_GPU\n")
    assert accelerate_config_path(str(mine)) == Path(mine)
    assert accelerate_config_path(None).name == "ddp.yaml"
