"""`dcgan train` under torchrun that also writes this rank's G and D state when training ends.

    python -m torch.distributed.run --standalone --nproc_per_node 2 tests/ddp_worker.py DUMP_DIR train ...

Used by tests/test_distributed.py to compare the ranks' weights; everything else is the real CLI.
"""

import sys
from pathlib import Path

from safetensors.torch import save_file

from dcgan_core import cli
from dcgan_core.train import Trainer


def main() -> int:
    dump_dir, argv = Path(sys.argv[1]), sys.argv[2:]
    plain_run = Trainer.run

    def run_then_dump(trainer: Trainer):
        result = plain_run(trainer)
        state = {f"generator.{k}": v for k, v in trainer.generator.state_dict().items()}
        state |= {f"discriminator.{k}": v for k, v in trainer.discriminator.state_dict().items()}
        dump_dir.mkdir(parents=True, exist_ok=True)
        save_file({k: v.detach().cpu().contiguous() for k, v in state.items()}, dump_dir / f"rank{trainer.rank}.safetensors")
        return result

    Trainer.run = run_then_dump
    return cli.main(argv)


if __name__ == "__main__":
    sys.exit(main())
