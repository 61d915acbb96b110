"""``python -m gibench`` — the CLI, so that ``torchrun --nproc-per-node N -m gibench run ...``
starts it in every process."""

from gibench.cli import main

if __name__ == "__main__":
    main()
