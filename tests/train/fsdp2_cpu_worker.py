"""Worker for test_fsdp2_cpu.py, started by torch.distributed.run: FSDP2 (torch's ``fully_shard``) on gloo.

Trains a saved HF causal LM for a few steps on pre-tokenized rows collated by sftscope's ``Collator``, with
each decoder layer and the root sharded, the global batch split across ranks, and the token-mean loss of the
global batch (each rank divides its token-loss sum by the global token count; FSDP's reduce-scatter
averages gradients over ranks, so the local loss is scaled by the world size). Writes, from rank 0, the
losses and the gathered full state dict.

    python -m torch.distributed.run --nproc_per_node N fsdp2_cpu_worker.py MODEL_DIR ROWS_JSON OUT_DIR STEPS
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict
from torch.distributed.fsdp import fully_shard
from transformers import AutoModelForCausalLM

from sftscope.train.collate import STATS_KEY, Collator
from sftscope.train.formatting import IGNORE


def main(model_dir: str, rows_json: str, out_dir: str, steps: int, batch: int = 4) -> None:
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    total_params = sum(p.numel() for p in model.parameters())
    for layer in model.model.layers:
        fully_shard(layer)
    fully_shard(model)
    local_params = sum(p.to_local().numel() for p in model.parameters())
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    examples = json.loads(Path(rows_json).read_text())
    collate = Collator(pad_token_id=0)
    losses = []
    for step in range(steps):
        mine = examples[step * batch:(step + 1) * batch][rank::world]
        b = collate(mine)
        b.pop(STATS_KEY)
        labels = b.pop("labels")[:, 1:]
        n = (labels != IGNORE).sum()
        n_global = n.clone()
        dist.all_reduce(n_global)
        logits = model(**b).logits[:, :-1].float()
        loss_sum = F.cross_entropy(logits.reshape(-1, logits.size(-1)), labels.reshape(-1), ignore_index=IGNORE,
                                   reduction="sum")
        (loss_sum / n_global * world).backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        total = loss_sum.detach()
        dist.all_reduce(total)
        losses.append(total.item() / n_global.item())
    full = get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
    if rank == 0:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        torch.save(full, out / "state_dict.pt")
        (out / "result.json").write_text(json.dumps({"losses": losses, "world": world, "total_params": total_params,
                                                     "rank0_local_params": local_params}))
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]))
